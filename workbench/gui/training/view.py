"""The Training view: live curves of the run being trained, or of several runs to compare.

Curves are created once per layout (a new run, a new set of overlaid runs) and updated with
``setData`` from a 10 Hz timer; the handler of the worker's signal only appends numbers to
buffers. So a trainer running hundreds of iterations per second cannot flood the event loop,
and a 100,000-point run stays smooth (pyqtgraph's peak downsampling and clip-to-view).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from time import perf_counter

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QByteArray, Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.engine import events as ev
from workbench.engine.progress import format_duration
from workbench.gui.context import GuiContext
from workbench.gui.theme import Theme
from workbench.gui.training.series import RunSeries
from workbench.gui.view import View
from workbench.gui.widgets.plots import SmoothedSeries, export_csv, export_png, make_plot

REDRAW_HZ = 10
#: the share of the GUI thread that redrawing may take: as curves grow to tens of thousands of
#: points a redraw costs more, and the redraw rate drops so the cost per second stays bounded
#: (the window, and the training thread waiting for Python's lock, keep their speed)
REDRAW_SHARE = 0.05
SLOWEST_REDRAW_MS = 1000
PLOTS = ("loss", "accuracy", "validation", "meta_lr")

# (group, key, legend name, colour index, dashed, smoothed, scale) for one run in detail
_DETAIL_CLASSIFICATION = {
    "loss": [
        ("it", "loss", "after adaptation", 0, False, True, 1.0),
        ("it", "pre_loss", "before adaptation", 1, True, True, 1.0),
    ],
    "accuracy": [
        ("it", "accuracy", "after adaptation", 0, False, True, 100.0),
        ("it", "pre_accuracy", "before adaptation", 1, True, True, 100.0),
    ],
    "validation": [
        ("val", "val_query_accuracy_post", "query, after", 0, False, False, 100.0),
        ("val", "val_query_accuracy_pre", "query, before", 0, True, False, 100.0),
        ("val", "val_support_accuracy_post", "support, after", 2, False, False, 100.0),
        ("val", "val_support_accuracy_pre", "support, before", 2, True, False, 100.0),
    ],
    "meta_lr": [("it", "meta_lr", "meta learning rate", 3, False, False, 1.0)],
}
_DETAIL_REGRESSION = {
    "loss": _DETAIL_CLASSIFICATION["loss"],
    "accuracy": [],
    "validation": [
        ("val", "val_query_loss_post", "query, after", 0, False, False, 1.0),
        ("val", "val_query_loss_pre", "query, before", 0, True, False, 1.0),
        ("val", "val_support_loss_post", "support, after", 2, False, False, 1.0),
        ("val", "val_support_loss_pre", "support, before", 2, True, False, 1.0),
    ],
    "meta_lr": _DETAIL_CLASSIFICATION["meta_lr"],
}
_TITLES = {
    False: {
        "loss": ("Meta-training loss (query)", "loss"),
        "accuracy": ("Meta-training accuracy (query)", "accuracy (%)"),
        "validation": ("Validation accuracy, before and after adaptation", "accuracy (%)"),
        "meta_lr": ("Meta learning rate", "learning rate"),
    },
    True: {
        "loss": ("Meta-training loss (query MSE)", "MSE"),
        "accuracy": ("Meta-training accuracy", "accuracy (%)"),
        "validation": ("Validation MSE, before and after adaptation", "MSE"),
        "meta_lr": ("Meta learning rate", "learning rate"),
    },
}


def nice_ceiling(value: float) -> float:
    """The next "round" number at or above ``value`` (…, 100, 125, 150, 200, 250, 300, 400, …),
    at most a third above it."""
    if not np.isfinite(value) or value <= 10:
        return 10.0
    scale = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if step * scale >= value:
            return float(step * scale)
    return float(10 * scale)


@dataclass
class _Curve:
    plot: str
    item: pg.PlotDataItem
    series: RunSeries
    group: str
    key: str
    scale: float
    smooth: SmoothedSeries | None = None
    raw_item: pg.PlotDataItem | None = None
    drawn: int = -1  # the series' version of this curve's group last drawn


class TrainingView(View):
    """Live plots of meta-training loss and accuracy, validation accuracy before and after
    adaptation (support and query) and the meta learning rate; or, with runs overlaid, one
    curve per run in each plot."""

    name = "training"
    title = "Training"
    shortcut = "Ctrl+1"
    tooltip = "Live curves of the run being trained, or of runs to compare (Ctrl+1)"

    def __init__(self, context: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.theme: Theme = context.theme
        self.live: RunSeries | None = None
        self.overlays: list[RunSeries] = []
        self._curves: list[_Curve] = []
        self._smoothing = float(context.settings.value("training/smoothing", 0.6))
        self._x_key = str(context.settings.value("training/x_axis", "iteration"))
        self._dirty = True
        self._loading = ""
        self._lr_top = 0.0
        self._signature: list = []  # what the current curves show (see _build_curves)
        self._x_top: dict[str, float | None] = dict.fromkeys(PLOTS)
        self._y_range: dict[str, tuple[float, float] | None] = dict.fromkeys(PLOTS)
        self._managed: dict[str, bool] = dict.fromkeys(PLOTS, True)

        # -- header: what is shown, the latest numbers, and the plot controls --------------------
        self.title_label = QLabel()
        self.title_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        self.stats_label = QLabel()
        self.stats_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        # new numbers at every redraw must not re-lay out the view (that would repaint plots)
        self.stats_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.x_axis = QComboBox()
        self.x_axis.addItem("Iteration", "iteration")
        self.x_axis.addItem("Training time", "elapsed")
        self.x_axis.setCurrentIndex(max(0, self.x_axis.findData(self._x_key)))
        self.x_axis.setToolTip(
            "Horizontal axis of all plots: meta-iterations, or seconds of "
            "training (pauses and validation excluded)"
        )
        self.x_axis.currentIndexChanged.connect(
            lambda _i: self.set_x_axis(self.x_axis.currentData())
        )
        self.smoothing_slider = QSlider(Qt.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(int(round(self._smoothing * 100)))
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip(
            "Exponential moving average of the per-iteration curves (bias-corrected); the raw "
            "values stay visible as a faint curve behind"
        )
        # dragging recomputes every average of a long run: apply once the slider rests
        self._smoothing_timer = QTimer(self)
        self._smoothing_timer.setSingleShot(True)
        self._smoothing_timer.setInterval(120)
        self._smoothing_timer.timeout.connect(
            lambda: self.set_smoothing(self.smoothing_slider.value() / 100.0)
        )
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_slider)
        self.smoothing_value = QLabel()
        self.smoothing_value.setMinimumWidth(32)
        self.clear_button = QPushButton("Clear comparison")
        self.clear_button.setToolTip("Stop overlaying runs and show the current run in detail")
        self.clear_button.clicked.connect(self.clear_overlays)
        self.clear_button.hide()

        controls = QHBoxLayout()
        controls.addWidget(self.clear_button)
        controls.addStretch(1)
        x_label = QLabel("X axis")
        controls.addWidget(x_label)
        controls.addWidget(self.x_axis)
        controls.addSpacing(16)
        smoothing_label = QLabel("Smoothing")
        smoothing_label.setToolTip(self.smoothing_slider.toolTip())
        controls.addWidget(smoothing_label)
        controls.addWidget(self.smoothing_slider)
        controls.addWidget(self.smoothing_value)

        header = QVBoxLayout()
        header.setSpacing(2)
        top = QHBoxLayout()
        top.addWidget(self.title_label, 1)
        top.addLayout(controls)
        header.addLayout(top)
        header.addWidget(self.stats_label)

        # -- the four plots ---------------------------------------------------------------------
        self.plots: dict[str, pg.PlotWidget] = {
            key: make_plot("", "", legend=False) for key in PLOTS
        }
        # legends sit under their plot (a legend inside a plot always covers some curve)
        self.legends: dict[str, QLabel] = {}
        self.panels: dict[str, QWidget] = {}
        self._legend_entries: dict[str, list[tuple[str, int, bool, bool]]] = {}
        for key, plot in self.plots.items():
            plot.getPlotItem().getViewBox().sigRangeChangedManually.connect(
                lambda *_a, k=key: self._user_moved(k)
            )
            legend = QLabel()
            legend.setWordWrap(True)
            legend.setTextFormat(Qt.RichText)
            legend.setContentsMargins(6, 0, 6, 2)
            panel = QWidget()
            panel.setObjectName("plotPanel")
            box = QVBoxLayout(panel)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(0)
            box.addWidget(plot, 1)
            box.addWidget(legend)
            self.legends[key], self.panels[key] = legend, panel
            self._legend_entries[key] = []
        self._grid_widget = QWidget()
        self._grid = QGridLayout(self._grid_widget)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(6)

        # -- the run's log (validations, checkpoints, end) ---------------------------------------
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText(
            "Validation results, checkpoints and the end of the run are listed here."
        )
        self.log.setToolTip("What happened in the run, besides the curves")

        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.setObjectName("trainingSplitter")
        self.splitter.addWidget(self._grid_widget)
        self.splitter.addWidget(self.log)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([640, 110])
        state = context.settings.value("training/splitter")
        if isinstance(state, (QByteArray, bytes)):
            self.splitter.restoreState(QByteArray(state))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(1000 // REDRAW_HZ)
        self._timer.timeout.connect(self.redraw)
        self._timer.start()

        self._layout_plots(regression=False)
        self._build_curves()
        self._update_smoothing_label()
        self.apply_theme(self.theme)

    # -- public API ------------------------------------------------------------------------------
    def begin_run(
        self,
        name: str,
        path: str = "",
        regression: bool | None = None,
        records: list[dict] | None = None,
    ) -> None:
        """Show a new live run in detail (overlays are cleared); ``records`` preload the curves
        of a resumed run."""
        self.live = RunSeries(name, path)
        self.live.regression = regression
        if records:
            self.live.add_records(records)
        self.overlays = []
        self._loading = ""
        self.log.clear()
        self._rebuild()

    def name_run(self, name: str, path: str, records: list[dict] | None = None) -> None:
        """Name the live run once its folder exists (begin_run was called at Start, so the
        plots were built while the data loaded, not while training runs); ``records``
        preload the curves of a resumed run."""
        if self.live is None:
            self.begin_run(name, path, records=records)
            return
        self.live.name, self.live.path = name, path
        if records:
            self.live.add_records(records)
        self._dirty = True

    def discard_run(self) -> None:
        """Forget a run that never started (its data could not be loaded)."""
        self.live = None
        self._loading = ""
        self._rebuild()

    def load_run(self, path: str | Path) -> list[str]:
        """Show a saved run's curves in detail; returns the problems met reading its log."""
        series, problems = RunSeries.from_run(path)
        self.live = series
        self.overlays = []
        self._loading = ""
        self.log.clear()
        for p in problems:
            self.log.appendPlainText(f"Warning: {p}")
        self._rebuild()
        return problems

    def set_overlay_runs(self, paths: list[str]) -> list[str]:
        """Overlay the curves of these run folders, one colour per run (the live run, if one is
        training, stays as the first). Returns the problems met reading their logs."""
        problems: list[str] = []
        self.overlays = []
        for path in paths:
            if self.live is not None and Path(path) == Path(self.live.path or "\0"):
                continue
            series, found = RunSeries.from_run(path)
            problems += [f"{series.name}: {p}" for p in found]
            self.overlays.append(series)
        for p in problems:
            self.log.appendPlainText(f"Warning: {p}")
        self._rebuild()
        return problems

    @Slot()
    def clear_overlays(self) -> None:
        self.overlays = []
        self._rebuild()

    def set_loading(self, text: str) -> None:
        """A line in the header while the data of a new run is loaded."""
        self._loading = text
        self._dirty = True

    @Slot(object)
    def add_event(self, event: ev.TrainerEvent) -> None:
        """Called for every trainer event: only stores numbers (and logs the rare events)."""
        if self.live is None:
            self.live = RunSeries("current run")
            self._rebuild()
        if self.live.add_event(event):
            self._dirty = True
            if event.kind == ev.EVALUATION:
                self._log(_evaluation_text(event))
            return
        if event.kind == ev.STARTED:
            self._log(f"Started: {event.message}")
        elif event.kind == ev.CHECKPOINT:
            self._log(f"Checkpoint saved at iteration {event.iteration}")
        elif event.kind in (ev.FINISHED, ev.STOPPED):
            self._log(
                f"{event.kind.capitalize()} after {event.iteration} iterations "
                f"({format_duration(event.elapsed)} of training)"
            )
        elif event.kind == ev.FAILED:
            self._log(f"Failed: {event.message}")
        self._dirty = True

    def set_smoothing(self, smoothing: float) -> None:
        self._smoothing = min(0.99, max(0.0, float(smoothing)))
        self.context.settings.setValue("training/smoothing", self._smoothing)
        if self.smoothing_slider.value() != int(round(self._smoothing * 100)):
            self.smoothing_slider.blockSignals(True)
            self.smoothing_slider.setValue(int(round(self._smoothing * 100)))
            self.smoothing_slider.blockSignals(False)
        for curve in self._curves:
            if curve.smooth is not None:
                curve.smooth.set_smoothing(self._smoothing)
            curve.drawn = -1
        self._update_smoothing_label()
        self.redraw(force=True)

    def set_x_axis(self, key: str) -> None:
        """``iteration`` or ``elapsed`` (seconds of training) for all plots."""
        self._x_key = "elapsed" if key == "elapsed" else "iteration"
        self.context.settings.setValue("training/x_axis", self._x_key)
        index = self.x_axis.findData(self._x_key)
        if self.x_axis.currentIndex() != index:
            self.x_axis.setCurrentIndex(index)
        label = "training time (s)" if self._x_key == "elapsed" else "iteration"
        for plot in self.plots.values():
            plot.getPlotItem().setLabel("bottom", label)
        for curve in self._curves:
            curve.drawn = -1
        self.redraw(force=True)

    def export_csv(self, plot: str, path: str | Path) -> Path:
        self.redraw(force=True)  # everything received, even while the view was hidden
        return export_csv(self.plots[plot], Path(path))

    def export_png(self, plot: str, path: str | Path) -> Path:
        """The plot with its legend, as on screen."""
        self.redraw(force=True)
        return export_png(self.panels[plot], Path(path))

    def legend_names(self, plot: str) -> list[str]:
        return [name for name, *_rest in self._legend_entries[plot]]

    def curve_points(self, plot: str = "loss") -> int:
        """Points drawn by the first curve of a plot (what tests and the screenshot check)."""
        for curve in self._curves:
            if curve.item in self.plots[plot].getPlotItem().listDataItems():
                return 0 if curve.item.xData is None else len(curve.item.xData)
        return 0

    def save_state(self) -> None:
        self.context.settings.setValue("training/splitter", self.splitter.saveState())

    def apply_theme(self, theme: Theme) -> None:
        from workbench.gui.theme import style_plot

        self.theme = theme
        for key, plot in self.plots.items():
            style_plot(plot, theme)
            self.panels[key].setStyleSheet(
                f"QWidget#plotPanel {{ background: {theme.background}; }}"
            )
            self.legends[key].setStyleSheet(f"QLabel {{ color: {theme.foreground}; }}")
        self.stats_label.setStyleSheet(f"color: {theme.muted};" if not theme.presentation else "")
        metrics = self.smoothing_value.fontMetrics()
        self.smoothing_value.setMinimumWidth(metrics.horizontalAdvance("0.00") + 6)
        self._rebuild(restyle=True)

    # -- layout and curves -----------------------------------------------------------------------
    def _runs(self) -> list[RunSeries]:
        return ([self.live] if self.live is not None else []) + self.overlays

    def _comparing(self) -> bool:
        return bool(self.overlays)

    def _regression(self) -> bool:
        flags = [r.regression for r in self._runs() if r.regression is not None]
        return bool(flags) and all(flags)

    def _rebuild(self, restyle: bool = False) -> None:
        regression = self._regression()
        self._layout_plots(regression)
        self._build_curves(restyle)
        self.clear_button.setVisible(self._comparing())
        self.redraw(force=True)

    def _layout_plots(self, regression: bool) -> None:
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
        titles = _TITLES[regression]
        for key, (title, y_label) in titles.items():
            if self._comparing() and key == "validation":
                title = (
                    "Validation MSE after adaptation (query)"
                    if regression
                    else "Validation accuracy after adaptation (query)"
                )
            item = self.plots[key].getPlotItem()
            item.setTitle(
                title, color=self.theme.foreground, size=f"{self.theme.font_point_size + 1}pt"
            )
            item.setLabel("left", y_label)
            item.setLabel(
                "bottom", "training time (s)" if self._x_key == "elapsed" else "iteration"
            )

    def _wanted_curves(self) -> list[tuple[str, RunSeries, tuple, bool]]:
        """(plot, run, spec, in legend) of every curve the current runs and mode need."""
        wanted: list[tuple[str, RunSeries, tuple, bool]] = []
        regression = self._regression()
        if self._comparing():
            val_key = "val_query_loss_post" if regression else "val_query_accuracy_post"
            val_scale = 1.0 if regression else 100.0
            for index, run in enumerate(self._runs()):
                label = run.name
                wanted.append(("loss", run, ("it", "loss", label, index, False, True, 1.0), True))
                if not regression:
                    wanted.append(
                        (
                            "accuracy",
                            run,
                            ("it", "accuracy", label, index, False, True, 100.0),
                            False,
                        )
                    )
                wanted.append(
                    (
                        "validation",
                        run,
                        ("val", val_key, label, index, False, False, val_scale),
                        True,
                    )
                )
                wanted.append(
                    ("meta_lr", run, ("it", "meta_lr", label, index, False, False, 1.0), False)
                )
        elif self.live is not None:
            spec = _DETAIL_REGRESSION if regression else _DETAIL_CLASSIFICATION
            for plot, curves in spec.items():
                for c in curves:  # a single curve is named by the plot's title
                    wanted.append((plot, self.live, c, len(curves) > 1))
        return wanted

    def _build_curves(self, restyle: bool = False) -> None:
        """Create the curves for the current runs; when only the runs changed (a new run of
        the same kind), the existing curves are given the new data instead (cheaper, and
        the legends stay as they are)."""
        self._lr_top = 0.0
        self._x_top = dict.fromkeys(PLOTS, 10.0)  # where a new run's first points fall
        self._y_range = dict.fromkeys(PLOTS)
        self._managed = dict.fromkeys(PLOTS, True)
        for plot in self.plots.values():
            box = plot.getPlotItem().getViewBox()
            box.enableAutoRange(x=False, y=False)
            box.setXRange(0.0, 10.0, padding=0.02)
        wanted = self._wanted_curves()
        signature = [(plot, spec, legend) for plot, _run, spec, legend in wanted]
        if not restyle and signature == self._signature and len(wanted) == len(self._curves):
            for curve, (_plot, run, spec, _legend) in zip(self._curves, wanted):
                curve.series = run
                curve.smooth = (
                    SmoothedSeries(run.group(spec[0])[spec[1]], self._smoothing)
                    if curve.smooth is not None
                    else None
                )
                curve.drawn = -1
                for item in (curve.item, curve.raw_item):
                    if item is not None:
                        item.setData([], [])
            return
        for plot in self.plots.values():
            plot.getPlotItem().clear()
        for entries in self._legend_entries.values():
            entries.clear()
        self._curves = []
        for plot, run, spec, legend in wanted:
            self._add_curve(plot, run, spec, legend)
        self._signature = signature
        self._render_legends()

    def _render_legends(self) -> None:
        """Each legend as a line of coloured samples and names (wraps when long)."""
        theme = self.theme
        for key, entries in self._legend_entries.items():
            parts = []
            for name, color, dashed, marker in entries:
                sample = "╍╍" if dashed else "━━"
                if marker:
                    sample = sample[0] + ("○" if dashed else "●") + sample[1]
                parts.append(
                    f'<span style="color:{theme.color(color)}; font-weight:bold">'
                    f"{sample}</span>&nbsp;{escape(name)}"
                )
            self.legends[key].setText("&nbsp;&nbsp;&nbsp; ".join(parts))
            self.legends[key].setVisible(bool(parts))

    def _add_curve(self, plot: str, run: RunSeries, spec: tuple, in_legend: bool) -> None:
        group, key, name, color, dashed, smoothed, scale = spec
        theme = self.theme
        item_plot = self.plots[plot].getPlotItem()
        export_name = f"{name}: {key}" if self._comparing() else name
        raw_item = None
        smooth = None
        if smoothed:
            raw_item = pg.PlotDataItem(pen=theme.pen(color, width=1.0, alpha=60), connect="finite")
            raw_item.export_name = f"{export_name} (raw)"
            item_plot.addItem(raw_item)
            smooth = SmoothedSeries(run.group(group)[key], self._smoothing)
        pen = theme.pen(color)
        if dashed:
            pen.setStyle(Qt.DashLine)
        kwargs = {}
        if group == "val":
            size = 9 if theme.presentation else 6
            kwargs = dict(
                symbol="o",
                symbolSize=size,
                symbolPen=pen,
                symbolBrush=pg.mkBrush(theme.background if dashed else theme.color(color)),
            )
        item = pg.PlotDataItem(pen=pen, name=name, connect="finite", **kwargs)
        if in_legend:
            self._legend_entries[plot].append((name, color, dashed, group == "val"))
        item.export_name = export_name
        item_plot.addItem(item)
        self._curves.append(_Curve(plot, item, run, group, key, scale, smooth, raw_item))

    # -- drawing ---------------------------------------------------------------------------------
    @Slot()
    def redraw(self, force: bool = False) -> None:
        """Push new points to the curves (the timer calls this at REDRAW_HZ, less often once
        a redraw gets costly: see `REDRAW_SHARE`)."""
        if not force and (not self._dirty or not self.isVisible()):
            return  # nothing new, or nobody looking: the points wait in the buffers
        started = perf_counter()
        self._draw_curves(force)
        cost_ms = 1000 * (perf_counter() - started)
        interval = int(min(SLOWEST_REDRAW_MS, max(1000 // REDRAW_HZ, cost_ms / REDRAW_SHARE)))
        if interval != self._timer.interval():
            self._timer.setInterval(interval)

    def _draw_curves(self, force: bool) -> None:
        self._dirty = False
        changed: set[str] = set()
        if force:
            self._x_top = dict.fromkeys(PLOTS)
            self._y_range = dict.fromkeys(PLOTS)
        for curve in self._curves:
            version = curve.series.versions[curve.group]
            if curve.drawn == version and not force:
                continue
            curve.drawn = version
            changed.add(curve.plot)
            group = curve.series.group(curve.group)
            x = group[self._x_key].view()
            raw = group[curve.key].view()
            if curve.smooth is not None:
                smooth_visible = self._smoothing > 0
                curve.item.setData(x, curve.smooth.view() * curve.scale)
                curve.raw_item.setVisible(smooth_visible)
                if smooth_visible:
                    curve.raw_item.setData(x, raw * curve.scale)
            else:
                curve.item.setData(x, raw * curve.scale)
        self._fit_ranges(changed, force)
        self._fit_meta_lr()
        self._update_header()

    def _fit_ranges(self, plots: set[str], force: bool = False) -> None:
        """Set the ranges ourselves, in steps, instead of pyqtgraph's auto range at every new
        point: a changed range repaints the whole plot with its axes, the costliest part of
        drawing. The x range grows to round numbers; the y range gets a margin and changes
        only when the data leave it (or fill less than half of it). At most one plot changes
        its ranges per redraw (the others follow at the next ticks), so the event loop is
        never held for four whole repaints at once. All plots share one x range (the run's
        timeline). Zooming or panning a plot hands its ranges to the user until they press
        its "A" (auto range) button."""
        tops = [
            c.series.group(c.group)[self._x_key].view()[-1]
            for c in self._curves
            if c.series.group(c.group)[self._x_key].size
        ]
        top = nice_ceiling(float(max(tops))) if tops else None
        candidates = set(plots) | {k for k in PLOTS if top is not None and self._x_top[k] != top}
        budget = len(PLOTS) if force else 1
        for key in PLOTS:
            if key not in candidates or not self.panels[key].isVisible() and not force:
                continue
            box = self.plots[key].getPlotItem().getViewBox()
            if any(box.state["autoRange"]):  # "A" pressed: ours again
                box.enableAutoRange(x=False, y=False)
                self._managed[key] = True
                self._x_top[key] = self._y_range[key] = None
                if key == "meta_lr":
                    self._lr_top = 0.0
            if not self._managed[key]:
                continue
            new_x = top if top is not None and top != self._x_top[key] else None
            new_y = None if key == "meta_lr" else self._wanted_y(key)  # meta_lr: _fit_meta_lr
            if new_x is None and new_y is None:
                continue
            if budget == 0:
                self._dirty = True  # this plot's turn comes at the next tick
                continue
            budget -= 1
            if new_x is not None:
                self._x_top[key] = new_x
                box.setXRange(0.0, new_x, padding=0.02)
            if new_y is not None:
                self._y_range[key] = new_y
                box.setYRange(*new_y, padding=0)

    def _wanted_y(self, key: str) -> tuple[float, float] | None:
        """A new y range for the plot, or None while its data still fit the current one."""
        lows, highs = [], []
        for curve in self._curves:
            if curve.plot != key:
                continue
            for item in (curve.item, curve.raw_item):
                if item is None or not item.isVisible() or item.yData is None:
                    continue
                finite = item.yData[np.isfinite(item.yData)]
                if finite.size:
                    lows.append(float(finite.min()))
                    highs.append(float(finite.max()))
        if not lows:
            return None
        lo, hi = min(lows), max(highs)
        current = self._y_range[key]
        if current is not None:
            width = current[1] - current[0]
            inner = (current[0] + 0.03 * width, current[1] - 0.03 * width)  # markers fit
            if inner[0] <= lo and hi <= inner[1] and (hi - lo) >= 0.5 * width:
                return None
        span = max(hi - lo, abs(hi) * 0.05, 1e-9)
        return (lo - 0.1 * span, hi + 0.1 * span)

    def _user_moved(self, key: str) -> None:
        self._managed[key] = False

    def _fit_meta_lr(self) -> None:
        """From zero to just above the largest rate: a constant rate is a flat line near the
        top instead of a line in the middle of a ±400 axis."""
        highest = 0.0
        for curve in self._curves:
            if curve.key == "meta_lr" and curve.series.it["meta_lr"].size:
                values = curve.series.it["meta_lr"].view()
                finite = values[np.isfinite(values)]
                if finite.size:
                    highest = max(highest, float(finite.max()))
        if highest > 0 and highest != self._lr_top:  # only when it changes: zooming stays free
            self._lr_top = highest
            plot = self.plots["meta_lr"].getPlotItem()
            plot.setYRange(0.0, highest * 1.15, padding=0)

    def _update_header(self) -> None:
        if self._comparing():
            names = ", ".join(r.name for r in self._runs())
            self.title_label.setText(f"Comparing {len(self._runs())} runs")
            self.title_label.setToolTip(names)
            self.stats_label.setText(
                "Smoothing and the x axis apply to all runs. "
                "Right-click a plot to export it (PNG, CSV)."
            )
            return
        run = self.live
        if run is None:
            self.title_label.setText("No run yet")
            self.stats_label.setText(
                self._loading
                or "Choose a preset in the Experiment panel "
                "and press Start (Ctrl+Return), or open a run folder."
            )
            return
        self.title_label.setText(run.name)
        self.title_label.setToolTip(run.path)
        if self._loading:
            self.stats_label.setText(self._loading)
            return
        self.stats_label.setText(_stats_text(run))

    def _on_smoothing_slider(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        self._smoothing_timer.start()

    def _update_smoothing_label(self) -> None:
        self.smoothing_value.setText(f"{self._smoothing:.2f}")

    def _log(self, text: str) -> None:
        self.log.appendPlainText(text)


def _percent(value: float | None) -> str:
    return "–" if value is None or value != value else f"{100 * value:.1f}%"


def _stats_text(run: RunSeries) -> str:
    """The header line: iteration, latest loss and accuracy, latest validation result."""
    parts = [
        f"Iteration {run.iteration:,} / {run.total:,}"
        if run.total
        else f"Iteration {run.iteration:,}"
    ]
    last = run.last
    if "loss" in last:
        parts.append(f"loss {last['loss']:.3f}")
    if "accuracy" in last:
        parts.append(f"accuracy {_percent(last['accuracy'])}")
    v = run.last_val
    if "val_query_accuracy_post" in v:
        parts.append(
            f"validation {_percent(v['val_query_accuracy_post'])} ± {_percent(v.get('val_ci95'))}"
            f" (before: {_percent(v.get('val_query_accuracy_pre'))})"
        )
    elif "val_query_loss_post" in v:
        parts.append(
            f"validation MSE {v['val_query_loss_post']:.3f} "
            f"(before: {v.get('val_query_loss_pre', float('nan')):.3f})"
        )
    return "   ·   ".join(parts)


def _evaluation_text(event: ev.TrainerEvent) -> str:
    v = event.values
    if "val_query_accuracy_post" in v:
        return (
            f"Validation @ {event.iteration}: query accuracy "
            f"{_percent(v['val_query_accuracy_pre'])} before → "
            f"{_percent(v['val_query_accuracy_post'])} ± {_percent(v.get('val_ci95'))} after "
            f"adaptation (support {_percent(v.get('val_support_accuracy_pre'))} → "
            f"{_percent(v.get('val_support_accuracy_post'))})"
        )
    return (
        f"Validation @ {event.iteration}: query MSE "
        f"{v.get('val_query_loss_pre', float('nan')):.4f} before → "
        f"{v.get('val_query_loss_post', float('nan')):.4f} after adaptation"
    )
