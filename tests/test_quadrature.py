"""hpjax.numerics.quadrature.bw_quadrature: exactness for known integrands, weights, convergence, orders.

I(J) = int_a^b J(x) / ((x - M)^2 + G^2) dx for J = 1 (closed form) and J = sqrt(b-x) sqrt(x-a)
(scipy.integrate.quad), the pole inside, on either endpoint, 1e-6 outside, far outside, and
G/M from 1e-12 to 0.1. Each order is compiled once, vmapped over all cases.
"""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from hpjax.numerics.quadrature import DEFAULT_ORDER, bw_quadrature, gauss_legendre

A, B = 0.2, 1.3
L = B - A
POLES = {
    "inside": 0.7123456789,
    "at_a": A,
    "at_b": B,
    "1e-6_below_a": A - 1e-6,
    "1e-6_above_b": B + 1e-6,
    "far_above": B + 10 * L,
    "far_below": A - 10 * L,
}
RATIOS = [1e-12, 1e-8, 1e-4, 1e-1]
CASES = [(p, r) for p in POLES for r in RATIOS]
IDS = [f"{p}-G/M={r:g}" for p, r in CASES]
ORDERS = (32, 48, 96)


def _MG(pole, ratio):
    M = POLES[pole]
    return M, ratio * abs(M)


def _exact_flat(M, G):
    """int_a^b dx / ((x-M)^2 + G^2) = [atan((b-M)/G) - atan((a-M)/G)] / G, the difference of the
    arctangents written as one atan2 (no cancellation when both are close to +-pi/2)."""
    return math.atan2(G * (B - A), G * G + (A - M) * (B - M)) / G


def _root(x):
    return np.sqrt(np.maximum(B - x, 0.0)) * np.sqrt(np.maximum(x - A, 0.0))


def _quad_root(M, G):
    """scipy reference for J = sqrt(b-x) sqrt(x-a), in y = x - M (so that the Breit-Wigner is
    evaluated without cancellation), split at the pole and at pole +- 10^k G; the endpoint
    square roots are handled with quad's algebraic weights."""
    ya, yb = A - M, B - M
    pts = {0.0}
    k = G
    while k < 10 * (abs(ya) + abs(yb)):
        pts.update((k, -k))
        k *= 10.0
    edges = [ya] + sorted(p for p in pts if ya < p < yb) + [yb]
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", integrate.IntegrationWarning)
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            first, last = i == 0, i == len(edges) - 2
            if first and last:
                f, wvar = (lambda y: 1.0 / (y * y + G * G)), (0.5, 0.5)
            elif first:
                f, wvar = (lambda y: math.sqrt(yb - y) / (y * y + G * G)), (0.5, 0.0)
            elif last:
                f, wvar = (lambda y: math.sqrt(y - ya) / (y * y + G * G)), (0.0, 0.5)
            else:
                f, wvar = (lambda y: math.sqrt(yb - y) * math.sqrt(y - ya) / (y * y + G * G)), None
            if wvar is None:
                val, err = integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)
            else:
                val, err = integrate.quad(f, lo, hi, weight="alg", wvar=wvar, epsabs=0.0, epsrel=1e-13, limit=200)
            total += val
    return total


@pytest.fixture(scope="session")
def quad_results():
    """For each order: nodes, weights and the two integrals for every case, one vmapped call."""
    M = jnp.array([_MG(p, r)[0] for p, r in CASES])
    G = jnp.array([_MG(p, r)[1] for p, r in CASES])
    out = {}
    for n in ORDERS:

        @jax.jit
        def run(M, G, n=n):
            def one(M_, G_):
                x, w = bw_quadrature(A, B, M_, G_, n)
                root = jnp.sqrt(jnp.maximum(B - x, 0.0)) * jnp.sqrt(jnp.maximum(x - A, 0.0))
                return x, w, jnp.sum(w), jnp.sum(w * root)

            return jax.vmap(one)(M, G)

        out[n] = tuple(np.asarray(a) for a in run(M, G))
    return out


@pytest.fixture(scope="session")
def references():
    return {
        "flat": np.array([_exact_flat(*_MG(p, r)) for p, r in CASES]),
        "root": np.array([_quad_root(*_MG(p, r)) for p, r in CASES]),
    }


# with the pole on an endpoint and G/M = 1e-12, J = sqrt(x - a) near the peak is only known to
# eps*a / G ~ 1e-4 (nodes are absolute x): float64 limits any x-node rule to ~1e-5 there
FLOAT64_LIMITED = {("at_a", 1e-12), ("at_b", 1e-12)}


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_constant_numerator_is_exact(quad_results, references, i):
    got = quad_results[DEFAULT_ORDER][2][i]
    assert got == pytest.approx(references["flat"][i], rel=1e-9, abs=0)


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_root_numerator_matches_scipy(quad_results, references, i):
    got = quad_results[DEFAULT_ORDER][3][i]
    assert got > 0
    rel = 1e-5 if CASES[i] in FLOAT64_LIMITED else 1e-9
    assert got == pytest.approx(references["root"][i], rel=rel, abs=0)


def test_narrowest_peak_is_exact_to_1e9():
    """Regression (peak segment formed as offsets from the pole): sum(w) = int_a^b dx / ((x-M)^2 + G^2) for M = 0.7, G = 0.7e-12."""
    M, G = 0.7, 0.7e-12  # was off by 2e-8
    x, w = bw_quadrature(A, B, M, G)
    assert float(jnp.sum(w)) == pytest.approx(_exact_flat(M, G), rel=1e-12, abs=0)
    M, G = A, 1e-12 * A  # pole on the endpoint
    x, w = bw_quadrature(A, B, M, G)
    assert float(jnp.sum(w)) == pytest.approx(_exact_flat(M, G), rel=1e-12, abs=0)


