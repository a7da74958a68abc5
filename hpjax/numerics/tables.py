"""Lookup in constant tables: the interval of a sorted grid that holds x, in O(1) operations.

``jnp.searchsorted`` (and ``jnp.interp``, which calls it) is a binary search: on XLA:CPU a
``while`` loop of about log2(N) iterations of several small kernels, launched once per block of a
``lax.map`` scan. At the 24 points of a block that costs ~55 ns a point per table, and the
``paper`` likelihood looks up four tables a point (the two hadronic widths, NA62's mass and
lifetime axes; issue 16). Here the grid is fixed when the
table is loaded, so the search is precomputed: a uniform bucket grid (in x, or in log x where the
table is geometric) stores, for each bucket, the first table interval it meets; at run time the
bucket is one multiply and a floor, and at most ``K`` compares (``K`` the largest number of table
nodes inside one bucket, known in advance) finish the search. Everything is one fused
elementwise kernel: gathers from two small constant arrays.

The answer is the same as the binary search's for every x (tested against numpy's
``searchsorted`` at every node, one ulp either side, between nodes, outside the grid and at +-inf;
NaN gives interval 0; XLA:CPU treats subnormal x as 0, here as in its binary search).

>>> import numpy as np, jax.numpy as jnp
>>> g = Grid(np.array([0.0, 1.0, 2.5, 4.0]))
>>> [int(i) for i in g.interval(jnp.array([-1.0, 0.0, 0.5, 2.5, 3.9, 9.0]))]
[0, 0, 0, 2, 2, 2]
>>> float(g.interp(1.75, np.array([0.0, 10.0, 25.0, 40.0])))
17.5
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["Grid"]

#: largest bucket grid [entries of int32]; the coordinate (x or log x) is chosen to need fewer
_MAX_BUCKETS = 1 << 14


def _take_window(a, start, k: int):
    """a[start + t] for t in range(k), for every element of ``start`` (shape start.shape + (k,)):
    one gather of k consecutive values."""
    idx = start[..., None] + jnp.arange(k, dtype=start.dtype)
    return a[idx]


class Grid:
    """Strictly increasing constant abscissae ``xs`` (numpy, N >= 2) with an O(1) interval lookup.

    :meth:`interval` returns i in [0, N-2] with xs[i] <= x < xs[i+1] for x inside the grid,
    0 below it and N-2 at or above its last node (the clipped ``searchsorted(xs, x, "right") - 1``
    of linear interpolation); :meth:`interp` is ``jnp.interp`` on this grid."""

    def __init__(self, xs, max_buckets: int = _MAX_BUCKETS):
        xs = np.asarray(xs, dtype=np.float64)
        if xs.ndim != 1 or xs.size < 2 or not np.all(np.isfinite(xs)) or not np.all(np.diff(xs) > 0):
            raise ValueError(
                f"Grid: abscissae must be a finite, strictly increasing 1-D array of >= 2 values, got {xs!r}"
            )
        self.xs = xs
        self.n = xs.size
        best = None
        for log in (False, True) if xs[0] > 0 else (False,):
            u = np.log(xs) if log else xs
            nb = int(min(max_buckets, max(1, 4 * xs.size)))
            inv_h = nb / (u[-1] - u[0])
            start, k = self._buckets(xs, u[0], inv_h, nb, log)
            if best is None or k < best[3]:
                best = (log, u[0], inv_h, k, start, nb)
        self.log, self._u0, self._inv_h, self.k, start, self.buckets = best
        self._start = np.asarray(start, dtype=np.int32)
        # xs[min(i + 1 + t, N - 1)] at [i + t]: the K nodes after a bucket's start in one gather
        self._after = np.concatenate([xs[1:], np.full(self.k, xs[-1])])

    @staticmethod
    def _buckets(xs, u0, inv_h, nb, log):
        """First interval of each bucket, evaluated with the run-time arithmetic on every node and
        both sides of it, and K: the most compares any x needs from its bucket's start."""
        n = xs.size
        probes = np.concatenate([xs, np.nextafter(xs, -np.inf), np.nextafter(xs, np.inf)])
        probes = np.concatenate([probes, np.linspace(xs[0], xs[-1], 8 * nb + 1)])
        kb = Grid._bucket_np(probes, u0, inv_h, nb, log)
        want = np.clip(np.searchsorted(xs, probes, side="right") - 1, 0, n - 2)
        start = np.full(nb, n, dtype=np.int64)
        np.minimum.at(start, kb, want)
        # buckets no probe fell in: the start of the next non-empty bucket (monotone fill from the right)
        start = np.minimum.accumulate(start[::-1])[::-1]
        start = np.minimum(start, n - 2)
        # every x of bucket k lies between the probes around it: bound the compares by the next start
        nxt = np.concatenate([start[1:], [n - 2]])
        hi = np.zeros(nb, dtype=np.int64)
        np.maximum.at(hi, kb, want)
        hi = np.maximum(hi, nxt)
        # one interval of slack below: an x within an ulp of a bucket edge may be bucketed on the
        # other side at run time (XLA's log need not round as numpy's)
        start = np.maximum(start - 1, 0)
        return start, int(np.max(hi - start))

    @staticmethod
    def _bucket_np(x, u0, inv_h, nb, log):
        u = np.log(np.maximum(x, 1e-300)) if log else x
        return np.clip(np.floor((u - u0) * inv_h), 0, nb - 1).astype(np.int64)

    def interval(self, x):
        """Index i of the interval [xs[i], xs[i+1]) holding x (clipped to [0, N-2]; NaN gives 0)."""
        x = jnp.asarray(x, dtype=jnp.float64)
        u = jnp.log(jnp.maximum(x, 1e-300)) if self.log else x
        kf = jnp.clip(jnp.floor((u - self._u0) * self._inv_h), 0.0, self.buckets - 1.0)
        kb = jnp.where(jnp.isnan(kf), 0.0, kf).astype(jnp.int32)
        i = jnp.asarray(self._start)[kb]
        if self.k:  # at most K nodes between the bucket's start and x, sorted: count those <= x
            after = _take_window(jnp.asarray(self._after), i, self.k)
            i = i + jnp.sum(after <= x[..., None], axis=-1, dtype=jnp.int32)
        return jnp.minimum(i, self.n - 2)

    def interp(self, x, fp, left=None, right=None):
        """Piecewise-linear interpolation of the values ``fp`` on this grid at x: ``jnp.interp(x, xs,
        fp, left, right)`` (left/right default to the end values), the same formula and numbers."""
        x = jnp.asarray(x, dtype=jnp.float64)
        fp = jnp.asarray(fp, dtype=jnp.float64)
        xs = jnp.asarray(self.xs)
        i = self.interval(x)
        # (x_i, x_i+1, f_i, f_i+1) as one row of one table: one gather (a kernel on XLA:CPU) not four
        row = jnp.stack([xs[:-1], xs[1:], fp[:-1], fp[1:]], axis=-1)[i]
        x0, x1, f0, f1 = row[..., 0], row[..., 1], row[..., 2], row[..., 3]
        f = f0 + ((x - x0) / (x1 - x0)) * (f1 - f0)  # jnp.interp's rounding (its grid has dx > 0)
        f = jnp.where(x < xs[0], fp[0] if left is None else left, f)
        return jnp.where(x > xs[-1], fp[-1] if right is None else right, f)
