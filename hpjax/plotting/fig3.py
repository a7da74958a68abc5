"""Fig. 3 of the paper: the dark-photon (m_AD, eps) plane, drawn by ``hpjax plot fits/fig3.toml``.

Existing limits (grey, one labelled patch per Darkcast recast file in hpjax/data/darkphoton/limits/
of a visibly decaying dark photon, or an indirect g-2 bound; the recasts of invisible-decay
searches (type 'invisible' in limits/README_upstream_table.md: BaBar 2017, Belle II 2019, LEP,
NA62, NA64 2016/2017/2019) constrain a dark photon with Gamma_inv = 99 Gamma_vis, not the minimal
one, and are left out and named in the caption),
projections (coloured lines, one per file in hpjax/data/darkphoton/projections/), the 1- and
3-loop expectations of eqs. (42)-(43) for v_D = 10 (solid) and 50 GeV (dashed) at
sin(theta) = 6e-3, and the region where both A_D from B -> K h_D escape the Belle II ECL volume
with probability > ``p_min`` at the Belle II-favoured point (hpjax.darkphoton.p_escape).
No DUNE or LDMX projection could be found (the paper's Fig. 3 shows both); the caption says so.

>>> from hpjax.plotting.fig3 import limit_files, label, invisible_limit_files
>>> label("BaBar_Lees2014xha.lmt")
'BaBar (Lees2014xha)'
>>> len(limit_files("limits")), len(limit_files("projections")), len(invisible_limit_files())
(46, 26, 7)
"""

from __future__ import annotations

import tomllib
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np

from .. import darkphoton as dp

__all__ = [
    "limit_files",
    "invisible_limit_files",
    "label",
    "read_curve",
    "draw_fig3",
    "caption",
    "CAPTION",
    "load_spec",
    "is_fig3_spec",
    "plot_spec",
]

CAPTION = (
    "Existing limits on visibly decaying dark photons and indirect g-2 bounds (grey, each labelled; Darkcast "
    "recasts, arXiv:1801.04847) and projections (coloured, each labelled; Darkcast recasts of Belle II, HPS, "
    "LHCb, SHiP, SeaQuest/DarkQuest). No DUNE or LDMX dark-photon projection could be found, so neither is "
    "shown. Not shown: the recasts of invisible-decay searches ({invisible}), which do not constrain a "
    "visibly decaying A_D. Black: eps_1-loop (42), brown: eps_3-loop (43), for v_D = 10 GeV (solid) and 50 GeV "
    "(dashed) at sin(theta) = 6e-3. Red, hatched: both A_D from B -> K h_D escape the Belle II ECL volume "
    "(r = 1.62 m, Belle NIM A 479 (2002) 117) with probability > p_min at the Belle II-favoured point."
)


def caption() -> str:
    """:data:`CAPTION` with the invisible-decay recasts that are left out named."""
    return CAPTION.format(invisible=", ".join(label(f) for f in invisible_limit_files()))


def invisible_limit_files() -> list[str]:
    """Limit files of type 'invisible' in hpjax/data/darkphoton/limits/README_upstream_table.md."""
    text = resources.files("hpjax.data").joinpath("darkphoton", "limits", "README_upstream_table.md").read_text()
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in text.splitlines() if ln.startswith("| ")]
    return sorted(r[0] for r in rows if len(r) > 3 and r[0].endswith(".lmt") and r[3] == "invisible")


def limit_files(kind: str) -> list[str]:
    """Sorted .lmt file names under hpjax/data/darkphoton/<kind> (kind: 'limits' or 'projections')."""
    if kind not in ("limits", "projections"):
        raise ValueError(f"limit_files: kind = {kind!r}; allowed: 'limits', 'projections'")
    d = resources.files("hpjax.data").joinpath("darkphoton", kind)
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".lmt"))


def label(fname: str) -> str:
    """'BaBar_Lees2014xha.lmt' -> 'BaBar (Lees2014xha)'; extra suffixes kept: 'LHCb (Aaij2017rft, displaced)'."""
    parts = fname[: -len(".lmt")].split("_")
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} ({', '.join(parts[1:])})"


def read_curve(kind: str, fname: str) -> np.ndarray:
    """(mass, lower[, upper]) columns; Darkcast's 1e5 placeholders (no limit) become NaN."""
    arr = dp.load_columns("darkphoton", kind, fname).astype(float)
    arr[:, 1:][arr[:, 1:] >= 1.0] = np.nan
    return arr


def _escape_grid(m_hD, sin_theta, m_range, eps_range, n):
    m = np.geomspace(*m_range, n)
    e = np.geomspace(*eps_range, n)
    mm, ee = np.meshgrid(m, e, indexing="ij")
    f = jax.jit(jax.vmap(lambda a, b: dp.p_escape(m_hD, a, b, orders=(4, 6, 6, 6, 6))))
    p = np.asarray(f(jnp.asarray(mm.ravel()), jnp.asarray(ee.ravel()))).reshape(mm.shape)
    p = np.where(2.0 * mm < m_hD, p, np.nan)  # h_D -> A_D A_D closed
    return mm, ee, p


