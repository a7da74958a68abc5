"""Kinematic helpers: the Källén function and NaN-safe powers for thresholds.

All functions are pure ``jax.numpy`` and safe under ``grad`` at thresholds: the argument of
every square root is masked with the double-``where`` pattern, so no NaN or inf leaks through
a branch that is not taken.

>>> import jax.numpy as jnp
>>> from hpjax.kinematics import kallen, sqrt_pos
>>> float(kallen(5.0**2, 0.5**2, 1.0**2))
563.0625
>>> float(sqrt_pos(-1.0))
0.0
"""

import jax
import jax.numpy as jnp

from .numerics.quadrature import atan2_reduced

__all__ = [
    "kallen",
    "sqrt_pos",
    "pow_pos",
    "beta_threshold",
    "safe_ratio",
    "lifetime",
    "STABLE_WIDTH",
    "bw_fraction",
    "bw_cdf",
]


#: smallest squared pair mass [GeV^2] divided by in beta_threshold (a normal float)
_M2_FLOOR = 1e-300


@jax.custom_jvp
def _ratio(num, den):
    return num / den


@_ratio.defjvp
def _ratio_jvp(primals, tangents):
    # d(n/d) = (dn - r dd) / d: no d^2, which underflows for widths below 1e-154 GeV
    num, den = primals
    dn, dd = tangents
    r = num / den
    return r, (dn - r * dd) / den


def kallen(a, b, c):
    """Källén function lambda(a, b, c) = a^2 + b^2 + c^2 - 2(ab + bc + ca)."""
    return a * a + b * b + c * c - 2.0 * (a * b + b * c + c * a)


def sqrt_pos(x):
    """sqrt(x) for x > 0 and 0 otherwise, with a finite gradient everywhere (0 where x <= 0)."""
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def pow_pos(x, p):
    """x**p for x > 0 and 0 otherwise (p > 0), gradient-safe at x = 0."""
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    if isinstance(p, (int, float)) and float(p) == 1.5:
        # x sqrt(x): XLA:CPU lowers a general power to a scalar libm call (~20x slower); the
        # thresholds' beta^3 = (beta^2)^1.5 sits inside every q^2 integrand
        return jnp.where(pos, xs * jnp.sqrt(xs), 0.0)
    return jnp.where(pos, jnp.power(xs, p), 0.0)


def beta_threshold(m2_pair, m_daughter):
    """Velocity factor 1 - 4 m^2/s of a pair of equal-mass daughters (0 below threshold)."""
    x = 4.0 * m_daughter**2
    above = m2_pair > x
    # the ratio's gradient divides by s, never by s^2 (which underflows for s < 1e-154 GeV^2); the
    # floor only acts for pair masses below 1e-150 GeV
    m2 = jnp.where(above, jnp.maximum(m2_pair, _M2_FLOOR), 1.0)
    # one division (the same number as x / m2) whose derivative never forms s^2: this sits inside
    # every q^2 integrand, where a second, double-where division cost 1 of 6 divisions a node
    r = _ratio(x, m2)
    return jnp.where(above, jnp.maximum(1.0 - r, 0.0), 0.0)


#: widths [GeV] below this are a stable particle at float64 resolution (lifetime > 1e265 s)
STABLE_WIDTH = 1e-290


def safe_ratio(num, den):
    """num / den for den > :data:`STABLE_WIDTH` and 0 below: a branching ratio of a particle that
    does not decay (every partial width 0, so is every BR; its escape from a detector is the
    business of its lifetime, +inf). Gradient finite (double-where, no den^2).

    >>> float(safe_ratio(1.0, 4.0)), float(safe_ratio(0.0, 0.0))
    (0.25, 0.0)
    """
    pos = den > STABLE_WIDTH
    big = den > 1e-150  # plain division where den^2 is a normal float, the ratio without den^2 below
    plain = num / jnp.where(big, den, 1.0)
    return jnp.where(pos, jnp.where(big, plain, _ratio(num, jnp.where(pos & ~big, den, 1.0))), 0.0)


def lifetime(width, inputs):
    """Proper lifetime hbar / Gamma [s]; documented +inf for a stable particle
    (Gamma <= :data:`STABLE_WIDTH`), gradient 0 there and finite elsewhere.

    >>> from hpjax.inputs import Inputs
    >>> float(lifetime(0.0, Inputs.default()))
    inf
    """
    pos = width > STABLE_WIDTH
    big = width > 1e-150
    plain = inputs.hbar / jnp.where(big, width, 1.0)
    tiny = inputs.hbar * _ratio(1.0, jnp.where(pos & ~big, width, 1.0))
    return jnp.where(pos, jnp.where(big, plain, tiny), jnp.inf)


#: a Breit-Wigner narrower than this (M Gamma, GeV^2) is a delta function in :func:`bw_fraction`
_BW_MIN_WIDTH = 1e-150


def bw_cdf(x, M, G):
    """atan2(x - M, G) / pi + 1/2: the Breit-Wigner's cumulative fraction below x (the same
    normalisation as :func:`bw_fraction`, which is the difference of two); for G below 1e-150 GeV^2
    the step function (x > M). Differences of it at bin edges are fractions in bins.

    >>> float(bw_cdf(2.0, 1.0, 0.0)), round(float(bw_cdf(1.0, 1.0, 1.0)), 6)
    (1.0, 0.5)
    """
    wide = G > _BW_MIN_WIDTH
    G_s = jnp.where(wide, G, 1.0)
    return jnp.where(wide, atan2_reduced(x - M, G_s) / jnp.pi + 0.5, jnp.where(x > M, 1.0, 0.0))


def bw_fraction(lo, hi, M, G):
    """Fraction of the Breit-Wigner 1/((x - M)^2 + G^2) (x = q^2, M = m^2, G = m Gamma) inside
    [lo, hi]: (atan2(hi - M, G) - atan2(lo - M, G)) / pi; for G below 1e-150 GeV^2 (a stable or
    nearly stable particle) the delta-function limit 1 or 0. Value and gradient finite everywhere
    (atan2 never divides by G^2 + (x - M)^2 below 1e-300).

    >>> float(bw_fraction(0.0, 2.0, 1.0, 0.0)), round(float(bw_fraction(0.0, 2.0, 1.0, 1.0)), 6)
    (1.0, 0.5)
    """
    wide = G > _BW_MIN_WIDTH
    G_s = jnp.where(wide, G, 1.0)
    bw = (atan2_reduced(hi - M, G_s) - atan2_reduced(lo - M, G_s)) / jnp.pi
    return jnp.where(wide, bw, jnp.where((M > lo) & (M < hi), 1.0, 0.0))
