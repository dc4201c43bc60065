"""The table of a dataset's splits in the episode browser: classes, images and images per class
of each split, as counted by `workbench.data.summary` (the table only draws them).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.data.summary import SUMMARY_SPLITS, SplitSummary


class SplitSummaryTable(QWidget):
    """A small table: one row per split with classes, images and images per class."""

    HEADERS = ("Split", "Classes", "Images", "Per class")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(len(SUMMARY_SPLITS), len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.note)
        self._summaries: dict[str, SplitSummary] = {}
        self._fit_height()
        self.set_pending("")

    def _fit_height(self) -> None:
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(
            self.table.horizontalHeader().height() + rows + 2 * self.table.frameWidth()
        )

    def _set_row(self, row: int, cells: tuple[str, ...], tooltip: str = "") -> None:
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            align = Qt.AlignmentFlag.AlignVCenter | (
                Qt.AlignmentFlag.AlignLeft if col == 0 else Qt.AlignmentFlag.AlignRight
            )
            item.setTextAlignment(align)
            item.setToolTip(tooltip)
            self.table.setItem(row, col, item)

    def set_pending(self, text: str = "counting…") -> None:
        """Rows without numbers yet (the splits are being loaded in the background)."""
        self._summaries = {}
        self.table.setVisible(True)
        for r, split in enumerate(SUMMARY_SPLITS):
            self._set_row(r, (split, "…" if text else "", "", ""))
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_summaries(self, summaries: list[SplitSummary], note: str = "") -> None:
        self.table.setVisible(True)
        self._summaries = {s.split: s for s in summaries}
        for r, split in enumerate(SUMMARY_SPLITS):
            s = self._summaries.get(split)
            if s is None:
                self._set_row(r, (split, "", "", ""))
            elif s.error:
                self._set_row(r, (split, "—", "—", "unavailable"), s.error)
            else:
                per = s.per_class
                c, h, w = s.image_shape
                self._set_row(
                    r,
                    (split, f"{s.n_classes:,}", f"{s.n_images:,}", per),
                    f"{split}: {s.n_classes} classes, {s.n_images} images, {per} per class, "
                    f"{c}×{h}×{w}",
                )
        errors = [f"{s.split}: {s.error}" for s in summaries if s.error]
        text = "\n".join(([note] if note else []) + errors)
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_message(self, text: str) -> None:
        """A note instead of the table (for datasets without classes, such as sinusoid)."""
        self._summaries = {}
        self.table.setVisible(False)
        self.note.setText(text)
        self.note.setVisible(True)

    def summaries(self) -> dict[str, SplitSummary]:
        return dict(self._summaries)

    def cell_text(self, split: str, column: str) -> str:
        item = self.table.item(SUMMARY_SPLITS.index(split), self.HEADERS.index(column))
        return item.text() if item is not None else ""


__all__ = ["SplitSummaryTable"]
