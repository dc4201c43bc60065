"""A plot as SVG for slides and papers: one path per curve, real text, no screenshot inside.

Qt's `QSvgGenerator` writes a pyqtgraph plot as paths in data coordinates under a matrix with
"non-scaling" cosmetic strokes, which other renderers draw as filled blobs, and pyqtgraph's own
SVG exporter cannot parse the path syntax of Qt 6. This writer asks the plot where everything is
on screen (curves and their symbols, error bars, marker lines, axes, tick labels as the axis kept
them, title, axis labels, legend) and writes each in the widget's pixel coordinates: what an
editor opens is the figure as shown, with each curve one object to restyle.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRectF
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QWidget

from workbench.durable import atomic_write_text


def _colour(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)


def _stroke(pen: QPen) -> str:
    width = max(pen.widthF(), 1.0)
    dash = ""
    if pen.style() != pg.QtCore.Qt.PenStyle.SolidLine:
        pattern = [max(v * width, 1.0) for v in pen.dashPattern()] or [4 * width, 3 * width]
        dash = f' stroke-dasharray="{",".join(f"{v:.1f}" for v in pattern)}"'
    alpha = pen.color().alphaF()
    opacity = f' stroke-opacity="{alpha:.3f}"' if alpha < 1 else ""
    return f'stroke="{_colour(pen.color())}" stroke-width="{width:.2f}"{opacity}{dash}'


def _path(points: Iterable[QPointF]) -> str:
    """A polyline's ``d``, broken where a point is not finite (a gap in the data)."""
    parts, move = [], True
    for p in points:
        if not (math.isfinite(p.x()) and math.isfinite(p.y())):
            move = True
            continue
        parts.append(f"{'M' if move else 'L'}{p.x():.2f},{p.y():.2f}")
        move = False
    return " ".join(parts)


def _text(x: float, y: float, text: str, size: float, colour: str, anchor: str, **extra) -> str:
    more = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:.1f}" fill="{colour}" '
        f'text-anchor="{anchor}" font-family="sans-serif"{more}>{html.escape(text)}</text>'
    )


