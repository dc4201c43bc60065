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
