"""Plots export for slides and papers: SVG with one path per curve, PNG drawn larger."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image

from workbench.gui.widgets.plots import export_png, export_svg, make_plot

SVG = "{http://www.w3.org/2000/svg}"
COLOURS = ("#d62728", "#2ca02c", "#1f77b4")


def _plot(qtbot):
    widget = make_plot("Validation accuracy", "accuracy (%)", legend=False)
    qtbot.addWidget(widget)
    for i, colour in enumerate(COLOURS):
        widget.getPlotItem().plot(
            list(range(50)), [i + (j % 7) for j in range(50)], pen=pg.mkPen(colour, width=3)
        )
    widget.resize(480, 320)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_svg_parses_and_holds_one_path_per_curve(qtbot, tmp_path):
    widget = _plot(qtbot)
    path = export_svg(widget, tmp_path / "plot.svg")
    root = ET.parse(path).getroot()  # well-formed XML
    assert root.tag == SVG + "svg"
    curves = [p for p in root.iter(SVG + "path") if p.attrib.get("class") == "curve"]
    assert sorted(p.attrib["stroke"] for p in curves) == sorted(COLOURS)
    # each curve is its 50 points, in the widget's pixels, where the plot draws them
    item = widget.getPlotItem().listDataItems()[0]
    first = next(p for p in curves if p.attrib["stroke"] == COLOURS[0])
    points = [tuple(map(float, step[1:].split(","))) for step in first.attrib["d"].split()]
    assert len(points) == 50
    view = widget.getPlotItem().getViewBox()
    for i in (0, 17, 49):
        expected = widget.mapFromScene(view.mapViewToScene(pg.Point(i, float(item.yData[i]))))
        assert points[i] == pytest.approx((expected.x(), expected.y()), abs=1.0)
    labels = {t.text for t in root.iter(SVG + "text")}
    assert "Validation accuracy" in labels and "accuracy (%)" in labels and "40" in labels


def test_png_for_slides_is_drawn_three_times_larger(qtbot, tmp_path):
    widget = _plot(qtbot)
    screen = Image.open(export_png(widget, tmp_path / "screen.png"))
    slide = Image.open(export_png(widget, tmp_path / "slide.png", scale=3.0))
    assert slide.size == (3 * widget.width(), 3 * widget.height())
    # drawn again, not enlarged: an enlarged screenshot is made of uniform 3x3 blocks, while
    # lines and letters drawn at three times the resolution have edges inside the blocks
    enlarged = screen.resize(slide.size, Image.Resampling.NEAREST)
    assert _uniform_blocks(enlarged) == 1.0
    assert _uniform_blocks(slide) < 0.8
    # and it is the whole plot: shrunk back, it looks like the screen (a painter scaled on
    # top of the view's own stretching once showed a quarter of the plot, 4x enlarged)
    shrunk = np.asarray(slide.convert("L").resize(screen.size, Image.Resampling.BOX), float)
    assert np.abs(shrunk - np.asarray(screen.convert("L"), float)).mean() < 12


def _uniform_blocks(image: Image.Image) -> float:
    """The share of the aligned 3x3 blocks with something drawn in them (not only the
    background colour) that hold one colour."""
    pixels = np.asarray(image.convert("RGB")).astype(int)
    h, w = (pixels.shape[0] // 3) * 3, (pixels.shape[1] // 3) * 3
    blocks = pixels[:h, :w].reshape(h // 3, 3, w // 3, 3, 3)
    background = pixels[1, 1]
    drawn = ~(blocks == background).all(axis=(1, 3, 4))
    uniform = (blocks == blocks[:, :1, :, :1, :]).all(axis=(1, 3, 4))
    return float(uniform[drawn].mean())


def test_plot_at_a_chosen_size_with_presentation_style(qtbot, tmp_path, monkeypatch):
    """The size asked for, presentation fonts and lines while drawing, the view's own after."""
    from workbench.gui import theme
    from workbench.gui.widgets import sized_export

    # the window's theme is whatever an earlier test left: this plot is in the light theme
    monkeypatch.setattr(sized_export, "current_theme", lambda: theme.LIGHT)
    from workbench.gui.widgets.sized_export import (
        SizedExport,
        export_plot_sized,
        presentation_style,
    )

    widget = _plot(qtbot)
    axis = widget.getPlotItem().getAxis("left")
    item = widget.getPlotItem().listDataItems()[0]
    before_font = axis.style["tickFont"].pointSize() if axis.style["tickFont"] else None
    before_width = item.opts["pen"].widthF()
    before_size = widget.size()
    with presentation_style(widget):
        assert axis.style["tickFont"].pointSize() == 15
        assert item.opts["pen"].widthF() > before_width
    assert item.opts["pen"].widthF() == before_width
    assert (axis.style["tickFont"].pointSize() if axis.style["tickFont"] else None) in (
        before_font,
        10,
    )
    chosen = SizedExport(width=1200, height=700, scale=2.0, presentation=True)
    png = Image.open(export_plot_sized(widget, tmp_path / "sized.png", chosen))
    assert png.size == (1200, 700)
    # the whole plot, not a corner: its rightmost tick label "40" region is drawn, i.e. some
    # curve colour appears in the right fifth of the picture
    right = np.asarray(png.convert("RGB"))[:, 960:].reshape(-1, 3)
    assert any(
        (right == np.array(Image.new("RGB", (1, 1), c).getpixel((0, 0)))).all(1).any()
        for c in COLOURS
    )
    assert widget.size() == before_size
    plain = SizedExport(width=1200, height=700, scale=2.0, presentation=False)
    Image.open(export_plot_sized(widget, tmp_path / "plain.png", plain))
    big = ET.parse(export_plot_sized(widget, tmp_path / "big.svg", chosen)).getroot()
    small = ET.parse(export_plot_sized(widget, tmp_path / "small.svg", plain)).getroot()
    assert big.attrib["width"] == "1200" and big.attrib["height"] == "700"

    def tick_size(root):
        return max(float(t.attrib["font-size"]) for t in root.iter(SVG + "text"))

    assert tick_size(big) > tick_size(small) * 1.3  # presentation text is larger


def test_image_grid_at_a_chosen_width_and_scale(qtbot):
    from workbench.data.registry import make_sampler
    from workbench.gui.widgets.image_grid import ImageGrid
    from workbench.presets import load_preset

    grid = ImageGrid()
    qtbot.addWidget(grid)
    grid.set_episode(make_sampler(load_preset("demo").data, "train", 0)[0])
    grid.resize(500, 300)
    image = grid.render_image(1200, scale=2.0)
    assert image.width() == 1200
    assert image.height() % 2 == 0 and image.height() > 100
