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
``custom_jvp``. For a scalar ``fn`` of float arguments its rule evaluates ``fn``'s value and
gradient (``jax.value_and_grad``, in the perturbed arguments only: ``symbolic_zeros``) inside
the same skip and returns the tangent as the dot product of that gradient with the input tangents: linear in the tangents with known coefficients, so
reverse mode transposes it, and value-and-gradient programs skip inactive blocks too. Otherwise
(and for derivatives of the gradient: Hessians) the rule is the JVP of the plain
``jnp.where(active, fn(*args), 0)``. Values and derivatives equal those of the plain form to
rounding (tests/test_skip.py).

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
from jax.custom_derivatives import SymbolicZero

__all__ = ["skip_inactive"]


def _where(active, tree):
    """tree's leaves where ``active`` (broadcast from the left: batch axes first), 0 elsewhere."""

    def one(x):
        a = jnp.reshape(active, jnp.shape(active) + (1,) * (jnp.ndim(x) - jnp.ndim(active)))
        return jnp.where(a, x, jnp.zeros_like(x))

    return jax.tree_util.tree_map(one, tree)


def _masked(fn, active, args):
    return _where(active, fn(*args))


def _zero_of(dtype, tree):
    """A scalar 0 that depends (by selects that XLA removes) on every leaf of ``tree``: inside
    ``shard_map`` it is varying over the mesh axes of every input, so that both branches of the
    lax.cond have the same type whichever inputs ``fn`` uses (jax's varying-manual-axes check)."""
    zero = jnp.zeros((), dtype)
    for leaf in jax.tree_util.tree_leaves(tree):
        zero = jnp.where(True, zero, jnp.sum(jnp.asarray(leaf)).astype(dtype))
    return zero


class _Derived:
    """A function derived from ``fn`` for arguments of structure ``treedef`` and a flat tuple of
    per-leaf flags ``sel``; objects of one class are equal for equal (fn, treedef, sel), so that the
    shapes cache below and JAX's tracing caches see one function."""

    def __init__(self, fn, treedef, sel):
        self.fn, self.treedef, self.sel = fn, treedef, sel

    def _key(self):
        return (type(self), self.fn, self.treedef, self.sel)

    def __eq__(self, other):
        return isinstance(other, _Derived) and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())


class _Vmapped(_Derived):
    """``jax.vmap(fn)`` over the leaves of the arguments flagged in ``sel`` (True: batched)."""

    def __call__(self, *args):
        in_axes = jax.tree_util.tree_unflatten(self.treedef, [0 if b else None for b in self.sel])
        return jax.vmap(self.fn, in_axes=tuple(in_axes))(*args)


_SHAPES: dict = {}


def _abstract(args):
    return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(jnp.shape(x), jnp.result_type(x)), args)


def _out_shapes(fn, args):
    """``jax.eval_shape(fn, *args)`` without tracing ``fn`` again for each of its batchings and its
    value-and-gradient form (the rules below ask for the shapes of all of them while a program is
    traced, and tracing, not running, is what the first call of a gradient waits for): those
    shapes follow from the shapes of ``fn`` itself, which is traced once per argument shapes."""
    if isinstance(fn, _Vmapped):
        leaves, treedef = jax.tree_util.tree_flatten(args)
        size = next(jnp.shape(x)[0] for x, b in zip(leaves, fn.sel) if b)
        inner = [
            jax.ShapeDtypeStruct(jnp.shape(x)[1:] if b else jnp.shape(x), jnp.result_type(x))
            for x, b in zip(leaves, fn.sel)
        ]
        out = _out_shapes(fn.fn, jax.tree_util.tree_unflatten(treedef, inner))
        return jax.tree_util.tree_map(lambda o: jax.ShapeDtypeStruct((size,) + o.shape, o.dtype), out)
    if isinstance(fn, _ValueAndGrad):
        live_vals, dead_vals = args
        value = _out_shapes(fn.fn, fn.arguments(live_vals, dead_vals))
        return value, _abstract(tuple(live_vals))
    abstract = _abstract(args)
    leaves, treedef = jax.tree_util.tree_flatten(abstract)
    key = (fn, treedef, tuple((x.shape, x.dtype) for x in leaves))
    try:
        hash(key)
    except TypeError:  # an unhashable fn: no caching
        return jax.eval_shape(fn, *abstract)
    if key not in _SHAPES:
        if len(_SHAPES) > 4096:
            _SHAPES.clear()
        _SHAPES[key] = jax.eval_shape(fn, *abstract)
    return _SHAPES[key]


