"""Best fits and profile likelihoods: synthetic optimum, the paper's central curve, profile
against a brute-force grid, convergence reporting."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.inference import Transform, best_fit, profile


class Quadratic:
    """chi2 with a known minimum and covariance: x ~ 2 +- 0.1, log10 y ~ -3 +- 0.5, corr 0.6."""

    cov = np.array([[0.01, 0.6 * 0.1 * 0.5], [0.6 * 0.1 * 0.5, 0.25]])

    def parameters(self):
        return ["x", "y"]

    def initial_params(self):
        return {"x": jnp.asarray(0.0), "y": jnp.asarray(1e-5)}

    def chi2(self, p):
        d = jnp.stack([p["x"] - 2.0, jnp.log10(p["y"]) + 3.0])
        return d @ jnp.asarray(np.linalg.inv(self.cov)) @ d


TR = {"x": Transform("linear", -10, 10), "y": Transform("log", 1e-8, 1.0)}


@pytest.mark.parametrize("method", ["bfgs", "optax_lbfgs"])
def test_best_fit_recovers_synthetic_optimum(method):
    fit = best_fit(Quadratic(), transforms=TR, n_starts=6, seed=3, method=method)
    assert fit.converged, fit.message
    assert fit.params["x"] == pytest.approx(2.0, abs=1e-6)
    assert math.log10(fit.params["y"]) == pytest.approx(-3.0, abs=1e-6)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-10)
    # Hessian errors: sigma_x = 0.1; sigma_y = y ln(10) 0.5 (delta method)
    assert fit.errors["x"] == pytest.approx(0.1, rel=1e-4)
    assert fit.errors["y"] == pytest.approx(1e-3 * math.log(10) * 0.5, rel=1e-4)


def test_non_convergence_is_reported():
    fit = best_fit(Quadratic(), transforms=TR, n_starts=2, max_iter=1)
    assert not fit.converged
    assert "NOT converged" in fit.message and "1 iterations" in fit.message


class NoisyQuadratic(Quadratic):
    """Quadratic plus a 1e-7 ripple of period 1e-4 in x: the gradient carries noise of ~1e-2
    (like an inner profile solved to finite accuracy), so a gradient tolerance is never met."""

    value_tolerance = 1e-9

    def chi2(self, p):
        return super().chi2(p) + 1e-7 * jnp.sin(2 * jnp.pi * p["x"] / 1e-4)


def test_value_tolerance_stops_a_noisy_fit():
    """With the likelihood's value_tolerance the fit stops at the minimum (to the ripple's size),
    says so, and the profile's inner fits stop the same way."""
    fit = best_fit(NoisyQuadratic(), transforms=TR, n_starts=2, seed=1, gtol=1e-8)
    assert fit.converged and "ftol" in fit.message, fit.message
    assert fit.params["x"] == pytest.approx(2.0, abs=1e-4)
    assert fit.chi2 == pytest.approx(0.0, abs=1e-6)
    prof = profile(NoisyQuadratic(), {"x": jnp.array([1.9, 2.0, 2.1])}, transforms=TR, fit=fit, gtol=1e-8)
    assert np.all(prof.converged)
    assert np.allclose(prof.delta_chi2, [1.0, 0.0, 1.0], atol=1e-5)  # Delta chi2 = ((x-2)/0.1)^2 with y profiled


@pytest.fixture(scope="module")
def central_fit():
    model = hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0)
    lik = hpjax.Likelihood(model, terms=["belle2"], free=("sin_theta",))
    return model, best_fit(lik, n_starts=4)


def test_best_fit_reproduces_paper_central_curve(central_fit, inputs):
    """sin(theta) ~ 6e-3 at m_hD = 1 GeV (Sec. II A): the fit lands where BR_NP = 2.3e-5 - 4.29e-6."""
    model, fit = central_fit
    assert fit.converged, fit.message
    want = float(hpjax.solve_sin_theta(model, 2.3e-5 - 4.29e-6, inputs=inputs))
    assert fit.params["sin_theta"] == pytest.approx(want, rel=1e-6)
    assert fit.params["sin_theta"] / 6e-3 == pytest.approx(1.0, abs=0.02)
    # BR ~ sin^2: sigma_sin = sin * sigma_BR / (2 BR)
    assert fit.errors["sin_theta"] == pytest.approx(want * 0.7e-5 / (2 * (2.3e-5 - 4.29e-6)), rel=0.01)


@pytest.mark.slow
def test_profile_matches_brute_force_grid():
    """Profile in m_hD (sin theta profiled) of Belle II + Belle K*: equal to the minimum over a fine
    sin(theta) grid, to that grid's resolution; so are the 68 % and 95 % intervals."""
    model = hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0)
    lik = hpjax.Likelihood(model, terms=["belle2", "belle_kstar"])
    masses = jnp.geomspace(2.0, 8.0, 25)
    prof = profile(lik, {"m_hD": masses}, n_starts=4)
    assert prof.converged.all()
    s_grid = jnp.geomspace(1e-3, 0.2, 4000)
    chi2 = jax.jit(jax.vmap(lambda m: jax.vmap(lambda s: lik.chi2({"m_hD": m, "sin_theta": s}))(s_grid)))(masses)
    brute = np.min(np.asarray(chi2), axis=1)
    # a log grid step of r = (0.2/1e-3)^(1/3999) misses the minimum by at most ~ (ln r)^2 x curvature
    assert np.all(prof.chi2 <= brute + 1e-9)
    np.testing.assert_allclose(prof.chi2, brute, atol=2e-3)
    dchi = brute - min(brute.min(), prof.chi2_min)
    for cl, level in ((0.68, 1.0), (0.95, 3.841458820694124)):
        inside_brute = dchi <= level
        for lo, hi in prof.interval(cl):
            sel = (np.asarray(masses) >= lo) & (np.asarray(masses) <= hi)
            assert inside_brute[sel].all()


def test_profile_rejects_bad_poi(central_fit):
    model, _ = central_fit
    lik = hpjax.Likelihood(model, terms=["belle2"], free=("sin_theta",))
    with pytest.raises(ValueError, match="free parameters"):
        profile(lik, {"m_hD": jnp.linspace(1, 2, 3)})
