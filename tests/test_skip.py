"""hpjax.numerics.skip: jnp.where(active, fn(*args), 0) whose compiled program skips fn for a
vmapped block with no active point: the same values and derivatives as the plain form, and fn
really not evaluated for such a block (counted with a host callback, which runs only where the
branch runs)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.decays import gamma_three_body_many
from hpjax.numerics.quadrature import bw_quadrature, bw_segment, bw_segment_active, bw_segments
from hpjax.numerics.skip import skip_inactive


def f(x, c):
    return jnp.sin(c * x) ** 2 / (1.0 + x * x)


def plain(x, c):
    return jnp.where(x > 0.5, f(x, c), 0.0)


def skipped(x, c):
    return skip_inactive(f, x > 0.5, x, c)


X = jnp.linspace(0.0, 1.0, 12)


def test_values_equal_the_where_form_under_vmap_nested_vmap_and_lax_map():
    ref = plain(X, 2.0)
    assert np.array_equal(jax.vmap(skipped, (0, None))(X, 2.0), ref)
    assert np.array_equal(jax.jit(jax.vmap(skipped, (0, None)))(X, 2.0), ref)
    cs = jnp.array([0.5, 2.0, 3.0])
    nested = jax.vmap(jax.vmap(skipped, (0, None)), (None, 0))(X, cs)
    assert np.array_equal(nested, jax.vmap(lambda c: plain(X, c))(cs))
    blocks = jax.jit(lambda x: jax.lax.map(lambda v: skipped(v, 2.0), x, batch_size=4))(X)
    assert np.array_equal(blocks, ref)
    # only the mask batched (fn's arguments the same for every member): masked per member
    only_mask = jax.vmap(lambda x: skip_inactive(f, x > 0.5, 0.7, 2.0))(X)
    assert np.array_equal(only_mask, jnp.where(X > 0.5, f(0.7, 2.0), 0.0))
    assert float(skipped(0.9, 2.0)) == float(plain(0.9, 2.0)) and float(skipped(0.1, 2.0)) == 0.0


def test_derivatives_equal_the_where_form_and_finite_differences():
    def total(c, fn):
        return jnp.sum(jax.lax.map(lambda v: fn(v, c), X, batch_size=4))

    g = jax.jit(jax.grad(lambda c: total(c, skipped)))(2.0)
    assert float(g) == pytest.approx(float(jax.grad(lambda c: total(c, plain))(2.0)), rel=1e-14)
    h = 1e-6
    fd = (total(2.0 + h, plain) - total(2.0 - h, plain)) / (2 * h)
    assert float(g) == pytest.approx(float(fd), rel=1e-7)
    # forward mode and per-point gradients (vmap of grad) as well
    jf = jax.jacfwd(lambda c: jax.vmap(skipped, (0, None))(X, c))(2.0)
    jr = jax.vmap(jax.grad(skipped, argnums=(0, 1)), (0, None))(X, 2.0)
    ref = jax.vmap(jax.grad(plain, argnums=(0, 1)), (0, None))(X, 2.0)
    np.testing.assert_allclose(jf, ref[1], rtol=1e-14)
    np.testing.assert_allclose(jr[0], ref[0], rtol=1e-14)
    np.testing.assert_allclose(jr[1], ref[1], rtol=1e-14)


def test_a_block_without_active_points_does_not_evaluate_fn():
    calls = []

    def counted(x, c):
        jax.debug.callback(lambda v: calls.append(np.shape(v)), x)
        return f(x, c)

    run = jax.jit(lambda x: jax.lax.map(lambda v: skip_inactive(counted, v > 0.5, v, 2.0), x, batch_size=4))
    out = run(X)  # blocks of 4: X[0:4] has no point above 0.5
    jax.block_until_ready(out)
    active_blocks = sum(bool(np.any(np.asarray(X[i : i + 4]) > 0.5)) for i in range(0, X.size, 4))
    # the callback runs once per point of an evaluated block (vmap of a callback is a loop)
    assert active_blocks == 2 and len(calls) == 4 * active_blocks < X.size
    assert np.array_equal(out, plain(X, 2.0))
    calls.clear()
    jax.block_until_ready(jax.jit(jax.vmap(lambda v: skip_inactive(counted, v > 2.0, v, 2.0)))(X))
    assert calls == []  # one batch, no active point: not evaluated at all


def test_segment_functions_are_the_rule_of_bw_quadrature():
    cases = [(0.0, 1.0, 0.25, 1e-3), (0.0, 1.0, 4.0, 0.1), (0.2, 1.0, 0.1, 0.05), (0.0, 1.0, 0.5, 1.0)]
    for a, b, M, G in cases:
        x, w = bw_quadrature(a, b, M, G, n=16)
        segs = bw_segments(a, b, M, G, n=16)
        assert np.array_equal(np.concatenate([s[0] for s in segs]), x)
        for i, on in enumerate(bw_segment_active(a, b, M, G)):
            xi, wi = bw_segment(i, a, b, M, G, n=16)
            assert np.array_equal(xi, segs[i][0]) and np.array_equal(wi, segs[i][1])
            # an inactive segment has zero weights; an active one does not
            assert bool(on) == bool(np.any(np.asarray(wi) != 0.0)), (a, b, M, G, i)
    with pytest.raises(ValueError, match="segment index 3"):
        bw_segment(3, 0.0, 1.0, 0.5, 0.1)


def test_three_body_widths_under_lax_map_equal_the_unbatched_rule():
    """The q^2 integrals of the four channels in blocks that mix every case (pole below, inside and
    above each range; narrow and wide) equal the point-by-point values (to rounding: vectorised code)."""
    inp = hpjax.Inputs.default()
    ms = jnp.array([0.05, 0.2, 0.3, 0.36, 1.0, 3.0, 4.7, 4.9, 6.0, 20.0, 0.5, 2.0])
    ys = jnp.array([1.0, 1e-3, 0.3, 1.0, 1e-4, 1.0, 0.5, 1.0, 2.0, 1.0, 1e-2, 1.0])
    chans = ["B+->K+", "B0->K*0", "K+->pi+", "KL->pi0"]

    def one(m, y):
        mod = hpjax.SingletHiggsPortal(m_hD=m, sin_theta=3e-3, y_D=y, m_chi=0.01)
        return gamma_three_body_many(chans, mod, inp)

    blocked = jax.jit(lambda m, y: jax.lax.map(lambda a: one(*a), (m, y), batch_size=3))(ms, ys)
    single = np.stack([np.asarray(jax.jit(one)(m, y)) for m, y in zip(ms, ys)])
    np.testing.assert_allclose(np.asarray(blocked), single, rtol=1e-13, atol=0)


def test_inside_shard_map_with_the_varying_axes_check():
    """Both branches of the lax.cond have the type of the inputs' varying mesh axes (shard_map's
    default check_vma), whichever inputs fn uses; the benchmark's scan function is such a program."""
    from jax.sharding import Mesh, PartitionSpec

    mesh = Mesh(np.array(jax.devices()[:1]), ("points",))

    def chunk(x):
        return jax.lax.map(lambda v: skip_inactive(lambda u, c: jnp.cos(c) * 2.0, v > 0.5, v, 3.0), x, batch_size=4)

    run = jax.jit(jax.shard_map(chunk, mesh=mesh, in_specs=PartitionSpec("points"), out_specs=PartitionSpec("points")))
    np.testing.assert_array_equal(run(X), jnp.where(X > 0.5, jnp.cos(3.0) * 2.0, 0.0))


