"""hpjax.inference.hypotest: test statistics, asymptotic/toy CLs, limits, significances, look-elsewhere.

References: pyhf 0.7 (numpy backend, scipy optimizer) run here on small simple models (cheap),
and for Belle II's published model the numbers of benchmarks/pyhf_reference.py stored in
tests/data/pyhf_belle2_reference.json (pyhf's 232-parameter fits take minutes).
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from hpjax.inference.adapters import histfactory_likelihood, uncorrelated_background
from hpjax.inference.hypotest import hypotest, significance, upper_limit
from hpjax.inference.hypotest import test_statistic as tstat
from hpjax.inference.lookelsewhere import global_significance, gross_vitells, local_p0, upcrossings

jax.config.update("jax_enable_x64", True)

SIG, BKG, DBKG, OBS = [12.0, 11.0, 8.0], [50.0, 52.0, 40.0], [3.0, 7.0, 5.0], [51.0, 48.0, 47.0]
REF = Path(__file__).parent / "data" / "pyhf_belle2_reference.json"


@pytest.fixture(scope="module")
def simple():
    return uncorrelated_background(SIG, BKG, DBKG, OBS)


@pytest.fixture(scope="module")
def pyhf_simple():
    pyhf = pytest.importorskip("pyhf")
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
    m = pyhf.simplemodels.uncorrelated_background(SIG, BKG, DBKG)
    return pyhf, m, OBS + m.config.auxdata


def test_simple_logpdf_equals_pyhf(simple, pyhf_simple):
    """The jnp model is pyhf's: logpdf at random parameters, and the closed-form profile is the maximum."""
    pyhf, m, d = pyhf_simple
    rng = np.random.default_rng(3)
    for _ in range(5):
        mu, g = rng.uniform(0, 3), rng.uniform(0.7, 1.3, 3)
        lnl, ghat = simple.profile(mu, simple.data)
        # profile is a maximum: beats pyhf's logpdf at the random gammas, equals pyhf's at gamma_hat
        ref = float(m.logpdf(np.concatenate([[mu], ghat]), d)[0])
        assert float(lnl) == pytest.approx(ref, abs=1e-10)
        assert float(lnl) >= float(m.logpdf(np.concatenate([[mu], g]), d)[0])
        _, t = pyhf.infer.mle.fixed_poi_fit(mu, d, m, return_fitted_val=True)
        assert -2 * float(lnl) == pytest.approx(float(t), abs=1e-6)


@pytest.fixture(scope="module")
def simple_calls(simple):
    """The simple model's hypotests, limits and significance, each compiled once."""
    return {
        "qtilde": jax.jit(jax.vmap(lambda mu: hypotest(simple, {"mu": mu}))),
        "q": jax.jit(lambda mu: hypotest(simple, {"mu": mu}, test="q")),
        "limit": jax.jit(lambda: upper_limit(simple, "mu", cl=0.95)),
        "q0": jax.jit(lambda: significance(simple, {"mu": 0.0})),
    }


def test_hypotest_qtilde_asymptotic_equals_pyhf(simple_calls, pyhf_simple):
    pyhf, m, d = pyhf_simple
    mus = (0.5, 1.0, 2.0)
    r = simple_calls["qtilde"](jnp.asarray(mus))
    for i, mu in enumerate(mus):
        cls, (clsb, clb), exp = pyhf.infer.hypotest(
            mu, d, m, test_stat="qtilde", return_tail_probs=True, return_expected_set=True
        )
        assert float(r["CLs"][i]) == pytest.approx(float(cls), rel=1e-4)
        assert float(r["CLsb"][i]) == pytest.approx(float(clsb), rel=1e-4)
        assert float(r["CLb"][i]) == pytest.approx(float(clb), rel=1e-4)
        np.testing.assert_allclose(np.asarray(r["CLs_expected"][i]), np.asarray(exp, dtype=float), rtol=1e-4)
    # q (not tilde) with the same bounds: pyhf's formula without the q~ branch
    cls_q = pyhf.infer.hypotest(2.0, d, m, test_stat="q")
    assert float(simple_calls["q"](2.0)["CLs"]) == pytest.approx(float(cls_q), rel=1e-4)


