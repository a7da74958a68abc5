"""Posterior figures of :func:`hpjax.inference.sample`: the corner plot (1-D histograms with median
and 68 % interval, 2-D 68/95 % contours over the draws)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["corner_plot", "corner_vars", "density_levels"]


def corner_vars(result, var_names) -> list[str]:
    post = result.idata.posterior
    if var_names is None:
        inv = {}
        for n, v in result.names.items():
            p = result.priors.get(n)
            inv[n] = f"log10_{v}" if p is not None and p.kind == "log_uniform" and f"log10_{v}" in post else v
        return list(inv.values())
    out = []
    for v in var_names:
        v = result.names.get(v, v)
        if v not in post:
            raise ValueError(f"corner_plot: unknown variable '{v}'; valid: {sorted(post.data_vars)}")
        if post[v].ndim != 2:
            raise ValueError(
                f"corner_plot: '{v}' is not a scalar variable; valid: "
                f"{sorted(k for k in post.data_vars if post[k].ndim == 2)}"
            )
        out.append(v)
    return out


def density_levels(h, probs=(0.95, 0.68)):
    """Density levels of a 2-D histogram enclosing ``probs`` of the mass (ascending levels)."""
    flat = np.sort(h.ravel())[::-1]
    cum = np.cumsum(flat)
    cum /= cum[-1]
    lev = [flat[min(np.searchsorted(cum, p), len(flat) - 1)] for p in probs]
    lev = np.unique(lev)
    return lev if len(lev) and lev[0] > 0 else None


def corner_plot(result, path, var_names=None, bins: int = 40, truths: Mapping | None = None):
    """Corner plot of the posterior: 1-D histograms with median and 68 % interval on the
    diagonal, 2-D 68/95 % contours with the draws below. ``var_names`` are posterior variables or
    parameter names (default: every physical parameter, log10 for log_uniform priors);
    ``truths`` (variable -> value) draws reference lines. Written with matplotlib (Agg); the
    format follows the extension of ``path`` (png, pdf, ...). Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = corner_vars(result, var_names)
    post = result.idata.posterior
    data = [np.asarray(post[v]).reshape(-1) for v in names]
    truths = {result.names.get(k, k): v for k, v in (truths or {}).items()}
    n = len(names)
    size = max(2.4 * n, 5.0)
    fig = Figure(figsize=(size, size))
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, n, squeeze=False)
    ranges = []
    for x in data:
        lo, hi = np.quantile(x, [0.001, 0.999])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        pad = 0.05 * (hi - lo)
        ranges.append((lo - pad, hi + pad))
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                x = data[i]
                ax.hist(x, bins=bins, range=ranges[i], histtype="step", color="k", density=True)
                q = np.quantile(x, [0.16, 0.5, 0.84])
                for k, qq in enumerate(q):
                    ax.axvline(qq, color="C0", ls="-" if k == 1 else "--", lw=1)
                ax.set_yticks([])
                ax.set_title(f"{names[i]} = {q[1]:.3g}$_{{-{q[1] - q[0]:.2g}}}^{{+{q[2] - q[1]:.2g}}}$", fontsize=8)
                if names[i] in truths:
                    ax.axvline(truths[names[i]], color="C3", lw=1)
            else:
                x, y = data[j], data[i]
                ax.plot(x, y, ",", color="0.6", alpha=0.5, rasterized=True)
                h, xe, ye = np.histogram2d(x, y, bins=bins // 2, range=[ranges[j], ranges[i]])
                lev = density_levels(h)
                if lev is not None and h.max() > 0:
                    xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
                    try:
                        ax.contour(xc, yc, h.T, levels=list(lev) + [h.max() * 1.0001], colors="C0", linewidths=1)
                    except ValueError:  # degenerate histogram
                        pass
                if names[j] in truths:
                    ax.axvline(truths[names[j]], color="C3", lw=1)
                if names[i] in truths:
                    ax.axhline(truths[names[i]], color="C3", lw=1)
                ax.set_ylim(ranges[i])
            ax.set_xlim(ranges[j])
            if i == n - 1:
                ax.set_xlabel(names[j], fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i], fontsize=8)
            elif j > 0:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=7)
    status = "ok" if result.ok else "NOT ok"
    fig.suptitle(
        f"{result.num_chains} chains x {result.num_samples} draws, max R-hat {result.max_r_hat:.3f}, "
        f"{result.divergences} divergences ({status})",
        fontsize=8,
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
