"""The Adaptation view: what one, two, ten gradient steps on a support set do.

Take a meta-learned initialisation (the run being trained now, or a saved run), take a new
episode, adapt, and watch support and query accuracy step by step; compare with first-order
MAML, the fine-tuning baseline and an untrained network on the same episode; then aggregate
over many episodes with the evaluation protocol, so the numbers are those `workbench eval`
prints. Loading models, adapting and aggregating run in `BackgroundTask`s (the engine's
`workbench.engine.adaptation` does the work); this view only draws the results.

Layout: models, episode, inner loop and aggregate settings on the left (`AdaptationPanel`); on
the right the title, the Export menu (`exports`) and two tabs: the episode (`EpisodeTab`: curves,
step slider with Play, before/after table, the query images or the sinusoid fit at the selected
step) and the aggregate (`AggregatePane`: mean ± 95% CI per step, histogram, protocol). This
module wires them together: which models, which episode, when to adapt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.engine import adaptation as ad
from workbench.engine.runs import list_runs
from workbench.gui.adaptation import exports
from workbench.gui.adaptation.aggregation import AggregatePane
from workbench.gui.adaptation.animation import export_steps_gif
from workbench.gui.adaptation.episode import EpisodeTab, episode_title
from workbench.gui.adaptation.exports import Export, ExportMenu
from workbench.gui.adaptation.models import LiveRun
from workbench.gui.adaptation.panel import AdaptationPanel
from workbench.gui.context import GuiContext
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.view import View
from workbench.gui.widgets.animation import GifRecorder
from workbench.gui.widgets.elided_label import ElidedLabel
from workbench.gui.widgets.inline_message import InlineMessage

SIDEBAR_WIDTH = 300
WIDE_LAYOUT = 940  # from this width of the right side on, the table sits beside the images
AUTO_ADAPT_DELAY_MS = 250  # settle time after an edit, so typing "12" adapts once
#: exports that need an adaptation, and those that need an aggregate
EPISODE_EXPORTS = ("curves_csv", "curves_png", "picture_png", "picture_sized", "steps_gif")
AGGREGATE_EXPORTS = ("aggregate_csv", "aggregate_png")


class AdaptationView(View):
    """The adaptation viewer. ``AdaptationView(context)``; `apply_theme(theme)`;
    `show_episode(payload)` takes an episode from the episode browser (the main window
    connects ``context.openEpisodeInAdaptation`` to it).

    Signals (GUI thread): ``adapted(EpisodeResult)`` when an adaptation is shown,
    ``aggregated(list[Aggregate])`` when an aggregate is shown.
    """

    name = "adaptation"
    title = "Adaptation"
    shortcut = "Ctrl+3"
    tooltip = "Watch a model adapt to one episode, step by step (Ctrl+3)"

    adapted = Signal(object)
    aggregated = Signal(object)

    def __init__(self, context: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._theme: Theme = LIGHT
        self._primary_key: str | None = None

        self._auto_timer = QTimer(self)
        self._auto_timer.setSingleShot(True)
        self._auto_timer.setInterval(AUTO_ADAPT_DELAY_MS)
        self._auto_timer.timeout.connect(self.adapt)

        self._build()
        self._connect(context)
        self.refresh_models()
        self.apply_theme(context.theme)

    # ----------------------------------------------------------------------------------------
    # Construction
    # ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.panel = AdaptationPanel()
        self.sidebar = QScrollArea()
        self.sidebar.setWidget(self.panel)
        self.sidebar.setWidgetResizable(True)
        self.sidebar.setFrameShape(QFrame.Shape.NoFrame)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sidebar.setFixedWidth(SIDEBAR_WIDTH)

        self.message = InlineMessage()
        self.heading = ElidedLabel()
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.episode = EpisodeTab()
        self.aggregation = AggregatePane()
        self.export_menu = ExportMenu(
            self, self.context.settings, self._export_stem, self._export_entries()
        )
        header = QHBoxLayout()
        header.addWidget(self.heading, 1)
        header.addWidget(self.status)
        header.addWidget(self.export_menu.button)

        self.tabs = QTabWidget()
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self.tabs.setUsesScrollButtons(False)
        self.tabs.addTab(self.episode, "This episode")
        self.tabs.addTab(self.aggregation, "Over many episodes")

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 8, 8, 8)
        rl.addWidget(self.message)
        rl.addLayout(header)
        rl.addWidget(self.tabs, 1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sidebar)
        layout.addWidget(right, 1)

        # the parts' widgets under the names tests and tools use
        e = self.episode
        self.curves, self.table, self.fit, self.picture = e.curves, e.table, e.fit, e.picture
        self.grid = e.grid
        self.slider, self.play_button = e.playback.slider, e.playback.play_button
        self.agg_table, self.protocol = self.aggregation.table, self.aggregation.protocol
        self._arrange()
        self._update_enabled()

    def _export_entries(self) -> dict[str, Export]:
        return {
            "curves_csv": Export("Curves as CSV…", "curves", "csv", self.export_curves_csv),
            "curves_png": Export("Curves as PNG…", "curves", "png", self.export_curves_png),
            "picture_png": Export(
                "Picture at this step as PNG…", "picture", "png", self.export_picture_png
            ),
            "picture_sized": Export(
                "Picture at this step at a size, for slides…",
                "picture",
                "png",
                self.export_picture_sized,
            ),
            "steps_gif": Export(
                "Inner steps as animated GIF…", "steps", "gif", start=self.export_steps_gif
            ),
            "aggregate_csv": Export(
                "Aggregate as CSV…", "aggregate", "csv", self.export_aggregate_csv
            ),
            "aggregate_png": Export(
                "Aggregate plots as PNG…", "aggregate", "png", self.export_aggregate_png
            ),
            "view_png": Export("Whole view as PNG…", "view", "png", self.export_view),
        }

    def _connect(self, context: GuiContext) -> None:
        p = self.panel
        p.models.changed.connect(self._models_changed)
        p.adaptRequested.connect(self.adapt)
        p.aggregateRequested.connect(self.aggregate)
        p.cancelRequested.connect(self.cancel_aggregate)
        p.episodeChanged.connect(self._schedule_adapt)
        p.useIndexRequested.connect(self._schedule_adapt)
        p.steps_spin.valueChanged.connect(self._schedule_adapt)
        p.lr_spin.valueChanged.connect(self._schedule_adapt)
        p.lr_check.toggled.connect(self._schedule_adapt)
        self.episode.adapted.connect(self._on_adapted)
        self.episode.task.failed.connect(self._on_failed)
        self.episode.task.runningChanged.connect(self._on_adapt_running)
        task = self.aggregation.task
        task.progress.connect(self._on_agg_progress)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_agg_cancelled)
        task.runningChanged.connect(self.panel_aggregating)
        self.aggregation.aggregated.connect(self._on_aggregated)
        self.export_menu.saved.connect(lambda path: context.statusMessage.emit(f"Saved {path}"))
        self.export_menu.failed.connect(self.message.show_error)
        context.runsDirChanged.connect(self.refresh_models)
        context.trainingStarted.connect(self.refresh_models)
        context.trainingFinished.connect(self._training_finished)

    # ----------------------------------------------------------------------------------------
    # Models
    # ----------------------------------------------------------------------------------------
    def refresh_models(self, *_args: Any) -> None:
        """Re-read the runs folder and whether a run is being trained."""
        try:
            runs = list_runs(self.context.runs_dir())
        except OSError as exc:
            runs = []
            self.message.show_error(f"Cannot read the runs folder {self.context.runs_dir()}: {exc}")
        self.panel.models.set_runs(runs, LiveRun.of(self.context.live_trainer()))

    def _training_finished(self, run_dir: str, _status: str) -> None:
        """The live model becomes the saved run it was training."""
        was_live = self.panel.models.is_live()
        self.refresh_models()
        if was_live:
            self.panel.models.set_primary(run_dir)

    def _models_changed(self) -> None:
        key = self.panel.models.model_combo.currentData()
        if key != self._primary_key:
            self._primary_key = key
            config = self.panel.models.primary_config()
            if config is not None:
                self.panel.set_defaults(config)
        self._update_enabled()
        self._schedule_adapt()

    def _snapshot_fn(self) -> Callable[[], dict[str, Any]] | None:
        trainer = self.context.live_trainer()
        return trainer.snapshot if trainer is not None else None

    # ----------------------------------------------------------------------------------------
    # The episode
    # ----------------------------------------------------------------------------------------
    def show_episode(self, payload: dict[str, Any]) -> None:
        """Adapt to an episode handed over from the episode browser: ``payload`` is
        dict(config, split, seed, index, episode)."""
        self.panel.hand_over(payload)
        self.tabs.setCurrentIndex(0)
        if self.panel.models.primary_source() is None:
            self.message.show_info(
                "Choose a model to adapt to this episode: no saved run or training run was found."
            )
            return
        self.adapt()

    # ----------------------------------------------------------------------------------------
    # Adapt
    # ----------------------------------------------------------------------------------------
    def _schedule_adapt(self, *_args: Any) -> None:
        """After an edit, adapt again (once things settle) if something is shown already."""
        if self.result() is not None or self.episode.task.running:
            self._auto_timer.start()

    def adapt(self) -> None:
        """Adapt the chosen models to the episode, in the background."""
        self._auto_timer.stop()
        sources = self.panel.models.labelled_sources()
        if not sources:
            self.message.show_error(
                "Choose a model first: no saved run or training run is selected."
            )
            return
        p = self.panel
        self.message.clear()
        self.episode.start(
            sources, p.episode_request(), p.steps(), p.inner_lr(), snapshot=self._snapshot_fn()
        )

    def _on_adapt_running(self, running: bool) -> None:
        self.panel.adapt_button.setText("Adapting…" if running else "Adapt")
        self._set_status()

    def _on_adapted(self, result: ad.EpisodeResult) -> None:
        self.heading.setText(episode_title(result))
        self._update_enabled()
        self.adapted.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        unexpected = re.match(r"^[A-Za-z_]\w*(Error|Exception)\b", message) is not None
        self.message.show_error(message, details if unexpected else "")
        self._set_status()

    # ----------------------------------------------------------------------------------------
    # The selected step
    # ----------------------------------------------------------------------------------------
    def selected_step(self) -> int:
        return self.episode.step()

    def set_step(self, step: int) -> None:
        self.episode.playback.set_step(step)

    def toggle_play(self) -> None:
        """Play: step through 0..S on a timer (from 0 when at the end); again: pause."""
        if self.result() is not None or self.is_playing():
            self.episode.playback.toggle()

    def stop_play(self) -> None:
        self.episode.playback.stop()

    def is_playing(self) -> bool:
        return self.episode.playback.is_playing()

    # ----------------------------------------------------------------------------------------
    # Aggregate
    # ----------------------------------------------------------------------------------------
    def aggregate(self) -> None:
        """Adapt the chosen models to M episodes in the background (progress, cancel)."""
        sources = self.panel.models.labelled_sources()
        if not sources:
            self.message.show_error(
                "Choose a model first: no saved run or training run is selected."
            )
            return
        p = self.panel
        episodes = p.episodes_spin.value()
        self.message.clear()
        self.tabs.setCurrentIndex(1)
        self.aggregation.start(
            sources,
            p.agg_split_combo.currentText(),
            p.agg_seed_spin.value(),
            episodes,
            p.steps(),
            p.inner_lr(),
            snapshot=self._snapshot_fn(),
            config=p.models.primary_config(),
        )
        self.panel.set_progress(0, episodes * len(sources))

    def cancel_aggregate(self) -> None:
        self.aggregation.cancel()

    def panel_aggregating(self, running: bool) -> None:
        self.panel.set_aggregating(running)
        self._set_status()

    def _on_agg_progress(self, done: int, total: int, _text: str) -> None:
        self.panel.set_progress(done, total)

    def _on_agg_cancelled(self) -> None:
        self.status.setText("Aggregate cancelled")

    def _on_aggregated(self, aggregates: list[ad.Aggregate]) -> None:
        self._update_enabled()
        self.aggregated.emit(aggregates)

    # ----------------------------------------------------------------------------------------
    # Export (the Export menu also offers `export_view`, the whole view)
    # ----------------------------------------------------------------------------------------
    def export_curves_csv(self, path: str | Path) -> Path:
        return exports.write_curves_csv(self.result(), path)

    def export_curves_png(self, path: str | Path) -> Path:
        return exports.save_widget_png(self.episode.curves, path)

    def export_picture_png(self, path: str | Path) -> Path:
        """The query images with predictions (or the sinusoid fit) at the selected step."""
        return exports.write_picture_png(self.result(), self.episode.fit, self.episode.grid, path)

    def export_steps_gif(self) -> GifRecorder | None:
        """Steps 0..S of the episode shown as an animated GIF (asks length, frame rate, file)."""
        return export_steps_gif(self, self.episode, self.export_menu, self._export_stem())

    def export_picture_sized(self, path: str | Path) -> Path | None:
        """The query images at the selected step at a chosen width and scale (asked)."""
        return exports.write_picture_at_size(self, self.episode, path)

    def export_aggregate_csv(self, path: str | Path) -> Path:
        return exports.write_aggregate_csv(self.aggregates(), path)

    def export_aggregate_png(self, path: str | Path) -> Path:
        return exports.save_widget_png(self.aggregation.currentWidget(), path)

    def _export_stem(self) -> str:
        r = self.result()
        return f"adaptation-{r.split}-{r.index}" if r is not None else "adaptation"

    # ----------------------------------------------------------------------------------------
    # State, theme, tools
    # ----------------------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        has_model = self.panel.models.primary_source() is not None
        self.panel.adapt_button.setEnabled(has_model)
        self.panel.aggregate_button.setEnabled(has_model and not self.aggregation.task.running)
        has_result = self.result() is not None
        self.export_menu.set_enabled(EPISODE_EXPORTS, has_result)
        self.export_menu.set_enabled(AGGREGATE_EXPORTS, bool(self.aggregation.aggregates()))
        self.play_button.setEnabled(has_result)

    def _set_status(self) -> None:
        parts = []
        if self.episode.task.running:
            parts.append("Adapting…")
        if self.aggregation.task.running:
            parts.append("Aggregating…")
        self.status.setText("  ".join(parts))

    def is_busy(self) -> bool:
        return (
            self.episode.task.running
            or self.aggregation.task.running
            or self._auto_timer.isActive()
        )

    def result(self) -> ad.EpisodeResult | None:
        """The adaptation shown (for tests and tools)."""
        return self.episode.result()

    def aggregates(self) -> list[ad.Aggregate]:
        return self.aggregation.aggregates()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        # the settings column grows with presentation fonts (its labels and lists would clip)
        self.sidebar.setFixedWidth(round(SIDEBAR_WIDTH * theme.font_point_size / 10))
        self.panel.apply_theme(theme)
        self.message.apply_theme(theme)
        self.episode.apply_theme(theme)
        self.aggregation.apply_theme(theme)
        self.status.setStyleSheet(f"color: {theme.muted};")
        self.heading.setStyleSheet(f"color: {theme.foreground};")
        font = QFont(self.font())  # the size follows presentation mode
        font.setPointSize(theme.font_point_size)
        font.setBold(True)
        self.heading.setFont(font)

    def prepare_screenshot(self) -> None:
        """A representative state for the screenshot tool: the newest meta-learned run adapted
        to a test episode, compared with the fine-tuning baseline where one exists."""
        self.refresh_models()
        picker = self.panel.models
        if picker.primary_source() is None:
            return
        picker.set_compared(lambda s: s.baseline)
        self.adapt()
        self.wait_until_idle(120.0)

    def shutdown(self, msecs: int = 30000) -> None:
        """Stop timers and background jobs and wait for them (window close, tests)."""
        self.stop_play()
        self._auto_timer.stop()
        self.episode.task.cancel()
        self.aggregation.cancel()
        self.episode.task.wait(msecs)
        self.aggregation.task.wait(msecs)

    def _arrange(self) -> None:
        self.episode.arrange(self.width() - self.sidebar.width() - 12 >= WIDE_LAYOUT)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._arrange()

    def showEvent(self, event) -> None:  # noqa: N802
        self.refresh_models()  # new runs, and how far the live run is
        super().showEvent(event)

    def hideEvent(self, event) -> None:  # noqa: N802
        self.stop_play()
        super().hideEvent(event)


__all__ = ["AdaptationView"]
