"""Append-only numeric series and their smoothing, as live curves need them.

A trainer reports one point per iteration, so a curve grows by one value at a time for up to
hundreds of thousands of points. `GrowBuffer` stores them in a numpy array that doubles when
full: an append is O(1) and reading the filled part is a view, never a copy. `SmoothedSeries`
keeps the bias-corrected exponential moving average of such a buffer (the smoothing TensorBoard
draws) and brings it up to date lazily, so each redraw pays only for the points that arrived
since the last one. `ema` smooths a whole array at once.

Bias correction: the plain average ``m_t = s * m_(t-1) + (1 - s) * x_t`` starts from 0 and
so drags the first points towards 0; dividing by the total weight ``1 - s^t`` of the points
seen makes the first smoothed point equal to the first value (the correction Adam uses).
Missing values (NaN) stay NaN and do not enter the average.

No array library the project depends on has a stateful first-order filter (``scipy.signal``
would), so the recurrence is a loop over the new points only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class GrowBuffer:
    """A float64 array that grows by doubling; `view()` is the filled part (no copy)."""

    def __init__(self, capacity: int = 256) -> None:
        self._data: FloatArray = np.empty(max(1, capacity), dtype=np.float64)
        self.size = 0

    @property
    def capacity(self) -> int:
        """Points the buffer holds before it next doubles."""
        return len(self._data)

    def append(self, value: float) -> None:
        if self.size == len(self._data):
            grown = np.empty(2 * len(self._data), dtype=np.float64)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size] = value
        self.size += 1

    def extend(self, values: Iterable[float]) -> None:
        for v in values:
            self.append(v)

    def view(self) -> FloatArray:
        return self._data[: self.size]

    def __len__(self) -> int:
        return self.size


class SmoothedSeries:
    """The bias-corrected EMA of a `GrowBuffer`, brought up to date lazily.

    ``smoothing`` is the weight of the past (0: no smoothing, 0.99: heavy). Points already
    smoothed never change; only a new ``smoothing`` recomputes the whole series.
    """

    def __init__(self, raw: GrowBuffer, smoothing: float = 0.0) -> None:
        self.raw = raw
        self.out = GrowBuffer(raw.capacity)
        self.smoothing = smoothing
        self._avg = 0.0  # the uncorrected average of the finite points so far
        self._weight = 0.0  # their total weight, 1 - smoothing ** count

    def set_smoothing(self, smoothing: float) -> None:
        if smoothing != self.smoothing:
            self.smoothing = smoothing
            self.out = GrowBuffer(max(256, len(self.raw)))
            self._avg = self._weight = 0.0

    def view(self) -> FloatArray:
        """The smoothed series, as long as the raw one (the raw one itself at smoothing 0)."""
        raw = self.raw.view()
        a = self.smoothing
        if a <= 0.0:
            return raw
        avg, weight, out = self._avg, self._weight, self.out
        for x in raw[out.size :].tolist():
            if math.isnan(x):
                out.append(math.nan)
                continue
            avg = a * avg + (1.0 - a) * x
            weight = a * weight + (1.0 - a)
            out.append(avg / weight)
        self._avg, self._weight = avg, weight
        return out.view()


def ema(values: Sequence[float] | FloatArray, smoothing: float) -> FloatArray:
    """Bias-corrected exponential moving average of ``values`` (a whole array at once)."""
    buf = GrowBuffer(max(1, len(values)))
    buf.extend(float(v) for v in values)
    return SmoothedSeries(buf, smoothing).view().copy()


__all__ = ["FloatArray", "GrowBuffer", "SmoothedSeries", "ema"]
