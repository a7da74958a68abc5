"""Measurement database of hpjax: experimental inputs with their citations.

Modules: :mod:`.checks` (value checks of a file), :mod:`.tables` (limit tables), :mod:`.records`
(one frozen dataclass per kind), :mod:`.database` (measurements by name, datasets, citations).

Every experimental result is one TOML file ``hpjax/data/measurements/<name>.toml`` with a single
``[measurement]`` table; mass(-lifetime) dependent limits point to a CSV file in
``hpjax/data/tables/`` (``#`` provenance header, one column-name line, comma-separated rows).
Named datasets (``paper``, ``latest``) in ``hpjax/data/datasets.toml`` map likelihood terms
(``belle2``, ``sm_prediction``, ``belle_kstar``, ``na62``, ``koto``, ``lfu``, ``higgs_invisible``)
to measurement names. This module is pure Python + numpy (no jax) and validates every file it
reads: a malformed file raises :class:`MeasurementFileError` (a ``ValueError``) naming the file
and the key; an unknown name raises :class:`UnknownNameError` (both a ``KeyError`` and a
``ValueError``) listing the valid names.

Schema of ``[measurement]`` (all kinds): ``name`` (= file stem), ``observable`` (one of
:data:`~hpjax.likelihood.names.MEASURED_OBSERVABLES`; ``observables`` list instead for ``correlated_gaussian``), ``experiment``,
``arxiv`` (str or list), ``inspire`` (texkey, str or list, optional), ``reference``, ``kind``,
optional ``notes``, ``source``, ``digitisation``, ``projection``. Per kind:

* ``gaussian``: ``value``, ``error_up``, ``error_down``, optional ``stat``/``syst`` (number or
  ``[up, down]``).
* ``upper_limit``: ``limit``, ``cl`` in (0, 1), optional ``expected_limit``.
* ``counts``: ``limit``, ``cl``, ``counts_total``, ``counts_signal`` and/or ``counts_background``,
  ``background_std``, ``counts_convention`` (flavio ``general_gamma_upper_limit`` fields).
* ``mass_dependent_upper_limit``: ``table``, ``cl``, ``mass_column``, ``value_column``,
  ``value_is_log10``, ``mass_range`` [GeV], ``allow_nan`` (NaN = no limit); with a lifetime axis
  also ``lifetime_column``, ``lifetime_unit`` ("s", "ns" or "ps"), ``lifetime_is_log10``,
  ``lifetime_range`` [s] and optional ``stable_lifetime`` [s].
* ``mass_dependent_gaussian``: ``table``, ``mass_column``, ``central_column``, ``lower_column``,
  ``upper_column``, ``mass_range`` [GeV], ``interval_sigma`` (the edges are this many sigma from the
  central value), ``escape_length`` [m] and ``parent_beta_gamma`` (escape of a decaying X).
* ``offshell_gaussian``: the ``gaussian`` keys, ``predicted`` (hpjax's new-physics observable),
  optional ``q2_windows`` ([[lo, hi], ...] GeV^2, the signal regions) and ``sm_form_factor_slope``.
* ``correlated_gaussian``: ``observables``, ``q2_bins``, ``values``, ``errors`` (``[up, down]``
  per entry), ``correlation``, optional ``stat``/``syst``.

Tables are returned as numpy arrays: ``masses`` [GeV], ``lifetimes`` [s] (or None) and
``values`` = branching-ratio upper limits (not log10), shape ``(n_mass,)`` or
``(n_mass, n_lifetime)``, NaN where the table gives no limit.

Example:

>>> from hpjax.likelihood.measurements import load_measurement, load_dataset
>>> m = load_measurement("belle2_2023_BpKnunu_combined")
>>> m.kind, m.value, m.error_up, m.error_down
('gaussian', 2.3e-05, 7e-06, 7e-06)
>>> load_dataset("paper")["higgs_invisible"]["scenarios"]["lhc"]
'lhc_hinv_paper_TableI'
>>> load_measurement("lhc_hinv_paper_TableI").limit
0.13
>>> t = load_measurement("na62_2025_KpiX")
>>> t.values.shape == (t.masses.size, t.lifetimes.size) == (200, 7)
True
>>> float(t.stable_lifetime)
1e-08
"""

from ..names import DATASET_TERMS as TERMS
from ..names import HIGGS_SCENARIOS, KINDS
from ..names import MEASURED_OBSERVABLES as OBSERVABLES
from .checks import MeasurementFileError
from .database import *  # noqa: F403  (its __all__, re-exported in __all__ below)
from .database import __all__ as DATABASE_NAMES
from .records import (
    RECORDS,
    CorrelatedGaussian,
    Counts,
    Gaussian,
    MassDependentUpperLimit,
    Measurement,
    PyhfLikelihood,
    UpperLimit,
)
from .records_fits import MassDependentGaussian, OffshellGaussian
from .tables import read_table

__all__ = [
    "OBSERVABLES",
    "KINDS",
    "TERMS",
    "HIGGS_SCENARIOS",
    "RECORDS",
    "Measurement",
    "Gaussian",
    "UpperLimit",
    "Counts",
    "MassDependentUpperLimit",
    "MassDependentGaussian",
    "OffshellGaussian",
    "CorrelatedGaussian",
    "PyhfLikelihood",
    "MeasurementFileError",
    *DATABASE_NAMES,  # load_measurement, ..., citations, UnknownNameError
    "read_table",
]
