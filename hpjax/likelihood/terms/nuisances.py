"""Nuisance groups shared by several terms: floated inputs (correlated Gaussian constraints from
``hpjax/data``) and the SM prediction of BR(B+ -> K+ nu nubar) (its asymmetric Gaussian)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..names import SM_NUISANCE
from ..stats import asymmetric_gaussian_logpdf
from .base import NuisanceGroup

__all__ = ["input_nuisances", "sm_nuisance", "sm_value"]


def input_nuisances(inputs, names) -> NuisanceGroup:
    """Inputs ``names`` floating with the Gaussian constraints of ``hpjax/data`` (correlated where
    the form-factor set gives a covariance)."""
    names = tuple(names)
    cov = inputs.covariance(list(names))
    zero = [n for n, c in zip(names, np.diag(cov)) if c <= 0]
    if zero:
        raise ValueError(f"nuisance(s) {zero} have zero uncertainty in hpjax/data and cannot float")
    mu = np.array([float(inputs[n]) for n in names])
    mu_j, cov_inv = jnp.asarray(mu), jnp.asarray(np.linalg.inv(cov))

    def constraint(x):
        d = x - mu_j
        return -0.5 * d @ cov_inv @ d

    return NuisanceGroup(names, mu, cov, mu.copy(), constraint)


def sm_nuisance(sm) -> NuisanceGroup:
    """The SM prediction ``sm`` (a Gaussian measurement record) as the nuisance
    :data:`~hpjax.likelihood.names.SM_NUISANCE`; the prior width is the larger of its errors."""
    s = max(sm.error_up, sm.error_down)

    def constraint(x):
        return asymmetric_gaussian_logpdf(x[0], sm.value, sm.error_up, sm.error_down)

    return NuisanceGroup((SM_NUISANCE,), np.array([sm.value]), np.array([[s * s]]), np.array([sm.value]), constraint)


def sm_value(params, sm):
    """The SM prediction at ``params``: the nuisance where it floats, else the central value."""
    return jnp.asarray(params.get(SM_NUISANCE, sm.value), dtype=jnp.float64)
