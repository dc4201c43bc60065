"""Running a sweep: W worker processes on this machine share the study; Optuna hands out trials.

Each worker is a separate process (spawned, so it shares nothing with the caller's threads or
Qt) that opens the storage itself and calls ``study.optimize`` until the sweep's target is met.
The caller's process only watches the study and reports trials as they change; it never
trains. Stopping sets an event the workers check every iteration: each trial in progress stops
after its current iteration, is marked interrupted and queued again for the next start. A
worker whose main process has died stops the same way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from workbench.engine.runs import default_runs_dir
from workbench.engine.sweeps import bookkeeping as bk
from workbench.engine.sweeps.objective import Objective, TrialFailed, TrialInterrupted
from workbench.engine.sweeps.results import TrialRow, best_row, study_rows
from workbench.engine.sweeps.spec import SweepSpec, stored_spec
from workbench.engine.sweeps.study import load_study, open_storage, open_study
from workbench.engine.sweeps.study import storage_location as _location

TrialHook = Callable[[TrialRow], None]

#: per-process state of a worker, set by `_init_worker`
_stop_event: Any = None
_parent_pid = 0


@dataclass
class SweepResult:
    """What `run_sweep` leaves: every trial, the best one, and whether it was stopped."""

    name: str
    location: str
    direction: str
    rows: list[TrialRow] = field(default_factory=list)
    stopped: bool = False
    interrupted_on_start: list[int] = field(default_factory=list)

    @property
    def best(self) -> TrialRow | None:
        return best_row(self.rows, self.direction)

    def count(self, state: str) -> int:
        return sum(r.state == state for r in self.rows)


def make_pruner(spec: SweepSpec) -> optuna.pruners.BasePruner:
    """median: a trial worse than the median of earlier trials at the same iteration (after 5
    trials); wilcoxon: a trial whose validation curve is, by a paired test, worse than the best
    trial's at the same iterations; none: never prune."""
    if not isinstance(spec.pruner, str):
        return spec.pruner
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if spec.pruner == "wilcoxon":
        with warnings.catch_warnings():  # experimental in Optuna: fine for us, quiet for users
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=2)
    return optuna.pruners.NopPruner()


def storage_location(spec: SweepSpec) -> str:
    return _location(spec.storage, spec.name, spec.runs_folder())


def joined_spec(
    name: str, storage: str | None, runs_dir: Path | None = None, workers: int = 1
) -> SweepSpec:
    """The spec of an existing sweep, read from its study, for more workers to join it (on
    this machine or another); SweepError if there is no such sweep."""
    runs = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    study = load_study(name, _location(storage, name, runs))
    spec = SweepSpec.from_stored(name, stored_spec(study), storage=storage, runs_dir=runs_dir)
    spec.workers = workers
    return spec


def run_sweep(
    spec: SweepSpec,
    on_trial: TrialHook | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 1.0,
    on_start: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Create (or continue) the sweep and run it with ``spec.workers`` processes until its
    target number of trials is reached or ``should_stop()`` returns True.

    ``on_trial`` is called in the caller's thread for every trial that appears or changes state
    (including those already in the study); ``on_start`` once the study is open, before any
    trial is reported (``result.location``, ``result.interrupted_on_start``). Raises ConfigError or SweepError before anything
    starts if the spec is invalid or the storage cannot be opened.
    """
    spec.validate()
    location = storage_location(spec)
    study = open_study(spec, location)
    result = SweepResult(spec.name, location, spec.direction)
    result.interrupted_on_start = bk.fail_orphaned_trials(study)
    if on_start is not None:
        on_start(result)
    watcher = _Watcher(study, on_trial)
    watcher.poll()
    done, _ = bk.progress(study)
    if done < bk.target(study):
        result.stopped = _run_workers(spec, location, watcher, should_stop, poll_seconds)
    result.rows = watcher.poll()
    return result


class _Watcher:
    """Reads the study and reports the trials whose state changed since the last look."""

    def __init__(self, study: optuna.Study, on_trial: TrialHook | None) -> None:
        self.study, self.on_trial = study, on_trial
        self.seen: dict[int, str] = {}

    def poll(self) -> list[TrialRow]:
        rows = study_rows(self.study)
        for row in rows:
            if self.seen.get(row.number) != row.state:
                self.seen[row.number] = row.state
                if self.on_trial is not None:
                    self.on_trial(row)
        return rows


def _run_workers(
    spec: SweepSpec,
    location: str,
    watcher: _Watcher,
    should_stop: Callable[[], bool] | None,
    poll_seconds: float,
) -> bool:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    threads = max(1, (os.cpu_count() or 1) // spec.workers)
    with ProcessPoolExecutor(
        spec.workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(stop, os.getpid(), threads),
    ) as pool:
        futures = [pool.submit(work, spec, location) for _ in range(spec.workers)]
        while True:
            finished, pending = wait(futures, timeout=poll_seconds, return_when=FIRST_EXCEPTION)
            watcher.poll()
            if should_stop is not None and not stop.is_set() and should_stop():
                stop.set()
            if not pending or any(f.exception() for f in finished):
                break
        stop_requested = stop.is_set()
        stop.set()  # a worker failed: the others stop too
    _raise_first(futures)
    return stop_requested


def _raise_first(futures: list[Future]) -> None:
    for future in futures:
        exc = future.exception()
        if exc is not None:
            raise exc


def _init_worker(stop: Any, parent_pid: int, threads: int) -> None:
    """In each worker: Ctrl+C is the main process's to handle (it stops the sweep cleanly),
    one share of the cores for torch, and Optuna's own per-trial log lines silenced (the
    main process reports trials, with each failure's reason)."""
    global _stop_event, _parent_pid
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_event, _parent_pid = stop, parent_pid
    import torch

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def _orphaned() -> bool:
    return bool(_parent_pid) and os.getppid() != _parent_pid


def _stop_reason() -> str:
    return "the sweep's main process ended" if _orphaned() else "the sweep was stopped"


def _should_stop() -> bool:
    return _orphaned() or (_stop_event is not None and _stop_event.is_set())


def work(spec: SweepSpec, location: str) -> None:
    """One worker: run trials of the sweep until its target is met or it is stopped."""
    study = optuna.load_study(
        study_name=spec.name,
        storage=open_storage(location),
        sampler=optuna.samplers.TPESampler(constant_liar=True),
        pruner=make_pruner(spec),
    )
    stopper = bk.StopAtTarget(_should_stop)
    if _should_stop() or stopper.reached(study):
        return
    study.optimize(
        Objective(spec, _should_stop, _stop_reason),
        callbacks=[stopper],
        catch=(TrialFailed, TrialInterrupted),
        gc_after_trial=True,
    )
    if _orphaned():  # nobody will ever send this pool process more work: leave now
        os._exit(0)
