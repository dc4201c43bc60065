"""When the Training view redraws: a timer at `REDRAW_HZ` that slows down once drawing gets costly.

As curves grow to tens of thousands of points a redraw costs more. Each timed redraw sets the
next interval so that redrawing takes at most `REDRAW_SHARE` of the GUI thread (the window, and
the training thread waiting for Python's lock, keep their speed), but never less often than
once every `SLOWEST_REDRAW_MS`; cheap redraws bring the full rate back.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

from PySide6.QtCore import QObject, QTimer

REDRAW_HZ = 10
FASTEST_REDRAW_MS = 1000 // REDRAW_HZ
#: the share of the GUI thread that redrawing may take
REDRAW_SHARE = 0.05
SLOWEST_REDRAW_MS = 1000


def paced_interval_ms(cost_ms: float) -> int:
    """The timer interval after a redraw that took ``cost_ms``."""
    return int(min(SLOWEST_REDRAW_MS, max(FASTEST_REDRAW_MS, cost_ms / REDRAW_SHARE)))


class RedrawScheduler(QObject):
    """Calls ``tick`` on a running timer; `timed` runs a redraw and paces the timer by its cost.

    ``clock`` reads seconds (`time.perf_counter` unless a test brings its own).
    """

    def __init__(
        self,
        tick: Callable[[], None],
        parent: QObject | None = None,
        *,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        super().__init__(parent)
        self.clock = clock
        self._timer = QTimer(self)
        self._timer.setInterval(FASTEST_REDRAW_MS)
        self._timer.timeout.connect(tick)
        self._timer.start()

    @property
    def interval_ms(self) -> int:
        """Milliseconds from one scheduled redraw to the next."""
        return self._timer.interval()

    def timed(self, draw: Callable[[], None]) -> None:
        """Run ``draw`` and set the interval from what it cost."""
        started = self.clock()
        draw()
        interval = paced_interval_ms(1000 * (self.clock() - started))
        if interval != self._timer.interval():
            self._timer.setInterval(interval)

    def stop(self) -> None:
        self._timer.stop()