def test_value_and_grad_programs_skip_too_and_second_derivatives_work():
    calls = []

    def counted(x, c):
        jax.debug.callback(lambda v: calls.append(1), x)
        return f(x, c)

    def total(c):
        return jnp.sum(jax.lax.map(lambda v: skip_inactive(counted, v > 0.5, v, c), X, batch_size=4))

    v, g = jax.jit(jax.value_and_grad(total))(2.0)
    jax.block_until_ready(g)
    assert len(calls) == 8  # once per point of the two active blocks (value and gradient together), not 12
    ref = jax.value_and_grad(lambda c: jnp.sum(plain(X, c)))(2.0)
    assert float(v) == pytest.approx(float(ref[0]), rel=1e-14) and float(g) == pytest.approx(float(ref[1]), rel=1e-13)
    # Hessian (forward over reverse, through the gradient's own skip) against the plain form
    h = jax.hessian(lambda c: jnp.sum(jax.vmap(skipped, (0, None))(X, c)))(2.0)
    href = jax.hessian(lambda c: jnp.sum(plain(X, c)))(2.0)
    assert float(h) == pytest.approx(float(href), rel=1e-12)
    # per-point gradients of every argument (vmap of grad), against finite differences
    gx = jax.vmap(jax.grad(skipped))(X, jnp.full_like(X, 2.0))
    eps = 1e-6
    fd = (plain(X + eps, 2.0) - plain(X - eps, 2.0)) / (2 * eps)
    inner = np.abs(np.asarray(X) - 0.5) > 2 * eps
    np.testing.assert_allclose(np.asarray(gx)[inner], np.asarray(fd)[inner], rtol=1e-6, atol=1e-9)