def draw_fig3(
    ax=None,
    *,
    m_hD: float = 1.0,
    sin_theta: float = 6e-3,
    v_D=(10.0, 50.0),
    p_min: float = 0.9,
    m_range=(0.01, 10.0),
    eps_range=(1e-10, 1e-2),
    n_escape: int = 40,
    legend: bool = True,
):
    """Draw Fig. 3 on ``ax`` (new figure if None); returns (fig, ax, labels) with every drawn label."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig = plt.figure(figsize=(13, 7.5))
        ax = fig.add_axes((0.07, 0.2, 0.5, 0.74))
    fig = ax.figure
    labels = []
    skip = set(invisible_limit_files())
    for f in limit_files("limits"):
        if f in skip:
            continue
        a = read_curve("limits", f)
        upper = a[:, 2] if a.shape[1] > 2 else np.full(len(a), eps_range[1])
        ax.fill_between(
            a[:, 0], a[:, 1], upper, where=np.isfinite(a[:, 1]), color="0.75", alpha=0.6, lw=0, label=label(f)
        )
        labels.append(label(f))
    cmap = plt.get_cmap("tab20")
    for i, f in enumerate(limit_files("projections")):
        a = read_curve("projections", f)
        ax.plot(a[:, 0], a[:, 1], color=cmap(i % 20), lw=1.2, label=label(f))
        if a.shape[1] > 2:
            ax.plot(a[:, 0], a[:, 2], color=cmap(i % 20), lw=1.2)
        labels.append(label(f))
    m = np.geomspace(*m_range, 200)
    for vd, ls in zip(v_D, ("-", "--")):
        for name, fn in (
            ("1-loop", lambda mm: dp.eps_1loop(mm, vd)),
            ("3-loop", lambda mm: dp.eps_3loop(mm, vd, sin_theta)),
        ):
            lab = f"eps {name}, v_D = {vd:g} GeV"
            col = "k" if name == "1-loop" else "tab:brown"
            ax.plot(m, np.asarray(fn(jnp.asarray(m))), color=col, ls=ls, lw=1.5, label=lab)
            labels.append(lab)
    mm, ee, p = _escape_grid(m_hD, sin_theta, m_range, eps_range, n_escape)
    lab = f"A_D escape Belle II (P > {p_min:g}), m_hD = {m_hD:g} GeV"
    ax.contourf(mm, ee, np.nan_to_num(p, nan=0.0), levels=[p_min, 1.0 + 1e-9], colors="none", hatches=["//"])
    ax.contour(mm, ee, np.nan_to_num(p, nan=0.0), levels=[p_min], colors="tab:red", linewidths=1.5)
    ax.plot([], [], color="tab:red", label=lab)
    labels.append(lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*m_range)
    ax.set_ylim(*eps_range)
    ax.set_xlabel(r"$m_{A_D}$ [GeV]")
    ax.set_ylabel(r"$\epsilon$")
    if legend:  # beside the axes, where it hides no curve
        ax.legend(fontsize=5, ncol=2, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    ax.set_title("Fig. 3: dark photon limits, projections, loop expectations", fontsize=9)
    fig.text(0.07, 0.02, caption(), fontsize=6, wrap=True, va="bottom")
    return fig, ax, labels


def load_spec(path) -> dict:
    """Read fits/fig3.toml: [fig3] options of :func:`draw_fig3` and [output] file name."""
    try:
        with open(path, "rb") as fh:
            spec = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read as TOML ({exc})") from None
    if "fig3" not in spec:
        raise ValueError(f"{path}: missing table [fig3]")
    allowed = {"m_hD", "sin_theta", "v_D", "p_min", "m_range", "eps_range", "n_escape"}
    bad = sorted(set(spec["fig3"]) - allowed)
    if bad:
        raise ValueError(f"{path}: unknown key(s) {bad} in [fig3]; allowed: {sorted(allowed)}")
    return spec


def is_fig3_spec(path) -> bool:
    """Whether ``path`` is a figure-only Fig. 3 spec (a [fig3] table), which ``hpjax plot`` draws
    without a scan."""
    try:
        with open(path, "rb") as fh:
            return "fig3" in tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return False


def plot_spec(path, out=None) -> list[str]:
    """Draw Fig. 3 from the spec at ``path``; write [output] file (or ``out``) as png and pdf.
    Returns the files written."""
    import pathlib

    from .common import pyplot, save_figure

    pyplot()
    spec = load_spec(path)
    opts = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["fig3"].items()}
    fig, _, _ = draw_fig3(**opts)
    target = pathlib.Path(out or spec.get("output", {}).get("file", "fig3.png"))
    return save_figure(fig, target.with_suffix(""), spec.get("output", {}).get("formats", ["png", "pdf"]))
