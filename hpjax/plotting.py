"""The paper's figures from scan results (``scan.nc`` of :func:`hpjax.inference.scan.scan`).

* Fig. 1 (singlet): sin(theta) versus m_hD with the Belle II 2 sigma band and central curve, the
  NA62, KOTO and Belle K* exclusions and the Higgs-invisible lines of Table I.
* Fig. 2 (singlet, m_hD = 1 GeV): y_D versus sin(theta) with the R_K / R_K* exclusion.
* Fig. 4 (dark abelian, v_D = 10 and 50 GeV): as Fig. 1 with the stability line of eq. (36).

Conventions: the band is Delta chi2(belle2) <= 4 (2 sigma in one parameter, the paper's band);
an upper-limit term excludes where its -2 ln L exceeds 2.706 (the 90 % CL quantile of the
half-normal; any value for the step convention, whose -2 ln L is 0 or inf); the LFU exclusion
is Delta chi2(lfu) > 4 relative to its value without new physics.

Regions are filled contours of the Delta chi2 (or limit) level interpolated between the scan's
grid points in log space (:func:`region_paths`), not the grid's cells. Each function returns a small summary of what it drew (used by the tests) and writes the
figure in every requested format.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

__all__ = ["draw", "fig1", "fig2", "fig4", "belle2_full", "region_paths"]

UL_LEVEL = 2.705543454095404  # Phi^-1(0.95)^2: -2 ln L of a half-normal at its 90 % CL limit
BAND_LEVEL = 4.0
_EXCL = {
    "na62": ("NA62 $K^+\\to\\pi^+$ + inv", "0.55"),
    "koto": ("KOTO $K_L\\to\\pi^0\\nu\\bar\\nu$", "0.7"),
    "belle_kstar": ("Belle $B^0\\to K^{*0}\\nu\\bar\\nu$", "0.45"),
}
_HINV_STYLE = {
    "lhc": ("LHC", "-"),
    "hl_lhc": ("HL-LHC", "--"),
    "ilc": ("ILC", ":"),
    "clic": ("CLIC", (0, (5, 1, 1, 1))),
    "fcc_ee": ("FCC-ee", "-."),
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _central_value(ds) -> float:
    from .likelihood.measurements import load_dataset, load_measurement

    ident = json.loads(ds.attrs["identity"])
    d = load_dataset(ident["dataset"])
    b2 = load_measurement(d["belle2"][0])
    sm = load_measurement(d["sm_prediction"][0])
    return b2.value - sm.value


def _hinv_limits(ds) -> dict:
    from .likelihood.measurements import load_dataset, load_measurement

    d = load_dataset(json.loads(ds.attrs["identity"])["dataset"])
    return {k: load_measurement(v).limit for k, v in d["higgs_invisible"]["scenarios"].items()}


def _m2(ds, name):
    return -2.0 * np.asarray(ds[name].values, dtype=float)


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


def _fill(ax, x, y, field, level, below, colour, alpha, label=None):
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


def _panel(ax, ds, x, y, sel=None, hinv=("lhc", "hl_lhc", "ilc", "clic", "fcc_ee"), endpoint=None, summary=None):
    """Band, central curve, exclusions and Higgs-invisible lines on one (x, y) panel."""
    sub = ds if sel is None else ds.isel(sel)
    sub = sub.transpose(x, y)  # whatever the order of the scan's axes
    X, Y = np.meshgrid(sub[x].values, sub[y].values, indexing="ij")
    summary = {} if summary is None else summary
    # exclusions (grey)
    xs, ys = sub[x].values, sub[y].values
    for term, (label, colour) in _EXCL.items():
        name = f"logL_{term}"
        if name not in sub:
            continue
        excl, paths = _fill(ax, xs, ys, _m2(sub, name), UL_LEVEL, False, colour, 0.55, label)
        summary[f"excluded_{term}"] = excl
        summary[f"paths_excluded_{term}"] = paths
    # Belle II band and central curve
    if "logL_belle2" in sub:
        band, paths = _fill(
            ax, xs, ys, _m2(sub, "logL_belle2"), BAND_LEVEL, True, "#3b75af", 0.6, r"Belle II $2\sigma$"
        )
        summary["band"] = band
        summary["paths_band"] = paths
    obs = "obs_BR(B+->K+inv)"
    if obs in sub:
        central = _central_value(ds)
        v = np.asarray(sub[obs].values)
        if np.nanmin(v) < central < np.nanmax(v):
            ax.contour(X, Y, v, levels=[central], colors="white", linestyles="--", linewidths=1.5)
    # Higgs invisible
    hobs = "obs_BR(h->inv)"
    if hobs in sub:
        limits = _hinv_limits(ds)
        v = np.asarray(sub[hobs].values)
        for scen in hinv:
            lim = limits[scen]
            label, ls = _HINV_STYLE[scen]
            if np.nanmin(v) < lim < np.nanmax(v):
                ax.contour(X, Y, v, levels=[lim], colors="#c0392b", linestyles=[ls], linewidths=1.4)
                ax.plot([], [], color="#c0392b", ls=ls, label=f"BR($h\\to$inv) {label} {100 * lim:g}%")
    if endpoint is not None:
        ax.axvline(endpoint, color="#3b75af", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    return summary


def _save(fig, path: pathlib.Path, formats) -> list[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for f in formats:
        p = path.with_suffix("." + f)
        fig.savefig(p, dpi=140)
        out.append(str(p))
    return out


def fig1(ds, path, title="", formats=("png", "pdf")) -> dict:
    """Fig. 1: sin(theta) versus m_hD (singlet)."""
    import hpjax

    plt = _plt()
    inp = hpjax.Inputs.default()
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    summary = _panel(ax, ds, "m_hD", "sin_theta", endpoint=float(inp.m_Bp - inp.m_Kp))
    ax.set_xlabel(r"$m_{h_D}$ [GeV]")
    ax.set_ylabel(r"$\sin\theta$")
    ax.set_title(title or "Singlet Higgs portal", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    fig.tight_layout()
    summary["files"] = _save(fig, pathlib.Path(path), formats)
    plt.close(fig)
    summary["m_hD"] = ds["m_hD"].values
    summary["sin_theta"] = ds["sin_theta"].values
    return summary


def fig2(ds, path, title="", formats=("png", "pdf")) -> dict:
    """Fig. 2: y_D versus sin(theta) at fixed m_hD with the R_K exclusion."""
    plt = _plt()
    ds = ds.transpose("sin_theta", "y_D")
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    X, Y = np.meshgrid(ds["sin_theta"].values, ds["y_D"].values, indexing="ij")
    summary = {}
    xs, ys = ds["sin_theta"].values, ds["y_D"].values
    if "logL_lfu" in ds:
        m2 = _m2(ds, "logL_lfu")
        excl, paths = _fill(ax, xs, ys, m2 - np.nanmin(m2), BAND_LEVEL, False, "0.55", 0.6, r"LHCb $R_K$, $R_{K^*}$")
        summary["excluded_lfu"] = excl
        summary["paths_excluded_lfu"] = paths
    band, paths = _fill(ax, xs, ys, _m2(ds, "logL_belle2"), BAND_LEVEL, True, "#3b75af", 0.6, r"Belle II $2\sigma$")
    summary["band"] = band
    summary["paths_band"] = paths
    if "obs_BR(B+->K+inv)" in ds:
        v = np.asarray(ds["obs_BR(B+->K+inv)"].values)
        c = _central_value(ds)
        if np.nanmin(v) < c < np.nanmax(v):
            ax.contour(X, Y, v, levels=[c], colors="white", linestyles="--", linewidths=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(r"$\sin\theta$")
    ax.set_ylabel(r"$y_D$")
    ax.set_title(title or r"Singlet Higgs portal, $m_{h_D}$ = 1 GeV", fontsize=10)
    ax.legend(fontsize=7, loc="lower right", framealpha=0.85)
    fig.tight_layout()
    summary["files"] = _save(fig, pathlib.Path(path), formats)
    plt.close(fig)
    summary["sin_theta"] = ds["sin_theta"].values
    summary["y_D"] = ds["y_D"].values
    return summary


def fig4(ds, path, title="", formats=("png", "pdf")) -> dict:
    """Fig. 4: dark abelian model, one panel per v_D, with the stability line of eq. (36)."""
    import hpjax

    from .abelian import min_stable_m_hD

    plt = _plt()
    inp = hpjax.Inputs.default()
    vds = ds["v_D"].values
    fig, axes = plt.subplots(1, len(vds), figsize=(5.6 * len(vds), 4.8), squeeze=False)
    summary = {"panels": []}
    s = ds["sin_theta"].values
    for k, (ax, vd) in enumerate(zip(axes[0], vds)):
        panel = _panel(
            ax, ds, "m_hD", "sin_theta", sel={"v_D": k}, hinv=("lhc", "hl_lhc"), endpoint=float(inp.m_Bp - inp.m_Kp)
        )
        ax.plot(np.asarray(min_stable_m_hD(s, inp)), s, color="0.35", ls="--", lw=1.2, label="stability, eq. (36)")
        ax.set_xlim(ds["m_hD"].values[0], ds["m_hD"].values[-1])
        ax.set_xlabel(r"$m_{h_D}$ [GeV]")
        ax.set_ylabel(r"$\sin\theta$")
        ax.set_title(f"{title or 'Dark abelian Higgs'}: $v_D$ = {vd:g} GeV", fontsize=10)
        ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
        summary["panels"].append(panel)
    fig.tight_layout()
    summary["files"] = _save(fig, pathlib.Path(path), formats)
    plt.close(fig)
    summary["m_hD"] = ds["m_hD"].values
    summary["sin_theta"] = s
    summary["v_D"] = vds
    return summary


def _gaussian_chi2(ds, br_np):
    """-2 ln L of the paper's Gaussian Belle II term for new-physics BR ``br_np`` (dataset's
    measurement and SM prediction)."""
    from .likelihood.measurements import load_dataset, load_measurement

    d = load_dataset(json.loads(ds.attrs["identity"])["dataset"])
    b2 = load_measurement(d["belle2"][0])
    sm = load_measurement(d["sm_prediction"][0])
    r = br_np + sm.value - b2.value
    return (r / np.where(r > 0, b2.error_up, b2.error_down)) ** 2


def belle2_full(ds, path, title="", formats=("png", "pdf")) -> dict:
    """The Belle II-favoured region of the singlet model with the full likelihood (term
    ``belle2_full``) beside the paper's Gaussian band, and the profile in m_hD of both.

    Left: (m_hD, sin theta) with the Gaussian band (Delta chi2 <= 4, the paper's Fig. 1 band) and
    the full likelihood's 68 % and 95 % regions (Delta chi2 = 2.30, 5.99 from the scan's minimum,
    2 parameters). Right: Delta chi2 profiled over sin theta on the grid, against m_hD."""
    plt = _plt()
    import hpjax

    m, s = ds["m_hD"].values, ds["sin_theta"].values
    X, Y = np.meshgrid(m, s, indexing="ij")
    full = _m2(ds, "logL_belle2_full")
    gauss = _gaussian_chi2(ds, np.asarray(ds["obs_BR(B+->K+inv)"].values))
    d_full = full - np.nanmin(full)
    i, j = np.unravel_index(np.nanargmin(full), full.shape)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.0, 4.6))
    ax.contourf(X, Y, (gauss <= BAND_LEVEL).astype(float), levels=[0.5, 1.5], colors=["#9ec3e6"], alpha=0.7)
    ax.plot([], [], color="#9ec3e6", lw=6, label=r"Gaussian BR (paper), $\Delta\chi^2\leq 4$")
    ax.contourf(X, Y, d_full, levels=[0.0, 2.30, 5.99], colors=["#1f4e79", "#3b75af"], alpha=0.75)
    ax.plot([], [], color="#1f4e79", lw=6, label="full likelihood 68 %")
    ax.plot([], [], color="#3b75af", lw=6, label="full likelihood 95 %")
    ax.plot(m[i], s[j], marker="*", color="gold", ms=12, mec="k", label=f"best fit ({m[i]:.2f} GeV, {s[j]:.2g})")
    inp = hpjax.Inputs.default()
    ax.axvline(float(inp.m_Bp - inp.m_Kp), color="#3b75af", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_{h_D}$ [GeV]")
    ax.set_ylabel(r"$\sin\theta$")
    ax.legend(fontsize=7, loc="upper left", framealpha=0.85)
    ax.set_title(title or "Singlet Higgs portal: Belle II full likelihood", fontsize=10)
    prof_full = np.nanmin(full, axis=1) - np.nanmin(full)
    prof_gauss = np.nanmin(gauss, axis=1) - np.nanmin(gauss)
    bx.plot(m, prof_full, color="#1f4e79", lw=2, label="full likelihood (pyhf, 231 nuisances profiled)")
    bx.plot(m, prof_gauss, color="#9ec3e6", lw=2, ls="--", label="Gaussian BR (paper)")
    for lvl in (1.0, 4.0):
        bx.axhline(lvl, color="0.6", lw=0.8, ls=":")
    bx.set_xscale("log")
    bx.set_ylim(-0.3, max(12.0, float(np.nanmax(prof_full[np.isfinite(prof_full)])) * 1.05))
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    for a in (ax, bx):  # mass ticks as plain numbers (matplotlib would label the minor ticks too)
        a.xaxis.set_major_locator(FixedLocator([t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10) if m[0] <= t <= m[-1]]))
        a.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        a.xaxis.set_minor_formatter(NullFormatter())
    bx.set_xlabel(r"$m_{h_D}$ [GeV]")
    bx.set_ylabel(r"$\Delta\chi^2$ (profiled over $\sin\theta$)")
    bx.legend(fontsize=7, loc="upper left", framealpha=0.85)
    bx.set_title(r"Profile in $m_{h_D}$", fontsize=10)
    fig.tight_layout()
    summary = {
        "files": _save(fig, pathlib.Path(path), formats),
        "best_m_hD": float(m[i]),
        "best_sin_theta": float(s[j]),
        "chi2_min": float(np.nanmin(full)),
        "region68": d_full <= 2.30,
        "region95": d_full <= 5.99,
        "band": gauss <= BAND_LEVEL,
        "profile_full": prof_full,
        "profile_gauss": prof_gauss,
        "m_hD": m,
        "sin_theta": s,
    }
    plt.close(fig)
    return summary


FIGURES = {"fig1": fig1, "fig2": fig2, "fig4": fig4, "belle2_full": belle2_full}


def draw(kind: str, ds, path, title: str = "", formats=("png", "pdf")) -> dict:
    if kind not in FIGURES:
        raise ValueError(f"unknown figure '{kind}'; valid: {sorted(FIGURES)}")
    return FIGURES[kind](ds, path, title, formats)
