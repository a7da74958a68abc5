"""The term protocol (issue 11): every registered class follows it, a new kind of term is one
small class registered without touching Likelihood, and no module imports another's private names."""

import ast
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hpjax
from hpjax.likelihood import terms as T
from hpjax.likelihood.measurements import KINDS, load_measurement

ROOT = pathlib.Path(hpjax.__file__).resolve().parent
MODEL = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.1)


def test_every_kind_has_a_term_class_following_the_protocol():
    assert set(T.TERM_CLASSES) == set(KINDS)
    lik = hpjax.Likelihood(MODEL, dataset="latest")
    for name in lik.terms:
        t = lik.term(name)
        assert isinstance(t, T.Term), name
        assert t.observables and t.measurements


class TwoSidedLimit:
    """A new kind of term in a few lines: a limit read as a Gaussian centred at zero whose width
    is the limit over 1.64 (a deliberately different convention), with its own nuisance: an
    efficiency scale eps ~ N(1, 0.1) that multiplies the prediction."""

    COMBINE = "strongest"

    def __init__(self, name, measurement):
        self.name, self.measurement = name, measurement
        self.observables = (measurement.observable,)
        self.measurements = (measurement.name,)
        self.nuisances = (
            T.NuisanceGroup(
                ("eps",),
                np.array([1.0]),
                np.array([[0.01]]),
                np.array([1.0]),
                lambda x: -0.5 * ((x[0] - 1.0) / 0.1) ** 2,
            ),
        )

    @classmethod
    def from_measurement(cls, m, setup):
        return cls(setup.name, m)

    def logpdf(self, context, params, *, constraints=True):
        x = params["eps"] * context.predictions[self.measurement.observable]
        return -0.5 * (1.64 * x / self.measurement.limit) ** 2


def test_a_new_term_object_composes_without_touching_likelihood():
    m = load_measurement("koto_2018_KLpi0nunu")
    lik = hpjax.Likelihood(MODEL, terms=["belle2", TwoSidedLimit("koto_gauss", m)])
    assert lik.terms == ["belle2", "koto_gauss"] and lik.parameters() == ["m_hD", "sin_theta", "eps"]
    p = lik.initial_params()
    parts = lik.breakdown(p)
    br = hpjax.predict(MODEL, observables=[m.observable])[m.observable]
    np.testing.assert_allclose(parts["koto_gauss"], -0.5 * (1.64 * br / m.limit) ** 2, rtol=1e-12)
    np.testing.assert_allclose(lik.breakdown({**p, "eps": jnp.asarray(1.2)})["nuisance_constraints"], -2.0, rtol=1e-12)
    names, mu, cov = lik.nuisance_prior()
    assert names == ["eps"] and mu[0] == 1.0 and cov[0, 0] == pytest.approx(0.01)
    g = jax.jit(jax.grad(lambda e: lik.log_likelihood({**p, "eps": e})))(jnp.asarray(1.0))
    assert np.isfinite(g) and g < 0  # more efficiency, more predicted events, lower ln L


def test_a_registered_class_serves_a_measurement_kind(monkeypatch):
    monkeypatch.setitem(T.TERM_CLASSES, "upper_limit", TwoSidedLimit)
    lik = hpjax.Likelihood(MODEL, dataset="paper", terms=["koto"])
    assert isinstance(lik.term("koto"), TwoSidedLimit) and "eps" in lik.parameters()


def test_duplicates_and_strings_for_lists():
    with pytest.raises(ValueError, match="more than once"):
        hpjax.Likelihood(MODEL, nuisances=["m_t", "m_t"])
    with pytest.raises(ValueError, match="more than once"):
        hpjax.Likelihood(MODEL, terms=["belle2", "belle2"])
    with pytest.raises(ValueError, match="more than once"):
        hpjax.Likelihood(MODEL, free=["m_hD", "m_hD"])
    lik = hpjax.Likelihood(MODEL, terms="belle2", nuisances="m_t", free="m_hD")  # one name, not its characters
    assert lik.terms == ["belle2"] and lik.parameters() == ["m_hD", "m_t"]
    with pytest.raises(ValueError, match="none of the terms"):
        hpjax.Likelihood(MODEL, terms=["koto"], nuisances=["BR(B+->K+nunu)_SM"])


def _private_imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("hpjax")):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    yield f"{path.relative_to(ROOT.parent)}: from {'.' * node.level}{node.module or ''} import {a.name}"


def test_no_module_imports_a_private_name_of_another():
    found = [s for p in sorted(ROOT.rglob("*.py")) for s in _private_imports(p)]
    assert not found, "\n".join(found)


def test_no_test_reads_a_private_attribute_of_a_likelihood():
    here = pathlib.Path(__file__).resolve().parent
    bad = []
    for p in here.glob("test_*.py"):
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if "lik._" in line.replace("lik.__", "") and "# private-ok" not in line and p.name != "test_terms.py":
                bad.append(f"{p.name}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_no_module_is_over_about_400_lines():
    """Issue 11: one module per idea; a module past ~400 lines is doing more than one job."""
    long = {
        str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > 420
    }
    assert not long, long


def test_lfu_term_equals_its_published_formula_and_calls_no_lapack():
    """R = R_SM + BR(B -> K h_D) BR(h_D -> mu mu) f_bin / BR_SM(ee) with f_bin the Breit-Wigner
    fraction in the bin (atan2 differences), and the chi2 with the correlation solved: computed
    here from the predictions; the term's program has no LAPACK call (a constant correlation is
    inverted once), so hpjax scan shards it over every CPU device (hpjax.inference.distributed)."""
    from hpjax.inference.distributed import calls_lapack_on_cpu
    from hpjax.kinematics import bw_fraction

    model = hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.0)
    lik = hpjax.Likelihood(model, dataset="paper", terms=["lfu"])
    for m, s in [(0.5, 2e-3), (1.0, 6e-3), (2.3, 1e-2)]:
        p = {"m_hD": m, "sin_theta": s}
        mod = hpjax.SingletHiggsPortal(m_hD=m, sin_theta=s, y_D=1.0, m_chi=0.0)
        obs = hpjax.predict(mod)
        meas = load_measurement("lhcb_2022_RK_RKstar")
        term = T.LFUTerm("lfu", meas, hpjax.Inputs.default())
        pred = []
        for prod, lo, hi, r_sm, ee in term.sm_bins:
            f = bw_fraction(lo, hi, m**2, m * obs["Gamma(hD)"])
            pred.append(r_sm + obs[prod] * obs["BR(hD->mumu)"] * f / ee)
        pred = np.asarray(pred)
        err = np.asarray(meas.errors)
        d = (pred - np.asarray(meas.values)) / np.where(pred > np.asarray(meas.values), err[:, 0], err[:, 1])
        chi2 = d @ np.linalg.solve(np.asarray(meas.correlation), d)
        assert float(lik.log_likelihood(p)) == pytest.approx(-0.5 * chi2, rel=1e-12)
    lowered = jax.jit(jax.vmap(lambda m: lik.log_likelihood({"m_hD": m, "sin_theta": 1e-3}))).lower(jnp.ones(4))
    assert not calls_lapack_on_cpu(lowered, jax.sharding.Mesh(np.array(jax.devices("cpu")[:1]), ("points",)))
