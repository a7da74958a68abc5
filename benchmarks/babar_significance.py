"""Issue 15: significance of the Belle II B+ -> K+ nu nubar excess for an invisible h_D, with and without
BaBar's B+ -> K+ X recast (Altmannshofer et al., arXiv:2311.14629; they find 3.6 sigma with Belle II
alone, 2.4 sigma with BaBar added).

Model: the singlet Higgs portal with h_D -> chi chibar dominant (y_D = 1, m_chi = 0.1 GeV: BR(h_D -> inv)
~ 1), at fixed m_hD; the parameter of interest is sin(theta) (the rate goes as sin^2 theta).
Test statistic: the likelihood ratio on the profile, q0 = 2 [max_s ln L(s) - ln L(0)], local Z = sqrt(q0)
(one parameter, Wilks; m_hD fixed: no look-elsewhere). Terms: belle2 (Gaussian, SM fixed) or
belle2_full (Belle II's statistical model with the q^2 shape, nuisances profiled), each alone and with
babar. Run: .venv/bin/python benchmarks/babar_significance.py [--full] [masses...]
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import hpjax


def scan(lik, grid):
    f = jax.jit(jax.vmap(lambda s: lik.log_likelihood({"sin_theta": s})))
    return np.asarray(f(jnp.asarray(grid)))


def significance(lik, s_hi=3e-2, n=121):
    grid = np.concatenate([[0.0], np.geomspace(1e-4, s_hi, n)])
    ll = scan(lik, grid)
    i = int(np.argmax(ll))
    # refine around the best point
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    fine = np.linspace(lo, hi, 41)
    llf = scan(lik, fine)
    j = int(np.argmax(llf))
    best = max(llf[j], ll[i])
    q0 = max(2.0 * (best - ll[0]), 0.0)
    return {"Z": float(np.sqrt(q0)), "q0": float(q0), "sin_theta_hat": float(fine[j])}


def main(argv):
    full = "--full" in argv
    masses = [float(a) for a in argv if not a.startswith("--")] or [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    b2 = "belle2_full" if full else "belle2"
    rows = []
    for m in masses:
        model = hpjax.SingletHiggsPortal(m_hD=m, sin_theta=1e-3, y_D=1.0, m_chi=0.1)
        out = {"m_hD": m}
        for label, terms in ((b2, [b2]), (f"{b2}+babar", [b2, "babar"])):
            t0 = time.perf_counter()
            lik = hpjax.Likelihood(model, dataset="latest", terms=terms, free=("sin_theta",))
            r = significance(lik)
            out[label] = r
            print(
                f"m_hD={m:5.2f} {label:<20} Z={r['Z']:.3f} q0={r['q0']:.3f} "
                f"sin_theta_hat={r['sin_theta_hat']:.3e} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        rows.append(out)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
