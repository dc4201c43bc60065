"""The adaptation viewer's plots: per-step curves of one episode, the sinusoid fit (the MAML
paper's Figure 2), and the per-step means and histogram over many episodes.

Each plot keeps the data it was given and redraws from it, so a theme change recolours
everything; one colour per model (``theme.color(i)``), the same in every plot. Legends are a
line of text above the plots rather than boxes inside them, so they never cover a curve.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.data.episodes import Episode
from workbench.data.sinusoid import AMPLITUDE, X_RANGE
from workbench.engine.adaptation import Aggregate, EpisodeAdaptation
from workbench.engine.episode_histogram import episode_histogram
from workbench.engine.predictions import clamp_step, true_function
from workbench.gui.theme import LIGHT, Theme, style_plot
from workbench.gui.widgets.plots import make_plot

Y_LIMIT = AMPLITUDE[1] * 1.25
#: legend keys: how a line of each style is written in the legend text
KEYS = {"solid": "━━", "dashed": "╍╍", "dotted": "┈┈", "square": "■", "triangle": "▲", "bar": "⊥"}


def legend_html(entries: Sequence[tuple[str, str, str]], theme: Theme) -> str:
    """``entries`` of (colour, key style, text) as one line of rich text."""
    parts = []
    for color, key, text in entries:
        parts.append(
            f"<span style='color:{color}; font-weight:bold'>{KEYS[key]}</span>"
            f"&nbsp;<span style='color:{theme.foreground}'>"
            f"{html.escape(text).replace(' ', '&nbsp;')}</span>"
        )
    return " &nbsp;&nbsp; ".join(parts)  # breaks only between entries


def _legend_label() -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setContentsMargins(8, 0, 8, 0)
    return label


def _pen(
    theme: Theme, index: int, dashed: bool = False, width: float | None = None, alpha: int = 255
) -> pg.QtGui.QPen:
    pen = theme.pen(index, width=width, alpha=alpha)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def _curve(
    plot: pg.PlotItem,
    x,
    y,
    pen,
    name: str,
    symbol: str | None = None,
    theme: Theme | None = None,
    index: int = 0,
) -> pg.PlotDataItem:
    """A named curve (the name is what CSV export calls it); ``y`` may run past ``x``: a curve
    that grows shows the first ``len(x)`` values."""
    kwargs = {}
    if symbol and theme is not None:
        kwargs = dict(
            symbol=symbol, symbolSize=6, symbolPen=pen, symbolBrush=pg.mkBrush(theme.color(index))
        )
    xs = list(x)
    item = plot.plot(xs, list(y)[: len(xs)], pen=pen, name=name, **kwargs)
    item.export_name = name
    return item


def _positive(values: Sequence[float]) -> list[float]:
    """Values for a log axis: a loss that underflowed to 0 is drawn at 1e-8."""
    return [max(float(v), 1e-8) for v in values]


def _prepare(widget: pg.PlotWidget, theme: Theme, title: str) -> pg.PlotItem:
    """Clear and style a plot; the title is given its colour explicitly because pyqtgraph
    writes a title's colour into its text."""
    plot = widget.getPlotItem()
    plot.clear()
    style_plot(widget, theme)
    _set_title(plot, title, theme)
    return plot


def _set_title(plot: pg.PlotItem, title: str, theme: Theme) -> None:
    """The title in the theme's colour, without letting its width set the plot's minimum width
    (pyqtgraph does, and a plot wider than its widget is cut off on the right)."""
    plot.setTitle(title, color=theme.foreground)
    plot.titleLabel.setMinimumWidth(0)


def _step_marker(theme: Theme) -> pg.InfiniteLine:
    line = pg.InfiniteLine(
        angle=90,
        movable=False,
        pen=pg.mkPen(QColor(theme.muted), width=1.2, style=Qt.PenStyle.DotLine),
    )
    line.setZValue(-5)
    return line


def _model_entries(labels: Sequence[str], theme: Theme) -> list[tuple[str, str, str]]:
    return [(theme.color(i), "square", label) for i, label in enumerate(labels)]


def _line_entries(
    theme: Theme, extra: Sequence[tuple[str, str, str]] = ()
) -> list[tuple[str, str, str]]:
    return [(theme.muted, "solid", "query"), (theme.muted, "dashed", "support"), *extra]


