"""The live table of a sweep's trials: one row per trial, updated in place as it changes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from workbench.engine.progress import format_duration
from workbench.engine.sweeps import TrialRow
from workbench.gui.theme import LIGHT, Theme

FIXED = ("#", "State", "Value", "Duration", "Pruned at")
Index = QModelIndex | QPersistentModelIndex


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class TrialsModel(QAbstractTableModel):
    """Trials by number; columns: number, state, one per swept parameter, value, duration,
    the iteration a pruned trial stopped at, and why a failed one failed (tooltip)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[TrialRow] = []
        self.params: list[str] = []
        self.best: int | None = None
        self.theme: Theme = LIGHT

    def reset(self, params: list[str]) -> None:
        self.beginResetModel()
        self.rows, self.params, self.best = [], list(params), None
        self.endResetModel()

    def upsert(self, row: TrialRow) -> None:
        """Add the trial, or replace the row of the same number."""
        for i, old in enumerate(self.rows):
            if old.number == row.number:
                self.rows[i] = row
                self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))
                return
        for key in row.params:
            if key not in self.params:  # a sweep joined from elsewhere: its own parameters
                self.beginResetModel()
                self.params.append(key)
                self.endResetModel()
        at = sum(1 for r in self.rows if r.number < row.number)
        self.beginInsertRows(QModelIndex(), at, at)
        self.rows.insert(at, row)
        self.endInsertRows()

    def set_best(self, number: int | None) -> None:
        self.best = number
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, 0))

    def headers(self) -> list[str]:
        return [*FIXED[:2], *self.params, *FIXED[2:]]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(FIXED) + len(self.params)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        return None

    def text(self, row: TrialRow, column: int) -> str:
        name = self.headers()[column]
        if column == 0:
            return f"{row.number}{' ★' if row.number == self.best else ''}"
        if name == "State":
            interrupted = row.state == "failed" and not row.counted
            return "interrupted" if interrupted else row.state
        if name == "Value":
            return "" if row.value is None else f"{row.value:.4f}"
        if name == "Duration":
            return "" if row.duration is None else format_duration(row.duration)
        if name == "Pruned at":
            return "" if row.pruned_at_iteration is None else f"iteration {row.pruned_at_iteration}"
        value = row.params.get(name)
        return "" if value is None else _number(value)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [f"Trial {row.number}: {row.state}"]
            if row.reason:
                parts.append(row.reason)
            if row.run_dir is not None:
                parts.append(f"Run folder: {row.run_dir}")
            return "\n".join(parts)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 1:
            colour = {"complete": self.theme.good, "failed": self.theme.bad}.get(row.state)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


__all__ = ["TrialsModel"]
