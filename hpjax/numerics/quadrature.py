"""Fixed Gauss-Legendre quadrature of q^2 integrals with a Breit-Wigner pole.

Every three-body rate of hpjax has the form

    I = int_a^b  J(x) / ((x - M)^2 + G^2)  dx,        x = q^2, M = m_hD^2, G = m_hD Gamma_hD,

with J smooth inside (a, b) but with square-root (or x^{3/2}) behaviour at the endpoints, and the
pole anywhere: inside, at an endpoint, or far outside, with G/M from 1e-12 to O(1). One rule
serves all cases. The range is cut into three segments around the pole:

* peak   |x - M| < K G: the Breit-Wigner map x = M + G tan(phi), whose Jacobian cancels the
  Breit-Wigner exactly (dx / ((x-M)^2 + G^2) = dphi / G); x(phi) and the phi range are computed
  with the tangent addition rule and atan2, so nothing cancels catastrophically;
* tails  K G < |x - M|: a logarithmic map in the distance d = |x - M| from the pole, under which
  J(x)/(d^2 + G^2) dx = J d/(d^2 + G^2) dlog(d) is smooth. This catches the off-shell
  contribution, which dominates when J(M) is small (pole at a threshold, tiny BR(h_D -> inv)).

In every segment the endpoint map u = (1 - cos(pi t))/2 makes square roots at the segment ends
analytic, and an n-point Gauss-Legendre rule in t integrates. Segments outside (a, b) get zero
weight. As G -> 0 with the pole inside, the peak segment gives pi J(M)/G: the narrow-width limit.

>>> import jax.numpy as jnp
>>> from hpjax.numerics.quadrature import bw_quadrature
>>> x, w = bw_quadrature(0.0, 1.0, 0.25, 1e-6, n=64)
>>> # int_0^1 dx / ((x - 1/4)^2 + G^2) = (atan(0.75/G) + atan(0.25/G))/G
>>> exact = (jnp.arctan(0.75e6) + jnp.arctan(0.25e6)) / 1e-6
>>> bool(abs(jnp.sum(w) / exact - 1) < 1e-12)
True
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

__all__ = [
    "gauss_legendre",
    "endpoint_map",
    "bw_quadrature",
    "bw_segments",
    "bw_segment",
    "bw_segment_active",
    "tan_reduced",
    "atan2_reduced",
    "DEFAULT_ORDER",
    "PEAK_HALF_WIDTH",
]

#: Gauss-Legendre order per segment of every q^2 integral (3 segments, 96 nodes in all). Chosen
#: by benchmarks/quadrature_convergence.py (benchmarks/quadrature_convergence.json), against
#: adaptive quadrature. On the standard set (816 cases: 4 channels x 2 models x m_hD in [0.01, 20]
#: GeV with every endpoint +- 1 MeV x Gamma_hD/m_hD in [1e-8, 0.3]) the worst relative error is
#: 1.3e-2 (n=8), 8e-5 (16), 4.5e-7 (24), 1.2e-9 (32), 3.6e-11 (48), 1.1e-12 (96). On the dense set
#: (8856 cases, 2026-12-04: also poles 10 keV from every endpoint and from the pair threshold,
#: widths down to 1e-10, dark masses 0, 0.01, 0.1 GeV) it is 6.8e-6 (24), 2.1e-7 (32), 4.4e-10
#: (48), the worst cases a pole 10 keV above the pair threshold: 32 is the smallest order that
#: keeps 1e-6 everywhere (a 5x margin there, 1000x on the standard set); 24 does not.
DEFAULT_ORDER = 32

#: K: the peak segment is |q^2 - m_hD^2| < K m_hD Gamma_hD.
PEAK_HALF_WIDTH = 30.0


@functools.cache
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the n-point Gauss-Legendre rule on [0, 1]."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"quadrature order n = {n!r} must be an integer >= 2")
    t, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (t + 1.0), 0.5 * w


@functools.cache
def endpoint_map(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes u and weights du on [0, 1] of the n-point Gauss-Legendre rule after the cosine endpoint
    map u = (1 - cos(pi t))/2, which makes square-root endpoint behaviour analytic (numpy:
    constants of the program). The one copy of this map in hpjax."""
    t, wt = gauss_legendre(n)
    u = 0.5 * (1.0 - np.cos(np.pi * t))
    du = wt * 0.5 * np.pi * np.sin(np.pi * t)
    return u, du


