"""The main window: the Experiment panel, the four views, menus, shortcuts and the status bar.

The window assembles its parts: the Experiment panel (`experiment.panel`) in a dock, the views
in tabs, the menus (`menus`), the status bar (`training.status_bar`) and the one training
session with what follows it (`training.control`). It wires what the views ask for through the `GuiContext`
(open an episode in the adaptation viewer, clone a run's config, overlay runs, resume a run,
switch view) to the view that can do it; views never hold references to each other.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QTabWidget, QWidget

from workbench.config import ExperimentConfig
from workbench.errors import WorkbenchError
from workbench.gui import APP_NAME, dialogs
from workbench.gui.adaptation.view import AdaptationView
from workbench.gui.context import GuiContext
from workbench.gui.episodes.view import EpisodesView
from workbench.gui.experiment.dock import ExperimentDock
from workbench.gui.experiment.form import ConfigForm
from workbench.gui.experiment.panel import ExperimentPanel
from workbench.gui.features.view import FeaturesView
from workbench.gui.menus import build_menus
from workbench.gui.runs.view import RunsView
from workbench.gui.sweeps.view import SweepsView
from workbench.gui.theme import apply_application_theme, get_theme
from workbench.gui.training.control import TrainingControl
from workbench.gui.training.status_bar import TrainingStatusBar
from workbench.gui.training.view import TrainingView
from workbench.gui.view import View

#: the views, in tab order (each names itself, its shortcut and tooltip: see `View`)
VIEW_CLASSES: tuple[type[View], ...] = (
    TrainingView,
    EpisodesView,
    AdaptationView,
    RunsView,
    FeaturesView,
    SweepsView,
)


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
        self._presentation = False
        self._dock_was_visible = True

        self.form = ConfigForm()
        self.form.restore(self.settings)
        self.context.set_config_provider(self.form.config)
        self.panel = ExperimentPanel(self.form)
        self.dock = ExperimentDock(self.panel, self, self.settings)
        self._build_views()
        self.status = TrainingStatusBar(self)
        self.setStatusBar(self.status)
        self.training_control = TrainingControl(
            self, self.panel, self.status, self.training_view, self.context, self.show_view
        )
        self.session = self.training_control.session
        self.theme_actions = build_menus(self)
        self._connect()

        theme_name = str(self.settings.value("view/theme", "light"))
        presentation = str(self.settings.value("view/presentation", "false")).lower() == "true"
        self.set_theme(theme_name, presentation)
        self._restore_geometry()
        self._update_title()

    # -- construction --------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views: dict[str, View] = {}
        for cls in VIEW_CLASSES:
            view = cls(self.context, self)
            self.views[cls.name] = view
            index = self.tabs.addTab(view, cls.title)
            self.tabs.setTabToolTip(index, cls.tooltip)
        training_view, adaptation_view = self.views["training"], self.views["adaptation"]
        assert isinstance(training_view, TrainingView)
        assert isinstance(adaptation_view, AdaptationView)
        self.training_view, self.adaptation_view = training_view, adaptation_view
        self.setCentralWidget(self.tabs)

    def _connect(self) -> None:
        self.form.configChanged.connect(self._update_title)
        self.form.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.tabs.currentChanged.connect(self._follow_view)
        c = self.context
        c.openEpisodeInAdaptation.connect(self._open_episode_in_adaptation)
        c.cloneConfig.connect(self.load_config)
        c.overlayRuns.connect(self._overlay_runs)
        c.resumeRun.connect(self.training_control.resume_training)
        c.showView.connect(self.show_view)
        c.statusMessage.connect(lambda text: self.statusBar().showMessage(text, 8000))

    # -- the experiment -------------------------------------------------------------------------
    @Slot(object)
    def load_config(self, config: ExperimentConfig) -> None:
        """Put a config (a cloned run's, a file's) in the form."""
        self.form.set_config(config)
        self.dock.reveal()
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

    # -- context requests --------------------------------------------------------------------
    @Slot(str)
    def show_view(self, name: str) -> None:
        view = self.views.get(name)
        if view is not None:
            self.tabs.setCurrentWidget(view)

    def _follow_view(self, _index: int) -> None:
        """Narrow the Experiment panel on views that do not edit the experiment (as the user
        last chose; presentation mode hides it altogether)."""
        view = self.tabs.currentWidget()
        if isinstance(view, View):
            self.dock.follow_view(view.edits_experiment)

    @Slot(object)
    def _open_episode_in_adaptation(self, payload: object) -> None:
        self.adaptation_view.show_episode(payload)  # type: ignore[arg-type]
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
        was_presenting = self._presentation
        self._presentation = bool(presentation)
        if presentation and not was_presenting:  # the views get the whole width for a seminar
            self._dock_was_visible = self.dock.isVisible() or not self.isVisible()
            self.dock.hide()
        elif was_presenting and not presentation and self._dock_was_visible:
            self.dock.show()
        app = QApplication.instance()
        if app is not None:
            apply_application_theme(app, theme)
        self.context.set_theme(theme)
        self.panel.apply_theme(theme)
        for view in self.views.values():
            view.apply_theme(theme)
        actions = self.theme_actions
        actions.light.setChecked(theme.name == "light")
        actions.dark.setChecked(theme.name == "dark")
        actions.presentation.setChecked(bool(presentation))
        self.settings.setValue("view/theme", theme.name)
        self.settings.setValue("view/presentation", "true" if presentation else "false")

    def _update_title(self) -> None:
        form = self.form
        source = form.preset_name or (form.source_path.name if form.source_path else "")
        self.setWindowTitle(f"{APP_NAME} — {source}" if source else APP_NAME)

    # -- window state -----------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if not (
            isinstance(geometry, (QByteArray, bytes)) and self.restoreGeometry(QByteArray(geometry))
        ):
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
        if not self.training_control.stop_before_closing():
            event.ignore()
            return
        for view in self.views.values():
            view.shutdown()
        self.save_window_state()
        event.accept()
