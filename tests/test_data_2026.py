"""Issue 15 data: the 2024-2026 records load with the numbers as published, and the CMS Higgs scenario."""

from statistics import NormalDist

import jax.numpy as jnp
import pytest

from hpjax.likelihood.measurements import load_dataset, load_measurement
from hpjax.likelihood.terms import Context, TermSetup, term_class


def test_koto_2021_as_published():
    m = load_measurement("koto_2024_KLpi0nunu")
    assert (m.limit, m.cl, m.arxiv) == (2.2e-9, 0.90, ("2411.11237",))
    assert "1.6e-9" in m.notes and "koto_2018_KLpi0X_mass" in m.notes


def test_na62_2016_22_as_published():
    m = load_measurement("na62_2024_Kpinunu")
    assert (m.value, m.error_up, m.error_down) == (13.0e-11, 3.3e-11, 3.0e-11)
    assert m.arxiv == ("2412.12015",)


def test_latest_has_cms_scenario_paper_unchanged():
    d = load_dataset("latest")
    assert d["higgs_invisible"]["scenarios"]["lhc_cms"] == "cms_2023_hinv_combination"
    assert d["higgs_invisible"]["default"] == "lhc"
    assert "lhc_cms" not in load_dataset("paper")["higgs_invisible"]["scenarios"]


def test_cms_scenario_term_at_its_limit():
    m = load_measurement("cms_2023_hinv_combination")
    term = term_class(m.kind).from_measurement(m, TermSetup(name="higgs_invisible", dataset={}, inputs=None))
    ctx = Context(predictions={"BR(h->inv)": jnp.asarray(0.15)}, model=None, inputs=None)
    # half-normal: at the 95% CL limit ln L = -z^2/2 with z = Phi^-1(0.975)
    z = NormalDist().inv_cdf(0.975)
    assert float(term.logpdf(ctx, {})) == pytest.approx(-0.5 * z * z, rel=1e-12)


def test_latest_koto_is_the_2015_curve_and_the_2021_flat_limit():
    d = load_dataset("latest")
    assert d["koto"] == ["koto_2018_KLpi0X_mass"] and d["koto_nunu"] == ["koto_2024_KLpi0nunu"]
    curve = load_measurement("koto_2018_KLpi0X_mass")
    # the flat 2021 limit is the stronger one at every tabulated mass of the 2015 curve
    assert (curve.values >= 2.2e-9).all()
    assert load_dataset("paper")["koto"] == ["koto_2018_KLpi0nunu"]
