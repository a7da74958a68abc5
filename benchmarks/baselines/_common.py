"""Data and likelihood terms shared by the numpy/scipy baselines (no JAX at evaluation time).

What comes from hpjax, and why that is fair to the baselines:

* numbers only: input values (``hpjax.inputs.input_info``, read from ``hpjax/data/inputs.toml``),
  the FORESEE hadronic-width table (``hpjax.widths.hadronic_width_table``, a numpy loader), the
  measurements of the ``paper`` dataset (``hpjax.likelihood.measurements``: limits, CLs, the NA62
  mass/lifetime grid, the LHCb R_K(*) values and correlation);
* the SM B -> K(*) l l binned rates of the ``lfu`` term, computed once at set-up with
  ``hpjax.bkll.br_bin_sm`` exactly as ``hpjax.Likelihood`` computes them once at construction.
  They do not depend on any scanned or sampled parameter, so they cost nothing per point in
  either implementation.

Every per-point formula (rates, widths, the term functions below) is numpy here, written from
the paper and from hpjax's documented conventions. The term functions take numpy scalars or
arrays (the per-point baseline (a) calls them with floats, the vectorised baseline (b) with
arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

#: the singlet benchmark of fits/*.toml: y_D = 1, m_chi = 0
Y_D, M_CHI = 1.0, 0.0
#: the 4 meson channels: parent mass, daughter mass, lifetime, kind ("PP" B->K, "PV" B->K*, "Kpi")
CHANNELS = {
    "B+->K+": ("m_Bp", "m_Kp", "tau_Bp", "BK"),
    "B0->K*0": ("m_B0", "m_Kstar0", "tau_B0", "BKstar"),
    "K+->pi+": ("m_Kp", "m_pip", "tau_Kp", "Kpi"),
    "KL->pi0": ("m_K0", "m_pi0", "tau_KL", "Kpi"),
}
INV_OBS = {
    "B+->K+": "BR(B+->K+inv)",
    "B0->K*0": "BR(B0->K*0inv)",
    "K+->pi+": "BR(K+->pi+inv)",
    "KL->pi0": "BR(KL->pi0inv)",
}
PROD_OBS = {
    "B+->K+": "BR(B+->K+hD)",
    "B0->K*0": "BR(B0->K*0hD)",
    "K+->pi+": "BR(K+->pi+hD)",
    "KL->pi0": "BR(KL->pi0hD)",
}
TERMS_ALL = ("belle2", "belle_kstar", "na62", "koto", "higgs_invisible", "lfu")
#: the terms of fits/singlet_posterior.toml
TERMS_POSTERIOR = ("belle2", "belle_kstar", "na62", "koto", "higgs_invisible")
#: nuisances of fits/singlet_posterior.toml
NUISANCES_POSTERIOR = (
    "BR(B+->K+nunu)_SM",
    "BK_f0_a0",
    "BK_f0_a1",
    "BK_f0_a2",
    "BKstar_A0_a0",
    "BKstar_A0_a1",
    "BKstar_A0_a2",
)
SM_NUISANCE = "BR(B+->K+nunu)_SM"


def default_inputs() -> dict:
    """Central input values (floats) of hpjax's default input set (Table II form factors)."""
    from hpjax.inputs import input_info

    return {k: float(v.value) for k, v in input_info().items()}


def hadronic_table() -> tuple[np.ndarray, np.ndarray]:
    """(mass [GeV], Gamma_had(theta = 1) / hbar_c [1/m]) from FORESEE (numpy loader)."""
    from hpjax.widths import hadronic_width_table

    m, inv_ctau = hadronic_width_table()
    return np.asarray(m, dtype=float), np.asarray(inv_ctau, dtype=float)


def _z(cl: float) -> float:
    return NormalDist().inv_cdf(0.5 * (1.0 + cl))


