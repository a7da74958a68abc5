"""The benchmark baselines compute the same physics as hpjax (benchmarks/baselines/).

Before a baseline is timed (`make bench`) it must agree with hpjax to 1e-6 relative; these tests
check that cheaply at a handful of points in the two-body region (m_hD < m_B - m_K) and above it:
(a) the per-point scipy.integrate.quad likelihood, (b) the numpy re-implementation of hpjax's
Gauss-Legendre rule, each observable and each ln L term, also with floating nuisances (the
posterior that baseline (c), emcee, samples). One jitted, vmapped hpjax call per quantity.
"""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.baselines._common import (  # noqa: E402
    INV_OBS,
    NUISANCES_POSTERIOR,
    PROD_OBS,
    TERMS_ALL,
    TERMS_POSTERIOR,
    default_inputs,
    nuisance_prior,
)
from benchmarks.baselines.numpy_gl import PaperLikelihoodGL  # noqa: E402
from benchmarks.baselines.scipy_quad import PaperLikelihoodQuad  # noqa: E402

TOL = 1e-6
# (m_hD [GeV], sin theta): below m_K - m_pi, between, just below and above m_B - m_K (4.78 GeV),
# above m_B - m_K* (4.38 GeV) and far above every endpoint
POINTS = [
    (0.05, 1e-4),
    (0.3, 5e-4),
    (1.0, 6e-3),
    (2.5, 3e-3),
    (4.26, 6e-3),
    (4.7, 1e-2),
    (4.8, 6e-3),
    (5.5, 2e-2),
    (12.0, 3e-2),
]
OBSERVABLES = sorted(
    set(INV_OBS.values())
    | set(PROD_OBS.values())
    | {"BR(h->inv)", "BR(hD->inv)", "BR(hD->mumu)", "Gamma(hD)", "tau(hD)"}
)


def rel(x, ref):
    """|x - ref| / max(|ref|, 1): relative for ln L away from 0, absolute near a perfect fit."""
    x, ref = np.asarray(x, float), np.asarray(ref, float)
    return np.abs(x - ref) / np.maximum(np.abs(ref), 1.0)


@pytest.fixture(scope="module")
def points():
    m, s = np.array(POINTS).T
    return m, s


@pytest.fixture(scope="module")
def hp(points):
    """hpjax's observables and ln L terms at POINTS (the paper dataset, all six terms)."""
    m, s = points
    model = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.0)
    lik = hpjax.Likelihood(model, dataset="paper", terms=list(TERMS_ALL))
    br = jax.jit(jax.vmap(lambda m, s: lik.breakdown({"m_hD": m, "sin_theta": s})))(jnp.asarray(m), jnp.asarray(s))
    obs = jax.jit(lambda m, s: hpjax.predict(hpjax.SingletHiggsPortal(m, s, 1.0, 0.0), observables=OBSERVABLES))(
        jnp.asarray(m), jnp.asarray(s)
    )
    return {k: np.asarray(v) for k, v in obs.items()}, {k: np.asarray(v) for k, v in br.items()}


@pytest.fixture(scope="module")
def quad():
    return PaperLikelihoodQuad()


@pytest.fixture(scope="module")
def gl():
    return PaperLikelihoodGL()


def test_points_cover_both_regions(points):
    m, _ = points
    inp = default_inputs()
    end_bk = inp["m_Bp"] - inp["m_Kp"]
    assert (m < end_bk).sum() >= 5 and (m > end_bk).sum() >= 3


def test_scipy_quad_observables(points, hp, quad):
    obs_h, _ = hp
    n_zero = 0
    for i, (m, s) in enumerate(zip(*points)):
        obs_a = quad.observables(m, s)
        for k in OBSERVABLES:
            ref = obs_h[k][i]
            if ref == 0:  # a closed channel (two-body production above its endpoint, mu mu below 2 m_mu)
                assert obs_a[k] == 0, (k, m, obs_a[k])
                n_zero += 1
                continue
            assert abs(obs_a[k] / ref - 1.0) < TOL, (k, m, s, obs_a[k], ref)
    # closed: K -> pi h_D at the 7 points above m_K - m_pi, B -> K* h_D at 4, B -> K h_D at 3, mu mu at 1
    assert n_zero == 7 + 7 + 4 + 3 + 1


