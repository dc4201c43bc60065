"""One trial: an ordinary run folder trained by the `Trainer`, scored by its validation.

Each validation result is reported to the trial as it arrives; when the pruner says the trial
is hopeless, the trainer is stopped through its stop mechanism (the run keeps its checkpoint and
can be resumed by hand). The trial's value is the best validation of its run, the very number
the run's summary records as its best.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from typing import Any

import optuna

from workbench.engine import events as ev
from workbench.engine.sweeps import bookkeeping as bk
from workbench.engine.sweeps.spec import Metric, SweepSpec
from workbench.engine.trainer import Trainer
from workbench.errors import WorkbenchError


class TrialFailed(WorkbenchError):
    """A trial whose training failed (NaN loss, values that do not fit, data missing)."""


class TrialInterrupted(WorkbenchError):
    """A trial stopped because the sweep was stopped or its main process ended."""


class TrialMonitor:
    """Subscribes to a trial's trainer: reports validations, prunes, and stops on request."""

    def __init__(
        self,
        trial: optuna.Trial,
        trainer: Trainer,
        metric: Metric,
        should_stop: Callable[[], bool],
    ) -> None:
        self.trial, self.trainer, self.metric = trial, trainer, metric
        self.should_stop = should_stop
        self.values: dict[int, float] = {}
        self.pruned_at: int | None = None
        self.interrupted = False
        self.failure = ""

    def __call__(self, event: ev.TrainerEvent) -> None:
        if event.kind == ev.EVALUATION and self.metric.event_key in event.values:
            value = float(event.values[self.metric.event_key])
            self.values[event.iteration] = value
            self.trial.report(value, event.iteration)
            if self.pruned_at is None and self.trial.should_prune():
                self.pruned_at = event.iteration
                self.trainer.stop()
        elif event.kind == ev.ITERATION and not self.interrupted and self.should_stop():
            self.interrupted = True
            self.trainer.stop()
        elif event.kind == ev.FAILED:
            self.failure = event.message

    def best(self) -> float | None:
        """The best validation value (finite ones; None if there was none)."""
        finite = [v for v in self.values.values() if math.isfinite(v)]
        if not finite:
            return None
        return max(finite) if self.metric.direction == "maximize" else min(finite)


class Objective:
    """The function each worker hands to ``study.optimize``."""

    def __init__(
        self,
        spec: SweepSpec,
        should_stop: Callable[[], bool] = lambda: False,
        stop_reason: Callable[[], str] = lambda: "the sweep was stopped",
    ) -> None:
        self.spec, self.should_stop, self.stop_reason = spec, should_stop, stop_reason

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr(bk.WORKER, bk.worker_identity())
        values = {key: p.suggest(trial) for key, p in self.spec.params.items()}
        try:
            trainer = self._trainer(trial, values)
        except WorkbenchError as exc:
            raise self._failed(trial, str(exc)) from None
        except Exception as exc:  # a bug: the trial fails with it, the worker goes on
            raise self._failed(
                trial, f"{type(exc).__name__}: {exc}", traceback.format_exc()
            ) from exc
        monitor = TrialMonitor(trial, trainer, self.spec.metric_info, self.should_stop)
        trainer.subscribe(monitor)
        status = trainer.run()
        return self._outcome(trial, trainer, monitor, status)

    def _trainer(self, trial: optuna.Trial, values: dict[str, Any]) -> Trainer:
        config = self.spec.trial_config(values)
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        config.description = f"sweep {self.spec.name}, trial {trial.number}: {shown}"
        trainer = Trainer.create(
            config, self.spec.runs_folder(), f"{self.spec.name}-trial-{trial.number:03d}"
        )
        assert trainer.store is not None
        trainer.store.write_summary(sweep=self.spec.name, sweep_trial=trial.number)
        trial.set_user_attr(bk.RUN_DIR, str(trainer.store.path))
        return trainer

    def _outcome(
        self, trial: optuna.Trial, trainer: Trainer, monitor: TrialMonitor, status: str
    ) -> float:
        store = trainer.store
        assert store is not None
        if status == ev.FAILED:
            store.write_summary(sweep_state="failed")
            raise self._failed(trial, monitor.failure or "training failed")
        if monitor.pruned_at is not None:
            value = monitor.values[monitor.pruned_at]
            reason = (
                f"pruned at iteration {monitor.pruned_at} by the {self.spec.pruner_name} "
                f"pruner ({self.spec.metric_info.name} {value:.4g})"
            )
            trial.set_user_attr(bk.PRUNED_AT, monitor.pruned_at)
            trial.set_user_attr(bk.REASON, reason)
            store.write_summary(sweep_state="pruned", sweep_pruned_at=monitor.pruned_at)
            raise optuna.TrialPruned(reason)
        if status == ev.STOPPED:
            reason = f"{self.stop_reason()} at iteration {trainer.iteration}; queued again"
            store.write_summary(sweep_state="interrupted")
            trial.set_user_attr(bk.INTERRUPTED, True)
            trial.set_user_attr(bk.REASON, reason)
            bk.requeue(trial.study, trial)
            trial.study.stop()
            raise TrialInterrupted(reason)
        best = monitor.best()
        if best is None:
            raise self._failed(trial, "the run reported no finite validation value")
        store.write_summary(sweep_state="complete", sweep_value=best)
        return best

    def _failed(self, trial: optuna.Trial, reason: str, details: str = "") -> TrialFailed:
        trial.set_user_attr(bk.REASON, reason)
        if details:
            trial.set_user_attr("details", details[-4000:])
        return TrialFailed(reason)
