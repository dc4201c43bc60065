"""The Adaptation view: what one, two, ten gradient steps on a support set do.

Take a meta-learned initialisation (the run being trained now, or a saved run), take a new
episode, adapt, and watch support and query accuracy step by step; compare with first-order
MAML, the fine-tuning baseline and an untrained network on the same episode; then aggregate
over many episodes with the evaluation protocol, so the numbers are those `workbench eval`
prints. Loading models, adapting and aggregating run in `BackgroundTask`s (the engine's
`workbench.engine.adaptation` does the work); this view only draws the results.

Layout: models, episode, inner loop and aggregate settings on the left; on the right a tab for
the episode (curves, step slider with Play, before/after table, the query images or the
sinusoid fit at the selected step) and a tab for the aggregate (mean ± 95% CI per step,
histogram, protocol).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.engine import adaptation as ad
from workbench.engine.runs import list_runs
from workbench.errors import WorkbenchError
from workbench.gui.adaptation import grid as agrid
from workbench.gui.adaptation.models import LiveRun
from workbench.gui.adaptation.panel import AdaptationPanel
from workbench.gui.adaptation.plots import AggregatePlots, SinusoidFit, StepCurves
from workbench.gui.adaptation.tables import AggregateTable, BeforeAfterTable
from workbench.gui.context import GuiContext
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.view import View
from workbench.gui.widgets.image_grid import ImageGridArea
from workbench.gui.widgets.inline_message import InlineMessage
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

SIDEBAR_WIDTH = 300
WIDE_LAYOUT = 940  # from this width of the right side on, the table sits beside the images
LEFT_WIDTH = 390  # the before/after table and notes beside the query images
PLAY_INTERVAL_MS = 450  # one inner step per tick: slow enough to talk over in a seminar
AUTO_ADAPT_DELAY_MS = 250  # settle time after an edit, so typing "12" adapts once


EXPLAIN_CLASSIFICATION = (
    "Step 0 is the meta-learned initialisation before it has seen the support set. Each inner "
    "step is one gradient step on the support set's loss; the query images are never trained "
    "on, so query accuracy shows how well the adapted model generalises. Frames: green = "
    "predicted right, red = wrong. Drag the slider or press Play."
)
EXPLAIN_REGRESSION = (
    "Step 0 (dotted) is the meta-learned initialisation before it has seen the support points. "
    "Each inner step is one gradient step on the mean squared error at the K support points "
    "(triangles); the curve shows what the adapted network predicts everywhere else, against "
    "the true function. Drag the slider or press Play."
)


def ask_save_path(parent: QWidget, title: str, default: str, filters: str) -> str:
    """The file to export to, or "" (a module function so tests can replace the dialog)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, default, filters)
    return path


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
        self._cache = ad.SamplerCache()
        self._handed: dict[str, Any] | None = None
        self._result: ad.EpisodeResult | None = None
        self._aggregates: list[ad.Aggregate] = []
        self._agg_protocol = ""
        self._agg_lr: float | None = None
        self._agg_config = None  # the main model's config when the aggregate started
        self._primary_key: str | None = None
        self._regression_layout: bool | None = None

        self._adapt_task = BackgroundTask(self)
        self._adapt_task.finished.connect(self._on_adapted)
        self._adapt_task.failed.connect(self._on_failed)
        self._adapt_task.runningChanged.connect(self._on_adapt_running)
        self._agg_task = BackgroundTask(self)
        self._agg_task.progress.connect(self._on_agg_progress)
        self._agg_task.finished.connect(self._on_aggregated)
        self._agg_task.failed.connect(self._on_failed)
        self._agg_task.cancelled.connect(self._on_agg_cancelled)
        self._agg_task.runningChanged.connect(self.panel_aggregating)

        self._play_timer = QTimer(self)
        self._play_timer.setInterval(PLAY_INTERVAL_MS)
        self._play_timer.timeout.connect(self._advance)
        self._auto_timer = QTimer(self)
        self._auto_timer.setSingleShot(True)
        self._auto_timer.setInterval(AUTO_ADAPT_DELAY_MS)
        self._auto_timer.timeout.connect(self.adapt)

        self._build()
        p = self.panel
        p.models.changed.connect(self._models_changed)
        p.adaptRequested.connect(self.adapt)
        p.aggregateRequested.connect(self.aggregate)
        p.cancelRequested.connect(self.cancel_aggregate)
        p.episodeChanged.connect(self._episode_edited)
        p.useIndexRequested.connect(self._leave_handed_over)
        p.steps_spin.valueChanged.connect(self._schedule_adapt)
        p.lr_spin.valueChanged.connect(self._schedule_adapt)
        p.lr_check.toggled.connect(self._schedule_adapt)
        context.runsDirChanged.connect(self.refresh_models)
        context.trainingStarted.connect(self.refresh_models)
        context.trainingFinished.connect(self._training_finished)
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
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.export_button = QToolButton()
        self.export_button.setText("Export ")
        self.export_button.setMinimumWidth(84)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        self._export_actions = {
            "curves_csv": menu.addAction("Curves as CSV…", lambda: self._export("curves_csv")),
            "curves_png": menu.addAction("Curves as PNG…", lambda: self._export("curves_png")),
            "picture_png": menu.addAction(
                "Picture at this step as PNG…", lambda: self._export("picture_png")
            ),
            "aggregate_csv": menu.addAction(
                "Aggregate as CSV…", lambda: self._export("aggregate_csv")
            ),
            "aggregate_png": menu.addAction(
                "Aggregate plots as PNG…", lambda: self._export("aggregate_png")
            ),
            "view_png": menu.addAction("Whole view as PNG…", lambda: self._export("view_png")),
        }
        self.export_button.setMenu(menu)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.status)
        header.addWidget(self.export_button)

        self.tabs = QTabWidget()
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self.tabs.setUsesScrollButtons(False)
        self.tabs.addTab(self._build_episode_tab(), "This episode")
        self.tabs.addTab(self._build_aggregate_tab(), "Over many episodes")

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
        self._update_enabled()

    def _build_episode_tab(self) -> QWidget:
        self.curves = StepCurves()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("The inner step whose predictions are shown (0 = before adaptation)")
        self.slider.valueChanged.connect(self._show_step)
        self.step_label = QLabel("Step 0")
        self.step_label.setMinimumWidth(110)
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip(
            "Animate the inner steps from 0 (before adaptation) to the last"
        )
        self.play_button.clicked.connect(self.toggle_play)
        slider_row = QHBoxLayout()
        slider_row.addWidget(self.step_label)
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.play_button)

        self.table = BeforeAfterTable()
        self.table.setToolTip(
            "Accuracy (MSE for regression) before adaptation (step 0) and "
            "after the selected step, on the support and the query set"
        )
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Whose predictions the images show")
        self.model_combo.currentIndexChanged.connect(
            lambda _i: self._show_step(self.slider.value())
        )
        self.model_row = QWidget()
        mr = QHBoxLayout(self.model_row)
        mr.setContentsMargins(0, 0, 0, 0)
        shows = QLabel("Images show")
        shows.setMinimumWidth(shows.sizeHint().width())
        mr.addWidget(shows)
        mr.addWidget(self.model_combo, 1)
        self.timing = QLabel()
        self.timing.setWordWrap(True)
        self.explain = QLabel(EXPLAIN_CLASSIFICATION)
        self.explain.setWordWrap(True)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.table)
        ll.addWidget(self.model_row)
        ll.addWidget(self.timing)
        ll.addSpacing(8)
        ll.addWidget(self.explain)
        ll.addStretch(1)
        self.info = left

        self.grid_area = ImageGridArea()
        self.grid = self.grid_area.grid
        self.fit = SinusoidFit()
        self.picture = QStackedWidget()
        self.picture.addWidget(self.grid_area)
        self.picture.addWidget(self.fit)

        bottom = QWidget()
        self.bottom_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, bottom)
        self.bottom_layout.setContentsMargins(0, 0, 0, 0)
        self.bottom_layout.addWidget(left)
        self.bottom_layout.addWidget(self.picture, 1)
        self.bottom = bottom
        self._wide: bool | None = None
        self._arrange()

        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 4, 0, 0)
        self.vsplit = QSplitter(Qt.Orientation.Vertical)
        self.vsplit.addWidget(self.curves)
        slider_box = QWidget()
        sl = QVBoxLayout(slider_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addLayout(slider_row)
        sl.addWidget(bottom, 1)
        self.vsplit.addWidget(slider_box)
        self.vsplit.setChildrenCollapsible(False)
        cl.addWidget(self.vsplit)

        self.episode_placeholder = QLabel(
            "Choose a model on the left (a saved run, or the run being trained now), pick an "
            "episode by split, seed and index — or send one from the Episodes view — and press "
            "Adapt.\n\nThe curves show support and query accuracy and loss after every inner "
            "step (step 0 = before adaptation); tick models under “Compare with” to adapt a "
            "fine-tuning baseline or an untrained network to the same episode."
        )
        self.episode_stack = self._stack(self.episode_placeholder, content)
        return self.episode_stack

    def _build_aggregate_tab(self) -> QWidget:
        self.protocol = QLabel()
        self.protocol.setWordWrap(True)
        self.protocol.setTextFormat(Qt.TextFormat.PlainText)
        self.agg_table = AggregateTable()
        self.agg_plots = AggregatePlots()
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 6, 0, 0)
        cl.addWidget(self.protocol)
        cl.addWidget(self.agg_table)
        cl.addWidget(self.agg_plots, 1)
        self.agg_placeholder = QLabel(
            "“Over many episodes” adapts every chosen model to M test episodes with the "
            "evaluation protocol and shows the mean ± 95% confidence interval of support and "
            "query accuracy after each inner step, and a histogram of the query accuracy after "
            "adaptation.\n\nWith the run's own settings (split, eval seed, episodes, steps) the "
            "numbers are exactly those `workbench eval` prints."
        )
        self.agg_stack = self._stack(self.agg_placeholder, content)
        return self.agg_stack

    @staticmethod
    def _stack(placeholder: QLabel, content: QWidget) -> QStackedWidget:
        placeholder.setWordWrap(True)
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setMargin(60)
        stack = QStackedWidget()
        stack.addWidget(placeholder)
        stack.addWidget(content)
        return stack

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
        live = None
        trainer = self.context.live_trainer()
        if trainer is not None and getattr(trainer, "store", None) is not None:
            live = LiveRun(
                str(trainer.store.path), trainer.config, int(trainer.iteration), int(trainer.total)
            )
        self.panel.models.set_runs(runs, live)

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
                self.panel.steps_spin.blockSignals(True)
                self.panel.steps_spin.setValue(
                    max(config.eval.inner_steps, config.algorithm.inner_steps)
                )
                self.panel.steps_spin.blockSignals(False)
                self.panel.set_defaults(config)
        self._update_enabled()
        self._schedule_adapt()

    def _sources(self) -> list[ad.ModelSource]:
        """The chosen sources with legend-sized, distinct labels."""
        picker = self.panel.models
        out, seen = [], {}
        for source in picker.sources():
            label = picker.short_label(source)
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                label = f"{label} #{seen[label]}"
            out.append(dataclasses.replace(source, label=label))
        return out

    def _snapshot_fn(self) -> Callable[[], dict[str, Any]] | None:
        trainer = self.context.live_trainer()
        return trainer.snapshot if trainer is not None else None

    # ----------------------------------------------------------------------------------------
    # The episode
    # ----------------------------------------------------------------------------------------
    def show_episode(self, payload: dict[str, Any]) -> None:
        """Adapt to an episode handed over from the episode browser: ``payload`` is
        dict(config, split, seed, index, episode)."""
        self._handed = dict(payload)
        split, seed, index = (
            payload.get("split", "test"),
            payload.get("seed", 0),
            payload.get("index", 0),
        )
        self.panel.set_episode(split, seed, index)
        data = payload["config"].data
        shape = (
            "sinusoid"
            if data.dataset == "sinusoid"
            else f"{data.dataset} {data.ways}-way {data.shots}-shot"
        )
        self.panel.show_handed_over(
            f"From the Episodes view: episode {index} of the {split} split (seed {seed}), {shape}."
        )
        self.tabs.setCurrentIndex(0)
        if self.panel.models.primary_source() is None:
            self.message.show_info(
                "Choose a model to adapt to this episode: no saved run or training run was found."
            )
            return
        self.adapt()

    def _leave_handed_over(self) -> None:
        self._handed = None
        self.panel.show_handed_over(None)
        self._schedule_adapt()

    def _episode_edited(self) -> None:
        if self._handed is not None:
            self._handed = None
            self.panel.show_handed_over(None)
        self._schedule_adapt()

    # ----------------------------------------------------------------------------------------
    # Adapt
    # ----------------------------------------------------------------------------------------
    def _schedule_adapt(self, *_args: Any) -> None:
        """After an edit, adapt again (once things settle) if something is shown already."""
        if self._result is not None or self._adapt_task.running:
            self._auto_timer.start()

    def adapt(self) -> None:
        """Adapt the chosen models to the episode, in the background."""
        self._auto_timer.stop()
        sources = self._sources()
        if not sources:
            self.message.show_error(
                "Choose a model first: no saved run or training run is selected."
            )
            return
        p = self.panel
        handed = self._handed
        request = ad.EpisodeRequest(
            p.split(),
            p.seed(),
            p.index(),
            data=handed["config"].data if handed else None,
            episode=handed["episode"] if handed else None,
        )
        steps, lr, cache, snapshot = p.steps(), p.inner_lr(), self._cache, self._snapshot_fn()

        def work(state: TaskState) -> ad.EpisodeResult:
            return ad.adapt_sources(
                sources,
                request,
                steps,
                lr,
                snapshot=snapshot,
                cache=cache,
                cancel=state.cancel_event,
                progress=lambda d, t: state.progress(d, t, "adapting"),
            )

        self.stop_play()
        self.message.clear()
        self._adapt_task.start(work)

    def _on_adapt_running(self, running: bool) -> None:
        self.panel.adapt_button.setText("Adapting…" if running else "Adapt")
        self._set_status()

    def _on_adapted(self, result: ad.EpisodeResult) -> None:
        self._result = result
        regression = result.regression
        self.episode_stack.setCurrentIndex(1)
        self.curves.set_data(result.adaptations, regression)
        self.table.set_data(result.adaptations, regression)
        self.model_combo.blockSignals(True)
        keep = self.model_combo.currentIndex()
        self.model_combo.clear()
        self.model_combo.addItems([a.label for a in result.adaptations])
        self.model_combo.setCurrentIndex(keep if 0 <= keep < self.model_combo.count() else 0)
        self.model_combo.blockSignals(False)
        self.model_row.setVisible(not regression and len(result.adaptations) > 1)
        self.explain.setText(EXPLAIN_REGRESSION if regression else EXPLAIN_CLASSIFICATION)
        if regression:
            self.fit.set_data(result.episode, result.adaptations)
            self.picture.setCurrentWidget(self.fit)
        else:
            self.grid_area.set_sections([agrid.episode_section(result.episode)])
            self.picture.setCurrentWidget(self.grid_area)
        if regression != self._regression_layout:  # keep the user's split otherwise
            self._regression_layout = regression
            self.vsplit.setSizes([230, 570] if regression else [235, 565])
        longest = max((a.trace.steps for a in result.adaptations), default=0)
        self.slider.blockSignals(True)
        self.slider.setRange(0, longest)
        self.slider.setValue(longest)
        self.slider.blockSignals(False)
        self.title.setText(self._describe(result))
        self.timing.setText(" · ".join(f"{a.label}: {a.detail}" for a in result.adaptations))
        self._show_step(longest)
        self._update_enabled()
        self.adapted.emit(result)

    def _describe(self, r: ad.EpisodeResult) -> str:
        d = r.data
        shape = (
            f"sinusoid, K = {d.shots}"
            if r.regression
            else f"{d.dataset} {d.ways}-way {d.shots}-shot, {d.queries} queries/class"
        )
        where = "from the Episodes view" if r.handed_over else f"seed {r.seed}"
        lr = "own inner LRs" if r.inner_lr is None else f"inner LR {r.inner_lr:g}"
        return f"Episode {r.index}, {r.split} split ({where}) · {shape} · {r.steps} steps, {lr}"

    def _on_failed(self, message: str, details: str) -> None:
        unexpected = re.match(r"^[A-Za-z_]\w*(Error|Exception)\b", message) is not None
        self.message.show_error(message, details if unexpected else "")
        self._set_status()

    # ----------------------------------------------------------------------------------------
    # The selected step
    # ----------------------------------------------------------------------------------------
    def _show_step(self, step: int) -> None:
        r = self._result
        self.step_label.setText(f"Step {step} of {self.slider.maximum()}")
        if r is None:
            return
        self.curves.set_step(step)
        self.table.set_step(step)
        if r.regression:
            self.fit.set_step(step)
            return
        i = max(0, self.model_combo.currentIndex())
        if i >= len(r.adaptations):
            return
        a = r.adaptations[i]
        shown = agrid.predictions_at(a.trace, r.episode, step)
        agrid.decorate(self.grid, r.episode, shown, self._theme)
        self.grid.set_title(agrid.section_title(a.label, shown, len(shown.labels)))

    def selected_step(self) -> int:
        return self.slider.value()

    def set_step(self, step: int) -> None:
        self.slider.setValue(step)

    def toggle_play(self) -> None:
        """Play: step through 0..S on a timer (from 0 when at the end); again: pause."""
        if self._play_timer.isActive():
            self.stop_play()
            return
        if self._result is None:
            return
        if self.slider.value() >= self.slider.maximum():
            self.slider.setValue(0)
        self._play_timer.start()
        self.play_button.setText("❚❚ Pause")

    def stop_play(self) -> None:
        self._play_timer.stop()
        self.play_button.setText("▶ Play")

    def is_playing(self) -> bool:
        return self._play_timer.isActive()

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.stop_play()
            return
        self.slider.setValue(self.slider.value() + 1)
        if self.slider.value() >= self.slider.maximum():
            self.stop_play()

    # ----------------------------------------------------------------------------------------
    # Aggregate
    # ----------------------------------------------------------------------------------------
    def aggregate(self) -> None:
        """Adapt the chosen models to M episodes in the background (progress, cancel)."""
        sources = self._sources()
        if not sources:
            self.message.show_error(
                "Choose a model first: no saved run or training run is selected."
            )
            return
        p = self.panel
        episodes, split, seed = (
            p.episodes_spin.value(),
            p.agg_split_combo.currentText(),
            p.agg_seed_spin.value(),
        )
        steps, lr, snapshot = p.steps(), p.inner_lr(), self._snapshot_fn()

        def work(state: TaskState) -> list[ad.Aggregate]:
            return ad.aggregate_sources(
                sources,
                split,
                seed,
                episodes,
                steps,
                lr,
                snapshot=snapshot,
                progress=lambda d, t: state.progress(d, t, "episodes"),
                cancel=state.cancel_event,
            )

        self.message.clear()
        self._agg_lr = lr
        self._agg_config = p.models.primary_config()
        self.tabs.setCurrentIndex(1)
        self._agg_task.start(work)
        self.panel.set_progress(0, episodes * len(sources))

    def cancel_aggregate(self) -> None:
        self._agg_task.cancel()

    def panel_aggregating(self, running: bool) -> None:
        self.panel.set_aggregating(running)
        self._set_status()

    def _on_agg_progress(self, done: int, total: int, _text: str) -> None:
        self.panel.set_progress(done, total)

    def _on_agg_cancelled(self) -> None:
        self.status.setText("Aggregate cancelled")

    def _on_aggregated(self, aggregates: list[ad.Aggregate]) -> None:
        self._aggregates = list(aggregates)
        self.agg_stack.setCurrentIndex(1)
        config = self._agg_config
        queries = config.data.ways * config.data.queries if config is not None else 0
        self.agg_table.set_data(aggregates)
        self.agg_plots.set_data(aggregates, queries)
        if aggregates:
            r = aggregates[0].result
            lr = self._agg_lr
            rate = "each model's own inner LR" if lr is None else f"inner LR {lr:g} for every model"
            same = (
                " — the same episodes and numbers as `workbench eval RUN "
                f"--episodes {r.episodes} --steps {r.steps} --split {r.split}`"
                if lr is None and config is not None and r.seed == config.eval.seed
                else ""
            )
            self._agg_protocol = f"Protocol: {ad.protocol_text(r)}, {rate}{same}."
            self.protocol.setText(self._agg_protocol)
        self._update_enabled()
        self.aggregated.emit(aggregates)

    # ----------------------------------------------------------------------------------------
    # Export
    # ----------------------------------------------------------------------------------------
    def export_curves_csv(self, path: str | Path) -> Path:
        if self._result is None:
            raise WorkbenchError("nothing to export yet: press Adapt first")
        return ad.write_episode_csv(
            path, self._result.adaptations, {**self._result.protocol(), "steps": self._result.steps}
        )

    def export_curves_png(self, path: str | Path) -> Path:
        return self._save_pixmap(self.curves.grab(), path)

    def export_picture_png(self, path: str | Path) -> Path:
        """The query images with predictions (or the sinusoid fit) at the selected step."""
        if self._result is None:
            raise WorkbenchError("nothing to export yet: press Adapt first")
        if self._result.regression:
            return self._save_pixmap(self.fit.grab(), path)
        image = self.grid.render_image()
        if not image.save(str(path)):
            raise WorkbenchError(f"could not write {path}")
        return Path(path)

    def export_aggregate_csv(self, path: str | Path) -> Path:
        if not self._aggregates:
            raise WorkbenchError("nothing to export yet: press Aggregate first")
        return ad.write_aggregate_csv(path, self._aggregates)

    def export_aggregate_png(self, path: str | Path) -> Path:
        return self._save_pixmap(self.agg_stack.currentWidget().grab(), path)

    def export_view_png(self, path: str | Path) -> Path:
        return self._save_pixmap(self.grab(), path)

    @staticmethod
    def _save_pixmap(pixmap, path: str | Path) -> Path:
        if not pixmap.save(str(path)):
            raise WorkbenchError(f"could not write {path}")
        return Path(path)

    def _export(self, what: str) -> None:
        csv = what.endswith("csv")
        r = self._result
        stem = f"adaptation-{r.split}-{r.index}" if r is not None else "adaptation"
        default_dir = str(self.context.settings.value("adaptation/export_dir", str(Path.home())))
        default = str(Path(default_dir) / f"{stem}-{what.replace('_', '.')}")
        default = default.rsplit(".", 1)[0] + (".csv" if csv else ".png")
        path = ask_save_path(
            self, "Export", default, "CSV table (*.csv)" if csv else "PNG image (*.png)"
        )
        if not path:
            return
        writer = getattr(self, f"export_{what}")
        try:
            saved = writer(path)
        except (WorkbenchError, OSError) as exc:
            self.message.show_error(f"Export failed: {exc}")
            return
        self.context.settings.setValue("adaptation/export_dir", str(Path(saved).parent))
        self.context.statusMessage.emit(f"Saved {saved}")

    # ----------------------------------------------------------------------------------------
    # State, theme, tools
    # ----------------------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        has_model = self.panel.models.primary_source() is not None
        self.panel.adapt_button.setEnabled(has_model)
        self.panel.aggregate_button.setEnabled(has_model and not self._agg_task.running)
        has_result = self._result is not None
        for key in ("curves_csv", "curves_png", "picture_png"):
            self._export_actions[key].setEnabled(has_result)
        for key in ("aggregate_csv", "aggregate_png"):
            self._export_actions[key].setEnabled(bool(self._aggregates))
        self.play_button.setEnabled(has_result)

    def _set_status(self) -> None:
        parts = []
        if self._adapt_task.running:
            parts.append("Adapting…")
        if self._agg_task.running:
            parts.append("Aggregating…")
        self.status.setText("  ".join(parts))

    def is_busy(self) -> bool:
        return self._adapt_task.running or self._agg_task.running or self._auto_timer.isActive()

    def result(self) -> ad.EpisodeResult | None:
        """The adaptation shown (for tests and tools)."""
        return self._result

    def aggregates(self) -> list[ad.Aggregate]:
        return list(self._aggregates)

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.panel.apply_theme(theme)
        self.message.apply_theme(theme)
        self.curves.apply_theme(theme)
        self.fit.apply_theme(theme)
        self.agg_plots.apply_theme(theme)
        self.table.apply_theme(theme)
        self.agg_table.apply_theme(theme)
        self.grid.set_theme(theme)
        self.grid_area.setStyleSheet(f"QScrollArea {{ background: {theme.background}; }}")
        self.grid_area.viewport().setStyleSheet(f"background: {theme.background};")
        for label in (
            self.episode_placeholder,
            self.agg_placeholder,
            self.timing,
            self.status,
            self.explain,
        ):
            label.setStyleSheet(f"color: {theme.muted};")
        self.title.setStyleSheet(f"color: {theme.foreground}; font-weight: bold;")
        self.protocol.setStyleSheet(f"color: {theme.foreground}; font-weight: bold;")
        if self._result is not None:
            self._show_step(self.slider.value())

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
        self._adapt_task.cancel()
        self._agg_task.cancel()
        self._adapt_task.wait(msecs)
        self._agg_task.wait(msecs)

    def _arrange(self) -> None:
        """Wide: the table and notes beside the query images; narrow (the view beside the
        Experiment panel): the table above them, notes hidden, so the images keep their width."""
        wide = self.width() - SIDEBAR_WIDTH - 12 >= WIDE_LAYOUT
        if wide == self._wide:
            return
        self._wide = wide
        self.bottom_layout.setDirection(
            QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        )
        if wide:
            self.info.setFixedWidth(LEFT_WIDTH)
        else:
            self.info.setMinimumWidth(0)
            self.info.setMaximumWidth(16_777_215)
        self.explain.setVisible(wide)
        self.timing.setVisible(wide)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._arrange()

    def showEvent(self, event) -> None:  # noqa: N802
        self.refresh_models()  # new runs, and how far the live run is
        super().showEvent(event)

    def hideEvent(self, event) -> None:  # noqa: N802
        self.stop_play()
        super().hideEvent(event)


__all__ = ["AdaptationView", "ask_save_path"]
