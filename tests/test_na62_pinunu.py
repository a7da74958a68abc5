"""NA62 2016-22 BR(K+ -> pi+ nu nubar) (arXiv:2412.12015) minus the SM (Buras et al. 2015) as the
off-shell h_D term ``na62_pinunu`` of ``latest``; KOTO 2021 in ``latest``'s koto entry."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.likelihood.measurements import load_dataset, load_measurement
from hpjax.likelihood.terms import OffshellTerm
from hpjax.likelihood.terms.offshell import sm_window_fraction


@pytest.fixture(scope="module")
def lik():
    model = hpjax.SingletHiggsPortal(m_hD=0.5, sin_theta=1e-2, y_D=1.0, m_chi=0.01)
    return hpjax.Likelihood(model, dataset="latest", terms=["na62_pinunu"])


def test_records_and_dataset():
    d = load_dataset("latest")
    assert d["na62_pinunu"] == ["na62_2024_Kpinunu"] and d["sm_kpinunu"] == ["sm_2015_Kpinunu_Buras"]
    sm = load_measurement("sm_2015_Kpinunu_Buras")
    assert (sm.value, sm.error_up, sm.arxiv) == (8.4e-11, 1.0e-11, ("1503.02693",))
    assert "UNVERIFIED" in sm.notes
    m = load_measurement("na62_2024_Kpinunu")
    assert m.kind == "offshell_gaussian" and m.predicted == "BR(K+->pi+inv)"
    np.testing.assert_array_equal(m.q2_windows, [[0.0, 0.01], [0.026, 0.068]])


def test_sm_window_fraction_independent():
    # pure phase space (slope 0): lambda^{3/2} integrated with scipy-free Simpson on a different grid
    mK, mpi = 0.493677, 0.13957039
    b = (mK - mpi) ** 2
    q2 = np.linspace(0, b, 40001)
    lam = np.clip((mK**2 + mpi**2 - q2) ** 2 - 4 * mK**2 * mpi**2, 0, None) ** 1.5
    inside = ((q2 <= 0.01) | ((q2 >= 0.026) & (q2 <= 0.068))).astype(float)
    ref = np.sum(lam * inside) / np.sum(lam)
    got = sm_window_fraction(mK, mpi, [[0.0, 0.01], [0.026, 0.068]], 0.0)
    assert got == pytest.approx(ref, rel=2e-3)
    assert 0.5 < got < 0.7
    assert sm_window_fraction(mK, mpi, [[0.0, b]], 0.03) == pytest.approx(1.0)


def test_term_values(lik):
    t = lik.term("na62_pinunu")
    assert isinstance(t, OffshellTerm)
    assert t.sigma_up == pytest.approx(math.hypot(3.3e-11, 1.0e-11))
    # 0 at no new physics; at x = value - SM the best fit: Delta ln L = +(4.6/sigma_down)^2 / 2
    assert float(t.logpdf_at(0.0)) == 0.0
    best = float(t.logpdf_at(13.0e-11 - 8.4e-11))
    assert best == pytest.approx(0.5 * (4.6 / math.hypot(3.0, 1.0)) ** 2, rel=1e-12)
    # 90% CL-like: Delta chi2 = 1 above the best fit at value + sigma_up
    x1 = 13.0e-11 - 8.4e-11 + t.sigma_up
    assert -2 * (float(t.logpdf_at(x1)) - best) == pytest.approx(1.0, rel=1e-10)


def test_offshell_only_and_windows(lik):
    t = lik.term("na62_pinunu")
    p = lik.initial_params()

    def one(s, m):
        q = {**p, "sin_theta": s, "m_hD": m}
        ctx = lik.context(q)
        return lik.log_likelihood(q), (t.new_physics_rate(ctx), ctx.predictions["BR(K+->pi+inv)"])

    # one compilation: three points (0.5 GeV, 0.2 GeV, 0.5 GeV at twice the mixing), value and gradient
    f = jax.jit(jax.vmap(jax.value_and_grad(one, has_aux=True)))
    (_, (x, total)), g = f(jnp.array([1e-2, 1e-2, 2e-2]), jnp.array([0.5, 0.2, 0.5]))
    # above the endpoint: a positive fraction of the three-body rate lies in NA62's windows (< 1/f_SM of it)
    assert 0.2 * float(total[0]) < float(x[0]) < float(total[0]) / t.f_sm
    # below the endpoint (m_hD = 0.2 GeV: two-body, the na62 tables' domain) the term is off
    assert float(x[1]) == 0.0 and float(total[1]) > 0 and float(g[1]) == 0.0
    # rate ~ sin^2 theta; finite gradient
    assert float(x[2]) == pytest.approx(4 * float(x[0]), rel=1e-6)
    assert np.isfinite(g[0]) and float(g[0]) < 0
