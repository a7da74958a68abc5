"""Points per second of the full `paper` likelihood on one CPU device: the per-core figure that
issue 16's A/B comparisons use (pin it to a core; run two at once, one per core, for the
hardware's ceiling). Set up as a forward ``hpjax scan``: `lax.map` over vmapped blocks of
hpjax.inference.scan.default_block_size points (1024 with XLA's fused reductions, which this script
asks for as `hpjax scan` does: hpjax.inference.distributed.fuse_reductions; 24 without), chunks of
10 080, best of 3 passes.

    taskset -c 1 .venv/bin/python benchmarks/per_core.py [--points 200000] [--order 32] [--region both]
    taskset -c 1 .venv/bin/python benchmarks/per_core.py --ynn-reductions --block 24   # before 2026-12-07
    XLA_FLAGS=--xla_cpu_prefer_vector_width=256 taskset -c 1 .venv/bin/python benchmarks/per_core.py

Unless XLA_FLAGS chooses a vector width, 512-bit vectors are used on an AVX-512 CPU, as by the
hpjax command (hpjax.inference.distributed.prefer_wide_vectors). Prints one line.
"""

import argparse
import os
import pathlib
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from hpjax.inference.distributed import fuse_reductions, prefer_wide_vectors  # noqa: E402

prefer_wide_vectors()
if "--ynn-reductions" not in sys.argv:
    fuse_reductions()  # as `hpjax scan` (a forward scan)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from benchmarks.common import grid, paper_likelihood, scan_block  # noqa: E402

CHUNK = 10080


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--order", type=int, default=32)
    ap.add_argument("--region", default="both", choices=("both", "two_body"))
    ap.add_argument("--block", type=int, default=None, help="points per block (default: as hpjax scan)")
    ap.add_argument("--ynn-reductions", action="store_true", help="keep XLA's default (YNNPACK reductions)")
    args = ap.parse_args()
    block = scan_block() if args.block is None else args.block
    lik = paper_likelihood(n=args.order)

    def ll(m, s):
        return lik.log_likelihood({"m_hD": m, "sin_theta": s})

    f = jax.jit(lambda m, s: jax.lax.map(lambda a: ll(*a), (m, s), batch_size=block))
    m, s = grid(args.region, args.points)
    k = max(CHUNK, (m.size // CHUNK) * CHUNK)
    m, s = jnp.asarray(m[:k]).reshape(-1, CHUNK), jnp.asarray(s[:k]).reshape(-1, CHUNK)
    jax.block_until_ready(f(m[0], s[0]))
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(m.shape[0]):
            r = f(m[i], s[i])
        jax.block_until_ready(r)
        rates.append(m.size / (time.perf_counter() - t0))
    flags = os.environ.get("XLA_FLAGS", "")
    print(
        f"{args.region}, order {args.order}, blocks of {block}, {m.size} points, one device: {max(rates):.3g} points/s "
        f"(best of 3; {', '.join(f'{x:.3g}' for x in rates)}); XLA_FLAGS={flags!r}"
    )


if __name__ == "__main__":
    main()
