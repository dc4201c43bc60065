"""Representation change per layer: linear CKA between each layer's activations before and
after adaptation, mean and 95% CI over the episodes, one colour per model; and how well the
classes separate in the penultimate features, before and after. "Rapid learning or feature
reuse?" (Raghu et al. 2020) as a bar chart: CKA near 1 means the layer barely changed."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.features import FeaturesReport
from workbench.gui.theme import LIGHT, Theme, style_plot
from workbench.gui.widgets.plots import make_plot

SEPARATION_COLUMNS = (
    ("model", "Model"),
    ("silhouette_before", "Silhouette before"),
    ("silhouette_after", "after"),
    ("centroid_accuracy_before", "Centroid acc. before"),
    ("centroid_accuracy_after", "after"),
    ("query_accuracy_before", "Query acc. before"),
    ("query_accuracy_after", "after"),
)


def bar_layout(models: int, width: float = 0.8) -> tuple[float, list[float]]:
    """Bar width and each model's offset from its layer's position (bars side by side)."""
    bar = width / max(1, models)
    return bar, [(i - (models - 1) / 2) * bar for i in range(models)]


class ChangeTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.report: FeaturesReport | None = None
        self.plot = make_plot(
            "Representation change: CKA before vs after adaptation", "linear CKA", legend=False
        )
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.plot.getPlotItem().setLabel("bottom", "layer")
        self.table = QTableWidget(0, len(SEPARATION_COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in SEPARATION_COLUMNS])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.note = QLabel()
        self.note.setWordWrap(True)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.plot, 1)
        tl.addWidget(self.legend)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.table)
        split.setSizes([420, 160])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(split, 1)
        layout.addWidget(self.note)
        self.bars: list[pg.BarGraphItem] = []

    def set_report(self, report: FeaturesReport) -> None:
        self.report = report
        self.redraw()

    def bar_values(self) -> dict[str, list[float | None]]:
        """Model label -> CKA mean per layer, as drawn (tests)."""
        if self.report is None:
            return {}
        return {c.label: [c.cka[layer].mean for layer in c.layers] for c in self.report.changes}

    def redraw(self) -> None:
        plot = self.plot.getPlotItem()
        plot.clear()
        self.bars = []
        self.legend.clear()
        report = self.report
        if report is None or not report.changes:
            self.note.setText("Representation change needs CKA episodes above 0.")
            self.table.setRowCount(0)
            return
        layers = report.changes[0].layers
        bar, offsets = bar_layout(len(report.changes))
        for i, change in enumerate(report.changes):
            means = np.array(
                [
                    change.cka[name].mean if change.cka[name].mean is not None else np.nan
                    for name in layers
                ],
                float,
            )
            cis = np.array([change.cka[name].ci95 or 0.0 for name in layers], float)
            x = np.arange(len(layers)) + offsets[i]
            color = self.theme.color(i)
            item = pg.BarGraphItem(
                x=x,
                height=np.nan_to_num(means),
                width=bar * 0.9,
                brush=color,
                pen=None,
                name=change.label,
            )
            plot.addItem(item)
            errors = pg.ErrorBarItem(
                x=x,
                y=np.nan_to_num(means),
                height=2 * cis,
                beam=bar * 0.4,
                pen=self.theme.pen(i, width=1.5),
            )
            plot.addItem(errors)
            self.bars.append(item)
        plot.getAxis("bottom").setTicks([list(enumerate(layers))])
        self.legend.setText(
            "&nbsp;&nbsp;&nbsp; ".join(
                f'<span style="color:{self.theme.color(i)}">■</span>&nbsp;{html.escape(c.label)}'
                for i, c in enumerate(report.changes)
            )
        )
        plot.setYRange(0, 1.05, padding=0)
        plot.setXRange(-0.6, len(layers) - 0.4, padding=0)
        self._fill_table(report)
        steps, episodes = report.changes[0].steps, report.changes[0].episodes
        notes = sorted({f"{c.label}, {k}: {v}" for c in report.changes for k, v in c.notes.items()})
        self.note.setText(
            f"Mean over {episodes} test episodes of {steps} inner steps, with 95% intervals. "
            "CKA 1: the layer's representation of the probe images did not change; "
            "feature reuse shows as a body near 1 and a head lower."
            + "".join(f"\n{n}" for n in notes)
        )

    def _fill_table(self, report: FeaturesReport) -> None:
        rows = report.separation_rows()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (key, _h) in enumerate(SEPARATION_COLUMNS):
                value = row.get(key)
                if isinstance(value, float):
                    ci = row.get(f"{key}_ci95")
                    percent = "accuracy" in key
                    text = f"{100 * value:.1f}%" if percent else f"{value:.3f}"
                    if isinstance(ci, float):
                        text += f" ± {100 * ci:.1f}%" if percent else f" ± {ci:.3f}"
                else:
                    text = "" if value is None else str(value)
                self.table.setItem(r, c, QTableWidgetItem(text))

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        style_plot(self.plot, theme)
        self.note.setStyleSheet(f"color: {theme.muted};")
        self.redraw()


__all__ = ["ChangeTab", "bar_layout"]
