"""The ``hpjax`` command.

    hpjax demo [--out DIR]        observables at the paper's benchmark points, the sin(theta) that
                                  reproduces Belle II, the paper's numbers, results JSON + figure
    hpjax predict MODEL k=v ...   observables of one model point (MODEL: singlet | dark_abelian)
    hpjax paper                   the paper's stated numbers against hpjax
    hpjax bounds                  hard-cut sin(theta) bounds of each term, `paper` vs `latest` data
    hpjax fit FITSPEC.toml        best fit (BFGS from many starts) with Hessian errors
    hpjax profile FITSPEC.toml    1D/2D profile likelihood with Wilks intervals
    hpjax sample FITSPEC.toml     NUTS posterior; exits 1 when R-hat > 1.01 or divergences > 1 %
    hpjax cite FITSPEC.toml       the references behind every input and measurement a fit uses
    hpjax scan FITSPEC.toml       grid scan (task.scan), chunked, sharded over all devices, resumable
    hpjax plot FITSPEC.toml       the paper's figure (plot.kind) from the scan's scan.nc

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
        if k in params:
            raise SystemExit(f"hpjax: parameter {k} given twice ({k}={params[k]:g} and '{a}'); give it once")
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


def strict_json(obj):
    """``obj`` with every non-finite float made strict JSON: NaN -> null, +-inf -> "inf" / "-inf"
    (RFC 8259 has no NaN or Infinity; ``json.dumps`` would write the bare words).

    >>> json.dumps(strict_json({"tau": float("inf"), "br": float("nan"), "x": [1.5]}))
    '{"tau": "inf", "br": null, "x": [1.5]}'
    """
    import math

    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return strict_json(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def _dumps(obj, **kw) -> str:
    return json.dumps(strict_json(obj), allow_nan=False, default=lambda o: strict_json(float(o)), **kw)


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

    from .paper import benchmark_models

    t0 = time.perf_counter()
    inputs = hpjax.Inputs.default()
    out_dir = pathlib.Path(args.out)
    _check_writable(out_dir)
    results = {"hpjax_version": hpjax.__version__, "inputs": inputs.as_dict(), "formfactors": inputs.formfactors}
    for name, model in benchmark_models().items():
        print(f"\n{name}: {model}")
        rows = _observable_table(model, inputs)
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
    scan = _prescription_scan(inputs)
    results["prescription_scan"] = scan
    (out_dir / "demo.json").write_text(_dumps(results, indent=1) + "\n")
    fig_path = out_dir / "demo_prescriptions.png"
    from .plotting import prescription_figure

    prescription_figure(scan, fig_path)
    print(f"\nwrote {out_dir / 'demo.json'} and {fig_path}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_predict(args) -> int:
    import hpjax

    model = _parse_model(args.model, args.params)
    rows = _observable_table(model, hpjax.Inputs.default())
    if args.json:
        # strict JSON: NaN -> null, +-inf -> "inf" / "-inf" (e.g. the lifetime of a stable h_D)
        print(_dumps({k: {"unified": a, "paper": b} for k, a, b in rows}, indent=1))
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


def _load(path):
    from .spec import SpecError, load_spec

    try:
        return load_spec(path)
    except SpecError as exc:
        raise SystemExit(f"hpjax: {exc}") from None


def _metadata(spec, task: str, seed=None) -> dict:
    import platform

    import jax

    import hpjax

    return {
        "hpjax_version": hpjax.__version__,
        "jax_version": jax.__version__,
        "task": task,
        "fit_spec": str(spec.path),
        "fit_spec_text": spec.path.read_text(),
        "model": spec.model_name,
        "dataset": spec.likelihood.get("dataset", "paper"),
        "seed": seed,
        "inputs": spec.inputs().as_dict(),
        "formfactors": spec.inputs().formfactors,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _check_writable(directory: pathlib.Path) -> None:
    """Create ``directory`` and check that a file can be written there, before any computing."""
    import tempfile

    directory = pathlib.Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".hpjax-write-check-"):
            pass
    except OSError as exc:
        raise SystemExit(
            f"hpjax: output directory {directory} cannot be written ({exc.strerror or exc}); "
            f"set [output] directory in the fit specification to a writable place"
        ) from None


def _write_json(path: pathlib.Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dumps(obj, indent=1) + "\n")


def cmd_fit(args) -> int:
    from .inference import best_fit

    spec = _load(args.spec)
    lik = spec.build_likelihood()
    _check_writable(spec.output_dir)
    opts = spec.tasks.get("fit", {})
    t0 = time.perf_counter()
    fit = best_fit(
        lik,
        transforms=spec.transforms(lik),
        n_starts=opts.get("n_starts", 8),
        seed=opts.get("seed", 0),
        max_iter=opts.get("max_iter", 500),
    )
    print(f"{spec.name}: best fit of {lik}")
    print(fit.summary())
    parts = {k: float(v) for k, v in lik.breakdown({k: jnp_asarray(v) for k, v in fit.params.items()}).items()}
    print("  chi2 by term: " + ", ".join(f"{k} {-2 * v:.3g}" for k, v in parts.items()))
    out = spec.output_dir
    _write_json(
        out / "fit.json",
        {
            "metadata": _metadata(spec, "fit", opts.get("seed", 0)),
            "params": fit.params,
            "errors": fit.errors,
            "chi2": fit.chi2,
            "converged": fit.converged,
            "message": fit.message,
            "chi2_by_term": {k: -2 * v for k, v in parts.items()},
            "starts": fit.starts,
        },
    )
    from .plotting import chi2_bar_figure

    chi2_bar_figure(parts, out / "fit.png", f"{spec.name}: chi2 by term at the best fit")
    print(f"wrote {out / 'fit.json'} and {out / 'fit.png'}  ({time.perf_counter() - t0:.1f} s)")
    return 0 if fit.converged else 1


def jnp_asarray(v):
    import jax.numpy as jnp

    return jnp.asarray(v)


def cmd_profile(args) -> int:
    import numpy as np

    from .inference import best_fit, profile
    from .spec import axis_values

    spec = _load(args.spec)
    opts = spec.tasks.get("profile")
    if opts is None or "poi" not in opts:
        raise SystemExit(f"hpjax: {spec.path.name}: key 'task.profile.poi': missing; give the parameters of interest")
    lik = spec.build_likelihood()
    _check_writable(spec.output_dir)
    tr = spec.transforms(lik)
    t0 = time.perf_counter()
    fit = best_fit(
        lik,
        transforms=tr,
        n_starts=opts.get("n_starts", 8),
        seed=opts.get("seed", 0),
        max_iter=opts.get("max_iter", 500),
    )
    poi = {a: axis_values(s, spec.free[a]) for a, s in opts["poi"].items()}
    prof = profile(lik, poi, transforms=tr, fit=fit, max_iter=opts.get("max_iter", 300))
    print(f"{spec.name}: profile of {lik} in {prof.poi}")
    print(fit.summary())
    result = {
        "metadata": _metadata(spec, "profile", opts.get("seed", 0)),
        "poi": prof.poi,
        "grid": {k: v.tolist() for k, v in prof.grid.items()},
        "chi2": prof.chi2.tolist(),
        "delta_chi2": prof.delta_chi2.tolist(),
        "chi2_min": prof.chi2_min,
        "best_fit": prof.best_fit,
        "profiled": {k: np.asarray(v).tolist() for k, v in prof.profiled.items()},
        "converged": np.asarray(prof.converged).tolist(),
    }
    if len(prof.poi) == 1:
        for cl in (0.68, 0.95):
            iv = prof.interval(cl)
            result[f"interval_{int(cl * 100)}"] = iv
            print(f"  {int(cl * 100)}% CL (Wilks) {prof.poi[0]}: " + ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in iv))
    if not np.all(prof.converged):
        print(f"  warning: {int(np.sum(~np.asarray(prof.converged)))} grid points did not converge")
    out = spec.output_dir
    _write_json(out / "profile.json", result)
    from .plotting import profile_figure

    profile_figure(prof, out / "profile.png", spec.name)
    print(f"wrote {out / 'profile.json'} and {out / 'profile.png'}  ({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_sample(args) -> int:
    from .inference import corner_plot, sample
    from .inference.sample import SampleInterrupted
    from .likelihood.likelihood import BELLE2_FULL_PREFIX

    spec = _load(args.spec)
    opts = spec.tasks.get("sample", {})
    lik = spec.build_likelihood()
    out = spec.output_dir
    _check_writable(out)
    t0 = time.perf_counter()
    num_samples = opts.get("num_samples", 1000)

    def save(res):
        res.to_netcdf(out / "posterior.nc")
        shown = []
        for n in lik.parameters():
            if n.startswith(BELLE2_FULL_PREFIX):
                continue
            pr = res.priors.get(n)
            shown.append(f"log10_{res.names[n]}" if pr is not None and pr.kind == "log_uniform" else n)
        corner_plot(res, out / "corner.png", var_names=shown)

    try:
        # the draws come in segments, so that a Ctrl-C keeps the finished ones
        res = sample(
            lik,
            spec.priors(),
            num_warmup=opts.get("num_warmup", 500),
            num_samples=num_samples,
            num_chains=opts.get("num_chains", 4),
            seed=opts.get("seed", 0),
            target_accept=opts.get("target_accept", 0.8),
            segments=min(opts.get("segments", 4), num_samples),
            metadata=_metadata(spec, "sample", opts.get("seed", 0)),
        )
    except SampleInterrupted as exc:
        if exc.result is None:
            raise Interrupted(
                "hpjax sample: interrupted before the first draws (warmup or compilation); nothing was written"
            ) from None
        save(exc.result)
        raise Interrupted(
            f"hpjax sample: interrupted; kept {exc.done} of {exc.total} draws per chain in "
            f"{out / 'posterior.nc'} and {out / 'corner.png'} (a partial run: check its R-hat)"
        ) from None
    print(f"{spec.name}: NUTS posterior of {lik}")
    # Belle II's 231 nuisances (belle2_full, nuisances = "float") are summarised in one line; the
    # full table is in posterior.nc
    b2_sites = {res.names[n] for n in lik.parameters() if n.startswith(BELLE2_FULL_PREFIX)}
    b2_rows = [r for r in res.summary.index if r in b2_sites or any(f"[{x}]" in r for x in b2_sites)]
    print(res.summary_text(show_z=args.show_z, drop=b2_rows))
    if b2_rows:
        sub = res.summary.loc[b2_rows]
        print(
            f"  ({len(b2_sites)} Belle II nuisances: max R-hat {sub['r_hat'].max():.4f}, min bulk ESS "
            f"{sub['ess_bulk'].min():.0f}; full table in posterior.nc)"
        )
    print(
        f"  max R-hat {res.max_r_hat:.4f}, min bulk ESS {res.min_ess_bulk:.0f}, min tail ESS "
        f"{res.min_ess_tail:.0f}, divergences {res.divergences} ({100 * res.divergence_fraction:.2f} %)"
    )
    for name, (lo, hi) in res.credible_intervals(0.68).items():
        if not name.startswith(BELLE2_FULL_PREFIX):
            print(f"  68% credible interval {name}: [{lo:.4g}, {hi:.4g}]")
    save(res)
    print(f"wrote {out / 'posterior.nc'} and {out / 'corner.png'}  ({time.perf_counter() - t0:.1f} s)")
    if not res.ok:
        for p in res.problems:
            print(f"  PROBLEM: {p}")
        return 1
    return 0


def cmd_cite(args) -> int:
    spec = _load(args.spec)
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


def _scan_setup(spec):
    from .spec import axis_values

    opts = spec.tasks.get("scan")
    if opts is None or "axes" not in opts:
        raise SystemExit(f"hpjax: {spec.path.name}: key 'task.scan.axes': missing; give 1 to 3 scan axes")
    lik = spec.build_likelihood()
    axes = {a: axis_values(s, spec.free[a]) for a, s in opts["axes"].items()}
    return opts, lik, axes


def cmd_scan(args) -> int:
    from .inference.scan import ScanInterrupted, scan

    spec = _load(args.spec)
    opts, lik, axes = _scan_setup(spec)
    _check_writable(spec.output_dir)
    n = 1
    for v in axes.values():
        n *= len(v)
    print(f"{spec.name}: scanning {n} points of {lik}", flush=True)
    meta = _metadata(spec, "scan")
    meta.pop("created", None)  # a resumed scan must write the same file as an uninterrupted one
    t0 = time.perf_counter()
    chunk = args.chunk_size if args.chunk_size is not None else opts.get("chunk_size")
    try:
        ds = scan(
            lik,
            axes,
            spec.output_dir,
            profile=opts.get("profile", ()),
            observables=opts.get("observables", ()),
            chunk_size=chunk,
            transforms=spec.transforms(lik),
            metadata=meta,
            progress=not args.quiet,
            max_chunks=args.max_chunks,
        )
    except ScanInterrupted as exc:
        raise Interrupted(
            f"hpjax scan: interrupted; {exc.done} of {exc.total} points are kept in {exc.chunk_dir}: "
            f"rerun `hpjax scan {args.spec}` to resume"
        ) from None
    except ValueError as exc:
        raise SystemExit(f"hpjax: {exc}") from None
    if ds is None:
        print(f"stopped after {args.max_chunks} chunks (rerun to resume)")
        return 0
    dt = time.perf_counter() - t0
    print(
        f"wrote {spec.output_dir / 'scan.nc'}: {n} points in {dt:.1f} s ({n / dt:.3g} points/s, "
        f"{ds.attrs['n_chunks']} chunks of {ds.attrs['chunk_size']} on {ds.attrs['n_devices']} device(s))"
    )
    return 0


def _scan_mismatch(ds, spec) -> str | None:
    """Why ``ds`` (a scan.nc) is not the scan of ``spec``, or None when it is."""
    from .inference.scan import identity_hash, scan_identity

    opts, lik, axes = _scan_setup(spec)
    want = scan_identity(lik, axes, opts.get("profile", ()), opts.get("observables", ()))
    if ds.attrs.get("identity_hash") == identity_hash(want):
        return None
    try:
        have = json.loads(ds.attrs["identity"])
    except (KeyError, ValueError, TypeError):
        return "it records no scan identity"
    have.pop("chunk_size", None)  # files of hpjax <= 0.1
    want = json.loads(json.dumps(want))
    if have == want:
        return None
    words = {
        "axes": "grid",
        "profile": "profiled parameters",
        "observables": "observables",
        "terms": "terms",
        "dataset": "dataset",
        "parameters": "free parameters",
        "options": "likelihood options",
        "fixed": "fixed parameter values",
        "model_defaults": "model parameters",
    }
    diff = [words.get(k, k) for k in want if have.get(k) != want.get(k)]
    return "its " + ", ".join(diff or ["identity"]) + " differ"


def cmd_plot(args) -> int:
    import xarray as xr

    from .plotting import draw

    spec = _load(args.spec)
    plot = spec.tasks.get("plot") or {}
    if "kind" not in plot:
        from .spec import PLOT_KINDS

        raise SystemExit(f"hpjax: {spec.path.name}: key 'plot.kind': missing; valid: {list(PLOT_KINDS)}")
    nc = spec.output_dir / "scan.nc"
    if not nc.exists():
        raise SystemExit(f"hpjax: {nc} not found: run `hpjax scan {spec.path}` first")
    _check_writable(spec.output_dir)
    try:
        ds = xr.open_dataset(nc, engine="h5netcdf")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line
        raise SystemExit(f"hpjax: {nc} cannot be read ({type(exc).__name__}): rerun `hpjax scan {spec.path}`") from None
    with ds:
        why = _scan_mismatch(ds, spec)
        if why:
            raise SystemExit(f"hpjax: {nc} is not the scan of {spec.path.name} ({why}): rerun `hpjax scan {spec.path}`")
        summary = draw(
            plot["kind"],
            ds.load(),
            spec.output_dir / spec.name,
            plot.get("title", ""),
            plot.get("formats", ["png", "pdf"]),
        )
    print("wrote " + ", ".join(summary["files"]))
    return 0


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is outside the allowed range: an integer >= 1")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hpjax", description="Higgs-portal likelihoods for Belle II B+ -> K+ nu nubar")
    sub = p.add_subparsers(dest="command", required=True)
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
    for name, func, text in (
        ("fit", cmd_fit, "best fit and Hessian errors of a fit specification"),
        ("profile", cmd_profile, "profile likelihood (task.profile.poi) of a fit specification"),
        ("sample", cmd_sample, "NUTS posterior (task.sample) of a fit specification"),
        ("cite", cmd_cite, "references behind every input and measurement a fit uses"),
    ):
        t = sub.add_parser(name, help=text, description=text)
        t.add_argument("spec", help="fit specification, e.g. fits/singlet_profile_mhD.toml")
        if name == "sample":
            t.add_argument(
                "--show-z", action="store_true", help="also print the whitened nuisance variables nuisance_z[...]"
            )
        t.set_defaults(func=func)
    t = sub.add_parser(
        "scan",
        help="grid scan of a fit specification (task.scan)",
        description="grid scan (task.scan): chunked, sharded over all devices, resumable",
    )
    t.add_argument("spec", help="fit specification, e.g. fits/fig1_unified.toml")
    t.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=None,
        help="points per chunk, >= 1 (default: task.scan.chunk_size, else from free memory); a rerun "
        "with another chunk size reuses the points already computed",
    )
    t.add_argument("--max-chunks", type=_positive_int, default=None, help="stop after this many chunks (resume later)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_scan)
    t = sub.add_parser(
        "plot",
        help="draw the paper's figure (plot.kind) from a scan",
        description="draw the paper's figure (plot.kind) from the scan's scan.nc",
    )
    t.add_argument("spec", help="fit specification, e.g. fits/fig1_unified.toml")
    t.set_defaults(func=cmd_plot)
    return p


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the one line that says what was kept."""


