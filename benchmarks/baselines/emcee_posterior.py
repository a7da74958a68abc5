"""Baseline (c): the singlet posterior of ``fits/singlet_posterior.toml`` sampled with emcee
(affine-invariant ensemble), on the per-point scipy likelihood of baseline (a). No JAX.

The posterior is the one ``hpjax sample fits/singlet_posterior.toml`` samples:

* m_hD and sin theta with the specification's priors (``log_uniform`` on the given ranges:
  uniform in log10 m_hD and log10 sin theta);
* the seven nuisances (the SM prediction of BR(B+ -> K+ nu nu) and the B -> K, K* form-factor
  coefficients) with the Gaussian constraints of ``hpjax.Likelihood.nuisance_prior()`` (the
  form-factor set's covariance, the larger SM error) as their prior;
* the likelihood: the specification's terms of the ``paper`` dataset, evaluated per point with
  ``scipy.integrate.quad`` (``PaperLikelihoodQuad``), the constraints not counted twice.

The walkers move in (log10 m_hD, log10 sin theta, nuisances) -- the space in which the priors are
flat or Gaussian, the same space (up to a linear map of the nuisances) in which hpjax's NUTS moves.
``make_pool(2)`` spreads each step's walkers over two processes.

>>> post = SingletPosteriorEmcee()
>>> theta = post.initial_point()
>>> bool(np.isfinite(post.log_prob(theta)))
True
"""

from __future__ import annotations

import math
import pathlib
import time
import tomllib

import numpy as np

from ._common import NUISANCES_POSTERIOR, TERMS_POSTERIOR, nuisance_prior
from .scipy_quad import PaperLikelihoodQuad

__all__ = ["SingletPosteriorEmcee", "SPEC", "run_emcee", "make_pool"]

#: the fit specification whose posterior this is
SPEC = pathlib.Path(__file__).resolve().parents[2] / "fits" / "singlet_posterior.toml"


def _read_spec(path=SPEC):
    spec = tomllib.loads(pathlib.Path(path).read_text())
    lk = spec["likelihood"]
    if tuple(lk["terms"]) != TERMS_POSTERIOR or tuple(lk["nuisances"]) != NUISANCES_POSTERIOR:
        raise ValueError(
            f"{path}: terms/nuisances changed ({lk['terms']}, {lk['nuisances']}); update "
            f"benchmarks/baselines/_common.py"
        )
    if lk.get("dataset", "paper") != "paper" or lk.get("formfactors", "table2") != "table2":
        raise ValueError(f"{path}: the baseline implements the paper dataset with table2 form factors")
    params = spec["model"]["parameters"]
    free = {}
    for name in ("m_hD", "sin_theta"):
        f = spec["free"][name]
        if f.get("prior", "log_uniform") != "log_uniform":
            raise ValueError(f"{path}: free.{name}: the baseline implements log_uniform priors")
        free[name] = tuple(float(v) for v in f["range"])
    return params, free


