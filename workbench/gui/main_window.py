"""The main window: the Experiment panel, the four views, menus, shortcuts and the status bar.

It owns the one `TrainingSession` and wires what the views ask for through the `GuiContext`
(open an episode in the adaptation viewer, clone a run's config, overlay runs, resume a run,
switch view) to the view that can do it; views never hold references to each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QKeyEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStyle,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

import workbench
from workbench.config import ExperimentConfig
from workbench.engine import events as ev
from workbench.engine.progress import RateMeter, format_duration
from workbench.errors import WorkbenchError
from workbench.gui import dialogs
from workbench.gui.adaptation.view import AdaptationView
from workbench.gui.context import GuiContext
from workbench.gui.episodes.view import EpisodesView
from workbench.gui.experiment.form import ConfigForm
from workbench.gui.runs.view import RunsView
from workbench.gui.theme import apply_application_theme, get_theme
from workbench.gui.training.view import TrainingView
from workbench.gui.training.worker import TrainingSession
from workbench.gui.view import View

APP_NAME = "Meta-Learning Workbench"
README = Path(__file__).resolve().parents[2] / "README.md"

#: the views, in tab order (each names itself, its shortcut and tooltip: see `View`)
VIEW_CLASSES: tuple[type[View], ...] = (TrainingView, EpisodesView, AdaptationView, RunsView)


def default_settings() -> QSettings:
    return QSettings("MetaLearningWorkbench", "workbench")


class MainWindow(QMainWindow):
    """The Experiment panel (dock) beside the views (tabs). ``settings`` is injectable so tests
    keep window state in a temporary file."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else default_settings()
        self.setWindowTitle(APP_NAME)
        self.setObjectName("mainWindow")
        self.context = GuiContext(self.settings, parent=self)
        self.session = TrainingSession(self)
        self.meter = RateMeter(half_life=3.0)
        self._iteration = 0
        self._total = 0
        self._run_dir = ""
        self._phase = "idle"  # idle | loading | training | stopping

        self.form = ConfigForm()
        self.form.restore(self.settings)
        self.context.set_config_provider(self.form.config)
        self._build_panel()
        self._build_views()
        self._build_status_bar()
        self._build_actions()
        self._connect()

        self._status_timer = QTimer(self)
        self._status_timer.setInterval(250)
        self._status_timer.timeout.connect(self._update_status)
        self._status_timer.start()

        theme_name = str(self.settings.value("view/theme", "light"))
        presentation = str(self.settings.value("view/presentation", "false")).lower() == "true"
        self.set_theme(theme_name, presentation)
        self._restore_geometry()
        self._update_controls()
        self._update_title()

    # -- construction --------------------------------------------------------------------------
    def _build_panel(self) -> None:
        style = self.style()
        self.start_button = QPushButton(style.standardIcon(QStyle.SP_MediaPlay), "Start")
        self.start_button.setToolTip(
            "Start training this experiment in a new run folder "
            "(Ctrl+Return, or Space outside the form)"
        )
        self.pause_button = QPushButton(style.standardIcon(QStyle.SP_MediaPause), "Pause")
        self.pause_button.setToolTip(
            "Pause training after the current iteration; press again "
            "to resume (Space outside the form)"
        )
        self.stop_button = QPushButton(style.standardIcon(QStyle.SP_MediaStop), "Stop")
        self.stop_button.setToolTip(
            "Stop after the current iteration and save a checkpoint; "
            "the run can be resumed later (Ctrl+. or Esc)"
        )
        self.start_button.clicked.connect(self.start_training)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop_training)
        for button in (self.start_button, self.pause_button, self.stop_button):
            button.setMinimumHeight(30)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.pause_button, 1)
        buttons.addWidget(self.stop_button, 1)
        self.invalid_label = QLabel()
        self.invalid_label.setWordWrap(True)
        self.invalid_label.hide()

        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.form, 1)
        layout.addWidget(self.invalid_label)
        layout.addLayout(buttons)
        self.panel = panel
        self.dock = QDockWidget("Experiment", self)
        self.dock.setObjectName("experimentDock")
        self.dock.setWidget(panel)
        self.dock.setFeatures(
            QDockWidget.DockWidgetMovable
            | QDockWidget.DockWidgetFloatable
            | QDockWidget.DockWidgetClosable
        )
        self.dock.setAllowedAreas(Qt.LeftDockWidgetArea | Qt.RightDockWidgetArea)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.dock)

    def _build_views(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views: dict[str, View] = {}
        for cls in VIEW_CLASSES:
            view = cls(self.context, self)
            self.views[cls.name] = view
            index = self.tabs.addTab(view, cls.title)
            self.tabs.setTabToolTip(index, cls.tooltip)
        self.training_view = self.views["training"]
        assert isinstance(self.training_view, TrainingView)
        self.adaptation_view = self.views["adaptation"]
        assert isinstance(self.adaptation_view, AdaptationView)
        self.setCentralWidget(self.tabs)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel("Device: –")
        self.device_label.setToolTip(
            "Where the model trains (train.device; auto picks CUDA when a GPU is present)"
        )
        self.iteration_label = QLabel("Iteration –")
        self.rate_label = QLabel("– it/s")
        self.rate_label.setToolTip("Meta-iterations per second (smoothed)")
        self.eta_label = QLabel("ETA –")
        self.eta_label.setToolTip("Time left at the current speed")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        for widget in (self.device_label, self.iteration_label, self.rate_label, self.eta_label):
            widget.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(widget)
        bar.addPermanentWidget(self.progress)

    def _action(
        self, menu, text: str, slot, shortcuts=(), tip: str = "", checkable: bool = False
    ) -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(
            file_menu,
            "&Open config…",
            self.form.open_toml_dialog,
            ["Ctrl+O"],
            "Load an experiment from a TOML file into the form",
        )
        self._action(
            file_menu,
            "&Save config…",
            self.form.save_toml_dialog,
            ["Ctrl+S"],
            "Save the form as a TOML file",
        )
        self._action(
            file_menu,
            "Open &run folder…",
            self.open_run_dialog,
            ["Ctrl+Shift+O"],
            "Load a run's config.toml into the form and show its curves",
        )
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, [QKeySequence.Quit], "Close the window")

        train_menu = bar.addMenu("&Training")
        self.start_action = self._action(
            train_menu,
            "&Start",
            self.start_training,
            ["Ctrl+Return", "Ctrl+Enter"],
            "Start training",
        )
        self.pause_action = self._action(
            train_menu,
            "&Pause / Resume",
            self.toggle_pause,
            [],
            "Pause or resume training (Space outside the form)",
        )
        self.stop_action = self._action(
            train_menu, "S&top", self.stop_training, ["Ctrl+.", "Esc"], "Stop and save a checkpoint"
        )
        self.space_shortcut = QShortcut(QKeySequence(Qt.Key_Space), self)
        self.space_shortcut.setContext(Qt.WindowShortcut)
        self.space_shortcut.activated.connect(self._on_space)

        view_menu = bar.addMenu("&View")
        group = QActionGroup(self)
        self.light_action = self._action(
            view_menu,
            "&Light theme",
            lambda _c=False: self.set_theme("light", self._presentation),
            checkable=True,
            tip="Dark text on light backgrounds",
        )
        self.dark_action = self._action(
            view_menu,
            "&Dark theme",
            lambda _c=False: self.set_theme("dark", self._presentation),
            checkable=True,
            tip="Light text on dark backgrounds",
        )
        group.addAction(self.light_action)
        group.addAction(self.dark_action)
        self.presentation_action = self._action(
            view_menu,
            "&Presentation mode",
            lambda on: self.set_theme(self._theme_name, on),
            ["F5", "Ctrl+Shift+P"],
            "Larger fonts, thicker lines, high contrast (for a seminar)",
            checkable=True,
        )
        view_menu.addSeparator()
        for cls in VIEW_CLASSES:
            self._action(
                view_menu,
                f"{cls.title} view",
                lambda _c=False, n=cls.name: self.show_view(n),
                [cls.shortcut],
                f"Show the {cls.title} view",
            )
        view_menu.addSeparator()
        toggle = self.dock.toggleViewAction()
        toggle.setText("Experiment panel")
        view_menu.addAction(toggle)

        help_menu = bar.addMenu("&Help")
        self._action(
            help_menu,
            "&User guide",
            self.open_user_guide,
            ["F1"],
            "Open the README: the user guide",
        )
        self._action(help_menu, "&About", self.show_about, [], "Version and license")

    def _connect(self) -> None:
        self.form.validityChanged.connect(lambda _v: self._update_controls())
        self.form.configChanged.connect(self._update_title)
        self.form.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        s = self.session
        s.runningChanged.connect(lambda _r: self._update_controls())
        s.pausedChanged.connect(self._on_paused)
        s.ready.connect(self._on_ready)
        s.dataProgress.connect(self._on_data_progress)
        s.event.connect(self.training_view.add_event)
        s.event.connect(self._on_event)
        s.finished.connect(self._on_finished)
        c = self.context
        c.openEpisodeInAdaptation.connect(self._open_episode_in_adaptation)
        c.cloneConfig.connect(self.load_config)
        c.overlayRuns.connect(self._overlay_runs)
        c.resumeRun.connect(self.resume_training)
        c.showView.connect(self.show_view)
        c.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))

    # -- the experiment -------------------------------------------------------------------------
    @Slot(object)
    def load_config(self, config: ExperimentConfig) -> None:
        """Put a config (a cloned run's, a file's) in the form."""
        self.form.set_config(config)
        self.dock.show()
        self.dock.raise_()
        self.statusBar().showMessage("Config loaded into the Experiment form", 8000)

    def load_config_argument(self, config_or_preset: str) -> None:
        """``workbench gui CONFIG``: a TOML file or a preset name."""
        from workbench.presets import list_presets, resolve

        config = resolve(config_or_preset)
        names = {p.name for p in list_presets()}
        if config_or_preset in names:
            self.form.set_config(config, preset=config_or_preset)
        else:
            self.form.set_config(config, source=Path(config_or_preset))

    def open_run_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Open run folder", str(self.context.runs_dir())
        )
        if path:
            self.open_run(path)

    def open_run(self, path: str | Path) -> bool:
        """Load a run's config.toml into the form and show its curves."""
        from workbench.engine.runs import RunStore

        store = RunStore(path)
        try:
            if not store.config_path.exists():
                raise WorkbenchError(f"{store.path} is not a run folder (no config.toml in it)")
            config = store.load_config()
        except WorkbenchError as exc:
            dialogs.show_error(self, "Cannot open the run", str(exc))
            return False
        self.form.set_config(config, source=store.config_path)
        problems = self.training_view.load_run(store.path)
        self.show_view("training")
        note = f" ({len(problems)} problem(s) reading its log)" if problems else ""
        self.statusBar().showMessage(f"Opened run {store.path.name}{note}", 8000)
        return True

    # -- training control ---------------------------------------------------------------------
    @Slot()
    def start_training(self) -> None:
        if self.session.running:
            if self.session.paused:
                self.session.unpause()
            return
        if not self.form.is_valid():
            errors = self.form.errors()
            self.statusBar().showMessage(
                "Cannot start: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), 10000
            )
            return
        config = self.form.config()
        try:
            config.validate()
        except WorkbenchError as exc:
            self.statusBar().showMessage(f"Cannot start: {exc}", 10000)
            return
        self._begin_session(f"Loading {config.data.dataset} data…", config)
        self.session.start(config, self.context.runs_dir())

    @Slot(str)
    def resume_training(self, run_dir: str) -> None:
        """Continue a stopped or interrupted run (from the Runs view)."""
        if self.session.running:
            self.statusBar().showMessage(
                "A run is training; stop it before resuming another", 10000
            )
            return
        from workbench.engine.runs import RunStore

        try:
            config = RunStore(run_dir).load_config()
        except WorkbenchError as exc:
            self.statusBar().showMessage(f"Cannot resume: {exc}", 10000)
            return
        self.form.set_config(config, source=Path(run_dir) / "config.toml")
        self._begin_session(f"Resuming {Path(run_dir).name}: loading data…", config)
        self.session.resume(run_dir)

    def _begin_session(self, loading_text: str, config: ExperimentConfig) -> None:
        self._phase = "loading"
        # the plots are built now, while the data load, rather than when training starts
        self.training_view.begin_run("new run", "", config.data.dataset == "sinusoid")
        self._iteration, self._total, self._run_dir = 0, 0, ""
        self.meter.reset()
        self.training_view.set_loading(loading_text)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("loading %p%")
        self.form.set_editable(False)
        self.show_view("training")
        self.statusBar().showMessage(loading_text)

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
        self._phase = "stopping"
        self.session.stop()
        self.statusBar().showMessage(
            "Stopping after the current iteration and saving a checkpoint…"
        )
        self._update_controls()

    @Slot()
    def toggle_start_pause(self) -> None:
        if self.session.running:
            self.toggle_pause()
        else:
            self.start_training()

    def _on_space(self) -> None:
        """Space starts/pauses, unless the focused widget uses Space itself (the form's check
        boxes, any button or list): then the key goes to that widget."""
        focus = QApplication.focusWidget()
        ours = (self.start_button, self.pause_button, self.stop_button)
        consumes = (
            QAbstractButton,
            QComboBox,
            QAbstractItemView,
            QAbstractSlider,
            QAbstractSpinBox,
            QLineEdit,
        )
        editable_text = isinstance(focus, (QTextEdit, QPlainTextEdit)) and not focus.isReadOnly()
        if (
            focus is not None
            and focus not in ours
            and (self.form.isAncestorOf(focus) or isinstance(focus, consumes) or editable_text)
        ):
            self.space_shortcut.setEnabled(False)  # or the forwarded key would trigger us again
            try:
                for kind in (QEvent.KeyPress, QEvent.KeyRelease):
                    QApplication.sendEvent(focus, QKeyEvent(kind, Qt.Key_Space, Qt.NoModifier, " "))
            finally:
                self.space_shortcut.setEnabled(True)
            return
        self.toggle_start_pause()

    # -- from the training session (GUI thread) ---------------------------------------------------
    @Slot(object, str, str, int, int, object)
    def _on_ready(
        self, trainer: Any, run_dir: str, device: str, iteration: int, total: int, history: list
    ) -> None:
        self._phase = "stopping" if self._phase == "stopping" else "training"
        self._run_dir = run_dir
        self._iteration, self._total = iteration, total
        self.meter.reset()
        self.meter.update(iteration)
        self.context.set_live_trainer(trainer)
        self.device_label.setText(f"Device: {device}")
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(iteration)
        self.progress.setFormat("%p%")
        self.training_view.name_run(
            Path(run_dir).name if run_dir else "unsaved run", run_dir, history or None
        )
        self.statusBar().showMessage(f"Training {Path(run_dir).name}", 5000)
        if run_dir:
            self.context.trainingStarted.emit(run_dir)
        self._update_controls()

    @Slot(float, str)
    def _on_data_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        text = f"Loading data: {message}"
        self.training_view.set_loading(text)
        self.statusBar().showMessage(text)

    @Slot(object)
    def _on_event(self, event: ev.TrainerEvent) -> None:
        """Only numbers here (the status bar redraws on its own timer)."""
        if event.kind == ev.ITERATION:
            self._iteration, self._total = event.iteration, event.total
            self.meter.update(event.iteration)

    @Slot(bool)
    def _on_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(
            self.style().standardIcon(QStyle.SP_MediaPlay if paused else QStyle.SP_MediaPause)
        )
        self.meter.reset()
        if paused:
            self.statusBar().showMessage("Paused; press Resume (or Space) to continue")
        else:
            self.meter.update(self._iteration)
            self.statusBar().showMessage("Training resumed", 3000)

    @Slot(str, str)
    def _on_finished(self, run_dir: str, status: str) -> None:
        self._phase = "idle"
        self.context.set_live_trainer(None)
        self.form.set_editable(True)
        self.training_view.set_loading("")
        if not run_dir:
            self.training_view.discard_run()
        self._on_paused(False)
        self.meter.reset()
        if self.progress.maximum() == 1000 and not run_dir:  # ended while loading data
            self.progress.setValue(0)
        self.progress.setFormat("done" if status == ev.FINISHED else f"{status} (%p%)")
        self._update_controls()
        self._update_status()
        if run_dir:
            self.context.trainingFinished.emit(run_dir, status)
        name = Path(run_dir).name if run_dir else "the run"
        messages = {
            ev.FINISHED: f"Finished {name}",
            ev.STOPPED: f"Stopped {name}; a checkpoint "
            "was saved and it can be resumed from the Runs view",
            ev.FAILED: f"Training failed ({name})" if run_dir else "Training could not start",
        }
        self.statusBar().showMessage(messages.get(status, status), 15000)
        if status == ev.FAILED:
            message, details = self.session.last_error or ("training failed", "")
            title = "Training failed" if run_dir else "Training could not start"
            dialogs.show_error(self, title, message, details)

    # -- context requests --------------------------------------------------------------------
    @Slot(str)
    def show_view(self, name: str) -> None:
        view = self.views.get(name)
        if view is not None:
            self.tabs.setCurrentWidget(view)

    @Slot(object)
    def _open_episode_in_adaptation(self, payload: object) -> None:
        self.adaptation_view.show_episode(payload)
        self.tabs.setCurrentWidget(self.adaptation_view)

    @Slot(list)
    def _overlay_runs(self, paths: list) -> None:
        problems = self.training_view.set_overlay_runs([str(p) for p in paths])
        self.show_view("training")
        note = f" ({len(problems)} problem(s) reading logs)" if problems else ""
        self.statusBar().showMessage(f"Comparing {len(paths)} runs{note}", 8000)

    # -- theme ------------------------------------------------------------------------------------
    def set_theme(self, name: str, presentation: bool = False) -> None:
        """Light or dark, with or without presentation mode, for the window and every plot."""
        theme = get_theme(name, presentation)
        was_presenting = getattr(self, "_presentation", False)
        self._theme_name, self._presentation = theme.name, bool(presentation)
        if presentation and not was_presenting:  # the views get the whole width for a seminar
            self._dock_was_visible = self.dock.isVisible() or not self.isVisible()
            self.dock.hide()
        elif was_presenting and not presentation and getattr(self, "_dock_was_visible", True):
            self.dock.show()
        app = QApplication.instance()
        if app is not None:
            apply_application_theme(app, theme)
        self.context.set_theme(theme)
        self.form.apply_theme(theme)
        for view in self.views.values():
            view.apply_theme(theme)
        self.invalid_label.setStyleSheet(f"color: {theme.bad};")
        self.light_action.setChecked(theme.name == "light")
        self.dark_action.setChecked(theme.name == "dark")
        self.presentation_action.setChecked(bool(presentation))
        self.settings.setValue("view/theme", theme.name)
        self.settings.setValue("view/presentation", "true" if presentation else "false")

    # -- help -------------------------------------------------------------------------------------
    def open_user_guide(self) -> None:
        if README.exists():
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(README)))
        else:
            self.statusBar().showMessage(
                f"The user guide is the README.md of the project (not found at {README})", 10000
            )

    def show_about(self) -> None:
        dialogs.show_about(
            self,
            (
                f"<b>{APP_NAME}</b> {workbench.__version__}<br><br>"
                "Train, inspect and demonstrate few-shot meta-learning: MAML and its relatives, "
                "Prototypical Networks, Reptile and a fine-tuning baseline, on embedded glyphs, "
                "sinusoids, Omniglot, mini-ImageNet or your own folders.<br><br>"
                "The same engine runs without the window: <code>workbench train demo</code>.<br>"
                "License: MIT."
            ),
        )

    # -- status bar and buttons -------------------------------------------------------------------
    def _update_controls(self) -> None:
        running = self.session.running
        valid = self.form.is_valid()
        self.start_button.setEnabled(not running and valid)
        self.start_action.setEnabled(not running and valid)
        self.pause_button.setEnabled(running and self._phase != "stopping")
        self.pause_action.setEnabled(running and self._phase != "stopping")
        self.stop_button.setEnabled(running and self._phase != "stopping")
        self.stop_action.setEnabled(running and self._phase != "stopping")
        if valid or running:
            self.invalid_label.hide()
        else:
            count = len(self.form.errors())
            self.invalid_label.setText(
                "Start is disabled: the field marked in red above needs a valid value."
                if count == 1
                else f"Start is disabled: {count} fields marked in red above need valid values."
            )
            self.invalid_label.show()

    @Slot()
    def _update_status(self) -> None:
        if self._phase in ("training", "stopping") or (self._total and not self.session.running):
            total = self._total
            self.iteration_label.setText(f"Iteration {self._iteration:,} / {total:,}")
            if self.session.running and not self.session.paused and self.meter.rate:
                self.rate_label.setText(f"{self.meter.rate:.1f} it/s")
                self.eta_label.setText(
                    f"ETA {format_duration(self.meter.eta(self._iteration, total))}"
                )
            elif self.session.paused:
                self.rate_label.setText("paused")
                self.eta_label.setText("ETA –")
            elif not self.session.running:
                self.rate_label.setText("– it/s")
                self.eta_label.setText("ETA –")
            if self.progress.maximum() == max(1, total):
                self.progress.setValue(self._iteration)

    def _update_title(self) -> None:
        form = self.form
        source = form.preset_name or (form.source_path.name if form.source_path else "")
        self.setWindowTitle(f"{APP_NAME} — {source}" if source else APP_NAME)

    # -- window state -----------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, (QByteArray, bytes)) and self.restoreGeometry(QByteArray(geometry)):
            pass
        else:
            self.resize(1280, 800)
        if isinstance(state, (QByteArray, bytes)) and self.restoreState(QByteArray(state)):
            return
        self.resizeDocks([self.dock], [360], Qt.Horizontal)

    def save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for view in self.views.values():
            view.save_state()
        self.form.store(self.settings)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """During training, ask; then stop (a checkpoint is saved), join the thread, and close."""
        if self.session.running:
            if not dialogs.confirm_stop_training(self):
                event.ignore()
                return
            self.statusBar().showMessage("Stopping and saving a checkpoint…")
            QApplication.processEvents()
            self.session.shutdown()
        for view in self.views.values():
            view.shutdown()
        self.save_window_state()
        event.accept()
