"""Training in several processes from the window: the worker thread supervises the
``torchrun`` child (`workbench.engine.distributed.Launch`) and follows the run's metrics log,
re-emitting what rank 0 writes as the same signals `TrainingWorker` emits, so the plots,
Pause/Stop, the status bar and the Runs view behave as for one process. The GUI process never
trains; a rank that dies is named in the error."""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import Slot

from workbench.config import ExperimentConfig
from workbench.engine import events as ev
from workbench.errors import WorkbenchError
from workbench.gui.training.signals import TrainingSignals

POLL_SECONDS = 0.2


def failure_text(launch) -> str:
    """One line on how a launch failed: the rank that died first, then the consequences."""
    from workbench.engine.distributed.launch import failure_causes

    causes = failure_causes(launch.failures())
    if causes:
        return "; ".join(dict.fromkeys(f.reason or f.describe() for f in causes))
    return f"the processes ended without a run (torchrun's log: {launch.log_path})"


class LaunchWorker(TrainingSignals):
    """Starts ``processes`` ranks of ``config`` (or resumes ``resume``) and follows them.
    Signals as `TrainingSignals` (``ready`` carries no trainer object: the ranks are other
    processes, so the adaptation viewer's live snapshot is not offered)."""

    def __init__(
        self,
        config: ExperimentConfig | None = None,
        runs_dir: str | Path | None = None,
        resume: str | Path | None = None,
    ) -> None:
        super().__init__()
        self._config, self._runs_dir, self._resume = config, runs_dir, resume
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.launch = None

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            if self.launch is not None:
                self.launch.stop()

    def pause(self) -> None:
        with self._lock:
            if self.launch is not None:
                self.launch.pause()

    def unpause(self) -> None:
        with self._lock:
            if self.launch is not None:
                self.launch.unpause()

    def _start(self):
        from workbench.engine.distributed.launch import Launch
        from workbench.engine.distributed.plan import plan_launch
        from workbench.engine.runs import RunStore

        if self._resume is not None:
            config = RunStore(self._resume).load_config()
            plan = plan_launch(config, config.train.processes)
            return Launch(plan, resume=self._resume)
        assert self._config is not None
        plan = plan_launch(self._config, self._config.train.processes)
        self._config.validate()
        return Launch(plan, self._config, runs_dir=self._runs_dir)

    @Slot()
    def run(self) -> None:
        try:
            launch = self._start()
        except WorkbenchError as exc:
            self.failed.emit(str(exc), traceback.format_exc())
            self.done.emit("", ev.FAILED)
            return
        with self._lock:
            self.launch = launch
        self.dataProgress.emit(
            0.0, f"starting {launch.plan.world} processes ({launch.plan.backend})"
        )
        launch.start()
        if self._stop.is_set():
            launch.stop()
        run_dir = self._follow(launch)
        status = launch.status() if run_dir else ev.FAILED
        if status not in (ev.FINISHED, ev.STOPPED):  # failed, or interrupted by a dead rank
            self.failed.emit(failure_text(launch), f"torchrun's log: {launch.log_path}")
            status = ev.FAILED
        else:
            launch.close()
        self.done.emit(run_dir, status)

    def _follow(self, launch) -> str:
        """Relay the run's metrics log until the launch ends; the run folder ('' if none)."""
        from workbench.engine.distributed.follow import MetricsFollower
        from workbench.engine.runs import RunStore

        follower, run_dir, code = None, "", None
        while code is None:
            code = launch.poll()
            run = launch.run_dir()
            if follower is None and run is not None:
                run_dir = str(run)
                history = RunStore(run).read_metrics()[0] if self._resume is not None else []
                follower = MetricsFollower(run)
                config = RunStore(run).load_config()
                self.ready.emit(
                    None,
                    run_dir,
                    f"{launch.plan.world} x {launch.plan.backend}",
                    0,
                    int(config.train.iterations),
                    history,
                )
            for event in follower.poll() if follower is not None else []:
                self.event.emit(event)
            if code is None:
                time.sleep(POLL_SECONDS)
        for event in follower.poll() if follower is not None else []:
            self.event.emit(event)
        return run_dir


__all__ = ["LaunchWorker", "failure_text"]
