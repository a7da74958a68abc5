"""BaBar B+ -> K+ X reinterpretation (Altmannshofer et al., arXiv:2311.14629, as ALPaca ships it) as
the mass-dependent asymmetric-Gaussian term ``babar`` of the ``latest`` dataset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.likelihood.measurements import load_dataset, load_measurement
from hpjax.likelihood.terms import MassGaussianTerm, TermSetup, term_class

NAME = "babar_2013_BpKX_Altmannshofer2023recast"


@pytest.fixture(scope="module")
def rec():
    return load_measurement(NAME)


@pytest.fixture(scope="module")
def term(rec):
    return term_class(rec.kind).from_measurement(rec, TermSetup(name="babar", dataset={}, inputs=None))


def _shared_rows():
    """The shared file's rows, read independently of hpjax (tab-separated, '#' comments)."""
    from pathlib import Path

    p = Path(__file__).resolve().parents[2] / "shared/data/limits/btok_invisible_recasts/alpaca_Babar_BtoK_bestfit.txt"
    if not p.is_file():
        pytest.skip("shared data not on this machine")
    return np.loadtxt(p, comments="#", delimiter="\t")


def test_record_is_the_alpaca_table(rec):
    assert rec.kind == "mass_dependent_gaussian" and isinstance(rec.raw, object)
    assert rec.masses.shape == (282,) and rec.arxiv[0] == "2311.14629"
    assert rec.masses[0] == pytest.approx(0.10033444999999996) and rec.masses[-1] == pytest.approx(2.91973244)
    assert np.all(rec.lower == 0.0) and np.all(rec.upper > rec.central)
    a = _shared_rows()
    np.testing.assert_array_equal(np.stack([rec.masses, rec.central, rec.lower, rec.upper], 1), a)


def test_latest_has_babar_paper_does_not():
    assert load_dataset("latest")["babar"] == [NAME]
    assert "babar" not in load_dataset("paper")
    assert "babar" not in hpjax.likelihood.names.DEFAULT_TERMS


def test_reproduces_table_at_tabulated_points(rec, term):
    assert isinstance(term, MassGaussianTerm)
    idx = np.array([0, 50, 150, 200, 250])
    m = jnp.asarray(rec.masses[idx])
    c, up = rec.central[idx], rec.upper[idx]
    f = jax.jit(jax.vmap(term.logpdf_at))
    np.testing.assert_allclose(f(jnp.asarray(c), m), 0.0, atol=0)  # at the best fit
    np.testing.assert_allclose(f(jnp.asarray(up), m), -0.5, rtol=1e-12)  # upper edge = 1 sigma
    np.testing.assert_allclose(f(jnp.asarray(2 * up - c), m), -2.0, rtol=1e-12)  # 2 sigma
    # below the central value: lower edge 0 = 1 sigma
    np.testing.assert_allclose(f(jnp.zeros(5), m), -0.5, rtol=1e-12)
    # Delta chi2 = 2.71 (90% CL one-sided) at central + 1.645 sigma_up
    x = c + 1.6448536269514722 * (up - c)
    np.testing.assert_allclose(-2 * f(jnp.asarray(x), m), 2.705543454095404, rtol=1e-10)


def test_linear_interpolation_and_smooth_between_points(rec, term):
    i = 120
    m0, m1 = rec.masses[i], rec.masses[i + 1]
    mid = 0.5 * (m0 + m1)
    c = 0.5 * (rec.central[i] + rec.central[i + 1])
    up = 0.5 * (rec.upper[i] + rec.upper[i + 1])
    assert float(term.logpdf_at(jnp.asarray(up), jnp.asarray(mid))) == pytest.approx(-0.5, rel=1e-12)
    assert float(term.logpdf_at(jnp.asarray(c), jnp.asarray(mid))) == pytest.approx(0.0, abs=1e-15)
    # finite gradients in rate and mass, and finite differences agree, between the points
    x, m = jnp.asarray(1.2 * up), jnp.asarray(m0 + 0.3 * (m1 - m0))
    gx, gm = jax.jit(jax.grad(term.logpdf_at, argnums=(0, 1)))(x, m)
    assert np.isfinite(gx) and np.isfinite(gm) and float(gx) < 0
    h = 1e-6 * (m1 - m0)
    fd = (term.logpdf_at(x, m + h) - term.logpdf_at(x, m - h)) / (2 * h)
    assert float(gm) == pytest.approx(float(fd), rel=1e-5)
    # a fine mass scan changes smoothly (no jump larger than the table's own step)
    ms = jnp.linspace(0.2, 2.8, 400)
    v = jax.jit(jax.vmap(term.logpdf_at, (None, 0)))(jnp.asarray(8e-6), ms)
    assert np.all(np.isfinite(v)) and np.max(np.abs(np.diff(v))) < 0.05


def test_no_constraint_outside_table_and_zero_rate_finite(rec, term):
    for m in (0.05, 3.5):
        assert float(term.logpdf_at(jnp.asarray(1e-3), jnp.asarray(m))) == 0.0
    g = jax.grad(term.logpdf_at)(jnp.asarray(0.0), jnp.asarray(1.0))
    assert np.isfinite(g)


def test_prediction_adds_escaping_visible_decays(term):
    from hpjax.likelihood.terms import Context
    from hpjax.likelihood.terms.mass_gaussian import escape_probability

    inp = hpjax.Inputs.default()
    # a stable h_D always escapes; a short-lived one never
    assert float(escape_probability(1.0, 0.0, 5.279, 0.494, 0.53, 0.5, 1.97e-16)) == 1.0
    assert float(escape_probability(1.0, 1e-10, 5.279, 0.494, 0.53, 0.5, 1.97e-16)) == 0.0
    # beta gamma at m = 1 GeV: E* = (mB^2 + m^2 - mK^2) / (2 mB), lab energy gamma_B E*
    mB, mK, m, bg = 5.27941, 0.493677, 1.0, 0.5312
    e = np.sqrt(1 + bg**2) * (mB**2 + m**2 - mK**2) / (2 * mB)
    width = 1e-15
    expect = np.exp(-0.5 * width * m / (np.sqrt(e**2 - m**2) * float(inp.hbar_c)))
    got = escape_probability(m, width, float(inp.m_Bp), float(inp.m_Kp), bg, 0.5, inp.hbar_c)
    assert float(got) == pytest.approx(expect, rel=1e-9)

    class Model:
        m_hD = jnp.asarray(1.0)

    preds = {"BR(B+->K+inv)": 1e-6, "BR(B+->K+hD)": 4e-6, "BR(hD->inv)": 0.25, "Gamma(hD)": width}
    x = term.prediction(Context(predictions=preds, model=Model(), inputs=inp))
    assert float(x) == pytest.approx(1e-6 + 3e-6 * expect, rel=1e-9)
