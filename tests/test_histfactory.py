"""The lean HistFactory evaluator of Belle II's statistical model (issue 12) against pyhf's own
numpy backend, the structured Newton solve against a dense solve, the lean-backed profile against
the pyhf-backed one, and the published model with mu free (arXiv:2311.14647; pyhf + minuit refit
of the same JSON: mu = 4.608 +- 1.317, -2 ln L = -23.334, q0 = 11.97)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hpjax.likelihood.belle2.pyhf_backend import spec_and_maps
from hpjax.likelihood.belle2.spectrum import constants
from hpjax.likelihood.belle2.statmodel import HistFactory, code4_coefficients
from hpjax.likelihood.belle2.term import Belle2Full
from hpjax.numerics.gauss_newton import structured_solve

pyhf = pytest.importorskip("pyhf")


@pytest.fixture(scope="module")
def ref():
    """pyhf's numpy model of the published JSON, its parameter bookkeeping and the lean model."""
    spec = spec_and_maps()[0]
    prev = pyhf.get_backend()
    pyhf.set_backend("numpy", precision="64b")
    try:
        ws = pyhf.Workspace(spec)
        model = ws.model()
        data = np.asarray(ws.data(model), dtype=float)
    finally:
        pyhf.set_backend(*prev)
    cfg = model.config
    hf = HistFactory(spec, cfg.par_order)
    idx = [i for p in cfg.par_order if p != cfg.poi_name for i in range(cfg.par_slice(p).start, cfg.par_slice(p).stop)]
    return model, data, hf, np.asarray(idx), cfg.poi_index


def _pyhf(model, fn, *args):
    prev = pyhf.get_backend()
    pyhf.set_backend("numpy", precision="64b")
    try:
        return np.asarray(getattr(model, fn)(*args))
    finally:
        pyhf.set_backend(*prev)


def _points(hf, n, seed=0):
    """Random nuisances: Gaussian around the centres (3 sigma), uniform over the bounds, and points
    on the bounds and on the interpolation joins alpha = +-1; the POI in [0, 8]."""
    rng = np.random.default_rng(seed)
    lo, hi = hf.bounds
    is_alpha = np.isin(np.arange(hf.n_nuisances), hf._pos_alpha)
    pts = []
    for k in range(n):
        if k % 4 == 0:
            z = rng.normal(hf.center, 3 * hf.sigma)
        elif k % 4 == 1:
            z = rng.uniform(lo, np.where(is_alpha, hi, 3.0))
        else:
            z = rng.normal(hf.center, hf.sigma)
            pick = rng.random(hf.n_nuisances) < 0.3
            z = np.where(pick & is_alpha, rng.choice([-5.0, -1.0, 1.0, 5.0], hf.n_nuisances), z)
            z = np.where(pick & ~is_alpha, rng.choice([1e-10, 10.0, 1.0], hf.n_nuisances), z)
        pts.append(np.clip(z, lo, hi))
    return np.asarray(pts), rng.uniform(0.0, 8.0, n)


def test_parameters_match_pyhf(ref):
    model, data, hf, idx, _ = ref
    cfg = model.config
    names = [
        n
        for p in cfg.par_order
        if p != cfg.poi_name
        for n in (
            [p] if cfg.param_set(p).n_parameters == 1 else [f"{p}[{i}]" for i in range(cfg.param_set(p).n_parameters)]
        )
    ]
    assert hf.nuisance_names == names
    bounds = np.asarray(cfg.suggested_bounds())[idx]
    assert np.array_equal(hf.bounds[0], bounds[:, 0]) and np.array_equal(hf.bounds[1], bounds[:, 1])
    assert np.array_equal(hf.center, data[cfg.nmaindata :])  # auxdata: 0 (alphas), 1 (gammas)
    sig = np.concatenate(
        [np.atleast_1d(getattr(cfg.param_set(p), "sigmas", [1.0])) for p in cfg.par_order if p != cfg.poi_name]
    )
    assert np.allclose(hf.sigma, sig, rtol=1e-14, atol=0)
    assert np.array_equal(hf.observed, data[: cfg.nmaindata])


