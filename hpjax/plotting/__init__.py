"""Every figure hpjax draws; the command (hpjax.cli) only calls these.

* :mod:`hpjax.plotting.common`: the Agg pyplot, writing figures, log axes, filled Delta chi2
  regions on a scan grid (:func:`region_paths`).
* :mod:`hpjax.plotting.figures`: the paper's Figs. 1, 2, 4 and the Belle II full-likelihood
  figure from a scan (:func:`draw` with ``plot.kind``).
* :mod:`hpjax.plotting.results`: the command's result figures (demo prescriptions, chi2 by term,
  profile likelihood).
* :mod:`hpjax.plotting.fig3`: Fig. 3, the dark-photon plane (``hpjax plot fits/fig3.toml``).
* :mod:`hpjax.plotting.posterior`: the corner plot of a NUTS posterior.
* :mod:`hpjax.plotting.limits`: upper limits and local p0 against mass (``hpjax hypotest``).

A new figure module is one file here; shared helpers come from :mod:`.common` (public names only).
"""

from .common import region_paths
from .figures import BAND_LEVEL, FIGURES, UL_LEVEL, belle2_full, draw, fig1, fig2, fig4
from .results import chi2_bar_figure, prescription_figure, profile_figure

__all__ = [
    "draw",
    "fig1",
    "fig2",
    "fig4",
    "belle2_full",
    "region_paths",
    "FIGURES",
    "UL_LEVEL",
    "BAND_LEVEL",
    "prescription_figure",
    "chi2_bar_figure",
    "profile_figure",
]