@pytest.mark.parametrize("n", ORDERS)
def test_weights_finite_nonnegative_nodes_inside(quad_results, n):
    x, w = quad_results[n][0], quad_results[n][1]
    assert x.shape == w.shape == (len(CASES), 3 * n)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert np.all(np.isfinite(x)) and np.all((x >= A) & (x <= B))
    assert np.all(np.sum(w > 0, axis=1) >= n)  # at least one segment is populated


@pytest.mark.parametrize("i", range(len(CASES)), ids=IDS)
def test_converges_with_order(quad_results, i):
    for k in (2, 3):
        rel = 1e-5 if (k == 3 and CASES[i] in FLOAT64_LIMITED) else 1e-9
        vals = [quad_results[n][k][i] for n in ORDERS]
        assert vals[0] == pytest.approx(vals[2], rel=rel, abs=0)
        assert vals[1] == pytest.approx(vals[2], rel=rel, abs=0)


def test_narrow_width_limit(quad_results):
    """As G -> 0 with the pole inside, G * I -> pi J(M)."""
    i = CASES.index(("inside", 1e-12))
    M, G = _MG("inside", 1e-12)
    assert quad_results[DEFAULT_ORDER][3][i] * G == pytest.approx(math.pi * _root(M), rel=1e-6)


@pytest.mark.parametrize("n", [1, 0, -4, 2.5, 48.0, True, "48"])
def test_invalid_orders_raise(n):
    with pytest.raises(ValueError, match="order"):
        bw_quadrature(A, B, 0.7, 0.01, n=n)
    with pytest.raises(ValueError, match="order"):
        gauss_legendre(n)


def test_small_valid_order_works():
    x, w = bw_quadrature(A, B, 0.7, 0.07, n=2)
    assert x.shape == (6,) and np.all(np.asarray(w) >= 0)
    assert float(jnp.sum(w)) == pytest.approx(_exact_flat(0.7, 0.07), rel=0.2)


def test_tan_reduced_matches_numpy_and_its_derivative():
    """The vectorised tan of the Breit-Wigner map: a few ulp against numpy on [0, pi] (including
    next to the pole at pi/2 and at 0), and its derivative 1/cos^2."""
    from hpjax.numerics.quadrature import tan_reduced

    rng = np.random.default_rng(7)
    x = np.concatenate(
        [
            rng.uniform(0.0, np.pi, 200_000),
            np.linspace(0.0, np.pi, 10_001),
            np.pi / 2 + np.array([-1e-6, -1e-10, 1e-10, 1e-6]),
            [1e-300, 1e-12, 0.3, np.pi],
        ]
    )
    t = np.asarray(jax.jit(tan_reduced)(x))
    ref = np.tan(x)
    assert np.max(np.abs(t - ref) / np.maximum(np.abs(ref), 1e-300)) < 2e-15
    assert t[-4] == 1e-300 and np.all(np.isfinite(t))
    d = np.asarray(jax.jit(jax.vmap(jax.grad(tan_reduced)))(x[:5000]))
    np.testing.assert_allclose(d, 1.0 / np.cos(x[:5000]) ** 2, rtol=1e-14)


def test_atan2_reduced_matches_numpy_and_its_derivative():
    """The vectorised atan2 of the Breit-Wigner map and CDF: a few ulp against numpy over all four
    quadrants, ratios from 1e-40 to 1e40 and next to the octant boundaries (|y| = |x|, the 0.66
    split, the axes); its gradient (x, -y)/(x^2 + y^2); finite value and gradient at (0, 0)."""
    from hpjax.numerics.quadrature import atan2_reduced

    rng = np.random.default_rng(11)
    n = 200_000
    sign = lambda: rng.choice([-1.0, 1.0], n)  # noqa: E731
    y = sign() * 10.0 ** rng.uniform(-20, 20, n) * rng.uniform(0.5, 1.0, n)
    x = sign() * 10.0 ** rng.uniform(-20, 20, n) * rng.uniform(0.5, 1.0, n)
    yd = rng.uniform(-2.0, 2.0, n)
    xd = yd * sign() * np.where(rng.uniform(size=n) < 0.5, 1.0 + rng.uniform(-1e-3, 1e-3, n), 1 / 0.66)
    y, x = np.concatenate([y, yd, [1.0, -1.0, 0.0, 0.0, 1e-300]]), np.concatenate([x, xd, [0.0, 0.0, 1.0, -1.0, 1.0]])
    got, ref = np.asarray(jax.jit(atan2_reduced)(y, x)), np.arctan2(y, x)
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)) < 5e-16
    g = jax.jit(jax.vmap(jax.grad(atan2_reduced, argnums=(0, 1))))(yd[:5000], xd[:5000])
    r2 = yd[:5000] ** 2 + xd[:5000] ** 2
    np.testing.assert_allclose(np.asarray(g[0]), xd[:5000] / r2, rtol=2e-15)
    np.testing.assert_allclose(np.asarray(g[1]), -yd[:5000] / r2, rtol=2e-15)
    v, g0 = jax.value_and_grad(atan2_reduced, argnums=(0, 1))(0.0, 0.0)
    assert float(v) == 0.0 and np.all(np.isfinite(g0))


def test_segments_are_the_concatenated_rule():
    from hpjax.numerics.quadrature import bw_segments

    x, w = bw_quadrature(0.2, 1.3, 0.7, 1e-3)
    segs = bw_segments(0.2, 1.3, 0.7, 1e-3)
    assert [s[0].shape for s in segs] == [(DEFAULT_ORDER,)] * 3
    np.testing.assert_array_equal(np.concatenate([np.asarray(s[0]) for s in segs]), x)
    np.testing.assert_array_equal(np.concatenate([np.asarray(s[1]) for s in segs]), w)
