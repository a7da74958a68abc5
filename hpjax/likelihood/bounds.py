"""Bounds: where a likelihood term crosses a chi2 level, by bisection in log(parameter).

With the ``step`` convention a term's -2 ln L jumps from 0 to inf at the limit, so the
crossing of any positive level is the hard-cut bound the paper's figures draw.

>>> import hpjax
>>> from hpjax.likelihood.bounds import upper_bound
>>> model = hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.1)
>>> lik = hpjax.Likelihood(model, terms=["belle_kstar"], conventions={"belle_kstar": "step"})
>>> round(upper_bound(lik, lik.initial_params(), "belle_kstar"), 5)
0.0065
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["upper_bound"]


def upper_bound(lik, params, term: str, parameter: str = "sin_theta", level: float = 1.0,
                lo: float = 1e-9, hi: float = 0.3, iterations: int = 60) -> float:
    """Smallest value of ``parameter`` (others as in ``params``) at which the term's -2 ln L
    exceeds ``level``, assuming -2 ln L grows with the parameter. Returns ``hi`` (as inf) if the
    term never exceeds the level below ``hi``, and ``lo`` if it already does at ``lo``. The default
    ``hi`` = 0.3 keeps sin(theta) where cos(theta) ~ 1 (towards 1 the invisible widths, ~ cos^2, vanish
    and the monotonicity assumed here fails)."""
    if term not in lik.terms:
        raise ValueError(f"term '{term}' is not in this likelihood; its terms: {lik.terms}")

    @jax.jit
    def chi2_at(x):
        return -2.0 * lik.breakdown({**params, parameter: x})[term]

    if float(chi2_at(jnp.asarray(hi))) <= level:
        return math.inf
    if float(chi2_at(jnp.asarray(lo))) > level:
        return lo
    a, b = math.log(lo), math.log(hi)
    for _ in range(iterations):
        mid = 0.5 * (a + b)
        if float(chi2_at(jnp.asarray(math.exp(mid)))) > level:
            b = mid
        else:
            a = mid
    return math.exp(0.5 * (a + b))
