"""Fig. 3: every limit and projection file appears with its label; the spec reads."""

import pathlib

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from hpjax import fig3  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_file_is_drawn_with_its_label():
    spec = fig3.load_spec(ROOT / "fits" / "fig3.toml")
    fig, ax, labels = fig3.draw_fig3(
        n_escape=12, **{k: tuple(v) if isinstance(v, list) else v for k, v in spec["fig3"].items() if k != "n_escape"}
    )
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    names = fig3.limit_files("limits") + fig3.limit_files("projections")
    assert len(names) == 46 + 26
    for f in names:
        assert fig3.label(f) in labels and fig3.label(f) in legend, f
    assert len({fig3.label(f) for f in names}) == len(names)  # labels are unique
    assert sum("loop" in t for t in legend) == 4 and any("escape" in t for t in legend)
    assert "No DUNE or LDMX" in fig3.CAPTION
    with pytest.raises(ValueError, match="kind"):
        fig3.limit_files("dune")