class StepCurves(QWidget):
    """Accuracy and loss after inner steps 0..S for each model (solid: query, dashed: support),
    with a marker at the selected step. Regression shows the mean squared error only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.acc_plot = make_plot("Accuracy", "accuracy (%)", legend=False)
        self.loss_plot = make_plot("Loss", "loss", legend=False)
        for w in (self.acc_plot, self.loss_plot):
            w.getPlotItem().setLabel("bottom", "inner step")
        self.legend = _legend_label()
        plots = QHBoxLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.acc_plot)
        plots.addWidget(self.loss_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addLayout(plots, 1)
        self._theme = LIGHT
        self._items: list[EpisodeAdaptation] = []
        self._regression = False
        self._step = 0
        self._until: int | None = None
        self._markers: list[pg.InfiniteLine] = []

    def set_data(self, adaptations: Sequence[EpisodeAdaptation], regression: bool) -> None:
        self._items = list(adaptations)
        self._regression = regression
        self._redraw()

    def set_growth(self, until: int | None) -> None:
        """Draw the curves only up to step ``until`` (None: all steps), on the axes of the
        whole curves: the frames of an animation in which the curves grow step by step."""
        if until != self._until:
            self._until = until
            self._redraw()

    def set_step(self, step: int) -> None:
        self._step = step
        for m in self._markers:
            m.setValue(step)

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._redraw()

    def _redraw(self) -> None:
        theme = self._theme
        self.acc_plot.setVisible(not self._regression)
        loss_title = "Mean squared error" if self._regression else "Loss (cross-entropy)"
        self.loss_plot.getPlotItem().setLabel(
            "left", ("MSE" if self._regression else "loss") + " (log scale)"
        )
        self._markers = []
        for widget, title in ((self.acc_plot, "Accuracy"), (self.loss_plot, loss_title)):
            plot = _prepare(widget, theme, title)
            marker = _step_marker(theme)
            marker.setValue(self._step)
            plot.addItem(marker)
            self._markers.append(marker)
        longest = max((a.trace.steps for a in self._items), default=1)
        symbol = "o" if longest <= 30 else None
        acc, loss = self.acc_plot.getPlotItem(), self.loss_plot.getPlotItem()
        shown = longest if self._until is None else self._until
        for i, a in enumerate(self._items):
            t = a.trace
            steps = range(min(t.steps, shown) + 1)
            if not self._regression:
                _curve(
                    acc,
                    steps,
                    [100 * v for v in t.query_accuracy],
                    _pen(theme, i),
                    f"{a.label} · query accuracy",
                    symbol,
                    theme,
                    i,
                )
                _curve(
                    acc,
                    steps,
                    [100 * v for v in t.support_accuracy],
                    _pen(theme, i, True),
                    f"{a.label} · support accuracy",
                )
            _curve(
                loss,
                steps,
                _positive(t.query_loss),
                _pen(theme, i),
                f"{a.label} · query loss",
                symbol,
                theme,
                i,
            )
            _curve(
                loss,
                steps,
                _positive(t.support_loss),
                _pen(theme, i, True),
                f"{a.label} · support loss",
            )
        loss.setLogMode(y=True)  # losses before adaptation can be 100x those after
        acc.setYRange(0, 100, padding=0.06)
        for plot in (acc, loss):
            plot.setXRange(0, max(1, longest), padding=0.03)
            plot.enableAutoRange(axis="y", enable=plot is loss and self._until is None)
        if self._until is not None:
            self._fix_loss_range(loss)
        entries = _model_entries([a.label for a in self._items], theme)
        entries += _line_entries(theme, [(theme.muted, "dotted", "selected step")])
        self.legend.setText(legend_html(entries, theme) if self._items else "")

    def _fix_loss_range(self, loss: pg.PlotItem) -> None:
        """The log-scale range of the whole loss curves (a growing curve keeps its axes)."""
        values = [
            v
            for a in self._items
            for v in (*_positive(a.trace.query_loss), *_positive(a.trace.support_loss))
            if math.isfinite(v) and v > 0
        ]
        if values:
            loss.setYRange(math.log10(min(values)), math.log10(max(values)), padding=0.08)


class SinusoidFit(QWidget):
    """The true function, the support points, and each model's prediction after the selected
    step (the first model's prediction before adaptation dotted): Figure 2 of Finn et al."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = make_plot("Predicted function", "y", legend=False)
        self.plot.getPlotItem().setLabel("bottom", "x")
        self.legend = _legend_label()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        self._theme = LIGHT
        self._episode: Episode | None = None
        self._items: list[EpisodeAdaptation] = []
        self._step = 0
        self._step_curves: list[pg.PlotDataItem] = []

    def set_data(self, episode: Episode, adaptations: Sequence[EpisodeAdaptation]) -> None:
        self._episode = episode
        self._items = [a for a in adaptations if a.trace.curve_y]
        self._redraw()

    def set_step(self, step: int) -> None:
        self._step = step
        for item, a in zip(self._step_curves, self._items):
            s = clamp_step(a.trace.curve_y, step)
            item.setData(a.trace.curve_x, a.trace.curve_y[s])
            item.export_name = f"{a.label} · step {s}"
        _set_title(self.plot.getPlotItem(), self._title(), self._theme)
        self._update_legend()

    def curves_drawn(self) -> int:
        """Predicted curves drawn at the selected step (one per model)."""
        return len(self._step_curves)

    def curve_data(self, index: int) -> tuple[list[float], list[float]]:
        """The x and y of model ``index``'s predicted curve as drawn."""
        item = self._step_curves[index]
        return item.xData.tolist(), item.yData.tolist()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._redraw()

    def _title(self) -> str:
        e = self._episode
        if e is None:
            return "Predicted function"
        task = e.task
        what = (
            f"y = {task['amplitude']:.2f} · sin(x − {task['phase']:.2f})"
            if "amplitude" in task
            else f"episode {e.index}"
        )
        return f"Step {self._step} · {what}"

    def _update_legend(self) -> None:
        theme = self._theme
        if self._episode is None:
            self.legend.setText("")
            return
        entries = [(theme.foreground, "solid", "true function")]
        if self._items:
            entries.append((theme.color(0), "dotted", f"{self._items[0].label}, before adaptation"))
        entries += [
            (theme.color(i), "solid", f"{a.label}, step {clamp_step(a.trace.curve_y, self._step)}")
            for i, a in enumerate(self._items)
        ]
        entries.append(
            (
                theme.foreground,
                "triangle",
                f"support points (K = {self._episode.support_x.shape[0]})",
            )
        )
        self.legend.setText(legend_html(entries, theme))

    def _redraw(self) -> None:
        theme = self._theme
        plot = _prepare(self.plot, theme, self._title())
        self._step_curves = []
        e = self._episode
        if e is None:
            self._update_legend()
            return
        fg = QColor(theme.foreground)
        truth = true_function(e)
        if truth is not None:
            _curve(plot, *truth, pg.mkPen(fg, width=theme.line_width + 0.6), "true function")
        if self._items:
            first = self._items[0]
            _curve(
                plot,
                first.trace.curve_x,
                first.trace.curve_y[0],
                pg.mkPen(QColor(theme.color(0)), width=theme.line_width, style=Qt.PenStyle.DotLine),
                f"{first.label} · step 0",
            )
        for i, a in enumerate(self._items):
            self._step_curves.append(
                _curve(plot, [], [], _pen(theme, i, width=theme.line_width + 0.8), a.label)
            )
        sx = e.support_x.flatten().tolist()
        sy = e.support_y.flatten().tolist()
        support = plot.plot(
            sx,
            sy,
            pen=None,
            symbol="t1",
            symbolSize=17 if theme.presentation else 13,
            symbolBrush=pg.mkBrush(fg),
            symbolPen=pg.mkPen(QColor(theme.background), width=1),
            name="support points",
        )
        support.export_name = "support points"
        support.setZValue(10)
        plot.setXRange(*X_RANGE, padding=0.02)
        plot.setYRange(-Y_LIMIT, Y_LIMIT, padding=0)
        self.set_step(self._step)


class AggregatePlots(QWidget):
    """Over M episodes: mean ± 95% CI per inner step (query solid, support dashed) and the
    histogram of the post-adaptation query accuracy (or MSE) per episode, per model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps_plot = make_plot("Mean accuracy ± 95% CI", "accuracy (%)", legend=False)
        self.steps_plot.getPlotItem().setLabel("bottom", "inner step")
        self.hist_plot = make_plot("Query accuracy after adaptation", "episodes", legend=False)
        self.legend = _legend_label()
        plots = QHBoxLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.steps_plot, 3)
        plots.addWidget(self.hist_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addLayout(plots, 1)
        self._theme = LIGHT
        self._items: list[Aggregate] = []
        self._queries = 0

    def set_data(self, aggregates: Sequence[Aggregate], queries_per_episode: int = 0) -> None:
        """``queries_per_episode`` (N*Q) lets the histogram put one bar on each attainable
        accuracy instead of binning them unevenly."""
        self._items = list(aggregates)
        self._queries = queries_per_episode
        self._redraw()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._redraw()

    def _redraw(self) -> None:
        theme = self._theme
        regression = bool(self._items) and self._items[0].regression
        scale = 1.0 if regression else 100.0
        sp = _prepare(
            self.steps_plot,
            theme,
            ("Mean squared error" if regression else "Mean accuracy") + " ± 95% CI",
        )
        after = f"after {max((a.result.steps for a in self._items), default=0)} steps"
        hp = _prepare(
            self.hist_plot, theme, f"Query MSE {after}" if regression else f"Query accuracy {after}"
        )
        sp.setLabel("left", "MSE" if regression else "accuracy (%)")
        hp.setLabel("bottom", "MSE" if regression else "accuracy (%)")
        n = len(self._items)
        longest = max((a.result.steps for a in self._items), default=1)
        for i, a in enumerate(self._items):
            r = a.result
            x = np.arange(r.steps + 1, dtype=float) + (i - (n - 1) / 2) * min(0.08, 0.3 / max(1, n))
            if regression:
                series = [
                    (r.query_loss_per_step, a.query_loss_ci95_per_step, False),
                    (r.support_loss_per_step, a.support_loss_ci95_per_step, True),
                ]
            else:
                series = [
                    (r.query_accuracy_per_step, r.query_accuracy_ci95_per_step, False),
                    (r.support_accuracy_per_step, r.support_accuracy_ci95_per_step, True),
                ]
            for values, ci, dashed in series:
                if not values:
                    continue
                y = np.asarray(values) * scale
                what = "support" if dashed else "query"
                _curve(
                    sp,
                    x,
                    y,
                    _pen(theme, i, dashed),
                    f"{a.label} · {what}",
                    "o" if r.steps <= 30 else None,
                    theme,
                    i,
                )
                if ci:
                    bars = pg.ErrorBarItem(
                        x=x,
                        y=y,
                        height=2 * np.asarray(ci) * scale,
                        beam=0.15,
                        pen=_pen(theme, i, width=1.2, alpha=200),
                    )
                    sp.addItem(bars)
        sp.setXRange(-0.3, max(1, longest) + 0.3, padding=0)
        if not regression:
            sp.setYRange(0, 100, padding=0.04)
        else:
            sp.enableAutoRange(axis="y")
        self._draw_histogram(hp, regression)
        entries = _model_entries([a.label for a in self._items], theme)
        entries += _line_entries(theme, [(theme.muted, "bar", "95% confidence interval")])
        self.legend.setText(legend_html(entries, theme) if self._items else "")

    def _draw_histogram(self, hp: pg.PlotItem, regression: bool) -> None:
        theme = self._theme
        hist = episode_histogram(self._items, self._queries)
        if hist is None:
            return
        for i, (a, counts) in enumerate(zip(self._items, hist.counts)):
            if counts is None:
                continue
            fill = QColor(theme.color(i))
            fill.setAlpha(70 if len(hist.counts) > 1 else 120)
            item = hp.plot(
                hist.edges,
                counts,
                stepMode="center",
                fillLevel=0,
                brush=pg.mkBrush(fill),
                pen=_pen(theme, i, width=1.5),
                name=f"{a.label} · episodes per bin",
            )
            item.export_name = f"{a.label} · episodes per bin"
        if not regression:
            hp.setXRange(0, 100, padding=0.03)
        else:
            hp.enableAutoRange(axis="x")
        tick = max(1, int(np.ceil(hist.top / 5)))
        hp.getAxis("left").setTickSpacing(tick, tick)  # whole episodes, never 0.5
        hp.setYRange(0, hist.top, padding=0.05)


__all__ = ["AggregatePlots", "SinusoidFit", "StepCurves", "legend_html"]
