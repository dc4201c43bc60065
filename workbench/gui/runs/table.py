"""The table widget of the Runs view: row selection, F2 renaming, and columns that fit.

Columns are as wide as their cells and titles; the name takes the rest. When the view is too
narrow for that (the Experiment panel beside it), the optional columns (duration, start time)
give way first; the header's right-click menu shows or hides any column for good.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from workbench.gui.runs.model import HEADERS, NAME, OPTIONAL_COLUMNS
from workbench.gui.theme import Theme

NAME_ROOM = 220  # the name column gets this much before optional columns are hidden
MIN_NAME = 120


def _columns(value: Any) -> set[int]:
    parts = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    return {int(p) for p in map(str, parts) if p.strip().isdigit() and 0 < int(p) < len(HEADERS)}


class RunsTable(QTableView):
    """Rows of runs (whole-row, extended selection), sortable, name editable with F2."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.hidden_columns = _columns(settings.value("runs/hidden_columns", ""))
        self.wanted_columns = _columns(settings.value("runs/wanted_columns", ""))
        self.setSortingEnabled(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setMinimumSectionSize(48)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.sortIndicatorChanged.connect(lambda *_: self.fit_columns())

    def setModel(self, model: Any) -> None:  # noqa: N802 - Qt override
        super().setModel(model)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)

    def fit_columns(self) -> None:
        """Size the columns to their contents; hide optional ones if the name would be cramped."""
        if self.model() is None:
            return
        header = self.horizontalHeader()
        metrics = header.fontMetrics()
        widths = {}
        for column, title in enumerate(HEADERS):
            if column == NAME:
                continue
            arrow = 22 if header.sortIndicatorSection() == column else 0
            widths[column] = max(
                self.sizeHintForColumn(column) + 6, metrics.horizontalAdvance(title) + 20 + arrow
            )
        available = self.viewport().width() if self.isVisible() else self.width()
        name = min(max(self.sizeHintForColumn(NAME) + 6, MIN_NAME), NAME_ROOM)
        shown = [c for c in widths if c not in self.hidden_columns]
        for column in OPTIONAL_COLUMNS:
            if column in self.hidden_columns or column in self.wanted_columns:
                continue
            if sum(widths[c] for c in shown) + name > available:
                shown.remove(column)
        for column, width in widths.items():
            self.setColumnHidden(column, column not in shown)
            if column in shown:
                self.setColumnWidth(column, width)

    def apply_theme(self, theme: Theme) -> None:
        """Selected rows stay readable: white text on the light accent of the dark theme is
        faint, so the highlight is darkened until white text has contrast."""
        palette = self.palette()
        highlight = QColor(theme.curve_colors[0])
        while highlight.lightnessF() > 0.45:
            highlight = highlight.darker(115)
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            palette.setColor(group, QPalette.ColorRole.Highlight, highlight)
            palette.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        self.setPalette(palette)

    def set_column_visible(self, column: int, visible: bool) -> None:
        """Show or hide a column for good (a shown optional column is no longer auto-hidden)."""
        if visible:
            self.hidden_columns.discard(column)
            self.wanted_columns.add(column)
        else:
            self.hidden_columns.add(column)
            self.wanted_columns.discard(column)
        self._settings.setValue(
            "runs/hidden_columns", ",".join(map(str, sorted(self.hidden_columns)))
        )
        self._settings.setValue(
            "runs/wanted_columns", ",".join(map(str, sorted(self.wanted_columns)))
        )
        self.fit_columns()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_columns()

    def _header_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for column, title in enumerate(HEADERS):
            if column == NAME:
                continue
            action = menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(not self.isColumnHidden(column))
            action.toggled.connect(lambda on, c=column: self.set_column_visible(c, on))
        menu.exec(self.horizontalHeader().viewport().mapToGlobal(pos))
