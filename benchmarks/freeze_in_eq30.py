"""Eq. (30) of the paper against the freeze-in solver (docs/paper-errata.md, issue 14).

At eq. (30)'s point (y_D = 1e-4, sin = 1e-3, m_chi = 0.1 GeV, m_hD = 1 GeV), chi empty at T_RH:
* the physical h_D: chi thermalises (Omega = the freeze-out value, 7.8e5 at T_RH = 0.2 GeV);
* the contact limit (h_D heavy, the paper's scenario): m_hD = 10 GeV scaled by m_hD^-4 to 1 GeV.
Measured (2 cores, load ~20, 2026-12-02): contact 0.96 (T_RH = 0.1 GeV), 11.5 (T_RH = 0.2 GeV);
eq. (30) prints 2e-3. Run: .venv/bin/python benchmarks/freeze_in_eq30.py (a few minutes).
"""

import time

import hpjax
from hpjax import cosmology as c


def main():
    t = time.time()
    phys = hpjax.SingletHiggsPortal(1.0, 1e-3, 1e-4, 0.1)
    print(
        f"physical h_D, T_RH = 0.2 GeV: Omega h^2 = {float(c.omega_h2_singlet(phys, mode='freeze_in', T_RH=0.2)):.3g}"
    )
    for T_RH in (0.1, 0.2):
        m = hpjax.SingletHiggsPortal(10.0, 1e-3, 1e-4, 0.1)
        o = float(c.omega_h2_singlet(m, n=12, mode="freeze_in", T_RH=T_RH)) * 10.0**4
        print(f"contact limit, T_RH = {T_RH} GeV: Omega h^2 = {o:.3g}  (eq. 30: {c.omega_freeze_in_estimate():.3g})")
    print(f"{time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
