"""Training off the GUI thread: a worker that runs the engine's `Trainer`, and the session that
owns its thread.

`TrainingWorker` is moved to a `QThread`; it builds the trainer there (so loading data never
freezes the window), runs it, and re-emits the trainer's events as Qt signals. Stop and pause
are `threading.Event`s (a worker busy in its loop never sees a queued signal), set directly on
the trainer. `TrainingSession` lives in the GUI thread: it starts and joins the thread and
re-emits everything from there, so the window and the tests connect to a GUI-thread object only.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from workbench.config import ExperimentConfig
from workbench.engine import events as ev
from workbench.errors import WorkbenchError
from workbench.gui.training.launch_worker import LaunchWorker
from workbench.gui.training.signals import TrainingSignals


class _Cancelled(BaseException):
    """Raised from the data-loading progress callback when Stop is pressed while loading.

    A BaseException, so loaders that turn ordinary exceptions into DatasetErrors let it pass.
    """


def plain_event(event: ev.TrainerEvent) -> ev.TrainerEvent:
    """A fresh copy holding only plain Python numbers and strings, safe to hand to another thread."""
    return ev.TrainerEvent(
        str(event.kind),
        int(event.iteration),
        int(event.total),
        float(event.elapsed),
        {str(k): float(v) for k, v in event.values.items()},
        str(event.message),
        str(event.details),
    )


class TrainingWorker(TrainingSignals):
    """Builds and runs one `Trainer` in the thread this object was moved to (signals: see
    `TrainingSignals`)."""

    def __init__(
        self,
        config: ExperimentConfig | None = None,
        runs_dir: str | Path | None = None,
        resume: str | Path | None = None,
    ) -> None:
        super().__init__()
        if (config is None) == (resume is None):
            raise ValueError("give either a config (a new run) or a run folder to resume")
        self._config = config
        self._runs_dir = runs_dir
        self._resume = resume
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._lock = threading.Lock()
        self._trainer: Any = None

    # -- control: thread-safe, callable from the GUI thread ----------------------------------
    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self._trainer is not None:
                self._trainer.stop()

    def pause(self) -> None:
        with self._lock:
            self._pause.set()
            if self._trainer is not None:
                self._trainer.pause()

    def unpause(self) -> None:
        with self._lock:
            self._pause.clear()
            if self._trainer is not None:
                self._trainer.unpause()

    # -- the work, in the worker thread ----------------------------------------------------
    def _progress(self, fraction: float, message: str) -> None:
        if self._stop.is_set():
            raise _Cancelled()
        self.dataProgress.emit(float(fraction), str(message))

    @Slot()
    def run(self) -> None:
        from workbench.engine.trainer import Trainer

        try:
            if self._resume is not None:
                trainer = Trainer.resume(self._resume, progress=self._progress)
            else:
                trainer = Trainer.create(self._config, self._runs_dir, progress=self._progress)
        except _Cancelled:
            self.done.emit("", ev.STOPPED)
            return
        except WorkbenchError as exc:
            self.failed.emit(str(exc), traceback.format_exc())
            self.done.emit("", ev.FAILED)
            return
        except Exception as exc:  # a bug while building: still a message, never a dead thread
            self.failed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            self.done.emit("", ev.FAILED)
            return
        with self._lock:
            self._trainer = trainer
            if self._stop.is_set():
                trainer.stop()  # run() then stops at once and records the run as stopped
            if self._pause.is_set():
                trainer.pause()
        run_dir = str(trainer.store.path) if trainer.store is not None else ""
        history = (
            trainer.store.read_metrics()[0]
            if self._resume is not None and trainer.store is not None
            else []
        )
        trainer.subscribe(lambda e: self.event.emit(plain_event(e)))
        self.ready.emit(
            trainer,
            run_dir,
            str(trainer.learner.device),
            int(trainer.iteration),
            int(trainer.total),
            history,
        )
        status = trainer.run()
        self.done.emit(run_dir, status)


def _processes_of(run_dir: str | Path) -> int:
    """The processes a run was trained with (1 when its config cannot be read: the ordinary
    resume then says what is wrong)."""
    from workbench.engine.runs import RunStore

    try:
        return int(RunStore(run_dir).load_config().train.processes)
    except Exception:
        return 1


class TrainingSession(QObject):
    """One training thread at a time, seen from the GUI thread.

    Signals (all emitted in the GUI thread):
        runningChanged(bool), pausedChanged(bool)
        ready(trainer, run_dir, device, iteration, total, history)
        dataProgress(fraction, message)
        event(TrainerEvent)
        finished(run_dir, status): after the thread has ended; ``last_error`` holds
            (message, details) when status is ``failed``.
    """

    runningChanged = Signal(bool)
    pausedChanged = Signal(bool)
    ready = Signal(object, str, str, int, int, object)
    dataProgress = Signal(float, str)
    event = Signal(object)
    finished = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | LaunchWorker | None = None
        self._paused = False
        self._result: tuple[str, str] = ("", "")
        self.run_dir = ""
        self.resumed = False
        self.last_error: tuple[str, str] | None = None

    # -- state ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def paused(self) -> bool:
        return self._paused

    # -- starting ------------------------------------------------------------------------------
    def start(self, config: ExperimentConfig, runs_dir: str | Path) -> None:
        """Train ``config`` in a new run folder under ``runs_dir`` (``train.processes`` > 1:
        in that many processes started by torchrun, followed through the run's log)."""
        worker: TrainingWorker | LaunchWorker
        if config.train.processes > 1:
            worker = LaunchWorker(config=config.copy(), runs_dir=runs_dir)
        else:
            worker = TrainingWorker(config=config.copy(), runs_dir=runs_dir)
        self._launch(worker, resumed=False)

    def resume(self, run_dir: str | Path) -> None:
        """Continue the run in ``run_dir`` from its last checkpoint (with the processes it was
        trained with)."""
        worker: TrainingWorker | LaunchWorker = TrainingWorker(resume=run_dir)
        if _processes_of(run_dir) > 1:
            worker = LaunchWorker(resume=run_dir)
        self._launch(worker, resumed=True)

    def _launch(self, worker: TrainingWorker | LaunchWorker, resumed: bool) -> None:
        if self.running:
            raise RuntimeError("a training session is already running")
        self.last_error = None
        self.run_dir = ""
        self.resumed = resumed
        self._result = ("", "")
        self._paused = False
        thread = QThread()
        thread.setObjectName("training")
        worker.moveToThread(thread)
        worker.ready.connect(self._on_ready)
        worker.dataProgress.connect(self._on_data_progress)
        worker.event.connect(self._on_event)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.runningChanged.emit(True)

    # -- control -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask training to stop after the current iteration (a checkpoint is written)."""
        if self._worker is not None:
            self._worker.stop()

    def pause(self) -> None:
        if self._worker is not None and not self._paused:
            self._worker.pause()
            self._paused = True
            self.pausedChanged.emit(True)

    def unpause(self) -> None:
        if self._worker is not None and self._paused:
            self._worker.unpause()
            self._paused = False
            self.pausedChanged.emit(False)

    def shutdown(self, timeout_ms: int = -1) -> bool:
        """Stop, and block until the thread has ended (closing the window). True when joined."""
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        if self._paused and self._worker is not None:
            self._worker.unpause()
        thread.quit()  # leaves the thread's event loop once `run` has returned
        joined = thread.wait() if timeout_ms < 0 else thread.wait(timeout_ms)
        if joined:
            # deliver what the worker queued for us (its last events, `done`, thread finished)
            QCoreApplication.sendPostedEvents(self, 0)
            self._on_thread_finished()
        return bool(joined)

    # -- from the worker (queued into the GUI thread) -------------------------------------------
    @Slot(object, str, str, int, int, object)
    def _on_ready(
        self, trainer: Any, run_dir: str, device: str, iteration: int, total: int, history: list
    ) -> None:
        self.run_dir = run_dir
        self.ready.emit(trainer, run_dir, device, iteration, total, history)

    @Slot(float, str)
    def _on_data_progress(self, fraction: float, message: str) -> None:
        self.dataProgress.emit(fraction, message)

    @Slot(object)
    def _on_event(self, event: ev.TrainerEvent) -> None:
        if event.kind == ev.FAILED:
            self.last_error = (event.message, event.details)
        self.event.emit(event)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.last_error = (message, details)

    @Slot(str, str)
    def _on_done(self, run_dir: str, status: str) -> None:
        self._result = (run_dir, status)
        if self._thread is not None:
            self._thread.quit()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is None:
            return  # already handled (shutdown joined the thread first)
        self._thread, self._worker = None, None
        self._paused = False
        if worker is not None:
            worker.deleteLater()
        thread.deleteLater()
        run_dir, status = self._result
        if not status:  # shutdown joined before the queued `done` arrived
            status = ev.STOPPED
        run_dir = run_dir or self.run_dir
        self.runningChanged.emit(False)
        self.finished.emit(run_dir, status)