def _conditional(fn):
    """fn(*args) masked by ``active``, in a lax.cond on any(active); batched: the same for the
    vmapped fn, so that the cond stays outside every vmap. ``fn``'s output may be a pytree."""

    @custom_vmap
    def call(active, args):
        shapes = _out_shapes(fn, args)
        tm = jax.tree_util.tree_map
        zero = {}  # one zero per dtype, however many outputs
        for s in jax.tree_util.tree_leaves(shapes):
            if s.dtype not in zero:
                zero[s.dtype] = _zero_of(s.dtype, (active, args))
        return jax.lax.cond(
            jnp.any(active),
            lambda a: tm(lambda x: x + zero[x.dtype], _masked(fn, active, a)),
            lambda a: tm(lambda s: jnp.zeros(s.shape, s.dtype) + zero[s.dtype], shapes),
            args,
        )

    @call.def_vmap
    def rule(axis_size, in_batched, active, args):
        active_batched, args_batched = in_batched
        if not active_batched:
            active = jnp.broadcast_to(active, (axis_size,) + jnp.shape(active))
        flags, treedef = jax.tree_util.tree_flatten(args_batched)
        if not any(flags):  # only the mask is batched: one evaluation of fn, masked per batch member
            out = _conditional(fn)(jnp.any(active, axis=0), args)
            return _where(active, jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (axis_size,) + x.shape), out)), (
                jax.tree_util.tree_map(lambda _: True, out)
            )
        out = _conditional(_Vmapped(fn, treedef, tuple(bool(f) for f in flags)))(active, args)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    return call


class _ValueAndGrad(_Derived):
    """fn's value and its gradient in the perturbed leaves of its arguments (indices ``sel``), as a
    function of (perturbed leaves, other leaves)."""

    def arguments(self, live_vals, dead_vals):
        """fn's arguments from the perturbed and the other leaves."""
        leaves, it_live, it_dead = [], iter(live_vals), iter(dead_vals)
        for i in range(self.treedef.num_leaves):
            leaves.append(next(it_live) if i in self.sel else next(it_dead))
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def _call(self, live_vals, dead_vals):
        return self.fn(*self.arguments(live_vals, dead_vals))

    def __call__(self, live_vals, dead_vals):
        return jax.value_and_grad(self._call)(live_vals, dead_vals)


def _differentiable_by_gradient(fn, args) -> bool:
    """A scalar float output of float inputs: the derivative rule can use fn's gradient."""
    out = _out_shapes(fn, args)
    floats = all(jnp.issubdtype(jnp.result_type(x), jnp.floating) for x in jax.tree_util.tree_leaves(args))
    return isinstance(out, jax.ShapeDtypeStruct) and out.shape == () and floats


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _skip(fn, active, args):
    return _conditional(fn)(active, args)


def _is_zero(t):
    return isinstance(t, SymbolicZero)


def _skip_jvp(fn, primals, tangents):
    active, args = primals
    _, targs = tangents
    leaves, treedef = jax.tree_util.tree_flatten(args)
    tleaves = jax.tree_util.tree_leaves(targs, is_leaf=_is_zero)
    live = tuple(i for i, t in enumerate(tleaves) if not _is_zero(t))
    if not live:
        value = _skip(fn, active, args)
        return value, jnp.zeros_like(value)
    if not _differentiable_by_gradient(fn, args):
        dense = [jnp.zeros_like(x) if _is_zero(t) else t for x, t in zip(leaves, tleaves)]
        return jax.jvp(lambda a: _masked(fn, active, a), (args,), (jax.tree_util.tree_unflatten(treedef, dense),))
    # the value and its gradient in the perturbed inputs, both skipped for a block with no active
    # point; the tangent is linear in the input tangents with these (known) coefficients, so
    # reverse mode transposes it without differentiating through the lax.cond of the skip
    live_vals = tuple(leaves[i] for i in live)
    dead_vals = tuple(x for i, x in enumerate(leaves) if i not in live)
    value, grads = _skip(_ValueAndGrad(fn, treedef, live), active, (live_vals, dead_vals))
    return value, sum((jnp.sum(g * tleaves[i]) for g, i in zip(grads, live)), jnp.zeros_like(value))


_skip.defjvp(_skip_jvp, symbolic_zeros=True)


def skip_inactive(fn, active, *args):
    """``jnp.where(active, fn(*args), 0)``; under vmap, ``fn`` is skipped for a batch with no active
    point (see the module docstring). Derivatives are those of the ``jnp.where`` form; for a scalar
    ``fn`` of float inputs the first derivative is skipped with it (fn's gradient in the branch)."""
    return _skip(fn, jnp.asarray(active, dtype=bool), tuple(args))
