"""Grid scans: the likelihood, every term and chosen observables on grids of up to three
parameters, in memory-bounded chunks sharded over every device, written as they are computed
and resumable after an interruption.

* Chunks: the flattened grid is cut into chunks of ``chunk_size`` points (default: from the
  available memory, :func:`auto_chunk_size`, evened out by :func:`even_chunk_size` so that the
  last chunk is not mostly padding). Each chunk is one call of a jitted function whose batch axis is sharded over a 1-D ``jax.sharding.Mesh`` of ``jax.devices()`` (one CPU, several
  CPU devices with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, one or many GPUs) with
  ``shard_map``. On each device the points are evaluated in vmapped blocks of ``block_size``
  (``lax.map``; on CPUs, where a block's q^2 nodes stay in cache: 4-5x faster than one vmap over
  the chunk, benchmarks/RESULTS.md; default :func:`default_block_size`: :data:`FORWARD_BLOCK` =
  1024 for a forward scan when XLA keeps reductions out of YNNPACK, as ``hpjax scan`` sets up with
  :func:`hpjax.inference.distributed.fuse_reductions`, else :data:`CPU_BLOCK` = 24) or in one vmap
  (``block_size=0``, the default on GPUs). Chunks are padded to a multiple of the device count.
* Output: every finished chunk is written atomically to ``<out>/chunks/points_<first>_<last>.npz``
  with the flat indices of its points and the hash of the scan's identity (grid, likelihood,
  outputs; not the chunk size); at the end the points are assembled into ``<out>/scan.nc``
  (xarray/NetCDF, with coordinates and metadata). A rerun, with any chunk size, reuses every
  finished point, so an interrupted scan resumes where it stopped and its final file equals that
  of an uninterrupted run. Unusable chunk files (truncated, zero-length, wrong shape, ln L NaN
  everywhere) are reported in one line and recomputed.
* Profiled parameters (``profile=[...]``) are minimised at every grid point (vmapped BFGS
  started from the model's values).
* Multi-host: start every process with :func:`hpjax.inference.distributed.initialize` (or
  ``jax.distributed.initialize(...)``; ``hpjax scan --distributed``) before calling :func:`scan`
  in each of them; ``jax.devices()`` then spans all processes and the mesh shards each chunk over
  all of them. Each process feeds and fetches only the points on its own devices and writes their
  chunk files (one owner per point; use a file system all processes share); process 0 reads the
  finished points for a resume and tells the others, and after a barrier assembles ``scan.nc``,
  which every process then returns. A rerun after any process was killed resumes as above.
* Files (identity, chunk files, validation, assembly): :mod:`hpjax.inference.scan_store`.

>>> import numpy as np, hpjax, tempfile
>>> from hpjax.inference.scan import scan
>>> lik = hpjax.Likelihood(hpjax.SingletHiggsPortal(1.0, 6e-3, 1.0, 0.0), terms=["belle2"], free=("sin_theta",))
>>> ds = scan(lik, {"sin_theta": np.geomspace(1e-3, 1e-2, 8)}, tempfile.mkdtemp(), chunk_size=4, progress=False)
>>> ds["log_likelihood"].shape, int(ds.attrs["n_chunks"])
((8,), 2)
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from ..numerics import capped_chi2
from . import distributed as dist
from . import interrupt
from .chunks import (
    BYTES_PER_POINT,
    CPU_BLOCK,
    FORWARD_BLOCK,
    auto_chunk_size,
    chunk_function,
    default_block_size,
    even_chunk_size,
    make_mesh,
)
from .scan_store import (
    ScanInterrupted,
    assemble,
    atomic_save,
    check_identity,
    chunk_path,
    done_mask,
    drop_mismatched,
    identity_hash,
    load_chunks,
    majority_variables,
    scan_identity,
)

__all__ = [
    "scan",
    "scan_identity",
    "identity_hash",
    "ScanInterrupted",
    "auto_chunk_size",
    "even_chunk_size",
    "make_mesh",
    "chunk_function",
    "BYTES_PER_POINT",
    "CPU_BLOCK",
    "FORWARD_BLOCK",
    "default_block_size",
]

#: seconds to pause after each written chunk (environment HPJAX_SCAN_THROTTLE_S; 0 by default). A
#: testing aid only: it lets the kill-and-resume test interrupt a scan midway however fast chunks run.
_THROTTLE_S = float(os.environ.get("HPJAX_SCAN_THROTTLE_S", "0") or 0)


def _grid(axes: dict):
    names = list(axes)
    values = [np.asarray(v, dtype=float) for v in axes.values()]
    mesh = np.meshgrid(*values, indexing="ij")
    return names, values, np.stack([m.ravel() for m in mesh], axis=1), mesh[0].shape


def _point_function(lik, names, profile, observables, transforms):
    """f(poi_vector) -> dict of scalars for one grid point."""
    from .optimize import bfgs

    base = {k: jnp.asarray(v) for k, v in lik.initial_params().items()}
    prof = list(profile)

    def params_at(v, u=None):
        p = dict(base)
        p.update({n: v[i] for i, n in enumerate(names)})
        if prof:
            p.update({n: transforms[n].forward(u[i]) for i, n in enumerate(prof)})
        return p

    def point(v):
        if prof:
            u0 = jnp.stack([transforms[n].inverse(base[n]) for n in prof])
            f = lambda u: capped_chi2(lik.chi2(params_at(v, u)))  # noqa: E731
            u, _, _, _, _ = bfgs(f, u0, 200, 1e-6)
            p = params_at(v, u)
        else:
            p = params_at(v)
        # the observables from the likelihood's own prediction: shared q^2 integrals computed once
        terms, obs = lik.breakdown_and_predictions(p, observables) if observables else (lik.breakdown(p), {})
        out = {f"logL_{k}": val for k, val in terms.items()}
        out["log_likelihood"] = sum(out.values())
        for n in prof:
            out[f"profiled_{n}"] = p[n]
        out.update({f"obs_{k}": v for k, v in obs.items()})
        return out

    return point


def _calls_lapack_on_cpu(point, n_axes: int, mesh) -> bool:
    """Whether the per-point function, on a CPU mesh, lowers to LAPACK custom calls."""
    if mesh.devices.flat[0].platform != "cpu":
        return False
    spec = jax.ShapeDtypeStruct((1, n_axes), jnp.float64)
    return dist.calls_lapack_on_cpu(jax.jit(jax.vmap(point)).lower(spec), mesh)


def _cuts(todo: np.ndarray, chunk: int):
    """The points still to compute (flat indices, ascending) cut into chunks of ``chunk``."""
    return [todo[i : i + chunk] for i in range(0, todo.size, chunk)]


def _check_args(chunk_size, max_chunks):
    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1):
        raise ValueError(
            f"chunk_size = {chunk_size!r} is outside the allowed range: an integer >= 1 (or None: from the free memory)"
        )
    if max_chunks is not None and (int(max_chunks) != max_chunks or max_chunks < 1):
        raise ValueError(f"max_chunks = {max_chunks!r} is outside the allowed range: an integer >= 1")


def _stderr(msg):
    print(msg, file=sys.stderr, flush=True)


@interrupt.remembers_sigint
def scan(
    lik,
    axes: dict,
    out_dir,
    *,
    profile=(),
    observables=(),
    chunk_size: int | None = None,
    transforms: dict | None = None,
    metadata: dict | None = None,
    progress: bool = True,
    devices=None,
    max_chunks: int | None = None,
    block_size: int | None = None,
    log=None,
):
    """Evaluate ``lik`` on the grid ``axes`` (name -> 1D values, 1 to 3 free parameters).

    Returns the assembled ``xarray.Dataset`` (also written to ``<out_dir>/scan.nc``), or None if
    ``max_chunks`` stopped the scan early (the finished chunks stay on disk for a resume).
    ``block_size``: points per vmapped block on each device (default: :func:`default_block_size`;
    see :func:`chunk_function`).

    What was computed is kept apart from how it was cut: every chunk file
    ``<out_dir>/chunks/points_<first>_<last>.npz`` holds the flat indices of its points and the
    hash of :func:`scan_identity`, so a rerun with any chunk size (the default one follows the
    free memory) or process count reuses every finished point and computes only the rest. A chunk
    file that cannot be used (zero-length, truncated, wrong shape, another scan's, ln L NaN
    everywhere) is reported with one line (``log``, default: stderr) and its points are computed
    again. Ctrl-C raises :class:`ScanInterrupted` (a ``KeyboardInterrupt``) saying how many points
    are kept. In several processes (:mod:`hpjax.inference.distributed`) call it in every one.
    """
    _check_args(chunk_size, max_chunks)
    log = log or _stderr
    names, values, points, shape = _grid(axes)
    if not 1 <= len(names) <= 3:
        raise ValueError(f"a scan takes 1 to 3 axes, got {names}")
    free = lik.parameters()
    bad = [n for n in list(names) + list(profile) if n not in free]
    if bad:
        raise ValueError(f"scan axes / profiled parameters {bad} are not free parameters; free: {free}")
    if profile:
        from .optimize import default_transforms

        tr = default_transforms(lik)
        tr.update(transforms or {})
    else:
        tr = {}
    main, n_proc = dist.is_main(), dist.process_count()
    out_dir = pathlib.Path(out_dir)
    chunk_dir = out_dir / "chunks"
    chunk_dir.mkdir(parents=True, exist_ok=True)
    point = _point_function(lik, names, profile, list(observables), tr)
    mesh = make_mesh(devices)
    if mesh.devices.size > 1 and _calls_lapack_on_cpu(point, len(names), mesh):
        # a program with LAPACK calls (the profiled belle2_full term's Cholesky solves) deadlocks
        # when several CPU devices of one process run it (see distributed.calls_lapack_on_cpu);
        # one device per process is safe
        log(f"scan: {lik} calls LAPACK; on CPU it runs on one device per process (not {mesh.devices.size})")
        mesh = make_mesh(dist.one_device_per_process(mesh.devices.flat))
    n_dev = mesh.devices.size
    n_points = points.shape[0]
    chunk = even_chunk_size(n_points, auto_chunk_size()) if chunk_size is None else min(chunk_size, n_points)
    chunk = max(n_dev, int(math.ceil(chunk / n_dev)) * n_dev)
    n_chunks = int(math.ceil(n_points / chunk))

    # the scan's identity (what is computed, not how it is cut): a resumed run must be the same scan
    ident = scan_identity(lik, axes, profile, observables)
    ihash = identity_hash(ident)
    legacy_chunk = check_identity(out_dir, ident, write=main)

    from jax.sharding import NamedSharding, PartitionSpec

    sharding = NamedSharding(mesh, PartitionSpec("points"))
    compiled = {}
    per_block = default_block_size(mesh.devices.flat[0].platform, profile) if block_size is None else block_size

    def executable():
        if not compiled:  # traced once: its outputs name the variables, then compiled
            spec = jax.ShapeDtypeStruct((chunk, len(names)), jnp.float64, sharding=sharding)
            traced = chunk_function(point, mesh, per_block).trace(spec)
            compiled["variables"] = set(traced.out_info)
            compiled["run"] = traced.lower().compile()
        return compiled["run"]

    # process 0 reads what is finished (and removes unusable files); the others follow its mask
    records, expected = {}, None
    if main:
        for stale in chunk_dir.glob(".*.tmp"):  # a write cut short by a kill
            stale.unlink(missing_ok=True)
        records = load_chunks(chunk_dir, n_points, ihash, legacy_chunk, log)
        if done_mask(records, n_points).all():
            expected = majority_variables(records)
        else:
            executable()
            expected = compiled["variables"]
        drop_mismatched(records, expected, log)
    done = dist.broadcast_from_main(done_mask(records, n_points))  # a barrier too
    kept = done.copy()
    todo = np.flatnonzero(~done)

    bar = None
    if progress and main:
        from tqdm import tqdm

        bar = tqdm(
            total=n_points,
            initial=int(done.sum()),
            unit="pt",
            unit_scale=True,
            desc="scan",
            file=sys.stderr,
            dynamic_ncols=True,
        )
    computed = 0
    t0 = time.perf_counter()
    pending = []  # (indices, device outputs) of the chunk dispatched last, not yet written

    def finish(idx, outputs):
        """Fetch a chunk's outputs, write this process's rows of it (it owns their file)."""
        nonlocal computed
        rows, arrays = dist.local_rows(outputs)
        own = rows < idx.size  # this process's real points of the chunk (the rest is padding)
        if own.any():
            mine = idx[rows[own]]
            arrays = {k: v[own] for k, v in arrays.items()}
            path = chunk_path(chunk_dir, mine)
            atomic_save(path, {**arrays, "_index": mine.astype(np.int64), "_identity": np.array(ihash)})
            records[path] = (mine, arrays)
        computed += idx.size
        kept[idx] = True
        if _THROTTLE_S:
            time.sleep(_THROTTLE_S)
        if bar:
            bar.update(idx.size)

    cuts = _cuts(todo, chunk)
    try:
        for count, idx in enumerate(cuts):
            interrupt.check()  # a Ctrl-C that JAX's tracing swallowed (see hpjax.inference.interrupt)
            if max_chunks is not None and count >= max_chunks:
                break
            run = executable()
            block = np.empty((chunk, len(names)))
            block[: idx.size] = points[idx]
            block[idx.size :] = points[idx[0]]  # padding: a valid point, discarded below
            # dispatched asynchronously: the devices compute this chunk while the host fetches and
            # writes the previous one (one chunk in flight; every process dispatches in the same order)
            pending.append((idx, run(dist.global_array(block, sharding))))
            if len(pending) > 1:
                finish(*pending.pop(0))
        while pending:
            interrupt.check()
            finish(*pending.pop(0))
        if max_chunks is not None and len(cuts) > max_chunks:
            if bar:
                bar.close()
            return None
    except KeyboardInterrupt:
        # a chunk the devices have finished is kept: written now (one that is still running is not waited for)
        try:
            for idx, outputs in pending:
                if n_proc == 1 and all(a.is_ready() for a in outputs.values()):
                    finish(idx, outputs)
        except KeyboardInterrupt:  # a second Ctrl-C: leave at once
            pass
        if bar:
            bar.close()
        raise ScanInterrupted(int(kept.sum()), n_points, chunk_dir) from None
    if bar:
        bar.close()
    elapsed = time.perf_counter() - t0

    if n_proc > 1:  # every process has written its files: process 0 reads them all
        dist.barrier("hpjax-scan-written")
        if main:
            records = load_chunks(chunk_dir, n_points, ihash, legacy_chunk, log, remove=False)
            missing = int((~done_mask(records, n_points)).sum())
            if missing:
                raise RuntimeError(f"scan: {missing} points have no chunk file in {chunk_dir}; rerun to compute them")
    expected = expected or compiled.get("variables")
    attrs = {
        "n_chunks": n_chunks,
        "chunk_size": chunk,
        "block_size": per_block,
        "n_devices": n_dev,
        "n_processes": n_proc,
        "identity": json.dumps(ident),
        "identity_hash": ihash,
    }
    attrs.update(
        {
            k: (v if isinstance(v, (int, float, str)) else json.dumps(v, default=float))
            for k, v in (metadata or {}).items()
        }
    )
    timing = {
        "points": n_points,
        "computed_points": computed,
        "seconds": elapsed,
        "points_per_second": (computed / elapsed) if elapsed > 0 and computed else None,
        "devices": [str(d) for d in mesh.devices.ravel()],
        "processes": n_proc,
    }
    ds = assemble(records, expected, names, values, shape, attrs, out_dir, timing) if main else None
    if n_proc > 1:
        dist.barrier("hpjax-scan-assembled")
        if not main:
            import xarray as xr

            with xr.open_dataset(out_dir / "scan.nc", engine="h5netcdf") as f:
                ds = f.load()
    return ds
