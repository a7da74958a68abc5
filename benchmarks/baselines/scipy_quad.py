"""Baseline (a): the ``paper`` log-likelihood of the singlet Higgs portal, one point at a time,
written as a phenomenologist would from arXiv:2312.00982: plain Python floats (``math``) for the
formulas and ``scipy.integrate.quad`` for every q^2 integral. No JAX.

Physics (identical to hpjax's defaults, so that the two can be compared to 1e-6):

* two-body rates, eqs. (13)-(15): Gamma_2(q^2) = |c|^2 sin^2(theta) H(q^2) / (64 pi m_P^3), with
  H = ((m_P^2 - m_P'^2)/(m_i - m_j))^2 f0^2 lambda^{1/2} (P -> P') or A0^2 lambda^{3/2}/(m_b + m_s)^2
  (B -> K*); BSZ form factors (A6, A7); c_bs, c_sd from eq. (12) with the exact CKM matrix;
  K_L -> pi0 through Re(c_sd) (CP-conserving, hpjax's default "re" convention);
* invisible rate ("unified" prescription, hpjax's default): for every m_hD the integral
  int dq^2 Gamma_2(q^2) sqrt(q^2) Gamma_inv(sqrt(q^2))/pi |P_hD - P_h|^2 over
  [(2 m_chi)^2, (m_P - m_P')^2] (corrected eqs. 16, 17); with ``prescription="paper"``,
  Gamma_2(m_hD^2) BR(h_D -> inv) below the endpoint (no integral) and the integral above it;
* h_D widths: eq. (18), leptons, hadrons from the FORESEE table; BR(h -> inv) from eqs. (19), (20)
  (with the cos^2 theta refinement of hpjax).

Numerics: ``quad`` with scipy's default tolerances (``epsrel = 1.49e-8``, ``limit = 50``) and the
pole (and M +- 3 m Gamma, where inside the range) as break points. On 200 random points in
m_hD in [0.01, 20] GeV, sin theta in [1e-4, 3e-2] this agrees with hpjax to 2.5e-9 (hpjax's own
quadrature error); ``epsrel = 1e-12`` changes nothing but the cost (+30 %).

>>> lik = PaperLikelihoodQuad()
>>> round(lik.log_likelihood(4.26, 6e-3), 3)        # the best fit of the README
-1.059
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from ._common import (
    CHANNELS,
    INV_OBS,
    M_CHI,
    PROD_OBS,
    TERMS_ALL,
    Y_D,
    default_inputs,
    hadronic_table,
    load_paper_data,
    term_logpdfs,
)

__all__ = ["PaperLikelihoodQuad"]


def _ckm(inp):
    lam, A = inp["ckm_lambda"], inp["ckm_A"]
    re = complex(inp["ckm_rhobar"], inp["ckm_etabar"])
    s12, s23 = lam, A * lam**2
    s13e = A * lam**3 * re * math.sqrt(1 - A**2 * lam**4) / (math.sqrt(1 - lam**2) * (1 - A**2 * lam**4 * re))
    s13 = abs(s13e)
    c12, c23, c13 = math.sqrt(1 - s12**2), math.sqrt(1 - s23**2), math.sqrt(1 - s13**2)
    return {
        "ts": -c12 * s23 - s12 * c23 * s13e,
        "td": s12 * s23 - c12 * c23 * s13e,
        "tb": c23 * c13,
    }


def _couplings(inp):
    """(|c_bs|^2, |c_sd|^2, Re(c_sd)^2), eq. (12)."""
    V = _ckm(inp)
    pre = 3.0 * math.sqrt(2.0) * inp["G_F"] * inp["m_t"] ** 2 / (16.0 * math.pi**2 * inp["v"])
    cbs = pre * inp["m_b"] * V["tb"] * V["ts"].conjugate()
    csd = pre * inp["m_s"] * V["ts"] * V["td"].conjugate()
    return abs(cbs) ** 2, abs(csd) ** 2, csd.real**2


class _Channel:
    """Everything of one meson channel that does not depend on q^2."""

    def __init__(self, name, inp, coup):
        kP, kD, ktau, kind = CHANNELS[name]
        self.name, self.kind = name, kind
        self.mP, self.mD, self.tau = inp[kP], inp[kD], inp[ktau]
        mP, mD = self.mP, self.mD
        self.tp, self.tm = (mP + mD) ** 2, (mP - mD) ** 2
        cbs2, csd2, ckl2 = coup
        if kind == "BK":
            self.ff = (inp["BK_f0_a0"], inp["BK_f0_a1"], inp["BK_f0_a2"], inp["BK_f0_mR"])
            self.pref = ((mP**2 - mD**2) / (inp["m_b"] - inp["m_s"])) ** 2
            self.c2 = cbs2
        elif kind == "BKstar":
            self.ff = (inp["BKstar_A0_a0"], inp["BKstar_A0_a1"], inp["BKstar_A0_a2"], inp["BKstar_A0_mR"])
            self.pref = 1.0 / (inp["m_b"] + inp["m_s"]) ** 2
            self.c2 = cbs2
        else:
            self.f0, self.slope = inp["Kpi_f0_0"], inp["Kpi_f0_lambda0"] / inp["m_pip"] ** 2
            self.pref = ((mP**2 - mD**2) / (inp["m_s"] - inp["m_d"])) ** 2
            self.c2 = ckl2 if name == "KL->pi0" else csd2
        if kind != "Kpi":
            t0 = self.tp * (1.0 - math.sqrt(1.0 - self.tm / self.tp))
            self.r0 = math.sqrt(self.tp - t0)
            self.z0 = self._z(0.0)
        self.norm = self.c2 / (64.0 * math.pi * mP**3)

    def _z(self, t):
        a = math.sqrt(self.tp - t)
        return (a - self.r0) / (a + self.r0)

    def gamma2(self, q2, s2):
        """Gamma_2(q^2) / (any) with sin^2(theta) = s2; 0 outside 0 <= q2 < (m_P - m_P')^2."""
        if q2 >= self.tm:
            return 0.0
        lam = (self.tp - q2) * (self.tm - q2)
        if self.kind == "Kpi":
            ff = self.f0 * (1.0 + self.slope * q2)
            h = self.pref * ff * ff * math.sqrt(lam)
        else:
            a0, a1, a2, mR = self.ff
            dz = self._z(q2) - self.z0
            ff = (a0 + dz * (a1 + dz * a2)) / (1.0 - q2 / mR**2)
            h = self.pref * ff * ff * math.sqrt(lam)
            if self.kind == "BKstar":
                h *= lam
        return self.norm * s2 * h


class PaperLikelihoodQuad:
    """The ``paper`` log-likelihood of the singlet model (y_D, m_chi fixed; free m_hD, sin theta).

    ``log_likelihood(m_hD, sin_theta, nuisances=None)``: ``nuisances`` maps input names (e.g.
    form-factor coefficients) and ``"BR(B+->K+nunu)_SM"`` to values; their Gaussian constraints
    are *not* included (a posterior puts them in as priors), as hpjax's
    ``log_likelihood(p, constraints=False)``.
    """

    def __init__(
        self,
        y_D: float = Y_D,
        m_chi: float = M_CHI,
        terms=TERMS_ALL,
        prescription: str = "unified",
        epsrel: float = 1.49e-8,
        limit: int = 50,
    ):
        if prescription not in ("unified", "paper"):
            raise ValueError(f"prescription must be 'unified' or 'paper', got {prescription!r}")
        self.y_D, self.m_chi = float(y_D), float(m_chi)
        self.terms = tuple(terms)
        self.prescription = prescription
        self.epsrel, self.limit = epsrel, limit
        self.inputs = default_inputs()
        self.data = load_paper_data()
        self.had_m, self.had_v = hadronic_table()
        self._cache_key = None
        self._set_inputs(self.inputs)
        self.n_integrals = 0  # quad calls so far (diagnostics)

    # ---- inputs -------------------------------------------------------------------------
    def _set_inputs(self, inp):
        key = tuple(sorted(inp.items()))
        if key == self._cache_key:
            return
        coup = _couplings(inp)
        self._inp = inp
        self._chan = {n: _Channel(n, inp, coup) for n in CHANNELS}
        self._cache_key = key

    # ---- widths -------------------------------------------------------------------------
    def gamma_inv(self, mu, c2):
        """eq. (18): Gamma(S -> chi chibar) of a scalar of mass mu, cos^2(theta) = c2."""
        if mu <= 0.0:
            return 0.0
        b2 = 1.0 - 4.0 * self.m_chi**2 / (mu * mu)
        if b2 <= 0.0:
            return 0.0
        return self.y_D**2 * c2 * mu * b2**1.5 / (8.0 * math.pi)

    def gamma_leptons(self, m, s2, which=("m_e", "m_mu", "m_tau")):
        inp = self._inp
        tot = 0.0
        for k in which:
            ml = inp[k]
            b2 = 1.0 - 4.0 * ml * ml / (m * m)
            if b2 > 0.0:
                tot += s2 * ml * ml * m * b2**1.5 / (8.0 * math.pi * inp["v"] ** 2)
        return tot

    def gamma_hadrons(self, m, s2):
        return s2 * self._inp["hbar_c"] * float(np.interp(m, self.had_m, self.had_v, left=0.0))

    # ---- the q^2 integral ---------------------------------------------------------------
    def gamma_three_body(self, ch: _Channel, m_hD, s2, c2, gamma_tot):
        a = (2.0 * self.m_chi) ** 2
        b = ch.tm
        M, G = m_hD**2, m_hD * gamma_tot
        if not (b > a and G > 0.0):
            return 0.0
        mh2 = self._inp["m_h"] ** 2
        num = (mh2 - M) ** 2 + G * G

        def f(x):
            mu = math.sqrt(x) if x > 0.0 else 0.0
            rho = mu * self.gamma_inv(mu, c2) / math.pi
            return ch.gamma2(x, s2) * rho * num / (((x - M) ** 2 + G * G) * (mh2 - x) ** 2)

        pts = [p for p in (M - 3.0 * G, M, M + 3.0 * G) if a < p < b]
        self.n_integrals += 1
        val, _ = integrate.quad(f, a, b, points=pts or None, epsabs=0.0, epsrel=self.epsrel, limit=self.limit)
        return val

    # ---- observables --------------------------------------------------------------------
    def observables(self, m_hD: float, sin_theta: float, nuisances=None) -> dict:
        inp = dict(self.inputs)
        for k, v in (nuisances or {}).items():
            if k in inp:
                inp[k] = float(v)
        self._set_inputs(inp)
        m, s2 = float(m_hD), float(sin_theta) ** 2
        c2 = 1.0 - s2
        g_inv = self.gamma_inv(m, c2)
        g_tot = g_inv + self.gamma_leptons(m, s2) + self.gamma_hadrons(m, s2)
        hbar = inp["hbar"]
        out = {}
        for name, ch in self._chan.items():
            two = ch.gamma2(m * m, s2)
            if self.prescription == "paper" and m < ch.mP - ch.mD:
                g = two * g_inv / g_tot
            else:
                g = self.gamma_three_body(ch, m, s2, c2, g_tot)
            out[INV_OBS[name]] = g * ch.tau / hbar
            out[PROD_OBS[name]] = two * ch.tau / hbar
        g_h = self.gamma_inv(inp["m_h"], s2)  # eq. (19): h -> chi chibar, coupling y_D sin(theta)
        out["BR(h->inv)"] = g_h / ((1.0 - s2) * inp["Gamma_h"] + g_h)
        out["BR(hD->inv)"] = g_inv / g_tot
        out["BR(hD->mumu)"] = self.gamma_leptons(m, s2, ("m_mu",)) / g_tot
        out["Gamma(hD)"] = g_tot
        out["tau(hD)"] = hbar / g_tot
        return out

    def breakdown(self, m_hD: float, sin_theta: float, nuisances=None) -> dict:
        obs = self.observables(m_hD, sin_theta, nuisances)
        sm = None if not nuisances else nuisances.get("BR(B+->K+nunu)_SM")
        return {k: float(v) for k, v in term_logpdfs(obs, float(m_hD), self.data, self.terms, sm).items()}

    def log_likelihood(self, m_hD: float, sin_theta: float, nuisances=None) -> float:
        if not (m_hD > 0.0 and -1.0 <= sin_theta <= 1.0):
            return -math.inf
        return float(sum(self.breakdown(m_hD, sin_theta, nuisances).values()))