def test_scipy_quad_log_likelihood_terms(points, hp, quad):
    _, br_h = hp
    for i, (m, s) in enumerate(zip(*points)):
        br_a = quad.breakdown(m, s)
        assert sorted(br_a) == sorted(br_h)
        for k, v in br_a.items():
            assert rel(v, br_h[k][i]) < TOL, (k, m, s, v, br_h[k][i])
        total = sum(br_h[k][i] for k in br_h)
        assert rel(quad.log_likelihood(m, s), total) < TOL
    # the comparison is not vacuous: Belle II pulls at every point, the K* limit bites at 1 GeV,
    # NA62 at 50 MeV, KOTO at 0.3 GeV, the Higgs-invisible limit at large mixing
    assert np.all(br_h["belle2"] < 0)
    assert br_h["belle_kstar"][2] < -0.5 and br_h["na62"][0] < -0.5 and br_h["koto"][1] < -0.05
    assert br_h["higgs_invisible"][-1] < -10


def test_numpy_gl_observables_and_terms(points, hp, gl):
    obs_h, br_h = hp
    m, s = points
    obs_b = gl.observables(m, s)
    for k in OBSERVABLES:
        np.testing.assert_allclose(obs_b[k], obs_h[k], rtol=TOL, atol=0, err_msg=k)
    br_b = gl.breakdown(m, s)
    assert sorted(br_b) == sorted(br_h)
    for k in br_b:
        assert np.all(rel(br_b[k], br_h[k]) < TOL), k
    total = sum(br_h.values())
    assert np.all(rel(gl.log_likelihood(m, s), total) < TOL)


def test_baselines_with_floating_nuisances():
    """The posterior likelihood of fits/singlet_posterior.toml (what baseline (c) samples) with
    the SM prediction and the form-factor coefficients moved by about one sigma."""
    model = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.0)
    lik = hpjax.Likelihood(model, dataset="paper", terms=list(TERMS_POSTERIOR), nuisances=list(NUISANCES_POSTERIOR))
    names, mu, cov = lik.nuisance_prior()
    mu_b, cov_b = nuisance_prior(names)
    np.testing.assert_allclose(mu_b, mu, rtol=1e-15)
    np.testing.assert_allclose(cov_b, cov, rtol=1e-15, atol=0)
    shift = np.linalg.cholesky(cov) @ np.array([1.0, -1.0, 0.5, 1.0, -0.5, 1.0, -1.0])
    nuis = dict(zip(names, mu + shift))
    pts = [(0.8, 5e-3), (3.0, 4e-3), (4.5, 8e-3)]
    f = jax.jit(jax.vmap(lambda m, s: lik.log_likelihood({"m_hD": m, "sin_theta": s, **nuis}, constraints=False)))
    ref = np.asarray(f(jnp.array([p[0] for p in pts]), jnp.array([p[1] for p in pts])))
    q = PaperLikelihoodQuad(terms=TERMS_POSTERIOR)
    g = PaperLikelihoodGL(terms=TERMS_POSTERIOR)
    a = [q.log_likelihood(m, s, nuis) for m, s in pts]
    b = g.log_likelihood(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), nuis)
    assert np.all(rel(a, ref) < TOL) and np.all(rel(b, ref) < TOL)
    # and the nuisances matter at this level: the central-value likelihood differs
    a0 = [q.log_likelihood(m, s) for m, s in pts]
    assert np.max(np.abs(np.subtract(a0, a))) > 1e3 * TOL * np.max(np.abs(ref))
