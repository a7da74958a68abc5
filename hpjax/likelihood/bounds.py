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


def upper_bound(
    lik,
    params,
    term: str,
    parameter: str = "sin_theta",
    level: float = 1.0,
    lo: float = 1e-9,
    hi: float = 0.3,
    iterations: int = 60,
) -> float:
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


#: (term, m_hD [GeV]) points of the bounds table: where each constraint matters in Fig. 1, and the
#: opt-in terms of ``latest`` (issue 15: BaBar's B+ -> K+ X recast, KOTO 2021's flat limit, NA62's
#: K+ -> pi+ nu nubar above m_K - m_pi)
TABLE_POINTS = (
    ("belle_kstar", 1.0),
    ("na62", 0.05),
    ("na62", 0.2),
    ("koto", 0.01),
    ("koto", 0.2),
    ("koto", 0.3),
    ("higgs_invisible", 1.0),
    ("koto_nunu", 0.01),
    ("koto_nunu", 0.2),
    ("koto_nunu", 0.3),
    ("babar", 1.0),
    ("babar", 2.0),
    ("na62_pinunu", 0.4),
    ("na62_pinunu", 1.0),
)

#: terms that are a measurement, not a limit: their bound is where -2 ln L rises by
#: :data:`DELTA_CHI2` above its value at no new physics (90% CL, one parameter)
MEASUREMENT_TERMS = ("babar", "na62_pinunu")
DELTA_CHI2 = 2.705543454095404


def bounds_table(model, datasets=("paper", "latest"), points=TABLE_POINTS) -> list[dict]:
    """Hard-step sin(theta) bounds of each term at the given masses, for each dataset.

    Rows: {"term", "m_hD", dataset: bound, ..., "measurements": {dataset: [names]}}; inf means
    the term sets no bound there (outside its table, or a gap in it, or the dataset lacks the term).
    Terms in :data:`MEASUREMENT_TERMS` are bounded at Delta chi2 = 2.71 above no new physics."""
    from .likelihood import Likelihood
    from .names import DEFAULT_TERMS, OPTIONAL_TERMS, TERM_NAMES

    step = {t: "step" for t in TERM_NAMES if t != "belle2"}
    liks = {}
    for ds in datasets:
        lik0 = Likelihood(model, dataset=ds, conventions=step)
        extra = [t for t in OPTIONAL_TERMS if t in lik0.dataset]
        liks[ds] = Likelihood(model, dataset=ds, terms=list(DEFAULT_TERMS) + extra, conventions=step) if extra else lik0
    rows = []
    for term, m in points:
        row = {"term": term, "m_hD": m, "measurements": {}}
        for ds, lik in liks.items():
            if term not in lik.terms:
                row[ds], row["measurements"][ds] = math.inf, []
                continue
            p = {**lik.initial_params(), "m_hD": jnp.asarray(m)}
            level = 1.0
            if term in MEASUREMENT_TERMS:
                level = float(-2.0 * lik.breakdown({**p, "sin_theta": jnp.asarray(0.0)})[term]) + DELTA_CHI2
            row[ds] = upper_bound(lik, p, term, level=level)
            row["measurements"][ds] = list(lik.term(term).measurements)
        rows.append(row)
    return rows
