"""The Training view: live curves of the run being trained, or of several runs to compare.

The handler of the worker's signal only appends numbers to buffers (`RunSeries`); the curves
are brought up to date by a redraw timer (`RedrawScheduler`, 10 Hz, slower once drawing gets
costly). So a trainer running hundreds of iterations per second cannot flood the event loop.
The parts: `TrainingHeader` (title, numbers, controls), `PlotGrid` (plots, curves, legends,
with `PlotRanges`), and the run's log under the plots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from time import perf_counter

from PySide6.QtCore import QByteArray, Qt, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from workbench.engine import events as ev
from workbench.gui.context import GuiContext
from workbench.gui.theme import Theme
from workbench.gui.training.animation import render_growth_frame
from workbench.gui.training.curve_specs import is_regression, wanted_curves
from workbench.gui.training.header import TrainingHeader
from workbench.gui.training.plot_grid import PlotGrid
from workbench.gui.training.redraw import RedrawScheduler
from workbench.gui.training.series import RunSeries
from workbench.gui.training.texts import evaluation_text, log_text
from workbench.gui.view import View
from workbench.gui.widgets.animation import GifRecorder, export_animation
from workbench.gui.widgets.plots import export_csv, export_png


class TrainingView(View):
    """Live plots of meta-training loss and accuracy, validation accuracy before and after
    adaptation (support and query) and the meta learning rate; or, with runs overlaid, one
    curve per run in each plot.

    ``clock`` times the redraws (see `RedrawScheduler`); tests bring their own.
    """

    name = "training"
    title = "Training"
    shortcut = "Ctrl+1"
    tooltip = "Live curves of the run being trained, or of runs to compare (Ctrl+1)"
    edits_experiment = True

    def __init__(
        self,
        context: GuiContext,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        super().__init__(context, parent)
        self.theme: Theme = context.theme
        self.live: RunSeries | None = None
        self.overlays: list[RunSeries] = []
        self._dirty = True
        self._recording = False
        self._loading = ""
        smoothing = float(context.settings.value("training/smoothing", 0.6))
        x_key = str(context.settings.value("training/x_axis", "iteration"))

        self.header = TrainingHeader(x_key, smoothing)
        self.header.xAxisChosen.connect(self.set_x_axis)
        self.header.smoothingChosen.connect(self.set_smoothing)
        self.header.clearRequested.connect(self.clear_overlays)
        self.header.animateRequested.connect(self.export_curves_gif)
        self.title_label = self.header.title_label
        self.stats_label = self.header.stats_label
        self.clear_button = self.header.clear_button

        self.grid = PlotGrid(
            self.theme, "elapsed" if x_key == "elapsed" else "iteration", smoothing
        )
        self.plots = self.grid.plots
        self.legends = self.grid.legends
        self.log = _run_log()

        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.setObjectName("trainingSplitter")
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(self.log)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([640, 110])
        state = context.settings.value("training/splitter")
        if isinstance(state, (QByteArray, bytes)):
            self.splitter.restoreState(QByteArray(state))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.splitter, 1)

        self.redraws = RedrawScheduler(self.redraw, self, clock=clock)
        self.apply_theme(self.theme)

    # -- what is shown ----------------------------------------------------------------------------
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
                self.log.appendPlainText(evaluation_text(event))
            return
        text = log_text(event)
        if text is not None:
            self.log.appendPlainText(text)
        self._dirty = True

    # -- how it is shown --------------------------------------------------------------------------
    def set_smoothing(self, smoothing: float) -> None:
        smoothing = min(0.99, max(0.0, float(smoothing)))
        self.context.settings.setValue("training/smoothing", smoothing)
        self.header.show_smoothing(smoothing)
        self.grid.set_smoothing(smoothing)
        self.redraw(force=True)

    def set_x_axis(self, key: str) -> None:
        """``iteration`` or ``elapsed`` (seconds of training) for all plots."""
        key = "elapsed" if key == "elapsed" else "iteration"
        self.context.settings.setValue("training/x_axis", key)
        self.header.show_x_axis(key)
        self.grid.set_x_axis(key)
        self.redraw(force=True)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.grid.apply_theme(theme)
        self.header.apply_theme(theme)
        self._rebuild(restyle=True)

    # -- exports and state ------------------------------------------------------------------------
    def export_csv(self, plot: str, path: str | Path) -> Path:
        self.redraw(force=True)  # everything received, even while the view was hidden
        return export_csv(self.plots[plot], Path(path))

    def export_png(self, plot: str, path: str | Path) -> Path:
        """The plot with its legend, as on screen."""
        self.redraw(force=True)
        return export_png(self.grid.panels[plot], Path(path))

    def export_curves_gif(self) -> GifRecorder | None:
        """The curves growing from the first iteration to the last, as an animated GIF (asks
        length, frame rate and file); the plots show everything again afterwards."""
        self.redraw(force=True)
        extent = self.grid.x_extent()
        if extent is None:
            self.context.statusMessage.emit("Nothing to animate yet: train or open a run first")
            return None

        def restore() -> None:
            self._recording = False
            self.redraw(force=True)

        def render(index: int, frames: int) -> QImage:
            self._recording = True  # live points wait in the buffers until the GIF is drawn
            return render_growth_frame(self.grid, extent, index, frames)

        recorder = export_animation(
            self,
            self.context.settings,
            default_name="training-curves.gif",
            min_frames=2,
            render=render,
            restore=restore,
            colors=(self.theme.background, self.theme.color(0)),
        )
        if recorder is not None:
            recorder.saved.connect(lambda path: self.context.statusMessage.emit(f"Saved {path}"))
            recorder.failed.connect(self.context.statusMessage.emit)
        return recorder

    def legend_names(self, plot: str) -> list[str]:
        return self.grid.legend_names(plot)

    def curve_points(self, plot: str = "loss") -> int:
        """Points drawn by the first curve of a plot (what tests and the screenshot check)."""
        return self.grid.curve_points(plot)

    def save_state(self) -> None:
        self.context.settings.setValue("training/splitter", self.splitter.saveState())

    def shutdown(self) -> None:
        self.redraws.stop()

    # -- drawing ----------------------------------------------------------------------------------
    @Slot()
    def redraw(self, force: bool = False) -> None:
        """Push new points to the curves (the scheduler calls this on its timer)."""
        if self._recording:
            return  # an animation is drawing its frames from these plots
        if not force and (not self._dirty or not self.isVisible()):
            return  # nothing new, or nobody looking: the points wait in the buffers
        self.redraws.timed(lambda: self._draw(force))

    def _draw(self, force: bool) -> None:
        self._dirty = self.grid.draw(force)
        self.header.describe(self.live, self.overlays, self._loading)

    def _rebuild(self, restyle: bool = False) -> None:
        runs = ([self.live] if self.live is not None else []) + self.overlays
        comparing = bool(self.overlays)
        self.grid.arrange(is_regression(runs), comparing)
        self.grid.build(wanted_curves(self.live, self.overlays), comparing, restyle)
        self.clear_button.setVisible(comparing)
        self.redraw(force=True)


def _run_log() -> QPlainTextEdit:
    """What happened in the run besides the curves: validations, checkpoints, the end."""
    log = QPlainTextEdit()
    log.setReadOnly(True)
    log.setMaximumBlockCount(2000)
    log.setPlaceholderText(
        "Validation results, checkpoints and the end of the run are listed here."
    )
    log.setToolTip("What happened in the run, besides the curves")
    return log
