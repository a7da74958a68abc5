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
grid points in log space (:func:`hpjax.plotting.common.region_paths`), not the grid's cells. Each
function returns a small summary of what it drew (used by the tests) and writes the figure in
every requested format.
"""

from __future__ import annotations

import json

import numpy as np

from .common import fill_region, log_axes, pyplot, save_figure

__all__ = ["draw", "fig1", "fig2", "fig4", "belle2_full", "FIGURES", "UL_LEVEL", "BAND_LEVEL"]

M_LABEL, S_LABEL = r"$m_{h_D}$ [GeV]", r"$\sin\theta$"
LFU_LABEL = r"LHCb $R_K$, $R_{K^*}$"
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


def _central_value(ds) -> float:
    from ..likelihood.measurements import load_dataset, load_measurement

    ident = json.loads(ds.attrs["identity"])
    d = load_dataset(ident["dataset"])
    b2 = load_measurement(d["belle2"][0])
    sm = load_measurement(d["sm_prediction"][0])
    return b2.value - sm.value


def _hinv_limits(ds) -> dict:
    from ..likelihood.measurements import load_dataset, load_measurement

    d = load_dataset(json.loads(ds.attrs["identity"])["dataset"])
    return {k: load_measurement(v).limit for k, v in d["higgs_invisible"]["scenarios"].items()}


def _m2(ds, name):
    return -2.0 * np.asarray(ds[name].values, dtype=float)


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
        excl, paths = fill_region(ax, xs, ys, _m2(sub, name), UL_LEVEL, False, colour, 0.55, label)
        summary[f"excluded_{term}"] = excl
        summary[f"paths_excluded_{term}"] = paths
    if "logL_lfu" in sub:  # relative to its minimum on the grid (Fig. 2)
        m2 = _m2(sub, "logL_lfu")
        excl, paths = fill_region(ax, xs, ys, m2 - np.nanmin(m2), BAND_LEVEL, False, "0.55", 0.6, LFU_LABEL)
        summary["excluded_lfu"] = excl
        summary["paths_excluded_lfu"] = paths
    # Belle II band and central curve
    if "logL_belle2" in sub:
        band, paths = fill_region(
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
    log_axes(ax, xs, ys)
    return summary


def _endpoint() -> float:
    """m_B+ - m_K+: the end of the two-body B+ -> K+ h_D region."""
    import hpjax

    inp = hpjax.Inputs.default()
    return float(inp.m_Bp - inp.m_Kp)


def _labels(ax, xlabel, ylabel, title, loc="upper left"):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc=loc, framealpha=0.85)


def _finish(fig, path, formats, summary, ds, *names) -> dict:
    """Lay out and write ``fig``; ``summary`` gains the files and the grid of each axis ``names``."""
    fig.tight_layout()
    summary["files"] = save_figure(fig, path, formats)
    summary.update({n: ds[n].values for n in names})
    return summary


def fig1(ds, path, title="", formats=("png", "pdf")) -> dict:
    """Fig. 1: sin(theta) versus m_hD (singlet)."""
    fig, ax = pyplot().subplots(figsize=(6.2, 4.8))
    summary = _panel(ax, ds, "m_hD", "sin_theta", endpoint=_endpoint())
    _labels(ax, M_LABEL, S_LABEL, title or "Singlet Higgs portal")
    return _finish(fig, path, formats, summary, ds, "m_hD", "sin_theta")


def fig2(ds, path, title="", formats=("png", "pdf")) -> dict:
    """Fig. 2: y_D versus sin(theta) at fixed m_hD with the R_K exclusion."""
    from matplotlib.ticker import NullFormatter

    fig, ax = pyplot().subplots(figsize=(6.2, 4.8))
    summary = _panel(ax, ds, "sin_theta", "y_D", hinv=())
    ax.xaxis.set_minor_formatter(NullFormatter())
    _labels(ax, S_LABEL, r"$y_D$", title or r"Singlet Higgs portal, $m_{h_D}$ = 1 GeV", loc="lower right")
    return _finish(fig, path, formats, summary, ds, "sin_theta", "y_D")


def fig4(ds, path, title="", formats=("png", "pdf")) -> dict:
    """Fig. 4: dark abelian model, one panel per v_D, with the stability line of eq. (36)."""
    import hpjax

    from ..abelian import min_stable_m_hD

    inp = hpjax.Inputs.default()
    vds = ds["v_D"].values
    fig, axes = pyplot().subplots(1, len(vds), figsize=(5.6 * len(vds), 4.8), squeeze=False)
    summary = {"panels": []}
    s = ds["sin_theta"].values
    for k, (ax, vd) in enumerate(zip(axes[0], vds)):
        panel = _panel(ax, ds, "m_hD", "sin_theta", sel={"v_D": k}, hinv=("lhc", "hl_lhc"), endpoint=_endpoint())
        ax.plot(np.asarray(min_stable_m_hD(s, inp)), s, color="0.35", ls="--", lw=1.2, label="stability, eq. (36)")
        ax.set_xlim(ds["m_hD"].values[0], ds["m_hD"].values[-1])
        _labels(ax, M_LABEL, S_LABEL, f"{title or 'Dark abelian Higgs'}: $v_D$ = {vd:g} GeV")
        summary["panels"].append(panel)
    return _finish(fig, path, formats, summary, ds, "m_hD", "sin_theta", "v_D")


def _gaussian_chi2(ds, br_np):
    """-2 ln L of the paper's Gaussian Belle II term for new-physics BR ``br_np`` (dataset's
    measurement and SM prediction)."""
    from ..likelihood.measurements import load_dataset, load_measurement

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
    m, s = ds["m_hD"].values, ds["sin_theta"].values
    X, Y = np.meshgrid(m, s, indexing="ij")
    full = _m2(ds, "logL_belle2_full")
    gauss = _gaussian_chi2(ds, np.asarray(ds["obs_BR(B+->K+inv)"].values))
    d_full = full - np.nanmin(full)
    i, j = np.unravel_index(np.nanargmin(full), full.shape)
    fig, (ax, bx) = pyplot().subplots(1, 2, figsize=(11.0, 4.6))
    ax.contourf(X, Y, (gauss <= BAND_LEVEL).astype(float), levels=[0.5, 1.5], colors=["#9ec3e6"], alpha=0.7)
    ax.plot([], [], color="#9ec3e6", lw=6, label=r"Gaussian BR (paper), $\Delta\chi^2\leq 4$")
    ax.contourf(X, Y, d_full, levels=[0.0, 2.30, 5.99], colors=["#1f4e79", "#3b75af"], alpha=0.75)
    ax.plot([], [], color="#1f4e79", lw=6, label="full likelihood 68 %")
    ax.plot([], [], color="#3b75af", lw=6, label="full likelihood 95 %")
    ax.plot(m[i], s[j], marker="*", color="gold", ms=12, mec="k", label=f"best fit ({m[i]:.2f} GeV, {s[j]:.2g})")
    ax.axvline(_endpoint(), color="#3b75af", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _labels(ax, M_LABEL, S_LABEL, title or "Singlet Higgs portal: Belle II full likelihood")
    prof_full = np.nanmin(full, axis=1) - np.nanmin(full)
    prof_gauss = np.nanmin(gauss, axis=1) - np.nanmin(gauss)
    bx.plot(m, prof_full, color="#1f4e79", lw=2, label="full likelihood (231 nuisances profiled)")
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
    _labels(bx, M_LABEL, r"$\Delta\chi^2$ (profiled over $\sin\theta$)", r"Profile in $m_{h_D}$")
    fig.tight_layout()
    return {
        "files": save_figure(fig, path, formats),
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


FIGURES = {"fig1": fig1, "fig2": fig2, "fig4": fig4, "belle2_full": belle2_full}


def draw(kind: str, ds, path, title: str = "", formats=("png", "pdf")) -> dict:
    """Draw the figure ``kind`` (a key of :data:`FIGURES`) of the scan ``ds`` as ``path``.<format>."""
    if kind not in FIGURES:
        raise ValueError(f"unknown figure '{kind}'; valid: {sorted(FIGURES)}")
    return FIGURES[kind](ds, path, title, formats)
