"""The Episodes view: browse the N-way K-shot tasks a dataset produces, one index at a time.

What it is for: checking that a dataset loaded correctly, showing what "5-way 1-shot" means, and
showing a seminar why a task is hard. ``sampler[i]`` is deterministic, so an index names one
episode for good; the view only samples on index changes and keeps loaded splits in memory, so
stepping is instant. Loading a split (seconds the first time) runs in a `BackgroundTask`; a
missing or broken dataset shows the loader's message in the view.

Layout: settings and split counts on the left; navigation, the episode (support grid above the
query grid, or the sinusoid plot) and a side panel with the clicked image on the right.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.config import DataConfig, ExperimentConfig
from workbench.data.class_images import ClassImages
from workbench.data.episodes import Episode, EpisodeSampler
from workbench.data.sinusoid import AMPLITUDE, PHASE, X_RANGE, SinusoidSampler
from workbench.errors import WorkbenchError
from workbench.gui.context import GuiContext
from workbench.gui.episodes.detail import ImageDetailPanel
from workbench.gui.episodes.plot import SinusoidEpisodePlot
from workbench.gui.episodes.settings import DATASET_TITLES, EpisodeSettingsForm, experiment_seed
from workbench.gui.episodes.splits import SUMMARY_SPLITS, SplitSummary, SplitSummaryTable, summarize
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.view import View
from workbench.gui.widgets.image_grid import SUPPORT, ImageGridArea
from workbench.gui.widgets.inline_message import InlineMessage
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

LoaderFn = Callable[[DataConfig, str, Callable[[float, str], None] | None], ClassImages]

MAX_INDEX = 9_999_999
CACHED_SPLITS = 4  # loaded splits kept in memory (mini-ImageNet train alone is ~800 MB)
RELOAD_DELAY_MS = 150  # settle time after a settings change, so typing "20" loads once
SIDEBAR_WIDTH = 292
ABOUT_CLASSIFICATION = (
    "An N-way K-shot episode is a small classification task: K labelled support images of "
    "each of N classes, drawn afresh for every episode (labels 0..N-1 are given in random "
    "order). The learner adapts on the support set, then classifies the query images.\n\n"
    "Click an image to see it large with its source. Left/Right or Page Up/Down step "
    "through episodes."
)
ABOUT_REGRESSION = (
    "Each task is a sine wave y\u00a0=\u00a0A·sin(x\u00a0−\u00a0φ) with its own amplitude and phase. The learner "
    "sees the K support points (filled), adapts, and is scored on the query points (open).\n\n"
    "Left/Right or Page Up/Down step through tasks."
)
SHORT_NAMES = {
    "glyphs": "glyphs",
    "sinusoid": "sinusoid",
    "omniglot": "Omniglot",
    "miniimagenet": "mini-ImageNet",
    "folder": "folder",
}


def _default_loader(
    data: DataConfig, split: str, progress: Callable[[float, str], None] | None
) -> ClassImages:
    """`workbench.data.registry.load_split`, looked up at call time (tests monkeypatch it)."""
    from workbench.data import registry

    return registry.load_split(data, split, progress)


def _data_key(data: DataConfig, split: str) -> tuple:
    """What identifies a loaded split: everything but the episode shape and seed."""
    return (data.dataset, data.path, data.image_size, data.rotations, data.split_seed, split)


@dataclasses.dataclass
class _Loaded:
    key: tuple
    images: ClassImages | None = None
    error: str = ""


def _progress_adapter(state: TaskState) -> Callable[[float, str], None]:
    """The loaders' ``progress(fraction, message)`` as the task's ``progress(done, total, text)``."""

    def progress(fraction: float, message: str = "") -> None:
        state.progress(int(max(0.0, min(1.0, float(fraction))) * 1000), 1000, message)

    return progress


class EpisodesView(View):
    """The episode browser. ``EpisodesView(context)``; `apply_theme(theme)`; see the module doc.

    For tests and tools: `episode()` is the episode shown, `grid` the thumbnail grid (its
    ``images("support")`` are the pictures shown), `export_png(path)`, `wait_until_idle()`.
    """

    name = "episodes"
    title = "Episodes"
    shortcut = "Ctrl+2"
    tooltip = "Browse the N-way K-shot episodes the dataset produces (Ctrl+2)"

    def __init__(
        self, context: GuiContext, parent: QWidget | None = None, *, loader: LoaderFn | None = None
    ) -> None:
        super().__init__(context, parent)
        self._loader: LoaderFn = loader or _default_loader
        self._theme: Theme = LIGHT
        self._cache: OrderedDict[tuple, ClassImages] = OrderedDict()
        self._summary_cache: dict[tuple, list[SplitSummary]] = {}
        self._sampler: EpisodeSampler | SinusoidSampler | None = None
        self._sampler_key: tuple | None = None
        self._episode: Episode | None = None
        self._loading_key: tuple | None = None
        self._summary_key: tuple | None = None
        self._started = False

        self._load_task = BackgroundTask(self)
        self._load_task.progress.connect(self._on_load_progress)
        self._load_task.finished.connect(self._on_loaded)
        self._load_task.failed.connect(self._on_load_failed)
        self._load_task.runningChanged.connect(self._on_running_changed)
        self._summary_task = BackgroundTask(self)
        self._summary_task.finished.connect(self._on_summaries)
        self._summary_task.failed.connect(self._on_summaries_failed)

        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)

        self._build()
        self._restore_settings()
        regression = self.form.data_config().dataset == "sinusoid"
        self.about.setText(ABOUT_REGRESSION if regression else ABOUT_CLASSIFICATION)
        self.form.dataChanged.connect(self._schedule_reload)
        self.form.episodeChanged.connect(self._schedule_reload)
        self.form.copyRequested.connect(self.copy_from_experiment)
        self.apply_theme(context.theme)

    # ----------------------------------------------------------------------------------------
    # Construction
    # ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.form = EpisodeSettingsForm()
        settings_box = QGroupBox("Episodes")
        QVBoxLayout(settings_box).addWidget(self.form)
        self.splits = SplitSummaryTable()
        splits_box = QGroupBox("Dataset splits")
        QVBoxLayout(splits_box).addWidget(self.splits)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(8, 8, 4, 8)
        side_layout.addWidget(settings_box)
        side_layout.addWidget(splits_box)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setTextFormat(Qt.TextFormat.PlainText)
        about_box = QGroupBox("What you see")
        QVBoxLayout(about_box).addWidget(self.about)
        side_layout.addWidget(about_box)
        side_layout.addStretch(1)
        self.sidebar = QScrollArea()
        self.sidebar.setWidget(side)
        self.sidebar.setWidgetResizable(True)
        self.sidebar.setFrameShape(QFrame.Shape.NoFrame)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sidebar.setFixedWidth(SIDEBAR_WIDTH)

        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip("Previous episode (Left or Page Up)")
        self.prev_button.clicked.connect(self.previous_episode)
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, MAX_INDEX)
        self.index_spin.setPrefix("Episode ")
        self.index_spin.setToolTip(
            "Episode index: the same index always shows the same episode "
            "for the same settings and seed"
        )
        self.index_spin.setKeyboardTracking(False)
        self.index_spin.setMinimumWidth(130)
        self.index_spin.valueChanged.connect(self._on_index_changed)
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next episode (Right or Page Down)")
        self.next_button.clicked.connect(self.next_episode)
        self.adapt_button = QPushButton("Open in Adaptation view")
        self.adapt_button.setToolTip(
            "Adapt a model to this episode step by step in the Adaptation view"
        )
        self.adapt_button.clicked.connect(self.open_in_adaptation)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save a picture of this episode")
        self.export_button.clicked.connect(self._export_clicked)
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addWidget(self.index_spin)
        nav.addWidget(self.next_button)
        nav.addStretch(1)
        nav.addWidget(self.adapt_button)
        nav.addWidget(self.export_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        progress_row = QWidget()
        pr = QHBoxLayout(progress_row)
        pr.setContentsMargins(0, 0, 0, 0)
        pr.addWidget(self.progress)
        pr.addWidget(self.progress_label, 1)
        self.progress_row = progress_row
        self.progress_row.setVisible(False)

        self.message = InlineMessage()

        self.grid_area = ImageGridArea()
        self.grid = self.grid_area.grid
        self.grid.imageClicked.connect(self._on_image_clicked)
        self.plot = SinusoidEpisodePlot()
        self.placeholder = QLabel("Choose a dataset on the left to see its episodes.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.grid_area)
        self.stack.addWidget(self.plot)
        self.detail = ImageDetailPanel()
        self.detail.setVisible(False)
        self.detail.closed.connect(lambda: self.grid.set_selected(None))
        content = QHBoxLayout()
        content.setContentsMargins(0, 0, 0, 0)
        content.addWidget(self.stack, 1)
        content.addWidget(self.detail)

        main = QVBoxLayout()
        main.setContentsMargins(4, 8, 8, 8)
        main.addLayout(nav)
        main.addWidget(self.progress_row)
        main.addWidget(self.message)
        main.addLayout(content, 1)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.sidebar)
        outer.addLayout(main, 1)

        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (
            ((Qt.Key.Key_Left, Qt.Key.Key_PageUp), self.previous_episode),
            ((Qt.Key.Key_Right, Qt.Key.Key_PageDown), self.next_episode),
        ):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(context)
                shortcut.activated.connect(slot)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(context)
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
            self.form.set_values(config.data, "train", experiment_seed(config, "train"))
        else:
            split = str(s.value("episodes/split", "train"))
            self.form.set_values(data, split, int(s.value("episodes/seed", 0)))
        self.index_spin.blockSignals(True)
        self.index_spin.setValue(int(s.value("episodes/index", 0)))
        self.index_spin.blockSignals(False)

    def _save_settings(self) -> None:
        s = self.context.settings
        s.setValue("episodes/data", json.dumps(dataclasses.asdict(self.form.data_config())))
        s.setValue("episodes/split", self.form.current_split())
        s.setValue("episodes/seed", self.form.current_seed())
        s.setValue("episodes/index", self.index_spin.value())

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
            self.index_spin.blockSignals(True)
            self.index_spin.setValue(index)
            self.index_spin.blockSignals(False)
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
        """Apply the settings: reuse a cached split or load it in the background, then show."""
        self._reload_timer.stop()
        self._started = True
        self._save_settings()
        data, split, seed = (
            self.form.data_config(),
            self.form.current_split(),
            self.form.current_seed(),
        )
        self.about.setText(ABOUT_REGRESSION if data.dataset == "sinusoid" else ABOUT_CLASSIFICATION)
        if data.dataset == "sinusoid":
            self._load_task.cancel()
            self._loading_key = None
            self.message.clear()
            self._set_sampler(
                SinusoidSampler(data.shots, data.queries, seed, split), ("sinusoid", split)
            )
            self.splits.set_message(
                f"Sinusoid tasks are generated on the fly, no images to count: amplitude "
                f"{AMPLITUDE[0]:g}–{AMPLITUDE[1]:g}, phase 0–π ({PHASE[1]:.2f}), x in "
                f"[{X_RANGE[0]:g}, {X_RANGE[1]:g}]; train, validation and test draw from separate "
                "random streams."
            )
            return
        key = _data_key(data, split)
        if key in self._cache:
            self._cache.move_to_end(key)
            self._loading_key = None
            self._load_task.cancel()
            self._use_images(key, self._cache[key])
            return
        if key == self._loading_key and self._load_task.running:
            return  # already on its way; the shape and seed are read when it arrives
        self._loading_key = key
        self._sampler, self._sampler_key, self._episode = None, None, None
        self.message.clear()
        self.placeholder.setText(
            f"Loading {DATASET_TITLES.get(data.dataset, data.dataset)} ({split} split)…"
        )
        self.stack.setCurrentWidget(self.placeholder)
        self.detail.setVisible(False)
        self.progress.setRange(0, 0)
        self.progress_label.setText(f"Loading {data.dataset} ({split})…")
        loader = self._loader

        def job(state: TaskState) -> _Loaded:
            try:
                return _Loaded(key, loader(data, split, _progress_adapter(state)))
            except WorkbenchError as exc:  # the user's to fix: the message is the whole story
                return _Loaded(key, error=str(exc))

        self._load_task.start(job)
        self._update_buttons()

    def _on_running_changed(self, running: bool) -> None:
        self.progress_row.setVisible(running)
        self._update_buttons()

    def _on_load_progress(self, done: int, total: int, text: str) -> None:
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        self.progress.setValue(done)
        if text:
            self.progress_label.setText(text)

    def _on_loaded(self, result: object) -> None:
        assert isinstance(result, _Loaded)
        if result.key != self._loading_key:
            return
        self._loading_key = None
        if result.error or result.images is None:
            self._show_error(result.error or "the loader returned nothing")
            self._summary_key = None
            self.splits.set_message(
                "The split could not be loaded, so the dataset's splits are "
                "not counted; fix the problem above and they will be."
            )
            return
        self._cache[result.key] = result.images
        self._cache.move_to_end(result.key)
        while len(self._cache) > CACHED_SPLITS:
            self._cache.popitem(last=False)
        current = _data_key(self.form.data_config(), self.form.current_split())
        if current == result.key:
            self._use_images(result.key, result.images)
        else:
            self.reload()

    def _on_load_failed(self, message: str, details: str) -> None:
        self._loading_key = None
        self._show_error(f"Loading the dataset failed unexpectedly: {message}", details)
        self._summary_key = None
        self.splits.set_message(
            "The split could not be loaded, so the dataset's splits are not counted."
        )

    def _show_error(self, message: str, details: str = "") -> None:
        self._sampler, self._sampler_key, self._episode = None, None, None
        self.message.show_error(message, details)
        self.placeholder.setText("No episode to show: see the message above.")
        self.stack.setCurrentWidget(self.placeholder)
        self.grid.clear()
        self.detail.setVisible(False)
        self._update_buttons()

    def _use_images(self, key: tuple, images: ClassImages) -> None:
        data = self.form.data_config()
        try:
            sampler = EpisodeSampler(
                images, data.ways, data.shots, data.queries, self.form.current_seed()
            )
        except WorkbenchError as exc:
            self._show_error(str(exc))
            self._start_summaries(key)
            return
        self.message.clear()
        self._set_sampler(sampler, key)
        self._start_summaries(key)

    def _set_sampler(self, sampler: EpisodeSampler | SinusoidSampler, key: tuple) -> None:
        self._sampler, self._sampler_key = sampler, key
        self._show_episode()

    # ----------------------------------------------------------------------------------------
    # Split summaries (class balance)
    # ----------------------------------------------------------------------------------------
    def _start_summaries(self, key: tuple) -> None:
        dataset_key = key[:-1]
        if dataset_key == self._summary_key:
            return
        self._summary_key = dataset_key
        if dataset_key in self._summary_cache:
            self.splits.set_summaries(self._summary_cache[dataset_key])
            return
        known: dict[str, SplitSummary] = {}
        for split in SUMMARY_SPLITS:
            images = self._cache.get(dataset_key + (split,))
            if images is not None:
                known[split] = summarize(images, split)
        missing = [s for s in SUMMARY_SPLITS if s not in known]
        if not missing:
            self._finish_summaries(dataset_key, [known[s] for s in SUMMARY_SPLITS])
            return
        self.splits.set_pending("counting classes and images…")
        data = self.form.data_config()
        loader = self._loader

        def job(state: TaskState) -> tuple[tuple, list[SplitSummary]]:
            out = dict(known)
            for split in missing:
                if state.cancelled:
                    break
                try:
                    out[split] = summarize(loader(data, split, None), split)
                except WorkbenchError as exc:
                    out[split] = SplitSummary(split, error=str(exc))
            return dataset_key, [out[s] for s in SUMMARY_SPLITS if s in out]

        self._summary_task.start(job)

    def _finish_summaries(self, dataset_key: tuple, summaries: list[SplitSummary]) -> None:
        self._summary_cache[dataset_key] = summaries
        if dataset_key == self._summary_key:
            self.splits.set_summaries(summaries)

    def _on_summaries(self, result: object) -> None:
        dataset_key, summaries = result  # type: ignore[misc]
        self._finish_summaries(dataset_key, summaries)

    def _on_summaries_failed(self, message: str, details: str) -> None:
        self.splits.set_summaries([], f"Counting failed: {message}")
        self._summary_key = None

    # ----------------------------------------------------------------------------------------
    # Episodes
    # ----------------------------------------------------------------------------------------
    def index(self) -> int:
        return self.index_spin.value()

    def set_index(self, index: int) -> None:
        self.index_spin.setValue(max(0, min(MAX_INDEX, int(index))))

    def next_episode(self) -> None:
        self.set_index(self.index() + 1)

    def previous_episode(self) -> None:
        self.set_index(self.index() - 1)

    def _on_index_changed(self, _value: int) -> None:
        self.context.settings.setValue("episodes/index", self.index_spin.value())
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
        if episode.is_regression:
            self.plot.set_episode(episode)
            self.stack.setCurrentWidget(self.plot)
            self.detail.setVisible(False)
        else:
            selected = self.grid.selected()
            self.grid_area.set_episode(episode, self._title(episode))
            self.stack.setCurrentWidget(self.grid_area)
            if selected is not None and self.detail.isVisible():
                self._on_image_clicked(*selected)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self._episode is not None and self._sampler is not None
        self.prev_button.setEnabled(self.index() > 0)
        self.next_button.setEnabled(self.index() < MAX_INDEX)
        self.adapt_button.setEnabled(has)
        self.export_button.setEnabled(has)

    def _on_image_clicked(self, section: str, index: int) -> None:
        episode = self._episode
        if episode is None or episode.is_regression:
            return
        per = episode.shots if section == SUPPORT else episode.queries
        images = self.grid.images(section)
        sources = episode.support_sources if section == SUPPORT else episode.query_sources
        if index >= len(images):
            return
        self.grid.set_selected(section, index)
        label, position = divmod(index, per)
        name = episode.class_names[label]
        image = images[index]
        channels = "grey" if image.isGrayscale() else "colour"
        total = len(images)
        kind = "Support" if section == SUPPORT else "Query"
        self.detail.show_image(
            image,
            f"{kind} image {index + 1} of {total}",
            f"Class: {name}\nLabel {label}, image {position + 1} of {per} in its row\n"
            f"Episode {episode.index}  ·  {image.width()}×{image.height()} {channels}",
            sources[index] if index < len(sources) else "",
        )

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
        data = self.form.data_config()
        if data.dataset == "sinusoid":
            shape = f"{data.shots}shot"
        else:
            shape = f"{data.ways}w{data.shots}s"
        return f"episode-{data.dataset}-{self.form.current_split()}-{shape}-{self.index()}.png"

    def export_png(self, path: str | Path) -> Path:
        """Save the picture of the shown episode (the whole grid, or the plot) as PNG."""
        if self._episode is None:
            raise WorkbenchError("no episode is shown yet, so there is nothing to export")
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        image = (
            self.plot.render_image() if self._episode.is_regression else self.grid.render_image()
        )
        if not image.save(str(path), "PNG"):
            raise WorkbenchError(
                f"could not write {path}; check that the folder exists and is writable"
            )
        return path

    def _export_clicked(self) -> None:
        folder = str(self.context.settings.value("episodes/export_dir", str(Path.home())))
        chosen, _ = QFileDialog.getSaveFileName(
            self,
            "Export episode picture",
            str(Path(folder) / self.default_export_name()),
            "PNG images (*.png)",
        )
        if not chosen:
            return
        try:
            saved = self.export_png(chosen)
        except WorkbenchError as exc:
            self.message.show_error(str(exc))
            return
        self.context.settings.setValue("episodes/export_dir", str(saved.parent))
        self.context.statusMessage.emit(f"Saved {saved}")

    # ----------------------------------------------------------------------------------------
    # Theme, tools, shutdown
    # ----------------------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.grid.set_theme(theme)
        self.grid_area.setStyleSheet(f"QScrollArea {{ background: {theme.background}; }}")
        self.grid_area.viewport().setStyleSheet(f"background: {theme.background};")
        self.plot.apply_theme(theme)
        self.detail.apply_theme(theme)
        self.message.apply_theme(theme)
        self.placeholder.setStyleSheet(f"color: {theme.muted};")
        self.splits.note.setStyleSheet(f"color: {theme.muted};")
        self.about.setStyleSheet(f"color: {theme.muted};")

    def is_busy(self) -> bool:
        return (
            self._reload_timer.isActive() or self._load_task.running or self._summary_task.running
        )

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
        if self.stack.currentWidget() is self.grid_area:
            self.grid_area.refit()

    def shutdown(self, msecs: int = 30000) -> None:
        """Stop listening to background jobs and wait for them (window close, tests)."""
        self._reload_timer.stop()
        self._load_task.cancel()
        self._summary_task.cancel()
        self._load_task.wait(msecs)


__all__ = ["EpisodesView"]
