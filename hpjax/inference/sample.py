"""Posterior sampling of a likelihood with NUTS (numpyro), diagnostics and corner plots.

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
"""

from __future__ import annotations

import json
import math
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

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
#: thresholds of :attr:`SampleResult.ok`
R_HAT_MAX = 1.01
DIVERGENCE_FRACTION_MAX = 0.01
#: below this bulk/tail ESS per chain a warning (not a failure) is recorded
ESS_PER_CHAIN_WARN = 100
NUISANCE_Z = "nuisance_z"
LOGLIK_SITE = "log_likelihood"
_LOGLIK_DET = "_log_likelihood_total"


def _arviz():
    """arviz, imported without its FutureWarning about the coming 1.0 refactor (nothing hpjax can act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning)
        import arviz

    return arviz


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


# ---- the result -------------------------------------------------------------------------------
@dataclass
class SampleResult:
    """Posterior samples and diagnostics of :func:`sample`.

    ``idata`` has the groups posterior (sampled and deterministic sites), sample_stats
    (diverging, lp, energy, n_steps, tree_depth, acceptance_rate, step_size) and log_likelihood
    (``log_likelihood``: the total ln L per draw, chi2 convention, constraints excluded).
    ``ok`` is True iff max R-hat <= :data:`R_HAT_MAX` and the divergence fraction <=
    :data:`DIVERGENCE_FRACTION_MAX`; ``problems`` says what failed and by how much;
    ``warnings`` lists low effective sample sizes (they do not make ``ok`` False).
    ``names`` maps each physical parameter (``lik.parameters()``) to its posterior variable.
    """

    idata: object
    summary: object
    divergences: int
    divergence_fraction: float
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    ok: bool
    problems: list
    warnings: list
    names: dict
    priors: dict
    metadata: dict
    num_chains: int
    num_samples: int
    wall_time_s: float
    _flat: dict = field(default_factory=dict, repr=False)

    @property
    def samples(self) -> dict:
        """name -> all draws (chains concatenated) of each physical parameter, as numpy."""
        if not self._flat:
            post = self.idata.posterior
            self._flat.update({n: np.asarray(post[v]).reshape(-1) for n, v in self.names.items()})
        return self._flat

    @property
    def ess_per_second(self) -> float:
        """min bulk ESS / wall time of the run (compilation included)."""
        return self.min_ess_bulk / self.wall_time_s if self.wall_time_s > 0 else float("nan")

    def credible_intervals(self, prob: float = 0.68) -> dict:
        """Equal-tailed ``prob`` intervals of the physical parameters: name -> (lo, hi)."""
        if not 0.0 < prob < 1.0:
            raise ValueError(f"prob = {prob!r} is outside the allowed range (0, 1)")
        q = [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0]
        return {n: tuple(float(x) for x in np.quantile(v, q)) for n, v in self.samples.items()}

    def summary_text(self, show_z: bool = False, drop=()) -> str:
        """The summary table as text: values (mean, sd, HDI, MCSE) in scientific notation, ESS as
        integers, R-hat to 4 decimals. The whitened ``nuisance_z[...]`` variables are shown only
        with ``show_z`` (their physical values have rows of their own); ``drop``: rows left out.

        >>> import pandas as pd
        >>> t = pd.DataFrame({"mean": [4.0e-6, 0.1], "sd": [2.29e-7, 1.0], "r_hat": [1.0004, 1.0], "ess_bulk": [812.4, 900.0]},
        ...                  index=["BR_Bp_to_Kpnunu_SM", "nuisance_z[BR_Bp_to_Kpnunu_SM]"])
        >>> print(SampleResult.summary_text(type("R", (), {"summary": t})()))
                                mean        sd  r_hat ess_bulk
        BR_Bp_to_Kpnunu_SM 4.000e-06 2.290e-07 1.0004      812
        """
        t = self.summary
        rows = [r for r in t.index if r not in set(drop) and (show_z or not str(r).startswith(f"{NUISANCE_Z}["))]
        t = t.loc[rows]
        fmt = {
            c: (lambda x: f"{x:.0f}")
            if c.startswith("ess")
            else (lambda x: f"{x:.4f}")
            if c == "r_hat"
            else (lambda x: f"{x:.3e}")
            for c in t.columns
        }
        return t.to_string(formatters=fmt)

    def to_netcdf(self, path) -> Path:
        """Write the InferenceData (metadata in the root and posterior attrs) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.idata.to_netcdf(str(path))
        return path

    def __repr__(self):
        status = "ok" if self.ok else "NOT ok: " + "; ".join(self.problems)
        return (
            f"SampleResult({self.num_chains} chains x {self.num_samples} draws, max R-hat "
            f"{self.max_r_hat:.4f}, min ESS bulk {self.min_ess_bulk:.0f} / tail {self.min_ess_tail:.0f}, "
            f"{self.divergences} divergences; {status})"
        )


