"""The Episodes view: browse the N-way K-shot tasks a dataset produces, one index at a time.

What it is for: checking that a dataset loaded correctly, showing what "5-way 1-shot" means, and
showing a seminar why a task is hard. ``sampler[i]`` is deterministic, so an index names one
episode for good; the view only samples on index changes, and loaded splits stay in the shared
cache of loaded splits (which the trainer and the adaptation viewer use too), so stepping is
instant. Loading a split (seconds the first time) runs in the background (`SplitLoader`); a
missing or broken dataset shows the loader's message in the view.

Layout: settings and split counts on the left (`EpisodesSidebar`); navigation
(`EpisodeNavigation`), the episode (support grid above the query grid, or the sinusoid plot) and
a side panel with the clicked image on the right (`EpisodeDisplay`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from workbench.config import DataConfig, ExperimentConfig
from workbench.data.class_images import ClassImages
from workbench.data.episodes import Episode, EpisodeSampler
from workbench.data.sinusoid import AMPLITUDE, PHASE, X_RANGE, SinusoidSampler
from workbench.data.split_cache import SplitCache, SplitKey
from workbench.data.summary import SplitSummary
from workbench.engine.episode_seeds import episode_seed
from workbench.errors import WorkbenchError
from workbench.gui.context import GuiContext
from workbench.gui.episodes.display import EpisodeDisplay
from workbench.gui.episodes.export import (
    ask_export_path,
    default_export_name,
    remember_export_folder,
    save_png,
)
from workbench.gui.episodes.loading import LoadProgress, SplitLoader
from workbench.gui.episodes.navigation import EpisodeNavigation
from workbench.gui.episodes.settings import DATASET_TITLES
from workbench.gui.episodes.sidebar import EpisodesSidebar
from workbench.gui.theme import Theme
from workbench.gui.view import View
from workbench.gui.widgets import sized_export
from workbench.gui.widgets.inline_message import InlineMessage
from workbench.gui.widgets.sized_export import SizedExport

RELOAD_DELAY_MS = 150  # settle time after a settings change, so typing "20" loads once
SHORT_NAMES = {
    "glyphs": "glyphs",
    "sinusoid": "sinusoid",
    "omniglot": "Omniglot",
    "miniimagenet": "mini-ImageNet",
    "folder": "folder",
}
SINUSOID_NOTE = (
    f"Sinusoid tasks are generated on the fly, no images to count: amplitude "
    f"{AMPLITUDE[0]:g}–{AMPLITUDE[1]:g}, phase 0–π ({PHASE[1]:.2f}), x in "
    f"[{X_RANGE[0]:g}, {X_RANGE[1]:g}]; train, validation and test draw from separate "
    "random streams."
)


class EpisodesView(View):
    """The episode browser. ``EpisodesView(context)``; `apply_theme(theme)`; see the module doc.

    ``splits`` is the cache of loaded splits to browse from (default: the shared one).
    For tests and tools: `episode()` is the episode shown, `grid` the thumbnail grid (its
    ``images("support")`` are the pictures shown), `nav` the navigation row, `export_png(path)`,
    `wait_until_idle()`.
    """

    name = "episodes"
    title = "Episodes"
    shortcut = "Ctrl+2"
    tooltip = "Browse the N-way K-shot episodes the dataset produces (Ctrl+2)"

    def __init__(
        self,
        context: GuiContext,
        parent: QWidget | None = None,
        *,
        splits: SplitCache | None = None,
    ) -> None:
        super().__init__(context, parent)
        self._sampler: EpisodeSampler | SinusoidSampler | None = None
        self._episode: Episode | None = None
        self._summary_key: tuple | None = None
        self._started = False

        self.loader = SplitLoader(splits, self)
        self.loader.runningChanged.connect(self._on_running_changed)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.loadFailed.connect(self._on_load_failed)
        self.loader.crashed.connect(self._on_load_crashed)
        self.loader.summariesReady.connect(self._on_summaries)
        self.loader.summariesFailed.connect(self._on_summaries_failed)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)

        self._build()
        self._restore_settings()
        self.sidebar.explain(self.form.data_config().dataset == "sinusoid")
        self.form.dataChanged.connect(self._schedule_reload)
        self.form.episodeChanged.connect(self._schedule_reload)
        self.form.copyRequested.connect(self.copy_from_experiment)
        self.apply_theme(context.theme)

    # ----------------------------------------------------------------------------------------
    # Construction
    # ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.sidebar = EpisodesSidebar()
        self.form, self.splits = self.sidebar.form, self.sidebar.splits
        self.nav = EpisodeNavigation()
        self.nav.indexChanged.connect(self._on_index_changed)
        self.nav.adaptRequested.connect(self.open_in_adaptation)
        self.nav.exportRequested.connect(self._export_clicked)
        self.nav.sizedExportRequested.connect(lambda: self._export_clicked(sized=True))
        self.load_progress = LoadProgress()
        self.loader.progress.connect(self.load_progress.report)
        self.message = InlineMessage()
        self.display = EpisodeDisplay()
        self.grid_area, self.grid = self.display.grid_area, self.display.grid
        self.plot, self.detail = self.display.plot, self.display.detail
        self.placeholder, self.stack = self.display.placeholder, self.display.stack

        main = QVBoxLayout()
        main.setContentsMargins(4, 8, 8, 8)
        main.addWidget(self.nav)
        main.addWidget(self.load_progress)
        main.addWidget(self.message)
        main.addWidget(self.display, 1)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.sidebar)
        outer.addLayout(main, 1)

        self.nav.install_keys(self)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        esc.activated.connect(self.detail.hide_panel)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._update_buttons()

    def sizeHint(self) -> QSize:
        return QSize(1200, 760)

    # ----------------------------------------------------------------------------------------
    # Settings
    # ----------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        """Last session's browser settings; the Experiment's data settings the first time."""
        s = self.context.settings
        raw = s.value("episodes/data", "")
        data = None
        if raw:
            try:
                base = ExperimentConfig()
                for name, value in json.loads(str(raw)).items():
                    base.set(f"data.{name}", value)
                data = base.data
            except (ValueError, WorkbenchError):
                data = None  # a settings file from another version: start from the Experiment
        if data is None:
            config = self.context.current_config()
            self.form.set_values(config.data, "train", episode_seed(config, "train"))
        else:
            split = str(s.value("episodes/split", "train"))
            self.form.set_values(data, split, int(s.value("episodes/seed", 0)))
        self.nav.set_index_quietly(int(s.value("episodes/index", 0)))

    def _save_settings(self) -> None:
        s = self.context.settings
        s.setValue("episodes/data", json.dumps(dataclasses.asdict(self.form.data_config())))
        s.setValue("episodes/split", self.form.current_split())
        s.setValue("episodes/seed", self.form.current_seed())
        s.setValue("episodes/index", self.index())

    def copy_from_experiment(self) -> None:
        """Take the data settings of the Experiment form (``context.current_config()``)."""
        self.form.set_from_experiment(self.context.current_config())

    def data_config(self) -> DataConfig:
        return self.form.data_config()

    def set_data(
        self, data: DataConfig, split: str = "train", seed: int = 0, index: int | None = None
    ) -> None:
        """Browse these settings (programmatic equivalent of filling the form)."""
        if index is not None:
            self.nav.set_index_quietly(index)
        self.form.set_values(data, split, seed)

    # ----------------------------------------------------------------------------------------
    # Loading
    # ----------------------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._started:  # load on first show, not at application start
            self._started = True
            self._schedule_reload()

    def _schedule_reload(self) -> None:
        self._started = True
        self._reload_timer.start()

    def reload(self) -> None:
        """Apply the settings: reuse a loaded split or load it in the background, then show."""
        self._reload_timer.stop()
        self._started = True
        self._save_settings()
        data, split = self.form.data_config(), self.form.current_split()
        self.sidebar.explain(data.dataset == "sinusoid")
        if data.dataset == "sinusoid":
            self.loader.cancel()
            self.message.clear()
            seed = self.form.current_seed()
            self._set_sampler(SinusoidSampler(data.shots, data.queries, seed, split))
            self.splits.set_message(SINUSOID_NOTE)
            return
        images = self.loader.cached(data, split)
        if images is not None:
            self.loader.cancel()
            self._use_images(SplitKey.of(data, split), images)
            return
        if not self.loader.load(data, split):
            return  # already on its way; the shape and seed are read when it arrives
        self._sampler, self._episode = None, None
        self.message.clear()
        title = DATASET_TITLES.get(data.dataset, data.dataset)
        self.display.show_text(f"Loading {title} ({split} split)…")
        self.load_progress.start(f"Loading {data.dataset} ({split})…")
        self._update_buttons()

    def _on_running_changed(self, running: bool) -> None:
        self.load_progress.setVisible(running)
        self._update_buttons()

    def _on_loaded(self, key: SplitKey, images: ClassImages) -> None:
        if SplitKey.of(self.form.data_config(), self.form.current_split()) == key:
            self._use_images(key, images)
        else:
            self.reload()  # the settings changed while it loaded

    def _on_load_failed(self, message: str) -> None:
        self._show_error(message)
        self._summary_key = None
        self.splits.set_message(
            "The split could not be loaded, so the dataset's splits are "
            "not counted; fix the problem above and they will be."
        )

    def _on_load_crashed(self, message: str, details: str) -> None:
        self._show_error(f"Loading the dataset failed unexpectedly: {message}", details)
        self._summary_key = None
        self.splits.set_message(
            "The split could not be loaded, so the dataset's splits are not counted."
        )

    def _show_error(self, message: str, details: str = "") -> None:
        self._sampler, self._episode = None, None
        self.message.show_error(message, details)
        self.display.show_text("No episode to show: see the message above.", clear_grid=True)
        self._update_buttons()

    def _use_images(self, key: SplitKey, images: ClassImages) -> None:
        data = self.form.data_config()
        try:
            sampler = EpisodeSampler(
                images, data.ways, data.shots, data.queries, self.form.current_seed()
            )
        except WorkbenchError as exc:
            self._show_error(str(exc))
        else:
            self.message.clear()
            self._set_sampler(sampler)
        self._count_splits(key)

    def _set_sampler(self, sampler: EpisodeSampler | SinusoidSampler) -> None:
        self._sampler = sampler
        self._show_episode()

    # ----------------------------------------------------------------------------------------
    # Split summaries (class balance)
    # ----------------------------------------------------------------------------------------
    def _count_splits(self, key: SplitKey) -> None:
        if key.dataset_key == self._summary_key:
            return
        self._summary_key = key.dataset_key
        if not self.loader.count(self.form.data_config(), key.dataset_key):
            self.splits.set_pending("counting classes and images…")

    def _on_summaries(self, dataset_key: tuple, summaries: list[SplitSummary]) -> None:
        if dataset_key == self._summary_key:
            self.splits.set_summaries(summaries)

    def _on_summaries_failed(self, message: str) -> None:
        self.splits.set_summaries([], f"Counting failed: {message}")
        self._summary_key = None

    # ----------------------------------------------------------------------------------------
    # Episodes
    # ----------------------------------------------------------------------------------------
    def index(self) -> int:
        return self.nav.index()

    def set_index(self, index: int) -> None:
        self.nav.set_index(index)

    def next_episode(self) -> None:
        self.nav.next()

    def previous_episode(self) -> None:
        self.nav.previous()

    def _on_index_changed(self, index: int) -> None:
        self.context.settings.setValue("episodes/index", index)
        self._show_episode()

    def episode(self) -> Episode | None:
        """The episode shown now (None while loading or after an error)."""
        return self._episode

    def sampler(self) -> EpisodeSampler | SinusoidSampler | None:
        return self._sampler

    def _title(self, episode: Episode) -> str:
        data = self.form.data_config()
        name = SHORT_NAMES.get(data.dataset, data.dataset)
        if data.dataset == "folder" and data.path:
            name = f"folder {Path(data.path).name}"
        rotated = " + rotations" if data.rotations and data.dataset != "sinusoid" else ""
        parts = [
            f"Episode {episode.index}",
            f"{name}{rotated}, {self.form.current_split()}",
            f"{episode.ways}-way {episode.shots}-shot, {episode.queries} queries/class",
            f"seed {self.form.current_seed()}",
        ]
        # a long title wraps between the parts, never inside one ("seed" / "0")
        return "  ·  ".join(p.replace(" ", "\u00a0") for p in parts)

    def _show_episode(self) -> None:
        self._update_buttons()
        if self._sampler is None:
            return
        try:
            episode = self._sampler[self.index()]
        except WorkbenchError as exc:
            self._show_error(str(exc))
            return
        self._episode = episode
        self.display.show_episode(episode, self._title(episode))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.nav.update_enabled(self._episode is not None and self._sampler is not None)

    # ----------------------------------------------------------------------------------------
    # Actions
    # ----------------------------------------------------------------------------------------
    def adaptation_payload(self) -> dict[str, Any] | None:
        """What "Open in Adaptation view" sends: the Experiment's config with this browser's
        data settings, and the episode with the split, seed and index that reproduce it."""
        if self._episode is None:
            return None
        config = self.context.current_config()
        config.data = self.form.data_config()
        return dict(
            config=config,
            split=self.form.current_split(),
            seed=self.form.current_seed(),
            index=self.index(),
            episode=self._episode,
        )

    def open_in_adaptation(self) -> None:
        payload = self.adaptation_payload()
        if payload is None:
            return
        self.context.openEpisodeInAdaptation.emit(payload)
        self.context.showView.emit("adaptation")

    def default_export_name(self) -> str:
        return default_export_name(self.form.data_config(), self.form.current_split(), self.index())

    def export_png(self, path: str | Path, size: SizedExport | None = None) -> Path:
        """Save the picture of the shown episode (the whole grid, or the plot) as PNG, as
        shown or at ``size``."""
        if self._episode is None:
            raise WorkbenchError("no episode is shown yet, so there is nothing to export")
        return save_png(self.display.render_image(size), path)

    def _export_clicked(self, sized: bool = False) -> None:
        size = None
        if sized:
            plot = self._episode is not None and self._episode.is_regression
            size = sized_export.ask_sized_export(self, SizedExport(), plot=plot)
            if size is None:
                return
        chosen = ask_export_path(self, self.context.settings, self.default_export_name())
        if not chosen:
            return
        try:
            saved = self.export_png(chosen, size)
        except WorkbenchError as exc:
            self.message.show_error(str(exc))
            return
        remember_export_folder(self.context.settings, saved)
        self.context.statusMessage.emit(f"Saved {saved}")

    # ----------------------------------------------------------------------------------------
    # Theme, tools, shutdown
    # ----------------------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        self.display.apply_theme(theme)
        self.message.apply_theme(theme)
        self.sidebar.apply_theme(theme)

    def is_busy(self) -> bool:
        return self._reload_timer.isActive() or self.loader.is_busy()

    def wait_until_idle(self, timeout: float = 60.0) -> bool:
        """Apply pending settings, then wait for loading (for the screenshot tool and tests);
        True when an episode or an error is shown."""
        if self._reload_timer.isActive() or not self._started:
            self.reload()
        idle = super().wait_until_idle(timeout)
        return idle and (self._episode is not None or bool(self.message.text()))

    def prepare_screenshot(self) -> None:
        """Make sure an episode is loaded and shown (called by the screenshot tool)."""
        self.wait_until_idle()
        if self._episode is None and not self.message.text():
            self.reload()
            self.wait_until_idle()
        self.display.refit()

    def shutdown(self, msecs: int = 30000) -> None:
        """Stop listening to background jobs and wait for them (window close, tests)."""
        self._reload_timer.stop()
        self.loader.shutdown(msecs)


__all__ = ["EpisodesView"]
