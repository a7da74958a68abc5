"""Statistical building blocks of the terms: pure, jit/vmap/grad-safe log-likelihood functions.

Upper limits become likelihoods by one of three named conventions (:data:`UL_CONVENTIONS`):

* ``"half_normal"`` (default): a half-normal at zero whose CL-quantile is the limit,
  sigma = UL / Phi^-1((1 + CL)/2); ln L = -x^2 / (2 sigma^2) for a prediction x >= 0.
* ``"step"``: ln L = 0 for x <= UL and -inf above: the hard cut the paper's figures draw.
* ``"poisson"``: a counting likelihood where event counts are published: n observed events,
  background b with a Gaussian uncertainty (marginalised with Gauss-Hermite nodes), signal
  s = k x; k is fixed so that the Bayesian (flat prior) CL upper limit on x equals the
  published limit.

>>> import jax.numpy as jnp
>>> from hpjax.likelihood.stats import half_normal_logpdf, sigma_from_limit
>>> s = sigma_from_limit(1.8e-5, 0.90)
>>> round(s / 1.8e-5, 6)  # 1 / Phi^-1(0.95)
0.607957
>>> float(half_normal_logpdf(0.0, s)) == 0.0
True
"""

from __future__ import annotations

import math
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from ..numerics.tables import Grid
from .names import UL_CONVENTIONS

__all__ = [
    "UL_CONVENTIONS",
    "gaussian_logpdf",
    "asymmetric_gaussian_logpdf",
    "sigma_from_limit",
    "half_normal_logpdf",
    "step_logpdf",
    "PoissonCounts",
    "LimitTable",
    "mvn_logpdf",
]


def gaussian_logpdf(x, mu, sigma):
    """ln N(x; mu, sigma) up to the constant -ln(sigma sqrt(2 pi)) (dropped: chi2 convention)."""
    return -0.5 * ((x - mu) / sigma) ** 2


def asymmetric_gaussian_logpdf(x, mu, sigma_up, sigma_down):
    """Two-sided Gaussian: sigma_up for x > mu, sigma_down below (continuous at mu)."""
    sigma = jnp.where(x > mu, sigma_up, sigma_down)
    return -0.5 * ((x - mu) / sigma) ** 2


def sigma_from_limit(limit: float, cl: float) -> float:
    """sigma of the half-normal whose CL quantile is ``limit``: UL / Phi^-1((1 + CL)/2)."""
    if not 0.0 < cl < 1.0:
        raise ValueError(f"confidence level cl = {cl} must lie in (0, 1)")
    if not limit > 0:
        raise ValueError(f"upper limit = {limit} must be > 0")
    return float(limit) / NormalDist().inv_cdf(0.5 * (1.0 + cl))


def half_normal_logpdf(x, sigma):
    """Half-normal ln L (chi2 convention: 0 at x = 0); x < 0 is treated as x = 0."""
    return -0.5 * (jnp.maximum(x, 0.0) / sigma) ** 2


def step_logpdf(x, limit):
    """Hard cut: 0 where x <= limit, -inf above (gradient 0 everywhere, no NaN)."""
    return jnp.where(x <= limit, 0.0, -jnp.inf)


def mvn_logpdf(x, mu, cov_inv):
    """-1/2 (x - mu)^T C^-1 (x - mu) for vectors x, mu and a precomputed inverse covariance."""
    d = x - mu
    return -0.5 * d @ cov_inv @ d