class NumpyLimitTable:
    """hpjax.likelihood.terms.LimitTable in numpy: log10(UL) interpolated linearly in
    (m, log10 tau), +inf outside the mass range or where the interpolation touches a NaN."""

    def __init__(self, masses, values, lifetimes):
        masses = np.asarray(masses, dtype=float)
        values = np.asarray(values, dtype=float)
        lifetimes = np.asarray(lifetimes, dtype=float)
        valid = np.isfinite(values) & (values > 0)
        self.m = masses
        self.lt = np.log10(lifetimes)
        self.logv = np.where(valid, np.log10(np.where(valid, values, 1.0)), 0.0)
        self.valid = valid.astype(float)

    def _interp2(self, grid, m, lt):
        i = np.clip(np.searchsorted(self.m, m, side="right") - 1, 0, self.m.size - 2)
        fm = np.clip((m - self.m[i]) / (self.m[i + 1] - self.m[i]), 0.0, 1.0)
        j = np.clip(np.searchsorted(self.lt, lt, side="right") - 1, 0, self.lt.size - 2)
        ft = np.clip((lt - self.lt[j]) / (self.lt[j + 1] - self.lt[j]), 0.0, 1.0)
        c0 = grid[i, j] * (1 - fm) + grid[i + 1, j] * fm
        c1 = grid[i, j + 1] * (1 - fm) + grid[i + 1, j + 1] * fm
        return c0 * (1 - ft) + c1 * ft

    def limit(self, m, tau=None):
        m = np.asarray(m, dtype=float)
        if tau is None:
            lt = np.full_like(m, self.lt[-1])
        else:
            lt = np.clip(np.log10(np.maximum(tau, 1e-300)), self.lt[0], self.lt[-1])
        inside = (m >= self.m[0]) & (m <= self.m[-1])
        ok = inside & (self._interp2(self.valid, m, lt) > 1.0 - 1e-12)
        logv = self._interp2(self.logv, m, lt)
        return np.where(ok, 10.0 ** np.where(ok, logv, 0.0), np.inf)


@dataclass
class PaperData:
    """The constants of every term of the ``paper`` dataset (default conventions: half-normal
    upper limits, the LHC Higgs-invisible scenario)."""

    belle2_value: float
    belle2_up: float
    belle2_down: float
    sm_value: float
    sm_up: float
    sm_down: float
    sigma_kstar: float
    sigma_koto: float
    sigma_hinv: float
    z_na62: float
    na62: NumpyLimitTable
    lfu_rows: list  # (production observable, q2 lo, q2 hi, R_SM, BR_SM(ee, bin))
    lfu_values: np.ndarray
    lfu_up: np.ndarray
    lfu_down: np.ndarray
    lfu_corr_inv: np.ndarray


def load_paper_data(inputs: dict | None = None) -> PaperData:
    """Read the ``paper`` dataset's measurements (hpjax's numpy-level loaders)."""
    from hpjax.likelihood import measurements as db

    ds = db.load_dataset("paper")
    get = lambda term: db.load_measurement(ds[term][0])  # noqa: E731
    b2 = get("belle2")
    sm = db.load_measurement(ds["sm_prediction"][0])
    ks = get("belle_kstar")
    na = get("na62")
    ko = get("koto")
    hi = db.load_measurement(ds["higgs_invisible"]["scenarios"][ds["higgs_invisible"]["default"]])
    lf = get("lfu")
    assert ks.kind == "counts" and ko.kind == "upper_limit" and hi.kind == "upper_limit"
    assert na.kind == "mass_dependent_upper_limit" and lf.kind == "correlated_gaussian"
    rows = _lfu_sm_rows(lf, inputs)
    err = np.asarray(lf.errors, dtype=float)
    return PaperData(
        belle2_value=b2.value,
        belle2_up=b2.error_up,
        belle2_down=b2.error_down,
        sm_value=sm.value,
        sm_up=sm.error_up,
        sm_down=sm.error_down,
        sigma_kstar=ks.limit / _z(ks.cl),
        sigma_koto=ko.limit / _z(ko.cl),
        sigma_hinv=hi.limit / _z(hi.cl),
        z_na62=_z(na.cl),
        na62=NumpyLimitTable(na.masses, na.values, na.lifetimes),
        lfu_rows=rows,
        lfu_values=np.asarray(lf.values, dtype=float),
        lfu_up=err[:, 0],
        lfu_down=err[:, 1],
        lfu_corr_inv=np.linalg.inv(np.asarray(lf.correlation, dtype=float)),
    )


