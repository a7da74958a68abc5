"""pyhf's own evaluation of Belle II's statistical model (JAX backend, float64) behind the
interface of the lean :class:`~hpjax.likelihood.belle2.statmodel.HistFactory` (``expected``,
``expected_and_jacobian``, ``logpdf``, ...): the reference the lean model is tested against and the
``backend="pyhf"`` of :class:`~hpjax.likelihood.belle2.term.Belle2Full`.

The signal factors (one per signal bin) enter as a ``shapefactor`` per signal channel
(``hpjax_np_<channel>``, :func:`augmented_spec`), the POI ``mu`` fixed to 1. pyhf's backend is
global state; every call runs inside :func:`jax_backend`, which switches to
``pyhf.set_backend("jax", precision="64b")`` only when needed and restores the previous one.

>>> from hpjax.likelihood.belle2.pyhf_backend import SF_PREFIX
>>> SF_PREFIX
'hpjax_np_'
"""

from __future__ import annotations

import contextlib
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np

from .spectrum import SIGNAL_CHANNELS, read_data

__all__ = ["jax_backend", "augmented_spec", "spec_and_maps", "pyhf_model", "PyhfStatModel", "SF_PREFIX"]

SF_PREFIX = "hpjax_np_"


@contextlib.contextmanager
def jax_backend():
    """Run pyhf on its JAX backend in float64; restore the previous backend afterwards."""
    import pyhf

    prev = pyhf.get_backend()
    switch = prev[0].name != "jax" or prev[0].precision != "64b"
    if switch:
        pyhf.set_backend("jax", precision="64b")
    try:
        yield pyhf
    finally:
        if switch:
            pyhf.set_backend(*prev)


@functools.cache
def spec_and_maps():
    """(published spec, {signal channel: number-density map}) read from the package data once."""
    spec = json.loads(read_data("combined_likelihood.json"))
    maps = {k: np.loadtxt(read_data(f).splitlines(), delimiter=",") for k, (_, _, f) in SIGNAL_CHANNELS.items()}
    return spec, maps


def augmented_spec(spec: dict) -> dict:
    """The published spec with one ``shapefactor`` per signal channel (``hpjax_np_<channel>``)
    on its signal sample: the per-bin factor that carries SM + new physics."""
    spec = json.loads(json.dumps(spec))
    for key, (chan, sample, _) in SIGNAL_CHANNELS.items():
        ch = next(c for c in spec["channels"] if c["name"] == chan)
        smp = next(s for s in ch["samples"] if s["name"] == sample)
        smp["modifiers"].append({"name": SF_PREFIX + key, "type": "shapefactor", "data": None})
    return spec


@functools.cache
def pyhf_model():
    """(augmented spec, pyhf Model, data) built once per process (~3 s)."""
    spec = augmented_spec(spec_and_maps()[0])
    with jax_backend() as pyhf:
        ws = pyhf.Workspace(spec)
        model = ws.model()
        data = np.asarray(ws.data(model), dtype=float)
    return spec, model, data


class PyhfStatModel:
    """pyhf's model with the lean interface: nuisances ``z`` in pyhf's parameter order (the POI
    and the shapefactors left out), ``signal`` the factors of the 18 signal bins."""

    def __init__(self):
        self.spec, self.model, data = pyhf_model()
        cfg = self.model.config
        self.data = jnp.asarray(data)
        self.n_main = cfg.nmaindata
        self.observed = np.asarray(data[: self.n_main])
        names, idx_nuis, idx_sf, sigma, init, lo, hi, order = [], [], {}, [], [], [], [], []
        suggested_init, bounds = cfg.suggested_init(), cfg.suggested_bounds()
        for par in cfg.par_order:
            sl = cfg.par_slice(par)
            ps = cfg.param_set(par)
            k = list(range(sl.start, sl.stop))
            order.append(par)
            if par == cfg.poi_name:
                self._mu_index = k[0]
            elif par.startswith(SF_PREFIX):
                idx_sf[par[len(SF_PREFIX) :]] = k
            else:
                if ps.pdf_type != "normal":
                    raise ValueError(f"unexpected constraint '{ps.pdf_type}' of {par}")
                sig = np.broadcast_to(np.asarray(getattr(ps, "sigmas", [1.0] * len(k)), dtype=float), (len(k),))
                names += [par] if len(k) == 1 else [f"{par}[{i}]" for i in range(len(k))]
                idx_nuis += k
                sigma += list(sig)
                init += [suggested_init[i] for i in k]
                lo += [bounds[i][0] for i in k]
                hi += [bounds[i][1] for i in k]
        self.par_order = [p for p in order if p != cfg.poi_name and not p.startswith(SF_PREFIX)]
        self.nuisance_names, self.n_nuisances = names, len(names)
        self.sigma, self.init = np.asarray(sigma), np.asarray(init, dtype=float)
        self.center = self.init.copy()  # auxdata: 0 (theta), 1 (gamma)
        self.bounds = (np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
        self.n_signal = sum(len(idx_sf[k]) for k in SIGNAL_CHANNELS)
        full = idx_nuis + [self._mu_index] + sum((idx_sf[k] for k in SIGNAL_CHANNELS), [])
        if sorted(full) != list(range(cfg.npars)):
            raise RuntimeError("belle2_full: pyhf parameter bookkeeping failed")
        self._gather = jnp.asarray(np.argsort(full))

    def pars(self, z, signal):
        """Full pyhf parameter vector (``mu`` = 1, shapefactors = ``signal``)."""
        v = jnp.concatenate([jnp.asarray(z, dtype=jnp.float64), jnp.ones(1), jnp.asarray(signal, dtype=jnp.float64)])
        return jnp.take(v, self._gather)

    def expected(self, z, signal):
        with jax_backend():
            return self.model.expected_actualdata(self.pars(z, signal))

    def expected_and_jacobian(self, z, signal):
        """(lambda, d lambda / d z, d lambda / d signal) by reverse mode (one pass per main bin)."""
        lam, vjp = jax.vjp(self.expected, z, signal)
        jz, js = jax.vmap(vjp)(jnp.eye(lam.shape[0]))
        return lam, jz, js

    def logpdf(self, z, signal, constraints: bool = True):
        with jax_backend():
            p = self.pars(z, signal)
            if constraints:
                return self.model.logpdf(p, self.data)[0]
            return jnp.reshape(self.model.main_model.logpdf(jnp.asarray(self.observed), p), ())

    def constraint_logpdf(self, z, signal=None):
        with jax_backend():
            s = jnp.ones(self.n_signal) if signal is None else signal
            return self.model.constraint_logpdf(self.data[self.n_main :], self.pars(z, s))
