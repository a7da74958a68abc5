"""Figures of the command's results: the demo's prescription comparison, chi2 by term at a best
fit, and a 1D or 2D profile likelihood. Each writes one PNG at ``path``."""

from __future__ import annotations

import numpy as np

from .common import pyplot, write_png

__all__ = ["prescription_figure", "chi2_bar_figure", "profile_figure"]


def prescription_figure(scan: dict, path) -> None:
    """BR(B+ -> K+ inv) against m_hD under the unified and the paper's prescription, and their
    ratio (``scan``: the demo's ``prescription_scan``, keys ``m_hD`` and ``y_D=<y>/<prescription>``)."""
    m = scan["m_hD"]
    fig, (ax, rx) = pyplot().subplots(2, 1, figsize=(6.4, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    colours = {1.0: "C0", 0.1: "C1"}
    for y in (1.0, 0.1):
        uni = scan[f"y_D={y}/unified"]["BR(B+->K+inv)"]
        pap = scan[f"y_D={y}/paper"]["BR(B+->K+inv)"]
        ax.plot(m, uni, color=colours[y], label=f"unified Breit-Wigner, $y_D$={y}")
        ax.plot(m, pap, color=colours[y], ls="--", label=f"paper (2-body | 3-body), $y_D$={y}")
        rx.plot(m, [u / p if p > 0 else float("nan") for u, p in zip(uni, pap)], color=colours[y])
    ax.axhspan(
        1.9e-5 - 0.7e-5, 1.9e-5 + 0.7e-5, color="C2", alpha=0.15, label=r"Belle II BR$_{NP}$ = (1.9 $\pm$ 0.7)e-5"
    )
    ax.axvline(5.27941 - 0.493677, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-9, 1e-4)
    ax.set_ylabel(r"BR($B^+\to K^+$ + inv)")
    ax.set_title(r"Singlet Higgs portal, $\sin\theta = 6\times10^{-3}$, $m_\chi$ = 10 MeV")
    ax.legend(fontsize=7, loc="lower left")
    rx.set_xscale("log")
    rx.set_ylim(0.5, 3.0)
    rx.axhline(1.0, color="k", lw=0.5)
    rx.set_ylabel("unified / paper")
    rx.set_xlabel(r"$m_{h_D}$ [GeV]")
    write_png(fig, path)


def chi2_bar_figure(parts: dict, path, title: str) -> None:
    """Horizontal bars of -2 ln L of each term (``parts``: term -> ln L)."""
    fig, ax = pyplot().subplots(figsize=(6, 3.2))
    names = list(parts)
    ax.barh(names, [-2 * parts[n] for n in names], color="C0")
    ax.set_xlabel(r"$\chi^2$ contribution")
    write_png(fig, path, title)


def profile_figure(prof, path, title: str) -> None:
    """Delta chi2 of a 1D profile (with the 1 and 3.84 lines), or the 68 % / 95 % contours of a
    2D one (``prof``: a :class:`hpjax.inference.ProfileResult`)."""
    fig, ax = pyplot().subplots(figsize=(6, 4))
    if len(prof.poi) == 1:
        x = prof.grid[prof.poi[0]]
        ax.plot(x, prof.delta_chi2, color="C0")
        for lvl, ls in ((1.0, "--"), (3.84, ":")):
            ax.axhline(lvl, color="grey", ls=ls, lw=1)
        ax.set_xscale("log")
        ax.set_ylim(0, max(10.0, float(np.nanmin(prof.delta_chi2)) + 1))
        ax.set_xlabel(prof.poi[0])
        ax.set_ylabel(r"$\Delta\chi^2$ (profiled)")
    else:
        x, y = (prof.grid[p] for p in prof.poi)
        cs = ax.contour(x, y, prof.delta_chi2.T, levels=[2.30, 5.99], colors=["C0", "C1"])
        ax.clabel(cs, fmt={2.30: "68%", 5.99: "95%"})
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(prof.poi[0])
        ax.set_ylabel(prof.poi[1])
    write_png(fig, path, title)