class SingletPosteriorEmcee:
    """log posterior density of the singlet posterior (constants dropped), in the walker space
    theta = (log10 m_hD, log10 sin_theta, *nuisances)."""

    def __init__(self, spec=SPEC, epsrel: float = 1.49e-8):
        params, free = _read_spec(spec)
        self.lik = PaperLikelihoodQuad(y_D=params["y_D"], m_chi=params["m_chi"], terms=TERMS_POSTERIOR, epsrel=epsrel)
        self.start = (float(params["m_hD"]), float(params["sin_theta"]))
        self.log_bounds = np.log10(np.array([free["m_hD"], free["sin_theta"]]))
        self.names = ("m_hD", "sin_theta") + NUISANCES_POSTERIOR
        self.mu, cov = nuisance_prior(NUISANCES_POSTERIOR)
        self.cov_inv = np.linalg.inv(cov)
        self.chol = np.linalg.cholesky(cov)
        self.ndim = 2 + len(NUISANCES_POSTERIOR)

    def log_prior(self, theta) -> float:
        lo, hi = self.log_bounds[:, 0], self.log_bounds[:, 1]
        if not np.all((theta[:2] > lo) & (theta[:2] < hi)):
            return -math.inf
        d = theta[2:] - self.mu
        return -0.5 * float(d @ self.cov_inv @ d)

    def log_likelihood(self, theta) -> float:
        nuis = dict(zip(NUISANCES_POSTERIOR, (float(v) for v in theta[2:])))
        return self.lik.log_likelihood(10.0 ** theta[0], 10.0 ** theta[1], nuis)

    def log_prob(self, theta) -> float:
        theta = np.asarray(theta, dtype=float)
        lp = self.log_prior(theta)
        if not np.isfinite(lp):
            return -math.inf
        ll = self.log_likelihood(theta)
        return lp + ll if np.isfinite(ll) else -math.inf

    def physical(self, theta):
        """(..., ndim) walker coordinates -> physical values (m_hD, sin_theta, nuisances)."""
        theta = np.asarray(theta, dtype=float)
        return np.concatenate([10.0 ** theta[..., :2], theta[..., 2:]], axis=-1)

    def initial_point(self):
        return np.concatenate([np.log10(self.start), self.mu])

    def initial_walkers(self, nwalkers: int, rng) -> np.ndarray:
        """Walkers around the specification's starting point: a small ball in log10 m, log10 s and
        0.1 sigma draws of the nuisance prior (as hpjax's per-chain jitter)."""
        out = []
        while len(out) < nwalkers:
            t = self.initial_point()
            t[:2] += 0.01 * rng.standard_normal(2)
            t[2:] += 0.1 * self.chol @ rng.standard_normal(self.ndim - 2)
            if np.isfinite(self.log_prob(t)):
                out.append(t)
        return np.array(out)


# one instance per (worker) process, so that a multiprocessing pool pickles nothing but theta
_POST: SingletPosteriorEmcee | None = None


def _init_worker():
    global _POST
    _POST = SingletPosteriorEmcee()


def _log_prob(theta):
    if _POST is None:
        _init_worker()
    return _POST.log_prob(theta)


def make_pool(processes: int):
    """A multiprocessing pool of ``processes`` workers, each holding its own posterior (None for 1).
    Spawned, not forked: the parent may be running JAX's threads."""
    if processes <= 1:
        return None
    import multiprocessing as mp

    pool = mp.get_context("spawn").Pool(processes, initializer=_init_worker)
    pool.map(_log_prob, [SingletPosteriorEmcee().initial_point()] * processes)  # workers ready
    return pool


def run_emcee(nwalkers: int = 32, nsteps: int = 300, burn: int | None = None, seed: int = 0, pool=None):
    """Run emcee; returns (chain of physical values (nwalkers, nsteps - burn, ndim) after burn-in,
    wall time [s] of the sampling, number of log_prob calls, acceptance fraction). ``pool`` (see
    :func:`make_pool`) spreads each step's walkers over processes."""
    import emcee

    burn = nsteps // 3 if burn is None else burn
    post = SingletPosteriorEmcee()
    rng = np.random.default_rng(seed)
    p0 = post.initial_walkers(nwalkers, rng)
    sampler = emcee.EnsembleSampler(nwalkers, post.ndim, _log_prob, pool=pool)
    sampler._random = np.random.RandomState(seed)  # reproducible moves
    t0 = time.perf_counter()
    sampler.run_mcmc(p0, nsteps, progress=False)
    wall = time.perf_counter() - t0
    chain = sampler.get_chain()[burn:]  # (steps, walkers, ndim)
    return (
        post.physical(np.swapaxes(chain, 0, 1)),
        wall,
        nwalkers * nsteps,
        float(np.mean(sampler.acceptance_fraction)),
    )
