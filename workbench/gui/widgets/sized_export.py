"""Figures at the size a slide wants: a plot or an image grid drawn for a chosen size in pixels
and scale, a plot with the presentation mode's fonts and line widths when asked.

A plot is laid out at (width / scale, height / scale) and painted ``scale`` times larger, so its
text and lines are drawn again at that resolution (a 2x PNG is sharp, not an enlarged
screenshot); the view goes back to its own size and style afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt
from PySide6.QtGui import QImage, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from workbench.gui.theme import Theme, current_theme, get_theme, style_plot
from workbench.gui.widgets.plot_svg import export_svg
from workbench.gui.widgets.plots import paint_scaled


@dataclass(frozen=True)
class SizedExport:
    """The size of the picture in pixels, how many pixels per screen pixel (larger: finer
    lines and text), and whether a plot takes the presentation mode's fonts and lines."""

    width: int = 1600
    height: int = 900
    scale: float = 2.0
    presentation: bool = True

    @property
    def layout_size(self) -> QSize:
        return QSize(round(self.width / self.scale), round(self.height / self.scale))


class SizedExportDialog(QDialog):
    """Width, height (plots only), scale and presentation style (plots only)."""

    def __init__(self, parent: QWidget | None, defaults: SizedExport, *, plot: bool) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export at a size")
        self.width_spin = QSpinBox()
        self.width_spin.setRange(200, 7680)
        self.width_spin.setSingleStep(80)
        self.width_spin.setSuffix(" px")
        self.width_spin.setValue(defaults.width)
        self.height_spin = QSpinBox()
        self.height_spin.setRange(150, 4320)
        self.height_spin.setSingleStep(60)
        self.height_spin.setSuffix(" px")
        self.height_spin.setValue(defaults.height)
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setRange(0.5, 4.0)
        self.scale_spin.setSingleStep(0.5)
        self.scale_spin.setSuffix(" ×")
        self.scale_spin.setValue(defaults.scale)
        self.scale_spin.setToolTip(
            "Pixels per screen pixel: 2× draws text and lines twice as finely (sharp on a "
            "projector), and fits half as much text across the picture"
        )
        self.presentation = QCheckBox("Presentation fonts and line widths")
        self.presentation.setChecked(defaults.presentation)
        self.presentation.setToolTip("Larger text and thicker curves, as in presentation mode")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Width", self.width_spin)
        if plot:
            form.addRow("Height", self.height_spin)
        form.addRow("Scale", self.scale_spin)
        if plot:
            form.addRow("", self.presentation)
        form.addRow(buttons)

    def settings(self) -> SizedExport:
        return SizedExport(
            self.width_spin.value(),
            self.height_spin.value(),
            self.scale_spin.value(),
            self.presentation.isChecked(),
        )


def ask_sized_export(
    parent: QWidget, defaults: SizedExport, *, plot: bool = True
) -> SizedExport | None:
    """The size the user chose, or None (a module function so tests can replace it)."""
    dialog = SizedExportDialog(parent, defaults, plot=plot)
    return dialog.settings() if dialog.exec() == QDialog.DialogCode.Accepted else None


@contextmanager
def presentation_style(widget: pg.PlotWidget, theme: Theme | None = None) -> Iterator[None]:
    """Within the block, ``widget`` has the presentation mode's fonts and line widths; after
    it, its own again. (Nothing changes when the window is in presentation mode already.)"""
    theme = theme or current_theme()
    if theme.presentation:
        yield
        return
    shown = get_theme(theme.name, presentation=True)
    factor = shown.line_width / theme.line_width
    saved: list[tuple[pg.PlotDataItem, QPen, float | None]] = []
    for item in widget.getPlotItem().listDataItems():
        pen = pg.mkPen(item.opts.get("pen"))
        saved.append((item, QPen(pen), item.opts.get("symbolSize")))
        wider = QPen(pen)
        wider.setWidthF(max(1.0, pen.widthF()) * factor)
        item.setPen(wider)
        if item.opts.get("symbol") is not None and item.opts.get("symbolSize"):
            item.setSymbolSize(item.opts["symbolSize"] * 1.5)
    style_plot(widget, replace(theme, presentation=True))
    try:
        yield
    finally:
        style_plot(widget, theme)
        for item, pen, symbol_size in saved:
            item.setPen(pen)
            if symbol_size is not None and item.opts.get("symbol") is not None:
                item.setSymbolSize(symbol_size)


@contextmanager
def laid_out_at(widget: QWidget, size: QSize) -> Iterator[None]:
    """Within the block, ``widget`` is laid out at ``size`` (then at its own size again)."""
    before = widget.size()
    widget.resize(size)
    widget.grab()  # paint once so the axes ask for the room their labels need, then apply it
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    try:
        yield
    finally:
        widget.resize(before)


def render_plot(widget: pg.PlotWidget, settings: SizedExport) -> QImage:
    """The plot drawn for ``settings``: width x height pixels."""
    with presentation_style(widget) if settings.presentation else nullcontext():
        with laid_out_at(widget, settings.layout_size):
            image = paint_scaled(widget, settings.scale)
    if image.size() != QSize(settings.width, settings.height):  # rounding of the layout size
        image = image.scaled(
            settings.width,
            settings.height,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    return image


def export_plot_sized(widget: pg.PlotWidget, path: str | Path, settings: SizedExport) -> Path:
    """``path`` as PNG (``settings`` size) or, for a ``.svg`` path, as SVG laid out at the
    width and height (vector: no scale)."""
    path = Path(path)
    if path.suffix.lower() == ".svg":
        with presentation_style(widget) if settings.presentation else nullcontext():
            with laid_out_at(widget, QSize(settings.width, settings.height)):
                return export_svg(widget, path)
    if not render_plot(widget, settings).save(str(path)):
        raise OSError(f"could not write {path}")
    return path


__all__ = [
    "SizedExport",
    "SizedExportDialog",
    "ask_sized_export",
    "export_plot_sized",
    "laid_out_at",
    "presentation_style",
    "render_plot",
]
