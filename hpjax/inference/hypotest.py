r"""Frequentist tests on profiled likelihoods: q0, q_mu, q~_mu (Cowan, Cranmer, Gross, Vitells,
arXiv:1007.1727), asymptotic and toy-based p-values, CLs with expected bands, upper limits,
significances and look-elsewhere tools (Gross, Vitells arXiv:1005.1891).

The interface is one small object, :class:`ProfiledLikelihood`, built from pure JAX functions:

* ``profile(mu, data) -> (ln L, nuisances)``: ln L maximised over the nuisances at fixed POI;
* ``fit(data) -> (ln L, mu_hat, nuisances)`` (optional; default a bracketed 1-D maximisation of
  ``profile`` over the POI bounds, Illinois on its gradient);
* ``expected(mu, nuisances) -> data``: the Asimov data set (main counts = expected counts, auxiliary
  data = the nuisance values), needed by the asymptotic calculator;
* ``sample(key, mu, nuisances) -> data``: one toy (Poisson main counts, auxiliary data drawn from
  the constraints), needed by the toy calculator; toys are generated and fitted vmapped.

``data`` is any pytree (e.g. ``(main, aux)``); :meth:`ProfiledLikelihood.with_data` and
:meth:`ProfiledLikelihood.asimov` give likelihoods/data sets on other data. Adapters that build
a :class:`ProfiledLikelihood` live in :mod:`hpjax.inference.adapters` (pyhf's
``uncorrelated_background``, HistFactory workspaces such as Belle II's published model, an
invisible X in Belle II's full likelihood); local p0 versus a scanned mass, the global
significance from toys and the Gross-Vitells estimate in :mod:`hpjax.inference.lookelsewhere`.

Conventions follow pyhf 0.7 (``pyhf.infer.calculators``): with t = sqrt(q) - sqrt(q_A)
(q~: (q - q_A) / (2 sqrt(q_A)) when sqrt(q) > sqrt(q_A)), CLs+b = Phi(-(t + sqrt(q_A))),
CLb = Phi(-t), q_A the test statistic on the Asimov data set of mu' = 0 with the nuisances
fitted to the data at mu = 0; expected CLs for nsigma = 2, 1, 0, -1, -2 (ascending CLs, pyhf's
order; the first is the "-2 sigma" edge of the expected limit band).

>>> import jax; jax.config.update("jax_enable_x64", True)
>>> from hpjax.inference.adapters import uncorrelated_background
>>> lik = uncorrelated_background([12.0, 11.0], [50.0, 52.0], [3.0, 7.0], [51.0, 48.0])
>>> r = hypotest(lik, poi={"mu": 1.0})
>>> round(float(r["CLs"]), 4)  # pyhf: 0.0525
0.0525
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr, ndtri

__all__ = [
    "ProfiledLikelihood",
    "test_statistic",
    "hypotest",
    "upper_limit",
    "significance",
    "NSIGMA",
    "TESTS",
    "METHODS",
]

#: the expected-band order of every result (pyhf's): nsigma of the background-only test statistic
NSIGMA = (2.0, 1.0, 0.0, -1.0, -2.0)
TESTS = ("qtilde", "q", "q0")
METHODS = ("asymptotic", "toys")


@dataclasses.dataclass(frozen=True, eq=False)
class ProfiledLikelihood:
    """A likelihood with one POI as the hypothesis tests need it (see the module docstring).

    >>> from hpjax.inference.adapters import uncorrelated_background
    >>> lik = uncorrelated_background([5.0], [10.0], [2.0], [14.0])
    >>> lnl, mu_hat, _ = lik.fit()
    >>> round(float(mu_hat), 6)  # one bin: mu_hat = (n - b) / s when gamma_hat = 1
    0.8
    """

    profile: Callable
    data: Any
    poi: str = "mu"
    bounds: tuple = (0.0, 10.0)
    fit_fn: Callable | None = None
    expected: Callable | None = None
    sample: Callable | None = None

    def with_data(self, data) -> ProfiledLikelihood:
        """The same likelihood on other ``data``."""
        return dataclasses.replace(self, data=data)

    def fit(self, data=None):
        """(max ln L, mu_hat, nuisances) over the POI within :attr:`bounds` and the nuisances."""
        data = self.data if data is None else data
        if self.fit_fn is not None:
            return self.fit_fn(data)
        mu = _maximize_1d(lambda m: self.profile(m, data)[0], *self.bounds)
        lnl, nu = self.profile(mu, data)
        return lnl, mu, nu

    def asimov(self, mu, data=None):
        """Asimov data set of POI ``mu`` with the nuisances fitted to ``data`` at ``mu`` (pyhf's
        ``generate_asimov_data``)."""
        if self.expected is None:
            raise ValueError("ProfiledLikelihood: asymptotics need expected(mu, nuisances) (the Asimov data set)")
        return self.expected(mu, self.profile(mu, self.data if data is None else data)[1])

    def toys(self, key, mu, n: int, data=None):
        """``n`` toys (batched pytree) at POI ``mu``, nuisances fitted to ``data`` at ``mu``."""
        if self.sample is None:
            raise ValueError("ProfiledLikelihood: toys need sample(key, mu, nuisances)")
        nu = self.profile(mu, self.data if data is None else data)[1]
        return jax.vmap(lambda k: self.sample(k, mu, nu))(jax.random.split(key, n))


def _maximize_1d(f, lo, hi, iters: int = 40):
    """Maximum of a concave ``f`` on [lo, hi]: bound if the slope points out, else Illinois on f'."""
    g = jax.grad(f)
    lo, hi = jnp.asarray(lo, dtype=jnp.float64), jnp.asarray(hi, dtype=jnp.float64)
    glo, ghi = g(lo), g(hi)

    def body(_, c):
        a, b, ga, gb, side = c
        x = jnp.clip((a * gb - b * ga) / jnp.where(gb == ga, 1.0, gb - ga), a, b)
        x = jnp.where(gb == ga, 0.5 * (a + b), x)
        gx = g(x)
        right = gx > 0  # root right of x
        a2, ga2 = jnp.where(right, x, a), jnp.where(right, gx, ga)
        b2, gb2 = jnp.where(right, b, x), jnp.where(right, gb, gx)
        gb2 = jnp.where(right & (side > 0), 0.5 * gb2, gb2)  # Illinois: halve the stale end
        ga2 = jnp.where(~right & (side < 0), 0.5 * ga2, ga2)
        return a2, b2, ga2, gb2, jnp.where(right, 1.0, -1.0)

    a, b, ga, gb, _ = jax.lax.fori_loop(0, iters, body, (lo, hi, glo, ghi, jnp.asarray(0.0)))
    root = jnp.where(jnp.abs(ga) < jnp.abs(gb), a, b)
    return jnp.where(glo <= 0, lo, jnp.where(ghi >= 0, hi, root))


