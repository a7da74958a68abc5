"""The files of a grid scan (:func:`hpjax.inference.scan.scan`): its identity, the chunk files
(atomic writes, validation, resume) and the assembled ``scan.nc``.

A chunk file ``<out>/chunks/points_<first>_<last>.npz`` holds, for some points of the flattened
grid, their flat indices (``_index``), the hash of the scan's identity (``_identity``) and one
float array per output variable. Which points a file holds does not depend on the chunk size, the
device count or the process count, so a rerun with any of them reuses every finished point.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import zipfile

import numpy as np

__all__ = [
    "ScanInterrupted",
    "scan_identity",
    "identity_hash",
    "check_identity",
    "atomic_save",
    "chunk_path",
    "read_chunk",
    "load_chunks",
    "drop_mismatched",
    "majority_variables",
    "done_mask",
    "assemble",
    "CHUNK_GLOB",
]

CHUNK_GLOB = "points_*.npz"
LEGACY_GLOB = "chunk_*.npz"


class ScanInterrupted(KeyboardInterrupt):
    """Ctrl-C during a scan: ``done`` of ``total`` points are kept in ``chunk_dir`` (a rerun
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
    return hashlib.sha256(json.dumps(ident, sort_keys=True, default=float).encode()).hexdigest()[:16]


def check_identity(out_dir: pathlib.Path, ident: dict, write: bool = True):
    """Refuse ``out_dir`` if it holds another scan; write ``scan_identity.json`` (atomically) when
    ``write``. Returns the chunk size of an hpjax <= 0.1 directory (its chunk_<i>.npz layout) or None."""
    path = out_dir / "scan_identity.json"
    legacy_chunk = None
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError, OSError):
            old = None
        if isinstance(old, dict):
            legacy_chunk = old.pop("chunk_size", None)  # hpjax <= 0.1 kept the chunk size in the identity
            if old != json.loads(json.dumps(ident)):
                raise ValueError(
                    f"{out_dir}: holds chunks of a different scan (grid, likelihood or outputs "
                    f"differ); choose another output directory or remove it"
                )
    if write:
        tmp = path.with_name("." + path.name + ".tmp")
        tmp.write_text(json.dumps(ident, indent=1))
        os.replace(tmp, path)
    return legacy_chunk


def atomic_save(path: pathlib.Path, arrays: dict) -> None:
    """np.savez to a hidden temporary file, then rename: a kill never leaves a partial ``path``."""
    tmp = path.with_name("." + path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    os.replace(tmp, path)


def chunk_path(chunk_dir: pathlib.Path, index: np.ndarray) -> pathlib.Path:
    return chunk_dir / f"points_{index[0]:09d}_{index[-1]:09d}.npz"


def read_chunk(path: pathlib.Path, n_points: int, ihash: str, legacy_chunk: int | None):
    """(index, arrays) of one chunk file, or a string saying why it cannot be used."""
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


def load_chunks(chunk_dir: pathlib.Path, n_points: int, ihash: str, legacy_chunk, log, remove: bool = True):
    """{path: (index, arrays)} of every usable chunk file; each unusable one is reported with one
    line and (``remove``) deleted, so that its points are computed again."""
    records = {}
    for f in sorted(chunk_dir.glob(CHUNK_GLOB)) + sorted(chunk_dir.glob(LEGACY_GLOB)):
        r = read_chunk(f, n_points, ihash, legacy_chunk)
        if isinstance(r, str):
            log(f"scan: {f.name} cannot be used ({r}); its points are computed again")
            if remove:
                f.unlink(missing_ok=True)
        else:
            records[f] = r
    return records


def drop_mismatched(records: dict, expected: set, log) -> None:
    """Remove (file and record) every chunk whose variables differ from ``expected``."""
    for f in [f for f, (_, a) in records.items() if set(a) != expected]:
        log(
            f"scan: {f.name} cannot be used (variables {sorted(records[f][1])} differ from "
            f"{sorted(expected)}); its points are computed again"
        )
        f.unlink(missing_ok=True)
        del records[f]


def majority_variables(records: dict) -> set | None:
    """The variables most chunk files hold (None without files)."""
    sets = [frozenset(a) for _, a in records.values()]
    return set(max(set(sets), key=sets.count)) if sets else None


def done_mask(records: dict, n_points: int) -> np.ndarray:
    done = np.zeros(n_points, dtype=bool)
    for idx, _ in records.values():
        done[idx] = True
    return done


def assemble(records, expected, names, values, shape, attrs, out_dir: pathlib.Path, timing: dict):
    """The xarray.Dataset of every point (each from the chunk files that hold it), written
    atomically to ``<out_dir>/scan.nc``; ``timing`` to ``scan_timing.json``."""
    import xarray as xr

    n_points = int(np.prod(shape))
    data = {k: np.full(n_points, np.nan) for k in sorted(expected)}
    for idx, arrays in records.values():
        for k in data:
            data[k][idx] = arrays[k]
    coords = {n: v for n, v in zip(names, values)}
    ds = xr.Dataset({k: (names, v.reshape(shape)) for k, v in data.items()}, coords=coords)
    ds.attrs.update(attrs)
    tmp = out_dir / "scan.nc.tmp"
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, out_dir / "scan.nc")
    (out_dir / "scan_timing.json").write_text(json.dumps(timing, indent=1))
    return ds
