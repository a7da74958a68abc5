"""Grid scans: the likelihood, every term and chosen observables on grids of up to three
parameters, in memory-bounded chunks sharded over every device, written as they are computed
and resumable after an interruption.

* Chunks: the flattened grid is cut into chunks of ``chunk_size`` points (default: from the
  available memory, :func:`auto_chunk_size`). Each chunk is one call of a jitted function whose
  batch axis is sharded over a 1-D ``jax.sharding.Mesh`` of ``jax.devices()`` (one CPU, several
  CPU devices with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, one or many GPUs) with
  ``shard_map``. On each device the points are evaluated in vmapped blocks of ``block_size``
  (``lax.map``; default :data:`CPU_BLOCK` = 128 on CPUs, where a block's q^2 nodes stay in cache:
  4-5x faster than one vmap over the chunk, benchmarks/RESULTS.md) or in one vmap
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
* Multi-host: start every host with ``jax.distributed.initialize(coordinator_address, num_processes,
  process_id)`` before calling :func:`scan`; ``jax.devices()`` then spans all hosts and the mesh
  shards each chunk over all of them (each host writes the chunks; use a shared file system).

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

__all__ = [
    "scan",
    "scan_identity",
    "identity_hash",
    "ScanInterrupted",
    "auto_chunk_size",
    "make_mesh",
    "chunk_function",
    "BYTES_PER_POINT",
    "CPU_BLOCK",
]

#: points per vmapped block on CPU devices (benchmarks: 32..1024 within 15 % on 2 cores)
CPU_BLOCK = 128

#: working memory of one scan point of the full likelihood (4 channels x 96 q^2 nodes and their
#: intermediates), measured with benchmarks (peak RSS growth / chunk size), rounded up
BYTES_PER_POINT = 64 * 1024


#: seconds to pause after each written chunk (environment HPJAX_SCAN_THROTTLE_S; 0 by default). A
#: testing aid only: it lets the kill-and-resume test interrupt a scan midway however fast chunks run.
_THROTTLE_S = float(os.environ.get("HPJAX_SCAN_THROTTLE_S", "0") or 0)


def auto_chunk_size(
    fraction: float = 0.25, bytes_per_point: int = BYTES_PER_POINT, lo: int = 256, hi: int = 1 << 18
) -> int:
    """Points per chunk so that one chunk uses about ``fraction`` of the available memory."""
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        avail = 2 << 30
    n = int(avail * fraction / bytes_per_point)
    return int(2 ** math.floor(math.log2(max(lo, min(hi, n)))))


def make_mesh(devices=None):
    """1-D device mesh over all (or the given) devices, axis name "points"."""
    from jax.sharding import Mesh

    devices = jax.devices() if devices is None else devices
    return Mesh(np.array(devices), ("points",))


def chunk_function(point, mesh, block_size: int | None = None):
    """jit(f)(points[chunk, k]) -> {name: values[chunk]} of the per-point function ``point``,
    sharded over ``mesh`` (axis "points") with ``shard_map``; on each device ``lax.map`` over
    vmapped blocks of ``block_size`` points (0: one vmap; None: :data:`CPU_BLOCK` on CPU, 0 else).
    Every point's arithmetic is the same whatever the blocking, so the values do not depend on it."""
    from jax.sharding import PartitionSpec as P

    if block_size is None:
        block_size = CPU_BLOCK if mesh.devices.flat[0].platform == "cpu" else 0
    if block_size and block_size > 0:

        def local(block):
            return jax.lax.map(point, block, batch_size=block_size)
    else:
        local = jax.vmap(point)
    shard_map = getattr(jax, "shard_map", None)
    if shard_map is None:  # older jax
        from jax.experimental.shard_map import shard_map
    # no replication/varying-axis checks: the per-point function may differentiate internally
    # (the belle2_full profile builds VJPs with constant cotangents), which the checker rejects
    import inspect

    params = inspect.signature(shard_map).parameters
    check = {"check_vma": False} if "check_vma" in params else {"check_rep": False}
    return jax.jit(shard_map(local, mesh=mesh, in_specs=P("points"), out_specs=P("points"), **check))


def _grid(axes: dict):
    names = list(axes)
    values = [np.asarray(v, dtype=float) for v in axes.values()]
    mesh = np.meshgrid(*values, indexing="ij")
    return names, values, np.stack([m.ravel() for m in mesh], axis=1), mesh[0].shape


def _point_function(lik, names, profile, observables, transforms):
    """f(poi_vector) -> dict of scalars for one grid point."""
    from ..observables import predict
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
        out = {f"logL_{k}": val for k, val in lik.breakdown(p).items()}
        out["log_likelihood"] = sum(out.values())
        for n in prof:
            out[f"profiled_{n}"] = p[n]
        if observables:
            model, _ = lik._model_and_domain(p)
            inputs = lik._inputs_for(p)
            obs = predict(model, inputs, observables=observables, **lik.options)
            out.update({f"obs_{k}": v for k, v in obs.items()})
        return out

    return point