class PoissonCounts:
    """Counting likelihood ln L(x) = ln int db N(b; b0, sigma_b) Poisson(n | k x + b), b >= 0.

    ``n`` observed events, ``b0 +- sigma_b`` expected background, ``k`` events per unit of the
    observable. With ``limit`` and ``cl`` given, k is solved so that the Bayesian flat-prior CL
    upper limit on x equals ``limit``. The constant is chosen so that ln L(0) = 0.
    """

    N_HERMITE = 24

    def __init__(
        self,
        n: float,
        b0: float,
        sigma_b: float,
        *,
        k: float | None = None,
        limit: float | None = None,
        cl: float | None = None,
        name: str = "",
    ):
        if n < 0 or b0 < 0 or sigma_b < 0:
            raise ValueError(f"{name}: counts must be >= 0 (n={n}, b0={b0}, sigma_b={sigma_b})")
        self.n, self.b0, self.sigma_b = float(n), float(b0), float(sigma_b)
        t, w = np.polynomial.hermite_e.hermegauss(self.N_HERMITE)  # weight exp(-t^2/2)
        self._t = t
        self._w = w / math.sqrt(2.0 * math.pi)
        if k is None:
            if limit is None or cl is None:
                raise ValueError(f"{name}: give k, or limit and cl to calibrate it")
            k = self._calibrate(limit, cl)
        self.k = float(k)
        self._norm = float(self._log_marginal_np(np.array([0.0]))[0])

    # numpy version used at construction only
    def _log_marginal_np(self, s):
        b = np.maximum(self.b0 + self.sigma_b * self._t, 1e-12)
        mu = s[:, None] + b[None, :]
        from math import lgamma

        lp = self.n * np.log(mu) - mu - lgamma(self.n + 1.0)
        m = lp.max(axis=1, keepdims=True)
        return (m + np.log(np.sum(self._w * np.exp(lp - m), axis=1, keepdims=True)))[:, 0]

    def _calibrate(self, limit, cl):
        # Bayesian upper limit on s with a flat prior: int_0^s_up L = cl int_0^inf L
        s = np.linspace(0.0, self.n + self.b0 + 20.0 * math.sqrt(self.n + self.b0 + self.sigma_b**2 + 1.0), 20001)
        lp = self._log_marginal_np(s)
        L = np.exp(lp - lp.max())
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (L[1:] + L[:-1]) * np.diff(s))])
        cdf /= cdf[-1]
        s_up = float(np.interp(cl, cdf, s))
        return s_up / limit

    def asimov_count(self, x0, iters: int = 30):
        """The count n_A whose likelihood peaks at x = x0 (the Asimov count of the marginalised
        model: n_A = k x0 + b0 only when sigma_b = 0). The stationarity condition
        sum_i w_i P_i(n) (n / mu_i - 1) = 0, mu_i = k x0 + b_i, is solved by the fixed point
        n = sum_i w_i P_i / sum_i w_i P_i / mu_i (``iters`` steps from k x0 + b0); jax."""
        s = self.k * jnp.maximum(x0, 0.0)
        b = jnp.maximum(self.b0 + self.sigma_b * jnp.asarray(self._t), 1e-12)
        mu, lw = s + b, jnp.log(jnp.asarray(self._w))

        def step(_, n):
            lp = lw + n * jnp.log(mu) - mu
            p = jnp.exp(lp - jnp.max(lp))
            return jnp.sum(p) / jnp.sum(p / mu)

        return jax.lax.fori_loop(0, iters, step, s + self.b0)

    def logpdf(self, x):
        """ln L(x) - ln L(0), jax; x < 0 is treated as 0."""
        s = self.k * jnp.maximum(x, 0.0)
        b = jnp.maximum(self.b0 + self.sigma_b * jnp.asarray(self._t), 1e-12)
        mu = s + b
        lp = self.n * jnp.log(mu) - mu - gammaln(self.n + 1.0)
        return jax.scipy.special.logsumexp(lp, b=jnp.asarray(self._w)) - self._norm


