"""A sweep's trials as rows (the command line's report, the window's live table), the best
trial's config, and which parameters matter (Optuna's fANOVA importances)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from workbench.config import ExperimentConfig
from workbench.engine.runs import default_runs_dir
from workbench.engine.sweeps import bookkeeping as bk
from workbench.engine.sweeps.spec import SweepError, SweepSpec, stored_spec
from workbench.engine.sweeps.study import load_study, storage_location

STATES = {
    TrialState.RUNNING: "running",
    TrialState.WAITING: "waiting",
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
}
_SILENT_WORKER = "its worker went silent (killed or disconnected); the database failed it"


@dataclass(frozen=True)
class TrialRow:
    """One trial. ``state``: running, waiting, complete, pruned or failed; ``duration`` in
    seconds (so far, while running); ``params`` of a waiting trial are those it was queued with;
    ``intermediate``: validation value by iteration;
    ``counted``: whether it counts towards the sweep's number of trials (interrupted trials do
    not: their parameters are queued again)."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    duration: float | None
    pruned_at_iteration: int | None
    run_dir: Path | None
    reason: str
    intermediate: dict[int, float] = field(default_factory=dict)
    counted: bool = False
    worker: str = ""


def trial_row(trial: FrozenTrial, now: datetime.datetime | None = None) -> TrialRow:
    attrs = trial.user_attrs
    end = trial.datetime_complete or (now or datetime.datetime.now())
    duration = (end - trial.datetime_start).total_seconds() if trial.datetime_start else None
    reason = str(attrs.get(bk.REASON, ""))
    if trial.state == TrialState.FAIL and not reason:
        reason = _SILENT_WORKER
    worker = attrs.get(bk.WORKER) or {}
    return TrialRow(
        number=trial.number,
        state=STATES.get(trial.state, trial.state.name.lower()),
        params=dict(trial.params or trial.system_attrs.get("fixed_params") or {}),
        value=trial.value if trial.state == TrialState.COMPLETE else None,
        duration=duration,
        pruned_at_iteration=attrs.get(bk.PRUNED_AT),
        run_dir=Path(attrs[bk.RUN_DIR]) if attrs.get(bk.RUN_DIR) else None,
        reason=reason,
        intermediate={int(k): float(v) for k, v in trial.intermediate_values.items()},
        counted=bk.counts_towards_target(trial),
        worker=f"{worker.get('host', '')}:{worker.get('pid', '')}" if worker else "",
    )


def study_rows(study: optuna.Study) -> list[TrialRow]:
    now = datetime.datetime.now()
    return [trial_row(t, now) for t in study.get_trials(deepcopy=False)]


def _study(name: str, storage: str | None, runs_dir: Path | None) -> optuna.Study:
    location = storage_location(storage, name, Path(runs_dir or default_runs_dir()))
    return load_study(name, location)


def load_trials(
    name: str, storage: str | None = None, runs_dir: Path | None = None
) -> list[TrialRow]:
    """The trials of sweep ``name`` (``storage`` None: the journal in ``runs_dir``)."""
    return study_rows(_study(name, storage, runs_dir))


def best_row(rows: list[TrialRow], direction: str) -> TrialRow | None:
    done = [r for r in rows if r.state == "complete" and r.value is not None]
    if not done:
        return None
    pick = max if direction == "maximize" else min
    return pick(done, key=lambda r: r.value)


def best_trial_config(
    name: str, storage: str | None = None, runs_dir: Path | None = None
) -> ExperimentConfig:
    """The base config with the best trial's values ("Use best"); SweepError if no trial has
    completed yet."""
    study = _study(name, storage, runs_dir)
    spec = SweepSpec.from_stored(name, stored_spec(study), storage=storage, runs_dir=runs_dir)
    best = best_row(study_rows(study), spec.direction)
    if best is None:
        raise SweepError(f"sweep {name} has no completed trial yet")
    config = spec.trial_config(best.params)
    config.description = f"best of sweep {name} (trial {best.number}, value {best.value:.4g})"
    return config


def param_importances(
    name: str, storage: str | None = None, runs_dir: Path | None = None
) -> dict[str, float]:
    """How much each swept parameter explains the value (fANOVA over the completed trials,
    summing to 1); SweepError while fewer than two trials have completed."""
    study = _study(name, storage, runs_dir)
    completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(completed) < 2:
        raise SweepError(
            f"sweep {name}: importances need two completed trials, it has {len(completed)}"
        )
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError) as exc:
        raise SweepError(f"sweep {name}: cannot compute importances: {exc}") from None
