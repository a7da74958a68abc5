r"""Adapters: likelihoods as the :class:`~hpjax.inference.hypotest.ProfiledLikelihood` of the
hypothesis tests need them (profile at fixed POI, global fit, Asimov data, toys).

* :func:`uncorrelated_background`: pyhf's ``simplemodels.uncorrelated_background`` in jnp, the
  profile over the background scales in closed form;
* :func:`histfactory_likelihood`: any HistFactory workspace the lean
  :class:`hpjax.likelihood.belle2.statmodel.HistFactory` evaluates (default Belle II's published
  model), profiles and fits by bound-projected Gauss-Newton with the structured Newton system; the
  signal factors ``offset + mu * slope`` put any new-physics yield on top of the SM signal;
* :func:`poi_likelihood`: any :class:`hpjax.Likelihood` (all terms of a dataset) with a model
  parameter as POI (sin^2 theta for the singlet), its nuisances profiled, the Asimov data set
  from the terms' ``asimov`` methods.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlogy

from .hypotest import ProfiledLikelihood

__all__ = [
    "uncorrelated_background",
    "histfactory_likelihood",
    "invisible_x_likelihood",
    "invisible_x_q0_curve",
    "poi_likelihood",
]


def uncorrelated_background(signal, bkg, bkg_uncertainty, observed, aux=None, bounds=(0.0, 10.0)) -> ProfiledLikelihood:
    r"""pyhf's ``simplemodels.uncorrelated_background`` in jnp: n_i ~ Poisson(mu s_i + gamma_i b_i),
    a_i ~ Poisson(tau_i gamma_i) (pyhf's continuous Poisson, tau_i = (b_i / db_i)^2, aux data a_i =
    tau_i at nominal). ``data = (n, a)``. The profile over each gamma_i is the positive root of
    (b + tau) b g^2 - [(n + a) b - (b + tau) mu s] g - a mu s = 0 (exact; gradients through it).

    >>> lik = uncorrelated_background([12.0, 11.0], [50.0, 52.0], [3.0, 7.0], [51.0, 48.0])
    >>> lik.data[1].shape
    (2,)
    """
    s, b, db = (jnp.asarray(x, dtype=jnp.float64) for x in (signal, bkg, bkg_uncertainty))
    tau = (b / db) ** 2
    data = (jnp.asarray(observed, dtype=jnp.float64), tau if aux is None else jnp.asarray(aux, dtype=jnp.float64))

    def logpdf(mu, g, d):
        n, a = d
        lam = mu * s + g * b
        return jnp.sum(xlogy(n, lam) - lam - gammaln(n + 1.0)) + jnp.sum(xlogy(a, tau * g) - tau * g - gammaln(a + 1.0))

    def gamma_hat(mu, d):
        n, a = d
        ms = mu * s
        B = (n + a) * b - (b + tau) * ms
        disc = jnp.maximum(B * B + 4.0 * (b + tau) * b * a * ms, 0.0)
        return jnp.maximum((B + jnp.sqrt(disc)) / (2.0 * (b + tau) * b), 1e-10)

    def profile(mu, d):
        g = gamma_hat(mu, d)
        return logpdf(mu, g, d), g

    def fit(d):
        f = lambda m: profile(m, d)[0]  # noqa: E731
        mu = _newton_1d(f, *bounds)
        lnl, g = profile(mu, d)
        return lnl, mu, g

    def expected(mu, g):
        return (mu * s + g * b, tau * g)

    def sample(key, mu, g):
        k1, k2 = jax.random.split(key)
        return (
            jax.random.poisson(k1, mu * s + g * b).astype(jnp.float64),
            jax.random.poisson(k2, tau * g).astype(jnp.float64),
        )

    return ProfiledLikelihood(
        profile=profile, data=data, bounds=tuple(float(x) for x in bounds), fit_fn=fit, expected=expected, sample=sample
    )


def _newton_1d(f, lo, hi, iters: int = 30):
    """Maximum of a smooth concave f on [lo, hi] by Newton steps with exact second derivatives,
    kept inside a shrinking bracket (bisection when Newton leaves it)."""
    g, h = jax.grad(f), jax.grad(jax.grad(f))
    lo, hi = jnp.asarray(lo, dtype=jnp.float64), jnp.asarray(hi, dtype=jnp.float64)
    glo, ghi = g(lo), g(hi)

    def body(_, c):
        a, b, x = c
        gx, hx = g(x), h(x)
        a, b = jnp.where(gx > 0, x, a), jnp.where(gx > 0, b, x)
        xn = x - gx / jnp.where(hx < 0, hx, -1.0)
        xn = jnp.where((xn > a) & (xn < b) & (hx < 0), xn, 0.5 * (a + b))
        return a, b, xn

    _, _, x = jax.lax.fori_loop(0, iters, body, (lo, hi, 0.5 * (lo + hi)))
    return jnp.where(glo <= 0, lo, jnp.where(ghi >= 0, hi, x))


def histfactory_likelihood(
    spec: dict | None = None,
    steps: int = 12,
    bounds=(0.0, 10.0),
    par_order=None,
    start=None,
    offset=None,
    slope=None,
    poi: str | None = None,
    poi_start=1.0,
) -> ProfiledLikelihood:
    r"""A HistFactory workspace (default Belle II's published model,
    ``hpjax/data/belle2_knunu/combined_likelihood.json``) through the lean
    :class:`~hpjax.likelihood.belle2.statmodel.HistFactory` evaluator: POI = the workspace's POI
    normfactor, ``data = (main counts, aux data)`` (Gaussian constraints; aux = nuisance centres at
    nominal), profiles and fits by ``steps`` bound-projected Gauss-Newton steps
    (:func:`hpjax.numerics.poisson_gauss_newton`) from ``start`` (default: for Belle II the shipped
    published fit, else the nominal nuisances; may be traced) and ``poi_start``; toys: Poisson main counts, aux ~ N(nuisances, sigma).
    The signal factors of the POI's samples are ``offset + mu * slope`` (per signal slot; default 0
    and 1: the workspace's own POI); e.g. a new-physics yield y_i on top of the SM signal s_i is
    offset = 1, slope = y_i / s_i.
    """
    from ..likelihood.belle2.statmodel import HistFactory
    from ..numerics.gauss_newton import poisson_gauss_newton

    if spec is None:
        from ..likelihood.belle2.pyhf_backend import spec_and_maps
        from ..likelihood.belle2.term import Belle2Full

        b2 = Belle2Full()
        hf, spec = b2.stat, spec_and_maps()[0]
        z_start = np.asarray(b2.default_start()) if start is None else start
    else:
        hf = HistFactory(spec, par_order)
        z_start = np.asarray(hf.init) if start is None else start
    nn, ns = hf.n_nuisances, hf.n_signal
    sigma, curv0 = jnp.asarray(hf.sigma), jnp.asarray(1.0 / np.asarray(hf.sigma) ** 2)
    lo0, hi0 = (jnp.asarray(x, dtype=jnp.float64) for x in hf.bounds)
    single = getattr(hf, "single_row", None)
    data0 = (jnp.asarray(hf.observed), jnp.asarray(hf.center, dtype=jnp.float64))
    off = jnp.zeros(ns) if offset is None else jnp.asarray(offset, dtype=jnp.float64) * jnp.ones(ns)
    slo = jnp.ones(ns) if slope is None else jnp.asarray(slope, dtype=jnp.float64) * jnp.ones(ns)

    def fac(mu):
        return off + mu * slo

    def logpdf(mu, z, d):
        n, a = d
        return hf.main_logpdf(hf.expected(z, fac(mu)), n) + hf.constraint_logpdf(z, a)

    def solve(z0, mu_of, d, k):
        n, a = d
        curv = jnp.concatenate([curv0, jnp.zeros(k)])
        lo = jnp.concatenate([lo0, jnp.full(k, bounds[0])])
        hi = jnp.concatenate([hi0, jnp.full(k, bounds[1])])

        def model(z):
            mu = mu_of(z)
            lam, jz, js = hf.expected_and_jacobian(z[:nn], fac(mu))
            if k:
                jz = jnp.concatenate([jz, (js @ slo)[:, None]], axis=1)
            g = jz.T @ (n / lam - 1.0)
            return lam, jz, g.at[:nn].add((a - z[:nn]) * curv0)

        return poisson_gauss_newton(
            z0, model, lambda z: logpdf(mu_of(z), z[:nn], d), n, curv, lo, hi, steps, n_tail=k, single_row=single
        )[0]

    def profile(mu, d):
        m = jax.lax.stop_gradient(jnp.asarray(mu, dtype=jnp.float64))
        z = jax.lax.stop_gradient(solve(jnp.asarray(z_start), lambda z: m, d, 0))
        return logpdf(mu, z, d), z  # envelope-theorem gradient in mu

    def fit(d):
        z0 = jnp.concatenate([jnp.asarray(z_start), jnp.atleast_1d(jnp.asarray(poi_start, dtype=jnp.float64))])
        z = solve(z0, lambda z: z[-1], d, 1)
        return logpdf(z[-1], z[:nn], d), z[-1], z[:nn]

    def expected(mu, z):
        return (hf.expected(z, fac(mu)), jnp.asarray(z))

    def sample(key, mu, z):
        k1, k2 = jax.random.split(key)
        lam = hf.expected(z, fac(mu))
        return (jax.random.poisson(k1, lam).astype(jnp.float64), z + sigma * jax.random.normal(k2, (nn,)))

    poi = spec["measurements"][0]["config"]["poi"] if poi is None else poi
    return ProfiledLikelihood(
        profile=profile,
        data=data0,
        poi=poi,
        bounds=tuple(float(x) for x in bounds),
        fit_fn=fit,
        expected=expected,
        sample=sample,
    )


def invisible_x_likelihood(
    m_X,
    width=0.0,
    *,
    smoothing: int = 2,
    mu_sm=1.0,
    unit: float = 1e-6,
    steps: int = 12,
    bounds=(0.0, 60.0),
    start=None,
    poi_start=1.0,
) -> ProfiledLikelihood:
    r"""Belle II's full likelihood for an invisible X of mass ``m_X`` and relative width ``width``
    (:class:`hpjax.InvisibleX`; spectrum :func:`hpjax.likelihood.belle2.spectrum.resonance_spectrum`
    with ``smoothing``) on top of the SM signal at strength ``mu_sm`` (1: Belle II's SM template
    as published, BR = 4.966e-6): POI ``"br"`` = BR(B+ -> K+ X) P_inv in units of ``unit``
    (default 1e-6) within ``bounds``, the 231 nuisances profiled (:func:`histfactory_likelihood`
    with offset ``mu_sm`` and slope = the X yields per unit / the SM nominal; warm ``start`` and
    ``poi_start``). ``m_X`` may be traced (vmap over masses)."""
    from ..likelihood.belle2.spectrum import resonance_spectrum
    from ..likelihood.belle2.term import Belle2Full

    b = Belle2Full(smoothing=smoothing)
    y = b.np_yields(resonance_spectrum(m_X, width, unit, smoothing=smoothing))
    return histfactory_likelihood(
        steps=steps,
        bounds=bounds,
        offset=mu_sm,
        slope=y / b.sm_nominal,
        poi="br",
        start=start,
        poi_start=poi_start,
    )


def invisible_x_q0_curve(masses, width=0.0, *, smoothing: int = 2, mu_sm=1.0, steps_null: int = 8, steps: int = 4):
    r"""A function ``data -> (q0, br_hat)`` over ``masses`` for an invisible X in Belle II's full
    likelihood (:func:`invisible_x_likelihood`): the background(+SM)-only fit of ``data``
    (``steps_null`` Gauss-Newton steps from the published fit), then at every mass the fit with a
    free BR (units 1e-6) started from those nuisances (``steps`` steps), q0 = 2 (ln L_m - ln L_0)
    >= 0. The form :func:`hpjax.inference.lookelsewhere.global_significance` takes as ``q0_curve``.
    """
    masses = jnp.asarray(masses, dtype=jnp.float64)
    null = invisible_x_likelihood(masses[0], width, smoothing=smoothing, mu_sm=mu_sm, steps=steps_null)

    def curve(data):
        lnl0, z0 = null.profile(jnp.asarray(0.0), data)

        def one(m):
            lik = invisible_x_likelihood(m, width, smoothing=smoothing, mu_sm=mu_sm, steps=steps, start=z0)
            lnl, br, _ = lik.fit(data)
            return 2.0 * jnp.maximum(lnl - lnl0, 0.0), br

        return jax.vmap(one)(masses)

    return curve


def _newton_nuisances(f, z0, sigma, steps: int):
    """Maximise ``f`` over z from ``z0`` by ``steps`` Newton steps in the scaled coordinates
    u = (z - z0) / sigma, each step the best of the full, half and quarter Newton step and no
    step (fixed work: vmappable; the near-quadratic Gaussian constraints converge in a few)."""
    fu = lambda u: f(z0 + sigma * u)  # noqa: E731
    g_h = jax.value_and_grad(fu)
    hess = jax.hessian(fu)
    n = z0.shape[0]

    def body(_, u):
        _, g = g_h(u)
        h = hess(u)
        # Newton direction on -H (made positive definite where H is not: its largest positive
        # eigenvalue shift keeps the step an ascent direction)
        a = -h
        shift = jnp.maximum(0.0, -jnp.min(jnp.linalg.eigvalsh(a))) + 1e-9
        step = jnp.linalg.solve(a + shift * jnp.eye(n), g)
        cands = u[None, :] + jnp.asarray([0.0, 1.0, 0.5, 0.25])[:, None] * step[None, :]
        vals = jax.vmap(fu)(cands)
        vals = jnp.where(jnp.isfinite(vals), vals, -jnp.inf)
        return cands[jnp.argmax(vals)]

    u = jax.lax.fori_loop(0, steps, body, jnp.zeros(n))
    return z0 + sigma * u


def poi_likelihood(
    lik,
    poi: str = "sin_theta",
    at=None,
    *,
    power: float = 2.0,
    scale: float = 1.0,
    bounds=(0.0, 10.0),
    steps: int = 6,
) -> ProfiledLikelihood:
    r"""Any :class:`hpjax.Likelihood` (every term of a dataset, or terms by hand) as the
    :class:`ProfiledLikelihood` of the hypothesis tests, with one model parameter as POI.

    The POI is mu = (``poi`` / ``scale``)^``power``: with the default ``power = 2`` for sin theta,
    mu is proportional to the new-physics rates (all scale as sin^2 theta at fixed m_hD), as the
    asymptotic formulas of Cowan et al. assume for a signal strength; the parameter is
    ``scale * mu**(1/power)`` (mu >= 0). The other free model parameters are held at ``at``
    (default the model's values; may be traced: vmap over masses), the likelihood's nuisances are
    profiled by ``steps`` Newton steps (:func:`_newton_nuisances`) from their start values, and
    terms with their own inner profile (``belle2_full``) profile themselves. ``data`` is the
    likelihood itself; the Asimov data set is :meth:`hpjax.Likelihood.asimov` (every term's
    ``asimov``), so asymptotic CLs, limits and significances work; toys do not (``sample`` is
    None: terms have no generator of pseudo-data).

    >>> import hpjax
    >>> m = hpjax.SingletHiggsPortal(m_hD=2.0, sin_theta=3e-3, y_D=1.0, m_chi=0.0)
    >>> lik = hpjax.Likelihood(m, terms=["belle2", "belle_kstar"])
    >>> t = poi_likelihood(lik, "sin_theta", scale=1e-3, bounds=(0.0, 40.0))
    >>> t.poi, t.bounds
    ('mu', (0.0, 40.0))
    """
    free = list(lik.free)
    if poi not in free:
        raise ValueError(f"poi_likelihood: poi {poi!r} is not a free parameter of the likelihood; free: {free}")
    at = dict(at or {})
    bad = sorted(k for k in at if k not in free or k == poi)
    if bad:
        raise ValueError(
            f"poi_likelihood: at {bad}: not free parameters other than the POI; valid: {[f for f in free if f != poi]}"
        )
    if not power > 0 or not scale > 0:
        raise ValueError(f"poi_likelihood: power = {power}, scale = {scale}; allowed: both > 0")
    lo, hi = (float(x) for x in bounds)
    if not 0.0 <= lo < hi:
        raise ValueError(f"poi_likelihood: bounds = {bounds}; allowed 0 <= lo < hi (mu = (poi / scale)^power >= 0)")
    fixed = {k: jnp.asarray(at.get(k, lik.model_defaults[k]), dtype=jnp.float64) for k in free if k != poi}
    nuis = list(lik.nuisances)
    start = lik.nuisance_start()
    z0 = jnp.asarray(np.asarray([start[n] for n in nuis], dtype=float))
    err = lik.nuisance_errors()
    sig = jnp.asarray([err[n] for n in nuis], dtype=jnp.float64)
    # mu = 0 is the background-only point; the parameter at (mu + mu_floor)^(1/power) keeps
    # d(parameter)/d(mu) finite there, and mu_floor = 1e-24 is no rate a term can resolve
    # (sin theta = 1e-12 scale)
    mu_floor = 0.0 if power == 1.0 else 1e-24

    def value(mu):
        m = jnp.asarray(mu, dtype=jnp.float64) + mu_floor
        return scale * (m if power == 1.0 else jnp.maximum(m, mu_floor) ** (1.0 / power))

    def params_of(mu, z):
        p = dict(fixed)
        p[poi] = value(mu)
        p.update({n: z[i] for i, n in enumerate(nuis)})
        return p

    def profile(mu, d):
        if not nuis:
            return d.log_likelihood(params_of(mu, z0)), z0
        m = jax.lax.stop_gradient(jnp.asarray(mu, dtype=jnp.float64))
        z = jax.lax.stop_gradient(_newton_nuisances(lambda z: d.log_likelihood(params_of(m, z)), z0, sig, steps))
        return d.log_likelihood(params_of(mu, z)), z  # envelope-theorem gradient in mu

    def expected(mu, z):
        return lik.asimov(params_of(mu, z))

    return ProfiledLikelihood(profile=profile, data=lik, poi="mu", bounds=(lo, hi), expected=expected)
