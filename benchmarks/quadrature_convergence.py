"""Convergence study that fixes hpjax.numerics.quadrature.DEFAULT_ORDER.

For every meson channel, both models, m_hD from 0.01 to 20 GeV (with each kinematic endpoint
+- 1 MeV) and Gamma_hD/m_hD from 1e-8 to 0.3, compare the three-body rate at Gauss-Legendre
order n (per segment; 3 segments) with adaptive scipy quadrature (tests/reference_scipy.py),
and print the worst relative error per n. Writes benchmarks/quadrature_convergence.json.

Run: .venv/bin/python benchmarks/quadrature_convergence.py
"""

import json
import math
import pathlib
import sys

import jax
import jax.numpy as jnp

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import reference_scipy as ref  # noqa: E402

import hpjax  # noqa: E402
from hpjax.decays import CHANNELS, endpoint, gamma_three_body  # noqa: E402
from hpjax.models import gamma_hD_total  # noqa: E402

ORDERS = (8, 12, 16, 24, 32, 48, 64, 96)
SIN, M_DARK = 3e-3, 0.01


def main():
    inputs = hpjax.Inputs.default()
    inp = inputs.as_dict()
    masses = [0.01, 0.05, 0.15, 0.3, 1.0, 3.0, 8.0, 20.0, 2 * M_DARK + 1e-3]
    for ch in CHANNELS:
        e = float(endpoint(ch, inputs))
        masses += [e - 1e-3, e + 1e-3]
    ratios = (1e-8, 1e-6, 1e-4, 1e-2, 0.1, 0.3)
    worst = {n: 0.0 for n in ORDERS}
    cases = 0
    for cls, kind in ((hpjax.SingletHiggsPortal, "singlet"), (hpjax.DarkAbelianHiggs, "abelian")):
        pts = [(m, r) for m in masses for r in ratios]
        m = jnp.array([p[0] for p in pts])
        c = jnp.array(
            [
                math.sqrt(8 * math.pi * r) if kind == "singlet" else p[0] / math.sqrt(32 * math.pi * r)
                for p, r in zip(pts, (p[1] for p in pts))
            ]
        )
        model = cls(m, jnp.full_like(m, SIN), c, jnp.full_like(m, M_DARK))
        gtot = [float(g) for g in gamma_hD_total(model, inputs)]
        for ch in CHANNELS:
            want = [
                ref.gamma_three_body(ch, kind, float(m[i]), SIN, float(c[i]), M_DARK, gtot[i], inp)
                for i in range(len(pts))
            ]
            for n in ORDERS:
                got = jax.jit(lambda mod: gamma_three_body(ch, mod, inputs, n=n))(model)
                for i, w in enumerate(want):
                    worst[n] = max(worst[n], abs(float(got[i]) / w - 1))
            cases += len(pts)
    print(f"{cases} cases (channels x models x masses x widths)")
    print("order n per segment | worst relative error vs adaptive quadrature")
    for n in ORDERS:
        print(f"{n:>19} | {worst[n]:.2e}")
    out = {
        "cases": cases,
        "worst_relative_error": {str(n): worst[n] for n in ORDERS},
        "default_order": hpjax.numerics.quadrature.DEFAULT_ORDER,
    }
    (ROOT / "benchmarks" / "quadrature_convergence.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
