"""Several processes (hosts) working on one scan or one posterior: start-up, barriers and the
process-local parts of global arrays.

Start every process with :func:`initialize` (``hpjax scan --distributed``) before any JAX
computation. Without arguments JAX finds the coordinator, the process count and this process's id
from the cluster environment (SLURM, Open MPI, Kubernetes, Cloud TPU); on one machine or without a
scheduler give them as ``"HOST:PORT,NUM_PROCESSES,PROCESS_ID"``. ``jax.devices()`` then spans every
process, and :func:`hpjax.inference.scan.scan` shards each chunk over all of them: every process
feeds and fetches only the points on its own devices and writes their chunk files (the output
directory must be on a file system all processes share), process 0 assembles ``scan.nc``.

Every helper here is a no-op in a single process.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

__all__ = [
    "use_all_cpu_cores",
    "prefer_wide_vectors",
    "fuse_reductions",
    "reductions_fused",
    "calls_lapack_on_cpu",
    "one_device_per_process",
    "initialize",
    "parse_spec",
    "process_count",
    "is_main",
    "barrier",
    "broadcast_from_main",
    "global_array",
    "local_rows",
]


def calls_lapack_on_cpu(lowered, mesh) -> bool:
    """Whether a lowered program on a CPU ``mesh`` calls LAPACK (jaxlib's ``lapack_*`` kernels).

    Such a program must run on one CPU device per process: jaxlib's batched LAPACK kernels (e.g.
    ``lapack_dpotrf_ffi`` on a batch of matrices, from ``vmap``) split the batch over XLA's intra-op
    thread pool and wait for it, while that pool's threads (one per core) are the ones running the
    devices' programs. With as many devices as cores every thread ends up waiting and the process
    deadlocks (seen with gdb: ``jax::ParallelBatchMap`` in ``BlockingCounter::Wait`` on every
    ``tf_XLAEigen`` thread; reproduced by a shard_map of ``jnp.linalg.cholesky`` over 64 matrices
    per device on 2 devices of a 2-core machine, jax/jaxlib 0.10.2; 1 or 2 matrices do not hang)."""
    return mesh.devices.flat[0].platform == "cpu" and "lapack_" in lowered.as_text()


def one_device_per_process(devices) -> list:
    """The first of ``devices`` in every process (what a program with LAPACK calls runs on)."""
    first = {}
    for d in devices:
        first.setdefault(d.process_index, d)
    return list(first.values())


def _add_xla_flag(name: str, value) -> bool:
    """Append ``--name=value`` to XLA_FLAGS unless XLA_FLAGS already sets ``name`` (the user's
    choice wins); effective only before JAX starts its backend. Returns whether it was added."""
    import os

    flags = os.environ.get("XLA_FLAGS", "")
    if name in flags:
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --{name}={value}".strip()
    return True


def use_all_cpu_cores() -> bool:
    """One XLA CPU device per core this process may use (``--xla_force_host_platform_device_count``)
    unless ``XLA_FLAGS`` already chooses a count; effective only before JAX starts its backend
    (importing hpjax does not start it). Returns whether the flag was set."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return _add_xla_flag("xla_force_host_platform_device_count", max(cores, 1))