def _netcdf_attrs(meta: Mapping) -> dict:
    """NetCDF attributes: str, int and float kept, everything else as a JSON string."""
    out = {}
    for k, v in meta.items():
        if isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)):
            out[str(k)] = v
        else:
            out[str(k)] = json.dumps(v, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    return out


# ---- sampling ---------------------------------------------------------------------------------
def _site_names(lik, priors) -> tuple[dict, dict]:
    """Posterior variable of each physical parameter and the sampled site of each free one."""
    names, sampled, used = {}, {}, {NUISANCE_Z, LOGLIK_SITE, _LOGLIK_DET}

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
    chain_method : "auto" ("parallel" if ``jax.local_device_count() >= num_chains``, else
        "vectorized"), "parallel", "vectorized" or "sequential"
    metadata : dict kept in :attr:`SampleResult.metadata` and in the InferenceData attrs
    init_jitter : standard deviation of the per-chain jitter of the starting point, in the
        unconstrained space of each site
    dense_mass, max_tree_depth : passed to ``numpyro.infer.NUTS``
    segments : draw the samples in this many equal pieces after the warmup (one more XLA
        compilation: warmup and sampling are compiled apart). A Ctrl-C (``KeyboardInterrupt``)
        then raises :class:`SampleInterrupted` carrying the result of the pieces finished so far;
        with ``segments = 1`` (one compiled run) nothing is kept.
    """
    import numpyro
    import numpyro.distributions as dist
    from numpyro.distributions.transforms import biject_to
    from numpyro.infer import MCMC, NUTS, init_to_value

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
        mu_j, chol_j = jnp.asarray(mu), jnp.asarray(chol)

    loglik = jax.jit(lambda p: lik.log_likelihood(p, constraints=False))

    def physical(site_values):
        """physical parameters from sampled-site values (numpy or jax)."""
        p = {}
        for n in free:
            v = site_values[sampled[n]]
            p[n] = 10.0**v if priors[n].kind == "log_uniform" else v
        if n_nuis:
            x = mu_j + chol_j @ jnp.asarray(site_values[NUISANCE_Z])
            p.update({n: x[i] for i, n in enumerate(nuis)})
        return p

    def model():
        site_values = {}
        for n in free:
            lo, hi = priors[n].site_bounds
            site_values[sampled[n]] = numpyro.sample(sampled[n], dist.Uniform(lo, hi))
        if n_nuis:
            site_values[NUISANCE_Z] = numpyro.sample(NUISANCE_Z, dist.Normal(jnp.zeros(n_nuis), 1.0).to_event(1))
        params = physical(site_values)
        for n in free:
            if priors[n].kind == "log_uniform":
                numpyro.deterministic(names[n], params[n])
        for n in nuis:
            numpyro.deterministic(names[n], params[n])
        ll = loglik(params)
        numpyro.deterministic(_LOGLIK_DET, ll)
        numpyro.factor(LOGLIK_SITE, ll)

    # ---- starting points -----------------------------------------------------------------
    try:
        init_phys = dict(lik.initial_params())
    except Exception:  # noqa: BLE001 - the prior centre serves
        init_phys = {}
    centre = {}
    for n in free:
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
        centre[sampled[n]] = s
    if n_nuis:
        centre[NUISANCE_Z] = np.zeros(n_nuis)
    transforms = {sampled[n]: biject_to(dist.Uniform(*priors[n].site_bounds).support) for n in free}

    def ok_at(site_values) -> bool:
        # numpy float64 (never weak-typed): the same compiled function as inside the model
        site_values = {k: np.asarray(v, dtype=np.float64) for k, v in site_values.items()}
        return bool(np.isfinite(float(loglik(physical(site_values)))))

    if not ok_at(centre):
        # fall back to the prior centre for every free parameter
        for n in free:
            centre[sampled[n]] = 0.5 * sum(priors[n].site_bounds)
        if not ok_at(centre):
            shown = {n: float(v) for n, v in physical(centre).items()}
            raise ValueError(
                f"log-likelihood is not finite at the starting point {shown}; "
                f"check the priors {{{', '.join(f'{n}: {priors[n].describe()}' for n in free)}}}"
            )
    u_centre = {
        k: (np.asarray(transforms[k].inv(v)) if k in transforms else np.asarray(v, dtype=float))
        for k, v in centre.items()
    }
    rng = np.random.default_rng(seed)
    starts = []
    for _ in range(num_chains):
        scale = init_jitter
        for _attempt in range(6):
            u = {k: v + scale * rng.standard_normal(np.shape(v)) for k, v in u_centre.items()}
            site = {k: (np.asarray(transforms[k](v)) if k in transforms else v) for k, v in u.items()}
            if ok_at(site):
                break
            scale *= 0.5
        else:
            u = dict(u_centre)
        starts.append(u)
    if num_chains > 1:
        init_params = {k: jnp.asarray(np.stack([s[k] for s in starts])) for k in u_centre}
    else:
        init_params = {k: jnp.asarray(v) for k, v in starts[0].items()}

    # ---- run -----------------------------------------------------------------------------
    if chain_method == "auto":
        chain_method = "parallel" if jax.local_device_count() >= num_chains else "vectorized"
    kernel = NUTS(
        model,
        init_strategy=init_to_value(
            values={k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in centre.items()}
        ),
        target_accept_prob=target_accept,
        dense_mass=dense_mass,
        max_tree_depth=max_tree_depth,
    )
    # "vectorized" as one jit(vmap(...)) of numpyro's single-chain run (initialisation, warmup
    # and sampling): one XLA compilation instead of numpyro's eager vmap of the initialisation,
    # which compiles every primitive of the likelihood gradient separately. "parallel" (pmap)
    # is compiled as a whole by numpyro already.
    method = chain_method
    if chain_method == "vectorized" and num_chains > 1 and not progress_bar:
        method = _jit_vmap
    seg_len = -(-int(num_samples) // segments)  # equal pieces (one compilation), the excess trimmed
    mcmc = MCMC(
        kernel,
        num_warmup=int(num_warmup),
        num_samples=int(num_samples) if segments == 1 else seg_len,
        num_chains=int(num_chains),
        chain_method=method,
        progress_bar=progress_bar,
    )
    extra_fields = ("diverging", "energy", "num_steps", "accept_prob", "potential_energy", "adapt_state.step_size")
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
    )
    t0 = time.perf_counter()
    pieces = []

    def collect():
        pieces.append(
            (
                {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()},
                {k: np.asarray(v) for k, v in mcmc.get_extra_fields(group_by_chain=True).items()},
            )
        )

    def joined():
        samples = {k: np.concatenate([p[0][k] for p in pieces], axis=1)[:, :num_samples] for k in pieces[0][0]}
        stats = {k: np.concatenate([p[1][k] for p in pieces], axis=1)[:, :num_samples] for k in pieces[0][1]}
        return samples, stats

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*There are not enough devices.*")
        if segments == 1:
            mcmc.run(jax.random.PRNGKey(seed), init_params=init_params, extra_fields=extra_fields)
            collect()
        else:
            try:
                mcmc.warmup(
                    jax.random.PRNGKey(seed), init_params=init_params, extra_fields=extra_fields, collect_warmup=False
                )
                for _ in range(segments):
                    mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=extra_fields)
                    collect()
                    mcmc.post_warmup_state = mcmc.last_state
            except KeyboardInterrupt:
                done = min(len(pieces) * seg_len, int(num_samples))
                if not pieces:
                    raise SampleInterrupted(None, 0, int(num_samples)) from None
                samples, stats = joined()
                meta = dict(metadata or {})
                meta["interrupted"] = f"after {done} of {int(num_samples)} draws per chain"
                res = _result(
                    samples,
                    stats,
                    lik,
                    priors,
                    names,
                    sampled,
                    meta,
                    time.perf_counter() - t0,
                    {**settings, "num_samples_done": done},
                )
                raise SampleInterrupted(res, done, int(num_samples)) from None
    samples, stats = joined()
    wall = time.perf_counter() - t0
    return _result(samples, stats, lik, priors, names, sampled, dict(metadata or {}), wall, settings)


def _jit_vmap(fn):
    return jax.jit(jax.vmap(fn))


def _result(samples, stats, lik, priors, names, sampled, metadata, wall, settings) -> SampleResult:
    az = _arviz()

    num_chains, num_samples = samples[_LOGLIK_DET].shape[:2]
    ll = samples.pop(_LOGLIK_DET)
    nuis = tuple(lik.nuisances)
    coords, dims = {}, {}
    if nuis:
        coords["nuisance"] = [names[n] for n in nuis]
        dims[NUISANCE_Z] = ["nuisance"]
    n_steps = stats["num_steps"]
    sample_stats = {
        "diverging": stats["diverging"].astype(bool),
        "lp": -stats["potential_energy"],
        "energy": stats["energy"],
        "n_steps": n_steps,
        "tree_depth": np.floor(np.log2(np.maximum(n_steps, 1))).astype(int) + 1,
        "acceptance_rate": stats["accept_prob"],
        "step_size": stats["adapt_state.step_size"],
    }
    info = {
        "created_by": "hpjax.inference.sample",
        "sampler": "numpyro NUTS",
        "parameters": json.dumps({n: names[n] for n in list(lik.free) + list(nuis)}),
        "sampled_sites": json.dumps(sampled),
        "priors": json.dumps({n: [p.kind, p.low, p.high] for n, p in priors.items()}),
        "nuisances": json.dumps(list(nuis)),
        "settings": json.dumps(settings),
        "wall_time_s": float(wall),
    }
    try:
        import hpjax

        info["hpjax_version"] = hpjax.__version__
    except Exception:  # noqa: BLE001
        pass
    attrs = _netcdf_attrs({**info, **metadata})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = az.from_dict(
            posterior=samples,
            sample_stats=sample_stats,
            log_likelihood={"log_likelihood": ll},
            coords=coords,
            dims=dims,
        )
        idata.attrs = dict(attrs)
        idata.posterior.attrs.update(attrs)
        summary = az.summary(idata, var_names=list(samples), round_to="none")

    n_draws = num_chains * num_samples
    div = int(sample_stats["diverging"].sum())
    frac = div / n_draws
    r_hat = summary["r_hat"].to_numpy(dtype=float)
    max_r_hat = float(np.max(r_hat)) if np.all(np.isfinite(r_hat)) else float("nan")
    min_bulk = float(np.nanmin(summary["ess_bulk"].to_numpy(dtype=float)))
    min_tail = float(np.nanmin(summary["ess_tail"].to_numpy(dtype=float)))

    problems, warns = [], []
    if num_chains < 2:
        problems.append(
            f"R-hat needs at least 2 chains and this run has {num_chains}: it cannot show "
            f"convergence (run num_chains >= 2)"
        )
    elif not np.isfinite(max_r_hat):
        bad = list(summary.index[~np.isfinite(r_hat)])
        problems.append(f"R-hat could not be computed for {bad} (constant chains?)")
    elif max_r_hat > R_HAT_MAX:
        worst = summary["r_hat"].astype(float).idxmax()
        n_bad = int(np.sum(r_hat > R_HAT_MAX))
        problems.append(
            f"max R-hat = {max_r_hat:.3f} ({worst}) exceeds {R_HAT_MAX} by {max_r_hat - R_HAT_MAX:.3f}; "
            f"{n_bad} of {len(r_hat)} variables above the threshold: run longer chains"
        )
    if frac > DIVERGENCE_FRACTION_MAX:
        problems.append(
            f"{div} divergent transitions = {100 * frac:.2f} % of {n_draws} draws exceeds "
            f"{100 * DIVERGENCE_FRACTION_MAX:g} % (by {100 * (frac - DIVERGENCE_FRACTION_MAX):.2f} points): "
            f"raise target_accept or reparametrise"
        )
    want = ESS_PER_CHAIN_WARN * num_chains
    for label, val, col in (("bulk", min_bulk, "ess_bulk"), ("tail", min_tail, "ess_tail")):
        if not val >= want:
            worst = summary[col].astype(float).idxmin()
            warns.append(f"min ESS {label} = {val:.0f} ({worst}) is below {want} ({ESS_PER_CHAIN_WARN} per chain)")

    return SampleResult(
        idata=idata,
        summary=summary,
        divergences=div,
        divergence_fraction=frac,
        max_r_hat=max_r_hat,
        min_ess_bulk=min_bulk,
        min_ess_tail=min_tail,
        ok=not problems,
        problems=problems,
        warnings=warns,
        names=dict(names),
        priors=dict(priors),
        metadata=metadata,
        num_chains=int(num_chains),
        num_samples=int(num_samples),
        wall_time_s=float(wall),
    )


# ---- corner plot ------------------------------------------------------------------------------
def _corner_vars(result: SampleResult, var_names) -> list[str]:
    post = result.idata.posterior
    if var_names is None:
        inv = {}
        for n, v in result.names.items():
            p = result.priors.get(n)
            inv[n] = f"log10_{v}" if p is not None and p.kind == "log_uniform" and f"log10_{v}" in post else v
        return list(inv.values())
    out = []
    for v in var_names:
        v = result.names.get(v, v)
        if v not in post:
            raise ValueError(f"corner_plot: unknown variable '{v}'; valid: {sorted(post.data_vars)}")
        if post[v].ndim != 2:
            raise ValueError(
                f"corner_plot: '{v}' is not a scalar variable; valid: "
                f"{sorted(k for k in post.data_vars if post[k].ndim == 2)}"
            )
        out.append(v)
    return out


def _levels(h, probs=(0.95, 0.68)):
    """Density levels of a 2-D histogram enclosing ``probs`` of the mass (ascending levels)."""
    flat = np.sort(h.ravel())[::-1]
    cum = np.cumsum(flat)
    cum /= cum[-1]
    lev = [flat[min(np.searchsorted(cum, p), len(flat) - 1)] for p in probs]
    lev = np.unique(lev)
    return lev if len(lev) and lev[0] > 0 else None


def corner_plot(result: SampleResult, path, var_names=None, bins: int = 40, truths: Mapping | None = None):
    """Corner plot of the posterior: 1-D histograms with median and 68 % interval on the
    diagonal, 2-D 68/95 % contours with the draws below. ``var_names`` are posterior variables or
    parameter names (default: every physical parameter, log10 for log_uniform priors);
    ``truths`` (variable -> value) draws reference lines. Written with matplotlib (Agg); the
    format follows the extension of ``path`` (png, pdf, ...). Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = _corner_vars(result, var_names)
    post = result.idata.posterior
    data = [np.asarray(post[v]).reshape(-1) for v in names]
    truths = {result.names.get(k, k): v for k, v in (truths or {}).items()}
    n = len(names)
    size = max(2.4 * n, 5.0)
    fig = Figure(figsize=(size, size))
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, n, squeeze=False)
    ranges = []
    for x in data:
        lo, hi = np.quantile(x, [0.001, 0.999])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        pad = 0.05 * (hi - lo)
        ranges.append((lo - pad, hi + pad))
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                x = data[i]
                ax.hist(x, bins=bins, range=ranges[i], histtype="step", color="k", density=True)
                q = np.quantile(x, [0.16, 0.5, 0.84])
                for k, qq in enumerate(q):
                    ax.axvline(qq, color="C0", ls="-" if k == 1 else "--", lw=1)
                ax.set_yticks([])
                ax.set_title(f"{names[i]} = {q[1]:.3g}$_{{-{q[1] - q[0]:.2g}}}^{{+{q[2] - q[1]:.2g}}}$", fontsize=8)
                if names[i] in truths:
                    ax.axvline(truths[names[i]], color="C3", lw=1)
            else:
                x, y = data[j], data[i]
                ax.plot(x, y, ",", color="0.6", alpha=0.5, rasterized=True)
                h, xe, ye = np.histogram2d(x, y, bins=bins // 2, range=[ranges[j], ranges[i]])
                lev = _levels(h)
                if lev is not None and h.max() > 0:
                    xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
                    try:
                        ax.contour(xc, yc, h.T, levels=list(lev) + [h.max() * 1.0001], colors="C0", linewidths=1)
                    except ValueError:  # degenerate histogram
                        pass
                if names[j] in truths:
                    ax.axvline(truths[names[j]], color="C3", lw=1)
                if names[i] in truths:
                    ax.axhline(truths[names[i]], color="C3", lw=1)
                ax.set_ylim(ranges[i])
            ax.set_xlim(ranges[j])
            if i == n - 1:
                ax.set_xlabel(names[j], fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=8)
            elif j > 0:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=7)
    status = "ok" if result.ok else "NOT ok"
    fig.suptitle(
        f"{result.num_chains} chains x {result.num_samples} draws, max R-hat {result.max_r_hat:.3f}, "
        f"{result.divergences} divergences ({status})",
        fontsize=8,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