def test_expected_and_logpdf_match_pyhf_numpy(ref):
    """>= 200 random nuisance points including the bounds and the joins of the interpolations."""
    model, data, hf, idx, mu_i = ref
    Z, MU = _points(hf, 240)
    S = MU[:, None] * np.ones(hf.n_signal)
    lam = np.asarray(jax.jit(jax.vmap(hf.expected))(Z, S))
    lp = np.asarray(jax.jit(jax.vmap(hf.logpdf))(Z, S))
    nan = 0
    for k in range(len(Z)):
        p = np.zeros(model.config.npars)
        p[idx], p[mu_i] = Z[k], MU[k]
        e_ref = _pyhf(model, "expected_actualdata", p)
        l_ref = float(_pyhf(model, "logpdf", p, data)[0])
        np.testing.assert_allclose(lam[k], e_ref, rtol=1e-10, atol=0, err_msg=str(k))
        if np.isnan(l_ref):  # a negative expected count (histosys far out): NaN in both
            assert np.isnan(lp[k]) and np.any(e_ref < 0), k
            nan += 1
        else:
            assert lp[k] == pytest.approx(l_ref, rel=1e-10, abs=1e-10), k
    assert nan < 0.2 * len(Z)


def test_jacobian_is_the_derivative(ref):
    """The analytic Jacobian equals forward-mode autodiff of the lean function and central
    differences of pyhf's numpy expected counts."""
    model, _, hf, idx, mu_i = ref
    Z, MU = _points(hf, 8, seed=3)
    rng = np.random.default_rng(4)
    S = rng.uniform(0.0, 6.0, (len(Z), hf.n_signal))
    lam, jz, js = jax.jit(jax.vmap(hf.expected_and_jacobian))(Z, S)
    fz = jax.jit(jax.vmap(jax.jacfwd(hf.expected)))(Z, S)
    fs = jax.jit(jax.vmap(jax.jacfwd(hf.expected, 1)))(Z, S)
    assert np.allclose(jz, fz, rtol=1e-12, atol=1e-12 * float(jnp.max(jnp.abs(fz))))
    assert np.allclose(js, fs, rtol=1e-12, atol=1e-12)
    assert np.allclose(lam, jax.vmap(hf.expected)(Z, S), rtol=1e-15)
    # against pyhf by central differences (interior point, mu = 1: signal factors enter as mu)
    z0 = np.clip(hf.center + 0.3 * hf.sigma * np.sin(np.arange(hf.n_nuisances)), *hf.bounds)
    _, j0, j0s = hf.expected_and_jacobian(z0, np.full(hf.n_signal, 2.0))
    p = np.zeros(model.config.npars)
    p[idx], p[mu_i] = z0, 2.0
    for i in [0, 7, 40, 45, 100, 230]:
        h = 1e-6 * hf.sigma[i]
        e = np.zeros_like(p)
        e[idx[i]] = h
        fd = (_pyhf(model, "expected_actualdata", p + e) - _pyhf(model, "expected_actualdata", p - e)) / (2 * h)
        np.testing.assert_allclose(np.asarray(j0[:, i]), fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(fd)))
    e = np.zeros_like(p)
    e[mu_i] = 1e-6
    fd = (_pyhf(model, "expected_actualdata", p + e) - _pyhf(model, "expected_actualdata", p - e)) / 2e-6
    np.testing.assert_allclose(np.asarray(j0s).sum(1), fd, rtol=1e-7, atol=1e-9)


def test_code4_polynomial_joins_the_exponentials():
    """pyhf's code4: value, first and second derivative continuous at alpha = +-1."""
    hi, lo = np.array([1.2, 0.95]), np.array([0.7, 0.9])
    c = code4_coefficients(hi, lo)
    i = np.arange(1, 7)
    for a, base, sgn in ((1.0, hi, 1.0), (-1.0, lo, -1.0)):
        f = 1 + (c * a**i).sum(-1)
        f1 = (c * i * a ** (i - 1)).sum(-1)
        f2 = (c * i * (i - 1) * a ** (i - 2.0)).sum(-1)
        ln = np.log(base)
        assert np.allclose([f, f1, f2], [base, sgn * ln * base, ln**2 * base], rtol=1e-13)


