"""Convergence study that fixes hpjax.numerics.quadrature.DEFAULT_ORDER.

Compares the three-body rate at Gauss-Legendre order n (per segment; 3 segments) with adaptive
scipy quadrature (tests/reference_scipy.py) for every meson channel and both models, and prints
the worst relative error per n. Two case sets:

* ``standard`` (816 cases, the set DEFAULT_ORDER was first chosen on): m_hD from 0.01 to 20 GeV
  (with each kinematic endpoint +- 1 MeV and the pair threshold + 1 MeV), Gamma_hD/m_hD from 1e-8
  to 0.3, dark mass 0.01 GeV;
* ``dense`` (issue 16, 2026-12-04): 23 masses from 0.005 to 25 GeV, every endpoint +- 1 MeV and
  +- 10 keV, the pair threshold + 1 MeV and + 10 keV (a pole hugging the lower end of the q^2
  range), Gamma_hD/m_hD from 1e-10 to 0.3 (9 values), dark masses 0, 0.01 and 0.1 GeV
  (8856 cases). This is the set that decides whether a smaller order keeps 1e-6.

Writes benchmarks/quadrature_convergence.json (both sets, the worst case of each order).

Run: .venv/bin/python benchmarks/quadrature_convergence.py [--sets standard,dense]
"""

import argparse
import json
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import reference_scipy as ref  # noqa: E402

import hpjax  # noqa: E402
from hpjax.decays import CHANNELS, endpoint, gamma_three_body  # noqa: E402
from hpjax.models import gamma_hD_total  # noqa: E402

ORDERS = (8, 12, 16, 24, 32, 48, 64, 96)
SIN = 3e-3


def case_set(name: str, inputs):
    """[(m_dark, masses, width ratios)] of a case set."""
    ends = [float(endpoint(ch, inputs)) for ch in CHANNELS]
    if name == "standard":
        m_dark = 0.01
        masses = [0.01, 0.05, 0.15, 0.3, 1.0, 3.0, 8.0, 20.0, 2 * m_dark + 1e-3]
        masses += [e + s for e in ends for s in (-1e-3, 1e-3)]
        return [(m_dark, masses, (1e-8, 1e-6, 1e-4, 1e-2, 0.1, 0.3))]
    if name == "dense":
        out = []
        for m_dark in (0.0, 0.01, 0.1):
            masses = list(np.geomspace(0.005, 25.0, 23)) + [2 * m_dark + 1e-3, 2 * m_dark + 1e-5]
            masses += [e + s for e in ends for s in (-1e-3, 1e-3, -1e-5, 1e-5)]
            out.append((m_dark, masses, (1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.3)))
        return out
    raise ValueError(f"unknown case set {name!r}; valid: standard, dense")


def study(name: str, inputs) -> dict:
    inp = inputs.as_dict()
    worst = {n: (0.0, None) for n in ORDERS}
    cases = 0
    for m_dark, masses, ratios in case_set(name, inputs):
        for cls, kind in ((hpjax.SingletHiggsPortal, "singlet"), (hpjax.DarkAbelianHiggs, "abelian")):
            pts = [(float(m), r) for m in masses for r in ratios]
            m = jnp.array([p[0] for p in pts])
            c = jnp.array(
                [math.sqrt(8 * math.pi * r) if kind == "singlet" else mm / math.sqrt(32 * math.pi * r) for mm, r in pts]
            )
            model = cls(m, jnp.full_like(m, SIN), c, jnp.full_like(m, m_dark))
            gtot = [float(g) for g in gamma_hD_total(model, inputs)]
            for ch in CHANNELS:
                want = [
                    ref.gamma_three_body(ch, kind, pts[i][0], SIN, float(c[i]), m_dark, gtot[i], inp)
                    for i in range(len(pts))
                ]
                for n in ORDERS:
                    got = np.asarray(jax.jit(lambda mod, n=n: gamma_three_body(ch, mod, inputs, n=n))(model))
                    err = np.abs(got / np.asarray(want) - 1.0)
                    i = int(np.argmax(err))
                    if err[i] > worst[n][0]:
                        worst[n] = (
                            float(err[i]),
                            {
                                "model": kind,
                                "channel": ch,
                                "m_hD": pts[i][0],
                                "Gamma_over_m": pts[i][1],
                                "m_dark": m_dark,
                            },
                        )
                cases += len(pts)
    return {
        "cases": cases,
        "worst_relative_error": {str(n): w for n, (w, _) in worst.items()},
        "worst_case": {str(n): where for n, (_, where) in worst.items()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="standard,dense")
    args = ap.parse_args()
    inputs = hpjax.Inputs.default()
    path = ROOT / "benchmarks" / "quadrature_convergence.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    out = {"sets": out.get("sets", {})}
    for name in args.sets.split(","):
        t0 = time.perf_counter()
        res = study(name, inputs)
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        out["sets"][name] = res
        print(f"{name}: {res['cases']} cases (channels x models x dark masses x masses x widths), {res['wall_s']} s")
        print("order n per segment | worst relative error vs adaptive quadrature | where")
        for n in ORDERS:
            w = res["worst_case"][str(n)]
            print(f"{n:>19} | {res['worst_relative_error'][str(n)]:.2e} | {w}")
    out["default_order"] = hpjax.numerics.quadrature.DEFAULT_ORDER
    out["peak_half_width"] = hpjax.numerics.quadrature.PEAK_HALF_WIDTH
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
