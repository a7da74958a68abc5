"""Fig. 3 through ``hpjax plot fits/fig3.toml``: every limit and projection file appears with its
label (the invisible-decay recasts are left out and named in the caption), the loop lines, the
escape region, and the caption's note on DUNE and LDMX."""

import pathlib

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from hpjax.cli.main import main  # noqa: E402
from hpjax.plotting import fig3  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_hpjax_plot_draws_every_file_with_its_label(tmp_path, monkeypatch, capsys):
    drawn = []
    draw = fig3.draw_fig3

    def record(**kw):
        out = draw(**kw)
        drawn.append(out)
        return out

    monkeypatch.setattr(fig3, "draw_fig3", record)
    spec = (ROOT / "fits" / "fig3.toml").read_text().replace("n_escape = 40", "n_escape = 12")
    (tmp_path / "fig3.toml").write_text(spec)
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "fig3.toml"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "docs" / "figures" / "fig3.png").stat().st_size > 10_000
    assert (tmp_path / "docs" / "figures" / "fig3.pdf").exists()

    fig, ax, labels = drawn[0]
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    limits, projections = fig3.limit_files("limits"), fig3.limit_files("projections")
    assert (len(limits), len(projections)) == (46, 26)
    invisible = fig3.invisible_limit_files()
    assert invisible == [
        "BaBar_Lees2017lec.lmt",
        "BelleII_Adachi2019otg.lmt",
        "LEP_Fox2011fx.lmt",
        "NA62_CortinaGil2019nuo.lmt",
        "NA64_Banerjee2016tad.lmt",
        "NA64_Banerjee2017hhz.lmt",
        "NA64_NA642019imj.lmt",
    ]
    shown = [f for f in limits if f not in invisible] + projections
    for f in shown:
        assert fig3.label(f) in labels and fig3.label(f) in legend, f
    caption = fig3.caption()
    for f in invisible:  # not a visible-A_D limit: left out of the grey, named in the caption
        assert fig3.label(f) not in legend and fig3.label(f) in caption, f
    assert caption in {t.get_text() for t in fig.texts}
    assert len({fig3.label(f) for f in limits + projections}) == len(limits + projections)  # unique
    assert sum("loop" in t for t in legend) == 4 and any("escape" in t for t in legend)
    assert "No DUNE or LDMX" in caption
    # the legend sits beside the axes, not on the curves
    fig.canvas.draw()
    box, leg = ax.get_window_extent(), ax.get_legend().get_window_extent()
    assert leg.x0 >= box.x1
    with pytest.raises(ValueError, match="kind"):
        fig3.limit_files("dune")
    assert not fig3.is_fig3_spec(ROOT / "fits" / "fig1_paper.toml")
