"""Compact tables of the adaptation viewer: before / after on one episode, and the protocol's
means over many episodes. A colour square in front of each model matches its curves."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
)

from workbench.engine.adaptation import Aggregate, EpisodeAdaptation
from workbench.engine.predictions import trace_value
from workbench.gui.theme import LIGHT, Theme


def percent(value: float | None) -> str:
    """One decimal, dropped when it is zero (5-way accuracies are often whole percents)."""
    if value is None:
        return "–"
    text = f"{100 * value:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def mse(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


class _Table(QTableWidget):
    """A read-only table sized to its rows, with a coloured model column."""

    def __init__(self) -> None:
        super().__init__()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.verticalHeader().setVisible(False)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self._theme = LIGHT

    def _fill(
        self, headers: list[str], rows: list[list[str]], tips: list[str] | None = None
    ) -> None:
        self.clear()
        self.setColumnCount(len(headers))
        self.setRowCount(len(rows))
        self.setHorizontalHeaderLabels(headers)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(("■  " + text) if c == 0 else text)
                if c == 0:
                    item.setForeground(QColor(self._theme.color(r)))
                    if tips:
                        item.setToolTip(tips[r])
                else:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(r, c, item)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # names elide, numbers never
        for c in range(1, len(headers)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.resizeRowsToContents()
        body = (
            sum(self.rowHeight(r) for r in range(len(rows)))
            or self.verticalHeader().defaultSectionSize()
        )
        self.setFixedHeight(header.sizeHint().height() + body + 2 * self.frameWidth() + 2)

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return "" if item is None else item.text().removeprefix("■  ")


class BeforeAfterTable(_Table):
    """Per model: support and query accuracy (MSE for regression) before adaptation (step 0)
    and at the selected step, as "before → after"."""

    def __init__(self) -> None:
        super().__init__()
        self._items: list[EpisodeAdaptation] = []
        self._regression = False
        self._step = 0

    def set_data(self, adaptations: Sequence[EpisodeAdaptation], regression: bool) -> None:
        self._items = list(adaptations)
        self._regression = regression
        self._refill()

    def set_step(self, step: int) -> None:
        self._step = step
        self._refill()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._refill()

    def _refill(self) -> None:
        s = self._step
        if self._regression:
            names, fmt, what = ("support_loss", "query_loss"), mse, " MSE"
        else:
            names, fmt, what = ("support_accuracy", "query_accuracy"), percent, ""
        headers = ["Model", f"Support{what}\n0 → {s}", f"Query{what}\n0 → {s}"]
        rows, tips = [], []
        for a in self._items:
            row = [a.label]
            for name in names:
                row.append(
                    f"{fmt(trace_value(a.trace, name, 0))} → {fmt(trace_value(a.trace, name, s))}"
                )
            rows.append(row)
            tips.append(f"{a.label}: {a.detail}; adapted in {a.seconds:.2f} s")
        self._fill(headers, rows, tips)


class AggregateTable(_Table):
    """Per model: query and support accuracy (MSE) before adaptation and after the last step,
    the post-adaptation query figure with its 95% confidence interval."""

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Aggregate] = []

    def set_data(self, aggregates: Sequence[Aggregate]) -> None:
        self._items = list(aggregates)
        self._refill()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._refill()

    def _refill(self) -> None:
        if not self._items:
            self._fill(
                [
                    "Model",
                    "Query before",
                    "Query after (± 95% CI)",
                    "Support before",
                    "Support after",
                ],
                [],
            )
            return
        steps = self._items[0].result.steps
        rows = []
        if self._items[0].regression:
            headers = [
                "Model",
                "Query MSE before",
                f"after {steps} steps (± 95% CI)",
                "Support MSE before",
                "after",
            ]
            for a in self._items:
                r = a.result
                rows.append(
                    [
                        a.label,
                        mse(r.query_loss_per_step[0]),
                        f"{mse(r.mse)} ± {mse(r.mse_ci95)}",
                        mse(r.support_loss_per_step[0]),
                        mse(r.support_loss_per_step[-1]),
                    ]
                )
        else:
            headers = [
                "Model",
                "Query before",
                f"after {steps} steps (± 95% CI)",
                "Support before",
                "after",
            ]
            for a in self._items:
                r = a.result
                rows.append(
                    [
                        a.label,
                        percent(r.query_accuracy_per_step[0]),
                        f"{percent(r.accuracy)} ± {percent(r.ci95)}",
                        percent(r.support_accuracy_per_step[0]),
                        percent(r.support_accuracy_per_step[-1]),
                    ]
                )
        self._fill(headers, rows)
