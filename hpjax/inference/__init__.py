"""Inference on hpjax likelihoods: best fits (BFGS, Hessian errors), profile likelihoods,
NUTS posteriors (numpyro, arviz), hypothesis tests (CLs, limits, significances: ``hypotest``, ``adapters``, ``lookelsewhere``)."""

from .adapters import histfactory_likelihood, uncorrelated_background
from .hypotest import ProfiledLikelihood, hypotest, significance, upper_limit
from .lookelsewhere import global_significance, gross_vitells, local_p0
from .optimize import FitResult, Transform, best_fit, default_transforms
from .profile import ProfileResult, profile
from .sample import PRIOR_KINDS, Prior, SampleResult, corner_plot, sample

__all__ = [
    "best_fit",
    "FitResult",
    "Transform",
    "default_transforms",
    "profile",
    "ProfileResult",
    "sample",
    "SampleResult",
    "Prior",
    "PRIOR_KINDS",
    "corner_plot",
    "hypotest",
    "upper_limit",
    "significance",
    "ProfiledLikelihood",
    "uncorrelated_background",
    "histfactory_likelihood",
    "local_p0",
    "global_significance",
    "gross_vitells",
]
