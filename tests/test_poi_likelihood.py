"""hpjax.inference.adapters.poi_likelihood: any Likelihood (all terms of a dataset) in the
hypothesis tests, with the Asimov data set from every term's ``asimov``.

Checked against: (a) the closed-form Gaussian asymptotics (Cowan, Cranmer, Gross, Vitells,
arXiv:1007.1727, eqs. 16, 65-66), computed here with scipy on Belle II's asymmetric Gaussian and
hpjax's rate at two values of the POI; (b) the defining property of an Asimov data set: the
likelihood on the Asimov data of a point has its maximum at that point (zero gradient in every
parameter, every kind of term).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import hpjax
from hpjax.inference.adapters import poi_likelihood
from hpjax.inference.hypotest import NSIGMA, hypotest, significance
from hpjax.likelihood.measurements import load_measurement
from hpjax.likelihood.names import SM_NUISANCE

jax.config.update("jax_enable_x64", True)

SCALE = 1e-3  # mu = (sin theta / 1e-3)^2
ROOT = Path(__file__).resolve().parents[1]


def _singlet(m_hD, sin_theta=3e-3, m_chi=0.0):
    return hpjax.SingletHiggsPortal(m_hD=m_hD, sin_theta=sin_theta, y_D=1.0, m_chi=m_chi)


def test_gaussian_term_equals_closed_form_asymptotics():
    """belle2 alone (SM fixed): q~_mu, q_A, CLs, its expected band, mu_hat and Z against the
    closed forms on Belle II's Gaussian in the rate x(mu) = SM + BR(B+ -> K+ h_D -> inv)(mu)
    (hpjax's rate at each tested mu; the maximum of ln L is 0 where x reaches the measured value,
    and at mu = 0 on the Asimov data)."""
    lik = hpjax.Likelihood(_singlet(2.0), terms=["belle2"])
    t = poi_likelihood(lik, "sin_theta", scale=SCALE, bounds=(0.0, 100.0))

    def rate(mu):
        model = _singlet(2.0, SCALE * np.sqrt(mu))
        return float(hpjax.predict(model, observables=["BR(B+->K+inv)"])["BR(B+->K+inv)"])

    sm = load_measurement("sm_2023_BpKnunu_BauseGisbertHiller").value
    meas = load_measurement("belle2_2023_BpKnunu_combined")

    def q_closed(mu, v):  # 2 (ln L(mu_hat) - ln L(mu)) with ln L(mu_hat) = 0; q~ = 0 below mu_hat
        d = sm + rate(mu) - v
        return 0.0 if d < 0 else (d / meas.error_up) ** 2

    calls = jax.jit(jax.vmap(lambda mu: hypotest(t, {"mu": mu})))
    mus = np.array([14.0, 40.0, 55.0])  # below and above mu_hat = 35.8
    r = calls(jnp.asarray(mus))
    for i, mu in enumerate(mus):
        q, qa = q_closed(mu, meas.value), q_closed(mu, sm)
        assert float(r["q"][i]) == pytest.approx(q, rel=1e-9, abs=1e-12)
        assert float(r["qA"][i]) == pytest.approx(qa, rel=1e-9)
        sq, sqa = np.sqrt(q), np.sqrt(qa)
        clsb = norm.sf(sq) if sq <= sqa else norm.sf((q + qa) / (2 * sqa))
        clb = norm.cdf(sqa - sq) if sq <= sqa else norm.cdf((qa - q) / (2 * sqa))
        assert float(r["CLs"][i]) == pytest.approx(clsb / clb, rel=1e-8)
        exp = [norm.sf(n + sqa) / norm.sf(n) for n in NSIGMA]
        np.testing.assert_allclose(np.asarray(r["CLs_expected"][i]), exp, rtol=1e-8)
    s = jax.jit(lambda: significance(t))()
    assert float(s["Z"]) == pytest.approx((meas.value - sm) / meas.error_down, rel=1e-9)
    assert float(s["mu_hat"]) == pytest.approx(
        (meas.value - sm) / rate(1.0), rel=1e-5
    )  # the rate is linear in mu to 1e-7


def _asimov_gradient(lik, p):
    """(gradient of ln L on the Asimov data of p, at p; gradient of the observed ln L at p)."""
    # one compiled program (an eager gradient dispatches the terms op by op: slower to first result)
    g_a, g_o = jax.jit(lambda p: (jax.grad(lik.asimov(p).log_likelihood)(p), jax.grad(lik.log_likelihood)(p)))(p)
    return {k: float(v) for k, v in g_a.items()}, {k: float(v) for k, v in g_o.items()}


@pytest.mark.parametrize(
    "dataset, terms, m_hD, conventions, tol",
    [
        # below m_K - m_pi: NA62 and KOTO tables, Higgs invisible, LFU, Belle II's Gaussian with the SM floating
        ("paper", None, 0.15, None, 1e-9),
        # the latest dataset's opt-in terms: BaBar's mass-dependent Gaussian, NA62's off-shell rate,
        # Belle's K* limit (half-normal)
        ("latest", ["belle2", "babar", "na62_pinunu", "koto", "belle_kstar"], 0.4, None, 1e-9),
        # Belle's K* counts under the Poisson convention (background marginalised: the Asimov count
        # is not b0 + k x0, which would put the peak 3 % low in sin theta, but the count that peaks there)
        ("paper", ["belle2", "belle_kstar"], 0.4, {"belle_kstar": "poisson"}, 1e-9),
    ],
)
def test_asimov_likelihood_peaks_at_its_point(dataset, terms, m_hD, conventions, tol):
    lik = hpjax.Likelihood(
        _singlet(m_hD, 2e-3), dataset=dataset, terms=terms, nuisances=[SM_NUISANCE], conventions=conventions
    )
    p = {**lik.initial_params(), "sin_theta": jnp.asarray(2e-3), SM_NUISANCE: jnp.asarray(4.0e-6)}
    g_a, g_o = _asimov_gradient(lik, p)
    for k in g_a:
        assert abs(g_a[k]) <= tol * max(abs(g_o[k]), 1.0), (k, g_a[k], g_o[k])
    # and a maximum, not a saddle: ln L_A falls off in sin theta both ways
    f = jax.jit(jax.vmap(lambda s: lik.asimov(p).log_likelihood({**p, "sin_theta": s})))
    at, below, above = np.asarray(f(jnp.array([2e-3, 1.9e-3, 2.1e-3])))
    assert at > below and at > above


def test_belle2_full_asimov_and_limit_from_its_term():
    """belle2_full (231 nuisances profiled inside the term): the Asimov data set of a signal point
    peaks there, and the term's Asimov counts are the statistical model's expected counts at the
    nuisances profiled at the point (pyhf's expected_data)."""
    lik = hpjax.Likelihood(_singlet(2.0, 4e-3), terms=["belle2_full"])
    p = lik.initial_params()
    g_a, g_o = _asimov_gradient(lik, p)
    for k in g_a:  # the inner Gauss-Newton profile converges to ~1e-8 in ln L
        assert abs(g_a[k]) <= 1e-5 * abs(g_o[k]), (k, g_a[k], g_o[k])
    term = lik.term("belle2_full")
    a = term.asimov(lik.context(p), p)
    b = term.model
    y = b.np_yields(b.spectrum(_singlet(2.0, 4e-3)))
    mu_sm = term._mu_sm(p)  # the dataset's SM prediction over Belle II's template
    _, z, _ = b.profile(y, mu_sm, steps=term.options["steps"])
    np.testing.assert_allclose(
        np.asarray(a._data[0]), np.asarray(b.expected_main(b.signal_factors(y, mu_sm), z)), rtol=1e-12
    )
    np.testing.assert_allclose(np.asarray(a._data[1]), np.asarray(z), rtol=1e-12)


def test_errors_are_one_line():
    lik = hpjax.Likelihood(_singlet(2.0), terms=["belle2"])
    with pytest.raises(ValueError, match="poi 'y_D' is not a free parameter"):
        poi_likelihood(lik, "y_D")
    with pytest.raises(ValueError, match=r"at \['sin_theta'\]"):
        poi_likelihood(lik, "sin_theta", at={"sin_theta": 1e-3})
    with pytest.raises(ValueError, match="bounds"):
        poi_likelihood(lik, "sin_theta", bounds=(-1.0, 3.0))

    class NoAsimov:
        name, observables, measurements, nuisances = "mine", ("BR(B+->K+inv)",), (), ()

        def logpdf(self, context, params, *, constraints=True):
            return -0.5 * (context.predictions["BR(B+->K+inv)"] / 1e-5) ** 2

    lik = hpjax.Likelihood(_singlet(2.0), terms=["belle2", NoAsimov()])
    with pytest.raises(ValueError, match="term 'mine' .* has no asimov"):
        lik.asimov(lik.initial_params())


def test_cli_model_limits(tmp_path):
    """``hpjax hypotest`` task model_limits on belle2 alone at two masses: at the written observed
    limit the closed-form Gaussian CLs (scipy) is 0.05, and the expected median solves
    sqrt(q_A) = Phi^-1(1 - 0.05 / 2) (CLs_exp(0) = 2 Phi(-sqrt(q_A)))."""
    import xarray as xr

    from hpjax.cli.main import main

    text = (ROOT / "fits" / "singlet_limits.toml").read_text()
    text = text.replace("num = 15", "num = 2").replace("stop = 4.5", "stop = 2.0").replace("start = 0.3", "start = 1.0")
    text = text.replace('nuisances = ["BR(B+->K+nunu)_SM"]', 'terms = ["belle2"]')
    text = text.replace('directory = "results/singlet_limits"', f'directory = "{tmp_path / "out"}"')
    spec = tmp_path / "lim.toml"
    spec.write_text(text)
    assert main(["hypotest", str(spec)]) == 0
    ds = xr.open_dataset(tmp_path / "out" / "limits.nc", engine="h5netcdf")
    assert (tmp_path / "out" / "limits.csv").read_text().startswith("m_hD,observed")
    sm = load_measurement("sm_2023_BpKnunu_BauseGisbertHiller").value
    meas = load_measurement("belle2_2023_BpKnunu_combined")
    for m_hD, obs, exp in zip(ds["m_hD"].values, ds["observed"].values, ds["expected"].values):
        x = float(hpjax.predict(_singlet(m_hD, obs, 0.1), observables=["BR(B+->K+inv)"])["BR(B+->K+inv)"])
        q, qa = ((sm + x - meas.value) / meas.error_up) ** 2, (x / meas.error_up) ** 2
        sq, sqa = np.sqrt(q), np.sqrt(qa)
        cls = (
            norm.sf(sq) / norm.cdf(sqa - sq)
            if sq <= sqa
            else norm.sf((q + qa) / (2 * sqa)) / norm.cdf((qa - q) / (2 * sqa))
        )
        assert cls == pytest.approx(0.05, rel=1e-4)
        x_med = float(hpjax.predict(_singlet(m_hD, exp[2], 0.1), observables=["BR(B+->K+inv)"])["BR(B+->K+inv)"])
        assert x_med / meas.error_up == pytest.approx(norm.isf(0.025), rel=1e-4)