def test_upper_limit_and_significance_equal_pyhf(simple_calls, pyhf_simple):
    """pyhf's CLs at hpjax's observed and expected limits is 0.05 (its upper_limit solves the same
    equations; its own scan is left out to keep the suite short), q0 as pyhf's."""
    pyhf, m, d = pyhf_simple
    u = simple_calls["limit"]()
    cls = pyhf.infer.hypotest(float(u["observed"]), d, m, test_stat="qtilde")
    assert float(cls) == pytest.approx(0.05, rel=1e-3)
    for k, mu in enumerate(np.asarray(u["expected"])):
        _, exp = pyhf.infer.hypotest(float(mu), d, m, test_stat="qtilde", return_expected_set=True)
        assert float(exp[k]) == pytest.approx(0.05, rel=1e-3)
    init, bounds, fixed = m.config.suggested_init(), m.config.suggested_bounds(), m.config.suggested_fixed()
    q0 = float(pyhf.infer.test_statistics.q0(0.0, d, m, init, bounds, fixed))
    s = simple_calls["q0"]()
    assert float(s["q0"]) == pytest.approx(q0, rel=1e-5)
    assert float(s["Z"]) == pytest.approx(np.sqrt(q0), rel=1e-5)
    assert float(s["p0"]) == pytest.approx(norm.sf(np.sqrt(q0)), rel=1e-5)


def test_limiting_cases():
    """Known-background single bin: q0 is the Poisson LR; q~ = 0 above mu_hat; errors name the input."""
    n, b = 20.0, 10.0
    lik = uncorrelated_background([5.0], [b], [1e-4], [n])
    z = np.sqrt(2 * (n * np.log(n / b) - (n - b)))
    zs, t1, t3 = jax.jit(lambda: (significance(lik)["Z"], tstat(lik, 1.0), tstat(lik, 3.0)))()
    assert float(zs) == pytest.approx(z, rel=1e-5)
    assert float(t1) == 0.0  # mu_hat = 2 > 1
    assert float(t3) > 0.0
    with pytest.raises(ValueError, match="test 'bad'"):
        hypotest(lik, {"mu": 1.0}, test="bad")
    with pytest.raises(ValueError, match="cl = 1.5"):
        upper_limit(lik, cl=1.5)
    with pytest.raises(ValueError, match="POI is 'mu'"):
        hypotest(lik, {"nu": 1.0})


def test_toys_agree_with_asymptotic():
    """2000 toys each (s+b, b): CLs within 3 standard errors of the asymptotic one at two mu (one
    compilation, the two mu vmapped). Belle II's published model with 5000 toys: the benchmark."""
    big = uncorrelated_background([30.0, 25.0], [400.0, 300.0], [10.0, 8.0], [410.0, 290.0])
    mus = jnp.array([0.5, 1.2])
    keys = jax.random.split(jax.random.PRNGKey(1), 2)
    both = jax.jit(
        jax.vmap(
            lambda mu, k: (hypotest(big, {"mu": mu}, method="toys", n_toys=2000, key=k), hypotest(big, {"mu": mu}))
        )
    )
    t, a = both(mus, keys)
    assert t["CLs"].dtype == t["CLs_expected"].dtype == jnp.float64  # toy fractions in float64, not float32
    for i in range(2):
        c, e, ca = float(t["CLs"][i]), float(t["CLs_error"][i]), float(a["CLs"][i])
        assert abs(c - ca) < 3 * e + 0.01 * ca, (i, c, e, ca)
        assert 0.02 < e / c < 0.3  # the error is a real binomial error


def test_coverage_of_the_cls_limit():
    """Toys with mu = 1 injected: the 95 % CLs upper limit lies above 1 in >= 95 % of them (CLs is
    conservative). 200 toys, vmapped upper limits with a short scan."""
    s, b, db = jnp.array([6.0, 4.0]), jnp.array([20.0, 15.0]), jnp.array([2.0, 1.5])
    base = uncorrelated_background(s, b, db, b)
    toys = base.toys(jax.random.PRNGKey(7), jnp.asarray(1.0), 200, data=base.expected(1.0, jnp.ones(2)))
    lim = jax.jit(
        jax.vmap(lambda d: upper_limit(base.with_data(d), scan=jnp.linspace(0.5, 8.0, 12), iters=12)["observed"])
    )
    ul = np.asarray(lim(toys))
    assert np.all(np.isfinite(ul))
    cover = np.mean(ul >= 1.0)
    assert cover >= 0.95, cover
    assert cover < 1.0  # not trivially wide


