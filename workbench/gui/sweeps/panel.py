"""The Sweeps view's settings column: the sweep's name, trials, workers, pruner, metric and
storage, the swept fields, and Start / Stop / Use best."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.sweeps import METRICS, PRUNERS
from workbench.gui.sweeps.fields import SweptFields

PRUNER_HELP = {
    "median": "stop a trial whose validation is below the median of earlier trials at the "
    "same iteration",
    "wilcoxon": "stop a trial that a Wilcoxon test finds worse than the best so far",
    "none": "train every trial to the end",
}


class SweepPanel(QWidget):
    """Signals: ``startRequested()``, ``stopRequested()``, ``useBestRequested()``,
    ``openRequested(name)`` (a sweep listed in the runs folder)."""

    startRequested = Signal()
    stopRequested = Signal()
    useBestRequested = Signal()
    openRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("named from the fields, e.g. demo-inner_lr-meta_lr")
        self.name_edit.setToolTip(
            "The sweep's name; starting a sweep of an existing name continues it"
        )
        self.trials = QSpinBox()
        self.trials.setRange(1, 10_000)
        self.trials.setValue(20)
        self.trials.setToolTip("How many trials the sweep runs in all (pruned ones count)")
        self.workers = QSpinBox()
        self.workers.setRange(1, max(1, os.cpu_count() or 1) * 4)
        self.workers.setValue(min(2, os.cpu_count() or 1))
        self.workers.setToolTip(
            "Worker processes on this machine, each training one trial at a time"
        )
        self.pruner = QComboBox()
        for name in PRUNERS:
            self.pruner.addItem(name, name)
            self.pruner.setItemData(self.pruner.count() - 1, PRUNER_HELP[name], 3)
        self.pruner.setToolTip(
            "When to stop hopeless trials early: "
            + "; ".join(f"{k}: {v}" for k, v in PRUNER_HELP.items())
        )
        self.metric_combo = QComboBox()
        for key, m in METRICS.items():
            self.metric_combo.addItem(key, key)
            self.metric_combo.setItemData(self.metric_combo.count() - 1, m.label, 3)
        self.metric_combo.setToolTip("What a trial is scored by (its best validation)")
        self.storage = QLineEdit()
        self.storage.setPlaceholderText("journal file in the runs folder")
        self.storage.setToolTip(
            "Where the study lives: empty for a journal file in the runs folder (this "
            "machine); postgresql://user@host/db or a journal on a shared disk lets other "
            "machines join with `workbench sweep --join NAME --storage URL`"
        )
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Trials", self.trials)
        form.addRow("Workers", self.workers)
        form.addRow("Pruner", self.pruner)
        form.addRow("Metric", self.metric_combo)
        form.addRow("Storage", self.storage)

        self.fields = SweptFields()
        fields_box = QGroupBox("Swept fields")
        fl = QVBoxLayout(fields_box)
        fl.addWidget(self.fields)

        buttons = self._build_buttons()

        self.open_combo = QComboBox()
        self.open_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.open_combo.setMinimumContentsLength(12)
        self.open_combo.setToolTip("Show a sweep kept in the runs folder")
        self.open_combo.activated.connect(
            lambda i: self.openRequested.emit(self.open_combo.itemData(i) or "")
        )
        open_row = QHBoxLayout()
        open_row.addWidget(QLabel("Show sweep"))
        open_row.addWidget(self.open_combo, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 4, 8)
        layout.addLayout(open_row)
        layout.addLayout(form)
        layout.addWidget(fields_box, 1)
        layout.addLayout(buttons)
        self.set_running(False, has_best=False)

    def _build_buttons(self) -> QHBoxLayout:
        self.start_button = QPushButton("Start sweep")
        self.start_button.setToolTip("Run the trials in worker processes (Ctrl+Shift+Return)")
        self.start_button.setShortcut("Ctrl+Shift+Return")
        self.start_button.clicked.connect(self.startRequested)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Stop the workers after their current iteration; start again to continue"
        )
        self.stop_button.clicked.connect(self.stopRequested)
        self.best_button = QPushButton("Use best")
        self.best_button.setToolTip("Copy the best trial's settings into the Experiment panel")
        self.best_button.clicked.connect(self.useBestRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.best_button)
        return buttons

    def list_sweeps(self, names: list[str], current: str = "") -> None:
        self.open_combo.blockSignals(True)
        self.open_combo.clear()
        self.open_combo.addItem("(a new sweep)", "")
        for name in names:
            self.open_combo.addItem(name, name)
        self.open_combo.setCurrentIndex(max(0, self.open_combo.findData(current)))
        self.open_combo.blockSignals(False)

    def set_running(self, running: bool, *, has_best: bool) -> None:
        for w in (self.name_edit, self.trials, self.workers, self.pruner, self.metric_combo):
            w.setEnabled(not running)
        self.storage.setEnabled(not running)
        self.fields.set_enabled(not running)
        self.open_combo.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.best_button.setEnabled(has_best)


__all__ = ["SweepPanel"]
