"""Skip work that no point of a vmapped block needs.

``skip_inactive(fn, active, *args)`` is ``jnp.where(active, fn(*args), 0)``, with one difference
in the compiled program: under ``vmap`` (any number of nested ``vmap``s), ``fn`` runs inside one
``lax.cond`` on "any point of the batch is active", placed at the outermost batch level, so that a
block of points none of which needs ``fn`` does not evaluate it at all. A plain ``vmap``-ed
``jnp.where`` evaluates both sides for every point. The point is ``lax.map`` over vmapped blocks
(``hpjax.inference.scan`` on CPUs): a q^2 integral's segment that is empty for every point of a
block (a pole above the kinematic range needs one segment of three) costs nothing there.

How: ``jax.custom_batching.custom_vmap``, whose batching rule returns another ``custom_vmap``
function of the batched arguments, so the ``lax.cond`` moves out with every ``vmap`` and ends up
around the outermost one. ``custom_vmap`` has no transpose, so the function is wrapped in a
``custom_jvp`` whose rule is the JVP of ``jnp.where(active, fn(*args), 0)``: derivatives of every
order and mode are those of the plain form (no skipping in derivative programs), and the values
are the same to the last bit (tests/test_skip.py).

``fn`` must be a pure function of its arguments (no closed-over arrays that may be traced): pass
every array it needs in ``args``. ``active`` is a boolean array of the shape of ``fn``'s output
(a scalar for a scalar output).

>>> import jax, jax.numpy as jnp
>>> f = lambda x: jnp.sin(x) ** 2
>>> x = jnp.linspace(0.0, 1.0, 8)
>>> y = jax.vmap(lambda x: skip_inactive(f, x > 0.5, x))(x)
>>> bool(jnp.all(y == jnp.where(x > 0.5, f(x), 0.0)))
True
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

__all__ = ["skip_inactive"]


def _masked(fn, active, args):
    out = fn(*args)
    return jnp.where(active, out, jnp.zeros_like(out))


def _zero_of(dtype, tree):
    """A scalar 0 that depends (by selects that XLA removes) on every leaf of ``tree``: inside
    ``shard_map`` it is varying over the mesh axes of every input, so that both branches of the
    lax.cond have the same type whichever inputs ``fn`` uses (jax's varying-manual-axes check)."""
    zero = jnp.zeros((), dtype)
    for leaf in jax.tree_util.tree_leaves(tree):
        zero = jnp.where(True, zero, jnp.sum(jnp.asarray(leaf)).astype(dtype))
    return zero


def _conditional(fn):
    """fn(*args) masked by ``active``, in a lax.cond on any(active); batched: the same for the
    vmapped fn, so that the cond stays outside every vmap."""

    @custom_vmap
    def call(active, args):
        shape = jax.eval_shape(fn, *args)
        zero = _zero_of(shape.dtype, (active, args))
        return jax.lax.cond(
            jnp.any(active),
            lambda a: _masked(fn, active, a) + zero,
            lambda a: jnp.zeros(shape.shape, shape.dtype) + zero,
            args,
        )

    @call.def_vmap
    def rule(axis_size, in_batched, active, args):
        active_batched, args_batched = in_batched
        if not active_batched:
            active = jnp.broadcast_to(active, (axis_size,) + jnp.shape(active))
        in_axes = jax.tree_util.tree_map(lambda b: 0 if b else None, args_batched)
        return _conditional(jax.vmap(fn, in_axes=tuple(in_axes)))(active, args), True

    return call


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _skip(fn, active, args):
    return _conditional(fn)(active, args)


@_skip.defjvp
def _skip_jvp(fn, primals, tangents):
    active, args = primals
    _, targs = tangents
    return jax.jvp(lambda a: _masked(fn, active, a), (args,), (targs,))


def skip_inactive(fn, active, *args):
    """``jnp.where(active, fn(*args), 0)``; under vmap, ``fn`` is skipped for a batch with no active
    point (see the module docstring). Derivatives are those of the ``jnp.where`` form."""
    return _skip(fn, jnp.asarray(active, dtype=bool), tuple(args))
