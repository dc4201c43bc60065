"""The adaptation viewer's "This episode" tab: what each inner step did to one episode.

Top: support and query accuracy and loss per step for every model, with a marker at the
selected step. Below: the step slider with Play, the before/after table, and what the selected
step predicts: the query images framed right or wrong, or for a sinusoid the predicted curve
against the true function.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.engine import adaptation as ad
from workbench.engine.adaptation import EpisodeResult
from workbench.engine.predictions import predictions_at
from workbench.gui.adaptation import grid as agrid
from workbench.gui.adaptation.placeholder import PlaceholderStack
from workbench.gui.adaptation.playback import StepPlayback
from workbench.gui.adaptation.plots import SinusoidFit, StepCurves
from workbench.gui.adaptation.tables import BeforeAfterTable
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.widgets.image_grid import ImageGridArea
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

LEFT_WIDTH = 390  # the before/after table and notes beside the query images
#: curves above, slider and pictures below: heights the splitter starts with
SPLIT_REGRESSION = [230, 570]
SPLIT_CLASSIFICATION = [235, 565]

PLACEHOLDER = (
    "Choose a model on the left (a saved run, or the run being trained now), pick an "
    "episode by split, seed and index — or send one from the Episodes view — and press "
    "Adapt.\n\nThe curves show support and query accuracy and loss after every inner "
    "step (step 0 = before adaptation); tick models under “Compare with” to adapt a "
    "fine-tuning baseline or an untrained network to the same episode."
)
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


def episode_title(r: EpisodeResult) -> str:
    """Which episode, drawn how, adapted how: the line above the tabs."""
    d = r.data
    shape = (
        f"sinusoid, K = {d.shots}"
        if r.regression
        else f"{d.dataset} {d.ways}-way {d.shots}-shot, {d.queries} queries/class"
    )
    where = "from the Episodes view" if r.handed_over else f"seed {r.seed}"
    lr = "own inner LRs" if r.inner_lr is None else f"inner LR {r.inner_lr:g}"
    return f"Episode {r.index}, {r.split} split ({where}) · {shape} · {r.steps} steps, {lr}"


class EpisodeTab(PlaceholderStack):
    """Adapts models to one episode (`start`, in ``task``) and draws the `EpisodeResult` at the
    step the slider selects. Signal: ``adapted(EpisodeResult)`` once a result is shown."""

    adapted = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(PLACEHOLDER, parent=parent)
        self._cache = ad.SamplerCache()  # stepping through indices does not reload the split
        self.task = BackgroundTask(self)
        self.task.finished.connect(self._adapted)
        self._theme: Theme = LIGHT
        self._result: EpisodeResult | None = None
        self._regression_layout: bool | None = None
        self._wide: bool | None = None
        self.curves = StepCurves()
        self.playback = StepPlayback()
        self.playback.stepChanged.connect(self.show_step)
        self.info = self._build_info()
        self.grid_area = ImageGridArea()
        self.grid = self.grid_area.grid
        self.fit = SinusoidFit()
        self.picture = QStackedWidget()
        self.picture.addWidget(self.grid_area)
        self.picture.addWidget(self.fit)

        self.bottom = QWidget()
        self.bottom_layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, self.bottom)
        self.bottom_layout.setContentsMargins(0, 0, 0, 0)
        self.bottom_layout.addWidget(self.info)
        self.bottom_layout.addWidget(self.picture, 1)

        below = QWidget()  # the slider row above the table and pictures
        bl = QVBoxLayout(below)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.playback)
        bl.addWidget(self.bottom, 1)
        self.vsplit = QSplitter(Qt.Orientation.Vertical)
        self.vsplit.addWidget(self.curves)
        self.vsplit.addWidget(below)
        self.vsplit.setChildrenCollapsible(False)
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 4, 0, 0)
        cl.addWidget(self.vsplit)
        self.addWidget(content)

    def _build_info(self) -> QWidget:
        """The before/after table, which model the images show, timings and the explanation."""
        self.table = BeforeAfterTable()
        self.table.setToolTip(
            "Accuracy (MSE for regression) before adaptation (step 0) and "
            "after the selected step, on the support and the query set"
        )
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Whose predictions the images show")
        self.model_combo.currentIndexChanged.connect(lambda _i: self.show_step(self.step()))
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
        info = QWidget()
        il = QVBoxLayout(info)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(self.table)
        il.addWidget(self.model_row)
        il.addWidget(self.timing)
        il.addSpacing(8)
        il.addWidget(self.explain)
        il.addStretch(1)
        return info

    # -- adapting ---------------------------------------------------------------------------------
    def start(
        self,
        sources: Sequence[ad.ModelSource],
        request: ad.EpisodeRequest,
        steps: int,
        inner_lr: float | None,
        *,
        snapshot: ad.SnapshotFn | None,
    ) -> None:
        """Adapt ``sources`` to the episode ``request`` names, in the background."""
        chosen, cache = list(sources), self._cache

        def work(state: TaskState) -> ad.EpisodeResult:
            return ad.adapt_sources(
                chosen,
                request,
                steps,
                inner_lr,
                snapshot=snapshot,
                cache=cache,
                cancel=state.cancel_event,
                progress=lambda d, t: state.progress(d, t, "adapting"),
            )

        self.playback.stop()
        self.task.start(work)

    def _adapted(self, result: ad.EpisodeResult) -> None:
        self.show_result(result)
        self.adapted.emit(result)

    # -- what is shown ---------------------------------------------------------------------------
    def result(self) -> EpisodeResult | None:
        return self._result

    def step(self) -> int:
        return self.playback.step()

    def theme(self) -> Theme:
        return self._theme

    def show_result(self, result: EpisodeResult) -> None:
        """Draw ``result`` at its last step."""
        self._result = result
        regression = result.regression
        self.show_content()
        self.curves.set_data(result.adaptations, regression)
        self.table.set_data(result.adaptations, regression)
        self._list_models(result)
        self.explain.setText(EXPLAIN_REGRESSION if regression else EXPLAIN_CLASSIFICATION)
        if regression:
            self.fit.set_data(result.episode, result.adaptations)
            self.picture.setCurrentWidget(self.fit)
        else:
            self.grid_area.set_sections([agrid.episode_section(result.episode)])
            self.picture.setCurrentWidget(self.grid_area)
        if regression != self._regression_layout:  # keep the user's split otherwise
            self._regression_layout = regression
            self.vsplit.setSizes(SPLIT_REGRESSION if regression else SPLIT_CLASSIFICATION)
        longest = max((a.trace.steps for a in result.adaptations), default=0)
        self.playback.show_steps(longest)
        self.timing.setText(" · ".join(f"{a.label}: {a.detail}" for a in result.adaptations))
        self.show_step(longest)

    def _list_models(self, result: EpisodeResult) -> None:
        """The models the images can show, keeping the chosen one where it still exists."""
        self.model_combo.blockSignals(True)
        keep = self.model_combo.currentIndex()
        self.model_combo.clear()
        self.model_combo.addItems([a.label for a in result.adaptations])
        self.model_combo.setCurrentIndex(keep if 0 <= keep < self.model_combo.count() else 0)
        self.model_combo.blockSignals(False)
        self.model_row.setVisible(not result.regression and len(result.adaptations) > 1)

    def show_step(self, step: int) -> None:
        """Marker, table and pictures at inner step ``step``."""
        r = self._result
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
        shown = predictions_at(a.trace, r.episode, step)
        agrid.decorate(self.grid, r.episode, shown, self._theme)
        self.grid.set_title(agrid.section_title(a.label, shown, len(shown.labels)))

    # -- layout and theme ------------------------------------------------------------------------
    def arrange(self, wide: bool) -> None:
        """Wide: the table and notes beside the query images; narrow (the view beside the
        Experiment panel): the table above them, notes hidden, so the images keep their width."""
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

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.curves.apply_theme(theme)
        self.fit.apply_theme(theme)
        self.table.apply_theme(theme)
        self.grid.set_theme(theme)
        self.grid_area.setStyleSheet(f"QScrollArea {{ background: {theme.background}; }}")
        self.grid_area.viewport().setStyleSheet(f"background: {theme.background};")
        for label in (self.placeholder, self.timing, self.explain):
            label.setStyleSheet(f"color: {theme.muted};")
        if self._result is not None:
            self.show_step(self.step())


__all__ = ["EXPLAIN_CLASSIFICATION", "EXPLAIN_REGRESSION", "EpisodeTab", "episode_title"]
