"""The runs table: one row per run folder (`RunInfo`), sorted and filtered by a proxy.

The model is updated in place from a fresh listing (`set_rows`): changed rows emit
``dataChanged``, new ones are inserted, vanished ones removed. A full reset would lose the
user's selection and scroll position every time the poll timer ticks during training.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

from workbench.engine.progress import format_duration
from workbench.engine.run_export import best_text, result_text
from workbench.engine.runs import STATUSES, RunInfo, RunStore, protocol_text
from workbench.errors import WorkbenchError
from workbench.gui.theme import LIGHT, Theme

NAME, ALGORITHM, TASK, STATUS, ITERATIONS, BEST, TEST, STARTED, DURATION = range(9)
HEADERS = (
    "Name",
    "Algorithm",
    "Task",
    "Status",
    "Iterations",
    "Best val",
    "Test",
    "Started",
    "Duration",
)
HEADER_TIPS = (
    "The run's name (F2 renames it; the folder keeps its name)",
    "Meta-learning algorithm",
    "Dataset and episode shape (N-way K-shot)",
    "running, finished, stopped (by you), failed (see the tooltip), or interrupted "
    "(the process died: killed, crashed or a power cut; it can be resumed)",
    "Iterations done / planned",
    "Best validation query accuracy after adaptation, mean ± 95% CI (MSE for regression); "
    "the tooltip gives the iteration it was reached at",
    "Stored test result (Evaluate), mean ± 95% CI; the tooltip gives its protocol",
    "When the run was started",
    "Training time (pauses and loading excluded)",
)
#: hidden first when the table is too narrow (the details under the table still show them)
OPTIONAL_COLUMNS = (DURATION, STARTED)

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
INFO_ROLE = Qt.ItemDataRole.UserRole + 2
PATH_ROLE = Qt.ItemDataRole.UserRole + 3

DATASET_TITLES = {
    "glyphs": "glyphs",
    "sinusoid": "sinusoid",
    "omniglot": "Omniglot",
    "miniimagenet": "mini-ImageNet",
    "folder": "folder",
}
#: short names for the table; the tooltip and the details give the long ones
ALGORITHM_TITLES = {
    "maml": "MAML",
    "fomaml": "FO-MAML",
    "mamlpp": "MAML++",
    "metasgd": "Meta-SGD",
    "anil": "ANIL",
    "protonet": "ProtoNet",
    "protomaml": "Proto-MAML",
    "reptile": "Reptile",
    "finetune": "Fine-tuning",
}
ALGORITHM_NAMES = {
    "maml": "MAML (second order)",
    "fomaml": "first-order MAML",
    "mamlpp": "MAML++",
    "metasgd": "Meta-SGD",
    "anil": "ANIL (head-only MAML)",
    "protonet": "Prototypical Networks",
    "protomaml": "Proto-MAML",
    "reptile": "Reptile",
    "finetune": "fine-tuning baseline (transfer learning)",
}
STATUS_TIPS = {
    "running": "Training now",
    "finished": "All planned iterations done",
    "stopped": "Stopped by you; it can be resumed",
    "failed": "Training failed",
    "interrupted": "The training process ended without saying so (killed, crashed, power "
    "cut); it can be resumed from its last checkpoint",
}


def status_color(status: str, theme: Theme) -> str:
    return {
        "running": theme.curve_colors[0],
        "finished": theme.good,
        "failed": theme.bad,
        "interrupted": theme.curve_colors[4],
        "stopped": theme.muted,
    }.get(status, theme.muted)


def shape_text(info: RunInfo) -> str:
    if not info.dataset:
        return ""
    if info.dataset == "sinusoid":
        return f"{info.shots}-shot"
    return f"{info.ways}-way {info.shots}-shot"


def task_text(info: RunInfo) -> str:
    """'glyphs 5-way 1-shot', 'sinusoid 10-shot'."""
    if not info.dataset:
        return ""
    return f"{DATASET_TITLES.get(info.dataset, info.dataset)} {shape_text(info)}"


def started_text(started: float | None) -> str:
    if not started:
        return ""
    now = time.localtime()
    when = time.localtime(started)
    if when.tm_year == now.tm_year and when.tm_yday == now.tm_yday:
        return time.strftime("%H:%M", when)
    if when.tm_year == now.tm_year:
        return time.strftime("%b %d %H:%M", when)
    return time.strftime("%Y-%m-%d", when)


def status_tip(info: RunInfo) -> str:
    tip = STATUS_TIPS.get(info.status, info.status)
    if info.status == "failed" and info.error:
        tip = f"Failed: {info.error}"
    if info.status in ("interrupted", "stopped"):
        if info.resumable:
            tip += f" (resumes at iteration {info.checkpoint_iteration})"
        elif not info.has_checkpoint:
            tip += " (no usable checkpoint: it cannot be resumed)"
    return tip


class RunsTableModel(QAbstractTableModel):
    """Rows of `RunInfo`; the name is editable (renames the run in its summary.json)."""

    renameFailed = Signal(str)  # a readable message

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RunInfo] = []
        self._theme = LIGHT
        self._dots: dict[str, QIcon] = {}

    # -- content ---------------------------------------------------------------------------
    def set_rows(self, infos: list[RunInfo]) -> None:
        """Bring the table in line with a new listing without resetting it."""
        fresh = {str(i.path): i for i in infos}
        for row in range(len(self._rows) - 1, -1, -1):
            if str(self._rows[row].path) not in fresh:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        known = {str(info.path): row for row, info in enumerate(self._rows)}
        for key, info in fresh.items():
            row = known.get(key)
            if row is None:
                continue
            if _display_key(self._rows[row]) != _display_key(info):
                self._rows[row] = info
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
            else:
                self._rows[row] = info
        new = [info for key, info in fresh.items() if key not in known]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()

    def update_row(self, info: RunInfo) -> None:
        for row, old in enumerate(self._rows):
            if old.path == info.path:
                self._rows[row] = info
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
                return

    def infos(self) -> list[RunInfo]:
        return list(self._rows)

    def info(self, row: int) -> RunInfo:
        return self._rows[row]

    def row_of(self, path: str | Path) -> int:
        for row, info in enumerate(self._rows):
            if info.path == Path(path):
                return row
        return -1

    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._dots.clear()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(HEADERS) - 1)
            )

    # -- QAbstractTableModel ------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return HEADER_TIPS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == NAME:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        info = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(info, column)
        if role == Qt.ItemDataRole.EditRole:
            return info.name if column == NAME else self._text(info, column)
        if role == SORT_ROLE:
            return self._sort_key(info, column)
        if role == INFO_ROLE:
            return info
        if role == PATH_ROLE:
            return str(info.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(info, column)
        if role == Qt.ItemDataRole.DecorationRole:
            if column == NAME and info.problems:
                return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            if column == STATUS:
                return self._dot(status_color(info.status, self._theme))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (ITERATIONS, DURATION):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value: Any,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if not index.isValid() or index.column() != NAME or role != Qt.ItemDataRole.EditRole:
            return False
        info = self._rows[index.row()]
        if str(value).strip() == info.name:
            return False
        try:
            info.name = RunStore(info.path).rename(str(value))
        except (WorkbenchError, OSError) as exc:
            self.renameFailed.emit(f"could not rename {info.name}: {exc}")
            return False
        self.dataChanged.emit(index, index)
        return True

    # -- cells ------------------------------------------------------------------------------
    def _text(self, info: RunInfo, column: int) -> str:
        if column == NAME:
            return info.name
        if column == ALGORITHM:
            return ALGORITHM_TITLES.get(info.algorithm, info.algorithm)
        if column == TASK:
            return task_text(info)
        if column == STATUS:
            return info.status
        if column == ITERATIONS:
            return f"{info.iteration:,} / {info.total:,}" if info.total else f"{info.iteration:,}"
        if column == BEST:
            return best_text(info, at=False)
        if column == TEST:
            return result_text(info)
        if column == STARTED:
            return started_text(info.started)
        if column == DURATION:
            return format_duration(info.elapsed) if info.elapsed else ""
        return ""

    @staticmethod
    def _sort_key(info: RunInfo, column: int) -> Any:
        """Numbers sort as numbers; missing results sort below every present one."""
        if column == NAME:
            return info.name.lower()
        if column == ALGORITHM:
            return info.algorithm
        if column == TASK:
            return f"{info.dataset}:{info.ways:04d}:{info.shots:04d}"
        if column == STATUS:
            return STATUSES.index(info.status) if info.status in STATUSES else len(STATUSES)
        if column == ITERATIONS:
            return float(info.iteration)
        if column == BEST:
            if info.best_accuracy is not None:
                return info.best_accuracy
            return -info.best_mse if info.best_mse is not None else float("-inf")
        if column == TEST:
            if info.test_accuracy is not None:
                return info.test_accuracy
            return -info.test_mse if info.test_mse is not None else float("-inf")
        if column == STARTED:
            return info.started or 0.0
        if column == DURATION:
            return info.elapsed
        return ""

    def _tooltip(self, info: RunInfo, column: int) -> str | None:
        if column == NAME:
            lines = [str(info.path)]
            if info.problems:
                lines += ["", "Problems with this run's files:"] + [f"• {p}" for p in info.problems]
            return "\n".join(lines)
        if column == STATUS:
            return status_tip(info)
        if column == TEST:
            if info.test:
                return f"Protocol: {protocol_text(info.test)}"
            return "Not evaluated yet (Evaluate runs the standard protocol)"
        if column == BEST and info.best_iteration is not None:
            return f"{best_text(info)}: reached at iteration {info.best_iteration}"
        if column == ALGORITHM:
            return ALGORITHM_NAMES.get(info.algorithm, info.algorithm)
        if column == STARTED and info.started:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.started))
        return None

    def _dot(self, color: str) -> QIcon:
        icon = self._dots.get(color)
        if icon is None:
            pixmap = QPixmap(12, 12)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(color))
            painter.drawEllipse(1, 1, 10, 10)
            painter.end()
            icon = QIcon(pixmap)
            icon.addPixmap(pixmap, QIcon.Mode.Selected)  # keep the colour on a selected row
            self._dots[color] = icon
        return icon


def _display_key(info: RunInfo) -> tuple:
    return (
        info.name,
        info.status,
        info.algorithm,
        info.dataset,
        info.ways,
        info.shots,
        info.iteration,
        info.total,
        info.best_accuracy,
        info.best_ci95,
        info.best_mse,
        info.best_iteration,
        info.test_accuracy,
        info.test_ci95,
        info.test_mse,
        tuple(sorted(info.test.items(), key=str)),
        info.started,
        round(info.elapsed),
        tuple(info.problems),
        info.error,
        info.checkpoint_iteration,
        info.has_checkpoint,
    )


class RunsFilterProxy(QSortFilterProxyModel):
    """Filter by words (all must appear in name, algorithm, dataset, shape or status) and by
    one status; sorts on the model's `SORT_ROLE`."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []
        self._status = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = [w.lower() for w in text.split()]
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: str) -> None:
        self.beginFilterChange()
        self._status = status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        model = self.sourceModel()
        info: RunInfo = model.index(source_row, 0, source_parent).data(INFO_ROLE)
        if info is None:
            return True
        if self._status and info.status != self._status:
            return False
        if not self._words:
            return True
        haystack = " ".join(
            (
                info.name,
                info.path.name,
                info.algorithm,
                ALGORITHM_TITLES.get(info.algorithm, ""),
                ALGORITHM_NAMES.get(info.algorithm, ""),
                info.dataset,
                shape_text(info),
                info.status,
            )
        ).lower()
        return all(w in haystack for w in self._words)
