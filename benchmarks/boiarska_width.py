"""Generate hpjax/data/darkscalar/boiarska2019_hadronic_width_theta1.csv: the hadronic width of a
Higgs-mixed scalar at unit mixing in the model of Boiarska et al. (arXiv:1904.10447), as hpjax's
alternative to FORESEE's tabulation (Inputs field ``hD_hadrons_model``). Written for hpjax from the
formulas below (the public scalar_portal code, github JLTastet/scalar_portal @ e123e80, was read to
fix the choices; no code is copied). numpy + scipy only; run

    .venv/bin/python benchmarks/boiarska_width.py            # writes the CSV
    .venv/bin/python benchmarks/boiarska_width.py --check    # prints the ratio to FORESEE

Model (theta = 1, v = 246 GeV as in hpjax's inputs):
* m < 2 GeV: Gamma(pi pi) + Gamma(K K) of Winkler (arXiv:1809.01876; scalar_portal's tabulation,
  hpjax/data/darkscalar/winkler2018_*), plus a multi-meson term C m^3 sqrt(1 - 16 m_pi^2/m^2) for
  m > 4 m_pi, C fixed so that the sum equals the perturbative width below at 2 GeV;
* m >= 2 GeV: Gamma(g g) at NLO (Spira et al., hep-ph/9504378 eq. 23; c, b, t loops with 1-loop
  pole masses, E = 95/4 - 7 n_f/6 at mu = m) + Gamma(s s) + Gamma(c c) =
  3 m mbar_q(m)^2 / (8 pi v^2) beta^3 (1 + Delta_QCD + Delta_t), beta with the meson thresholds
  2 m_K, 2 m_D (Drees-Hikasa / Spira; Delta_QCD to a^3, a = alpha_s/pi, n_f = 4).
* alpha_s: 3-loop running from alpha_s(m_Z) = 0.1180 (PDG 2024) with n_f = 5 above mbar_b(mbar_b) =
  4.183 GeV and n_f = 4 below (continuous at the threshold); running masses at 2 loops (n_f = 4) from
  m_s(2 GeV) = 0.0935, mbar_c(mbar_c) = 1.2730 (PDG 2024).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

DATA = Path(__file__).resolve().parents[1] / "hpjax" / "data" / "darkscalar"
OUT = DATA / "boiarska2019_hadronic_width_theta1.csv"
V = 246.0
MZ, ALPHA_MZ = 91.1876, 0.1180
MB_BAR, MC_BAR, MS_2GEV, MT_POLE = 4.183, 1.2730, 0.0935, 172.57
M_PI, M_K, M_D = 0.13957039, 0.493677, 1.86484
LAMBDA_PERT = 2.0


def _beta_coeffs(nf):
    return 11 - 2 * nf / 3, 102 - 38 * nf / 3, 2857 / 2 - 5033 * nf / 18 + 325 * nf**2 / 54


def _run_alpha(a0, mu0, mu1, nf):
    b0, b1, b2 = _beta_coeffs(nf)

    def rhs(t, y):  # t = ln mu^2
        a = y[0]
        return [-(a**2) * (b0 / (4 * math.pi) + b1 * a / (16 * math.pi**2) + b2 * a**2 / (64 * math.pi**3))]

    sol = solve_ivp(rhs, (2 * math.log(mu0), 2 * math.log(mu1)), [a0], rtol=1e-10, atol=1e-13)
    return float(sol.y[0, -1])


def alpha_s(mu):
    """alpha_s(mu), n_f = 4 below mbar_b (the only range used, mu < 5.3 GeV), n_f = 5 above."""
    a_b = _run_alpha(ALPHA_MZ, MZ, MB_BAR, 5)
    return _run_alpha(a_b, MB_BAR, mu, 4) if mu < MB_BAR else _run_alpha(ALPHA_MZ, MZ, mu, 5)


def run_mass(m0, mu0, mu1, nf=4):
    """MSbar mass at 2 loops: d ln m / d ln mu^2 = -(a + g1 a^2), a = alpha_s/pi."""
    g1 = (202 / 3 - 20 * nf / 9) / 16
    b0, b1, b2 = _beta_coeffs(nf)

    def rhs(t, y):
        al, lm = y
        a = al / math.pi
        dal = -(al**2) * (b0 / (4 * math.pi) + b1 * al / (16 * math.pi**2) + b2 * al**2 / (64 * math.pi**3))
        return [dal, -(a + g1 * a**2)]

    sol = solve_ivp(rhs, (2 * math.log(mu0), 2 * math.log(mu1)), [alpha_s(mu0), math.log(m0)], rtol=1e-10)
    return float(math.exp(sol.y[1, -1]))


def pole_mass(mbar):
    return mbar * (1 + 4 * alpha_s(mbar) / (3 * math.pi))


def _f_loop(mq, m):
    y = 4 * mq**2 / m**2
    if y > 1:
        x = complex(math.atan(1 / math.sqrt(y - 1)))
    else:
        r = math.sqrt(1 - y)
        x = 0.5 * (math.pi + 1j * math.log((1 + r) / (1 - r)))
    return -2 * y * (1 + (1 - y) * x**2)


def gamma_gg(m, nf=4):
    a = alpha_s(m)
    F = sum(_f_loop(mq, m) for mq in (pole_mass(MC_BAR), pole_mass(MB_BAR), MT_POLE))
    E = 95 / 4 - 7 * nf / 6
    return abs(F) ** 2 * (a / (4 * math.pi)) ** 2 * m**3 / (8 * math.pi * V**2) * (1 + a / math.pi * E)


def gamma_qq(m, mbar_q, m_meson, nf=4):
    if m <= 2 * m_meson:
        return 0.0
    a = alpha_s(m) / math.pi
    d_qcd = 5.67 * a + (35.94 - 1.36 * nf) * a**2 + (164.14 - 25.77 * nf + 0.259 * nf**2) * a**3
    d_t = a**2 * (1.57 - 4 / 3 * math.log(m / MT_POLE) + 4 / 9 * math.log(mbar_q / m) ** 2)
    beta = math.sqrt(1 - 4 * m_meson**2 / m**2)
    return 3 * m * mbar_q**2 / (8 * math.pi * V**2) * beta**3 * (1 + d_qcd + d_t)


def perturbative(m):
    ms = run_mass(MS_2GEV, 2.0, m)
    mc = run_mass(MC_BAR, MC_BAR, m)
    return gamma_gg(m) + gamma_qq(m, ms, M_K) + gamma_qq(m, mc, M_D)


def _winkler(name):
    a = np.loadtxt(DATA / name, comments="#")
    return a[:, 0], a[:, 1]


def low_mass_parts():
    (mp, gp), (mk, gk) = (
        _winkler("winkler2018_Gamma_S_to_pipi_unit_mixing_sorted.txt"),
        _winkler("winkler2018_Gamma_S_to_KK_unit_mixing_sorted.txt"),
    )

    def two_meson(m):
        return float(np.interp(m, mp, gp, left=0.0, right=np.nan) + np.interp(m, mk, gk, left=0.0, right=np.nan))

    beta4 = lambda m: math.sqrt(max(1 - 16 * M_PI**2 / m**2, 0.0))  # noqa: E731
    C = (perturbative(LAMBDA_PERT) - two_meson(LAMBDA_PERT)) / (LAMBDA_PERT**3 * beta4(LAMBDA_PERT))
    return two_meson, beta4, C


def table(masses):
    two_meson, beta4, C = low_mass_parts()
    out = []
    for m in masses:
        if m < LAMBDA_PERT:
            out.append(two_meson(m) + (C * m**3 * beta4(m) if m > 4 * M_PI else 0.0))
        else:
            out.append(perturbative(m))
    return np.array(out), C


def grid():
    return np.unique(np.concatenate([np.arange(0.28, 2.0, 0.01), [1.999999, 2.0], np.arange(2.02, 5.3001, 0.02)]))


def write():
    m = grid()
    g, C = table(m)
    head = f"""# hpjax: hadronic width of a Higgs-mixed scalar at unit mixing, model of Boiarska et al. (arXiv:1904.10447)
