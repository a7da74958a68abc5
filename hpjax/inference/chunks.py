"""How one chunk of a scan runs: its size from the free memory, the device mesh, and the jitted,
sharded function that evaluates it in vmapped blocks (the block size chosen per platform and XLA
set-up). Used by :mod:`hpjax.inference.scan`, which re-exports these names."""

from __future__ import annotations

import math
import os

import jax
import numpy as np

from . import distributed as dist

__all__ = [
    "CPU_BLOCK",
    "FORWARD_BLOCK",
    "BYTES_PER_POINT",
    "auto_chunk_size",
    "even_chunk_size",
    "make_mesh",
    "default_block_size",
    "chunk_function",
]

#: points per vmapped block on a CPU. Measured idle on 2 cores (2 devices), the `paper` likelihood
#: over 10^6 points: 3.7e5 points/s (16), 3.9e5 (24), 2.2e5 (32-128); the profiled belle2_full
#: term: 1090 points/s (24) against 730 (128). A block's intermediate arrays ((24, 4, 32) per q^2
#: segment, ~40 of them) stay in the core's L2 cache; at 32 and more they spill.
CPU_BLOCK = 24

#: points per vmapped block of a forward scan (no profiled parameters) on a CPU whose XLA keeps
#: reductions out of YNNPACK (:func:`hpjax.inference.distributed.fuse_reductions`, which
#: ``hpjax scan`` calls): the `paper` likelihood on 2 cores, 2 devices, 2026-12-07, per core
#: 2.26 us/point (24), 2.07 (48), 1.91 (96), 1.99 (128); with YNNPACK's reductions blocks of 64
#: and more are 2.3x slower (each q^2 sum over more than ~4096 elements goes to YNNPACK). Since
#: the q^2 segments a block does not need are skipped and a segment's set-up is a few kernels
#: (hpjax.numerics.skip, hpjax.decays), larger blocks pay: chunks of 81920, alternated in one
#: process, 1024 against 96 points 1.08x (both regions) and 1.18x (two-body region) faster, and
#: `hpjax scan` of fits/fig1_unified.toml at 1200 x 900 1.13x, with 15 % less peak memory
#: (2026-12-07, benchmarks/NOTES.md). 4096 is no faster than 1024.
FORWARD_BLOCK = 1024

#: working memory of one scan point of the full likelihood (4 channels x 96 q^2 nodes and their
#: intermediates), measured with benchmarks (peak RSS growth / chunk size), rounded up
BYTES_PER_POINT = 64 * 1024


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


def even_chunk_size(n: int, cap: int) -> int:
    """Points per chunk for ``n`` points in chunks of at most ``cap``: the fewest chunks, of equal
    size, so that the last one is not mostly padding (100 000 points, cap 65536: 50 000, not 65536)."""
    return -(-n // -(-n // cap)) if n > cap else n


def make_mesh(devices=None):
    """1-D device mesh over all (or the given) devices, axis name "points"."""
    from jax.sharding import Mesh

    devices = jax.devices() if devices is None else devices
    return Mesh(np.array(devices), ("points",))


def default_block_size(platform: str, profile=()) -> int:
    """Points per vmapped block: 0 (one vmap) off the CPU; on a CPU :data:`FORWARD_BLOCK` for a
    forward scan where XLA leaves reductions to its own loops
    (:func:`hpjax.inference.distributed.reductions_fused`), else :data:`CPU_BLOCK`."""
    if platform != "cpu":
        return 0
    return FORWARD_BLOCK if not profile and dist.reductions_fused() else CPU_BLOCK


def chunk_function(point, mesh, block_size: int | None = None):
    """jit(f)(points[chunk, k]) -> {name: values[chunk]} of the per-point function ``point``,
    sharded over ``mesh`` (axis "points") with ``shard_map``; on each device ``lax.map`` over
    vmapped blocks of ``block_size`` points (0: one vmap; None: :func:`default_block_size`).
    Every point's arithmetic is the same whatever the blocking, so the values do not depend on it."""
    from jax.sharding import PartitionSpec as P

    if block_size is None:
        block_size = default_block_size(mesh.devices.flat[0].platform)
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