def _atomic_save(path: pathlib.Path, arrays: dict) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)


class ScanInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`scan`: ``done`` of ``total`` points are kept in ``chunk_dir`` (a rerun
    resumes from them)."""

    def __init__(self, done: int, total: int, chunk_dir):
        super().__init__(f"{done} of {total} points kept in {chunk_dir}")
        self.done, self.total, self.chunk_dir = done, total, pathlib.Path(chunk_dir)


def scan_identity(lik, axes: dict, profile=(), observables=()) -> dict:
    """What a scan computes, independent of how it is cut into chunks: the grid, the likelihood
    (dataset, terms, options, fixed values) and the requested outputs. Its hash
    (:func:`identity_hash`) marks every chunk file and the assembled ``scan.nc``."""
    names = list(axes)
    free = lik.parameters()
    fixed_free = [n for n in free if n not in names and n not in profile]
    return {
        "axes": {n: np.asarray(v, dtype=float).tolist() for n, v in axes.items()},
        "profile": list(profile),
        "observables": list(observables),
        "terms": lik.terms,
        "dataset": lik.dataset_name,
        "parameters": free,
        "options": lik.options,
        "fixed": {k: float(v) for k, v in lik.initial_params().items() if k in fixed_free},
        "model_defaults": lik.model_defaults,
    }


def identity_hash(ident: dict) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of a scan identity."""
    import hashlib

    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=float).encode()).hexdigest()[:16]


_CHUNK_GLOB = "points_*.npz"
_LEGACY_GLOB = "chunk_*.npz"


def _read_chunk(path: pathlib.Path, n_points: int, ihash: str, legacy_chunk: int | None):
    """(index, arrays) of one chunk file, or a string saying why it cannot be used."""
    import zipfile

    try:
        if path.stat().st_size == 0:
            return "zero-length file"
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        return f"unreadable ({type(exc).__name__}: truncated or not an .npz file)"
    if "_index" in arrays:
        index = arrays.pop("_index")
        h = arrays.pop("_identity", None)
        if h is None or str(h) != ihash:
            return "written by a different scan"
    elif legacy_chunk and path.name.startswith("chunk_"):  # layout of hpjax <= 0.1: chunk_<i>.npz
        try:
            i = int(path.stem.split("_")[1])
        except (IndexError, ValueError):
            return "unexpected file name"
        index = np.arange(i * legacy_chunk, min((i + 1) * legacy_chunk, n_points))
    else:
        return "no point index (not a chunk of this scan)"
    if index.ndim != 1 or index.dtype.kind not in "iu" or index.size == 0:
        return "bad point index"
    if index.min() < 0 or index.max() >= n_points or np.unique(index).size != index.size:
        return f"point index outside the grid of {n_points} points"
    if not arrays or "log_likelihood" not in arrays:
        return "no log_likelihood"
    for k, v in arrays.items():
        if v.shape != index.shape or v.dtype.kind not in "fc":
            return f"wrong shape: {k} has shape {v.shape} {v.dtype}, expected ({index.size},) float"
    if np.all(np.isnan(arrays["log_likelihood"])):
        return "log_likelihood is NaN at every point (ln L is finite or -inf)"
    return index, arrays


