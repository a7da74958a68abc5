"""Likelihood terms: the paper's bounds, conventions against scipy.stats, gradients, vmap,
domain handling and error messages."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import hpjax
from hpjax.likelihood import SM_NUISANCE
from hpjax.likelihood.bounds import upper_bound
from hpjax.likelihood.measurements import load_measurement
from hpjax.likelihood.stats import LimitTable, PoissonCounts, half_normal_logpdf, sigma_from_limit
from hpjax.paper import benchmark_models

STEP = {t: "step" for t in ("belle_kstar", "na62", "koto", "higgs_invisible")}


@pytest.fixture(scope="session")
def singlet():
    return benchmark_models()["singlet"]  # m_hD = 1, sin = 6e-3, y_D = 1, m_chi = 0


@pytest.fixture(scope="session")
def step_paper(singlet):
    return hpjax.Likelihood(singlet, dataset="paper", conventions=STEP)


@pytest.fixture(scope="session")
def smooth_paper(singlet):
    return hpjax.Likelihood(singlet, dataset="paper", nuisances=[SM_NUISANCE, "m_t", "BK_f0_a0", "BK_f0_a1"])


_COMPILED = {}


def _breakdown_and_jacobian(lik):
    """jit(lik.breakdown) and jit(jacfwd(lik.breakdown)), compiled once per likelihood and shared
    by the tests below (term -> value; term -> parameter -> derivative)."""
    if id(lik) not in _COMPILED:
        _COMPILED[id(lik)] = (lik, jax.jit(lik.breakdown), jax.jit(jax.jacfwd(lik.breakdown)))
    return _COMPILED[id(lik)][1:]


def _at(lik, **kw):
    p = lik.initial_params()
    p.update({k: jnp.asarray(v, dtype=jnp.float64) for k, v in kw.items()})  # strong types: one compilation
    return p


# ---- Belle II ------------------------------------------------------------------------------


def test_belle2_two_sigma_band_matches_paper(singlet, inputs):
    """Delta chi2 = 4 along sin(theta) at m_hD = 1 GeV gives the edges of the paper's band,
    sin(theta) at BR_NP = 0.5e-5 and 3.3e-5 (eq. 5: (1.9 +- 0.7)e-5, 2 sigma)."""
    lik = hpjax.Likelihood(singlet, terms=["belle2"])
    p = lik.initial_params()
    center = float(hpjax.solve_sin_theta(singlet, 2.3e-5 - 4.29e-6, inputs=inputs))
    assert float(lik.chi2(_at(lik, sin_theta=center))) == pytest.approx(0.0, abs=1e-10)
    hi = upper_bound(lik, {**p}, "belle2", level=4.0, lo=center, hi=0.1)
    f = jax.jit(lambda s: lik.chi2({**p, "sin_theta": s}))
    # lower edge: bisection on the falling side
    a, b = 1e-4, center
    for _ in range(60):
        mid = 0.5 * (a + b)
        a, b = (mid, b) if float(f(mid)) > 4.0 else (a, mid)
    lo = 0.5 * (a + b)
    paper_lo = float(hpjax.solve_sin_theta(singlet, 0.5e-5, inputs=inputs))
    paper_hi = float(hpjax.solve_sin_theta(singlet, 3.3e-5, inputs=inputs))
    # exact consistency with BR_NP = 1.871e-5 -+ 1.4e-5 ...
    assert lo == pytest.approx(float(hpjax.solve_sin_theta(singlet, 1.871e-5 - 1.4e-5, inputs=inputs)), rel=1e-3)
    # ... and the paper's band, which rounds 1.871 to 1.9: sqrt(0.471/0.5) = 0.971
    assert lo / paper_lo == pytest.approx(1.0, abs=0.035)
    assert hi / paper_hi == pytest.approx(1.0, abs=0.01)


# ---- the paper's bounds with the hard-step convention (Figs. 1 and 4) ----------------------


def test_kstar_bound_eq23(step_paper):
    s = upper_bound(step_paper, step_paper.initial_params(), "belle_kstar")
    assert s / 6.2e-3 == pytest.approx(1.049, abs=0.01)  # explained in hpjax/data/paper_numbers.toml


def test_koto_bound_eq25(step_paper):
    s = upper_bound(step_paper, _at(step_paper, m_hD=0.01), "koto")
    assert s / 6.5e-4 == pytest.approx(1.027, abs=0.01)


def test_higgs_invisible_bound_eq21(singlet):
    lik = hpjax.Likelihood(singlet, terms=["higgs_invisible"], conventions=STEP)
    s = upper_bound(lik, lik.initial_params(), "higgs_invisible")
    exact = math.sqrt(8 * math.pi / 125.0 * 0.13 / 0.87 * 4.1e-3 * (1 - s**2))  # eq. (20) solved exactly
    assert s == pytest.approx(exact, rel=1e-6)
    assert s / 0.01 == pytest.approx(1.11, abs=0.01)


@pytest.mark.parametrize("scenario,limit", [("hl_lhc", 0.0225), ("ilc", 0.0016), ("clic", 0.0069), ("fcc_ee", 0.0019)])
def test_higgs_invisible_scenarios_table_I(singlet, scenario, limit):
    lik = hpjax.Likelihood(singlet, terms=["higgs_invisible"], conventions=STEP, higgs_scenario=scenario)
    s = upper_bound(lik, lik.initial_params(), "higgs_invisible")
    assert s == pytest.approx(math.sqrt(8 * math.pi / 125.0 * limit / (1 - limit) * 4.1e-3 * (1 - s**2)), rel=1e-6)


def test_na62_excludes_favoured_region_below_200_MeV(step_paper):
    """Fig. 1: NA62 excludes the Belle II-favoured sin(theta) ~ 6e-3 for m_hD <~ 200 MeV; its
    table ends at 0.26 GeV, so it says nothing above."""
    f = jax.jit(lambda m: step_paper.breakdown(_at(step_paper, m_hD=m))["na62"])
    for m in (0.02, 0.05, 0.09, 0.16, 0.2):
        assert float(f(m)) == -math.inf, m
    for m in (0.3, 1.0):
        assert float(f(m)) == 0.0, m


def test_koto_region_ends_near_400_MeV(step_paper):
    """Fig. 1: the KOTO exclusion of sin(theta) = 6e-3 ends near m_hD = 0.4 GeV (three-body tail
    beyond m_K - m_pi = 0.36 GeV)."""
    f = jax.jit(lambda m: step_paper.breakdown(_at(step_paper, m_hD=m))["koto"])
    assert float(f(0.30)) == -math.inf
    assert float(f(0.36)) == -math.inf
    assert float(f(0.45)) == 0.0


@pytest.mark.parametrize("v_D,excluded", [(10.0, True), (50.0, False)])
def test_fig4_higgs_invisible(v_D, excluded):
    """Fig. 4: at v_D = 10 GeV the LHC bound excludes the whole favoured band (sin ~ 4e-3 .. 1e-2);
    at 50 GeV it only starts to cut into it (bound inside the band)."""
    model = hpjax.DarkAbelianHiggs(1.0, 6e-3, v_D, 0.1)
    lik = hpjax.Likelihood(model, terms=["higgs_invisible"], conventions=STEP)
    s = upper_bound(lik, lik.initial_params(), "higgs_invisible")
    assert (s < 4e-3) == excluded
    if not excluded:
        assert 4e-3 < s < 1e-2


# ---- conventions against scipy.stats ------------------------------------------------------


@pytest.mark.parametrize("limit,cl", [(1.8e-5, 0.90), (0.13, 0.95), (3.0e-9, 0.90)])
def test_half_normal_against_scipy(limit, cl):
    sigma = sigma_from_limit(limit, cl)
    assert stats.halfnorm.ppf(cl, scale=sigma) == pytest.approx(limit, rel=1e-12)
    for x in (0.0, 0.3 * limit, limit, 2.5 * limit):
        want = stats.halfnorm.logpdf(x, scale=sigma) - stats.halfnorm.logpdf(0.0, scale=sigma)
        assert float(half_normal_logpdf(x, sigma)) == pytest.approx(want, rel=1e-12, abs=1e-14)


def test_poisson_counts_against_scipy():
    m = load_measurement("belle_2017_B0Kstar0nunu_SL")
    b0 = m.counts_total - m.counts_signal
    pc = PoissonCounts(m.counts_total, b0, m.background_std, limit=m.limit, cl=m.cl)

    def marginal(s):
        f = lambda b: stats.norm.pdf(b, b0, m.background_std) * stats.poisson.pmf(int(m.counts_total), s + b)  # noqa: E731
        return integrate.quad(
            f, max(0.0, b0 - 12 * m.background_std), b0 + 12 * m.background_std, epsabs=0, epsrel=1e-10
        )[0]

    for x in (0.0, 0.5e-5, 1.8e-5, 4e-5):
        want = math.log(marginal(pc.k * x)) - math.log(marginal(0.0))
        assert float(pc.logpdf(x)) == pytest.approx(want, rel=1e-7, abs=1e-9)
    # the calibration: Bayesian flat-prior 90% upper limit on x is the published 1.8e-5
    norm = integrate.quad(lambda x: marginal(pc.k * x), 0, 40 * m.limit, limit=200)[0]
    below = integrate.quad(lambda x: marginal(pc.k * x), 0, m.limit, limit=200)[0]
    assert below / norm == pytest.approx(m.cl, abs=2e-4)


def test_limit_table_interpolation_never_extrapolates():
    masses = np.array([0.1, 0.2, 0.3])
    taus = np.array([1e-10, 1e-9, 1e-8])
    vals = np.array([[1e-9, 1e-10, 1e-11], [2e-9, np.nan, 2e-11], [4e-9, 4e-10, 4e-11]])
    t = LimitTable(masses, vals, taus)
    assert float(t.limit(0.1, 1e-10)) == pytest.approx(1e-9, rel=1e-12)
    assert float(t.limit(0.1, 1e-9)) == pytest.approx(1e-10, rel=1e-12)
    assert float(t.limit(0.1)) == pytest.approx(1e-11, rel=1e-12)  # no lifetime: longest (stable)
    assert float(t.limit(0.15, 1e-8)) == pytest.approx(10 ** (0.5 * (-11 + math.log10(2e-11))), rel=1e-12)
    assert float(t.limit(0.05)) == math.inf and float(t.limit(0.35)) == math.inf
    assert float(t.limit(0.15, 1e-9)) == math.inf  # touches the NaN cell: no limit
    assert float(t.limit(0.1, 1e-12)) == pytest.approx(1e-9, rel=1e-12)  # clamped, not extrapolated


# ---- differentiability -------------------------------------------------------------------


def test_term_gradients_match_finite_differences(smooth_paper):
    lik = smooth_paper
    # every term active; m_hD mid-way between two nodes of the NA62 table (piecewise-linear
    # interpolation: the finite difference must not straddle a node)
    masses = load_measurement("na62_2021_KpiX_2016_18data_OLDGRID").masses
    i = int(np.searchsorted(masses, 0.25))
    p = _at(lik, m_hD=0.5 * (masses[i - 1] + masses[i]), sin_theta=2e-4)
    f, jacobian = _breakdown_and_jacobian(lik)
    parts = f(p)
    assert all(np.isfinite(float(v)) and float(v) < 0 for k, v in parts.items() if k != "nuisance_constraints")
    jac = jacobian(p)  # term -> parameter -> derivative
    for name in ("m_hD", "sin_theta", "m_t", "BK_f0_a1"):
        x = float(p[name])
        h = 1e-6 * abs(x)
        up, dn = f({**p, name: jnp.asarray(x + h)}), f({**p, name: jnp.asarray(x - h)})
        up2, dn2 = f({**p, name: jnp.asarray(x + h / 2)}), f({**p, name: jnp.asarray(x - h / 2)})
        for term in lik.terms:
            fd = (float(up[term]) - float(dn[term])) / (2 * h)
            fd2 = (float(up2[term]) - float(dn2[term])) / h
            rich = (4 * fd2 - fd) / 3
            assert float(jac[term][name]) == pytest.approx(rich, rel=1e-6, abs=1e-9 * max(1.0, abs(rich))), (term, name)


@pytest.mark.slow  # make test: test_gradients::test_vmap_equals_python_loop (predict) and test_golden (vmapped terms)
def test_vmap_equals_loop(smooth_paper):
    lik = smooth_paper
    rng = np.random.default_rng(1)
    n = 10_000
    base = lik.initial_params()
    batch = {k: jnp.full(n, v) for k, v in base.items()}
    batch["m_hD"] = jnp.asarray(10 ** rng.uniform(-2, 1.3, n))
    batch["sin_theta"] = jnp.asarray(10 ** rng.uniform(-5, -1.5, n))
    vals = jax.jit(jax.vmap(lik.log_likelihood))(batch)
    f = jax.jit(lik.log_likelihood)
    loop = np.array([float(f({k: v[i] for k, v in batch.items()})) for i in range(n)])
    assert np.all(np.isfinite(loop))
    np.testing.assert_allclose(np.asarray(vals), loop, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "bad", [{"sin_theta": 2.0}, {"sin_theta": -1.5}, {"m_hD": -1.0}, {"m_hD": 0.0}, {"sin_theta": float("nan")}]
)
def test_outside_domain_is_minus_inf_without_nan(smooth_paper, bad):
    lik = smooth_paper
    p = _at(lik, **bad)
    f, jacobian = _breakdown_and_jacobian(lik)  # ln L = the sum of the breakdown
    assert float(lik.log_likelihood(p)) == -math.inf
    assert sum(float(v) for v in f(p).values()) == -math.inf
    g = jacobian(p)
    assert all(np.isfinite(float(v)) for per_term in g.values() for v in per_term.values())


def test_fixed_and_free_parameters(singlet):
    lik = hpjax.Likelihood(singlet, free=("m_hD", "sin_theta", "y_D"), nuisances=["m_t"])
    assert lik.parameters() == ["m_hD", "sin_theta", "y_D", "m_t"]
    assert float(lik.initial_params()["y_D"]) == 1.0
    lik2 = hpjax.Likelihood(singlet, free=("sin_theta",))
    assert lik2.parameters() == ["sin_theta"]


def test_correlated_form_factor_constraint(singlet, inputs):
    names = ["BK_f0_a0", "BK_f0_a1", "BK_f0_a2"]
    lik = hpjax.Likelihood(singlet, terms=["belle2"], nuisances=names)
    p = lik.initial_params()
    shift = np.array([0.01, -0.05, 0.1])
    q = {**p, **{n: p[n] + s for n, s in zip(names, shift)}}
    cov = inputs.covariance(names)
    assert abs(cov[0, 1]) > 0  # correlated (GRvDV2023)
    want = -0.5 * shift @ np.linalg.solve(cov, shift)
    assert float(lik.breakdown(q)["nuisance_constraints"]) == pytest.approx(want, rel=1e-10)


# ---- errors --------------------------------------------------------------------------------


def test_errors_name_the_valid_choices(singlet):
    with pytest.raises(ValueError, match="valid terms"):
        hpjax.Likelihood(singlet, terms=["belle3"])
    with pytest.raises(ValueError, match="latest"):
        hpjax.Likelihood(singlet, dataset="newest")
    with pytest.raises(ValueError, match="valid"):
        hpjax.Likelihood(singlet, nuisances=["m_top"])
    with pytest.raises(ValueError, match="valid"):
        hpjax.Likelihood(singlet, free=("m_AD",))
    with pytest.raises(ValueError, match="higgs_scenario"):
        hpjax.Likelihood(singlet, higgs_scenario="cepc")
    with pytest.raises(ValueError, match="poisson"):
        hpjax.Likelihood(singlet, conventions={"koto": "poisson"})
    with pytest.raises(ValueError, match="conventions"):
        hpjax.Likelihood(singlet, conventions={"koto": "gaussian"})
    lik = hpjax.Likelihood(singlet, terms=["belle2"])
    with pytest.raises(ValueError, match="missing"):
        lik.log_likelihood({"m_hD": 1.0})


def test_lfu_excludes_small_yukawa_fig2():
    """Fig. 2 (m_hD = 1 GeV): R_K / R_K* exclude y_D <~ 1e-4 for the Belle II-favoured
    sin(theta) ~ 6e-3, where h_D -> mu mu competes with h_D -> chi chibar."""
    model = hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0)
    lik = hpjax.Likelihood(model, terms=["lfu"], free=("sin_theta", "y_D"))
    f = jax.jit(lambda y, s: lik.chi2({"sin_theta": s, "y_D": y}))
    sm = float(f(1.0, 1e-9))  # no new physics in mu mu
    assert float(f(3e-5, 6e-3)) - sm > 9.0
    assert float(f(1e-3, 6e-3)) - sm < 0.1
    assert float(f(1.0, 6e-3)) - sm == pytest.approx(0.0, abs=1e-6)


def test_lfu_standard_model_rates():
    """The SM R ratios used by the term are 1 up to lepton-mass effects (hpjax.bkll)."""
    lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["lfu"])
    for _, _lo, _hi, r_sm, ee in lik.term("lfu").sm_bins:
        assert 0.97 < r_sm < 1.01
        assert 1e-8 < ee < 1e-6