def _lfu_sm_rows(lf, inputs):
    """SM binned B -> K(*) l l rates (constants of the lfu term; see the module doc)."""
    import hpjax  # noqa: F401  (x64)
    from hpjax.bkll import br_bin_sm
    from hpjax.inputs import Inputs

    inp = Inputs.default()
    chan = {"R_K": ("B+->K+", "BR(B+->K+hD)"), "R_K*": ("B0->K*0", "BR(B0->K*0hD)")}
    rows = []
    for obs, (lo, hi) in zip(lf.observables, lf.q2_bins):
        ch, prod = chan[obs]
        ee = float(br_bin_sm(ch, lo, hi, inp.m_e, inp))
        mumu = float(br_bin_sm(ch, lo, hi, inp.m_mu, inp))
        rows.append((prod, float(lo), float(hi), mumu / ee, ee))
    return rows


def _asym_gauss(x, mu, up, down):
    sigma = np.where(x > mu, up, down)
    return -0.5 * ((x - mu) / sigma) ** 2


def _half_normal(x, sigma):
    return -0.5 * (np.maximum(x, 0.0) / sigma) ** 2


def term_logpdfs(obs: dict, m_hD, data: PaperData, terms=TERMS_ALL, sm_value=None) -> dict:
    """ln L of each term (chi2 convention) from the observables ``obs`` (numpy scalars or arrays
    of equal shape). ``sm_value`` replaces the fixed SM prediction (the SM nuisance)."""
    sm = data.sm_value if sm_value is None else sm_value
    out = {}
    if "belle2" in terms:
        out["belle2"] = _asym_gauss(sm + obs["BR(B+->K+inv)"], data.belle2_value, data.belle2_up, data.belle2_down)
    if "belle_kstar" in terms:
        out["belle_kstar"] = _half_normal(obs["BR(B0->K*0inv)"], data.sigma_kstar)
    if "na62" in terms:
        t = data.na62
        r = obs["BR(K+->pi+inv)"] / t.limit(m_hD)
        vis = obs["BR(K+->pi+hD)"] * (1.0 - obs["BR(hD->inv)"])
        r = r + vis / t.limit(m_hD, obs["tau(hD)"])
        out["na62"] = -0.5 * (data.z_na62 * r) ** 2
    if "koto" in terms:
        out["koto"] = _half_normal(obs["BR(KL->pi0inv)"], data.sigma_koto)
    if "higgs_invisible" in terms:
        out["higgs_invisible"] = _half_normal(obs["BR(h->inv)"], data.sigma_hinv)
    if "lfu" in terms:
        m = np.asarray(m_hD, dtype=float)
        G = m * obs["Gamma(hD)"]
        pred = []
        for prod, lo, hi, r_sm, ee in data.lfu_rows:
            frac = (np.arctan((hi - m**2) / G) - np.arctan((lo - m**2) / G)) / math.pi
            pred.append(r_sm + obs[prod] * obs["BR(hD->mumu)"] * frac / ee)
        pred = np.stack(pred, axis=-1)
        sigma = np.where(pred > data.lfu_values, data.lfu_up, data.lfu_down)
        d = (pred - data.lfu_values) / sigma
        out["lfu"] = -0.5 * np.einsum("...i,ij,...j->...", d, data.lfu_corr_inv, d)
    return out


def nuisance_prior(names=NUISANCES_POSTERIOR) -> tuple[np.ndarray, np.ndarray]:
    """(means, covariance) of the Gaussian nuisance priors, as hpjax.Likelihood.nuisance_prior()
    builds them: the form-factor set's covariance, the larger SM error."""
    from hpjax.inputs import Inputs
    from hpjax.likelihood import measurements as db

    inp = Inputs.default()
    names = list(names)
    mu = np.zeros(len(names))
    cov = np.zeros((len(names), len(names)))
    rest = [n for n in names if n != SM_NUISANCE]
    idx = [names.index(n) for n in rest]
    cov[np.ix_(idx, idx)] = inp.covariance(rest)
    for n in rest:
        mu[names.index(n)] = float(inp[n])
    if SM_NUISANCE in names:
        sm = db.load_measurement(db.load_dataset("paper")["sm_prediction"][0])
        i = names.index(SM_NUISANCE)
        mu[i] = sm.value
        cov[i, i] = max(sm.error_up, sm.error_down) ** 2
    return mu, cov
