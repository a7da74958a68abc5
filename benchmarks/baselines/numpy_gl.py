"""Baseline (b): the ``paper`` log-likelihood with hpjax's own fixed Gauss-Legendre q^2 rule,
re-implemented in numpy and vectorised over points (no JAX).

The same formulas as baseline (a) (``scipy_quad.py``; see its docstring for the physics), but each
q^2 integral is the 3-segment rule of ``hpjax.numerics.quadrature.bw_quadrature``: a peak segment
|q^2 - m_hD^2| < K m_hD Gamma_hD with the Breit-Wigner map q^2 = M + G tan(phi), two logarithmic
tails in |q^2 - M|, a cosine endpoint map and an n-point Gauss-Legendre rule in every segment
(K = 30, n = 32: 96 nodes per channel, 384 per point). Arrays are (points, channels, nodes);
points are processed in chunks to bound memory.

>>> import numpy as np
>>> lik = PaperLikelihoodGL()
>>> np.round(lik.log_likelihood(np.array([1.0, 4.26]), np.array([6e-3, 6e-3])), 3)
array([-2.006, -1.059])
"""

from __future__ import annotations

import numpy as np

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

__all__ = ["PaperLikelihoodGL", "bw_quadrature"]


def _sqrt_pos(x):
    return np.sqrt(np.maximum(x, 0.0))


def _endpoint_map(n):
    t, wt = np.polynomial.legendre.leggauss(n)
    t, wt = 0.5 * (t + 1.0), 0.5 * wt
    return 0.5 * (1.0 - np.cos(np.pi * t)), wt * 0.5 * np.pi * np.sin(np.pi * t)


def _peak(lo, hi, M, G, u, du):
    nonempty = hi > lo
    hi_s = np.where(nonempty, hi, lo + G)
    ta = (lo / G)[..., None]
    delta = np.arctan2(G * (hi_s - lo), G * G + lo * hi_s)
    tau = np.tan(delta[..., None] * u)
    off = G[..., None] * (ta + tau) / (1.0 - ta * tau)
    x = M[..., None] + np.clip(off, lo[..., None], hi_s[..., None])
    w = du * (delta / G)[..., None]
    return x, np.where(nonempty[..., None], w, 0.0)


def _tail(d_lo, d_hi, M, G, sign, u, du):
    nonempty = d_hi > d_lo
    d_hi_s = np.where(nonempty, d_hi, 2.0 * d_lo)
    L = np.log(d_hi_s / d_lo)[..., None]
    d = np.clip(d_lo[..., None] * np.exp(L * u), d_lo[..., None], d_hi_s[..., None])
    x = M[..., None] + sign * d
    w = du * L * d / (d * d + (G * G)[..., None])
    return x, np.where(nonempty[..., None], w, 0.0)


def bw_quadrature(a, b, M, G, n: int = 32, K: float = 30.0):
    """numpy version of ``hpjax.numerics.quadrature.bw_quadrature`` for arrays a, b, M, G of one shape S:
    nodes and weights of shape S + (3n,), sum w J(x) ~ int_a^b J(x)/((x-M)^2 + G^2) dx."""
    u, du = _endpoint_map(n)
    a, b, M, G = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, M, G)))
    KG = K * G
    p_lo = np.maximum(a - M, -KG)
    p_hi = np.minimum(b - M, KG)
    xp, wp = _peak(p_lo, np.maximum(p_hi, p_lo), M, G, u, du)
    xu, wu = _tail(np.maximum(KG, a - M), b - M, M, G, 1.0, u, du)
    xl, wl = _tail(np.maximum(KG, M - b), M - a, M, G, -1.0, u, du)
    x = np.concatenate([xl, xp, xu], axis=-1)
    w = np.concatenate([wl, wp, wu], axis=-1)
    return np.clip(x, a[..., None], b[..., None]), w


def _ckm_t(inp):
    lam, A = inp["ckm_lambda"], inp["ckm_A"]
    re = inp["ckm_rhobar"] + 1j * inp["ckm_etabar"]
    s12, s23 = lam, A * lam**2
    s13e = A * lam**3 * re * np.sqrt(1 - A**2 * lam**4) / (np.sqrt(1 - lam**2) * (1 - A**2 * lam**4 * re))
    s13 = np.abs(s13e)
    c12, c23, c13 = np.sqrt(1 - s12**2), np.sqrt(1 - s23**2), np.sqrt(1 - s13**2)
    return -c12 * s23 - s12 * c23 * s13e, s12 * s23 - c12 * c23 * s13e, c23 * c13  # V_ts, V_td, V_tb


