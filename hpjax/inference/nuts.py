"""NUTS compiled once: numpyro's NUTS kernel (``numpyro.infer.hmc.hmc``, algo "NUTS") in one jitted
function (warmup steps, then collected draws), built once per likelihood object and sampler structure and
reused by every :func:`hpjax.inference.sample` call with it: seeds, starting points, chain counts
and prior bounds are arguments, not constants (a new chain count is a new shape: one more
compilation of the same trace).

The unconstrained vector ``u`` of one chain is ``(u_free..., z...)``: each free parameter's site
(``log10`` of the value for a log-uniform prior, the value for a uniform one) is
``lo + (hi - lo) sigmoid(u)`` (numpyro's ``biject_to`` of the interval, with its Jacobian), the
nuisances are whitened, ``x = mu + L z`` with ``z ~ Normal(0, 1)``. The potential is
``-(ln L(params, constraints=False) + ln prior + ln |J|)``, as numpyro builds it from the model of
earlier hpjax versions.

Chains run under ``shard_map`` over a 1-D mesh of the devices (every process's devices after
``jax.distributed.initialize``): each device runs its share of the chains with its own tree
building (no device waits for another's longest trajectory), and the draws are gathered to every
process at the end.
"""

from __future__ import annotations

import inspect
import sys
import weakref
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import distributed as dist

__all__ = ["Layout", "CompiledNUTS", "compiled_nuts", "run_stage", "STAT_FIELDS"]

#: per-draw sampler statistics kept (HMCState fields; step_size from its adapt_state)
STAT_FIELDS = ("diverging", "energy", "num_steps", "accept_prob", "potential_energy", "adapt_state.step_size")

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STRONG: dict = {}  # likelihoods that take no weak reference: keyed by id, kept alive


@dataclass(frozen=True)
class Layout:
    """The sampler's structure: free parameters with their prior kind, nuisances."""

    free: tuple
    log_uniform: tuple  # per free parameter: True for log_uniform
    nuisances: tuple

    @property
    def dim(self) -> int:
        return len(self.free) + len(self.nuisances)


def run_stage(fn, *args):
    """Run one compiled stage (warmup, or a piece of draws) to completion. Every stage of
    :func:`hpjax.inference.sample` goes through here (one place to observe or interrupt them)."""
    out = fn(*args)
    jax.block_until_ready(out)
    return out


def _quadratic(u, data):
    """A potential of the likelihood's signature (float64 scalar of u): for the state's shapes."""
    return 0.5 * jnp.sum(u * u)


def _shard_map():
    sm = getattr(jax, "shard_map", None)
    if sm is None:  # older jax
        from jax.experimental.shard_map import shard_map as sm
    params = inspect.signature(sm).parameters
    check = {"check_vma": False} if "check_vma" in params else {"check_rep": False}
    return sm, check


