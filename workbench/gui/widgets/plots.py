"""Plots that stay smooth with long curves and export themselves (PNG, CSV).

The numbers behind the curves (growable buffers, smoothing) are Qt-free and live in
`workbench.engine.series`; this module only draws and exports.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRectF
from PySide6.QtGui import QAction, QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QGraphicsView, QWidget

from workbench.gui.widgets.axes import legible_axes
from workbench.gui.widgets.plot_svg import export_svg

#: how much larger the "for slides" PNG export draws the plot
SLIDE_SCALE = 3.0


def make_plot(title: str, y_label: str, *, legend: bool = True) -> pg.PlotWidget:
    """A plot that stays smooth with 100,000 points and can export itself from its menu."""
    widget = pg.PlotWidget(axisItems=legible_axes())
    plot = widget.getPlotItem()
    plot.setTitle(title)
    plot.setLabel("left", y_label)
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    plot.showGrid(x=True, y=True)
    for name in ("left", "bottom"):
        # major and minor ticks only: the third, finest level of grid lines doubles the cost
        # of every repaint and is barely visible
        plot.getAxis(name).setStyle(maxTickLevel=1)
    plot.setMenuEnabled(True)
    if legend:
        plot.addLegend(offset=(-8, 8))
    widget.setMinimumSize(220, 160)
    add_export_actions(widget)
    return widget


def add_export_actions(widget: pg.PlotWidget) -> None:
    """Right-click menu entries: the plot as PNG (as on screen, or 3x for slides), as SVG, and
    its curves as CSV."""
    menu = widget.getPlotItem().getViewBox().menu
    menu.addSeparator()
    png = QAction("Export plot as PNG…", menu)
    png.triggered.connect(lambda: _ask_and_export(widget, "PNG image (*.png)", ".png", export_png))
    csv_action = QAction("Export curves as CSV…", menu)
    csv_action.triggered.connect(
        lambda: _ask_and_export(widget, "CSV table (*.csv)", ".csv", export_csv)
    )
    slide = QAction("Export plot as PNG, 3x for slides…", menu)
    slide.triggered.connect(
        lambda: _ask_and_export(
            widget, "PNG image (*.png)", ".png", lambda w, p: export_png(w, p, SLIDE_SCALE)
        )
    )
    svg = QAction("Export plot as SVG…", menu)
    svg.triggered.connect(lambda: _ask_and_export(widget, "SVG image (*.svg)", ".svg", export_svg))
    sized = QAction("Export plot at a size (PNG or SVG)…", menu)
    sized.setToolTip("Choose width, height and scale, and presentation fonts and line widths")
    sized.triggered.connect(lambda: _ask_size_and_export(widget))
    for action in (png, slide, svg, sized, csv_action):
        menu.addAction(action)


def _default_file_name(widget: pg.PlotWidget, suffix: str) -> str:
    """The plot's title as a file name: "Query accuracy" -> "query-accuracy.png"."""
    title = widget.getPlotItem().titleLabel.text or "plot"
    return "".join(c if c.isalnum() else "-" for c in title).strip("-").lower() + suffix


def _ask_size_and_export(widget: pg.PlotWidget) -> None:
    from workbench.gui.widgets import sized_export

    chosen = sized_export.ask_sized_export(widget, sized_export.SizedExport())
    if chosen is None:
        return
    path, _ = QFileDialog.getSaveFileName(
        widget, "Export", _default_file_name(widget, ".png"), "PNG image (*.png);;SVG image (*.svg)"
    )
    if path:
        if not path.lower().endswith((".png", ".svg")):
            path += ".png"
        sized_export.export_plot_sized(widget, path, chosen)


def _ask_and_export(
    widget: pg.PlotWidget, filters: str, suffix: str, writer: Callable[[pg.PlotWidget, Path], Path]
) -> None:
    path, _ = QFileDialog.getSaveFileName(
        widget, "Export", _default_file_name(widget, suffix), filters
    )
    if path:
        if not path.endswith(suffix):
            path += suffix
        writer(widget, Path(path))


def export_png(widget: QWidget, path: Path, scale: float = 1.0) -> Path:
    """The plot as it looks on screen (curves, axes, legend), drawn ``scale`` times larger:
    lines and text are drawn again at that resolution, so a 3x export stays sharp on a
    slide rather than being an enlarged screenshot."""
    path = Path(path)
    if scale == 1.0:
        image = widget.grab().toImage()
    else:
        if not 0.25 <= scale <= 8:
            raise ValueError(f"scale must be between 0.25 and 8, got {scale}")
        image = paint_scaled(widget, scale)
    if not image.save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def paint_scaled(widget: QWidget, scale: float) -> QImage:
    """``widget`` painted ``scale`` times larger (drawn again, not enlarged).

    A pyqtgraph plot is drawn by its scene into the whole image: `QGraphicsView.render`
    stretches its source to the target on its own, so a painter that is scaled as well would
    scale twice (a 2x export showed a quarter of the plot). Other widgets (a plot with its
    legend) are painted through a scaled painter, their plots included.
    """
    size = widget.size()
    image = QImage(
        round(size.width() * scale), round(size.height() * scale), QImage.Format.Format_ARGB32
    )
    image.fill(widget.palette().color(widget.backgroundRole()))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if isinstance(widget, QGraphicsView):
        image.fill(widget.backgroundBrush().color())
        widget.render(
            painter, QRectF(0, 0, image.width(), image.height()), widget.viewport().rect()
        )
    else:
        painter.scale(scale, scale)
        widget.render(painter, QPoint(0, 0))
    painter.end()
    return image


def curve_rows(widget: pg.PlotWidget) -> list[tuple[str, float, float]]:
    """(curve name, x, y) for every point of every visible curve of the plot (the full data,
    not the downsampled view). A curve's name is its ``export_name`` attribute when it has one
    (the faint raw curve behind a smoothed one is not in the legend but is exported)."""
    rows: list[tuple[str, float, float]] = []
    for item in widget.getPlotItem().listDataItems():
        name = getattr(item, "export_name", None) or item.name()
        if not name or item.xData is None or not item.isVisible():
            continue
        for x, y in zip(item.xData.tolist(), item.yData.tolist()):
            rows.append((name, x, y))
    return rows


def export_csv(widget: pg.PlotWidget, path: Path) -> Path:
    """All named curves of the plot as a long table: curve, x, y (one row per point)."""
    path = Path(path)
    x_label = widget.getPlotItem().getAxis("bottom").labelText or "x"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["curve", x_label, widget.getPlotItem().getAxis("left").labelText or "y"])
        for name, x, y in curve_rows(widget):
            writer.writerow([name, repr(x), repr(y)])
    return path