def _check(test=None, method=None):
    if test is not None and test not in TESTS:
        raise ValueError(f"test {test!r}; valid: {list(TESTS)}")
    if method is not None and method not in METHODS:
        raise ValueError(f"method {method!r}; valid: {list(METHODS)}")


def _poi_value(lik, poi):
    if isinstance(poi, dict):
        if list(poi) != [lik.poi]:
            raise ValueError(f"poi {poi!r}: the likelihood's POI is {lik.poi!r} (one value)")
        return jnp.asarray(poi[lik.poi], dtype=jnp.float64)
    return jnp.asarray(poi, dtype=jnp.float64)


def test_statistic(lik: ProfiledLikelihood, mu, data=None, test: str = "qtilde", fit=None):
    r"""q~_mu, q_mu (one-sided: 0 when mu_hat > mu) or q0 (here: against null ``mu``, 0 when
    mu_hat < mu) on ``data``; ``fit`` an already computed ``lik.fit(data)``. q~ uses L(0) in place
    of L(mu_hat) when mu_hat < 0 (with a POI lower bound of 0 this is the bounded fit, as pyhf).

    >>> from hpjax.inference.adapters import uncorrelated_background
    >>> lik = uncorrelated_background([5.0], [10.0], [2.0], [14.0])
    >>> bool(test_statistic(lik, 0.8, test="q") < 1e-12)
    True
    """
    _check(test)
    data = lik.data if data is None else data
    lnl_hat, mu_hat, _ = lik.fit(data) if fit is None else fit
    mu = jnp.asarray(mu, dtype=jnp.float64)
    lnl_mu = lik.profile(mu, data)[0]
    if test == "qtilde" and lik.bounds[0] < 0:
        lnl_hat = jnp.where(mu_hat < 0, lik.profile(jnp.asarray(0.0), data)[0], lnl_hat)
    q = jnp.maximum(2.0 * (lnl_hat - lnl_mu), 0.0)
    keep = mu_hat >= mu if test == "q0" else mu_hat <= mu
    return jnp.where(keep, q, 0.0)


