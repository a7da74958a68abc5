"""Belle II's published pyhf likelihood as the hpjax term ``belle2_full`` (issue 7).

Independent references: pyhf's own numpy backend (values; gradients by Richardson-extrapolated
central differences of it), pyhf's scipy-optimiser MLE (the profile), the published fit
(mu = 4.6 +- 1.3, refit with minuit 4.608 +- 1.317) and the published two-body reinterpretation
(m_X = 2.1 +0.2 -0.1 GeV, BR = 9.2 +1.8 -3.4 e-6, arXiv:2602.09666), both in
hpjax/data/belle2_knunu/template.toml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import xla_flags

import hpjax
from hpjax.likelihood.belle2_full import (
    BR_TEMPLATE,
    Q2_EDGES,
    Belle2Full,
    constants,
    new_physics_spectrum,
    soft_bin_weights,
    template_bin_br,
)

pyhf = pytest.importorskip("pyhf")
C = constants()


@pytest.fixture(scope="session")
def b2():
    return Belle2Full()


@pytest.fixture(scope="session")
def published(b2):
    return b2.published_fit()


@pytest.fixture(scope="session")
def numpy_model(b2):
    prev = pyhf.get_backend()
    pyhf.set_backend("numpy")
    try:
        model = pyhf.Workspace(b2.spec).model()
    finally:
        pyhf.set_backend(*prev)
    return model


def _numpy_logpdf(model, pars, data):
    prev = pyhf.get_backend()
    pyhf.set_backend("numpy", precision="64b")
    try:
        return float(model.logpdf(np.asarray(pars, dtype=float), np.asarray(data, dtype=float))[0])
    finally:
        pyhf.set_backend(*prev)


# ---- the SM template and the signal map ------------------------------------------------------
def test_template_normalisation_and_maps(b2):
    """The SM template integrates to Belle II's mu = 1 BR (4.97e-6) and the maps' row sums give
    the published signal nominals (the map columns are efficiency x template)."""
    assert BR_TEMPLATE == pytest.approx(4.966e-6, rel=2e-4)
    assert template_bin_br(Q2_EDGES).sum() == pytest.approx(BR_TEMPLATE, rel=1e-12)
    from scipy.integrate import quad

    from hpjax.likelihood.belle2_full import template_dbr_dq2

    ref, _ = quad(template_dbr_dq2, 0.0, C["binning"]["q2_max"], epsabs=0, epsrel=1e-12, limit=200)
    assert BR_TEMPLATE == pytest.approx(ref, rel=1e-9)
    for key in b2.maps:
        rows = b2.rows[key]
        assert np.allclose(b2.maps[key].sum(1), np.asarray(b2.sm_nominal[rows]), atol=4e-5)
    # the efficiency applied to the template spectrum returns the nominals (sentinel column aside)
    sentinel = np.concatenate([b2.maps[k][:, 0] for k in ("ita_sr", "ita_cr", "hta")])
    assert np.allclose(
        np.asarray(b2.np_yields(jnp.asarray(b2.template_bins))) + sentinel, np.asarray(b2.sm_nominal), atol=4e-5
    )


def test_soft_bins_conserve_and_are_smooth():
    q2 = jnp.linspace(0.0, C["binning"]["q2_max"], 301)
    for degree in (1, 2, 3):
        w = soft_bin_weights(q2, degree)
        assert np.allclose(w.sum(-1), 1.0, atol=1e-14) and float(w.min()) >= 0.0
        # mean q^2 of the window is the event's q^2 (away from the folded edges)
        centres = (Q2_EDGES[:-1] + Q2_EDGES[1:]) / 2
        inner = (q2 > 1.0) & (q2 < 21.0)
        assert np.allclose((w @ centres)[inner], q2[inner], atol=1e-12)
    g = jax.grad(lambda x: soft_bin_weights(x, 2) @ jnp.arange(100.0))(4.41)
    assert np.isfinite(g) and g > 0


def test_spectrum_sums_to_predict(b2):
    """The binned new-physics spectrum sums to predict()'s BR(B+ -> K+ inv), hard or soft bins."""
    m = hpjax.SingletHiggsPortal(2.0, 4e-3, 1.0, 0.0)
    br = float(hpjax.predict(m)["BR(B+->K+inv)"])
    for smoothing in (0, 2):
        assert float(new_physics_spectrum(m, smoothing=smoothing).sum()) == pytest.approx(br, rel=1e-6)
    hard = np.asarray(new_physics_spectrum(m, smoothing=0))
    assert np.argmax(hard) == int(4.0 / (C["binning"]["q2_max"] / 100))  # the bin of q^2 = m_hD^2