# tan(x) for 0 <= x <= pi (the Breit-Wigner map) from exp/log-free arithmetic: XLA:CPU lowers
# jnp.tan to a scalar libm call per element (~4x slower than this vectorised form, and the peak
# segment's tan was the most expensive operation of every q^2 integral). Cody-Waite reduction by
# pi/2 (three-part constant) and the Cephes rational approximation of tan on |z| <= pi/4; relative
# error <= 5e-16 (value and derivative) on [0, pi], tested against numpy in tests/test_quadrature.py.
_PIO2 = (1.570796310901641845703125, 1.589325471229585672428e-8, 6.123233995736766035868e-17)
_TAN_P = (-1.30936939181383777646e4, 1.15351664838587416140e6, -1.79565251976484877988e7)
_TAN_Q = (1.36812963470692954678e4, -1.32089234440210967447e6, 2.50083801823357915839e7, -5.38695755929454629881e7)


def _tan_fraction(x):
    """tan(x) as a fraction (num, den), den > 0 away from the poles: the Cephes form without its
    two divisions, for callers that divide once anyway (the Breit-Wigner map)."""
    k = jnp.floor(x * (2.0 / np.pi) + 0.5)
    z = ((x - k * _PIO2[0]) - k * _PIO2[1]) - k * _PIO2[2]
    zz = z * z
    p = (_TAN_P[0] * zz + _TAN_P[1]) * zz + _TAN_P[2]
    q = (((zz + _TAN_Q[0]) * zz + _TAN_Q[1]) * zz + _TAN_Q[2]) * zz + _TAN_Q[3]
    # tan(z) = z (1 + zz p / q) = (z q + z zz p) / q; odd k: tan(x) = -1/tan(z)
    num = z * q + z * zz * p
    odd = (k - 2.0 * jnp.floor(0.5 * k)) == 1.0
    return jnp.where(odd, -q, num), jnp.where(odd, num, q)


def tan_reduced(x):
    """tan(x), vectorised, accurate to a few ulp for |x| up to ~1e6 (used on [0, pi])."""
    k = jnp.floor(x * (2.0 / np.pi) + 0.5)
    z = ((x - k * _PIO2[0]) - k * _PIO2[1]) - k * _PIO2[2]
    zz = z * z
    p = (_TAN_P[0] * zz + _TAN_P[1]) * zz + _TAN_P[2]
    q = (((zz + _TAN_Q[0]) * zz + _TAN_Q[1]) * zz + _TAN_Q[2]) * zz + _TAN_Q[3]
    t = z + z * (zz * p / q)
    odd = (k - 2.0 * jnp.floor(0.5 * k)) == 1.0
    return jnp.where(odd, -1.0 / jnp.where(odd, t, 1.0), t)


# atan2 without libm: XLA:CPU lowers jnp.arctan2 (and jnp.arctan) to a scalar libm call per
# element (14 ns each on a 2026 EPYC, 9 % of the paper likelihood's time: one per q^2 integral's
# peak segment). Octant reduction to a ratio r in [0, 1], then the Cephes atan (atan.c: reduction
# (r - 1)/(r + 1) above 0.66, rational approximation of degree 4/5 in r^2, the low bits of pi/4 and
# pi/2 added back); relative error <= 5e-16 (value) and 2e-15 (derivative), tested against numpy in
# tests/test_quadrature.py.
_ATAN_P = (
    -8.750608600031904122785e-1,
    -1.615753718733365076637e1,
    -7.500855792314704667340e1,
    -1.228866684490136173410e2,
    -6.485021904942025371773e1,
)
_ATAN_Q = (
    2.485846490142306297962e1,
    1.650270098316988542046e2,
    4.328810604912902668951e2,
    4.853903996359136964868e2,
    1.945506571482613964425e2,
)
_PIO2_LO = 6.123233995736765886130e-17  # pi/2 - fl(pi/2)


def _atan_unit(r):
    """atan(r) for 0 <= r <= 1."""
    big = r > 0.66
    t = jnp.where(big, (r - 1.0) / (r + 1.0), r)
    z = t * t
    p = (((_ATAN_P[0] * z + _ATAN_P[1]) * z + _ATAN_P[2]) * z + _ATAN_P[3]) * z + _ATAN_P[4]
    q = ((((z + _ATAN_Q[0]) * z + _ATAN_Q[1]) * z + _ATAN_Q[2]) * z + _ATAN_Q[3]) * z + _ATAN_Q[4]
    a = t + t * (z * p / q)
    return jnp.where(big, np.pi / 4 + (a + 0.5 * _PIO2_LO), a)


def atan2_reduced(y, x):
    """atan2(y, x) in [-pi, pi], vectorised (no libm call), accurate to a few ulp. Differs from
    numpy only at y = -0.0 (taken as +0: pi, not -pi, for x < 0) and at x = y = 0, where the value
    is 0 and the derivative finite."""
    ax, ay = jnp.abs(x), jnp.abs(y)
    swap = ay > ax
    num, den = jnp.where(swap, ax, ay), jnp.where(swap, ay, ax)
    a = _atan_unit(num / jnp.where(den > 0, den, 1.0))
    a = jnp.where(swap, (np.pi / 2 - a) + _PIO2_LO, a)
    a = jnp.where(x < 0, (np.pi - a) + 2 * _PIO2_LO, a)
    return jnp.where(y < 0, -a, a)


