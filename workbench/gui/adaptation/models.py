"""Choosing the models the adaptation viewer adapts: one main model and up to three to compare.

The main model is the run being trained now (a snapshot of its current parameters) or any saved
run (best or last checkpoint). The comparison list offers what a seminar compares it with: the
same architecture untrained ("random initialisation"), the fine-tuning baselines trained on the
same dataset, and the other saved runs that can adapt to the same episodes (e.g. first-order
MAML next to MAML). Everything here is a description (`ModelSource`); loading happens in the
background job that adapts.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.config import ExperimentConfig
from workbench.engine import adaptation as ad
from workbench.engine.runs import RunInfo, RunStore
from workbench.errors import WorkbenchError
from workbench.gui.theme import LIGHT, Theme

LIVE_KEY = "__live__"
SOURCE_ROLE = Qt.ItemDataRole.UserRole


@dataclass
class LiveRun:
    """The run being trained now: its folder, config and how far it is."""

    run_dir: str
    config: ExperimentConfig
    iteration: int = 0
    total: int = 0

    @classmethod
    def of(cls, trainer: Any) -> LiveRun | None:
        """The run ``trainer`` (the context's live `Trainer`, or None) is training, if any."""
        if trainer is None or getattr(trainer, "store", None) is None:
            return None
        return cls(
            str(trainer.store.path), trainer.config, int(trainer.iteration), int(trainer.total)
        )


def run_title(info: RunInfo) -> str:
    """A run as one line of a list: its name and when it started (names repeat, times do not)."""
    if not info.started:
        return info.name
    started = time.localtime(info.started)
    today = time.localtime()[:3] == started[:3]
    return f"{info.name} · {time.strftime('%H:%M' if today else '%d %b', started)}"


def run_detail(info: RunInfo) -> str:
    """What the run is, for the line under the model list."""
    shape = (
        "sinusoid"
        if info.dataset == "sinusoid"
        else f"{info.dataset} {info.ways}-way {info.shots}-shot"
    )
    text = f"{info.algorithm} · {shape} · {info.iteration}/{info.total} iterations · {info.status}"
    if info.best_accuracy is not None:
        text += f"\nbest validation {100 * info.best_accuracy:.1f}% ± {100 * (info.best_ci95 or 0):.1f}%"
    return text


class ModelPicker(QWidget):
    """The main model (combo + checkpoint) and a checkable comparison list (up to three).

    Signal ``changed()`` when the chosen models change. `sources()` is the main model first.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunInfo] = []
        self._live: LiveRun | None = None
        self._configs: dict[str, ExperimentConfig] = {}
        self._updating = False

        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(14)
        self.model_combo.setToolTip(
            "The meta-learned initialisation to adapt: the run being trained now, or a saved run"
        )
        self.model_combo.currentIndexChanged.connect(self._primary_changed)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.addItem("best (validation)", "best")
        self.checkpoint_combo.addItem("last", "last")
        self.checkpoint_combo.setToolTip(
            "best: the checkpoint with the best validation result; last: the most recent one"
        )
        self.checkpoint_combo.currentIndexChanged.connect(self._emit_changed)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.compare_list = QListWidget()
        self.compare_list.setToolTip(
            "Tick up to three models to adapt to the same episode, one colour each"
        )
        self.compare_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.compare_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.compare_list.setMinimumHeight(72)
        self.compare_list.setMaximumHeight(120)
        self.compare_list.itemChanged.connect(self._compare_changed)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setVisible(False)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.model_combo)
        form.addRow("Checkpoint", self.checkpoint_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.detail)
        layout.addWidget(QLabel("Compare with"))
        layout.addWidget(self.compare_list)
        layout.addWidget(self.note)

    # -- content ---------------------------------------------------------------------------------
    def set_runs(self, runs: list[RunInfo], live: LiveRun | None = None) -> None:
        """Offer ``runs`` (those with a checkpoint) and, when training, the live run; keeps the
        current choice and ticks where they still exist."""
        keep_primary = self.model_combo.currentData()
        keep_checked = {s.key for s in self.compare_sources()}
        before = [s.key for s in self.sources()]
        self._runs = [r for r in runs if r.iteration > 0 and not r.problems]
        self._live = live
        self._configs.clear()
        self._updating = True
        try:
            self.model_combo.clear()
            if live is not None:
                self.model_combo.addItem(f"● Training now (iteration {live.iteration})", LIVE_KEY)
                self.model_combo.setItemData(
                    0,
                    f"A snapshot of the current parameters of {live.run_dir}",
                    Qt.ItemDataRole.ToolTipRole,
                )
            # meta-learners first, then baselines; newest first within each
            ordered = sorted(
                self._runs, key=lambda r: (r.algorithm == "finetune", -(r.started or 0))
            )
            for info in ordered:
                self.model_combo.addItem(run_title(info), str(info.path))
                self.model_combo.setItemData(
                    self.model_combo.count() - 1, str(info.path), Qt.ItemDataRole.ToolTipRole
                )
            index = self.model_combo.findData(keep_primary) if keep_primary else -1
            self.model_combo.setCurrentIndex(
                index if index >= 0 else (0 if self.model_combo.count() else -1)
            )
        finally:
            self._updating = False
        self._rebuild_compare(keep_checked)
        self._update_detail()
        if [s.key for s in self.sources()] != before:
            self.changed.emit()

    def set_primary(self, key: str) -> bool:
        """Choose the main model by run folder (or `LIVE_KEY`); False if it is not offered."""
        index = self.model_combo.findData(str(key))
        if index < 0:
            index = self.model_combo.findData(str(Path(key)))
        if index < 0:
            return False
        self.model_combo.setCurrentIndex(index)
        return True

    def set_checkpoint(self, kind: str) -> None:
        self.checkpoint_combo.setCurrentIndex(max(0, self.checkpoint_combo.findData(kind)))

    def set_compared(self, predicate) -> int:
        """Tick the comparison entries whose source satisfies ``predicate`` (at most three);
        returns how many are ticked."""
        self._updating = True
        try:
            ticked = 0
            for i in range(self.compare_list.count()):
                item = self.compare_list.item(i)
                on = ticked < ad.MAX_MODELS - 1 and bool(predicate(item.data(SOURCE_ROLE)))
                ticked += on
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self._updating = False
        self.changed.emit()
        return ticked

    # -- what is chosen --------------------------------------------------------------------------
    def primary_source(self) -> ad.ModelSource | None:
        key = self.model_combo.currentData()
        if key is None:
            return None
        if key == LIVE_KEY and self._live is not None:
            return ad.ModelSource.live(self._live.run_dir)
        info = self._info(key)
        return ad.ModelSource.run(info, self.checkpoint_combo.currentData()) if info else None

    def primary_config(self) -> ExperimentConfig | None:
        """The main model's config (for its data settings and default seeds), or None."""
        key = self.model_combo.currentData()
        if key is None:
            return None
        if key == LIVE_KEY:
            return self._live.config.copy() if self._live is not None else None
        if key not in self._configs:
            try:
                self._configs[key] = RunStore(key).load_config()
            except WorkbenchError:
                return None
        return self._configs[key].copy()

    def is_live(self) -> bool:
        return self.model_combo.currentData() == LIVE_KEY

    def compare_sources(self) -> list[ad.ModelSource]:
        out = []
        for i in range(self.compare_list.count()):
            item = self.compare_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(SOURCE_ROLE))
        return out

    def sources(self) -> list[ad.ModelSource]:
        primary = self.primary_source()
        return ([primary] if primary else []) + self.compare_sources()[: ad.MAX_MODELS - 1]

    def labelled_sources(self) -> list[ad.ModelSource]:
        """`sources` with legend-sized, distinct labels (`short_label`, numbered on repeats)."""
        out, seen = [], {}
        for source in self.sources():
            label = self.short_label(source)
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                label = f"{label} #{seen[label]}"
            out.append(dataclasses.replace(source, label=label))
        return out

    def compare_candidates(self) -> list[ad.ModelSource]:
        return [
            self.compare_list.item(i).data(SOURCE_ROLE) for i in range(self.compare_list.count())
        ]

    def short_label(self, source: ad.ModelSource) -> str:
        """A legend-sized name: "Training now", "Fine-tuning baseline", "Random
        initialisation", or the run's algorithm (with "last" for the last checkpoint)."""
        if source.kind == ad.LIVE:
            return "Training now"
        if source.kind == ad.RANDOM:
            return "Random initialisation"
        if source.baseline:
            return "Fine-tuning baseline"
        info = self._info(source.run_dir)
        name = info.algorithm if info is not None else Path(source.run_dir).name
        return f"{name} (last)" if source.checkpoint == "last" else name

    # -- internals -------------------------------------------------------------------------------
    def _info(self, path: str) -> RunInfo | None:
        for info in self._runs:
            if str(info.path) == path:
                return info
        return None

    def _rebuild_compare(self, keep: set) -> None:
        self._updating = True
        try:
            self.compare_list.clear()
            config = self.primary_config()
            key = self.model_combo.currentData()
            if config is None:
                return
            base_dir = self._live.run_dir if key == LIVE_KEY and self._live else key
            candidates: list[ad.ModelSource] = []
            if base_dir:
                candidates.append(ad.ModelSource.random(base_dir, config.algorithm.name))
            baselines = ad.baseline_runs(self._runs, config)
            candidates += [ad.ModelSource.run(b) for b in baselines if str(b.path) != key]
            shown = {str(b.path) for b in baselines} | {key}
            others = sorted(ad.comparable_runs(self._runs, config), key=lambda r: -(r.started or 0))
            candidates += [ad.ModelSource.run(r) for r in others if str(r.path) not in shown]
            for source in candidates:
                title = source.label
                if source.kind == ad.RUN:
                    info = self._info(source.run_dir)
                    if info is not None:
                        title = f"{'Fine-tuning baseline' if source.baseline else info.algorithm}: {run_title(info)}"
                item = QListWidgetItem(title)
                item.setData(SOURCE_ROLE, source)
                item.setToolTip(f"{title}\n{source.run_dir}")
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(
                    Qt.CheckState.Checked if source.key in keep else Qt.CheckState.Unchecked
                )
                self.compare_list.addItem(item)
        finally:
            self._updating = False

    def _update_detail(self) -> None:
        key = self.model_combo.currentData()
        live = key == LIVE_KEY
        self.checkpoint_combo.setEnabled(not live and key is not None)
        if key is None:
            self.detail.setText(
                "No saved runs in the runs folder yet: train one (Experiment panel "
                "or `workbench train demo`) to adapt it here."
            )
        elif live and self._live is not None:
            c = self._live.config
            self.detail.setText(
                f"{c.algorithm.name} · {c.data.dataset} · being trained: "
                f"iteration {self._live.iteration}/{self._live.total}"
            )
        else:
            info = self._info(key)
            self.detail.setText(run_detail(info) if info else "")

    def _primary_changed(self) -> None:
        if self._updating:
            return
        keep = {s.key for s in self.compare_sources()}
        self._rebuild_compare(keep)
        self._update_detail()
        self.changed.emit()

    def _compare_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        if (
            item.checkState() == Qt.CheckState.Checked
            and len(self.compare_sources()) > ad.MAX_MODELS - 1
        ):
            self._updating = True
            item.setCheckState(Qt.CheckState.Unchecked)
            self._updating = False
            self.note.setText(f"At most {ad.MAX_MODELS} models at once: untick one first.")
            self.note.setVisible(True)
            return
        self.note.setVisible(False)
        self.changed.emit()

    def _emit_changed(self) -> None:
        if not self._updating:
            self.changed.emit()

    def apply_theme(self, theme: Theme = LIGHT) -> None:
        self.detail.setStyleSheet(f"color: {theme.muted};")
        self.note.setStyleSheet(f"color: {theme.bad};")