class PaperLikelihoodGL:
    """Vectorised ``paper`` log-likelihood of the singlet model (y_D, m_chi fixed).

    ``log_likelihood(m_hD, sin_theta, nuisances=None)`` takes arrays of points; ``nuisances``
    maps input names and ``"BR(B+->K+nunu)_SM"`` to scalars or per-point arrays (constraints not
    included, as hpjax's ``constraints=False``).
    """

    def __init__(
        self,
        y_D: float = Y_D,
        m_chi: float = M_CHI,
        terms=TERMS_ALL,
        prescription: str = "unified",
        n: int = 32,
        K: float = 30.0,
        chunk: int = 1024,
    ):
        if prescription not in ("unified", "paper"):
            raise ValueError(f"prescription must be 'unified' or 'paper', got {prescription!r}")
        self.y_D, self.m_chi = float(y_D), float(m_chi)
        self.terms, self.prescription = tuple(terms), prescription
        self.n, self.K, self.chunk = n, K, int(chunk)
        self.inputs = default_inputs()
        self.data = load_paper_data()
        self.had_m, self.had_v = hadronic_table()

    # ---- per-chunk physics --------------------------------------------------------------
    def _table(self, inp, P):
        """Per-channel constants, each of shape (P, C) (P points: nuisances may vary)."""
        V_ts, V_td, V_tb = _ckm_t(inp)
        pre = 3.0 * np.sqrt(2.0) * inp["G_F"] * inp["m_t"] ** 2 / (16.0 * np.pi**2 * inp["v"])
        cbs = pre * inp["m_b"] * V_tb * np.conj(V_ts)
        csd = pre * inp["m_s"] * V_ts * np.conj(V_td)
        cols = {k: [] for k in ("mP", "mD", "tau", "coup2", "pref", "vector", "c0", "c1", "c2", "inv_mR2", "slope")}
        for name, (kP, kD, ktau, kind) in CHANNELS.items():
            mP, mD = inp[kP], inp[kD]
            if kind == "BK":
                ff = (inp["BK_f0_a0"], inp["BK_f0_a1"], inp["BK_f0_a2"], 1.0 / inp["BK_f0_mR"] ** 2, 0.0)
                pref, coup = ((mP**2 - mD**2) / (inp["m_b"] - inp["m_s"])) ** 2, np.abs(cbs) ** 2
            elif kind == "BKstar":
                ff = (
                    inp["BKstar_A0_a0"],
                    inp["BKstar_A0_a1"],
                    inp["BKstar_A0_a2"],
                    1.0 / inp["BKstar_A0_mR"] ** 2,
                    0.0,
                )
                pref, coup = 1.0 / (inp["m_b"] + inp["m_s"]) ** 2, np.abs(cbs) ** 2
            else:
                ff = (inp["Kpi_f0_0"], 0.0, 0.0, 0.0, inp["Kpi_f0_lambda0"] / inp["m_pip"] ** 2)
                pref = ((mP**2 - mD**2) / (inp["m_s"] - inp["m_d"])) ** 2
                coup = np.real(csd) ** 2 if name == "KL->pi0" else np.abs(csd) ** 2
            row = (mP, mD, inp[ktau], coup, pref, float(kind == "BKstar")) + ff
            for k, v in zip(cols, row):
                cols[k].append(np.broadcast_to(np.asarray(v, dtype=float), (P,)))
        return {k: np.stack(v, axis=-1) for k, v in cols.items()}

    @staticmethod
    def _gamma2(t, s2, q2):
        """Gamma_2(q^2) for q2 of shape (P, C, ...) and t of shape (P, C)."""
        e = (...,) + (None,) * (q2.ndim - 2)
        mP, mD = t["mP"][e], t["mD"][e]
        tp, tm = (mP + mD) ** 2, (mP - mD) ** 2
        t0 = tp * (1.0 - np.sqrt(1.0 - tm / tp))
        r0 = np.sqrt(tp - t0)

        def z(q):
            a = _sqrt_pos(tp - q)
            return (a - r0) / (a + r0)

        dz = z(q2) - z(0.0)
        ff = (
            (t["c0"][e] + dz * (t["c1"][e] + dz * t["c2"][e]))
            / (1.0 - q2 * t["inv_mR2"][e])
            * (1.0 + t["slope"][e] * q2)
        )
        lam = np.where(q2 < tm, mP**4 + mD**4 + q2 * q2 - 2.0 * (mP**2 * mD**2 + mD**2 * q2 + q2 * mP**2), 0.0)
        h = t["pref"][e] * ff * ff * _sqrt_pos(lam) * np.where(t["vector"][e] > 0, lam, 1.0)
        return t["coup2"][e] * s2[e] * h / (64.0 * np.pi * mP**3)

    def _gamma_inv(self, mu, c2):
        mu2 = mu * mu
        b2 = np.maximum(np.where(mu2 > 0, 1.0 - 4.0 * self.m_chi**2 / np.where(mu2 > 0, mu2, 1.0), 0.0), 0.0)
        return self.y_D**2 * c2 * mu * b2**1.5 / (8.0 * np.pi)

    def _gamma_leptons(self, m, s2, inp, which=("m_e", "m_mu", "m_tau")):
        tot = 0.0
        for k in which:
            ml = inp[k]
            b2 = np.maximum(1.0 - 4.0 * ml * ml / (m * m), 0.0)
            tot = tot + s2 * ml * ml * m * b2**1.5 / (8.0 * np.pi * inp["v"] ** 2)
        return tot

    def _chunk_observables(self, m, s, inp):
        P = m.shape[0]
        s2 = s * s
        c2 = 1.0 - s2
        t = self._table(inp, P)
        g_inv = self._gamma_inv(m, c2)
        g_tot = (
            g_inv
            + self._gamma_leptons(m, s2, inp)
            + s2 * inp["hbar_c"] * np.interp(m, self.had_m, self.had_v, left=0.0)
        )
        # three-body integrals, all channels at once: (P, C, 3n)
        a = np.full((P, 1), (2.0 * self.m_chi) ** 2)
        b = (t["mP"] - t["mD"]) ** 2
        M = (m * m)[:, None]
        G = (m * g_tot)[:, None]
        ok = (b > a) & (G > 0)
        a_s, b_s, G_s = np.where(ok, a, 1.0), np.where(ok, b, 2.0), np.where(ok, G, 1.0)
        x, w = bw_quadrature(a_s, b_s, M, G_s, self.n, self.K)
        mu = _sqrt_pos(x)
        g2 = self._gamma2(t, s2[:, None], x)
        rho = mu * self._gamma_inv(mu, c2[:, None, None]) / np.pi
        mh2 = inp["m_h"] ** 2
        r = ((mh2 - M) ** 2 + G_s**2)[..., None] / (mh2 - x) ** 2
        three = np.where(ok, np.sum(w * g2 * rho * r, axis=-1), 0.0)
        two = self._gamma2(t, s2[:, None], np.broadcast_to(M, b.shape).copy())
        if self.prescription == "paper":
            end = t["mP"] - t["mD"]
            gam = np.where(m[:, None] < end, two * (g_inv / g_tot)[:, None], three)
        else:
            gam = three
        hbar = inp["hbar"]
        out = {}
        for c, name in enumerate(CHANNELS):
            out[INV_OBS[name]] = gam[:, c] * t["tau"][:, c] / hbar
            out[PROD_OBS[name]] = two[:, c] * t["tau"][:, c] / hbar
        g_h = self._gamma_inv(np.asarray(inp["m_h"]), s2)
        out["BR(h->inv)"] = g_h / ((1.0 - s2) * inp["Gamma_h"] + g_h)
        out["BR(hD->inv)"] = g_inv / g_tot
        out["BR(hD->mumu)"] = self._gamma_leptons(m, s2, inp, ("m_mu",)) / g_tot
        out["Gamma(hD)"] = g_tot
        out["tau(hD)"] = hbar / g_tot
        return out

    # ---- public -------------------------------------------------------------------------
    def _chunks(self, m_hD, sin_theta, nuisances):
        m = np.atleast_1d(np.asarray(m_hD, dtype=float))
        s = np.broadcast_to(np.asarray(sin_theta, dtype=float), m.shape)
        nu = {k: np.broadcast_to(np.asarray(v, dtype=float), m.shape) for k, v in (nuisances or {}).items()}
        for i in range(0, m.size, self.chunk):
            sl = slice(i, i + self.chunk)
            inp = dict(self.inputs)
            inp.update({k: v[sl] for k, v in nu.items() if k in inp})
            sm = nu["BR(B+->K+nunu)_SM"][sl] if "BR(B+->K+nunu)_SM" in nu else None
            yield m[sl], s[sl], inp, sm

    def observables(self, m_hD, sin_theta, nuisances=None) -> dict:
        parts = [self._chunk_observables(m, s, inp) for m, s, inp, _ in self._chunks(m_hD, sin_theta, nuisances)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def breakdown(self, m_hD, sin_theta, nuisances=None) -> dict:
        parts = []
        for m, s, inp, sm in self._chunks(m_hD, sin_theta, nuisances):
            obs = self._chunk_observables(m, s, inp)
            parts.append(term_logpdfs(obs, m, self.data, self.terms, sm))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def log_likelihood(self, m_hD, sin_theta, nuisances=None):
        out = []
        for m, s, inp, sm in self._chunks(m_hD, sin_theta, nuisances):
            obs = self._chunk_observables(m, s, inp)
            ll = sum(term_logpdfs(obs, m, self.data, self.terms, sm).values())
            out.append(np.where((m > 0) & (np.abs(s) <= 1), ll, -np.inf))
        return np.concatenate(out)


if __name__ == "__main__":  # pragma: no cover
    import time

    lik = PaperLikelihoodGL()
    m = np.geomspace(0.01, 20.0, 20000)
    t0 = time.perf_counter()
    lik.log_likelihood(m, np.full_like(m, 5e-3))
    print(f"{m.size / (time.perf_counter() - t0):.0f} points/s")
