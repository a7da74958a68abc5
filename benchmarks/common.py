"""What the benchmarks evaluate: the likelihoods, the grids and hpjax's scan functions.

* :func:`paper_likelihood`: ``hpjax.Likelihood(model, dataset="paper")`` with the singlet
  benchmark model (y_D = 1, m_chi = 0; free m_hD, sin theta) and its default terms, the six the
  baselines implement (``benchmarks.baselines._common.TERMS_ALL``: every term of the ``paper``
  dataset but ``belle2_full``, the alternative to ``belle2``).
* :func:`grid`: log-spaced (m_hD, sin theta) grids of 10^4, 10^5, 10^6 points in the two-body
  region (m_hD < m_B - m_K) or across both regions (up to 20 GeV, 19 % of the log range above
  the B -> K endpoint).
* :func:`scan_function`: a jitted chunk function, either ``vmap`` (one vectorised call per
  chunk: what ``hpjax.inference.scan`` compiles) or ``blocked`` (``lax.map`` over blocks of
  ``batch`` points, each block vmapped: the block's q^2 nodes stay in cache), sharded over the
  given devices with ``shard_map``.
"""

from __future__ import annotations

import math

import numpy as np

SIN_RANGE = (1e-4, 3e-2)
M_MIN = 0.01
M_MAX_BOTH = 20.0
#: the grids: (points along m_hD, points along sin theta)
GRID_SHAPES = {10_000: (100, 100), 100_000: (500, 200), 1_000_000: (1000, 1000)}
#: points per block of a blocked value (gradient section, per_core.py default):
#: hpjax.inference.scan.CPU_BLOCK (24; measured there)
BLOCK = 24
#: points per block of a blocked value_and_grad: the reverse pass of lax.map costs more per
#: iteration, so larger blocks (measured in the gradient section of run.py)
GRAD_BLOCK = 64


def model():
    import hpjax

    return hpjax.SingletHiggsPortal(m_hD=1.0, sin_theta=6e-3, y_D=1.0, m_chi=0.0)


def paper_likelihood(**kw):
    """``hpjax.Likelihood(model, dataset="paper")``: the default terms, which the baselines implement."""
    import hpjax

    from .baselines._common import TERMS_ALL

    lik = hpjax.Likelihood(model(), dataset="paper", **kw)
    if tuple(lik.terms) != TERMS_ALL:
        raise RuntimeError(
            f"the paper likelihood's default terms are now {lik.terms}; the baselines implement "
            f"{list(TERMS_ALL)} (benchmarks/baselines/_common.py)"
        )
    return lik


def endpoint_BK() -> float:
    """m_B+ - m_K+ [GeV] from hpjax's inputs."""
    from .baselines._common import default_inputs

    inp = default_inputs()
    return inp["m_Bp"] - inp["m_Kp"]


def grid(region: str, n: int):
    """Flattened (m_hD, sin theta) grid of ``n`` points (a key of GRID_SHAPES, or any n: square)."""
    if region not in ("two_body", "both"):
        raise ValueError(f"region must be 'two_body' or 'both', got {region!r}")
    nm, ns = GRID_SHAPES.get(n, (int(math.isqrt(n)), int(math.isqrt(n))))
    m_hi = 0.999 * endpoint_BK() if region == "two_body" else M_MAX_BOTH
    m = np.geomspace(M_MIN, m_hi, nm)
    s = np.geomspace(*SIN_RANGE, ns)
    mm, ss = np.meshgrid(m, s, indexing="ij")
    return mm.ravel(), ss.ravel()


def subset(m, s, k: int):
    """k points spread evenly over a flattened grid (for the per-point baseline)."""
    idx = np.linspace(0, m.size - 1, k).round().astype(int)
    return m[idx], s[idx]


def scan_block() -> int:
    """Points per block of the ``blocked`` scan: what ``hpjax scan`` uses on a CPU
    (hpjax.inference.scan.default_block_size: 1024 where XLA keeps reductions out of YNNPACK, as
    run.py's scan section sets up, else 24)."""
    from hpjax.inference.scan import default_block_size

    return default_block_size("cpu")


def scan_function(lik, mode: str, devices, batch: int | None = None):
    """Jitted f(m_hD[chunk], sin_theta[chunk]) -> ln L[chunk] of ``lik`` (``blocked``: blocks of
    ``batch`` points, default :func:`scan_block`)."""
    import jax
    from jax.sharding import Mesh
    from jax.sharding import PartitionSpec as P

    batch = scan_block() if batch is None else batch

    def ll(m, s):
        return lik.log_likelihood({"m_hD": m, "sin_theta": s})

    if mode == "vmap":
        local = jax.vmap(ll)
    elif mode == "blocked":

        def local(m, s):
            return jax.lax.map(lambda a: ll(*a), (m, s), batch_size=batch)
    else:
        raise ValueError(f"mode must be 'vmap' or 'blocked', got {mode!r}")
    devices = list(devices)
    if len(devices) == 1:
        return jax.jit(local)
    mesh = Mesh(np.array(devices), ("points",))
    shard_map = getattr(jax, "shard_map", None)
    if shard_map is None:  # older jax
        from jax.experimental.shard_map import shard_map
    return jax.jit(shard_map(local, mesh=mesh, in_specs=(P("points"), P("points")), out_specs=P("points")))


def chunk_size(n: int, mode: str, platform: str, n_dev: int) -> int:
    """Points per compiled chunk, a multiple of n_dev * the scan's block: all of a small grid, else
    on a CPU, blocked, what ``hpjax scan`` takes by default (hpjax.inference.chunks.auto_chunk_size:
    a quarter of the free memory, 65536 points on a 24 GB machine); one vmap over the chunk at
    most 10240 (its q^2 nodes are all in memory at once); 2^17 on a GPU. Each chunk is one call
    with its own transfers and dispatch: chunks of 81920 against 10240, same blocks of 96, run
    1.15x faster on 2 cores (benchmarks/NOTES.md, 2026-12-07)."""
    from hpjax.inference.chunks import auto_chunk_size, even_chunk_size

    unit = n_dev * scan_block()
    cap = (auto_chunk_size() if mode == "blocked" else 10240) if platform == "cpu" else 1 << 17
    return int(math.ceil(even_chunk_size(n, cap) / unit) * unit)


def run_scan(f, m, s, mode: str, platform: str = "cpu", n_dev: int = 1):
    """ln L at every point: chunks of :func:`chunk_size` (the last one padded with a valid point),
    results gathered on the host."""
    import jax

    n = m.size
    c = chunk_size(n, mode, platform, n_dev)
    n_chunks = -(-n // c)
    pad = n_chunks * c - n
    if pad:
        m = np.concatenate([m, np.full(pad, m[-1])])
        s = np.concatenate([s, np.full(pad, s[-1])])
    mc, sc = m.reshape(n_chunks, c), s.reshape(n_chunks, c)
    outs = [f(mc[i], sc[i]) for i in range(n_chunks)]  # dispatched asynchronously
    out = np.concatenate([np.asarray(jax.block_until_ready(o)) for o in outs])
    return out[:n]