def _peak(lo_off, hi_off, M, G, n):
    """Segment x - M in [lo_off, hi_off] with the Breit-Wigner map; weights include the BW factor.
    The ends are offsets from the pole, so that G/M down to 1e-12 loses no precision."""
    u, du = endpoint_map(n)
    nonempty = hi_off > lo_off
    hi_s = jnp.where(nonempty, hi_off, lo_off + G)
    ta = lo_off / G
    delta = atan2_reduced(G * (hi_s - lo_off), G * G + lo_off * hi_s)
    # tan(phi_a + delta u) by the addition rule, tau = num/den: one division a node
    num, den = _tan_fraction(delta * u)
    off = G * (ta * den + num) / (den - ta * num)
    x = M + jnp.clip(off, lo_off, hi_s)
    w = du * delta / G
    return x, jnp.where(nonempty, w, 0.0)


def _tail(d_lo, d_hi, M, G, sign, n):
    """Segment x = M + sign*d, d in [d_lo, d_hi] (0 < d_lo), logarithmic map in d."""
    u, du = endpoint_map(n)
    nonempty = d_hi > d_lo
    d_hi_s = jnp.where(nonempty, d_hi, 2.0 * d_lo)
    L = jnp.log(d_hi_s / d_lo)
    d = d_lo * jnp.exp(L * u)
    d = jnp.clip(d, d_lo, d_hi_s)
    x = M + sign * d
    w = du * L * d / (d * d + G * G)
    return x, jnp.where(nonempty, w, 0.0)


def bw_segment_active(a, b, M, G, K: float = PEAK_HALF_WIDTH):
    """Whether each segment of :func:`bw_segments` (lower tail, peak, upper tail) is non-empty:
    three booleans. A pole above the range needs only its lower tail (or, when K G reaches down
    to ``a``, only the peak); the others have zero weights."""
    KG = K * G
    return (
        M - a > jnp.maximum(KG, M - b),
        jnp.minimum(b - M, KG) > jnp.maximum(a - M, -KG),
        b - M > jnp.maximum(KG, a - M),
    )


def bw_segment(i: int, a, b, M, G, n: int = DEFAULT_ORDER, K: float = PEAK_HALF_WIDTH):
    """Segment ``i`` (0: lower tail, 1: peak, 2: upper tail) of :func:`bw_segments`: (x, w), n
    nodes; zero weights where the segment is empty."""
    KG = K * G
    if i == 1:  # peak: x - M in [max(a - M, -KG), min(b - M, KG)]
        p_lo = jnp.maximum(a - M, -KG)
        x, w = _peak(p_lo, jnp.maximum(jnp.minimum(b - M, KG), p_lo), M, G, n)
    elif i == 2:  # upper tail: d in [max(KG, a-M), b-M]
        x, w = _tail(jnp.maximum(KG, a - M), b - M, M, G, 1.0, n)
    elif i == 0:  # lower tail: d in [max(KG, M-b), M-a]
        x, w = _tail(jnp.maximum(KG, M - b), M - a, M, G, -1.0, n)
    else:
        raise ValueError(f"segment index {i!r} must be 0, 1 or 2")
    return jnp.clip(x, a, b), w


def bw_segments(a, b, M, G, n: int = DEFAULT_ORDER, K: float = PEAK_HALF_WIDTH):
    """The rule of :func:`bw_quadrature` as its three segments [(x, w) lower tail, peak, upper
    tail], n nodes each. Integrating segment by segment (``sum(sum(w * J(x)) for x, w in ...)``)
    avoids the concatenation, which XLA:CPU fuses into every consumer as a per-element select
    (3x slower integrals).

    Requires b > a and G > 0 (callers mask other cases).
    """
    return [bw_segment(i, a, b, M, G, n, K) for i in range(3)]


def bw_quadrature(a, b, M, G, n: int = DEFAULT_ORDER, K: float = PEAK_HALF_WIDTH):
    """Nodes x_k in [a, b] and weights w_k (3n of each) with
    sum_k w_k J(x_k) ~ int_a^b J(x) / ((x-M)^2 + G^2) dx for J smooth with root endpoints.

    Requires b > a and G > 0 (callers mask other cases).
    """
    segs = bw_segments(a, b, M, G, n, K)
    return jnp.concatenate([x for x, _ in segs]), jnp.concatenate([w for _, w in segs])