class LimitTable:
    """A mass (and lifetime) dependent upper-limit table, interpolated linearly in
    (m, log10 tau) on log10(UL). NaN entries mean "no limit"; outside the mass range (and at
    any point whose interpolation touches a NaN) the limit is +inf: the term contributes
    nothing and never extrapolates. Lifetimes are clamped to the table's range (the longest
    lifetime stands for a stable or invisible particle, as the source tables intend)."""

    def __init__(self, masses, values, lifetimes=None, name: str = ""):
        masses = np.asarray(masses, dtype=float)
        values = np.asarray(values, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        if lifetimes is None:
            lifetimes = np.array([1.0])
        lifetimes = np.asarray(lifetimes, dtype=float)
        if values.shape != (masses.size, lifetimes.size):
            raise ValueError(f"{name}: table shape {values.shape} != ({masses.size}, {lifetimes.size})")
        if np.any(np.diff(masses) <= 0) or np.any(np.diff(lifetimes) <= 0):
            raise ValueError(f"{name}: table masses and lifetimes must increase strictly")
        valid = np.isfinite(values) & (values > 0)
        self.name = name
        self.m = jnp.asarray(masses)
        self.lt = jnp.asarray(np.log10(lifetimes))
        self.logv = jnp.asarray(np.where(valid, np.log10(np.where(valid, values, 1.0)), 0.0))
        self.valid = jnp.asarray(valid.astype(float))
        self.m_range = (float(masses[0]), float(masses[-1]))
        # O(1) interval lookups (hpjax.numerics.tables): a binary search is a while loop a block
        self._m_grid = Grid(masses) if masses.size > 1 else None
        self._lt_grid = Grid(np.log10(lifetimes)) if lifetimes.size > 1 else None
        self.tau_longest = float(lifetimes[-1])

    def _interp2(self, m, lt):
        """(valid, log10 UL) interpolated bilinearly at (m, lt): the 2 x 2 cell around the point
        as one gather from the stacked tables and the axes' nodes as one gather each (on XLA:CPU
        a gather is a kernel of its own: this was 12 for the two tables)."""
        nm, nl = self.m.size, self.lt.size
        tab = jnp.stack([self.valid, self.logv], axis=-1)  # (nm, nl, 2)
        tab = tab if nm > 1 else jnp.concatenate([tab, tab], axis=0)
        tab = tab if nl > 1 else jnp.concatenate([tab, tab], axis=1)
        zero = jnp.zeros(jnp.broadcast_shapes(jnp.shape(m), jnp.shape(lt)), dtype=jnp.int32)
        i = self._m_grid.interval(m) + zero if nm > 1 else zero
        j = self._lt_grid.interval(lt) + zero if nl > 1 else zero
        cell = tab[i[..., None, None] + np.array([[0], [1]]), j[..., None, None] + np.array([[0, 1]])]  # (..., 2, 2, 2)

        def frac(axis, k, x):  # (x - x_k) / (x_k+1 - x_k), clipped to [0, 1]
            ends = jnp.stack([axis[:-1], axis[1:]], axis=-1)[k]
            return jnp.clip((x - ends[..., 0]) / (ends[..., 1] - ends[..., 0]), 0.0, 1.0)[..., None]

        if nm > 1:
            fm = frac(self.m, i, m)
            col = [cell[..., 0, c, :] * (1 - fm) + cell[..., 1, c, :] * fm for c in (0, 1)]
        else:
            col = [cell[..., 0, 0, :], cell[..., 0, 1, :]]
        if nl == 1:
            out = col[0]
        else:
            ft = frac(self.lt, j, lt)
            out = col[0] * (1 - ft) + col[1] * ft
        return out[..., 0], out[..., 1]

    def limit(self, m, tau=None):
        """Interpolated upper limit at mass m [GeV] and lifetime tau [s] (+inf where none)."""
        lt = self.lt[-1] if tau is None else jnp.clip(jnp.log10(jnp.maximum(tau, 1e-300)), self.lt[0], self.lt[-1])
        inside = (m >= self.m_range[0]) & (m <= self.m_range[1])
        valid, logv = self._interp2(m, lt)
        ok = inside & (valid > 1.0 - 1e-12)
        return jnp.where(ok, 10.0 ** jnp.where(ok, logv, 0.0), jnp.inf)