test_statistic.__test__ = False  # not a pytest test


def _asymptotic_p(q, qA, test):
    """(CLs+b, CLb, CLs) in pyhf's convention, and the expected CLs band (NSIGMA order)."""
    sq, sqA = jnp.sqrt(q), jnp.sqrt(jnp.maximum(qA, 1e-300))
    t = sq - sqA
    if test == "qtilde":
        t = jnp.where(sq <= sqA, t, (q - qA) / (2.0 * sqA))
    clsb, clb = ndtr(-(t + sqA)), ndtr(-t)
    n = jnp.asarray(NSIGMA)
    exp = ndtr(-(n + sqA)) / ndtr(-n)
    return clsb, clb, clsb / clb, exp


def _fraction(mask):
    """Fraction of True in ``mask``, in float64 (jnp.mean of booleans is float32: its tail
    probabilities would carry float32 rounding, e.g. 1 - 1.0000001 < 0 in an expected CLs)."""
    return jnp.mean(mask.astype(jnp.float64))


def hypotest(
    lik: ProfiledLikelihood,
    poi,
    test: str = "qtilde",
    method: str = "asymptotic",
    n_toys: int = 5000,
    key=None,
    batch: int | None = None,
) -> dict:
    r"""Test the hypothesis ``poi`` = {name: mu}: {"CLs", "CLsb", "CLb", "CLs_expected" (NSIGMA
    order), "q", "mu_hat"} (+ "CLs_error", "CLsb_error", "CLb_error" with ``method="toys"``).

    ``test`` "qtilde" (default) or "q": CLs for upper limits; "q0" (mu = the null, usually 0):
    "p0" and "Z" (discovery; asymptotically p0 = 1 - Phi(sqrt(q0))). Toys (``method="toys"``):
    ``n_toys`` each from the s+b model (POI mu) and the b-only model (POI 0, q0: the null
    ``mu``), nuisances fitted to the data at that POI, every toy fitted (vmapped); p-values are
    the fractions of toys with q >= q_obs, errors binomial. ``batch``: toys fitted per vmapped
    block (``lax.map``; default all at once).

    >>> from hpjax.inference.adapters import uncorrelated_background
    >>> lik = uncorrelated_background([12.0, 11.0], [50.0, 52.0], [3.0, 7.0], [51.0, 48.0])
    >>> [round(float(c), 4) for c in hypotest(lik, {"mu": 1.0})["CLs_expected"]]  # pyhf's
    [0.0026, 0.0138, 0.0645, 0.2353, 0.573]
    """
    _check(test, method)
    mu = _poi_value(lik, poi)
    fit = lik.fit()
    q = test_statistic(lik, mu, test=test, fit=fit)
    out = {"q": q, "mu_hat": fit[1]}
    if method == "asymptotic":
        if test == "q0":
            z = jnp.sqrt(q)
            return {**out, "p0": ndtr(-z), "Z": z}
        asimov = lik.asimov(jnp.asarray(0.0))
        qA = test_statistic(lik, mu, data=asimov, test=test)
        clsb, clb, cls, exp = _asymptotic_p(q, qA, test)
        return {**out, "CLs": cls, "CLsb": clsb, "CLb": clb, "CLs_expected": exp, "qA": qA}
    key = jax.random.PRNGKey(0) if key is None else key
    k1, k2 = jax.random.split(key)
    one = lambda d: test_statistic(lik, mu, data=d, test=test)  # noqa: E731
    ts = jax.vmap(one) if batch is None else (lambda ds: jax.lax.map(one, ds, batch_size=batch))
    if test == "q0":
        qb = ts(lik.toys(k2, mu, n_toys))
        p0 = _fraction(qb >= q)
        return {**out, "p0": p0, "p0_error": jnp.sqrt(p0 * (1 - p0) / n_toys), "Z": -ndtri(p0), "q_b": qb}
    qsb = ts(lik.toys(k1, mu, n_toys))
    qb = ts(lik.toys(k2, jnp.asarray(0.0), n_toys))
    clsb, clb = _fraction(qsb >= q), _fraction(qb >= q)
    cls = clsb / clb
    esb, eb = jnp.sqrt(clsb * (1 - clsb) / n_toys), jnp.sqrt(clb * (1 - clb) / n_toys)
    # expected: CLs of each b-only toy's q, at the b-only quantiles (pyhf's ToyCalculator)
    sb_sorted = jnp.sort(qsb)
    b_sorted = jnp.sort(qb)
    p_sb = (n_toys - jnp.searchsorted(sb_sorted, qb, side="left")).astype(jnp.float64) / n_toys
    p_b = (n_toys - jnp.searchsorted(b_sorted, qb, side="left")).astype(jnp.float64) / n_toys
    cls_b = p_sb / p_b
    exp = jnp.percentile(cls_b, 100 * ndtr(-jnp.asarray(NSIGMA)))
    return {
        **out,
        "CLs": cls,
        "CLsb": clsb,
        "CLb": clb,
        "CLs_expected": exp,
        "CLsb_error": esb,
        "CLb_error": eb,
        "CLs_error": cls * jnp.sqrt((esb / jnp.maximum(clsb, 1e-300)) ** 2 + (eb / clb) ** 2),
    }


