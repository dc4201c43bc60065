"""Run a plain function off the GUI thread and get its progress, result or error as signals.

The contract (after Orange's ``concurrent.py``): the work is an ordinary Python function that
receives a `TaskState`; it reports progress with ``state.progress(done, total, text)`` and
checks ``state.cancelled`` between units of work. It never touches Qt. The `BackgroundTask`
object lives in the GUI thread, so its signals are safe to connect to anything there.
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot


class TaskState:
    """What the work function sees: progress reporting and a cancel flag (thread-safe)."""

    def __init__(self, emitter: _Emitter) -> None:
        self._emitter = emitter
        self.cancel_event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, done: int, total: int, text: str = "") -> None:
        self._emitter.progress.emit(int(done), int(total), str(text))


class _Emitter(QObject):
    """Signals emitted from the worker thread; Qt queues them to the GUI-thread receivers."""

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str, str)


def _run_job(fn: Callable[[TaskState], Any], state: TaskState, emitter: _Emitter) -> None:
    """The job, in a pool thread: its result or its error goes back through ``emitter``.

    Handed to the pool as a plain callable, not a QRunnable subclass: PySide kept about one
    in ten such Python runnables alive after the pool had run them (measured over 200 jobs),
    and with them whatever their job had captured, for the rest of the session.
    """
    try:
        result = fn(state)
    except Exception as exc:  # reported to the GUI, never lost in a thread
        from workbench.errors import WorkbenchError

        message = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
        emitter.failed.emit(message, traceback.format_exc())
        return
    emitter.finished.emit(result)


class BackgroundTask(QObject):
    """One background job at a time; starting a new one cancels (and ignores) the old one.

    Signals: ``progress(done, total, text)``, ``finished(result)``, ``failed(message, details)``,
    ``cancelled()``; ``running`` says whether a job is under way.
    """

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    runningChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self._state: TaskState | None = None
        self._emitter: _Emitter | None = None

    @property
    def running(self) -> bool:
        return self._state is not None

    def start(self, fn: Callable[[TaskState], Any]) -> None:
        self.cancel()
        emitter = _Emitter()
        state = TaskState(emitter)
        emitter.progress.connect(self._on_progress)
        emitter.finished.connect(self._on_finished)
        emitter.failed.connect(self._on_failed)
        self._state, self._emitter = state, emitter
        self.runningChanged.emit(True)
        self._pool.start(functools.partial(_run_job, fn, state, emitter))

    def cancel(self) -> None:
        """Ask the running job to stop; its late results are ignored."""
        if self._state is not None:
            self._state.cancel_event.set()
            self._state, self._emitter = None, None
            self.runningChanged.emit(False)
            self.cancelled.emit()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the pool's jobs end (for closing the window and for tests)."""
        return self._pool.waitForDone(msecs)

    def _current(self) -> bool:
        return self.sender() is self._emitter and self._emitter is not None

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, text: str) -> None:
        if self._current():
            self.progress.emit(done, total, text)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        if self._current():
            self._state, self._emitter = None, None
            self.runningChanged.emit(False)
            self.finished.emit(result)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        if self._current():
            self._state, self._emitter = None, None
            self.runningChanged.emit(False)
            self.failed.emit(message, details)
