"""Posterior sampling of a likelihood with NUTS (numpyro's kernel, compiled once).

Any object with the likelihood protocol of :class:`hpjax.Likelihood` can be sampled:
``parameters()``, ``free``, ``nuisances``, ``log_likelihood(params, constraints=True)``,
``nuisance_prior()`` and ``initial_params()``.

Usage (not a doctest: a run takes seconds)::

    import hpjax
    from hpjax.inference import sample, corner_plot, Prior

    model = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.0)
    lik = hpjax.Likelihood(model, terms=["belle2"], free=("sin_theta",),
                           nuisances=["BR(B+->K+nunu)_SM"])
    res = sample(lik, {"sin_theta": Prior("log_uniform", 1e-4, 1e-1)},
                 num_chains=2, num_samples=300, metadata={"run": "belle2 only"})
    res.ok, res.problems                 # R-hat <= 1.01 and <= 1 % divergences?
    res.summary                          # arviz summary: mean, sd, hdi, r_hat, ess_bulk, ess_tail
    res.credible_intervals(0.68)         # {"sin_theta": (lo, hi), "BR(B+->K+nunu)_SM": (lo, hi)}
    res.to_netcdf("posterior.nc")        # arviz InferenceData; metadata in its attrs
    corner_plot(res, "corner.png")

The numpyro model
-----------------
* a ``log_uniform`` prior on ``name`` is sampled as ``log10_<name>`` ~ Uniform(log10 low,
  log10 high), with the physical value the deterministic site ``<name>``; a ``uniform`` prior is
  sampled directly as ``<name>``;
* nuisances are a whitened multivariate normal: ``nuisance_z`` ~ Normal(0, 1) (one per nuisance),
  x = mean + L z with L the Cholesky factor of ``lik.nuisance_prior()``'s covariance, and one
  deterministic site per nuisance (the name made site-safe, e.g. ``BR(B+->K+nunu)_SM`` ->
  ``BR_Bp_to_Kpnunu_SM``; :attr:`SampleResult.names` maps parameter names to site names);
* ``numpyro.factor("log_likelihood", lik.log_likelihood(params, constraints=False))``: the
  nuisance constraints are the priors and are not counted twice.

Chains start at the likelihood's initial parameters (or the prior centre where those lie outside
the prior) with a small per-chain jitter in the unconstrained space, each start checked to have a
finite log-likelihood.

The sampler is compiled once per likelihood object and structure (:mod:`hpjax.inference.nuts`)
and reused by later calls with other seeds, chain counts or settings of the same shape; chains are
sharded over the devices (and processes). The result and its diagnostics:
:mod:`hpjax.inference.sample_result`; the corner plot: :mod:`hpjax.plotting.posterior`.
"""

from __future__ import annotations

import math
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import jax
import numpy as np

from ..plotting.posterior import corner_plot
from . import interrupt, nuts
from .sample_result import (
    DIVERGENCE_FRACTION_MAX,
    LOGLIK_DET,
    LOGLIK_SITE,
    NUISANCE_Z,
    R_HAT_MAX,
    SampleResult,
    arviz_quiet,
    build_result,
)

__all__ = [
    "sample",
    "SampleResult",
    "SampleInterrupted",
    "corner_plot",
    "PRIOR_KINDS",
    "Prior",
    "site_name",
    "R_HAT_MAX",
    "DIVERGENCE_FRACTION_MAX",
]

PRIOR_KINDS = ("log_uniform", "uniform")
CHAIN_METHODS = ("auto", "parallel", "vectorized", "sequential")
_arviz = arviz_quiet  # the name earlier versions (and their tests) import


class SampleInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`sample`. ``result``: a :class:`SampleResult` of the draws finished
    before the interruption (``segments > 1``), or None when none were (warmup, compilation);
    ``done`` of ``total`` draws per chain."""

    def __init__(self, result, done: int, total: int):
        super().__init__(f"{done} of {total} draws per chain finished")
        self.result, self.done, self.total = result, done, total


# ---- priors -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prior:
    """Prior of one free model parameter: ``kind`` in :data:`PRIOR_KINDS`, bounds ``low < high``
    (``low > 0`` for ``log_uniform``). Invalid values raise ``ValueError`` naming the field, the
    value and the allowed range."""

    kind: str
    low: float
    high: float

    def __post_init__(self):
        if self.kind not in PRIOR_KINDS:
            raise ValueError(f"Prior: kind = {self.kind!r} is not allowed; allowed kinds: {list(PRIOR_KINDS)}")
        for attr in ("low", "high"):
            v = getattr(self, attr)
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise ValueError(f"Prior: {attr} = {v!r} is not a real number") from None
            if not math.isfinite(fv):
                raise ValueError(f"Prior: {attr} = {fv!r} is outside the allowed range (-inf, inf): must be finite")
            object.__setattr__(self, attr, fv)
        if self.kind == "log_uniform" and self.low <= 0:
            raise ValueError(f"Prior: low = {self.low!r} is outside the allowed range (0, inf) of a log_uniform prior")
        if not self.low < self.high:
            raise ValueError(
                f"Prior: high = {self.high!r} is outside the allowed range ({self.low:g}, inf): "
                f"high must exceed low = {self.low!r}"
            )

    @classmethod
    def log_uniform(cls, low, high) -> Prior:
        return cls("log_uniform", low, high)

    @classmethod
    def uniform(cls, low, high) -> Prior:
        return cls("uniform", low, high)

    @property
    def site_bounds(self) -> tuple[float, float]:
        """Bounds of the sampled site (log10 of the bounds for log_uniform)."""
        if self.kind == "log_uniform":
            return math.log10(self.low), math.log10(self.high)
        return self.low, self.high

    def to_site(self, value):
        return np.log10(value) if self.kind == "log_uniform" else np.asarray(value, dtype=float)

    def describe(self) -> str:
        return f"{self.kind}({self.low:g}, {self.high:g})"


def _as_prior(name, p) -> Prior:
    if isinstance(p, Prior):
        return p
    if isinstance(p, Mapping):
        args = p
    elif isinstance(p, (tuple, list)) and len(p) == 3:
        args = dict(zip(("kind", "low", "high"), p))
    else:
        raise ValueError(f"prior of '{name}' must be a Prior or (kind, low, high); got {p!r}")
    try:
        return Prior(**args)
    except (TypeError, ValueError) as e:
        raise ValueError(f"prior of '{name}': {e}") from None


def site_name(name: str) -> str:
    """A numpyro/NetCDF-safe version of a parameter name: ``->`` becomes ``_to_``, ``+`` ``p``,
    ``-`` ``m``, other characters outside [A-Za-z0-9_] ``_`` (runs collapsed)."""
    s = name.replace("->", "_to_").replace("+", "p").replace("-", "m")
    s = re.sub(r"[^0-9A-Za-z_]", "_", s)
    s = re.sub(r"_+", "_", s).strip("_")
    if not s or s[0].isdigit():
        s = "p_" + s
    return s


# ---- sampling ---------------------------------------------------------------------------------
def _site_names(lik, priors) -> tuple[dict, dict]:
    """Posterior variable of each physical parameter and the sampled site of each free one."""
    names, sampled, used = {}, {}, {NUISANCE_Z, LOGLIK_SITE, LOGLIK_DET}

    def unique(s):
        base, i = s, 2
        while s in used:
            s, i = f"{base}_{i}", i + 1
        used.add(s)
        return s

    for n in lik.free:
        s = unique(site_name(n))
        names[n] = s
        sampled[n] = unique(f"log10_{s}") if priors[n].kind == "log_uniform" else s
    for n in lik.nuisances:
        names[n] = unique(site_name(n))
    return names, sampled


@interrupt.remembers_sigint
def sample(
    lik,
    priors: Mapping[str, Prior],
    num_warmup: int = 500,
    num_samples: int = 1000,
    num_chains: int = 4,
    seed: int = 0,
    chain_method: str = "auto",
    target_accept: float = 0.8,
    progress_bar: bool = False,
    metadata: Mapping | None = None,
    init_jitter: float = 0.1,
    dense_mass: bool = False,
    max_tree_depth: int = 10,
    segments: int = 1,
) -> SampleResult:
    """Sample the posterior of ``lik`` with NUTS.

    Parameters
    ----------
    lik : a likelihood (protocol of :class:`hpjax.Likelihood`)
    priors : {free model parameter: Prior}; every one of ``lik.free`` needs one. Nuisances take
        their Gaussian prior from ``lik.nuisance_prior()``.
    num_warmup, num_samples, num_chains, seed, target_accept, progress_bar : NUTS settings
    chain_method : accepted for compatibility ("auto", "parallel", "vectorized", "sequential"):
        the chains always run vectorised on each device, sharded over the largest number of
        devices (of every process) that divides ``num_chains``
    progress_bar : accepted for compatibility; the compiled loops show no progress bar
    metadata : dict kept in :attr:`SampleResult.metadata` and in the InferenceData attrs
    init_jitter : standard deviation of the per-chain jitter of the starting point, in the
        unconstrained space of each site
    dense_mass, max_tree_depth : settings of numpyro's NUTS kernel
    segments : draw the samples in this many equal pieces (the first after the warmup). A Ctrl-C
        (``KeyboardInterrupt``) then raises :class:`SampleInterrupted` carrying the result of the
        pieces finished so far; with ``segments = 1`` nothing is kept.

    Several processes (``jax.distributed``): call it in every process; each runs its share of
    the chains (``num_chains`` a multiple of the global device count) and every process returns
    the same result of all chains.
    """
    # ---- validate ------------------------------------------------------------------------
    for nm, v, lo in (("num_warmup", num_warmup, 0), ("num_samples", num_samples, 1), ("num_chains", num_chains, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"{nm} = {v!r} is outside the allowed range: an integer >= {lo}")
    if chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method = {chain_method!r} is not allowed; allowed: {list(CHAIN_METHODS)}")
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept = {target_accept!r} is outside the allowed range (0, 1)")
    if int(segments) != segments or not 1 <= segments <= num_samples:
        raise ValueError(f"segments = {segments!r} is outside the allowed range: an integer in [1, num_samples]")
    segments = int(segments)
    free, nuis = tuple(lik.free), tuple(lik.nuisances)
    missing = [p for p in free if p not in priors]
    if missing:
        raise ValueError(
            f"no prior for free parameter(s) {missing}; every free model parameter "
            f"{list(free)} needs one (e.g. Prior('log_uniform', low, high))"
        )
    extra = [p for p in priors if p not in free]
    if extra:
        raise ValueError(
            f"prior(s) given for {extra}, which are not free model parameters; free: {list(free)}"
            + (f" (nuisances {list(nuis)} take their prior from lik.nuisance_prior())" if nuis else "")
        )
    priors = {p: _as_prior(p, priors[p]) for p in free}
    names, sampled = _site_names(lik, priors)

    n_nuis = len(nuis)
    mu, chol = np.zeros(0), np.zeros((0, 0))
    if n_nuis:
        nnames, mu, cov = lik.nuisance_prior()
        if list(nnames) != list(nuis):
            raise ValueError(f"lik.nuisance_prior() names {list(nnames)} differ from lik.nuisances {list(nuis)}")
        mu, cov = np.asarray(mu, dtype=float), np.asarray(cov, dtype=float)
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"the nuisance covariance of {list(nuis)} is not positive definite "
                f"(eigenvalues {np.linalg.eigvalsh(cov).tolist()})"
            ) from None
    if jax.process_count() > 1 and num_chains % len(jax.devices()) != 0:
        raise ValueError(
            f"num_chains = {num_chains} is outside the allowed range in {jax.process_count()} processes: "
            f"a multiple of the {len(jax.devices())} devices"
        )
    layout = nuts.Layout(free, tuple(priors[n].kind == "log_uniform" for n in free), nuis)
    cn = nuts.compiled_nuts(lik, layout, target_accept, dense_mass, max_tree_depth, num_warmup, int(num_chains))
    bounds = np.array([priors[n].site_bounds for n in free], dtype=np.float64).reshape(-1, 2)
    data = {
        "lo": bounds[:, 0],
        "hi": bounds[:, 1],
        "mu": np.asarray(mu, np.float64),
        "chol": np.asarray(chol, np.float64),
    }

    # ---- starting points (unconstrained: logit of the position inside each prior interval) -----
    try:
        init_phys = dict(lik.initial_params())
    except Exception:  # noqa: BLE001 - the prior centre serves
        init_phys = {}
    x0 = np.empty(len(free))
    for i, n in enumerate(free):
        lo, hi = priors[n].site_bounds
        v = init_phys.get(n)
        s = (
            float(priors[n].to_site(float(v)))
            if v is not None and np.all(np.isfinite(np.asarray(v, float))) and priors[n].low < float(v) < priors[n].high
            else float("nan")
        )
        # keep away from the edges so that the unconstrained value is finite
        if not (lo + 1e-6 * (hi - lo) < s < hi - 1e-6 * (hi - lo)):
            s = 0.5 * (lo + hi)
        x0[i] = s

    def phys(x, z):
        return cn.physical(np.asarray(x, np.float64), np.asarray(z, np.float64), data)

    def ok_at(x, z) -> bool:
        return bool(np.isfinite(float(cn.loglik(phys(x, z)))))

    z0 = np.zeros(n_nuis)
    if not ok_at(x0, z0):
        x0 = bounds.mean(axis=1)  # fall back to the prior centre for every free parameter
        if not ok_at(x0, z0):
            shown = {n: float(v) for n, v in phys(x0, z0).items()}
            raise ValueError(
                f"log-likelihood is not finite at the starting point {shown}; "
                f"check the priors {{{', '.join(f'{n}: {priors[n].describe()}' for n in free)}}}"
            )
    width = bounds[:, 1] - bounds[:, 0]
    q0 = (x0 - bounds[:, 0]) / width
    u_centre = np.concatenate([np.log(q0) - np.log1p(-q0), z0])
    rng = np.random.default_rng(seed)
    starts = []
    nf = len(free)
    for _ in range(num_chains):
        scale = init_jitter
        for _attempt in range(6):
            u = u_centre + scale * rng.standard_normal(u_centre.shape)
            if ok_at(bounds[:, 0] + width / (1.0 + np.exp(-u[:nf])), u[nf:]):
                break
            scale *= 0.5
        else:
            u = u_centre.copy()
        starts.append(u)

    # ---- run -----------------------------------------------------------------------------
    settings = dict(
        num_warmup=int(num_warmup),
        num_samples=int(num_samples),
        num_chains=int(num_chains),
        seed=int(seed),
        chain_method=chain_method,
        target_accept=float(target_accept),
        init_jitter=float(init_jitter),
        dense_mass=bool(dense_mass),
        max_tree_depth=int(max_tree_depth),
        segments=segments,
        devices=len(cn.mesh.devices.flat),
        processes=jax.process_count(),
    )
    seg_len = -(-int(num_samples) // segments)  # equal pieces (one compilation), the excess trimmed
    keys = np.asarray(jax.random.split(jax.random.PRNGKey(seed), int(num_chains)))
    t0 = time.perf_counter()
    pieces = []

    def joined():
        out = {k: np.concatenate([p[k] for p in pieces], axis=1)[:, :num_samples] for k in pieces[0] if k != "params"}
        out["params"] = {
            n: np.concatenate([p["params"][n] for p in pieces], axis=1)[:, :num_samples] for n in pieces[0]["params"]
        }
        samples = {sampled[n]: out["x"][..., i] for i, n in enumerate(free)}
        for n, lg in zip(free, layout.log_uniform):
            if lg:
                samples[names[n]] = out["params"][n]
        if n_nuis:
            samples[NUISANCE_Z] = out["z"]
            samples.update({names[n]: out["params"][n] for n in nuis})
        samples[LOGLIK_DET] = out["ll"]
        return samples, {k: out[k] for k in nuts.STAT_FIELDS}

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*There are not enough devices.*")
        try:
            states, u0 = None, np.stack(starts)
            for k in range(segments):  # the warmup comes with the first piece (one compiled function)
                states, draws = cn.run(data, u0, keys, states, int(num_warmup) if k == 0 else 0, seg_len)
                pieces.append(cn.fetch(draws))
                interrupt.check()  # a Ctrl-C that JAX's tracing swallowed (see hpjax.inference.interrupt)
        except KeyboardInterrupt:
            settings["devices"] = len(cn.mesh.devices.flat)  # one per process if the program calls LAPACK
            done = min(len(pieces) * seg_len, int(num_samples))
            if not pieces:
                raise SampleInterrupted(None, 0, int(num_samples)) from None
            samples, stats = joined()
            meta = dict(metadata or {})
            meta["interrupted"] = f"after {done} of {int(num_samples)} draws per chain"
            wall = time.perf_counter() - t0
            res = build_result(
                samples, stats, lik, priors, names, sampled, meta, wall, {**settings, "num_samples_done": done}
            )
            raise SampleInterrupted(res, done, int(num_samples)) from None
    settings["devices"] = len(cn.mesh.devices.flat)  # one per process if the program calls LAPACK
    samples, stats = joined()
    wall = time.perf_counter() - t0
    return build_result(samples, stats, lik, priors, names, sampled, dict(metadata or {}), wall, settings)