def _has_avx512() -> bool:
    """Whether this (Linux) CPU has AVX-512F; False where /proc/cpuinfo cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:  # pragma: no cover - not Linux
        pass
    return False


def prefer_wide_vectors() -> bool:
    """XLA:CPU's 512-bit vectors (``--xla_cpu_prefer_vector_width=512``) on a CPU with AVX-512,
    unless ``XLA_FLAGS`` already chooses a width; effective only before JAX starts its backend.
    XLA (LLVM) prefers 256-bit vectors on every x86 CPU by default; the q^2 nodes of the paper
    likelihood are arithmetic-bound and run 1.3-1.4x faster per core with 512 (benchmarks/NOTES.md,
    2026-12-04: the same numbers to 1e-15). Code generation only: no result changes beyond the
    rounding of a reduction. Returns whether the flag was set."""
    return _has_avx512() and _add_xla_flag("xla_cpu_prefer_vector_width", 512)


#: XLA:CPU's choice of the operations it hands to the YNNPACK library (jaxlib >= 0.10); ``dot``
#: keeps matrix products there and leaves reductions to XLA's own fused loops
_YNN_FLAG = "xla_cpu_experimental_ynn_fusion_type"


@functools.cache
def _jaxlib_knows(flag: str) -> bool:
    """Whether this jaxlib's XLA has the flag ``flag`` (XLA aborts the process on an unknown flag in
    XLA_FLAGS): the flag's name in the shared library, found without importing jax."""
    import importlib.util
    import mmap
    import pathlib

    try:
        spec = importlib.util.find_spec("jaxlib")
        roots = [pathlib.Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
        for lib in (f for r in roots for f in r.glob("*.so")):
            if lib.stat().st_size < 1 << 20:
                continue
            with open(lib, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                if mm.find(flag.encode()) >= 0:
                    return True
    except (OSError, ValueError, ImportError):  # pragma: no cover - unreadable installation
        pass
    return False


def fuse_reductions() -> bool:
    """Leave reductions to XLA:CPU's fused loops (``--xla_cpu_experimental_ynn_fusion_type=dot``)
    unless ``XLA_FLAGS`` already chooses; effective only before JAX starts its backend, and only
    where jaxlib has the flag. For forward-only work (``hpjax scan`` without profiled parameters):
    from a size of about 4096 elements (blocks of 64 points) jaxlib 0.10 hands each q^2 integral's
    sum over nodes to YNNPACK, which first writes the integrand at every node to memory, 2.3x slower
    per point than XLA's loop that sums as it goes; without that, blocks of 96 points run 1.2x
    faster a core than the blocks of 24 that stay under the limit (blocks of 1024, the default
    since, 1.1-1.2x faster again), and `hpjax scan` of
    fits/fig1_unified.toml 1.5x faster on 2 cores (benchmarks/NOTES.md, 2026-12-07).
    Gradients are the other way round (the paper likelihood's value_and_grad is 1.4x slower
    without YNNPACK's reductions), so fits, profiles and samplers keep the default. Returns
    whether the flag was set."""
    return _jaxlib_knows(_YNN_FLAG) and _add_xla_flag(_YNN_FLAG, "dot")


def reductions_fused() -> bool:
    """Whether ``XLA_FLAGS`` keeps reductions out of YNNPACK (see :func:`fuse_reductions`)."""
    import os
    import re

    found = re.findall(rf"--{_YNN_FLAG}=(\S*)", os.environ.get("XLA_FLAGS", ""))
    return bool(found) and "reduce" not in found[-1]


def parse_spec(spec: str | None) -> dict:
    """``None``/``"auto"`` -> {} (from the cluster environment); ``"HOST:PORT,N,ID"`` -> the
    keyword arguments of ``jax.distributed.initialize``."""
    if spec in (None, "", "auto"):
        return {}
    parts = [s.strip() for s in str(spec).split(",")]
    try:
        addr, n, pid = parts
        n, pid = int(n), int(pid)
        ok = ":" in addr and n >= 1 and 0 <= pid < n
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"distributed = {spec!r} is outside the allowed range: 'auto' (from SLURM or another "
            f"cluster environment) or 'HOST:PORT,NUM_PROCESSES,PROCESS_ID' with 0 <= PROCESS_ID < NUM_PROCESSES"
        )
    return {"coordinator_address": addr, "num_processes": n, "process_id": pid}


def initialize(spec: str | None = None) -> None:
    """``jax.distributed.initialize`` from :func:`parse_spec` (``"auto"``: the cluster environment).
    Must run before the first JAX computation of the process."""
    kwargs = parse_spec(spec)
    try:
        jax.distributed.initialize(**kwargs)
    except (ValueError, RuntimeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"distributed start-up failed ({msg})") from None


def process_count() -> int:
    return jax.process_count()


def is_main() -> bool:
    """Process 0: the one that assembles and reports."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process gets here (a no-op in one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def broadcast_from_main(x: np.ndarray) -> np.ndarray:
    """Process 0's ``x`` on every process (unchanged in one process)."""
    if jax.process_count() == 1:
        return x
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(x))


def global_array(block: np.ndarray, sharding):
    """The global array ``block`` (the same on every process) laid out by ``sharding``: each process
    puts only its own devices' rows."""
    if jax.process_count() == 1:
        return jax.device_put(block, sharding)
    return jax.make_array_from_callback(block.shape, sharding, lambda index: block[index])


def local_rows(arrays: dict) -> tuple[np.ndarray, dict]:
    """(rows, {name: values}) of the rows of the 1-D sharded outputs ``arrays`` that live on this
    process's devices, in ascending row order (every row in one process)."""
    if jax.process_count() == 1:
        parts = {k: np.asarray(a) for k, a in arrays.items()}
        return np.arange(next(iter(parts.values())).shape[0]), parts
    rows, parts = None, {}
    for k, a in arrays.items():
        shards = sorted(a.addressable_shards, key=lambda s: s.index[0].start or 0)
        if rows is None:
            rows = np.concatenate([np.arange(a.shape[0])[s.index[0]] for s in shards])
        parts[k] = np.concatenate([np.asarray(s.data).reshape(-1) for s in shards])
    return rows, parts
