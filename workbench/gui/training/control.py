"""Start, pause, stop and resume: the window's one `TrainingSession`, and everything that follows
it (the Experiment panel's buttons, the Training menu's commands, the Space key, the Training view
and the status bar).

The session reports from the GUI thread; this object turns its reports into what the user sees,
and keeps one word for where training is (``phase``: idle, loading, training or stopping) so a
Stop pressed while data load is not offered again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
)

from workbench.config import ExperimentConfig
from workbench.engine import events as ev
from workbench.errors import WorkbenchError
from workbench.gui import dialogs
from workbench.gui.actions import make_action
from workbench.gui.context import GuiContext
from workbench.gui.training.status_bar import TrainingStatusBar
from workbench.gui.training.view import TrainingView
from workbench.gui.training.worker import TrainingSession


class ControlPanel(Protocol):
    """What the control needs of the Experiment panel (`gui.experiment.panel.ExperimentPanel`):
    its form, and the Start / Pause / Stop buttons with the line that explains a disabled Start.
    A protocol, so the training package does not import the experiment package."""

    form: Any  # the experiment form: config(), is_valid(), errors(), set_editable(), signals

    def buttons(self) -> tuple[QPushButton, QPushButton, QPushButton]: ...

    def enable_buttons(self, can_start: bool, can_interrupt: bool) -> None: ...

    def explain_invalid_form(self, show: bool) -> None: ...

    def show_paused(self, paused: bool) -> None: ...


#: widgets that use the Space key themselves (it goes to them, not to Start/Pause)
SPACE_CONSUMERS = (
    QAbstractButton,
    QComboBox,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QLineEdit,
)
#: how often the status bar's numbers are redrawn, in milliseconds
STATUS_INTERVAL_MS = 250


class TrainingControl(QObject):
    """Training of the form's experiment in the window: the commands, and what follows them."""

    def __init__(
        self,
        window: QMainWindow,
        panel: ControlPanel,
        status: TrainingStatusBar,
        training_view: TrainingView,
        context: GuiContext,
        show_view: Callable[[str], None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self.panel = panel
        self.form = panel.form
        self.status = status
        self.training_view = training_view
        self.context = context
        self._show_view = show_view
        self.session = TrainingSession(window)
        self.phase = "idle"  # idle | loading | training | stopping

        self.start_action = make_action(
            window, "&Start", self.start_training, ["Ctrl+Return", "Ctrl+Enter"], "Start training"
        )
        self.pause_action = make_action(
            window,
            "&Pause / Resume",
            self.toggle_pause,
            tip="Pause or resume training (Space outside the form)",
        )
        self.stop_action = make_action(
            window, "S&top", self.stop_training, ["Ctrl+.", "Esc"], "Stop and save a checkpoint"
        )
        self.space_shortcut = QShortcut(QKeySequence(Qt.Key_Space), window)
        self.space_shortcut.setContext(Qt.WindowShortcut)
        self.space_shortcut.activated.connect(self.on_space)
        self._connect()

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start()
        self.update_controls()

    def actions(self) -> tuple[QAction, QAction, QAction]:
        """Start, Pause / Resume and Stop, for the Training menu."""
        return self.start_action, self.pause_action, self.stop_action

    def _connect(self) -> None:
        start, pause, stop = self.panel.buttons()
        start.clicked.connect(self.start_training)
        pause.clicked.connect(self.toggle_pause)
        stop.clicked.connect(self.stop_training)
        self.form.validityChanged.connect(lambda _v: self.update_controls())
        s = self.session
        s.runningChanged.connect(lambda _r: self.update_controls())
        s.pausedChanged.connect(self._on_paused)
        s.ready.connect(self._on_ready)
        s.dataProgress.connect(self._on_data_progress)
        s.event.connect(self.training_view.add_event)
        s.event.connect(self._on_event)
        s.finished.connect(self._on_finished)

    def _message(self, text: str, timeout_ms: int = 0) -> None:
        self.status.showMessage(text, timeout_ms)

    # -- the commands -----------------------------------------------------------------------------
    @Slot()
    def start_training(self) -> None:
        """A new run of the form's experiment (or resume a paused one); refused, with the
        reasons in the status bar, while the form is invalid."""
        if self.session.running:
            if self.session.paused:
                self.session.unpause()
            return
        if not self.form.is_valid():
            errors = self.form.errors()
            self._message(
                "Cannot start: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), 10000
            )
            return
        config = self.form.config()
        try:
            config.validate()
        except WorkbenchError as exc:
            self._message(f"Cannot start: {exc}", 10000)
            return
        self._begin_session(f"Loading {config.data.dataset} data…", config)
        self.session.start(config, self.context.runs_dir())

    @Slot(str)
    def resume_training(self, run_dir: str) -> None:
        """Continue a stopped or interrupted run (from the Runs view)."""
        if self.session.running:
            self._message("A run is training; stop it before resuming another", 10000)
            return
        from workbench.engine.runs import RunStore

        try:
            config = RunStore(run_dir).load_config()
        except WorkbenchError as exc:
            self._message(f"Cannot resume: {exc}", 10000)
            return
        self.form.set_config(config, source=Path(run_dir) / "config.toml")
        self._begin_session(f"Resuming {Path(run_dir).name}: loading data…", config)
        self.session.resume(run_dir)

    def _begin_session(self, loading_text: str, config: ExperimentConfig) -> None:
        self.phase = "loading"
        # the plots are built now, while the data load, rather than when training starts
        self.training_view.begin_run("new run", "", config.data.dataset == "sinusoid")
        self.status.begin_loading()
        self.training_view.set_loading(loading_text)
        self.form.set_editable(False)
        self._show_view("training")
        self._message(loading_text)

    @Slot()
    def toggle_pause(self) -> None:
        if not self.session.running:
            return
        if self.session.paused:
            self.session.unpause()
        else:
            self.session.pause()

    @Slot()
    def stop_training(self) -> None:
        if not self.session.running:
            return
        self.phase = "stopping"
        self.session.stop()
        self._message("Stopping after the current iteration and saving a checkpoint…")
        self.update_controls()

    @Slot()
    def toggle_start_pause(self) -> None:
        if self.session.running:
            self.toggle_pause()
        else:
            self.start_training()

    def on_space(self) -> None:
        """Space starts/pauses, unless the focused widget uses Space itself (the form's check
        boxes, any button or list): then the key goes to that widget."""
        focus = QApplication.focusWidget()
        editable_text = isinstance(focus, (QTextEdit, QPlainTextEdit)) and not focus.isReadOnly()
        if (
            focus is not None
            and focus not in self.panel.buttons()
            and (
                self.form.isAncestorOf(focus) or isinstance(focus, SPACE_CONSUMERS) or editable_text
            )
        ):
            self.space_shortcut.setEnabled(False)  # or the forwarded key would trigger us again
            try:
                for kind in (QEvent.KeyPress, QEvent.KeyRelease):
                    QApplication.sendEvent(focus, QKeyEvent(kind, Qt.Key_Space, Qt.NoModifier, " "))
            finally:
                self.space_shortcut.setEnabled(True)
            return
        self.toggle_start_pause()

    def stop_before_closing(self) -> bool:
        """The window is closing: during training, ask; then stop (a checkpoint is saved) and
        join the thread. False when the user keeps training."""
        if not self.session.running:
            return True
        if not dialogs.confirm_stop_training(self._window):
            return False
        self._message("Stopping and saving a checkpoint…")
        QApplication.processEvents()
        self.session.shutdown()
        return True

    # -- from the training session (GUI thread) ---------------------------------------------------
    @Slot(object, str, str, int, int, object)
    def _on_ready(
        self, trainer: Any, run_dir: str, device: str, iteration: int, total: int, history: list
    ) -> None:
        self.phase = "stopping" if self.phase == "stopping" else "training"
        self.status.begin_training(device, iteration, total)
        self.context.set_live_trainer(trainer)
        self.training_view.name_run(
            Path(run_dir).name if run_dir else "unsaved run", run_dir, history or None
        )
        self._message(f"Training {Path(run_dir).name}", 5000)
        if run_dir:
            self.context.trainingStarted.emit(run_dir)
        self.update_controls()

    @Slot(float, str)
    def _on_data_progress(self, fraction: float, message: str) -> None:
        self.status.show_data_progress(fraction)
        text = f"Loading data: {message}"
        self.training_view.set_loading(text)
        self._message(text)

    @Slot(object)
    def _on_event(self, event: ev.TrainerEvent) -> None:
        """Only numbers here (the status bar redraws on its own timer)."""
        if event.kind == ev.ITERATION:
            self.status.count_iteration(event.iteration, event.total)

    @Slot(bool)
    def _on_paused(self, paused: bool) -> None:
        self.panel.show_paused(paused)
        self.status.set_paused(paused)
        if paused:
            self._message("Paused; press Resume (or Space) to continue")
        else:
            self._message("Training resumed", 3000)

    @Slot(str, str)
    def _on_finished(self, run_dir: str, status: str) -> None:
        self.phase = "idle"
        self.context.set_live_trainer(None)
        self.form.set_editable(True)
        self.training_view.set_loading("")
        if not run_dir:
            self.training_view.discard_run()
        self._on_paused(False)
        self.status.end_training(run_dir, status)
        self.update_controls()
        self.refresh_status()
        if run_dir:
            self.context.trainingFinished.emit(run_dir, status)
        name = Path(run_dir).name if run_dir else "the run"
        messages = {
            ev.FINISHED: f"Finished {name}",
            ev.STOPPED: f"Stopped {name}; a checkpoint "
            "was saved and it can be resumed from the Runs view",
            ev.FAILED: f"Training failed ({name})" if run_dir else "Training could not start",
        }
        self._message(messages.get(status, status), 15000)
        if status == ev.FAILED:
            message, details = self.session.last_error or ("training failed", "")
            title = "Training failed" if run_dir else "Training could not start"
            dialogs.show_error(self._window, title, message, details)

    # -- buttons, commands and status bar ---------------------------------------------------------
    def update_controls(self) -> None:
        """Start for a valid form and no run; Pause and Stop for a run not already stopping."""
        running = self.session.running
        valid = self.form.is_valid()
        can_start = not running and valid
        can_interrupt = running and self.phase != "stopping"
        self.panel.enable_buttons(can_start, can_interrupt)
        self.start_action.setEnabled(can_start)
        self.pause_action.setEnabled(can_interrupt)
        self.stop_action.setEnabled(can_interrupt)
        self.panel.explain_invalid_form(not (valid or running))

    @Slot()
    def refresh_status(self) -> None:
        self.status.refresh(self.phase, self.session.running, self.session.paused)
