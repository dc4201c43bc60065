"""The adaptation viewer's left column: models, the episode, the inner loop and the aggregate.

Only widgets and the values they hold; the view decides what to do with them.
"""

from __future__ import annotations

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
from workbench.gui.adaptation.models import ModelPicker
from workbench.gui.episodes.settings import experiment_seed
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
    handed-over episode)."""

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

        # -- episode ------------------------------------------------------------------------------
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
        self.use_index_button.clicked.connect(self.useIndexRequested)
        handed = QWidget()
        hl = QVBoxLayout(handed)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(self.handed_label)
        hl.addWidget(self.use_index_button)
        self.handed = handed
        self.handed.setVisible(False)
        episode_box = QGroupBox("Episode")
        ef = QFormLayout(episode_box)
        ef.addRow("Split", self.split_combo)
        ef.addRow("Seed", self.seed_spin)
        ef.addRow("Index", self.index_spin)
        ef.addRow(self.handed)
        for w in (self.seed_spin, self.index_spin):
            w.valueChanged.connect(self.episodeChanged)
        self.split_combo.currentIndexChanged.connect(self._split_changed)

        # -- inner loop ---------------------------------------------------------------------------
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
        adapt_box = QGroupBox("Inner loop")
        af = QFormLayout(adapt_box)
        af.addRow(self.lr_check)
        af.addRow("Inner LR", self.lr_spin)
        af.addRow("Steps", self.steps_spin)
        af.addRow(self.adapt_button)

        # -- aggregate ---------------------------------------------------------------------------
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
        agg_box = QGroupBox("Over many episodes")
        gf = QFormLayout(agg_box)
        gf.addRow("Episodes", self.episodes_spin)
        gf.addRow("Split", self.agg_split_combo)
        gf.addRow("Seed", self.agg_seed_spin)
        gf.addRow(buttons)
        gf.addRow(self.progress)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addWidget(models_box)
        layout.addWidget(episode_box)
        layout.addWidget(adapt_box)
        layout.addWidget(agg_box)
        layout.addStretch(1)
        self._muted: list[QLabel] = [self.handed_label]
        self._config: ExperimentConfig | None = None

    def _split_changed(self) -> None:
        """A new split brings the seed the experiment draws that split with (as in the browser)."""
        if self._config is not None:
            self.seed_spin.blockSignals(True)
            self.seed_spin.setValue(experiment_seed(self._config, self.split()))
            self.seed_spin.blockSignals(False)
        self.episodeChanged.emit()

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

    def set_defaults(self, config: ExperimentConfig) -> None:
        """The chosen model's defaults: its trained inner rate, its evaluation protocol."""
        self._config = config
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
