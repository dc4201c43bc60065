"""Which trials count towards a sweep's target, and what happens to trials whose worker died.

A trial ends on its own (complete, pruned, or failed in training) or is interrupted: its worker
was killed, or the sweep was stopped. Interrupted trials are marked failed with the reason and
do not count; their parameters are queued again, so a sweep started again runs the point it
lost and still ends with the number of trials asked for.
"""

from __future__ import annotations

import datetime
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from workbench.engine.runs.liveness import process_alive, process_identity
from workbench.engine.sweeps.spec import stored_spec

#: trial user attributes
WORKER = "worker"  # {"pid", "host", "pid_created"} of the process running the trial
REASON = "reason"  # why a trial failed or was pruned, in words
INTERRUPTED = "interrupted"  # True: killed or stopped, not counted, queued again
RUN_DIR = "run_dir"
PRUNED_AT = "pruned_at_iteration"
RETRY_OF = "retry_of"  # the number of the interrupted trial whose parameters this one repeats
#: a running trial with no worker recorded this long after it started lost its worker at once
_UNCLAIMED_SECONDS = 300.0


def counts_towards_target(trial: FrozenTrial) -> bool:
    """Complete, pruned, or failed in training. Every failure a worker records carries a
    reason; a failed trial without one was failed by the database's heartbeat check (its
    worker went silent), which is an interruption."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    attrs = trial.user_attrs
    return trial.state == TrialState.FAIL and REASON in attrs and not attrs.get(INTERRUPTED)


def progress(study: optuna.Study) -> tuple[int, int]:
    """(trials that count towards the target, trials running now)."""
    trials = study.get_trials(deepcopy=False)
    done = sum(counts_towards_target(t) for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    return done, running


def target(study: optuna.Study) -> int:
    """The number of trials asked for (read each time: a sweep started again may raise it)."""
    return int(stored_spec(study)["trials"])


class StopAtTarget:
    """Optuna callback: a worker stops once the trials done and running reach the target, so W
    workers never overshoot by W-1; and at once when the sweep is stopped."""

    def __init__(self, should_stop: Any = None) -> None:
        self.should_stop = should_stop

    def reached(self, study: optuna.Study) -> bool:
        fail_orphaned_trials(study)  # a dead worker's trial is not one still running
        done, running = progress(study)
        return done + running >= target(study)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:  # noqa: ARG002
        if (self.should_stop is not None and self.should_stop()) or self.reached(study):
            study.stop()


def worker_identity() -> dict[str, Any]:
    return dict(process_identity())


def mark_interrupted(study: optuna.Study, trial: FrozenTrial, reason: str) -> bool:
    """Fail a running trial with ``reason`` and queue its parameters again; False if another
    process finished it first."""
    storage = study._storage  # the public API has no way to end another process's trial
    try:
        storage.set_trial_user_attr(trial._trial_id, REASON, reason)
        storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return False
    requeue(study, trial)
    return True


def requeue(study: optuna.Study, trial: FrozenTrial | optuna.Trial) -> None:
    """Queue an interrupted trial's parameters, so the point is tried again (also the
    database's callback for trials it failed for a missing heartbeat)."""
    if trial.params:
        study.enqueue_trial(dict(trial.params), user_attrs={RETRY_OF: trial.number})


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Mark the running trials whose worker on this machine is gone (killed, crashed) as
    interrupted; returns their numbers. Workers on other machines cannot be seen from here: a
    database notices them by their missing heartbeat, a shared journal when a worker starts
    again on their machine."""
    now = datetime.datetime.now()
    ended = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER)
        if worker is None:
            started = trial.datetime_start or now
            if (now - started).total_seconds() < _UNCLAIMED_SECONDS:
                continue  # just asked for; its worker is about to record itself
            reason = "its worker ended before it recorded itself; marked failed later"
        elif process_alive(worker):
            continue
        else:
            reason = (
                f"its worker (pid {worker.get('pid')} on {worker.get('host')}) ended while it "
                "ran (killed or crashed); marked failed when the sweep started again"
            )
        if mark_interrupted(study, trial, reason):
            ended.append(trial.number)
    return ended
