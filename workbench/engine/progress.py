"""Iterations per second and time remaining: the window's status bar, and the command line's
progress lines when stderr is a log rather than a terminal (a terminal gets a tqdm bar)."""

from __future__ import annotations

import time
from collections.abc import Callable


def format_duration(seconds: float | None) -> str:
    """``1:02:03`` / ``2:03``; ``--:--`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "--:--"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RateMeter:
    """A smoothed rate of iterations per second over wall time, and the ETA it implies.

    Smoothing is an exponential average over updates with ``half_life`` seconds, so a pause or a
    validation pass moves the estimate gently instead of making it jump.
    """

    def __init__(self, half_life: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.half_life = half_life
        self.clock = clock
        self.rate: float | None = None
        self._last: tuple[float, int] | None = None

    def reset(self) -> None:
        self.rate, self._last = None, None

    def update(self, iteration: int) -> float | None:
        now = self.clock()
        if self._last is not None:
            t0, i0 = self._last
            dt, di = now - t0, iteration - i0
            if dt > 0 and di > 0:
                instant = di / dt
                weight = 1 - 0.5 ** (dt / self.half_life)
                self.rate = (
                    instant if self.rate is None else self.rate + weight * (instant - self.rate)
                )
                self._last = (now, iteration)
        else:
            self._last = (now, iteration)
        return self.rate

    def eta(self, iteration: int, total: int) -> float | None:
        if not self.rate:
            return None
        return max(0, total - iteration) / self.rate