# GENERATED by benchmarks/boiarska_width.py (hpjax's own implementation of the formulas in its docstring; the public
#   scalar_portal code, github JLTastet/scalar_portal @ e123e8042313b249c7d8391802269052e8548361, was read, not copied).
# INPUTS: Winkler (arXiv:1809.01876) pi pi and K K widths below 2 GeV (hpjax/data/darkscalar/winkler2018_*, scalar_portal's
#   tabulation); multi-meson term C m^3 sqrt(1 - 16 m_pi^2/m^2) with C = {C:.6g} GeV^-2 matched at 2 GeV; above 2 GeV
#   g g (NLO) + s s + c c (perturbative, meson thresholds 2 m_K, 2 m_D); alpha_s(m_Z) = {ALPHA_MZ}, mbar_b = {MB_BAR},
#   mbar_c = {MC_BAR}, m_s(2 GeV) = {MS_2GEV}, m_t = {MT_POLE} GeV, v = {V} GeV.
# CAVEATS: the 1-2.5 GeV region is model-dependent (the multi-meson term is a toy; the charm pole mass moves g g by ~2x,
#   as scalar_portal notes); the width jumps at 2 GeV where the model switches (continuous by construction of C).
# COLUMNS: m_GeV, Gamma_had_GeV (theta = 1; physical width = sin^2(theta) x value).
m_GeV,Gamma_had_GeV
"""
    lines = [f"{a:.6f},{b:.10e}" for a, b in zip(m, g, strict=True)]
    OUT.write_text(head + "\n".join(lines) + "\n")
    print(f"wrote {OUT} ({m.size} rows), C = {C:.6g}")


def check():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hpjax.inputs import Inputs
    from hpjax.widths import gamma_S_to_leptons, hadronic_width_table

    inp = Inputs.default()
    mf, inv_ct = hadronic_width_table()
    for m in (0.5, 1.0, 1.1, 1.5, 2.0, 2.5, 3.0, 3.7, 4.5):
        f = float(inp.hbar_c) * np.interp(m, mf, inv_ct)
        b, _ = table([m])
        lep = float(gamma_S_to_leptons(m, 1.0, inp))
        print(
            f"m = {m:4.2f}  hadrons: FORESEE {f:.3e} Boiarska {b[0]:.3e} ratio {b[0] / f:.2f}; total ratio {(b[0] + lep) / (f + lep):.2f}"
        )


if __name__ == "__main__":
    check() if "--check" in sys.argv else write()