class _Writer:
    def __init__(self, widget: pg.PlotWidget) -> None:
        self.widget = widget
        self.plot = widget.getPlotItem()
        self.view = self.plot.getViewBox()
        self.out: list[str] = []
        font = self.plot.getAxis("left").style["tickFont"]
        #: text size in pixels, from the axes' font (presentation mode draws larger)
        self.font_px = (font.pointSizeF() if font else 9.0) * 1.33

    def to_widget(self, item: pg.GraphicsObject, points: Iterable[QPointF]) -> list[QPointF]:
        """Item coordinates -> widget pixels."""
        view = self.widget
        return [QPointF(view.mapFromScene(item.mapToScene(p))) for p in points]

    def rect(self, item: pg.GraphicsObject, rect: QRectF) -> QRectF:
        return QRectF(self.widget.mapFromScene(item.mapRectToScene(rect)).boundingRect())

    def curves(self) -> None:
        box = self.rect(self.view, self.view.boundingRect())
        self.out.append(
            f'<clipPath id="view"><rect x="{box.x():.1f}" y="{box.y():.1f}" '
            f'width="{box.width():.1f}" height="{box.height():.1f}"/></clipPath>'
        )
        self.out.append('<g clip-path="url(#view)" fill="none" stroke-linejoin="round">')
        for item in self.view.addedItems:
            if not item.isVisible():
                continue
            if isinstance(item, pg.PlotDataItem):
                self.data_item(item)
            elif isinstance(item, pg.ErrorBarItem):
                self.error_bars(item)
            elif isinstance(item, pg.InfiniteLine):
                self.infinite_line(item)
            elif isinstance(item, pg.ScatterPlotItem):
                self.scatter(item)
        self.out.append("</g>")

    def data_item(self, item: pg.PlotDataItem) -> None:
        curve = item.curve
        x, y = curve.getData()
        if curve.isVisible() and x is not None and len(x) and curve.opts["pen"] is not None:
            pen = pg.mkPen(curve.opts["pen"])
            if pen.style() != pg.QtCore.Qt.PenStyle.NoPen:
                points = self.to_widget(curve, (QPointF(a, b) for a, b in zip(x, y, strict=True)))
                name = html.escape(item.name() or "curve")
                self.out.append(
                    f'<path class="curve" data-name="{name}" {_stroke(pen)} d="{_path(points)}"/>'
                )
        if item.scatter.isVisible():
            self.scatter(item.scatter)

    def scatter(self, scatter: pg.ScatterPlotItem) -> None:
        for spot in scatter.points():
            pos = self.to_widget(scatter, [spot.pos()])[0]
            brush, pen = spot.brush().color(), spot.pen()
            self.out.append(
                f'<circle cx="{pos.x():.2f}" cy="{pos.y():.2f}" r="{spot.size() / 2:.1f}" '
                f'fill="{_colour(brush)}" {_stroke(pen)}/>'
            )

    def error_bars(self, bars: pg.ErrorBarItem) -> None:
        if bars.path is None:  # pyqtgraph builds it at the first paint
            bars.drawPath()
        path = bars.path
        pen = pg.mkPen(bars.opts["pen"]) if bars.opts.get("pen") is not None else QPen()
        for polygon in path.toSubpathPolygons():
            points = self.to_widget(bars, polygon)
            self.out.append(f'<path class="error-bar" {_stroke(pen)} d="{_path(points)}"/>')

    def infinite_line(self, line: pg.InfiniteLine) -> None:
        box = self.view.viewRect()
        if line.angle == 90:
            ends = [QPointF(line.value(), box.top()), QPointF(line.value(), box.bottom())]
        else:
            ends = [QPointF(box.left(), line.value()), QPointF(box.right(), line.value())]
        points = [QPointF(self.widget.mapFromScene(self.view.mapViewToScene(p))) for p in ends]
        self.out.append(f'<path class="marker" {_stroke(line.pen)} d="{_path(points)}"/>')

    def axes(self) -> None:
        for name in ("left", "bottom"):
            axis = self.plot.getAxis(name)
            if not axis.isVisible():
                continue
            colour = _colour(axis.textPen().color())
            line = axis.mapRectFromParent(axis.geometry())
            edge = (
                [QPointF(line.right(), line.top()), QPointF(line.right(), line.bottom())]
                if name == "left"
                else [QPointF(line.left(), line.top()), QPointF(line.right(), line.top())]
            )
            pen = axis.pen()
            points = self.to_widget(axis, edge)
            self.out.append(f'<path class="axis" {_stroke(pen)} fill="none" d="{_path(points)}"/>')
            size = axis.style["tickFont"].pointSizeF() if axis.style["tickFont"] else 9.0
            view = self.rect(self.view, self.view.boundingRect())
            for rect, text in zip(
                getattr(axis, "text_rects", []), getattr(axis, "text_strings", []), strict=True
            ):
                r = self.rect(axis, rect)
                if axis.grid:  # a light line across the plot at each labelled tick
                    c = r.center()
                    d = (
                        f"M{view.left():.1f},{c.y():.1f} L{view.right():.1f},{c.y():.1f}"
                        if name == "left"
                        else f"M{c.x():.1f},{view.top():.1f} L{c.x():.1f},{view.bottom():.1f}"
                    )
                    alpha = axis.grid / 255 if axis.grid is not True else 0.3
                    self.out.append(
                        f'<path class="grid" stroke="{colour}" stroke-opacity="{alpha:.2f}" '
                        f'stroke-width="1" d="{d}"/>'
                    )
                anchor, x = ("end", r.right()) if name == "left" else ("middle", r.center().x())
                self.out.append(
                    _text(x, r.center().y() + size * 0.45, text, size * 1.33, colour, anchor)
                )
            label = axis.labelText
            if label and axis.label.isVisible():
                r = self.rect(axis.label, axis.label.boundingRect())
                c = r.center()
                extra = (
                    {"transform": f"rotate(-90 {c.x():.1f} {c.y():.1f})"} if name == "left" else {}
                )
                self.out.append(
                    _text(c.x(), c.y() + 4, label, self.font_px, colour, "middle", **extra)
                )

    def title_and_legend(self) -> None:
        title = self.plot.titleLabel
        if title.text:
            r = self.rect(title, title.boundingRect())
            colour = _colour(title.item.defaultTextColor())
            plain = title.item.toPlainText()
            self.out.append(
                _text(r.center().x(), r.center().y() + 5, plain, self.font_px + 2, colour, "middle")
            )
        legend = self.plot.legend
        if legend is None or not legend.isVisible():
            return
        for sample, label in legend.items:
            if not sample.isVisible():
                continue
            r = self.rect(sample, sample.boundingRect())
            opts = sample.item.opts if hasattr(sample.item, "opts") else {}
            pen = pg.mkPen(opts.get("pen")) if opts.get("pen") is not None else QPen()
            y = r.center().y()
            self.out.append(
                f'<path class="legend" {_stroke(pen)} d="M{r.left() + 2:.1f},{y:.1f} '
                f'L{r.right() - 2:.1f},{y:.1f}"/>'
            )
            colour = _colour(label.item.defaultTextColor())
            lr = self.rect(label, label.boundingRect())
            self.out.append(
                _text(
                    lr.left() + 2,
                    lr.center().y() + 4,
                    label.item.toPlainText(),
                    self.font_px,
                    colour,
                    "start",
                )
            )


def plot_svg(widget: pg.PlotWidget) -> str:
    """The SVG text of ``widget`` as it is laid out on screen."""
    w, h = widget.width(), widget.height()
    background = widget.backgroundBrush().color()
    # paint, let the layout apply what painting asked for (an axis that needs more room for its
    # labels), and paint again: the view applies its range and the axes place their labels
    widget.grab()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    widget.grab()
    writer = _Writer(widget)
    writer.view.updateMatrix()
    writer.curves()
    writer.axes()
    writer.title_and_legend()
    title = html.escape(writer.plot.titleLabel.item.toPlainText() or "plot")
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}">',
            f"<title>{title}</title>",
            "<desc>Exported from Meta-Learning Workbench</desc>",
            f'<rect width="{w}" height="{h}" fill="{_colour(background)}"/>',
            *writer.out,
            "</svg>",
        ]
    )


def export_svg(widget: QWidget, path: str | Path) -> Path:
    """Write `plot_svg` of ``widget`` to ``path`` (whole, or not at all)."""
    if not isinstance(widget, pg.PlotWidget):
        raise TypeError("only plots export as SVG")
    path = Path(path)
    atomic_write_text(path, plot_svg(widget))
    return path


__all__ = ["export_svg", "plot_svg"]
