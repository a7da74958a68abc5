"""``hpjax demo | predict | paper | bounds | cite``: what needs no fit."""

from __future__ import annotations

import pathlib
import time

from .common import check_writable, dumps, fmt, load_spec, parse_model

__all__ = ["register", "observable_table", "prescription_scan"]


def register(sub) -> None:
    """Add demo, predict, paper, bounds and cite to the subparsers ``sub``."""
    d = sub.add_parser("demo", help="benchmark observables, Belle II sin(theta), the paper's numbers, a figure")
    d.add_argument("--out", default="results", help="output directory (default: results)")
    d.set_defaults(func=cmd_demo)
    q = sub.add_parser("predict", help="observables of one model point")
    q.add_argument("model", help="singlet | dark_abelian")
    q.add_argument("params", nargs="*", help="PARAM=VALUE, e.g. m_hD=1 sin_theta=6e-3 y_D=1 m_chi=0.1")
    q.add_argument(
        "--json", action="store_true", help='print strict JSON (NaN as null, infinities as the strings "inf" / "-inf")'
    )
    q.set_defaults(func=cmd_predict)
    r = sub.add_parser("paper", help="the paper's stated numbers against hpjax")
    r.add_argument("--explain", action="store_true", help="print the explanation of every ratio")
    r.set_defaults(func=cmd_paper)
    b = sub.add_parser("bounds", help="sin(theta) bounds of each likelihood term, paper vs latest dataset")
    b.set_defaults(func=cmd_bounds)
    text = "references behind every input and measurement a fit uses"
    c = sub.add_parser("cite", help=text, description=text)
    c.add_argument("spec", help="fit specification, e.g. fits/singlet_profile_mhD.toml")
    c.set_defaults(func=cmd_cite)


def observable_table(model, inputs) -> list[tuple[str, float, float]]:
    from ..observables import predict

    uni = predict(model, inputs)
    pap = predict(model, inputs, prescription="paper")
    return [(k, float(uni[k]), float(pap[k])) for k in uni]


def _print_table(rows, header):
    print(f"  {header[0]:<18} {header[1]:>12} {header[2]:>12}")
    for name, a, b in rows:
        print(f"  {name:<18} {fmt(a):>12} {fmt(b):>12}")


def _paper_rows(inputs):
    from ..paper import reproduce

    return reproduce(inputs)


def _print_paper(rows):
    print(f"  {'quantity':<24} {'eq.':<20} {'paper':>10} {'hpjax':>11} {'ratio':>6}")
    for r in rows:
        print(f"  {r['name']:<24} {r['equation']:<20} {r['paper']:>10.3g} {r['ours']:>11.4g} {r['ratio']:>6.3f}")


def prescription_scan(inputs):
    """BR(B+ -> K+ inv) and BR(K+ -> pi+ inv) vs m_hD under both prescriptions."""
    import jax
    import jax.numpy as jnp

    from ..models import SingletHiggsPortal
    from ..observables import predict

    masses = jnp.concatenate([jnp.geomspace(0.05, 4.7, 160), jnp.linspace(4.7, 4.9, 81), jnp.geomspace(4.9, 20.0, 60)])
    out = {"m_hD": masses.tolist()}
    for y in (1.0, 0.1):
        for presc in ("unified", "paper"):
            f = jax.jit(
                lambda m, p=presc, y=y: predict(
                    SingletHiggsPortal(m, 6e-3, y * jnp.ones_like(m), 0.01 * jnp.ones_like(m)),
                    inputs,
                    prescription=p,
                    observables=["BR(B+->K+inv)", "BR(K+->pi+inv)"],
                )
            )
            r = f(masses)
            out[f"y_D={y}/{presc}"] = {k: v.tolist() for k, v in r.items()}
    return out


def cmd_demo(args) -> int:
    import hpjax

    from ..paper import benchmark_models

    t0 = time.perf_counter()
    inputs = hpjax.Inputs.default()
    out_dir = pathlib.Path(args.out)
    check_writable(out_dir)
    results = {"hpjax_version": hpjax.__version__, "inputs": inputs.as_dict(), "formfactors": inputs.formfactors}
    for name, model in benchmark_models().items():
        print(f"\n{name}: {model}")
        rows = observable_table(model, inputs)
        _print_table(rows, ("observable", "unified", "paper presc."))
        results[name] = {
            "model": {k: float(v) for k, v in model.params().items()},
            "unified": {k: a for k, a, _ in rows},
            "paper_prescription": {k: b for k, _, b in rows},
        }
    singlet = benchmark_models()["singlet"]
    s = float(hpjax.solve_sin_theta(singlet, 1.9e-5, "BR(B+->K+inv)", inputs))
    print(
        f"\nsin(theta) reproducing the Belle II central value BR_NP = 1.9e-5 (eq. 5) at m_hD = {singlet.m_hD} GeV:"
        f" {s:.4e}   (paper: ~6e-3)"
    )
    results["sin_theta_belle2_central"] = s
    print("\nThe paper's stated numbers (hpjax.paper; explanations in hpjax/data/paper_numbers.toml):")
    prow = _paper_rows(inputs)
    _print_paper(prow)
    results["paper_numbers"] = prow
    scan = prescription_scan(inputs)
    results["prescription_scan"] = scan
    (out_dir / "demo.json").write_text(dumps(results, indent=1) + "\n")
    fig_path = out_dir / "demo_prescriptions.png"
    from ..plotting import prescription_figure

    prescription_figure(scan, fig_path)
    print(f"\nwrote {out_dir / 'demo.json'} and {fig_path}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_predict(args) -> int:
    import hpjax

    model = parse_model(args.model, args.params)
    rows = observable_table(model, hpjax.Inputs.default())
    if args.json:
        # strict JSON: NaN -> null, +-inf -> "inf" / "-inf" (e.g. the lifetime of a stable h_D)
        print(dumps({k: {"unified": a, "paper": b} for k, a, b in rows}, indent=1))
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
    from ..likelihood.bounds import bounds_table
    from ..paper import benchmark_models

    for name, model in benchmark_models().items():
        print(f"\n{name}: {model}  (sin(theta) bounds, hard-step convention)")
        print(f"  {'term':<16} {'m_hD':>6} {'paper':>10} {'latest':>10} {'latest/paper':>12}")
        for r in bounds_table(model):
            ratio = r["latest"] / r["paper"] if r["paper"] < float("inf") else float("nan")
            print(f"  {r['term']:<16} {r['m_hD']:>6g} {r['paper']:>10.3g} {r['latest']:>10.3g} {ratio:>12.3f}")
    return 0


def cmd_cite(args) -> int:
    spec = load_spec(args.spec)
    lik = spec.build_likelihood()
    inp = spec.inputs()
    print(f"# References behind {spec.path.name}\n")
    print("## Theory: the model and its formulas")
    print(
        "- D. McKeen, J. N. Ng, D. Tuckler, Higgs Portal Interpretation of the Belle II B+ -> K+ nu nu "
        "Measurement, arXiv:2312.00982 (errata: docs/paper-errata.md)"
    )
    print("\n## Inputs")
    seen = {}
    for name in inp.names:
        seen.setdefault(inp.citation(name), []).append(name)
    for src, names in seen.items():
        print(f"- {src}  [{', '.join(names)}]")
    print("\n## Measurements")
    for c in lik.citations():
        print(f"- {c}")
    import tomllib
    from importlib import resources

    refs = tomllib.loads(resources.files("hpjax.data").joinpath("references.toml").read_text())
    print("\n## Abbreviations")
    for key, ref in refs.items():
        print(f"- {key}: {ref['reference']}")
    return 0
