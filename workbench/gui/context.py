"""What the views of the main window share, and how they ask each other for things.

Views never hold references to each other: the episode browser asks the context to open an
episode in the adaptation viewer, the runs view asks it to overlay runs in the training view,
and the main window wires those requests to the right view. Tests build a context with a
temporary `QSettings` and a fake config provider, and test one view alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from workbench.config import ExperimentConfig
from workbench.gui.theme import LIGHT, Theme


class GuiContext(QObject):
    """Shared state (settings, runs folder, theme, the running trainer) and cross-view requests."""

    runsDirChanged = Signal(str)
    themeChanged = Signal(object)
    trainingStarted = Signal(str)  # run folder
    trainingFinished = Signal(str, str)  # run folder, status
    # requests from one view to another (the main window connects them)
    openEpisodeInAdaptation = Signal(object)  # dict(config, split, seed, index, episode)
    cloneConfig = Signal(object)  # ExperimentConfig to load into the form
    overlayRuns = Signal(list)  # run folder paths (str) to overlay in the Training view
    resumeRun = Signal(str)  # run folder to resume training from
    showView = Signal(str)  # "training" | "episodes" | "adaptation" | "runs"
    statusMessage = Signal(str)  # a short message for the status bar

    def __init__(
        self,
        settings: QSettings,
        config_provider: Callable[[], ExperimentConfig] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._config_provider = config_provider or ExperimentConfig
        self.theme: Theme = LIGHT
        self._trainer: Any = None

    # -- the experiment form's config ---------------------------------------------------------
    def set_config_provider(self, provider: Callable[[], ExperimentConfig]) -> None:
        self._config_provider = provider

    def current_config(self) -> ExperimentConfig:
        """A copy of the config in the Experiment form (possibly invalid: call validate())."""
        return self._config_provider().copy()

    # -- runs folder ----------------------------------------------------------------------------
    def runs_dir(self) -> Path:
        from workbench.engine.runs import default_runs_dir

        value = self.settings.value("runs/dir", "")
        return Path(str(value)) if value else default_runs_dir()

    def set_runs_dir(self, path: str | Path) -> None:
        self.settings.setValue("runs/dir", str(path))
        self.runsDirChanged.emit(str(path))

    # -- theme ------------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.themeChanged.emit(theme)

    # -- the trainer running now (for a snapshot of its current model) --------------------------
    def live_trainer(self) -> Any:
        return self._trainer

    def set_live_trainer(self, trainer: Any) -> None:
        self._trainer = trainer