def significance(lik: ProfiledLikelihood, poi=None, method: str = "asymptotic", n_toys: int = 5000, key=None) -> dict:
    r"""Significance of the data against the null ``poi`` = {name: mu0} (default mu0 = 0):
    {"q0", "p0", "Z"} with q0 = 2 (ln L(mu_hat) - ln L(mu0)) (0 if mu_hat < mu0), asymptotically
    p0 = 1 - Phi(sqrt(q0)), Z = sqrt(q0); ``method="toys"``: p0 from toys of the null.

    >>> from hpjax.inference.adapters import uncorrelated_background
    >>> lik = uncorrelated_background([5.0], [10.0], [1e-3], [20.0])
    >>> round(float(significance(lik)["Z"]), 3)  # Poisson, b known: sqrt(2 (n ln(n/b) - (n - b)))
    2.78
    """
    _check(method=method)
    mu0 = jnp.asarray(0.0) if poi is None else _poi_value(lik, poi)
    r = hypotest(lik, mu0, test="q0", method=method, n_toys=n_toys, key=key)
    return {
        "q0": r["q"],
        "p0": r["p0"],
        "Z": r["Z"],
        "mu_hat": r["mu_hat"],
        **({"p0_error": r["p0_error"]} if method == "toys" else {}),
    }


def _illinois(h, a, b, iters: int):
    """Root of h in [a, b] (h(a), h(b) of opposite signs or the nearer end), fixed iterations."""
    ha, hb = h(a), h(b)

    def body(_, c):
        a, b, ha, hb, side = c
        den = jnp.where(hb == ha, 1.0, hb - ha)
        x = jnp.where(hb == ha, 0.5 * (a + b), jnp.clip(a - ha * (b - a) / den, a, b))
        hx = h(x)
        same_a = jnp.sign(hx) == jnp.sign(ha)
        a2, ha2 = jnp.where(same_a, x, a), jnp.where(same_a, hx, ha)
        b2, hb2 = jnp.where(same_a, b, x), jnp.where(same_a, hb, hx)
        hb2 = jnp.where(same_a & (side > 0), 0.5 * hb2, hb2)
        ha2 = jnp.where(~same_a & (side < 0), 0.5 * ha2, ha2)
        return a2, b2, ha2, hb2, jnp.where(same_a, 1.0, -1.0)

    a, b, ha, hb, _ = jax.lax.fori_loop(0, iters, body, (a, b, ha, hb, jnp.asarray(0.0)))
    return jnp.where(jnp.abs(ha) < jnp.abs(hb), a, b)