class CompiledNUTS:
    """Warmup and draw functions of one likelihood and structure (see the module docstring).
    ``data``: {"lo", "hi"} site bounds of the free parameters, {"mu", "chol"} of the nuisances."""

    def __init__(self, lik, layout: Layout, target_accept, dense_mass, max_tree_depth, num_warmup, n_devices):
        self.lik, self.layout = lik, layout
        self.settings = dict(
            target_accept_prob=float(target_accept),
            dense_mass=bool(dense_mass),
            max_tree_depth=int(max_tree_depth),
        )
        self.num_warmup = int(num_warmup)
        from jax.sharding import Mesh

        self.mesh = Mesh(np.array(jax.devices()[:n_devices]), ("chains",))
        self.loglik = jax.jit(lambda p: lik.log_likelihood(p, constraints=False))
        self._runs = {}
        self._state_shapes = None

    # ---- the model -----------------------------------------------------------------------------
    def sites(self, u, data):
        """(site values of the free parameters, z, ln prior + ln |J|) of one unconstrained vector."""
        import numpyro.distributions as nd
        from numpyro.distributions.transforms import biject_to

        nf = len(self.layout.free)
        lo, hi = data["lo"], data["hi"]
        t = biject_to(nd.constraints.interval(lo, hi))
        x = t(u[:nf])
        logp = jnp.sum(nd.Uniform(lo, hi).log_prob(x)) + jnp.sum(t.log_abs_det_jacobian(u[:nf], x))
        z = u[nf:]
        if self.layout.nuisances:
            logp = logp + jnp.sum(nd.Normal(0.0, 1.0).log_prob(z))
        return x, z, logp

    def physical(self, x, z, data) -> dict:
        """Physical parameters (name -> value) from free-site values ``x`` and whitened ``z``."""
        p = {}
        for i, (n, lg) in enumerate(zip(self.layout.free, self.layout.log_uniform)):
            p[n] = 10.0 ** x[i] if lg else x[i]
        if self.layout.nuisances:
            v = data["mu"] + data["chol"] @ z
            p.update({n: v[i] for i, n in enumerate(self.layout.nuisances)})
        return p

    def potential(self, u, data):
        x, z, logp = self.sites(u, data)
        return -(self.loglik(self.physical(x, z, data)) + logp)

    # ---- one chain -------------------------------------------------------------------------------
    def _kernel(self, data, u, key, potential=None):
        from numpyro.infer.hmc import hmc

        potential = self.potential if potential is None else potential
        init_kernel, sample_kernel = hmc(potential_fn=partial(potential, data=data), algo="NUTS")
        state = init_kernel(u, self.num_warmup, trajectory_length=None, rng_key=key, **self.settings)
        return state, sample_kernel

    def _chain(self, data, u0, key, state, fresh, n_warm, n):
        """``n_warm`` steps (the warmup, or none), then ``n`` collected draws of one chain, from
        ``state`` or (``fresh``) from a new state at ``u0``. One function for the warmup and every
        piece of draws: the NUTS code is compiled once."""
        init_state, step = self._kernel(data, u0, key)
        state = jax.tree.map(lambda a, b: jnp.where(fresh, a, b), init_state, state)
        state = jax.lax.fori_loop(0, n_warm, lambda i, s: step(s), state)

        def one(s, _):
            s = step(s)
            stats = {f: s.adapt_state.step_size if f == "adapt_state.step_size" else getattr(s, f) for f in STAT_FIELDS}
            x, z, _ = self.sites(s.z, data)
            p = self.physical(x, z, data)
            return s, {"x": x, "z": z, "params": p, "ll": self.loglik(p), **stats}

        return jax.lax.scan(one, state, None, length=n)

    # ---- all chains ------------------------------------------------------------------------------
    def _jitted(self, n, per_device: int):
        from jax.sharding import PartitionSpec as P

        sm, check = _shard_map()
        if per_device == 1:
            # one chain a device: no vmap. Batching the likelihood's value and gradient is more than
            # half of the program's tracing (singlet posterior: 9.0 -> 3.9-4.2 s)

            def batched(data, u0, key, state, fresh, n_warm):
                first = partial(jax.tree.map, lambda a: a[0])
                out = self._chain(data, u0[0], key[0], first(state), fresh, n_warm, n=n)
                return jax.tree.map(lambda a: a[None], out)
        else:
            batched = jax.vmap(partial(self._chain, n=n), in_axes=(None, 0, 0, 0, None, None))
        specs = (P(), P("chains"), P("chains"), P("chains"), P(), P())
        return jax.jit(sm(batched, mesh=self.mesh, in_specs=specs, out_specs=P("chains"), **check))

    def _put(self, x, spec):
        from jax.sharding import NamedSharding, PartitionSpec

        sharding = NamedSharding(self.mesh, PartitionSpec(*spec))
        return jax.tree.map(lambda a: dist.global_array(np.asarray(a), sharding), x)

    def _args(self, data, u0, keys, states, n_warm):
        fresh = states is None
        if fresh:  # a placeholder of the state's structure (replaced inside by the new state)
            if self._state_shapes is None:
                # the state's structure and shapes do not depend on the potential: a quadratic one
                # gives them without tracing the likelihood (a mismatch would fail the jnp.where
                # of _chain at tracing)
                self._state_shapes = jax.eval_shape(
                    lambda d, u, k: self._kernel(d, u, k, potential=_quadratic)[0], data, u0[0], keys[0]
                )
            states = jax.tree.map(lambda a: np.zeros((u0.shape[0],) + a.shape, a.dtype), self._state_shapes)
            states = self._put(states, ("chains",))
        return (
            self._put(data, ()),
            self._put(u0, ("chains",)),
            self._put(keys, ("chains",)),
            states,
            self._put(np.asarray(fresh), ()),
            self._put(np.asarray(int(n_warm), np.int32), ()),
        )

    def _lower(self, n, args):
        """The program of ``n`` draws lowered for ``args`` on the current mesh (chains a device
        from the chains' axis of the starting points, ``args[1]``)."""
        return self._jitted(n, args[1].shape[0] // self.mesh.devices.size).lower(*args)

    def run(self, data, u0, keys, states, n_warm: int, n: int):
        """(states, draws): ``n_warm`` warmup steps then ``n`` draws of every chain, from ``states``
        (None: new chains at ``u0`` (chains, dim) with ``keys`` (chains, 2)). Draws have chain x
        draw leading axes; states stay on the devices for the next piece.

        A program with LAPACK calls (a dense mass matrix's Cholesky, a profiled belle2_full term)
        runs on one CPU device per process: batched LAPACK kernels of jaxlib split their batch over XLA's
        intra-op thread pool, whose threads (one per core) are the ones running the devices'
        programs, and wait for it, so two CPU devices deadlock (docs/belle2-fits.md)."""
        n = int(n)
        args = self._args(data, u0, keys, states, n_warm)
        key = (n, len(u0))  # a new chain count is a new shape: one more compilation
        if key not in self._runs:
            lowered = self._lower(n, args)
            one = dist.one_device_per_process(self.mesh.devices.flat)
            if len(one) < self.mesh.devices.size and dist.calls_lapack_on_cpu(lowered, self.mesh):
                from jax.sharding import Mesh

                print(
                    f"sample: the NUTS program of {self.lik} calls LAPACK; on CPU it runs on one device "
                    f"per process ({len(one)}, not {self.mesh.devices.size})",
                    file=sys.stderr,
                    flush=True,
                )
                self.mesh = Mesh(np.array(one), ("chains",))
                args = self._args(data, u0, keys, states, n_warm)
                lowered = self._lower(n, args)
            self._runs[key] = lowered.compile()
        return run_stage(self._runs[key], *args)

    @staticmethod
    def fetch(tree) -> dict:
        """numpy copies of (sharded) outputs, every chain on every process."""
        if dist.process_count() > 1:
            from jax.experimental import multihost_utils

            return jax.tree.map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))
        return jax.tree.map(np.asarray, tree)


def compiled_nuts(lik, layout, target_accept, dense_mass, max_tree_depth, num_warmup, num_chains) -> CompiledNUTS:
    """The cached :class:`CompiledNUTS` of ``lik`` and this structure; chains are spread over the
    largest number of devices that divides ``num_chains``."""
    n_dev = max(d for d in range(1, len(jax.devices()) + 1) if num_chains % d == 0)
    key = (layout, float(target_accept), bool(dense_mass), int(max_tree_depth), int(num_warmup), n_dev)
    try:
        per_lik = _CACHE.setdefault(lik, {})
    except TypeError:  # no weak references to this object
        per_lik = _STRONG.setdefault(id(lik), ({}, lik))[0]
    if key not in per_lik:
        per_lik[key] = CompiledNUTS(lik, layout, target_accept, dense_mass, max_tree_depth, num_warmup, n_dev)
    return per_lik[key]