def _bump(m, centres=jnp.linspace(0.5, 9.5, 10)):
    return 20.0 * jnp.exp(-0.5 * ((centres - m) / 0.7) ** 2)


def test_look_elsewhere():
    """Bump hunt over 10 bins with a known flat background: local p0 vs mass; global p from 400
    toys, each profiled over the mass, against Gross-Vitells (an upper bound, of the right size);
    global p > local p."""
    b = jnp.full(10, 50.0)

    def q0_fn(data, m):
        lik = uncorrelated_background(_bump(m), b, 1e-3 * b, data[0], aux=data[1])
        return significance(lik)["q0"]

    lik0 = uncorrelated_background(_bump(5.0), b, 1e-3 * b, b)
    obs = (b + jnp.array([0, 0, 0, 4, 12, 10, 3, 0, 0, 0.0]), lik0.data[1])
    masses = jnp.linspace(0.5, 9.5, 13)
    g = jax.jit(
        lambda: (
            local_p0(q0_fn, obs, masses),
            global_significance(q0_fn, lambda k: lik0.sample(k, 0.0, jnp.ones(10)), obs, masses, n_toys=400, batch=400),
        )
    )
    loc, g = g()
    assert int(jnp.argmax(loc["Z"])) in range(4, 8)
    assert float(g["p_global"]) > float(loc["p0"].min())
    p, err, gv = float(g["p_global"]), float(g["p_global_error"]), float(g["p_gross_vitells"])
    assert p - 3 * err < gv < 2.5 * p + 3 * err  # an upper bound, of the right size at Z_local ~ 3
    assert int(upcrossings(jnp.array([0.0, 2.0, 0.0, 3.0]), 1.0)) == 2
    assert float(gross_vitells(9.0, 0.0)) == pytest.approx(norm.sf(3.0), rel=1e-10)


@pytest.fixture(scope="module")
def belle2_results():
    """Belle II's published model: significances against mu0 = 0, 1 and the q~ hypotests at the mu
    of the pyhf reference, all in one compilation."""
    if not REF.exists():
        pytest.skip("run benchmarks/pyhf_reference.py")
    ref = json.loads(REF.read_text())
    lik = histfactory_likelihood()
    mus = jnp.asarray([row["mu"] for row in ref["hypotest_qtilde"]])
    f = jax.jit(
        lambda mu0, mu: (
            jax.vmap(lambda m: significance(lik, {"mu": m})["Z"])(mu0),
            jax.vmap(lambda m: hypotest(lik, {"mu": m}))(mu),
        )
    )
    z, h = f(jnp.array([0.0, 1.0]), mus)
    return ref, z, h


def test_belle2_significance_equals_pyhf(belle2_results):
    ref, z, _ = belle2_results
    for i, (key, paper) in enumerate((("fixed_mu0", 3.46), ("fixed_mu1", 2.72))):
        assert float(z[i]) == pytest.approx(ref[key]["Z"], abs=0.02)
        assert float(z[i]) == pytest.approx(paper, abs=0.02)


def test_belle2_cls_equal_pyhf(belle2_results):
    """pyhf's q~ CLs and expected band (its own fits) at four mu equal hpjax's to 1 %; those mu are
    where pyhf finds CLs (observed; expected median, +-1 sigma) = 0.05, so hpjax's limits equal
    pyhf's to 1 % (upper_limit itself on this model: benchmarks/hypotest_bench.py)."""
    ref, _, h = belle2_results
    rows = ref["hypotest_qtilde"]
    for i, row in enumerate(rows):
        assert float(h["CLs"][i]) == pytest.approx(row["CLs"], rel=0.01)
        e, e_ref = np.asarray(h["CLs_expected"][i]), np.asarray(row["CLs_expected"])
        big = e_ref > 1e-3  # tiny tail probabilities magnify the relative error of sqrt(q_A)
        np.testing.assert_allclose(e[big], e_ref[big], rtol=0.01)
    # row 0: observed limit; rows 1, 2, 3: expected median, +1 sigma, -1 sigma (NSIGMA order 2, 3, 1)
    assert rows[0]["CLs"] == pytest.approx(0.05, rel=0.01)
    for row, k in zip(rows[1:], (2, 3, 1)):
        assert row["CLs_expected"][k] == pytest.approx(0.05, rel=0.01)
