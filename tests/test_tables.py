"""hpjax.numerics.tables.Grid: the O(1) interval lookup is numpy's binary search, everywhere.

Checked on every table hpjax looks up at run time (the two hadronic-width tables and every limit
table's mass and lifetime axes) and on synthetic grids that stress the bucket bound (clusters of
nodes 1e-12 apart, geometric and uniform grids, two nodes), at every node, one ulp either side of
it, between nodes, outside the grid, at +-inf and NaN; interp equals jnp.interp bit for bit, with
the same gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hpjax.numerics.tables import Grid
from hpjax.widths import boiarska_width_table, hadronic_width_table


def _tables():
    from hpjax.likelihood.measurements import database as db

    out = {"foresee": hadronic_width_table()[0], "boiarska": boiarska_width_table()[0]}
    for name in db.list_measurements():  # every limit table's axes (hpjax.likelihood.stats.LimitTable)
        m = db.load_measurement(name)
        masses, lifetimes = getattr(m, "masses", None), getattr(m, "lifetimes", None)
        if masses is not None and len(masses) > 1:
            out[name] = np.asarray(masses, dtype=float)
        if lifetimes is not None and len(lifetimes) > 1:
            out[name + ":log10_tau"] = np.log10(np.asarray(lifetimes, dtype=float))
    rng = np.random.default_rng(7)
    out["uniform"] = np.linspace(-3.0, 5.0, 257)
    out["geometric"] = np.geomspace(1e-4, 1e3, 300)
    out["two_nodes"] = np.array([0.5, 0.75])
    clustered = np.sort(np.concatenate([rng.uniform(0, 10, 200), 3.0 + 1e-12 * np.arange(12), [7.0, 7.0 + 1e-9]]))
    out["clustered"] = clustered
    return out


TABLES = _tables()


def _probes(xs, rng):
    span = xs[-1] - xs[0]
    x = np.concatenate(
        [
            xs,
            np.nextafter(xs, -np.inf),
            np.nextafter(xs, np.inf),
            0.5 * (xs[1:] + xs[:-1]),
            rng.uniform(xs[0] - 0.2 * span, xs[-1] + 0.2 * span, 20000),
            [-np.inf, np.inf, -1e300, 1e300, 0.0, -0.0],
        ]
    )
    # XLA:CPU flushes subnormals to zero (its binary search did too): compare on normal floats
    return x[(x == 0) | ~(np.abs(x) < np.finfo(float).tiny)]


@pytest.mark.parametrize("name", sorted(TABLES))
def test_interval_is_the_binary_search(name):
    xs = TABLES[name]
    g = Grid(xs)
    x = _probes(xs, np.random.default_rng(1))
    want = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, xs.size - 2)
    got = np.asarray(jax.jit(g.interval)(x))
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{name}: {bad.size} mismatches, e.g. x={x[bad[:3]]} got {got[bad[:3]]} want {want[bad[:3]]}"
    assert int(g.interval(jnp.nan)) in range(xs.size - 1)


@pytest.mark.parametrize("name", ["foresee", "boiarska", "clustered"])
def test_interp_is_jnp_interp_with_its_gradient(name):
    xs = TABLES[name]
    fp = np.random.default_rng(2).normal(size=xs.size)
    g = Grid(xs)
    x = _probes(xs, np.random.default_rng(3))
    x = x[np.isfinite(x)]
    a = np.asarray(jax.jit(lambda v: g.interp(v, fp, left=0.0, right=-1.0))(x))
    b = np.asarray(jnp.interp(x, xs, fp, left=0.0, right=-1.0))
    np.testing.assert_array_equal(a, b)
    ga = np.asarray(jax.jit(jax.vmap(jax.grad(lambda v: g.interp(v, fp))))(x))
    gb = np.asarray(jax.vmap(jax.grad(lambda v: jnp.interp(v, xs, fp)))(x))
    np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=0)


def test_the_lookup_is_o1():
    """The compiled lookup has no loop: a constant number of compares (K) however long the table."""
    g = Grid(TABLES["foresee"])
    hlo = jax.jit(g.interval).lower(jnp.ones(8)).as_text()
    assert "while" not in hlo and g.k <= 4


@pytest.mark.parametrize("bad", [[1.0], [0.0, 0.0, 1.0], [2.0, 1.0], [0.0, np.nan]])
def test_bad_grid_is_one_line(bad):
    with pytest.raises(ValueError, match="strictly increasing"):
        Grid(np.asarray(bad))