def _cuts(todo: np.ndarray, chunk: int):
    """The points still to compute (flat indices, ascending) cut into chunks of ``chunk``."""
    return [todo[i : i + chunk] for i in range(0, todo.size, chunk)]


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
    ``block_size``: points per vmapped block on each device (see :func:`chunk_function`).

    What was computed is kept apart from how it was cut: every chunk file
    ``<out_dir>/chunks/points_<first>_<last>.npz`` holds the flat indices of its points and the
    hash of :func:`scan_identity`, so a rerun with any chunk size (the default one follows the
    free memory) reuses every finished point and computes only the rest. A chunk file that cannot
    be used (zero-length, truncated, wrong shape, another scan's, ln L NaN everywhere) is
    reported with one line (``log``, default: stderr) and its points are computed again. Ctrl-C
    raises :class:`ScanInterrupted` (a ``KeyboardInterrupt``) saying how many points are kept.
    """
    import xarray as xr

    if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1):
        raise ValueError(
            f"chunk_size = {chunk_size!r} is outside the allowed range: an integer >= 1 (or None: from the free memory)"
        )
    if max_chunks is not None and (int(max_chunks) != max_chunks or max_chunks < 1):
        raise ValueError(f"max_chunks = {max_chunks!r} is outside the allowed range: an integer >= 1")
    if log is None:

        def log(msg):
            print(msg, file=sys.stderr, flush=True)

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
    out_dir = pathlib.Path(out_dir)
    chunk_dir = out_dir / "chunks"
    chunk_dir.mkdir(parents=True, exist_ok=True)
    mesh = make_mesh(devices)
    n_dev = mesh.devices.size
    n_points = points.shape[0]
    chunk = min(chunk_size or auto_chunk_size(), n_points)
    chunk = max(n_dev, int(math.ceil(chunk / n_dev)) * n_dev)
    n_chunks = int(math.ceil(n_points / chunk))

    # the scan's identity (what is computed, not how it is cut): a resumed run must be the same scan
    ident = scan_identity(lik, axes, profile, observables)
    ihash = identity_hash(ident)
    ident_path = out_dir / "scan_identity.json"
    legacy_chunk = None
    if ident_path.exists():
        try:
            old = json.loads(ident_path.read_text())
        except (ValueError, UnicodeDecodeError):
            old = None
        if isinstance(old, dict):
            legacy_chunk = old.pop("chunk_size", None)  # hpjax <= 0.1 kept the chunk size in the identity
            if old != json.loads(json.dumps(ident)):
                raise ValueError(
                    f"{out_dir}: holds chunks of a different scan (grid, likelihood or outputs "
                    f"differ); choose another output directory or remove it"
                )
    ident_path.write_text(json.dumps(ident, indent=1))
    for stale in chunk_dir.glob(".*.tmp"):  # a write cut short by a kill
        stale.unlink(missing_ok=True)

    records = {}
    for f in sorted(chunk_dir.glob(_CHUNK_GLOB)) + sorted(chunk_dir.glob(_LEGACY_GLOB)):
        r = _read_chunk(f, n_points, ihash, legacy_chunk)
        if isinstance(r, str):
            log(f"scan: {f.name} cannot be used ({r}); its points are computed again")
            f.unlink(missing_ok=True)
        else:
            records[f] = r

    from jax.sharding import NamedSharding, PartitionSpec

    sharding = NamedSharding(mesh, PartitionSpec("points"))
    point = _point_function(lik, names, profile, list(observables), tr)
    batched = None
    bar = None
    computed = 0
    count = 0
    expected = None
    t0 = time.perf_counter()
    try:
        while True:
            done = np.zeros(n_points, dtype=bool)
            for idx, _ in records.values():
                done[idx] = True
            todo = np.flatnonzero(~done)
            if progress and bar is None:
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
            for idx in _cuts(todo, chunk):
                if max_chunks is not None and count >= max_chunks:
                    if bar:
                        bar.close()
                    return None
                if batched is None:
                    batched = chunk_function(point, mesh, block_size)
                block = np.empty((chunk, len(names)))
                block[: idx.size] = points[idx]
                block[idx.size :] = points[idx[0]]  # padding: a valid point, discarded below
                res = batched(jax.device_put(jnp.asarray(block), sharding))
                arrays = {k: np.asarray(v)[: idx.size] for k, v in res.items()}
                path = chunk_dir / f"points_{idx[0]:09d}_{idx[-1]:09d}.npz"
                _atomic_save(path, {**arrays, "_index": idx.astype(np.int64), "_identity": np.array(ihash)})
                records[path] = (idx, arrays)
                expected = expected or set(arrays)
                computed += idx.size
                count += 1
                done[idx] = True
                if _THROTTLE_S:
                    time.sleep(_THROTTLE_S)
                if bar:
                    bar.update(idx.size)
            if expected is None:  # nothing computed in this run: the variables most files hold
                sets = [frozenset(a) for _, a in records.values()]
                expected = set(max(set(sets), key=sets.count))
            wrong = [f for f, (_, a) in records.items() if set(a) != expected]
            if not wrong:
                break
            for f in wrong:
                log(
                    f"scan: {f.name} cannot be used (variables {sorted(records[f][1])} differ from "
                    f"{sorted(expected)}); its points are computed again"
                )
                f.unlink(missing_ok=True)
                del records[f]
                if bar:
                    bar.reset(total=n_points)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        kept = np.zeros(n_points, dtype=bool)
        for idx, _ in records.values():
            kept[idx] = True
        raise ScanInterrupted(int(kept.sum()), n_points, chunk_dir) from None
    if bar:
        bar.close()
    elapsed = time.perf_counter() - t0

    # assemble: every point from exactly the chunk files that hold it
    data = {k: np.full(n_points, np.nan) for k in sorted(expected)}
    for idx, arrays in records.values():
        for k in data:
            data[k][idx] = arrays[k]
    coords = {n: v for n, v in zip(names, values)}
    ds = xr.Dataset({k: (names, v.reshape(shape)) for k, v in data.items()}, coords=coords)
    attrs = {
        "n_chunks": n_chunks,
        "chunk_size": chunk,
        "n_devices": n_dev,
        "identity": json.dumps(ident),
        "identity_hash": ihash,
    }
    attrs.update(
        {
            k: (v if isinstance(v, (int, float, str)) else json.dumps(v, default=float))
            for k, v in (metadata or {}).items()
        }
    )
    ds.attrs.update(attrs)
    tmp = out_dir / "scan.nc.tmp"
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, out_dir / "scan.nc")
    (out_dir / "scan_timing.json").write_text(
        json.dumps(
            {
                "points": n_points,
                "computed_points": computed,
                "seconds": elapsed,
                "points_per_second": (computed / elapsed) if elapsed > 0 and computed else None,
                "devices": [str(d) for d in mesh.devices.ravel()],
            },
            indent=1,
        )
    )
    return ds