# ---- the published fit -----------------------------------------------------------------------
def test_published_fit_reproduced(b2, published):
    p = C["published"]
    assert published["decrement"] < 1e-8
    assert published["mu"] == pytest.approx(p["mu"], abs=0.05)
    assert published["mu_error"] == pytest.approx(p["mu_error"], abs=0.05)
    assert published["mu"] == pytest.approx(p["mu_refit_minuit"], abs=0.02)
    assert -2 * published["logpdf"] == pytest.approx(p["twice_nll_refit"], abs=2e-3)
    shipped = b2.shipped_fit()  # the packaged warm start is this fit
    assert shipped["logpdf"] == pytest.approx(published["logpdf"], abs=1e-8)
    assert np.allclose(shipped["nuisances"], published["nuisances"], atol=1e-5)


def test_values_and_gradients_match_pyhf_numpy(b2, numpy_model):
    """belle2_full's logpdf (lean backend) equals pyhf's numpy backend to 1e-8 relative, and
    its autodiff gradient equals Richardson-extrapolated differences of the numpy backend."""
    m = hpjax.SingletHiggsPortal(2.1, 3.5e-3, 1.0, 0.0)
    y = b2.np_yields(b2.spectrum(m))
    nuis = jnp.asarray(b2.default_start()) + 0.05 * jnp.sin(jnp.arange(b2.n_nuisances))
    fac = b2.signal_factors(y, 0.9)
    f = lambda nz, fc: b2.logpdf_factors(fc, nz)  # noqa: E731
    val = float(jax.jit(f)(nuis, fac))
    pars = np.asarray(b2.pyhf.pars(nuis, fac))
    ref = _numpy_logpdf(numpy_model, pars, b2.data)
    assert val == pytest.approx(ref, rel=1e-8)
    g_n, g_f = jax.jit(jax.grad(f, argnums=(0, 1)))(nuis, fac)
    full = np.asarray(b2.pyhf.pars(g_n, g_f))  # gradient in the full pyhf vector (mu slot: unused)

    def fd(i, h):
        e = np.zeros_like(pars)
        e[i] = h
        return (_numpy_logpdf(numpy_model, pars + e, b2.data) - _numpy_logpdf(numpy_model, pars - e, b2.data)) / (2 * h)

    cfg = b2.pyhf.model.config
    sf = [cfg.par_slice("hpjax_np_ita_sr").start + 4, cfg.par_slice("hpjax_np_hta").start + 1]
    idx = [int(i) for i in np.argsort(-np.abs(full))[:4]] + sf + [5, 100]
    for i in idx:
        h = 1e-3 * max(abs(pars[i]), 1e-2)
        rich = (4 * fd(i, h / 2) - fd(i, h)) / 3
        assert full[i] == pytest.approx(rich, rel=1e-8, abs=1e-9 * max(1.0, abs(ref))), (i, cfg.par_order)


@pytest.fixture(scope="session")
def profile6(b2):
    """One compiled, vmapped 6-step profile from a given start (iterate it for more steps)."""
    return jax.jit(jax.vmap(lambda y, z0: b2.profile(y, 1.0, init=z0, steps=6)))


def _iterate(profile6, ys, b2, rounds):
    z = jnp.broadcast_to(jnp.asarray(b2.default_start()), (ys.shape[0], b2.n_nuisances))
    out = []
    for _ in range(rounds):
        lnl, z, dec = profile6(ys, z)
        out.append((np.asarray(lnl), np.asarray(dec)))
    return out, z


def test_profile_matches_an_independent_optimiser(b2, profile6):
    """The Gauss-Newton profile over the 231 nuisances reaches the maximum that scipy's L-BFGS-B
    finds on the same (pyhf) log-likelihood, within pyhf's bounds."""
    from scipy.optimize import minimize

    y = b2.two_body_yields(2.1, 8.7e-6)
    (_, (ours, dec)), z = _iterate(profile6, y[None], b2, 2)
    fac = b2.signal_factors(y, 1.0)
    f = jax.jit(jax.value_and_grad(lambda z: -b2.logpdf_factors(fac, z)))

    def fun(x):
        v, g = f(jnp.asarray(x))
        return float(v), np.asarray(g, dtype=float)

    lo, hi = (np.asarray(x) for x in b2.nuisance_bounds)
    res = minimize(
        fun,
        np.asarray(b2.nuisance_init),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo, hi)),
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10},
    )
    theirs = -res.fun
    assert float(dec[0]) < 1e-6
    assert float(ours[0]) >= theirs - 1e-7  # at least as good as scipy's optimum ...
    assert float(ours[0]) == pytest.approx(theirs, abs=1e-4)  # ... and the same maximum


