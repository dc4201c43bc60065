"""Plot axes whose tick labels never overlap, whatever the plot's size, font or scale.

pyqtgraph decides how many tick levels get labels from how much of the axis the text would
fill, but within a level it draws every label: on a log axis it labels all of 1..9 in each
decade, so at 1280x800 "0.1 0.2 0.3 …" and "0.01 0.02 …" print on top of each other, and on
any axis presentation-mode fonts can make neighbours touch. `LegibleAxis` labels a log axis by
decades first, then 2 and 5 when there is room, then the other multiples (only when the range
is less than a decade, where they are all there is); and after pyqtgraph has placed the labels
it keeps them in order of importance only where they do not touch a label already kept. The
labels kept are remembered (`text_rects`), so tests read the axis's own geometry.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF

#: space kept free between two labels along the axis, in pixels
LABEL_GAP = 4.0
#: the multiples of a decade labelled second on a log axis, and those labelled last
PREFERRED_MULTIPLES = (2, 5)
OTHER_MULTIPLES = (3, 4, 6, 7, 8, 9)


def log_tick_levels(low: float, high: float) -> list[tuple[None, list[float]]]:
    """Tick positions (log10 of the values) between ``low`` and ``high`` (log10 too), by level:
    decades, then 2 and 5 times a decade, then the other multiples. When fewer than two ticks
    of the first two levels fall in the range, the other multiples join the second level so
    the axis still gets labels."""
    low, high = sorted((low, high))
    first, last = math.floor(low), math.ceil(high)

    def inside(multiples: tuple[int, ...]) -> list[float]:
        values = [e + math.log10(m) for e in range(first, last + 1) for m in multiples]
        return [v for v in values if low <= v <= high]

    decades = inside((1,))
    preferred = inside(PREFERRED_MULTIPLES)
    others = inside(OTHER_MULTIPLES)
    if len(decades) + len(preferred) < 2:
        return [(None, decades), (None, sorted(preferred + others))]
    return [(None, decades), (None, preferred), (None, others)]


def _along(rect: QRectF, vertical: bool) -> tuple[float, float]:
    """The extent of ``rect`` along the axis, widened by half the gap on each side."""
    if vertical:
        return rect.top() - LABEL_GAP / 2, rect.bottom() + LABEL_GAP / 2
    return rect.left() - LABEL_GAP / 2, rect.right() + LABEL_GAP / 2


class LegibleAxis(pg.AxisItem):
    """An `AxisItem` that never draws two tick labels that touch (see the module docstring)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.text_rects: list[QRectF] = []
        self.text_strings: list[str] = []

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802 - pyqtgraph API
        return log_tick_levels(minVal, maxVal)

    def generateDrawSpecs(self, p):  # noqa: N802 - pyqtgraph API
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis_spec, tick_specs, text_specs = specs
        vertical = self.orientation in ("left", "right")
        kept: list[tuple[QRectF, object, str]] = []
        spans: list[tuple[float, float]] = []
        # pyqtgraph lists the labels level by level, most important first
        for rect, flags, text in text_specs:
            start, end = _along(rect, vertical)
            if any(start < e and s < end for s, e in spans):
                continue
            spans.append((start, end))
            kept.append((rect, flags, text))
        self.text_rects = [QRectF(r) for r, _, _ in kept]
        self.text_strings = [t for _, _, t in kept]
        return axis_spec, tick_specs, kept


def legible_axes() -> dict[str, LegibleAxis]:
    """The ``axisItems`` argument of a `pg.PlotWidget` or `pg.PlotItem`: the left and bottom
    axes (pyqtgraph shows every axis it is given, and the plots have no top or right axis)."""
    return {name: LegibleAxis(name) for name in ("left", "bottom")}