def test_structured_solve_equals_dense_solve():
    """Woodbury (+ single-row columns, + Schur complement for free parameters) = dense solve."""
    rng = np.random.default_rng(5)
    m, nd, ns, k = 6, 4, 9, 2
    rows = rng.integers(0, m, ns)
    J = np.zeros((m, nd + ns + k))
    J[:, :nd] = rng.normal(size=(m, nd))
    J[rows, nd + np.arange(ns)] = rng.normal(size=ns)
    J[:, nd + ns :] = rng.normal(size=(m, k))
    d = np.concatenate([rng.uniform(0.5, 3.0, nd + ns), np.zeros(k)])
    w = np.concatenate([rng.uniform(0.1, 2.0, m - 1), [0.0]])  # a bin with n = 0
    g = rng.normal(size=nd + ns + k)
    H = np.diag(d) + J.T @ (w[:, None] * J)
    ref = np.linalg.solve(H, g)
    single = np.concatenate([-np.ones(nd, dtype=int), rows])
    for sr in (None, single):
        x = structured_solve(jnp.asarray(g), jnp.asarray(d), jnp.asarray(J), jnp.asarray(w), k, sr)
        assert np.allclose(x, ref, rtol=1e-7, atol=1e-10)
    x0 = structured_solve(jnp.asarray(g[:-k]), jnp.asarray(d[:-k]), jnp.asarray(J[:, :-k]), jnp.asarray(w), 0, single)
    assert np.allclose(x0, np.linalg.solve(H[:-k, :-k], g[:-k]), rtol=1e-9)


@pytest.fixture(scope="module")
def backends():
    return Belle2Full(backend="lean"), Belle2Full(backend="pyhf")


@pytest.mark.slow  # make test: lean values and gradients vs pyhf (test_belle2_full) and the joint profile vs grid
def test_lean_profile_equals_pyhf_profile(backends):
    """The profiled ln L (6 Gauss-Newton steps) of both backends agree to 1e-6 from no signal to
    large two-body signals (the full 2000-point (m_hD, sin theta) grid is in benchmarks/run.py)."""
    lean, ref_b = backends
    ys = jnp.stack(
        [0.0 * lean.sm_nominal, 3.0 * lean.sm_nominal, lean.two_body_yields(2.1, 9e-6), lean.two_body_yields(0.5, 3e-5)]
    )
    f = lambda b: jax.jit(jax.vmap(lambda y: b.profile(y, 0.9, steps=6)))(ys)  # noqa: E731
    (l1, z1, d1), (l2, z2, _d2) = f(lean), f(ref_b)
    assert np.allclose(l1, l2, rtol=0, atol=1e-6)
    assert np.allclose(z1, z2, atol=1e-4)
    assert float(jnp.max(d1)) < 1e-2  # 6 steps from the packaged start: close to the optimum


def test_published_likelihood_fit_and_q0():
    """Belle II's SM-shaped fit: mu = 4.60 +- 1.33, -2 ln L = -23.334; the profile in mu peaks at
    the fit and gives q0 = 11.97 (Z = 3.46, as pyhf + minuit on the same JSON)."""
    from hpjax.likelihood.belle2_full import published_likelihood

    p = constants()["published"]
    lik = published_likelihood()
    f = lik.fit()
    assert f["decrement"] < 1e-8
    assert f["mu"] == pytest.approx(p["mu_refit_minuit"], abs=0.01)
    assert f["mu_error"] == pytest.approx(p["mu_error_refit_minuit"], abs=0.02)
    assert f["twice_nll"] == pytest.approx(p["twice_nll_refit"], abs=1e-3)
    mus = jnp.asarray([0.0, f["mu"], f["mu"] - f["mu_error"], f["mu"] + f["mu_error"]])
    prof = np.asarray(jax.jit(jax.vmap(lik.profile_logl))(mus))
    assert prof[1] == pytest.approx(f["logpdf"], abs=1e-8)
    assert 2 * (f["logpdf"] - prof[0]) == pytest.approx(11.97, abs=0.02)
    # +-1 sigma (Hessian) gives Delta(-2 ln L) ~ 1 (the profile is nearly parabolic)
    assert np.allclose(2 * (f["logpdf"] - prof[2:]), 1.0, atol=0.15)
