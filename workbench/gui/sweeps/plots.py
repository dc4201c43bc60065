"""A sweep in three plots: the value of each trial with the best so far, one parameter against
the value (the parameter picked in a list), and how much each parameter matters."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from workbench.engine.sweeps import TrialRow
from workbench.gui.theme import LIGHT, Theme, style_plot
from workbench.gui.widgets.plots import make_plot


def best_so_far(rows: list[TrialRow], maximize: bool) -> tuple[list[int], list[float]]:
    """Trial numbers and the best value reached up to each completed trial."""
    xs, ys, best = [], [], None
    for r in sorted(rows, key=lambda r: r.number):
        if r.state != "complete" or r.value is None:
            continue
        if best is None or (r.value > best if maximize else r.value < best):
            best = r.value
        xs.append(r.number)
        ys.append(best)
    return xs, ys


def param_points(rows: list[TrialRow], key: str) -> tuple[list[float], list[float], list[str]]:
    """(x, value) of each completed trial for parameter ``key``; choices become 0, 1, 2, ...
    with their names as the third list (empty for numbers)."""
    done = [r for r in rows if r.state == "complete" and r.value is not None and key in r.params]
    values = [r.params[key] for r in done]
    if any(isinstance(v, (str, bool)) for v in values):
        names = sorted({str(v) for v in values})
        ys = [float(r.value) for r in done if r.value is not None]
        return [float(names.index(str(v))) for v in values], ys, names
    return [float(v) for v in values], [float(r.value) for r in done], []  # type: ignore[arg-type]


class SweepPlots(QWidget):
    """Value per trial (dots) and best so far (line); parameter vs value; importances."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.rows: list[TrialRow] = []
        self.maximize = True
        self.metric_label = "value"
        self.log_params: set[str] = set()
        self.history = make_plot("Value of each trial, and the best so far", "value", legend=False)
        self.history.getPlotItem().setLabel("bottom", "trial")
        self.scatter = make_plot("Parameter against value", "value", legend=False)
        self.importance = make_plot("Importance (fANOVA)", "", legend=False)
        self.importance.getPlotItem().setLabel("bottom", "share of variance")
        self.param_combo = QComboBox()
        self.param_combo.setToolTip("The parameter on the horizontal axis")
        self.param_combo.currentIndexChanged.connect(lambda _i: self._draw_scatter())
        for widget in (self.history, self.scatter, self.importance):
            for name in ("left", "bottom"):  # values are shown as they are, never "(x0.001)"
                widget.getPlotItem().getAxis(name).enableAutoSIPrefix(False)
        self.importance_note = QLabel()
        self.importance_note.setWordWrap(True)
        scatter_box = QWidget()
        sl = QVBoxLayout(scatter_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.param_combo)
        sl.addWidget(self.scatter, 1)
        importance_box = QWidget()
        il = QVBoxLayout(importance_box)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(self.importance, 1)
        il.addWidget(self.importance_note)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.history, 0, 0, 1, 2)
        grid.addWidget(scatter_box, 1, 0)
        grid.addWidget(importance_box, 1, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)

    def set_sweep(
        self, params: list[str], log_params: set[str], maximize: bool, metric: str
    ) -> None:
        self.maximize, self.metric_label, self.log_params = maximize, metric, set(log_params)
        self.param_combo.blockSignals(True)
        self.param_combo.clear()
        self.param_combo.addItems(params)
        self.param_combo.blockSignals(False)
        self.show_rows([])
        self.show_importances({}, "Importances appear once two trials have completed.")

    def show_rows(self, rows: list[TrialRow]) -> None:
        self.rows = list(rows)
        self._draw_history()
        self._draw_scatter()

    def _draw_history(self) -> None:
        plot, theme = self.history.getPlotItem(), self.theme
        plot.clear()
        plot.setLabel("left", self.metric_label)
        done = [r for r in self.rows if r.state == "complete" and r.value is not None]
        pruned = [r for r in self.rows if r.state == "pruned" and r.intermediate]
        dots = plot.plot(
            [r.number for r in done],
            [r.value for r in done],
            pen=None,
            symbol="o",
            symbolSize=8,
            symbolBrush=pg.mkBrush(theme.color(0)),
            symbolPen=None,
        )
        dots.export_name = "completed trials"
        if pruned:  # a pruned trial's last reported value, hollow
            last = [r.intermediate[max(r.intermediate)] for r in pruned]
            item = plot.plot(
                [r.number for r in pruned],
                last,
                pen=None,
                symbol="o",
                symbolSize=8,
                symbolBrush=None,
                symbolPen=theme.pen(1, width=1.5),
            )
            item.export_name = "pruned trials (last reported value)"
        xs, ys = best_so_far(self.rows, self.maximize)
        line = plot.plot(xs, ys, pen=theme.pen(2))
        line.export_name = "best so far"

    def _draw_scatter(self) -> None:
        plot, theme = self.scatter.getPlotItem(), self.theme
        plot.clear()
        key = self.param_combo.currentText()
        if not key:
            return
        xs, ys, names = param_points(self.rows, key)
        log = key in self.log_params and all(x > 0 for x in xs)
        plot.setLogMode(x=log, y=False)
        item = plot.plot(
            xs,
            ys,
            pen=None,
            symbol="o",
            symbolSize=8,
            symbolBrush=pg.mkBrush(theme.color(0)),
            symbolPen=None,
        )
        item.export_name = f"{key} against {self.metric_label}"
        plot.setLabel("bottom", key + (" (log scale)" if log else ""))
        plot.setLabel("left", self.metric_label)
        axis = plot.getAxis("bottom")
        axis.setTicks([list(enumerate(names))] if names else None)

    def show_importances(self, importances: dict[str, float], note: str = "") -> None:
        plot, theme = self.importance.getPlotItem(), self.theme
        plot.clear()
        items = sorted(importances.items(), key=lambda kv: kv[1])
        if items:
            bars = pg.BarGraphItem(
                x0=0,
                y=list(range(len(items))),
                height=0.6,
                width=[v for _, v in items],
                brush=theme.color(0),
                pen=None,
            )
            plot.addItem(bars)
            plot.getAxis("left").setTicks([[(i, k) for i, (k, _) in enumerate(items)]])
            plot.setXRange(0, max(1e-9, max(v for _, v in items)) * 1.1, padding=0)
            plot.setYRange(-0.6, len(items) - 0.4, padding=0)
        self.importance_note.setText(note)
        self.importance_note.setVisible(bool(note))

    def importance_values(self) -> dict[str, float]:
        """What the bars show (tests)."""
        out = {}
        for item in self.importance.getPlotItem().items:
            if isinstance(item, pg.BarGraphItem):
                ticks = self.importance.getPlotItem().getAxis("left")._tickLevels[0]
                widths = item.opts["width"]
                out = {name: float(w) for (_, name), w in zip(ticks, widths, strict=True)}
        return out

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        for widget in (self.history, self.scatter, self.importance):
            style_plot(widget, theme)
        self.importance_note.setStyleSheet(f"color: {theme.muted};")
        self._draw_history()
        self._draw_scatter()


__all__ = ["SweepPlots", "best_so_far", "param_points"]
