"""The curves of one run, as growable buffers filled from trainer events or a metrics log.

Appending is all the worker-signal handler does (one O(1) store per value); the Training view
reads the buffers on its redraw timer. Values an event does not carry are stored as NaN so every
buffer of a group has the same length as its x buffers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.engine import events as ev
from workbench.engine.series import GrowBuffer
from workbench.errors import WorkbenchError

ITERATION_KEYS = ("loss", "pre_loss", "accuracy", "pre_accuracy", "meta_lr")
VALIDATION_KEYS = (
    "val_query_accuracy_post",
    "val_query_accuracy_pre",
    "val_support_accuracy_post",
    "val_support_accuracy_pre",
    "val_query_loss_post",
    "val_query_loss_pre",
    "val_support_loss_post",
    "val_support_loss_pre",
    "val_ci95",
)


class RunSeries:
    """Per-iteration (``it``) and per-validation (``val``) buffers of one run.

    Each group maps ``iteration``, ``elapsed`` and every metric key to a `GrowBuffer`.
    ``versions[group]`` increases with every append to that group, so a redraw can skip curves
    that did not change (a validation curve changes only at evaluations).
    """

    def __init__(self, name: str, path: str = "") -> None:
        self.name = name
        self.path = path
        self.it: dict[str, GrowBuffer] = {
            k: GrowBuffer() for k in ("iteration", "elapsed", *ITERATION_KEYS)
        }
        self.val: dict[str, GrowBuffer] = {
            k: GrowBuffer(16) for k in ("iteration", "elapsed", *VALIDATION_KEYS)
        }
        self.regression: bool | None = None
        self.last: dict[str, float] = {}
        self.last_val: dict[str, float] = {}
        self.iteration = 0
        self.total = 0
        self.elapsed = 0.0
        self.versions = {"it": 0, "val": 0}
        self._latest = {"it": -1, "val": -1}

    def group(self, name: str) -> dict[str, GrowBuffer]:
        return self.it if name == "it" else self.val

    def add(
        self, kind: str, iteration: int, total: int, elapsed: float, values: dict[str, float]
    ) -> bool:
        """Append one event's numbers; True when a curve changed.

        A point at or before the curve's last iteration is dropped, so a curve stays a function
        of the iteration whatever mix of log records and live events fills it.
        """
        group = {ev.ITERATION: "it", ev.EVALUATION: "val"}.get(kind)
        if group is not None and iteration <= self._latest[group]:
            return False
        self.iteration, self.total, self.elapsed = iteration, total, elapsed
        if kind == ev.ITERATION:
            target, keys, group = self.it, ITERATION_KEYS, "it"
            self.last = values
            if "accuracy" in values:
                self.regression = False
            elif self.regression is None:
                self.regression = True
        elif kind == ev.EVALUATION:
            target, keys, group = self.val, VALIDATION_KEYS, "val"
            self.last_val = values
        else:
            return False
        self._latest[group] = iteration
        target["iteration"].append(iteration)
        target["elapsed"].append(elapsed)
        for key in keys:
            target[key].append(values.get(key, math.nan))
        self.versions[group] += 1
        return True

    def add_event(self, event: ev.TrainerEvent) -> bool:
        return self.add(event.kind, event.iteration, event.total, event.elapsed, event.values)

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """Append metrics.jsonl records (TrainerEvent.to_json dicts); malformed ones are skipped."""
        for r in records:
            try:
                values = {str(k): float(v) for k, v in (r.get("values") or {}).items()}
                self.add(
                    str(r.get("kind", "")),
                    int(r.get("iteration", 0)),
                    int(r.get("total", 0)),
                    float(r.get("elapsed", 0.0)),
                    values,
                )
            except (TypeError, ValueError, AttributeError):
                continue

    @classmethod
    def from_run(cls, path: str | Path) -> tuple[RunSeries, list[str]]:
        """A run folder's curves from its metrics.jsonl, and the problems found reading it."""
        from workbench.engine.runs import RunStore

        store = RunStore(path)
        records, problems = store.read_metrics()
        series = cls(store.path.name, str(store.path))
        series.add_records(records)
        if series.regression is None:
            try:
                series.regression = store.load_config().data.dataset == "sinusoid"
            except WorkbenchError:  # a damaged config only loses the hint
                pass
        return series, problems
