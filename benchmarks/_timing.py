"""Timing helpers of the benchmark suite: medians of repeated runs after warm-up, with spread."""

from __future__ import annotations

import statistics
import time


def summarise(values) -> dict:
    """median, min, max, interquartile range and all runs of a list of numbers."""
    v = sorted(float(x) for x in values)
    n = len(v)
    if n == 0:
        return {
            "median": float("nan"),
            "min": float("nan"),
            "max": float("nan"),
            "iqr": float("nan"),
            "n": 0,
            "runs": [],
        }
    q = statistics.quantiles(v, n=4, method="inclusive") if n >= 2 else [v[0]] * 3
    return {
        "median": statistics.median(v),
        "min": v[0],
        "max": v[-1],
        "iqr": q[2] - q[0],
        "n": n,
        "runs": [float(x) for x in values],
    }


def repeat(fn, runs: int = 5, warmup: int = 1) -> dict:
    """Wall time [s] of ``fn()`` (which must block until its result is ready): ``warmup`` calls
    untimed, then ``runs`` timed calls, summarised."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return summarise(times)


def rate(n_items: int, timing: dict) -> dict:
    """Items per second from a timing summary: median of the per-run rates, with their spread."""
    return summarise([n_items / t for t in timing["runs"]])


def fmt(x: float, digits: int = 2) -> str:
    """Compact scientific notation: 1.23e+05 -> '1.2e5'."""
    if x != x:  # nan
        return "n/a"
    if x == 0:
        return "0"
    s = f"{x:.{digits - 1}e}"
    mant, exp = s.split("e")
    exp = int(exp)
    if -2 <= exp <= 3:
        return f"{x:.{max(digits - 1 - exp, 0)}f}"
    return f"{mant}e{exp}"
