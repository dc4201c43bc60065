"""The Features view's settings column: the run, up to three comparison models, the probe set
and the episodes, and Analyse / Cancel with progress."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.features.probe import DEFAULT_CLASSES, DEFAULT_PER_CLASS
from workbench.engine.features.sources import BASELINE, RANDOM
from workbench.engine.runs import RunInfo

#: a run and at most this many comparison models
MAX_COMPARE = 3


class FeaturesPanel(QWidget):
    """Signals: ``analyseRequested()``, ``cancelRequested()``."""

    analyseRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The run whose network is analysed (image datasets only)")
        self.run_combo.currentIndexChanged.connect(lambda _i: self._list_compare())
        # long run names must not widen the column: the list elides, the tooltip has it all
        self.run_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.run_combo.setMinimumContentsLength(12)
        self.compare = QListWidget()
        self.compare.setToolTip(
            f"Up to {MAX_COMPARE} models to compare with: standard training (the fine-tuning "
            "baseline), an untrained network, or other runs of the same architecture"
        )
        self.compare.itemChanged.connect(self._limit_compare)
        self.classes = QSpinBox()
        self.classes.setRange(2, 200)
        self.classes.setValue(DEFAULT_CLASSES)
        self.classes.setToolTip(
            "Classes of the test split in the probe set (the scatter's colours)"
        )
        self.per_class = QSpinBox()
        self.per_class.setRange(2, 100)
        self.per_class.setValue(DEFAULT_PER_CLASS)
        self.per_class.setToolTip("Images of each class in the probe set")
        self.episodes = QSpinBox()
        self.episodes.setRange(0, 1000)
        self.episodes.setValue(20)
        self.episodes.setToolTip(
            "Test episodes the representation change (CKA) is averaged over; 0 skips it"
        )
        self.episode_index = QSpinBox()
        self.episode_index.setRange(0, 9_999_999)
        self.episode_index.setToolTip("The test episode the pictures adapt to")
        self.steps = QSpinBox()
        self.steps.setRange(-1, 100)
        self.steps.setValue(-1)
        self.steps.setSpecialValueText("the run's")
        self.steps.setToolTip("Inner steps of adaptation (the run's eval.inner_steps by default)")
        form = QFormLayout()
        form.addRow("Run", self.run_combo)
        form.addRow("Probe classes", self.classes)
        form.addRow("Images per class", self.per_class)
        form.addRow("Episode shown", self.episode_index)
        form.addRow("CKA episodes", self.episodes)
        form.addRow("Inner steps", self.steps)
        compare_box = QGroupBox("Compare with")
        cl = QVBoxLayout(compare_box)
        cl.addWidget(self.compare)
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setToolTip("Compute the features of the run and the models compared")
        self.analyse_button.clicked.connect(self.analyseRequested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress_text = QLabel()
        self.progress_text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addLayout(form)
        layout.addWidget(compare_box, 1)
        layout.addWidget(self.analyse_button)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_text)
        self._runs: list[RunInfo] = []
        self.set_running(False)

    # -- runs ---------------------------------------------------------------------------------------
    def set_runs(self, runs: list[RunInfo]) -> None:
        """The runs that can be analysed: image datasets, with a checkpoint, newest first."""
        keep = self.run_path()
        self._runs = [r for r in runs if r.dataset and r.dataset != "sinusoid" and r.iteration]
        self._runs.sort(key=lambda r: r.started or 0.0, reverse=True)
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for r in self._runs:
            self.run_combo.addItem(f"{r.name}  ({r.algorithm}, {r.dataset})", str(r.path))
        index = self.run_combo.findData(keep) if keep else -1
        self.run_combo.setCurrentIndex(index if index >= 0 else 0)
        self.run_combo.blockSignals(False)
        self._list_compare()

    def select_run(self, path: str) -> bool:
        index = self.run_combo.findData(path)
        if index >= 0:
            self.run_combo.setCurrentIndex(index)
        return index >= 0

    def run_path(self) -> str:
        return str(self.run_combo.currentData() or "")

    def _list_compare(self) -> None:
        checked = set(self.compared())
        if not checked:
            checked = {BASELINE}  # standard training is the comparison people ask for first
        self.compare.blockSignals(True)
        self.compare.clear()
        entries = [
            (BASELINE, "Standard training (fine-tuning baseline)"),
            (RANDOM, "Random initialisation"),
        ]
        current = self.run_path()
        entries += [
            (str(r.path), f"{r.name}  ({r.algorithm})")
            for r in self._runs
            if str(r.path) != current
        ]
        for key, label in entries:
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if key in checked else Qt.CheckState.Unchecked)
            self.compare.addItem(item)
        self.compare.blockSignals(False)

    def compared(self) -> list[str]:
        """What is checked: ``baseline``, ``random`` or run folders, in list order."""
        out = []
        for i in range(self.compare.count()):
            item = self.compare.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_compared(self, keys: list[str]) -> None:
        self.compare.blockSignals(True)
        for i in range(self.compare.count()):
            item = self.compare.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in keys
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.compare.blockSignals(False)

    def _limit_compare(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.CheckState.Checked and len(self.compared()) > MAX_COMPARE:
            self.compare.blockSignals(True)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.compare.blockSignals(False)
            self.progress_text.setText(f"At most {MAX_COMPARE} models to compare with")

    # -- state --------------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        for w in (
            self.run_combo,
            self.compare,
            self.classes,
            self.per_class,
            self.episodes,
            self.episode_index,
            self.steps,
        ):
            w.setEnabled(not running)
        self.analyse_button.setEnabled(not running and bool(self.run_path()))
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)

    def show_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(1000 * fraction))
        self.progress_text.setText(text)

    def runs_dir_of(self) -> Path | None:
        path = self.run_path()
        return Path(path).parent if path else None


__all__ = ["MAX_COMPARE", "FeaturesPanel"]
