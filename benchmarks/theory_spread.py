"""Issue 15 theory spread: what the two options move.

(a) h_D -> hadrons, FORESEE (hD_hadrons_model = 0) vs Boiarska et al. (= 1), invisible channel closed
    (m_chi > m_hD / 2): ratios of Gamma(h_D), tau(h_D), BR(h_D -> mu mu); the lfu term's 90% CL bound on
    sin(theta) (Delta chi2 = 2.71 above no new physics) and the babar term's (lifetime enters through
    the escape probability).
(b) the light-quark vertex option: two-body rate ratios.
Run: .venv/bin/python benchmarks/theory_spread.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import hpjax
from hpjax.decays import gamma_two_body
from hpjax.likelihood.bounds import DELTA_CHI2, upper_bound


def main():
    inp0 = hpjax.Inputs.default()
    inp1 = inp0.replace(hD_hadrons_model=1.0)
    print("(a) h_D -> hadrons: Boiarska / FORESEE, invisible closed")
    print(f"  {'m_hD':>5} {'Gamma':>7} {'tau':>7} {'BR_mumu':>8}")
    masses = [0.5, 1.0, 1.1, 1.5, 2.0, 2.5, 3.0, 3.5, 3.7, 4.5]

    @jax.jit
    def obs(m, inp):
        model = hpjax.SingletHiggsPortal(m_hD=m, sin_theta=1e-3, y_D=1.0, m_chi=3.0)
        p = hpjax.predict(model, inp, observables=["Gamma(hD)", "tau(hD)", "BR(hD->mumu)"])
        return p["Gamma(hD)"], p["tau(hD)"], p["BR(hD->mumu)"]

    for m in masses:
        a, b = obs(m, inp0), obs(m, inp1)
        print(f"  {m:5.2f} {float(b[0] / a[0]):7.3f} {float(b[1] / a[1]):7.3f} {float(b[2] / a[2]):8.3f}")

    print("  90% CL bounds on sin(theta) (Delta chi2 = 2.71 above no new physics), FORESEE -> Boiarska")
    for term, ms in (("lfu", (0.5, 1.0, 1.5, 2.0)), ("babar", (1.0, 2.0))):
        for m in ms:
            row = []
            for inp in (inp0, inp1):
                model = hpjax.SingletHiggsPortal(m_hD=m, sin_theta=1e-3, y_D=1.0, m_chi=3.0)
                lik = hpjax.Likelihood(model, dataset="latest", terms=[term], inputs=inp)
                p = {**lik.initial_params(), "m_hD": jnp.asarray(m)}
                level = float(-2 * lik.breakdown({**p, "sin_theta": jnp.asarray(0.0)})[term]) + DELTA_CHI2
                row.append(upper_bound(lik, p, term, level=level, iterations=40))
            print(f"  {term:<6} m_hD={m:4.2f}: {row[0]:.4g} -> {row[1]:.4g} (ratio {row[1] / row[0]:.3f})", flush=True)

    print("(b) light-quark vertex: full / eq. (12) two-body rates")
    inpv = inp0.replace(vertex_light_quark=1.0)
    for ch in ("B+->K+", "B0->K*0", "K+->pi+", "KL->pi0"):
        r = gamma_two_body(ch, 0.1, 1e-3, inpv) / gamma_two_body(ch, 0.1, 1e-3, inp0)
        print(f"  {ch:<8} {float(r):.4f}")


if __name__ == "__main__":
    main()
