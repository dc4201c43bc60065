"""Evaluate a saved run from the Runs view: the standard protocol off the GUI thread, with a
progress bar and Cancel.

The work is `workbench.engine.evaluation_run.evaluate_run` (the same function as ``workbench
eval``), so the window and the command line report the same number; it stores the result in
the run's summary.json unless cancelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from workbench.engine.runs import RunInfo
from workbench.gui.widgets.tasks import BackgroundTask, TaskState


def protocol_of(info: RunInfo) -> str:
    cfg = info.config
    if cfg is None:
        return "the standard protocol"
    steps = cfg.eval.inner_steps
    return (
        f"{cfg.eval.episodes} episodes, {steps} inner step{'' if steps == 1 else 's'}, "
        f"{cfg.eval.split} split"
    )


class EvaluationStrip(QWidget):
    """A one-line strip (text, progress, Cancel) visible while a run is evaluated.

    Signals: ``done(path, result)`` with the `EvaluationResult` (``result.cancelled`` never
    reaches here: cancelling emits ``cancelled(path)``), ``failed(path, message, details)``.
    """

    done = Signal(str, object)
    failed = Signal(str, str, str)
    cancelled = Signal(str)
    runningChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumWidth(320)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the evaluation; nothing is stored")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        self.setVisible(False)
        self.path: Path | None = None
        self.task = BackgroundTask(self)
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_cancelled)

    @property
    def running(self) -> bool:
        return self.path is not None

    def start(self, info: RunInfo) -> None:
        """Evaluate ``info``'s run with its own eval settings (one evaluation at a time)."""
        from workbench.engine.evaluation_run import evaluate_run

        if self.running:
            return
        path = self.path = info.path
        self.label.setText(f"Evaluating {info.name} ({protocol_of(info)})…")
        self.progress.setRange(0, 0)  # busy until the data are loaded and episodes start
        self.progress.setFormat("")
        self.setVisible(True)

        def work(state: TaskState) -> Any:
            return evaluate_run(
                path,
                progress=lambda done, total: state.progress(done, total),
                cancel=state.cancel_event,
            )

        self.task.start(work)
        self.runningChanged.emit(True)

    @Slot()
    def cancel(self) -> None:
        self.task.cancel()

    def wait(self, msecs: int = 60000) -> bool:
        return self.task.wait(msecs)

    def _end(self) -> str:
        path, self.path = self.path, None
        self.setVisible(False)
        self.runningChanged.emit(False)
        return str(path) if path is not None else ""

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, _text: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} episodes")

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        path = self._end()
        if getattr(result, "cancelled", False):
            self.cancelled.emit(path)
        else:
            self.done.emit(path, result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.failed.emit(self._end(), message, details)

    @Slot()
    def _on_cancelled(self) -> None:
        if self.path is not None:
            self.cancelled.emit(self._end())