def main(argv: list[str] | None = None) -> int:
    """Run the hpjax command (``argv``: the arguments; None: the command line).

    Ctrl-C ends with one line saying what was kept (exit status 130), never a traceback. On the
    command line (``argv`` None) the process then leaves with ``os._exit`` after flushing its
    output: a KeyboardInterrupt raised while XLA compiles (the compile returns with the signal's
    error while its worker threads still run) otherwise crashes the interpreter's shutdown with
    a segmentation fault.
    """
    args = build_parser().parse_args(argv)
    previous_hook = sys.unraisablehook

    def unraisable(u):
        # a Ctrl-C that lands in a callback whose exceptions Python ignores (jax's gc callback
        # during compilation: "Exception ignored in _xla_gc_callback") would be lost and the
        # command would run on: deliver it again to the main thread, at its next instruction
        if u.exc_type is not None and issubclass(u.exc_type, KeyboardInterrupt):
            import _thread
            import threading

            # from another thread: called here it would be raised, and ignored, inside this hook
            threading.Timer(0.01, _thread.interrupt_main).start()
            return
        previous_hook(u)

    sys.unraisablehook = unraisable
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        msg = str(exc) if isinstance(exc, Interrupted) else f"hpjax {args.command}: interrupted; nothing was written"
        print(msg, file=sys.stderr)
        if argv is not None:
            sys.unraisablehook = previous_hook
            raise SystemExit(130) from None
        import os

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(130)
    finally:
        sys.unraisablehook = previous_hook


if __name__ == "__main__":
    sys.exit(main())