def upper_limit(
    lik: ProfiledLikelihood, poi: str | None = None, cl: float = 0.95, test: str = "qtilde", scan=None, iters: int = 30
) -> dict:
    r"""Asymptotic CLs upper limit at confidence level ``cl``: {"observed", "expected" (NSIGMA
    order: ascending), "scan", "CLs_scan"}. CLs on a vectorised ``scan`` of the POI (default 33
    points over the bounds) brackets the crossing CLs = 1 - cl; ``iters`` Illinois steps refine it
    (the expected limits solve sqrt(q_A(mu)) = -n - Phi^-1((1 - cl) Phi(-n)) on the Asimov data).

    >>> from hpjax.inference.adapters import uncorrelated_background
    >>> lik = uncorrelated_background([12.0, 11.0], [50.0, 52.0], [3.0, 7.0], [51.0, 48.0])
    >>> import jax
    >>> r = jax.jit(lambda: upper_limit(lik, "mu"))()  # one compilation, not op by op
    >>> round(float(r["observed"]), 3)  # as pyhf's upper_limit (tests/test_hypotest.py)
    1.012
    """
    _check(test)
    if test == "q0":
        raise ValueError("upper_limit: test 'q0' is a discovery test; valid: ['qtilde', 'q']")
    if poi is not None and poi != lik.poi:
        raise ValueError(f"upper_limit: poi {poi!r}; the likelihood's POI is {lik.poi!r}")
    if not 0.0 < cl < 1.0:
        raise ValueError(f"upper_limit: cl = {cl}; allowed 0 < cl < 1")
    alpha = 1.0 - cl
    lo, hi = lik.bounds
    grid = jnp.linspace(max(lo, 0.0), hi, 33)[1:] if scan is None else jnp.asarray(scan, dtype=jnp.float64)
    fit = lik.fit()
    asimov = lik.asimov(jnp.asarray(0.0))
    fit_a = lik.fit(asimov)
    n = jnp.asarray(NSIGMA)
    target = -n - ndtri(alpha * ndtr(-n))  # sqrt(q_A) at which CLs_exp(n) = alpha

    def obs_h(m):
        q = test_statistic(lik, m, test=test, fit=fit)
        qA = test_statistic(lik, m, data=asimov, test=test, fit=fit_a)
        return jnp.log(_asymptotic_p(q, qA, test)[2]) - math.log(alpha)

    def exp_h(m, k):
        qA = test_statistic(lik, m, data=asimov, test=test, fit=fit_a)
        return target[k] - jnp.sqrt(qA)

    hs = jax.vmap(lambda m: jnp.concatenate([jax.vmap(lambda k: exp_h(m, k))(jnp.arange(5)), obs_h(m)[None]]))(
        grid
    )  # (grid, 6), decreasing in mu
    below = hs < 0
    first = jnp.argmax(below, axis=0)  # first grid point past the crossing (0 if none)
    a = jnp.where(first > 0, grid[jnp.maximum(first - 1, 0)], grid[0] * 1e-3)
    b = grid[first]
    exp = jax.vmap(lambda k, a, b: _illinois(lambda m: exp_h(m, k), a, b, iters))(jnp.arange(5), a[:5], b[:5])
    obs = _illinois(obs_h, a[5], b[5], iters)
    found = below.any(axis=0)
    return {
        "observed": jnp.where(found[5], obs, jnp.nan),
        "expected": jnp.where(found[:5], exp, jnp.nan),
        "scan": grid,
        "CLs_scan": jnp.exp(hs[:, 5]) * alpha,
    }
