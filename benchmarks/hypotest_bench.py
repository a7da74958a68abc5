"""Heavy checks of hpjax.inference (issue 13), recorded in benchmarks/hypotest_results.json.

    python benchmarks/hypotest_bench.py [--sections fit,lee,limits,toys,coverage,model_limits] [--toys 10000]

* ``fit``: InvisibleX in Belle II's full likelihood (belle2_full, 231 nuisances profiled):
  best m_X, BR(B+ -> K+ X) P_inv and local Z (q0 profiled over the mass), widths 0-0.3, SM at
  Belle II's template (mu_sm = 1) and at hpjax's SM prediction;
* ``lee``: local p0 vs m_X on 0.1..4.5 GeV and the global significance from ``--toys``
  background-only toys, each profiled over the mass (23 masses), against Gross-Vitells; timed;
* ``limits``: 95 % CL CLs upper limits (q~, asymptotic) on BR(B+ -> K+ X) P_inv vs m_X for
  width/m_X in {0, 0.01, 0.1, 0.3}, with the expected band; the singlet's sin(theta) vs m_hD
  from the same limits (belle2_full: the signal is proportional to sin^2 theta at fixed m_hD);
* ``toys``: toy CLs (5000 s+b and 5000 b toys) on Belle II's published model at two mu against
  the asymptotic CLs, with 12- and 30-step fits of the toys (convergence);
* ``coverage``: at m_X = 2 GeV the fraction of toys (X injected) whose 95 % CLs limit covers it.

Timings are wall-clock on the machine of the run (record ``uptime``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import hpjax  # noqa: E402,F401
from hpjax.inference.adapters import (  # noqa: E402
    histfactory_likelihood,
    invisible_x_likelihood,
    invisible_x_q0_curve,
)
from hpjax.inference.hypotest import hypotest, upper_limit  # noqa: E402
from hpjax.inference.lookelsewhere import global_significance  # noqa: E402

MASSES = np.round(np.linspace(0.1, 4.5, 23), 3)
WIDTHS = (0.0, 0.01, 0.1, 0.3)
OUT = ROOT / "benchmarks" / "hypotest_results.json"


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _f(x):
    return np.asarray(x).tolist()


def bench_fit() -> dict:
    from hpjax.likelihood.belle2.spectrum import BR_TEMPLATE
    from hpjax.likelihood.measurements import load_measurement

    sm = load_measurement(hpjax.likelihood.measurements.load_dataset("latest")["sm_prediction"][0])
    fine = jnp.linspace(1.5, 3.0, 151)
    out = {"masses_fine": _f(fine)}
    for label, mu_sm in (("sm_template", 1.0), ("sm_hpjax", float(sm.value) / BR_TEMPLATE)):
        for w in WIDTHS:
            f = jax.jit(invisible_x_q0_curve(fine, w, mu_sm=mu_sm))
            lik = invisible_x_likelihood(2.0, w, mu_sm=mu_sm)
            q, br = f(lik.data)
            i = int(jnp.argmax(q))
            qmax = float(q[i])
            inside = np.asarray(fine)[np.asarray(q) >= qmax - 1.0]  # Delta(-2 ln L) = 1 in m_X
            # BR interval at the best mass: profile in BR (q_mu two-sided)
            lik_b = invisible_x_likelihood(fine[i], w, mu_sm=mu_sm)
            grid = jnp.linspace(0.0, 25.0, 251)
            lnl = jax.jit(jax.vmap(lambda m: lik_b.profile(m, lik_b.data)[0]))(grid)
            d = 2 * (float(lnl.max()) - np.asarray(lnl))
            ok = grid[d <= 1.0]
            out[f"{label}_w{w}"] = {
                "mu_sm": mu_sm,
                "m_X": float(fine[i]),
                "m_X_1sigma": [float(inside.min()), float(inside.max())],
                "br_1e6": float(br[i]),
                "br_1sigma_1e6": [float(ok.min()), float(ok.max())],
                "q0": qmax,
                "Z_local_1dof": float(np.sqrt(qmax)),
                "Z_local_2dof_wilks": float(-jax.scipy.special.ndtri(jnp.exp(-qmax / 2))),
                "q0_curve": _f(q),
            }
            print(label, w, {k: v for k, v in out[f"{label}_w{w}"].items() if k != "q0_curve"}, flush=True)
    return out


def bench_lee(n_toys: int, batch: int = 500) -> dict:
    ms = jnp.asarray(MASSES)
    null = invisible_x_likelihood(2.0)
    z0 = null.profile(jnp.asarray(0.0), null.data)[1]
    curve = invisible_x_q0_curve(ms)
    loc = jax.jit(curve)(null.data)

    def run(k, n):
        return global_significance(
            None,
            lambda kk: null.sample(kk, 0.0, z0),
            null.data,
            ms,
            n_toys=n,
            batch=min(batch, n),
            key=k,
            q0_curve=curve,
        )

    f = jax.jit(run, static_argnums=1)
    t0 = time.perf_counter()
    jax.block_until_ready(f(jax.random.PRNGKey(0), min(batch, n_toys)))
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = jax.block_until_ready(f(jax.random.PRNGKey(2026), n_toys))
    t_run = time.perf_counter() - t0
    qmax = np.asarray(r["q_max_toys"])
    out = {k: float(v) for k, v in r.items() if np.ndim(v) == 0}
    out.update(
        {
            "n_toys": n_toys,
            "masses": _f(ms),
            "q0_local": _f(loc[0]),
            "br_hat_1e6": _f(loc[1]),
            "p0_local": _f(jax.scipy.special.ndtr(-np.sqrt(np.asarray(loc[0])))),
            "q_max_toys_quantiles": {str(p): float(np.quantile(qmax, p)) for p in (0.5, 0.9, 0.99)},
            "seconds_first_block_with_compile": t_compile,
            "seconds_toys": t_run,
            "load": _load(),
        }
    )
    print({k: v for k, v in out.items() if not isinstance(v, list)}, flush=True)
    return out


def bench_limits() -> dict:
    from hpjax.likelihood.belle2.spectrum import resonance_spectrum  # noqa: F401

    ms = jnp.asarray(MASSES)
    out = {"masses": _f(ms)}

    def lim(m, w):
        lik = invisible_x_likelihood(m, w)
        return upper_limit(lik, scan=jnp.linspace(0.5, 40.0, 24), iters=14)

    f = jax.jit(jax.vmap(lim, in_axes=(0, None)))  # one compilation for every width
    for w in WIDTHS:
        t0 = time.perf_counter()
        r = f(ms, w)
        out[f"w{w}"] = {
            "observed_1e6": _f(r["observed"]),
            "expected_1e6": _f(r["expected"]),
            "seconds": time.perf_counter() - t0,
        }
        print("limits", w, np.round(np.asarray(r["observed"]), 2), flush=True)
    # singlet: BR(B+ -> K+ h_D) BR(h_D -> inv) at sin(theta) = 1 (y_D = 1, m_chi = 0.1 GeV)
    m_hd = jnp.asarray([m for m in MASSES if m > 0.25])
    model = hpjax.SingletHiggsPortal(m_hD=m_hd, sin_theta=1e-3, y_D=1.0, m_chi=0.1)
    p = hpjax.predict(model, observables=["BR(B+->K+hD)", "BR(hD->inv)"])
    br1 = np.asarray(p["BR(B+->K+hD)"] * p["BR(hD->inv)"]) / 1e-6
    ul = np.interp(np.asarray(m_hd), np.asarray(ms), np.asarray(out["w0.0"]["observed_1e6"])) * 1e-6
    out["singlet_sin_theta"] = {"m_hD": _f(m_hd), "sin_theta_95": _f(np.sqrt(ul / br1)), "y_D": 1.0, "m_chi": 0.1}
    return out


def bench_toys(n_toys: int = 5000, steps_list=(12, 30), mus=None) -> dict:
    out = {}
    ref = json.loads((ROOT / "tests" / "data" / "pyhf_belle2_reference.json").read_text())
    mus = (ref["hypotest_qtilde"][0]["mu"], 4.0) if mus is None else mus
    for steps in steps_list:
        lik = histfactory_likelihood(steps=steps)
        for mu in mus:
            a = jax.jit(lambda m: hypotest(lik, {"mu": m}))(mu)
            t0 = time.perf_counter()
            t = jax.jit(lambda m: hypotest(lik, {"mu": m}, method="toys", n_toys=n_toys, batch=500))(mu)
            row = {
                "mu": mu,
                "steps": steps,
                "asymptotic": {k: _f(a[k]) for k in ("CLs", "CLsb", "CLb", "CLs_expected")},
                "toys": {
                    k: _f(t[k]) for k in ("CLs", "CLs_error", "CLsb", "CLsb_error", "CLb", "CLb_error", "CLs_expected")
                },
                "seconds": time.perf_counter() - t0,
                "dtype": str(t["CLs"].dtype),
            }
            out[f"mu{mu:.3f}_steps{steps}"] = row
            print(row, flush=True)
    return out


def bench_coverage(
    n_toys: int = 400, m_X: float = 2.0, br_true=(2.0, 5.0, 9.0, 14.0), figure: Path | None = None
) -> dict:
    """Coverage of the 95 % CL CLs (q~, asymptotic) upper limit on BR(B+ -> K+ X) P_inv for a narrow
    X at ``m_X`` in Belle II's full likelihood: ``n_toys`` toys (Poisson main counts, aux data from
    the constraints, nuisances fitted to the data at the injected BR) at each injected BR (units
    1e-6), every toy's limit computed; coverage = fraction of limits >= the injected BR, with its
    binomial error. ``figure``: coverage versus injected BR (docs/figures)."""
    base = invisible_x_likelihood(m_X)
    lim = jax.jit(
        jax.vmap(lambda d: upper_limit(base.with_data(d), scan=jnp.linspace(1.0, 40.0, 16), iters=12)["observed"])
    )
    rows = []
    for i, br in enumerate(br_true):
        z = base.profile(jnp.asarray(br), base.data)[1]
        keys = jax.random.split(jax.random.PRNGKey(5 + i), n_toys)
        toys = jax.vmap(lambda k, br=br, z=z: base.sample(k, br, z))(keys)
        t0 = time.perf_counter()
        ul = np.asarray(
            jax.lax.map(lim, jax.tree_util.tree_map(lambda x: x.reshape(-1, 50, *x.shape[1:]), toys)).reshape(-1)
        )
        c = float(np.mean(ul >= br))
        rows.append(
            {
                "br_true_1e6": br,
                "coverage": c,
                "error": float(np.sqrt(c * (1 - c) / n_toys)),
                "seconds": time.perf_counter() - t0,
            }
        )
        print("coverage", rows[-1], flush=True)
    if figure is not None:
        from hpjax.plotting.common import pyplot, save_figure

        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5.6, 3.8))
        x = [r["br_true_1e6"] for r in rows]
        ax.errorbar(
            x,
            [r["coverage"] for r in rows],
            yerr=[r["error"] for r in rows],
            fmt="ko",
            capsize=3,
            label=f"{n_toys} toys each",
        )
        ax.axhline(0.95, color="tab:red", ls="--", lw=1, label="95 % CL")
        ax.set_xlabel(r"injected BR$(B^+\to K^+X)\,P_{inv}$ [$10^{-6}$], $m_X$ = " + f"{m_X:g} GeV")
        ax.set_ylabel("coverage of the 95 % CLs upper limit")
        ax.set_ylim(0.85, 1.005)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        save_figure(fig, figure, ["png"])
    return {"m_X": m_X, "n_toys": n_toys, "rows": rows}


#: the singlet's sin(theta) limit versus m_hD from every term of a dataset (poi_likelihood)
MODEL_LIMIT_SETUPS = {
    "paper_all_terms": {"terms": None, "nuisances": ["BR(B+->K+nunu)_SM"]},
    "belle2_gaussian_only": {"terms": ["belle2"], "nuisances": ["BR(B+->K+nunu)_SM"]},
    "belle2_full_and_others": {
        "terms": ["belle2_full", "belle_kstar", "na62", "koto", "higgs_invisible", "lfu"],
        "nuisances": ["BR(B+->K+nunu)_SM"],
    },
    "belle2_full_only": {"terms": ["belle2_full"], "nuisances": []},
}


def bench_model_limits(masses=None, setups=None) -> dict:
    """95 % CL CLs (q~, asymptotic) limits on sin(theta) versus m_hD for the singlet (y_D = 1,
    m_chi = 0.1 GeV) from all terms of the paper dataset and subsets, POI mu = (sin theta / 1e-3)^2."""
    from hpjax.inference.adapters import poi_likelihood

    ms = np.round(np.linspace(0.3, 4.5, 15), 3) if masses is None else np.asarray(masses)
    out = {"m_hD": _f(ms), "y_D": 1.0, "m_chi": 0.1, "scale": 1e-3}
    model = hpjax.SingletHiggsPortal(m_hD=2.0, sin_theta=3e-3, y_D=1.0, m_chi=0.1)
    scan = jnp.geomspace(0.05, 400.0, 40)
    for name in setups or MODEL_LIMIT_SETUPS:
        cfg = MODEL_LIMIT_SETUPS[name]
        lik = hpjax.Likelihood(model, terms=cfg["terms"], nuisances=cfg["nuisances"])

        def lim(m, lik=lik):
            t = poi_likelihood(lik, "sin_theta", at={"m_hD": m}, scale=1e-3, bounds=(0.0, 400.0))
            r = upper_limit(t, scan=scan, iters=20)
            return 1e-3 * jnp.sqrt(r["observed"]), 1e-3 * jnp.sqrt(r["expected"])

        t0 = time.perf_counter()
        obs, exp = jax.jit(jax.vmap(lim))(jnp.asarray(ms))
        out[name] = {
            "terms": lik.terms,
            "nuisances": list(lik.nuisances),
            "observed": _f(obs),
            "expected": _f(exp),
            "seconds": time.perf_counter() - t0,
        }
        print("model_limits", name, np.round(np.asarray(obs) * 1e3, 2), f"{time.perf_counter() - t0:.0f} s", flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", default="fit,lee,limits,toys,coverage")
    ap.add_argument("--toys", type=int, default=10_000)
    ap.add_argument("--cls-toys", type=int, default=5000, help="toys of the toys section (each of s+b and b)")
    ap.add_argument("--steps", default="12,30", help="Gauss-Newton steps of the toy fits (toys section)")
    ap.add_argument("--mus", default=None, help="mu values of the toys section (default: the observed limit, 4)")
    ap.add_argument("--coverage-toys", type=int, default=1000, help="toys per injected BR (coverage section)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    res = json.loads(a.out.read_text()) if a.out.exists() else {}
    for s in a.sections.split(","):
        t0 = time.perf_counter()
        start_load = _load()
        r = {
            "fit": bench_fit,
            "lee": lambda: bench_lee(a.toys),
            "limits": bench_limits,
            "toys": lambda: bench_toys(
                a.cls_toys,
                tuple(int(x) for x in a.steps.split(",")),
                None if a.mus is None else tuple(float(x) for x in a.mus.split(",")),
            ),
            "coverage": lambda: bench_coverage(
                a.coverage_toys, figure=ROOT / "docs" / "figures" / "belle2_full_cls_coverage"
            ),
            "model_limits": bench_model_limits,
        }[s]()
        res[s] = {**r, "wall_s": time.perf_counter() - t0, "load_start": start_load, "load_end": _load()}
        a.out.write_text(json.dumps(res, indent=1))
        print(f"[{s}] {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
