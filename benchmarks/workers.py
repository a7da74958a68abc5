"""Subprocess measurements of the benchmark suite (each needs a fresh interpreter).

    python -m benchmarks.workers import                 # seconds to `import hpjax` (and jax alone)
    python -m benchmarks.workers compile CACHE_DIR [--no-scan]   # compile latency with that persistent cache
    python -m benchmarks.workers memory N MODE          # peak RSS of an N-point scan (MODE blocked|vmap),
                                                        # compiled afresh (empty persistent cache)

Each prints one JSON object on its last line of stdout. Run from the repository root.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _import() -> dict:
    t0 = time.perf_counter()
    import jax  # noqa: F401

    t1 = time.perf_counter()
    import hpjax  # noqa: F401

    t2 = time.perf_counter()
    return {"jax_s": t1 - t0, "hpjax_after_jax_s": t2 - t1, "total_s": t2 - t0}


def _compile(cache_dir: str, scan: bool = True) -> dict:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = cache_dir
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    t0 = time.perf_counter()
    import jax

    import hpjax
    from benchmarks.common import paper_likelihood, scan_function

    t_import = time.perf_counter() - t0
    lik = paper_likelihood()
    p = lik.initial_params()
    out = {"import_s": t_import, "cache_entries_before": _count(cache_dir)}
    for name, fn, args in (
        ("log_likelihood", lik.log_likelihood, (p,)),
        ("value_and_grad", jax.value_and_grad(lik.log_likelihood), (p,)),
    ):
        t0 = time.perf_counter()
        lowered = jax.jit(fn).lower(*args)
        t1 = time.perf_counter()
        compiled = lowered.compile()
        t2 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        out[name] = {"trace_lower_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0}
    if not scan:
        out["cache_entries_after"] = _count(cache_dir)
        return out
    # the scan's chunk function (what a grid scan compiles)
    import numpy as np

    f = scan_function(lik, "blocked", jax.devices())
    m = np.full(2048, 1.0)
    t0 = time.perf_counter()
    jax.block_until_ready(f(m, m * 6e-3))
    out["scan_chunk_first_call_s"] = time.perf_counter() - t0
    out["cache_entries_after"] = _count(cache_dir)
    out["hpjax_version"] = hpjax.__version__
    return out


def _count(d) -> int:
    try:
        return sum(len(f) for _, _, f in os.walk(d))
    except OSError:
        return 0


def _rss_mb() -> float:
    """Current resident set size [MB] (/proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """Peak resident set size [MB] of this process image: VmHWM of /proc/self/status. (Not
    ru_maxrss: a child started by vfork + exec, as subprocess does, inherits its parent's peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def _memory(n: int, mode: str) -> dict:
    """Peak RSS of the process (VmHWM: import, compilation and the scan), and the largest RSS
    seen during the scan itself (polled every 5 ms by a thread). The persistent compilation cache
    is switched off: the peak includes a full compilation, as on a first run."""
    import tempfile
    import threading

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="hpjax-bench-mem-")

    import jax
    import numpy as np

    from benchmarks.common import chunk_size, grid, paper_likelihood, run_scan, scan_function

    lik = paper_likelihood()
    devs = jax.devices()
    f = scan_function(lik, mode, devs if mode == "blocked" else devs[:1])
    nd = len(devs) if mode == "blocked" else 1
    m, s = grid("both", n)
    c = chunk_size(m.size, mode, devs[0].platform, nd)
    run_scan(f, m[:c], s[:c], mode, devs[0].platform, nd)  # compile, warm (same chunk shape)
    before_peak = _peak_rss_mb()
    before = _rss_mb()
    seen = [before]
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            seen.append(_rss_mb())
            time.sleep(0.005)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    t0 = time.perf_counter()
    out = run_scan(f, m, s, mode, devs[0].platform, nd)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    peak = _peak_rss_mb()
    import shutil

    shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
    assert out.shape == (m.size,) and np.isfinite(out).all()
    return {
        "n": int(m.size),
        "mode": mode,
        "peak_rss_mb": peak,
        "peak_rss_before_scan_mb": before_peak,
        "rss_before_scan_mb": before,
        "max_rss_during_scan_mb": max(seen),
        "scan_increment_mb": max(seen) - before,
        "wall_s": wall,
    }


def main(argv):
    what = argv[0]
    if what == "import":
        res = _import()
    elif what == "compile":
        res = _compile(argv[1], scan="--no-scan" not in argv)
    elif what == "memory":
        res = _memory(int(argv[1]), argv[2])
    else:
        raise SystemExit(f"unknown worker {what!r}; valid: import, compile, memory")
    print(json.dumps(res))


if __name__ == "__main__":
    main(sys.argv[1:])