def test_profile_steps_converge(b2, profile6):
    """6 steps from the packaged start reach the 30-step maximum to < 1e-4 in ln L for hypotheses
    from no signal to mu = 10 and for two-body signals (6 is the default of the scans)."""
    ys = jnp.stack(
        [
            0.0 * b2.sm_nominal,
            2.0 * b2.sm_nominal,
            9.0 * b2.sm_nominal,
            b2.two_body_yields(2.1, 9e-6),
            b2.two_body_yields(1.0, 2e-5),
        ]
    )
    rounds, _ = _iterate(profile6, ys, b2, 5)
    l6, l30 = rounds[0][0], rounds[-1][0]
    assert np.all(np.diff(np.stack([r[0] for r in rounds]), axis=0) >= -1e-9)  # monotone
    assert np.max(l30 - l6) < 1e-4
    assert np.max(rounds[-1][1]) < 1e-9


def test_two_body_reinterpretation(b2):
    """A narrow invisible X: the best mass and BR agree with the published reinterpretation of
    this likelihood (arXiv:2602.09666: m_X = 2.1 +0.2 -0.1 GeV, BR = 9.2 +1.8 -3.4 e-6)."""
    r = C["reinterpretation"]["two_body"]
    ms = jnp.linspace(1.5, 3.0, 31)
    lnl, br, dec = jax.jit(jax.vmap(lambda m: b2.fit_two_body(m, 1.0)))(ms)
    assert float(jnp.max(dec)) < 1e-6
    i = int(jnp.argmax(lnl))
    m_best, br_best = float(ms[i]), float(br[i])
    assert r["m_X"] - r["m_X_error_down"] <= m_best <= r["m_X"] + r["m_X_error_up"]
    assert r["br"] - r["br_error_down"] <= br_best <= r["br"] + r["br_error_up"]
    # and the data prefer it over the SM alone by > 3 sigma (the paper's Gaussian cannot see the mass)
    l_sm = float(jax.jit(lambda: b2.profile(jnp.zeros(18), 1.0, steps=12)[0])())
    assert 2 * (float(lnl[i]) - l_sm) > 9.0


# ---- the Likelihood term ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def lik_full():
    m = hpjax.SingletHiggsPortal(2.0, 4e-3, 1.0, 0.0)
    return hpjax.Likelihood(m, terms=["belle2_full"], nuisances=["BR(B+->K+nunu)_SM"], belle2_full={"steps": 10})


@pytest.fixture(scope="session")
def full_fns(lik_full):
    return jax.jit(lik_full.log_likelihood), jax.jit(jax.grad(lik_full.log_likelihood))


def test_term_gradient_is_the_profile_gradient(lik_full, full_fns):
    """The envelope-theorem gradient of the profiled term equals finite differences of its value."""
    p = lik_full.initial_params()
    ll, grad = full_fns
    g = grad(p)
    for name, h in (("sin_theta", 1e-7), ("m_hD", 1e-5), ("BR(B+->K+nunu)_SM", 1e-9)):
        fd = (ll({**p, name: p[name] + h}) - ll({**p, name: p[name] - h})) / (2 * h)
        assert float(g[name]) == pytest.approx(float(fd), rel=1e-4), name
    assert all(np.isfinite(float(v)) for v in g.values())


