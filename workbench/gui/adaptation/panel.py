"""The adaptation viewer's left column: models, the episode, the inner loop and the aggregate.

Only widgets and the values they hold (an episode handed over from the Episodes view is one of
them); the view decides what to do with them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.config import ExperimentConfig
from workbench.engine import adaptation as ad
from workbench.engine.episode_seeds import episode_seed as experiment_seed
from workbench.gui.adaptation.models import ModelPicker
from workbench.gui.theme import LIGHT, Theme

SPLITS = ("train", "val", "test")
MAX_STEPS = 200


class _Spin(QSpinBox):
    """A spin box that ignores the mouse wheel unless focused (the column scrolls)."""

    def __init__(self, low: int, high: int, value: int, tip: str) -> None:
        super().__init__()
        self.setRange(low, high)
        self.setValue(value)
        self.setToolTip(tip)
        self.setKeyboardTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event) -> None:  # noqa: N802
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class AdaptationPanel(QWidget):
    """Signals: ``adaptRequested``, ``aggregateRequested``, ``cancelRequested``,
    ``episodeChanged`` (split, seed or index edited), ``useIndexRequested`` (leave the
    handed-over episode). Either edit leaves an episode handed over by `hand_over`."""

    adaptRequested = Signal()
    aggregateRequested = Signal()
    cancelRequested = Signal()
    episodeChanged = Signal()
    useIndexRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = ModelPicker()
        models_box = QGroupBox("Models")
        QVBoxLayout(models_box).addWidget(self.models)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addWidget(models_box)
        layout.addWidget(self._build_episode_box())
        layout.addWidget(self._build_inner_loop_box())
        layout.addWidget(self._build_aggregate_box())
        layout.addStretch(1)
        self._muted: list[QLabel] = [self.handed_label]
        self._config: ExperimentConfig | None = None
        self._handed: dict[str, Any] | None = None

    def _build_episode_box(self) -> QGroupBox:
        self.split_combo = QComboBox()
        self.split_combo.addItems(SPLITS)
        self.split_combo.setCurrentText("test")
        self.split_combo.setToolTip(
            "Split the episode is drawn from (test: classes never seen in training)"
        )
        self.seed_spin = _Spin(
            0,
            2**31 - 1,
            1234,
            "Episode seed: the same split, seed and index "
            "always give the same episode (as in the Episodes view)",
        )
        self.index_spin = _Spin(0, 9_999_999, 0, "Episode index")
        self.handed_label = QLabel()
        self.handed_label.setWordWrap(True)
        self.use_index_button = QPushButton("Sample by index instead")
        self.use_index_button.clicked.connect(self._use_index)
        self.handed = QWidget()
        hl = QVBoxLayout(self.handed)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(self.handed_label)
        hl.addWidget(self.use_index_button)
        self.handed.setVisible(False)
        box = QGroupBox("Episode")
        form = QFormLayout(box)
        form.addRow("Split", self.split_combo)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Index", self.index_spin)
        form.addRow(self.handed)
        for w in (self.seed_spin, self.index_spin):
            w.valueChanged.connect(self._episode_edited)
        self.split_combo.currentIndexChanged.connect(self._split_changed)
        return box

    def _build_inner_loop_box(self) -> QGroupBox:
        self.lr_check = QCheckBox("Own inner learning rate")
        self.lr_check.setToolTip(
            "Off: each model adapts with the rate it was trained with (learned "
            "rates for Meta-SGD/MAML++). On: every model uses the rate below."
        )
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(4)
        self.lr_spin.setRange(0.0001, 100.0)
        self.lr_spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        self.lr_spin.setValue(0.4)
        self.lr_spin.setEnabled(False)
        self.lr_spin.setKeyboardTracking(False)
        self.lr_check.toggled.connect(self.lr_spin.setEnabled)
        self.steps_spin = _Spin(
            0,
            MAX_STEPS,
            10,
            f"Gradient steps on the support set (0 to "
            f"{MAX_STEPS}; may exceed the steps the model was trained with)",
        )
        self.adapt_button = QPushButton("Adapt")
        self.adapt_button.setDefault(True)
        self.adapt_button.setToolTip(
            "Adapt every chosen model to the episode, step 0 (before) to the number of steps"
        )
        self.adapt_button.clicked.connect(self.adaptRequested)
        box = QGroupBox("Inner loop")
        form = QFormLayout(box)
        form.addRow(self.lr_check)
        form.addRow("Inner LR", self.lr_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow(self.adapt_button)
        return box

    def _build_aggregate_box(self) -> QGroupBox:
        self.episodes_spin = _Spin(
            1, 100_000, 100, "Episodes to adapt to (the evaluation protocol)"
        )
        self.agg_split_combo = QComboBox()
        self.agg_split_combo.addItems(SPLITS)
        self.agg_split_combo.setCurrentText("test")
        self.agg_seed_spin = _Spin(
            0,
            2**31 - 1,
            1234,
            "Seed of the episodes (eval.seed gives the episodes `workbench eval` uses)",
        )
        self.aggregate_button = QPushButton("Aggregate")
        self.aggregate_button.setToolTip("Adapt to many episodes and show mean ± 95% CI per step")
        self.aggregate_button.clicked.connect(self.aggregateRequested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.aggregate_button)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setFormat("%v / %m")
        box = QGroupBox("Over many episodes")
        form = QFormLayout(box)
        form.addRow("Episodes", self.episodes_spin)
        form.addRow("Split", self.agg_split_combo)
        form.addRow("Seed", self.agg_seed_spin)
        form.addRow(buttons)
        form.addRow(self.progress)
        return box

    def _split_changed(self) -> None:
        """A new split brings the seed the experiment draws that split with (as in the browser)."""
        if self._config is not None:
            self.seed_spin.blockSignals(True)
            self.seed_spin.setValue(experiment_seed(self._config, self.split()))
            self.seed_spin.blockSignals(False)
        self._episode_edited()

    def _episode_edited(self) -> None:
        self._leave_handed_over()
        self.episodeChanged.emit()

    def _use_index(self) -> None:
        self._leave_handed_over()
        self.useIndexRequested.emit()

    # -- values ----------------------------------------------------------------------------------
    def split(self) -> str:
        return self.split_combo.currentText()

    def seed(self) -> int:
        return self.seed_spin.value()

    def index(self) -> int:
        return self.index_spin.value()

    def steps(self) -> int:
        return self.steps_spin.value()

    def inner_lr(self) -> float | None:
        """The rate every model uses, or None for each model's own."""
        return float(self.lr_spin.value()) if self.lr_check.isChecked() else None

    def episode_request(self) -> ad.EpisodeRequest:
        """The episode to adapt to: the handed-over one, or split, seed and index."""
        handed = self._handed
        return ad.EpisodeRequest(
            self.split(),
            self.seed(),
            self.index(),
            data=handed["config"].data if handed else None,
            episode=handed["episode"] if handed else None,
        )

    def set_episode(self, split: str, seed: int, index: int) -> None:
        """Show these settings without announcing a change."""
        for w in (self.split_combo, self.seed_spin, self.index_spin):
            w.blockSignals(True)
        try:
            if split in SPLITS:
                self.split_combo.setCurrentText(split)
            self.seed_spin.setValue(int(seed))
            self.index_spin.setValue(int(index))
        finally:
            for w in (self.split_combo, self.seed_spin, self.index_spin):
                w.blockSignals(False)

    def hand_over(self, payload: dict[str, Any]) -> None:
        """Take an episode from the episode browser: ``payload`` is dict(config, split, seed,
        index, episode). Shown with where it came from until the episode is edited."""
        self._handed = dict(payload)
        split, seed, index = (
            payload.get("split", "test"),
            payload.get("seed", 0),
            payload.get("index", 0),
        )
        self.set_episode(split, seed, index)
        data = payload["config"].data
        shape = (
            "sinusoid"
            if data.dataset == "sinusoid"
            else f"{data.dataset} {data.ways}-way {data.shots}-shot"
        )
        self.show_handed_over(
            f"From the Episodes view: episode {index} of the {split} split (seed {seed}), {shape}."
        )

    def _leave_handed_over(self) -> None:
        if self._handed is not None:
            self._handed = None
            self.show_handed_over(None)

    def set_defaults(self, config: ExperimentConfig) -> None:
        """The chosen model's defaults: its inner steps, its trained inner rate, its evaluation
        protocol; without announcing a change."""
        self._config = config
        self.steps_spin.blockSignals(True)
        self.steps_spin.setValue(max(config.eval.inner_steps, config.algorithm.inner_steps))
        self.steps_spin.blockSignals(False)
        if not self.lr_check.isChecked():
            self.lr_spin.setValue(float(config.algorithm.inner_lr))
        self.agg_split_combo.setCurrentText(
            config.eval.split if config.eval.split in SPLITS else "test"
        )
        self.agg_seed_spin.setValue(int(config.eval.seed))
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(experiment_seed(config, self.split()))
        self.seed_spin.blockSignals(False)

    def show_handed_over(self, text: str | None) -> None:
        """Say the episode came from the browser (``text``), or hide that note (None)."""
        self.handed.setVisible(text is not None)
        self.handed_label.setText(text or "")

    def set_aggregating(self, running: bool) -> None:
        self.aggregate_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def apply_theme(self, theme: Theme = LIGHT) -> None:
        self.models.apply_theme(theme)
        for label in self._muted:
            label.setStyleSheet(f"color: {theme.muted};")
