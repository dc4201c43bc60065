"""The Training view's four plots, their curves and legends.

Curves are created once per layout (a new run, a new set of overlaid runs) and later only given
new points with ``setData``; a redraw skips curves whose data did not change. pyqtgraph's peak
downsampling and clip-to-view keep a 100,000-point run smooth.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from workbench.engine.series import SmoothedSeries
from workbench.gui.theme import Theme, style_plot
from workbench.gui.training.curve_specs import PLOTS, CurveSpec, WantedCurve, plot_titles
from workbench.gui.training.ranges import PlotRanges
from workbench.gui.training.series import RunSeries
from workbench.gui.widgets.plots import make_plot

X_LABELS = {"iteration": "iteration", "elapsed": "training time (s)"}


@dataclass
class Curve:
    """One drawn metric of one run (with the faint raw values behind when smoothed)."""

    plot: str
    item: pg.PlotDataItem
    series: RunSeries
    group: str
    key: str
    scale: float
    smooth: SmoothedSeries | None = None
    raw_item: pg.PlotDataItem | None = None
    drawn: int = -1  # the series' version of this curve's group last drawn


class PlotGrid(QWidget):
    """Loss and accuracy on top, validation and meta learning rate below, each with its legend
    underneath (a legend inside a plot always covers some curve)."""

    def __init__(
        self, theme: Theme, x_key: str, smoothing: float, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.x_key = x_key
        self.smoothing = smoothing
        self.curves: list[Curve] = []
        self._signature: list[tuple[str, CurveSpec, bool]] = []  # what the curves show
        self.plots: dict[str, pg.PlotWidget] = {
            key: make_plot("", "", legend=False) for key in PLOTS
        }
        self.legends: dict[str, QLabel] = {}
        self.panels: dict[str, QWidget] = {}
        self._legend_entries: dict[str, list[tuple[str, int, bool, bool]]] = {}
        for key, plot in self.plots.items():
            self.legends[key] = legend = QLabel()
            legend.setWordWrap(True)
            legend.setTextFormat(Qt.RichText)
            legend.setContentsMargins(6, 0, 6, 2)
            self.panels[key] = panel = QWidget()
            panel.setObjectName("plotPanel")
            box = QVBoxLayout(panel)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(0)
            box.addWidget(plot, 1)
            box.addWidget(legend)
            self._legend_entries[key] = []
        self.ranges = PlotRanges(self.plots, self.panels)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(6)

    # -- layout and curves ------------------------------------------------------------------------
    def arrange(self, regression: bool, comparing: bool) -> None:
        """Two by two; without accuracy (regression) the loss plot takes the whole top row."""
        panels = self.panels
        for widget in panels.values():
            self._grid.removeWidget(widget)
        if regression:
            panels["accuracy"].hide()
            self._grid.addWidget(panels["loss"], 0, 0, 1, 2)
        else:
            panels["accuracy"].show()
            self._grid.addWidget(panels["loss"], 0, 0)
            self._grid.addWidget(panels["accuracy"], 0, 1)
        self._grid.addWidget(panels["validation"], 1, 0)
        self._grid.addWidget(panels["meta_lr"], 1, 1)
        for key, (title, y_label) in plot_titles(regression, comparing).items():
            item = self.plots[key].getPlotItem()
            item.setTitle(
                title, color=self.theme.foreground, size=f"{self.theme.font_point_size + 1}pt"
            )
            item.setLabel("left", y_label)
            item.setLabel("bottom", X_LABELS[self.x_key])

    def build(self, wanted: list[WantedCurve], comparing: bool, restyle: bool = False) -> None:
        """Create the curves; when only the runs changed (a new run of the same kind), the
        existing curves are given the new data instead (cheaper, and the legends stay)."""
        self.ranges.reset()
        signature = [(w.plot, w.spec, w.in_legend) for w in wanted]
        if not restyle and signature == self._signature and len(wanted) == len(self.curves):
            for curve, w in zip(self.curves, wanted):
                curve.series = w.run
                if curve.smooth is not None:
                    raw = w.run.group(w.spec.group)[w.spec.key]
                    curve.smooth = SmoothedSeries(raw, self.smoothing)
                curve.drawn = -1
                for item in (curve.item, curve.raw_item):
                    if item is not None:
                        item.setData([], [])
            return
        for plot in self.plots.values():
            plot.getPlotItem().clear()
        for entries in self._legend_entries.values():
            entries.clear()
        self.curves = [self._add_curve(w, comparing) for w in wanted]
        self._signature = signature
        self._render_legends()

    def _add_curve(self, wanted: WantedCurve, comparing: bool) -> Curve:
        plot, run, spec, in_legend = wanted
        theme = self.theme
        item_plot = self.plots[plot].getPlotItem()
        export_name = f"{spec.name}: {spec.key}" if comparing else spec.name
        raw_item = None
        smooth = None
        if spec.smoothed:
            raw_item = pg.PlotDataItem(
                pen=theme.pen(spec.color, width=1.0, alpha=60), connect="finite"
            )
            raw_item.export_name = f"{export_name} (raw)"
            item_plot.addItem(raw_item)
            smooth = SmoothedSeries(run.group(spec.group)[spec.key], self.smoothing)
        pen = theme.pen(spec.color)
        if spec.dashed:
            pen.setStyle(Qt.DashLine)
        markers: dict[str, Any] = {}
        if spec.group == "val":
            markers = dict(
                symbol="o",
                symbolSize=9 if theme.presentation else 6,
                symbolPen=pen,
                symbolBrush=pg.mkBrush(
                    theme.background if spec.dashed else theme.color(spec.color)
                ),
            )
        item = pg.PlotDataItem(pen=pen, name=spec.name, connect="finite", **markers)
        if in_legend:
            self._legend_entries[plot].append(
                (spec.name, spec.color, spec.dashed, spec.group == "val")
            )
        item.export_name = export_name
        item_plot.addItem(item)
        return Curve(plot, item, run, spec.group, spec.key, spec.scale, smooth, raw_item)

    def _render_legends(self) -> None:
        """Each legend as a line of coloured samples and names (wraps when long)."""
        for key, entries in self._legend_entries.items():
            parts = []
            for name, color, dashed, marker in entries:
                sample = "╍╍" if dashed else "━━"
                if marker:
                    sample = sample[0] + ("○" if dashed else "●") + sample[1]
                parts.append(
                    f'<span style="color:{self.theme.color(color)}; font-weight:bold">'
                    f"{sample}</span>&nbsp;{escape(name)}"
                )
            self.legends[key].setText("&nbsp;&nbsp;&nbsp; ".join(parts))
            self.legends[key].setVisible(bool(parts))

    # -- settings ---------------------------------------------------------------------------------
    def set_smoothing(self, smoothing: float) -> None:
        self.smoothing = smoothing
        for curve in self.curves:
            if curve.smooth is not None:
                curve.smooth.set_smoothing(smoothing)
            curve.drawn = -1

    def set_x_axis(self, x_key: str) -> None:
        self.x_key = x_key
        for plot in self.plots.values():
            plot.getPlotItem().setLabel("bottom", X_LABELS[x_key])
        for curve in self.curves:
            curve.drawn = -1

    def apply_theme(self, theme: Theme) -> None:
        """Restyle the plots and legends; the curves take the theme at the next `build`."""
        self.theme = theme
        for key, plot in self.plots.items():
            style_plot(plot, theme)
            self.panels[key].setStyleSheet(
                f"QWidget#plotPanel {{ background: {theme.background}; }}"
            )
            self.legends[key].setStyleSheet(f"QLabel {{ color: {theme.foreground}; }}")

    # -- drawing ----------------------------------------------------------------------------------
    def draw(self, force: bool = False) -> bool:
        """Give the curves their new points (all of them when ``force``) and fit the ranges;
        True when a plot's ranges wait for the next redraw."""
        changed: set[str] = set()
        if force:
            self.ranges.forget()
        for curve in self.curves:
            version = curve.series.versions[curve.group]
            if curve.drawn == version and not force:
                continue
            curve.drawn = version
            changed.add(curve.plot)
            group = curve.series.group(curve.group)
            x = group[self.x_key].view()
            raw = group[curve.key].view()
            if curve.smooth is not None and curve.raw_item is not None:
                smooth_visible = self.smoothing > 0
                curve.item.setData(x, curve.smooth.view() * curve.scale)
                curve.raw_item.setVisible(smooth_visible)
                if smooth_visible:
                    curve.raw_item.setData(x, raw * curve.scale)
            else:
                curve.item.setData(x, raw * curve.scale)
        return self.ranges.fit(self.curves, self.x_key, changed, force)

    def draw_until(self, limit: float) -> None:
        """Every curve only up to x <= ``limit``, on the ranges the plots have now: a frame of
        an animation in which the curves grow. The next `draw` gives back every point."""
        for curve in self.curves:
            group = curve.series.group(curve.group)
            x = group[self.x_key].view()
            n = int(np.searchsorted(x, limit, side="right"))
            raw = group[curve.key].view()[:n] * curve.scale
            if curve.smooth is not None and curve.raw_item is not None:
                curve.item.setData(x[:n], curve.smooth.view()[:n] * curve.scale)
                if curve.raw_item.isVisible():
                    curve.raw_item.setData(x[:n], raw)
            else:
                curve.item.setData(x[:n], raw)
            curve.drawn = -1

    def x_extent(self) -> tuple[float, float] | None:
        """The first and last x of all curves (None when nothing is drawn)."""
        ends = [
            (float(x[0]), float(x[-1]))
            for curve in self.curves
            if len(x := curve.series.group(curve.group)[self.x_key].view())
        ]
        if not ends:
            return None
        return min(a for a, _ in ends), max(b for _, b in ends)

    # -- what tests and exports read --------------------------------------------------------------
    def legend_names(self, plot: str) -> list[str]:
        return [name for name, *_rest in self._legend_entries[plot]]

    def curve_points(self, plot: str = "loss") -> int:
        """Points drawn by the first curve of a plot."""
        for curve in self.curves:
            if curve.item in self.plots[plot].getPlotItem().listDataItems():
                return 0 if curve.item.xData is None else len(curve.item.xData)
        return 0
