"""hpjax.InvisibleX: a model-independent invisible X in B+ -> K+ X, its q^2 spectrum in Belle II's
generated-q^2 bins (delta or Breit-Wigner) and its likelihoods."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.likelihood.belle2.spectrum import Q2_EDGES, soft_bin_weights
from hpjax.likelihood.belle2.spectrum import resonance_spectrum as _spectrum

jax.config.update("jax_enable_x64", True)
resonance_spectrum = jax.jit(_spectrum, static_argnames=("smoothing",))  # one compilation per smoothing


@pytest.mark.parametrize("smoothing", [0, 2])
def test_spectrum_integrates_to_br_and_reduces_to_delta(smoothing):
    br = 7e-6
    for m, w in ((0.5, 0.3), (2.1, 0.01), (2.1, 0.1), (4.5, 0.3)):
        b = resonance_spectrum(m, w, br, smoothing=smoothing)
        assert float(b.sum()) == pytest.approx(br, rel=1e-12)
        assert float(b.min()) >= 0.0
    delta = np.asarray(soft_bin_weights(2.1**2, smoothing)) * br
    np.testing.assert_allclose(resonance_spectrum(2.1, 0.0, br, smoothing=smoothing), delta, rtol=0, atol=1e-20)
    # width -> 0: the Breit-Wigner tends to the delta (its weight outside the peak bins ~ width)
    for w in (1e-3, 1e-5, 1e-7):
        d = float(jnp.abs(resonance_spectrum(2.1, w, br, smoothing=smoothing) - delta).sum())
        assert d < 100 * w * br, (w, d)  # tail weight ~ (4/pi) m_X^2 width / bin


def test_breit_wigner_bins_are_the_cdf():
    """Hard bins: each bin is the arctan CDF difference of the normalised Breit-Wigner (independent
    numpy integration of the q^2 density); soft bins of a broad X match them up to the window."""
    m, w = 2.0, 0.3
    M, G = m * m, m * m * w
    x = np.linspace(0.0, Q2_EDGES[-1], 400_001)
    rho = 1.0 / ((x - M) ** 2 + G**2)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
    ref = np.diff(np.interp(Q2_EDGES, x, cum)) / cum[-1]
    np.testing.assert_allclose(resonance_spectrum(m, w, 1.0, smoothing=0), ref, rtol=1e-6, atol=1e-12)
    soft = np.asarray(resonance_spectrum(m, w, 1.0, smoothing=2))
    assert np.abs(soft - ref).max() < 0.02 * ref.max()


@pytest.mark.parametrize("smoothing", [0, 2])
def test_spectrum_gradient_in_mass(smoothing):
    """d/dm_X of an efficiency-weighted spectrum equals central finite differences (widths 0 to
    0.3; hard bins only for a Breit-Wigner, whose hard delta is flat); finite at m_X = 0, width = 0."""
    wts = jnp.linspace(0.0, 1.0, 100) ** 2  # an efficiency-like weighting of the bins
    f = jax.jit(
        jax.vmap(
            jax.value_and_grad(lambda m, w: _spectrum(m, w, 1.0, smoothing=smoothing) @ wts, argnums=(0, 1)),
            in_axes=(0, None),
        )
    )
    m, h = jnp.array([0.0, 1.3, 2.1, 4.0]), 1e-6
    for w in (0.0, 0.01, 0.3) if smoothing else (0.1, 0.3):
        (_, (g, gw)) = f(m, w)
        fd = (f(m + h, w)[0] - f(m - h, w)[0]) / (2 * h)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(gw))
        np.testing.assert_allclose(g[1:], fd[1:], rtol=1e-5, atol=1e-9)
    assert np.isfinite(float(f(m, 0.0)[1][1][0]))  # d/dwidth at width = 0


def test_invisible_x_model_and_likelihood():
    x = hpjax.InvisibleX(m_X=2.1, br=9.2e-6)
    assert float(x.width) == 0.0
    assert float(hpjax.predict(x, observables=["BR(B+->K+inv)"])["BR(B+->K+inv)"]) == 9.2e-6
    with pytest.raises(ValueError, match="br = 2.0 is outside the allowed range"):
        hpjax.InvisibleX(2.0, 2.0)
    with pytest.raises(ValueError, match="term 'na62' needs"):
        hpjax.Likelihood(x, terms=["belle2", "na62"])
    lik = hpjax.Likelihood(x, terms=["belle2"])
    assert lik.parameters() == ["m_X", "br"]
    # Belle II's Gaussian: (2.3 +- 0.7) e-6 (asymmetric errors) on SM + X; the SM rate of the dataset
    term = lik.term("belle2")
    m, sm = term.measurement, term.sm
    tot = 9.2e-6 + sm.value
    sig = m.error_up if tot > m.value else m.error_down
    chi2 = float(lik.chi2(lik.initial_params()))
    assert chi2 == pytest.approx(((tot - m.value) / sig) ** 2, rel=1e-10)
    g = jax.jit(jax.grad(lik.chi2))(lik.initial_params())
    assert float(g["m_X"]) == 0.0 and np.isfinite(float(g["br"]))


def test_hypotest_specs(tmp_path):
    """The shipped hypotest specifications read; a bad key is one line naming it."""
    from pathlib import Path

    from hpjax.cli.hypotest import read_spec

    root = Path(__file__).resolve().parents[1] / "fits"
    lim = read_spec(root / "invisible_x_limits.toml")
    assert lim["task"] == "limits" and lim["widths"] == [0.0, 0.01, 0.1, 0.3] and lim["masses"].size == 23
    sig = read_spec(root / "belle2_significance.toml")
    assert sig["task"] == "significance" and sig["toys"] >= 10_000
    bad = tmp_path / "bad.toml"
    bad.write_text('[hypotest]\ntask = "limits"\nmasses = [1.0, 5.0]\n')
    with pytest.raises(SystemExit, match=r"hypotest.masses: 2 values in \[1, 5\]; allowed range \[0, 4.78\]"):
        read_spec(bad)
