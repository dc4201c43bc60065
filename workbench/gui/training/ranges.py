"""The axis ranges of the Training view's plots, set in steps instead of at every new point.

pyqtgraph's auto range would change the ranges at every new point, and a changed range repaints
the whole plot with its axes, the costliest part of drawing. Here the x range grows to round
numbers; the y range gets a margin and changes only when the data leave it (or fill less than
half of it). At most one plot changes its ranges per redraw (the others follow at the next
ticks), so the event loop is never held for four whole repaints at once. All plots share one x
range (the run's timeline). Zooming or panning a plot hands its ranges to the user until they
press its "A" (auto range) button.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from workbench.gui.training.curve_specs import PLOTS
from workbench.gui.training.series import RunSeries

START_X = 10.0  # where a new run's first points fall


class DrawnCurve(Protocol):
    """What the ranges read of a drawn curve."""

    plot: str
    series: RunSeries
    group: str
    key: str
    item: pg.PlotDataItem
    raw_item: pg.PlotDataItem | None


def nice_ceiling(value: float) -> float:
    """The next "round" number at or above ``value`` (…, 100, 125, 150, 200, 250, 300, 400, …),
    at most a third above it."""
    if not np.isfinite(value) or value <= 10:
        return 10.0
    scale = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if step * scale >= value:
            return float(step * scale)
    return float(10 * scale)


class PlotRanges:
    """The ranges of the plots in ``plots`` (shown inside ``panels``); see the module doc."""

    def __init__(self, plots: Mapping[str, pg.PlotWidget], panels: Mapping[str, QWidget]) -> None:
        self._plots = plots
        self._panels = panels
        self._lr_top = 0.0
        self._x_top: dict[str, float | None] = dict.fromkeys(PLOTS)
        self._y_range: dict[str, tuple[float, float] | None] = dict.fromkeys(PLOTS)
        self._managed: dict[str, bool] = dict.fromkeys(PLOTS, True)
        for key, plot in plots.items():
            plot.getPlotItem().getViewBox().sigRangeChangedManually.connect(
                lambda *_a, k=key: self._user_moved(k)
            )

    def reset(self) -> None:
        """New curves: every plot is ours again and starts at ``0..START_X``."""
        self._lr_top = 0.0
        self._x_top = dict.fromkeys(PLOTS, START_X)
        self._y_range = dict.fromkeys(PLOTS)
        self._managed = dict.fromkeys(PLOTS, True)
        for plot in self._plots.values():
            box = plot.getPlotItem().getViewBox()
            box.enableAutoRange(x=False, y=False)
            box.setXRange(0.0, START_X, padding=0.02)

    def forget(self) -> None:
        """Fit every range afresh at the next `fit`, whether the data moved or not."""
        self._x_top = dict.fromkeys(PLOTS)
        self._y_range = dict.fromkeys(PLOTS)

    def fit(
        self, curves: list[DrawnCurve], x_key: str, changed: set[str], force: bool = False
    ) -> bool:
        """Fit the ranges of the ``changed`` plots (and any plot behind the shared x range);
        True when a plot still waits for its turn (redraw again at the next tick)."""
        tops = [
            c.series.group(c.group)[x_key].view()[-1]
            for c in curves
            if c.series.group(c.group)[x_key].size
        ]
        top = nice_ceiling(float(max(tops))) if tops else None
        candidates = set(changed) | {k for k in PLOTS if top is not None and self._x_top[k] != top}
        budget = len(PLOTS) if force else 1
        pending = False
        for key in PLOTS:
            if key not in candidates or not self._panels[key].isVisible() and not force:
                continue
            box = self._plots[key].getPlotItem().getViewBox()
            if any(box.state["autoRange"]):  # "A" pressed: ours again
                box.enableAutoRange(x=False, y=False)
                self._managed[key] = True
                self._x_top[key] = self._y_range[key] = None
                if key == "meta_lr":
                    self._lr_top = 0.0
            if not self._managed[key]:
                continue
            new_x = top if top is not None and top != self._x_top[key] else None
            new_y = None if key == "meta_lr" else self._wanted_y(key, curves)
            if new_x is None and new_y is None:
                continue
            if budget == 0:
                pending = True  # this plot's turn comes at the next tick
                continue
            budget -= 1
            if new_x is not None:
                self._x_top[key] = new_x
                box.setXRange(0.0, new_x, padding=0.02)
            if new_y is not None:
                self._y_range[key] = new_y
                box.setYRange(*new_y, padding=0)
        self._fit_meta_lr(curves)
        return pending

    def _wanted_y(self, key: str, curves: Iterable[DrawnCurve]) -> tuple[float, float] | None:
        """A new y range for the plot, or None while its data still fit the current one."""
        lows, highs = [], []
        for curve in curves:
            if curve.plot != key:
                continue
            for item in (curve.item, curve.raw_item):
                if item is None or not item.isVisible() or item.yData is None:
                    continue
                finite = item.yData[np.isfinite(item.yData)]
                if finite.size:
                    lows.append(float(finite.min()))
                    highs.append(float(finite.max()))
        if not lows:
            return None
        lo, hi = min(lows), max(highs)
        current = self._y_range[key]
        if current is not None:
            width = current[1] - current[0]
            inner = (current[0] + 0.03 * width, current[1] - 0.03 * width)  # markers fit
            if inner[0] <= lo and hi <= inner[1] and (hi - lo) >= 0.5 * width:
                return None
        span = max(hi - lo, abs(hi) * 0.05, 1e-9)
        return (lo - 0.1 * span, hi + 0.1 * span)

    def _fit_meta_lr(self, curves: Iterable[DrawnCurve]) -> None:
        """From zero to just above the largest rate: a constant rate is a flat line near the
        top instead of a line in the middle of a ±400 axis."""
        highest = 0.0
        for curve in curves:
            if curve.key == "meta_lr" and curve.series.it["meta_lr"].size:
                values = curve.series.it["meta_lr"].view()
                finite = values[np.isfinite(values)]
                if finite.size:
                    highest = max(highest, float(finite.max()))
        if highest > 0 and highest != self._lr_top:  # only when it changes: zooming stays free
            self._lr_top = highest
            plot = self._plots["meta_lr"].getPlotItem()
            plot.setYRange(0.0, highest * 1.15, padding=0)

    def _user_moved(self, key: str) -> None:
        self._managed[key] = False
