"""Inference on hpjax likelihoods: best fits (BFGS, Hessian errors), profile likelihoods,
NUTS posteriors (numpyro, arviz)."""

from .optimize import FitResult, Transform, best_fit, default_transforms
from .profile import ProfileResult, profile
from .sample import PRIOR_KINDS, Prior, SampleResult, corner_plot, sample

__all__ = ["best_fit", "FitResult", "Transform", "default_transforms", "profile", "ProfileResult", "sample",
           "SampleResult", "Prior", "PRIOR_KINDS", "corner_plot"]
