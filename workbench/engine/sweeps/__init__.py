"""Sweeps: hyperparameter search on Optuna. Each trial is an ordinary run folder.

A sweep searches some fields of an experiment config over ranges; Optuna samples the values
(TPE), assigns trials to workers and prunes hopeless ones; this package turns a trial into a run
trained by the `Trainer` and reports its validation results back. No scheduler of our own.

Public API (what the command line and the window use)::

    from workbench.engine.sweeps import (
        SweepSpec, parse_param_spec, run_sweep, load_trials, best_trial_config,
        param_importances,
    )

    base = resolve("demo")
    params = {
        "algorithm.inner_lr": parse_param_spec("algorithm.inner_lr", "log(0.01,1)", base),
        "train.meta_lr": parse_param_spec("train.meta_lr", "log(0.0001,0.01)", base),
    }
    spec = SweepSpec("demo-lr", base, params, trials=20, workers=2, pruner="median")
    result = run_sweep(spec, on_trial=print, should_stop=lambda: False)
    result.best                      # TrialRow of the best completed trial, or None
    load_trials("demo-lr")           # list[TrialRow]: state, params, value, duration,
                                     #   pruned_at_iteration, run_dir, reason, intermediate
    best_trial_config("demo-lr")     # ExperimentConfig: base + the best trial's values
    param_importances("demo-lr")     # {"train.meta_lr": 0.8, "algorithm.inner_lr": 0.2}

- `parse_param_spec(key, text, config)`: ``log(a,b)``, ``float(a,b)``, ``int(a,b)``,
  ``choice(x,y,...)``, checked against the field's type, limits and choices (ConfigError).
- `SweepSpec`: name, base config, params, trials, workers, storage, pruner (``median``,
  ``wilcoxon``, ``none``), metric (``val_accuracy``, or ``val_loss`` - the default for
  sinusoid regression, minimised), runs_dir. `SweepSpec.validate` checks everything that can be
  checked before a trial starts.
- Storage: None keeps the study in ``RUNS_DIR/.sweeps/NAME.journal`` (Optuna's journal file, no
  server); a ``postgresql://`` URL (Optuna's RDBStorage, with heartbeats) or the path of a
  journal file on a shared file system lets workers on other machines join
  (``workbench sweep --join NAME --storage URL``, or `run_sweep` with
  `joined_spec`).
- `run_sweep(spec, on_trial, should_stop)`: creates or continues the sweep and runs
  ``spec.workers`` spawned worker processes until the target is met; the calling process only
  watches the study (``on_trial`` gets a `TrialRow` whenever a trial appears or changes state)
  and ``should_stop()`` stops the workers after their current iteration. Never trains in the
  caller's process.
- Trials: a run folder in the runs folder named ``NAME-trial-NNN`` whose summary carries
  ``sweep``, ``sweep_trial`` and ``sweep_state``; each validation is reported to the trial at
  its iteration; the trial's value is the run's best validation. Pruned trials record the
  iteration (``pruned_at_iteration``) and every failure its ``reason``. A trial whose worker was
  killed or stopped is marked failed and *interrupted* (not counted, its parameters queued
  again), so a killed sweep started again ends with the number of trials asked for.

Modules: ``params`` (specs), ``spec`` (SweepSpec, metrics), ``study`` (storage, create/load),
``bookkeeping`` (what counts, orphaned trials), ``objective`` (one trial), ``workers``
(processes), ``results`` (rows, best config, importances).
"""

from workbench.engine.sweeps.objective import Objective, TrialFailed, TrialInterrupted
from workbench.engine.sweeps.params import ParamSpec, parse_param_spec, parse_param_specs
from workbench.engine.sweeps.results import (
    TrialRow,
    best_row,
    best_trial_config,
    load_trials,
    param_importances,
    study_rows,
)
from workbench.engine.sweeps.spec import (
    METRICS,
    PRUNERS,
    Metric,
    SweepError,
    SweepSpec,
    default_metric,
    default_sweep_name,
)
from workbench.engine.sweeps.study import display_location, load_study, open_study
from workbench.engine.sweeps.workers import (
    SweepResult,
    joined_spec,
    make_pruner,
    run_sweep,
    storage_location,
)

__all__ = [
    "METRICS",
    "PRUNERS",
    "Metric",
    "Objective",
    "ParamSpec",
    "SweepError",
    "SweepResult",
    "SweepSpec",
    "TrialFailed",
    "TrialInterrupted",
    "TrialRow",
    "best_row",
    "best_trial_config",
    "default_metric",
    "default_sweep_name",
    "display_location",
    "joined_spec",
    "load_study",
    "load_trials",
    "make_pruner",
    "open_study",
    "param_importances",
    "parse_param_spec",
    "parse_param_specs",
    "run_sweep",
    "storage_location",
    "study_rows",
]