def test_float_mode_equals_profile_at_the_profiled_nuisances(lik_full):
    """nuisances="float" exposes the 231 Belle II nuisances as parameters; at the profiled values
    it reproduces the profiled term, and constraints=False drops exactly pyhf's constraint terms."""
    m = hpjax.SingletHiggsPortal(2.0, 4e-3, 1.0, 0.0)
    lf = hpjax.Likelihood(m, terms=["belle2_full"], belle2_full={"nuisances": "float"})
    b = lf.term("belle2_full").model
    assert len(lf.parameters()) == 2 + b.n_nuisances and lf.nuisances[0].startswith("belle2:")
    names, mu, cov = lf.nuisance_prior()
    assert names == list(lf.nuisances) and np.allclose(np.sqrt(np.diag(cov)), b.nuisance_sigma)
    sm = hpjax.likelihood.measurements.load_measurement("sm_2023_BpKnunu_BauseGisbertHiller").value
    y = b.np_yields(b.spectrum(m))
    lp, z, _ = jax.jit(lambda y: b.profile(y, sm / BR_TEMPLATE, steps=10))(y)
    p = {"m_hD": 2.0, "sin_theta": 4e-3, **dict(zip(lf.nuisances, z))}
    assert float(jax.jit(lf.log_likelihood)(p)) == pytest.approx(float(lp) - b.reference_logpdf, abs=1e-9)
    main = float(jax.jit(lambda p: lf.log_likelihood(p, constraints=False))(p))
    aux = float(b.pyhf.constraint_logpdf(z))
    assert main + aux == pytest.approx(float(lp) - b.reference_logpdf, abs=1e-8)


def test_outside_domain_is_minus_inf_without_nan(lik_full, full_fns):
    p = {**lik_full.initial_params(), "sin_theta": jnp.asarray(2.0)}
    v, g = full_fns[0](p), full_fns[1](p)
    assert float(v) == -np.inf and all(np.isfinite(float(x)) for x in g.values())


def test_term_errors():
    m = hpjax.SingletHiggsPortal(2.0, 4e-3, 1.0, 0.0)
    with pytest.raises(ValueError, match="same measurement"):
        hpjax.Likelihood(m, terms=["belle2", "belle2_full"])
    with pytest.raises(ValueError, match="unknown belle2_full option"):
        hpjax.Likelihood(m, terms=["belle2_full"], belle2_full={"nuisance": "float"})
    with pytest.raises(ValueError, match="smoothing = 7"):
        hpjax.Likelihood(m, terms=["belle2_full"], belle2_full={"smoothing": 7})
    assert "belle2_full" not in hpjax.Likelihood(m).terms  # terms=None keeps the Gaussian term


def test_belle2_full_figure_content(tmp_path):
    """The figure of fits/belle2_full_scan.toml from a synthetic scan: the full-likelihood region
    sits around its minimum, the Gaussian band around BR_NP = 1.9e-5, the profiles start at 0."""
    import json

    import xarray as xr

    from hpjax.plotting import draw

    m = np.geomspace(0.1, 5.0, 30)
    s = np.geomspace(1e-3, 3e-2, 25)
    M, S = np.meshgrid(m, s, indexing="ij")
    logl = -0.5 * ((np.log(M / 2.1) / 0.08) ** 2 + ((S - 4.3e-3) / 6e-4) ** 2)
    br = 1.87e-5 * (S / 6e-3) ** 2
    ds = xr.Dataset(
        {"logL_belle2_full": (("m_hD", "sin_theta"), logl), "obs_BR(B+->K+inv)": (("m_hD", "sin_theta"), br)},
        coords={"m_hD": m, "sin_theta": s},
        attrs={"identity": json.dumps({"dataset": "paper"})},
    )
    out = draw("belle2_full", ds, tmp_path / "b2", formats=("png",))
    assert (tmp_path / "b2.png").stat().st_size > 10_000
    assert abs(np.log(out["best_m_hD"] / 2.1)) < 0.1 and abs(out["best_sin_theta"] / 4.3e-3 - 1) < 0.1
    i = int(np.argmin(abs(m - 1.0)))
    band_s = s[out["band"][i]]
    assert band_s.min() < 6e-3 < band_s.max()  # the paper's band holds its central curve at 1 GeV
    assert out["region68"].sum() < out["region95"].sum() < out["band"].sum()
    assert out["profile_full"].min() == 0.0 and out["profile_full"][0] > 4.0
    assert np.allclose(out["profile_gauss"], 0.0, atol=0.05)  # the Gaussian cannot see the mass


def test_scan_with_profiled_nuisances(lik_full, full_fns, tmp_path):
    """A grid scan (shard_map over devices, lax.map blocks) of the profiled term equals the
    likelihood evaluated point by point."""
    from hpjax.inference.scan import scan

    axes = {"m_hD": np.array([1.0, 2.1, 2.6]), "sin_theta": np.array([3e-3, 5e-3])}
    ds = scan(lik_full, axes, tmp_path, chunk_size=6, progress=False)
    base = lik_full.initial_params()
    for i, m in enumerate(axes["m_hD"]):
        for j, s in enumerate(axes["sin_theta"]):
            ref = float(full_fns[0]({**base, "m_hD": m, "sin_theta": s}))
            assert float(ds["log_likelihood"].values[i, j]) == pytest.approx(ref, rel=1e-10, abs=1e-10)


