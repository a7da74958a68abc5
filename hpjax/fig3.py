"""Fig. 3 moved to :mod:`hpjax.plotting.fig3` (drawn by ``hpjax plot fits/fig3.toml``); this name
stays for existing imports."""

from .plotting.fig3 import (  # noqa: F401
    CAPTION,
    caption,
    draw_fig3,
    invisible_limit_files,
    is_fig3_spec,
    label,
    limit_files,
    load_spec,
    plot_spec,
    read_curve,
)

__all__ = [
    "CAPTION",
    "caption",
    "draw_fig3",
    "invisible_limit_files",
    "is_fig3_spec",
    "label",
    "limit_files",
    "load_spec",
    "plot_spec",
    "read_curve",
]
