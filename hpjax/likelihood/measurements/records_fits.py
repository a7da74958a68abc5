"""Records of fits and recasts (issue 15), added to :data:`~.records.RECORDS` on import:

* :class:`MassDependentGaussian` (kind ``mass_dependent_gaussian``): a best fit with an interval
  per mass of an invisible particle (BaBar's B+ -> K+ X recast);
* :class:`OffshellGaussian` (kind ``offshell_gaussian``): a measured SM + new-physics rate that
  constrains the off-shell (three-body) new-physics rate above the two-body endpoint (NA62's
  K+ -> pi+ nu nubar), with the q^2 windows of the signal regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..names import MEASURED_OBSERVABLES
from .checks import MeasurementFileError, matrix, number, readonly, string
from .records import RECORDS, Gaussian, Measurement
from .tables import load_gaussian_table

__all__ = ["MassDependentGaussian", "OffshellGaussian", "FIT_KINDS"]


@dataclass(frozen=True, eq=False, kw_only=True)
class MassDependentGaussian(Measurement):
    """A best fit versus the mass of an invisible particle X (e.g. B+ -> K+ X): per mass
    ``central`` and the ``lower``/``upper`` edges of an interval ``interval_sigma`` standard
    deviations wide (asymmetric Gaussian), masses [GeV]. ``escape_length`` [m] and
    ``parent_beta_gamma`` give the probability that a decaying X escapes the detector."""

    KEYS = {
        "table": True,
        "mass_column": True,
        "central_column": True,
        "lower_column": True,
        "upper_column": True,
        "mass_range": True,
        "interval_sigma": True,
        "escape_length": True,
        "parent_beta_gamma": True,
    }
    table: str
    mass_column: str
    central_column: str
    lower_column: str
    upper_column: str
    mass_range: tuple[float, float]
    interval_sigma: float
    escape_length: float
    parent_beta_gamma: float
    masses: np.ndarray
    central: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def parse(cls, tbl, path, root):
        return load_gaussian_table(tbl, path, root)


@dataclass(frozen=True, eq=False, kw_only=True)
class OffshellGaussian(Gaussian):
    """A Gaussian measurement of an SM + new-physics rate (``observable``) whose new-physics part is
    hpjax's ``predicted`` observable, counted only inside ``q2_windows`` [GeV^2] (the signal
    regions; optional) relative to the SM spectrum with form-factor slope ``sm_form_factor_slope``."""

    KEYS = {**Gaussian.KEYS, "predicted": True, "q2_windows": False, "sm_form_factor_slope": False}
    predicted: str
    q2_windows: np.ndarray | None = None
    sm_form_factor_slope: float = 0.0

    @classmethod
    def parse(cls, tbl, path, root):
        kw = Gaussian.parse(tbl, path, root)
        kw["predicted"] = string(tbl, "predicted", path, choices=MEASURED_OBSERVABLES)
        if "q2_windows" in tbl:
            w = matrix(tbl, "q2_windows", path, 2)
            if np.any(w[:, 0] >= w[:, 1]) or np.any(w < 0) or np.any(w[1:, 0] < w[:-1, 1]):
                raise MeasurementFileError(
                    path, "q2_windows", "expected increasing, disjoint [lo, hi] with 0 <= lo < hi"
                )
            kw["q2_windows"] = readonly(w)
        slope = number(tbl, "sm_form_factor_slope", path, required=False)
        kw["sm_form_factor_slope"] = 0.0 if slope is None else slope
        return kw


#: the kinds this module adds to RECORDS
FIT_KINDS = {"mass_dependent_gaussian": MassDependentGaussian, "offshell_gaussian": OffshellGaussian}
RECORDS.update(FIT_KINDS)
