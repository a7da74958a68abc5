"""Issue 15 cross-check (a benchmark note, not a term): hpjax's belle2_full best-fit BR(B+ -> K+ h_D)
(h_D invisible; sin(theta) profiled on a grid, Belle II's nuisances profiled) against ALPaca's recast
of the same Belle II data (record belle2_2023_BpKX_ALPaca_recast; central and [lower, upper]) and
against Gaertner et al. (arXiv:2602.09666: 9.2 +1.8 -3.4 e-6 at m_X = 2.1 GeV).
Run: .venv/bin/python benchmarks/belle2_alpaca_crosscheck.py [masses...]   (~3 min per mass on 2 loaded cores)
"""

from __future__ import annotations

import sys

import jax
import numpy as np
from babar_significance import significance

import hpjax
from hpjax.likelihood.measurements import load_measurement


def main(argv):
    masses = [float(a) for a in argv] or [1.5, 1.8, 2.0, 2.1, 2.3]
    rec = load_measurement("belle2_2023_BpKX_ALPaca_recast")
    br = jax.jit(
        lambda m, s: hpjax.predict(
            hpjax.SingletHiggsPortal(m_hD=m, sin_theta=s, y_D=1.0, m_chi=0.1), observables=["BR(B+->K+inv)"]
        )["BR(B+->K+inv)"]
    )
    for m in masses:
        model = hpjax.SingletHiggsPortal(m_hD=m, sin_theta=1e-3, y_D=1.0, m_chi=0.1)
        lik = hpjax.Likelihood(model, dataset="latest", terms=["belle2_full"], free=("sin_theta",))
        r = significance(lik)
        c, lo, hi = (np.interp(m, rec.masses, v) for v in (rec.central, rec.lower, rec.upper))
        print(
            f"m_hD={m:4.2f}: belle2_full best BR {float(br(m, r['sin_theta_hat'])):.2e} (Z={r['Z']:.2f}); "
            f"ALPaca Belle II {c:.2e} [{lo:.2e}, {hi:.2e}]",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