# ---- joint Gauss-Newton profile (issue 12) ----------------------------------------------------
def test_joint_profile_is_the_minimum_over_a_profiled_grid():
    """The joint Gauss-Newton profile in m_hD (sin theta and the 231 nuisances fitted together)
    agrees with the minimum over sin theta of the likelihood profiled point by point (inner
    Gauss-Newton): at the profile's sin theta the two chi2 agree, and no grid point (a coarse grid
    over the whole range, a fine one around the optimum) lies lower. The full check at the 100
    masses of fits/belle2_full_profile_mhD.toml: benchmarks/belle2_profile_check.py."""
    from hpjax.inference import FitResult, Transform, profile

    m = hpjax.SingletHiggsPortal(2.0, 4e-3, 1.0, 0.0)
    lik = hpjax.Likelihood(m, terms=["belle2_full"], belle2_full={"steps": 12})
    tr = {"m_hD": Transform("log", 0.1, 5.0), "sin_theta": Transform("log", 1e-3, 3e-2)}
    start = FitResult({"m_hD": 2.085, "sin_theta": 4.25e-3}, -5.768, True, "given")
    masses = np.array([1.0, 2.1, 3.5])
    prof = profile(lik, {"m_hD": masses}, transforms=tr, fit=start)
    assert prof.converged.all()
    s_prof = prof.profiled["sin_theta"]
    coarse = np.geomspace(1e-3, 3e-2, 13)
    fine = np.clip(s_prof[:, None] * 10.0 ** (0.02 * np.arange(-2, 3)), 1e-3, 3e-2)  # offset 0 in the middle
    s = np.concatenate([np.broadcast_to(coarse, (3, 13)), fine], axis=1)
    mm = np.broadcast_to(masses[:, None], s.shape)
    chi2 = jax.jit(jax.vmap(lambda a, b: lik.chi2({"m_hD": a, "sin_theta": b})))(mm.ravel(), s.ravel())
    chi2 = np.asarray(chi2).reshape(s.shape)
    np.testing.assert_allclose(prof.chi2, chi2[:, 13 + 2], atol=1e-4)  # same sin theta: same chi2
    assert np.all(prof.chi2 <= chi2.min(axis=1) + 1e-6)
    # h_D at 2.1 GeV: the data's preferred mass; 1 GeV disfavoured by Delta chi2 > 9
    assert prof.chi2[1] < prof.chi2[0] - 9.0 and 3e-3 < s_prof[1] < 6e-3


LAPACK_SCRIPT = """
import json, sys, numpy as np, jax, hpjax
from hpjax.inference.scan import scan
lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(2.0, 4e-3, 1.0, 0.0), terms=["belle2_full"], belle2_full={"steps": 3})
lines = []
ds = scan(lik, {"sin_theta": np.array([3e-3, 5e-3])}, sys.argv[1], chunk_size=2, progress=False, log=lines.append)
ref = [float(jax.jit(lik.log_likelihood)({"m_hD": 2.0, "sin_theta": s})) for s in (3e-3, 5e-3)]
print(json.dumps({"devices": jax.device_count(), "n_devices": int(ds.attrs["n_devices"]), "lines": lines,
                  "scan": ds["log_likelihood"].values.tolist(), "ref": ref}))
"""


def test_scan_with_lapack_runs_on_one_cpu_device_per_process(tmp_path):
    """On two CPU devices of one process, a profiled belle2_full chunk program (LAPACK Cholesky
    calls) hangs in XLA's CPU runtime (docs/belle2-fits.md); scan() then runs it on one device per
    process, says so in one line, and returns the point-by-point values. The timeout turns a
    regression (the hang) into a failure instead of a stuck suite."""
    env = {**os.environ, "XLA_FLAGS": xla_flags("--xla_force_host_platform_device_count=2"), "JAX_PLATFORMS": "cpu"}
    r = subprocess.run(
        [sys.executable, "-c", LAPACK_SCRIPT, str(tmp_path / "scan")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2 and out["n_devices"] == 1
    assert any("calls LAPACK" in line and "one device per process" in line for line in out["lines"])
    np.testing.assert_allclose(out["scan"], out["ref"], rtol=1e-10)
