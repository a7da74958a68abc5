"""What every figure module shares: the Agg pyplot, writing a figure in several formats, log axes
and the filled regions of a Delta chi2 (or limit) level on a scan grid."""

from __future__ import annotations

import pathlib

import numpy as np

__all__ = ["pyplot", "save_figure", "write_png", "log_axes", "region_paths", "fill_region"]


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, formats) -> list[str]:
    """Write ``fig`` as ``path`` with each suffix of ``formats`` (e.g. png, pdf) and close it;
    returns the files written."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for f in formats:
        p = path.with_suffix("." + f)
        fig.savefig(p, dpi=140)
        out.append(str(p))
    pyplot().close(fig)
    return out


def write_png(fig, path, title: str | None = None) -> None:
    """Title (small), tight layout, write ``fig`` to ``path`` (130 dpi) and close it."""
    if title is not None:
        fig.axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    pyplot().close(fig)


def log_axes(ax, xs, ys, logy: bool = True) -> None:
    """Logarithmic axes spanning the grid ``xs`` x ``ys``."""
    ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])


def region_paths(x, y, field, level, below=True, logx=True, logy=True):
    """Filled-contour polygons of the region ``field <= level`` (``below``) or ``field > level``
    on the grid ``x`` (n), ``y`` (m), ``field`` (n, m), as matplotlib Paths in data coordinates.

    The boundary is found by linear interpolation in log10 of each logarithmic axis (straight
    between grid points on the log axes the figures use) of sqrt(max(field, 0)), which is close to
    linear in a Gaussian term's pull; a field that jumps to +inf (a hard-step limit) is taken as
    2 sqrt(level), putting the edge half way between the last allowed and the first excluded
    point. NaN points are left out of both regions.

    >>> x = y = np.geomspace(1.0, 100.0, 21)
    >>> X, Y = np.meshgrid(x, y, indexing="ij")
    >>> paths = region_paths(x, y, np.log10(X) + np.log10(Y), 2.0)  # below the line x y = 100
    >>> [bool(any(p.contains_point(q) for p in paths)) for q in [(2.0, 5.0), (50.0, 50.0)]]
    [True, False]
    """
    import contourpy
    from matplotlib.path import Path

    f = np.asarray(field, dtype=float)
    root = np.sqrt(max(level, 0.0))
    g = np.where(np.isposinf(f), 2.0 * root + 1.0, np.sqrt(np.maximum(np.where(np.isfinite(f), f, 0.0), 0.0)))
    g = np.where(np.isneginf(f), 0.0, g)
    g = np.ma.masked_invalid(np.where(np.isnan(f), np.nan, g))
    u = np.log10(x) if logx else np.asarray(x, float)
    v = np.log10(y) if logy else np.asarray(y, float)
    big = 1e300
    lo, hi = (-big, root) if below else (root, big)
    gen = contourpy.contour_generator(u, v, g.T, fill_type=contourpy.FillType.OuterCode)
    points, codes = gen.filled(lo, hi)
    paths = []
    for pts, cd in zip(points, codes):
        pts = np.array(pts, dtype=float)
        if logx:
            pts[:, 0] = 10.0 ** pts[:, 0]
        if logy:
            pts[:, 1] = 10.0 ** pts[:, 1]
        paths.append(Path(pts, cd))
    return paths


def fill_region(ax, x, y, field, level, below, colour, alpha, label=None):
    """Draw the region of :func:`region_paths` on ``ax``; returns (grid mask, paths)."""
    from matplotlib.patches import PathPatch

    f = np.asarray(field, dtype=float)
    mask = (f <= level) if below else (f > level)
    paths = region_paths(x, y, f, level, below)
    for p in paths:
        ax.add_patch(PathPatch(p, facecolor=colour, edgecolor="none", alpha=alpha, lw=0))
    if label and paths:
        ax.plot([], [], color=colour, lw=6, alpha=alpha, label=label)
    return mask, paths
