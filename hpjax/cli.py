"""The ``hpjax`` command.

    hpjax demo [--out DIR]        observables at the paper's benchmark points, the sin(theta) that
                                  reproduces Belle II, the paper's numbers, results JSON + figure
    hpjax predict MODEL k=v ...   observables of one model point (MODEL: singlet | dark_abelian)
    hpjax paper                   the paper's stated numbers against hpjax
    hpjax bounds                  hard-cut sin(theta) bounds of each term, `paper` vs `latest` data

Only this module prints or writes files; the physics modules never do.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

__all__ = ["main"]


def _fmt(x) -> str:
    return f"{float(x):.4e}"


def _models():
    from .models import MODELS

    return MODELS


def _parse_model(kind: str, assignments: list[str]):
    models = _models()
    if kind not in models:
        raise SystemExit(f"hpjax: unknown model '{kind}'; valid models: {sorted(models)}")
    cls = models[kind]
    params = {}
    for a in assignments:
        if "=" not in a:
            raise SystemExit(f"hpjax: expected PARAM=VALUE, got '{a}'; parameters of {kind}: {list(cls.PARAMS)}")
        k, v = a.split("=", 1)
        if k not in cls.PARAMS:
            raise SystemExit(f"hpjax: unknown parameter '{k}' of {kind}; valid: {list(cls.PARAMS)}")
        try:
            params[k] = float(v)
        except ValueError:
            raise SystemExit(f"hpjax: parameter {k} = '{v}' is not a number") from None
    missing = [p for p in cls.PARAMS if p not in params]
    if missing:
        raise SystemExit(f"hpjax: missing parameter(s) {missing} of {kind}")
    try:
        return cls(**params)
    except ValueError as exc:
        raise SystemExit(f"hpjax: {exc}") from None


def _observable_table(model, inputs) -> list[tuple[str, float, float]]:
    from .observables import predict

    uni = predict(model, inputs)
    pap = predict(model, inputs, prescription="paper")
    return [(k, float(uni[k]), float(pap[k])) for k in uni]


def _print_table(rows, header):
    print(f"  {header[0]:<18} {header[1]:>12} {header[2]:>12}")
    for name, a, b in rows:
        print(f"  {name:<18} {_fmt(a):>12} {_fmt(b):>12}")


def _paper_rows(inputs):
    from .paper import reproduce

    return reproduce(inputs)


def _print_paper(rows):
    print(f"  {'quantity':<24} {'eq.':<20} {'paper':>10} {'hpjax':>11} {'ratio':>6}")
    for r in rows:
        print(f"  {r['name']:<24} {r['equation']:<20} {r['paper']:>10.3g} {r['ours']:>11.4g} {r['ratio']:>6.3f}")


def _prescription_scan(inputs):
    """BR(B+ -> K+ inv) and BR(K+ -> pi+ inv) vs m_hD under both prescriptions."""
    import jax
    import jax.numpy as jnp

    from .models import SingletHiggsPortal
    from .observables import predict

    masses = jnp.concatenate([jnp.geomspace(0.05, 4.7, 160), jnp.linspace(4.7, 4.9, 81), jnp.geomspace(4.9, 20.0, 60)])
    out = {"m_hD": masses.tolist()}
    for y in (1.0, 0.1):
        for presc in ("unified", "paper"):
            f = jax.jit(lambda m, p=presc, y=y: predict(SingletHiggsPortal(m, 6e-3, y * jnp.ones_like(m), 0.01 * jnp.ones_like(m)),
                                                          inputs, prescription=p,
                                                          observables=["BR(B+->K+inv)", "BR(K+->pi+inv)"]))
            r = f(masses)
            out[f"y_D={y}/{presc}"] = {k: v.tolist() for k, v in r.items()}
    return out


def _figure(scan, path: pathlib.Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = scan["m_hD"]
    fig, (ax, rx) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    colours = {1.0: "C0", 0.1: "C1"}
    for y in (1.0, 0.1):
        uni = scan[f"y_D={y}/unified"]["BR(B+->K+inv)"]
        pap = scan[f"y_D={y}/paper"]["BR(B+->K+inv)"]
        ax.plot(m, uni, color=colours[y], label=f"unified Breit-Wigner, $y_D$={y}")
        ax.plot(m, pap, color=colours[y], ls="--", label=f"paper (2-body | 3-body), $y_D$={y}")
        rx.plot(m, [u / p if p > 0 else float("nan") for u, p in zip(uni, pap)], color=colours[y])
    ax.axhspan(1.9e-5 - 0.7e-5, 1.9e-5 + 0.7e-5, color="C2", alpha=0.15, label=r"Belle II BR$_{NP}$ = (1.9 $\pm$ 0.7)e-5")
    ax.axvline(5.27941 - 0.493677, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-9, 1e-4)
    ax.set_ylabel(r"BR($B^+\to K^+$ + inv)")
    ax.set_title(r"Singlet Higgs portal, $\sin\theta = 6\times10^{-3}$, $m_\chi$ = 10 MeV")
    ax.legend(fontsize=7, loc="lower left")
    rx.set_xscale("log")
    rx.set_ylim(0.5, 3.0)
    rx.axhline(1.0, color="k", lw=0.5)
    rx.set_ylabel("unified / paper")
    rx.set_xlabel(r"$m_{h_D}$ [GeV]")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def cmd_demo(args) -> int:
    import hpjax

    from .paper import benchmark_models

    t0 = time.perf_counter()
    inputs = hpjax.Inputs.default()
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {"hpjax_version": hpjax.__version__, "inputs": inputs.as_dict(), "formfactors": inputs.formfactors}
    for name, model in benchmark_models().items():
        print(f"\n{name}: {model}")
        rows = _observable_table(model, inputs)
        _print_table(rows, ("observable", "unified", "paper presc."))
        results[name] = {"model": {k: float(v) for k, v in model.params().items()},
                         "unified": {k: a for k, a, _ in rows}, "paper_prescription": {k: b for k, _, b in rows}}
    singlet = benchmark_models()["singlet"]
    s = float(hpjax.solve_sin_theta(singlet, 1.9e-5, "BR(B+->K+inv)", inputs))
    print(f"\nsin(theta) reproducing the Belle II central value BR_NP = 1.9e-5 (eq. 5) at m_hD = {singlet.m_hD} GeV:"
          f" {s:.4e}   (paper: ~6e-3)")
    results["sin_theta_belle2_central"] = s
    print("\nThe paper's stated numbers (hpjax.paper; explanations in hpjax/data/paper_numbers.toml):")
    prow = _paper_rows(inputs)
    _print_paper(prow)
    results["paper_numbers"] = prow
    scan = _prescription_scan(inputs)
    results["prescription_scan"] = scan
    (out_dir / "demo.json").write_text(json.dumps(results, indent=1) + "\n")
    fig_path = out_dir / "demo_prescriptions.png"
    _figure(scan, fig_path)
    print(f"\nwrote {out_dir / 'demo.json'} and {fig_path}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_predict(args) -> int:
    import hpjax

    model = _parse_model(args.model, args.params)
    rows = _observable_table(model, hpjax.Inputs.default())
    if args.json:
        print(json.dumps({k: {"unified": a, "paper": b} for k, a, b in rows}, indent=1))
    else:
        _print_table(rows, ("observable", "unified", "paper presc."))
    return 0


def cmd_paper(args) -> int:
    import hpjax

    rows = _paper_rows(hpjax.Inputs.default())
    _print_paper(rows)
    if args.explain:
        for r in rows:
            print(f"\n{r['name']} ({r['equation']}): {r['explanation']}")
    return 0


def cmd_bounds(args) -> int:
    from .likelihood.bounds import bounds_table
    from .paper import benchmark_models

    for name, model in benchmark_models().items():
        print(f"\n{name}: {model}  (sin(theta) bounds, hard-step convention)")
        print(f"  {'term':<16} {'m_hD':>6} {'paper':>10} {'latest':>10} {'latest/paper':>12}")
        for r in bounds_table(model):
            ratio = r["latest"] / r["paper"] if r["paper"] < float("inf") else float("nan")
            print(f"  {r['term']:<16} {r['m_hD']:>6g} {r['paper']:>10.3g} {r['latest']:>10.3g} {ratio:>12.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpjax", description="Higgs-portal likelihoods for Belle II B+ -> K+ nu nubar")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="benchmark observables, Belle II sin(theta), the paper's numbers, a figure")
    d.add_argument("--out", default="results", help="output directory (default: results)")
    d.set_defaults(func=cmd_demo)
    q = sub.add_parser("predict", help="observables of one model point")
    q.add_argument("model", help="singlet | dark_abelian")
    q.add_argument("params", nargs="*", help="PARAM=VALUE, e.g. m_hD=1 sin_theta=6e-3 y_D=1 m_chi=0.1")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_predict)
    r = sub.add_parser("paper", help="the paper's stated numbers against hpjax")
    r.add_argument("--explain", action="store_true", help="print the explanation of every ratio")
    r.set_defaults(func=cmd_paper)
    b = sub.add_parser("bounds", help="sin(theta) bounds of each likelihood term, paper vs latest dataset")
    b.set_defaults(func=cmd_bounds)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
