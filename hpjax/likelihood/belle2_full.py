r"""Belle II B+ -> K+ nu nubar: the published full likelihood with a q^2-shaped new-physics signal.

Belle II measured B+ -> K+ nu nubar in bins of reconstructed q^2 (and BDT output) with
efficiencies tuned to the SM three-body spectrum (arXiv:2311.14647). Its statistical model is a
pyhf HistFactory JSON (ITA signal region 9 bins, ITA control region 3, two off-resonance channels
9 + 3 without signal, HTA 6 bins; 232 parameters, POI ``mu``), and arXiv:2507.12393 published the
joint number densities of the SM signal that map a true-q^2 spectrum onto the analysis bins.
Both are packaged in ``hpjax/data/belle2_knunu``.

This module re-exports the public names of the :mod:`hpjax.likelihood.belle2` package, split by job:

* :mod:`~hpjax.likelihood.belle2.spectrum`: the new-physics spectrum in generated-q^2 bins (hard
  or B-spline soft bins), the SM template (:data:`BR_TEMPLATE`);
* :mod:`~hpjax.likelihood.belle2.statmodel`: :class:`HistFactory`, the lean pure-JAX evaluation of
  the statistical model (histosys code4p, normsys code4, staterror, Gaussian constraints, Poisson
  main terms) with its analytic Jacobian, equal to pyhf's to ~1e-13;
* :mod:`~hpjax.likelihood.belle2.pyhf_backend`: pyhf's own evaluation (``backend="pyhf"``);
* :mod:`~hpjax.likelihood.belle2.term`: :class:`Belle2Full`, profiles (Gauss-Newton with the
  Woodbury-structured Newton system, :mod:`hpjax.numerics.gauss_newton`) and fits;
* :mod:`~hpjax.likelihood.belle2.published`: :func:`published_likelihood`, Belle II's SM-shaped
  model with its POI mu free: ``fit()`` (mu = 4.60 +- 1.33, -2 ln L = -23.334) and
  ``profile_logl(mu)`` (ln L profiled over the 231 nuisances at fixed mu; jit/vmap-able) for
  test statistics such as q0 = 2 (fit()["logpdf"] - profile_logl(0));
* :mod:`~hpjax.likelihood.belle2.regenerate`: ``python -m hpjax.likelihood.belle2.regenerate``
  rewrites ``published_fit.json`` (nothing is computed at import).

>>> from hpjax.likelihood import belle2_full
>>> from hpjax.likelihood.belle2 import spectrum
>>> set(spectrum.__all__) <= set(belle2_full.__all__), round(belle2_full.BR_TEMPLATE * 1e6, 3)
(True, 4.966)
"""

from __future__ import annotations

from .belle2 import spectrum
from .belle2.published import PublishedLikelihood, published_likelihood
from .belle2.pyhf_backend import PyhfStatModel, augmented_spec, jax_backend
from .belle2.regenerate import write_published_fit
from .belle2.spectrum import *  # noqa: F403  (its __all__, re-exported in __all__ below)
from .belle2.statmodel import HistFactory
from .belle2.term import BACKENDS, Belle2Full

__all__ = [
    "Belle2Full",
    "BACKENDS",
    "HistFactory",
    "PyhfStatModel",
    "PublishedLikelihood",
    "published_likelihood",
    "jax_backend",
    "augmented_spec",
    "write_published_fit",
    *spectrum.__all__,  # new_physics_spectrum, ..., constants, BR_TEMPLATE, ..., CHANNEL_NAMES
]
