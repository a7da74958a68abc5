"""``hpjax scan | plot``: a fit specification's grid scan (chunked, sharded, resumable) and the
paper's figure drawn from it."""

from __future__ import annotations

import json
import time

from .common import Interrupted, check_writable, load_spec, metadata, positive_int

__all__ = ["register", "scan_mismatch"]


def register(sub) -> None:
    """Add scan and plot to the subparsers ``sub``."""
    t = sub.add_parser(
        "scan",
        help="grid scan of a fit specification (task.scan)",
        description="grid scan (task.scan): chunked, sharded over all devices, resumable",
    )
    t.add_argument("spec", help="fit specification, e.g. fits/fig1_unified.toml")
    t.add_argument(
        "--chunk-size",
        type=positive_int,
        default=None,
        help="points per chunk, >= 1 (default: task.scan.chunk_size, else from free memory); a rerun "
        "with another chunk size reuses the points already computed",
    )
    t.add_argument("--max-chunks", type=positive_int, default=None, help="stop after this many chunks (resume later)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--distributed",
        nargs="?",
        const="auto",
        default=None,
        metavar="HOST:PORT,N,ID",
        help="one of several processes (jax.distributed): from SLURM/MPI when given alone",
    )
    t.set_defaults(func=cmd_scan)
    t = sub.add_parser(
        "plot",
        help="draw the paper's figure (plot.kind) from a scan",
        description="draw the paper's figure (plot.kind) from the scan's scan.nc",
    )
    t.add_argument("spec", help="fit specification, e.g. fits/fig1_unified.toml")
    t.set_defaults(func=cmd_plot)


def _setup(spec):
    from ..spec import axis_values

    opts = spec.tasks.get("scan")
    if opts is None or "axes" not in opts:
        raise SystemExit(f"hpjax: {spec.path.name}: key 'task.scan.axes': missing; give 1 to 3 scan axes")
    lik = spec.build_likelihood()
    axes = {a: axis_values(s, spec.free[a]) for a, s in opts["axes"].items()}
    return opts, lik, axes


def _forward_only(path) -> bool:
    """Whether the specification's scan profiles nothing: no profiled parameters and no term that
    profiles its nuisances at every point (belle2_full's ``nuisances = "profile"``, Gauss-Newton
    steps with derivatives). Read without validation: a bad file is reported by load_spec."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        task, lik = doc.get("task", {}).get("scan", {}), doc.get("likelihood", {})
        inner = any(isinstance(t, dict) and t.get("nuisances") == "profile" for t in lik.values())
        return isinstance(task, dict) and not task.get("profile") and not inner
    except (OSError, ValueError, AttributeError):
        return False


def cmd_scan(args) -> int:
    from ..inference import distributed
    from ..inference.scan import ScanInterrupted, scan

    distributed.use_all_cpu_cores()  # every core, as the benchmarks (before JAX starts its backend)
    if _forward_only(args.spec):
        # XLA's fused reductions and blocks of FORWARD_BLOCK points (read before load_spec, which
        # starts JAX's backend; profiled scans, which differentiate, keep YNNPACK's reductions)
        distributed.fuse_reductions()
    if args.distributed:
        try:
            distributed.initialize(args.distributed)
        except (ValueError, RuntimeError) as exc:
            raise SystemExit(f"hpjax: --distributed: {exc}") from None
    spec = load_spec(args.spec)
    opts, lik, axes = _setup(spec)
    check_writable(spec.output_dir)
    n = 1
    for v in axes.values():
        n *= len(v)
    print(f"{spec.name}: scanning {n} points of {lik}", flush=True)
    meta = metadata(spec, "scan")
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
    block = int(ds.attrs["block_size"])
    print(
        f"wrote {spec.output_dir / 'scan.nc'}: {n} points in {dt:.1f} s ({n / dt:.3g} points/s, "
        f"{ds.attrs['n_chunks']} chunks of {ds.attrs['chunk_size']} on {ds.attrs['n_devices']} device(s), "
        f"{f'blocks of {block}' if block else 'one vmap'} a device)"
    )
    return 0


def scan_mismatch(ds, spec) -> str | None:
    """Why ``ds`` (a scan.nc) is not the scan of ``spec``, or None when it is."""
    from ..inference.scan import identity_hash, scan_identity

    opts, lik, axes = _setup(spec)
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

    from ..plotting import draw
    from ..plotting.fig3 import is_fig3_spec, plot_spec

    if is_fig3_spec(args.spec):  # a figure-only spec (fits/fig3.toml): no scan, no likelihood
        return print("wrote " + ", ".join(plot_spec(args.spec))) or 0
    spec = load_spec(args.spec)
    plot = spec.tasks.get("plot") or {}
    if "kind" not in plot:
        from ..spec import PLOT_KINDS

        raise SystemExit(f"hpjax: {spec.path.name}: key 'plot.kind': missing; valid: {list(PLOT_KINDS)}")
    nc = spec.output_dir / "scan.nc"
    if not nc.exists():
        raise SystemExit(f"hpjax: {nc} not found: run `hpjax scan {spec.path}` first")
    check_writable(spec.output_dir)
    try:
        ds = xr.open_dataset(nc, engine="h5netcdf")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line
        raise SystemExit(f"hpjax: {nc} cannot be read ({type(exc).__name__}): rerun `hpjax scan {spec.path}`") from None
    with ds:
        why = scan_mismatch(ds, spec)
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
