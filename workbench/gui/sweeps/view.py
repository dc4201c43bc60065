"""The Sweeps view: search fields of the experiment in the Experiment panel over ranges with
Optuna, trials trained by worker processes (never in the window's process), a live table of
the trials, plots of what the sweep found, and "Use best" to copy the winner into the form.

The sweep's base is the Experiment panel's config; the fields swept and their ranges are set
here. A sweep lives in the runs folder (Optuna's journal file) unless a database URL is given,
so it survives the window: choose it under "Show sweep" to see it again, or Start to continue
it. Each trial is an ordinary run folder, listed in the Runs view.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.sweeps import (
    SweepResult,
    SweepSpec,
    TrialRow,
    best_row,
    best_trial_config,
    default_sweep_name,
    param_importances,
)
from workbench.errors import WorkbenchError
from workbench.gui.context import GuiContext
from workbench.gui.sweeps.loading import SweepSnapshot, list_sweeps, load_sweep
from workbench.gui.sweeps.panel import SweepPanel
from workbench.gui.sweeps.plots import SweepPlots
from workbench.gui.sweeps.table import TrialsModel
from workbench.gui.sweeps.worker import SweepWorker
from workbench.gui.theme import Theme
from workbench.gui.view import View
from workbench.gui.widgets.elided_label import ElidedLabel
from workbench.gui.widgets.inline_message import InlineMessage
from workbench.gui.widgets.tasks import BackgroundTask

PANEL_WIDTH = 360


class SweepsView(View):
    name = "sweeps"
    title = "Sweeps"
    shortcut = "Ctrl+6"
    tooltip = (
        "Search hyperparameters with Optuna: trials in worker processes, best settings (Ctrl+6)"
    )
    edits_experiment = True

    def __init__(self, context: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.spec: SweepSpec | None = None
        self.worker: SweepWorker | None = None
        self.panel = SweepPanel()
        self.panel.startRequested.connect(self.start)
        self.panel.stopRequested.connect(self.stop)
        self.panel.useBestRequested.connect(self.use_best)
        self.panel.openRequested.connect(self.open_sweep)
        self.panel.fields.set_config(context.current_config())
        self.importance_task = BackgroundTask(self)
        self.importance_task.finished.connect(self._importances_ready)
        self.importance_task.failed.connect(lambda m, _d: self.plots.show_importances({}, m))
        self.open_task = BackgroundTask(self)
        self.open_task.finished.connect(self._opened)
        self.open_task.failed.connect(lambda m, _d: self.message.show_error(m))
        self._build()
        self.apply_theme(context.theme)
        context.runsDirChanged.connect(lambda _p: self.refresh_list())
        self.refresh_list()

    def _build(self) -> None:
        side = QScrollArea()
        side.setWidget(self.panel)
        side.setWidgetResizable(True)
        side.setFixedWidth(PANEL_WIDTH)
        self.side = side
        side.setFrameShape(QScrollArea.Shape.NoFrame)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.message = InlineMessage()
        self.heading = ElidedLabel("No sweep yet")
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.status = ElidedLabel(
            "Choose the fields to sweep and their ranges on the left, then Start sweep. The "
            "other settings come from the Experiment panel."
        )
        self.model = TrialsModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.doubleClicked.connect(self._show_run)
        self.table.setToolTip("Double-click a trial to see its run in the Training view")
        self.plots = SweepPlots()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.plots)
        split.setSizes([240, 420])
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 8, 8, 8)
        rl.addWidget(self.message)
        rl.addWidget(self.heading)
        rl.addWidget(self.status)
        rl.addWidget(split, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(side)
        layout.addWidget(right, 1)

    # -- starting and stopping ---------------------------------------------------------------------
    def build_spec(self) -> SweepSpec:
        """The sweep the settings describe, checked (ConfigError / SweepError otherwise)."""
        base = self.context.current_config()
        base.validate()
        self.panel.fields.set_config(base)
        params = self.panel.fields.specs(base)
        p = self.panel
        label = f"{base.algorithm.name}-{base.data.dataset}"
        name = p.name_edit.text().strip() or default_sweep_name(label, params)
        spec = SweepSpec(
            name=name,
            base=base,
            params=params,
            trials=p.trials.value(),
            workers=p.workers.value(),
            storage=p.storage.text().strip() or None,
            pruner=str(p.pruner.currentData()),
            metric=str(p.metric_combo.currentData()),
            runs_dir=self.context.runs_dir(),
        )
        return spec.validate()

    def start(self) -> None:
        if self.running:
            return
        try:
            spec = self.build_spec()
        except WorkbenchError as exc:
            self.message.show_error(f"Cannot start the sweep: {exc}")
            return
        self.message.clear()
        self._show_spec(spec)
        self.worker = SweepWorker(spec)
        self.worker.trial.connect(self._trial_changed)
        self.worker.rows.connect(self._rows_seen)
        self.worker.done.connect(self._finished)
        self.worker.failed.connect(self._failed)
        self.worker.start()
        self.panel.set_running(True, has_best=self.best() is not None)
        self.status.setText(f"Starting {spec.workers} worker process(es)…")
        self.context.statusMessage.emit(f"Sweep {spec.name} started")

    def stop(self) -> None:
        if self.worker is not None and self.worker.isRunning():
            self.worker.stop()
            self.status.setText("Stopping: the workers finish their current iteration…")

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.isRunning()

    def _show_spec(self, spec: SweepSpec) -> None:
        self.spec = spec
        self.model.reset(list(spec.params))
        self.plots.set_sweep(
            list(spec.params),
            {k for k, s in spec.params.items() if s.log},
            spec.direction == "maximize",
            spec.metric_info.name,
        )
        self.heading.setText(f"Sweep {spec.name}")
        self.heading.setToolTip(f"{spec.name}: {', '.join(s.text() for s in spec.params.values())}")

    # -- what the sweep reports --------------------------------------------------------------------
    def _trial_changed(self, row: TrialRow) -> None:
        self.model.upsert(row)
        self._refresh(importances=row.state == "complete")

    def _rows_seen(self, rows: list[TrialRow]) -> None:
        for row in rows:
            self.model.upsert(row)
        self.status.setText(self.summary())

    def _finished(self, result: SweepResult) -> None:
        self.panel.set_running(False, has_best=self.best() is not None)
        stopped = "stopped" if result.stopped else "finished"
        self.context.statusMessage.emit(f"Sweep {result.name} {stopped}")
        self._refresh(importances=True)
        self.refresh_list()

    def _failed(self, message: str) -> None:
        self.panel.set_running(False, has_best=self.best() is not None)
        self.message.show_error(f"The sweep stopped: {message}")

    def _refresh(self, importances: bool) -> None:
        best = self.best()
        self.model.set_best(best.number if best else None)
        self.plots.show_rows(self.model.rows)
        self.status.setText(self.summary())
        self.panel.best_button.setEnabled(best is not None)
        if importances and self.spec is not None and not self.importance_task.running:
            name, storage, runs_dir = self.spec.name, self.spec.storage, self.spec.runs_dir
            self.importance_task.start(lambda _s: param_importances(name, storage, runs_dir))

    def _importances_ready(self, values: dict[str, float]) -> None:
        self.plots.show_importances(values)

    def best(self) -> TrialRow | None:
        if self.spec is None:
            return None
        return best_row(self.model.rows, self.spec.direction)

    def summary(self) -> str:
        rows = [r for r in self.model.rows if r.counted or r.state in ("complete", "pruned")]
        count = {s: sum(r.state == s for r in self.model.rows) for s in ("running", "pruned")}
        total = self.spec.trials if self.spec is not None else len(rows)
        text = (
            f"{len(rows)} of {total} trials · {count['running']} running · {count['pruned']} pruned"
        )
        best = self.best()
        if best is not None and best.value is not None:
            params = ", ".join(f"{k}={_short(v)}" for k, v in best.params.items())
            text += f" · best {best.value:.4f} (trial {best.number}: {params})"
        return text

    # -- using the result --------------------------------------------------------------------------
    def use_best(self) -> None:
        if self.spec is None:
            return
        try:
            config = best_trial_config(self.spec.name, self.spec.storage, self.spec.runs_dir)
        except WorkbenchError as exc:
            self.message.show_error(str(exc))
            return
        self.context.cloneConfig.emit(config)
        self.context.statusMessage.emit("The best trial's settings are in the Experiment panel")

    def _show_run(self, index: Any) -> None:
        row = self.model.rows[index.row()]
        if row.run_dir is not None:
            self.context.overlayRuns.emit([str(row.run_dir)])
            self.context.showView.emit("training")

    # -- sweeps kept in the runs folder ------------------------------------------------------------
    def refresh_list(self) -> None:
        current = self.spec.name if self.spec is not None else ""
        self.panel.list_sweeps(list_sweeps(self.context.runs_dir()), current)

    def open_sweep(self, name: str) -> None:
        if not name or self.running:
            return
        runs_dir = self.context.runs_dir()
        self.open_task.start(lambda _s: load_sweep(name, runs_dir))

    def _opened(self, snapshot: SweepSnapshot) -> None:
        self._show_spec(snapshot.spec)
        self.panel.name_edit.setText(snapshot.spec.name)
        self.panel.trials.setValue(snapshot.spec.trials)
        self.panel.fields.set_rows([(k, s.text()) for k, s in snapshot.spec.params.items()])
        for row in snapshot.rows:
            self.model.upsert(row)
        self._refresh(importances=True)

    # -- the view contract -------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        # presentation fonts are half as large again: so is the column, or its fields clip
        self.side.setFixedWidth(round(PANEL_WIDTH * theme.font_point_size / 10))
        self.model.theme = theme
        self.plots.apply_theme(theme)
        self.message.apply_theme(theme)
        self.status.setStyleSheet(f"color: {theme.muted};")

    def is_busy(self) -> bool:
        return self.importance_task.running or self.open_task.running

    def prepare_screenshot(self) -> None:
        """A short real sweep of the form's config: 4 trials on 2 workers."""
        if not self.model.rows:
            self.panel.fields.set_config(self.context.current_config())
            self.panel.fields.set_rows([])
            for key in ("algorithm.inner_lr", "train.meta_lr"):
                self.panel.fields.add_row(key)
            self.panel.trials.setValue(4)
            self.start()
            while self.running:
                self.wait_until_idle(0.2)
                if self.worker is not None:
                    self.worker.wait(100)
        self.wait_until_idle()

    def shutdown(self) -> None:
        if self.worker is not None and self.worker.isRunning():
            self.worker.stop()
            self.worker.wait(60_000)
        for task in (self.importance_task, self.open_task):
            task.cancel()
            task.wait(10_000)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


__all__ = ["SweepsView"]
