"""The thread that runs a sweep for the window. It only watches: `run_sweep` starts the worker
processes that train the trials and reports each trial as it changes; the GUI process never
trains. Stop asks the workers to stop after their current iteration."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread, Signal

from workbench.engine.sweeps import SweepResult, SweepSpec, TrialRow, run_sweep
from workbench.errors import WorkbenchError


class SweepWorker(QThread):
    """Signals (queued to the GUI thread): ``opened(location)`` once the study is open,
    ``trial(TrialRow)`` whenever a trial appears or changes, ``rows(list)`` with every trial at
    each look (live durations), ``done(SweepResult)`` at the end,
    ``failed(message)`` when the sweep could not run."""

    opened = Signal(str)
    trial = Signal(object)
    rows = Signal(object)  # every trial at each look: running trials' durations and values
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, spec: SweepSpec) -> None:
        super().__init__()
        self.spec = spec
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        try:
            result = run_sweep(
                self.spec,
                on_trial=self._report,
                should_stop=self._stop.is_set,
                on_start=lambda r: self.opened.emit(r.location),
                on_rows=lambda rows: self.rows.emit(list(rows)),
            )
        except WorkbenchError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # reported in the view, never lost in a thread
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.done.emit(result)

    def _report(self, row: TrialRow) -> None:
        self.trial.emit(row)


__all__ = ["SweepResult", "SweepWorker"]
