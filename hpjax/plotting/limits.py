"""Figures of hypothesis tests: an upper limit versus mass with its expected band, and the local
p0 versus mass with the global significance marked (``hpjax hypotest``)."""

from __future__ import annotations

import numpy as np

from .common import pyplot, save_figure

__all__ = ["limit_figure", "p0_figure", "finish_figure"]


def limit_figure(
    masses, curves: dict, path, formats=("png",), ylabel="95% CL upper limit", title=None, xlabel="$m_X$ [GeV]"
) -> list[str]:
    """``curves``: label -> {"observed": (n,), "expected": (5, n) or (n, 5) in the order
    nsigma = 2, 1, 0, -1, -2 (ascending limits)}; the first curve gets the +-1, 2 sigma band."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    m = np.asarray(masses, dtype=float)
    colours = ["k", "tab:blue", "tab:red", "tab:purple", "tab:brown"]
    for i, (label, c) in enumerate(curves.items()):
        exp = np.asarray(c["expected"], dtype=float)
        exp = exp if exp.shape[0] == 5 else exp.T
        if i == 0:
            ax.fill_between(m, exp[0], exp[4], color="#ffdf3f", label="expected $\\pm 2\\sigma$", lw=0)
            ax.fill_between(m, exp[1], exp[3], color="#3fcf3f", label="expected $\\pm 1\\sigma$", lw=0)
            ax.plot(m, exp[2], "k--", lw=1, label="expected")
        ax.plot(m, np.asarray(c["observed"], dtype=float), "-", color=colours[i % len(colours)], lw=1.6, label=label)
    ax.set_yscale("log")
    return finish_figure(fig, ax, ylabel, {"fontsize": 7, "loc": "upper left"}, title, path, formats, xlabel)


def p0_figure(masses, p0, path, z_global=None, p_global=None, formats=("png",), title=None) -> list[str]:
    """Local p0 versus mass (log axis, 1-5 sigma lines), the global significance in the legend
    and as a horizontal line at its p-value."""
    from scipy.stats import norm

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    m, p = np.asarray(masses, dtype=float), np.clip(np.asarray(p0, dtype=float), 1e-12, 1.0)
    ax.plot(m, p, "k-", lw=1.5, label="local $p_0$")
    for z in range(1, 5):
        ax.axhline(norm.sf(z), color="0.6", lw=0.6, ls=":")
        ax.text(m[-1], norm.sf(z), f" {z}$\\sigma$", va="center", fontsize=7, color="0.4")
    if p_global is not None and np.isfinite(p_global) and p_global > 0:
        ax.axhline(p_global, color="tab:red", lw=1.2, ls="--", label=f"global: {z_global:.2f}$\\sigma$")
    ax.set_yscale("log")
    ax.set_ylim(min(p.min(), norm.sf(4.2)) / 2, 1.0)
    return finish_figure(fig, ax, "$p_0$", {"fontsize": 8, "loc": "lower left"}, title, path, formats)


def finish_figure(fig, ax, ylabel, legend, title, path, formats, xlabel="$m_X$ [GeV]") -> list[str]:
    """Label the mass axis (``xlabel``) and ``ylabel``, draw the legend (``legend``: its keyword
    arguments) and the title, and save the figure in ``formats``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(**legend)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, formats)
