"""``workbench sweep``: a hyperparameter search on Optuna from the command line.

``workbench sweep demo --param algorithm.inner_lr='log(0.01,1)' --trials 20 --workers 2``
starts (or, run again, continues) a sweep; ``workbench sweep --join NAME --storage URL`` adds
workers, on this machine or another. Every problem with the specs is reported before anything
starts, as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from workbench.engine.progress import format_duration
from workbench.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="search hyperparameters with Optuna; every trial is a run folder",
        description="Search config fields over ranges with Optuna (TPE sampling, pruning). "
        "Run the same command again to continue a stopped or killed sweep.",
    )
    p.add_argument("config", nargs="?", help="a TOML file or a preset name (not with --join)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix a value for every trial, e.g. --set train.iterations=200",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="a field to search: log(A,B), float(A,B), int(A,B) or choice(X,Y,...), "
        "e.g. --param 'algorithm.inner_lr=log(0.01,1)' (repeatable)",
    )
    p.add_argument("--trials", type=int, default=None, help="number of trials (required)")
    p.add_argument(
        "--workers", type=int, default=1, help="worker processes on this machine (default 1)"
    )
    p.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="where the study lives: a postgresql:// URL or a journal file on a "
        "shared file system (default: a journal in RUNS_DIR/.sweeps)",
    )
    p.add_argument(
        "--pruner",
        default="median",
        choices=("median", "wilcoxon", "none"),
        help="stop hopeless trials early (default median)",
    )
    p.add_argument(
        "--metric",
        default=None,
        choices=("val_accuracy", "val_loss"),
        help="what a trial is scored by (default val_accuracy; val_loss, minimised, for sinusoid)",
    )
    p.add_argument(
        "--name",
        default=None,
        help="the sweep's name (default: config and swept fields, e.g. demo-inner_lr-meta_lr)",
    )
    p.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="folder of runs (default $WORKBENCH_RUNS_DIR or ~/workbench-runs)",
    )
    p.add_argument(
        "--join",
        default=None,
        metavar="NAME",
        help="add workers to the existing sweep NAME (its settings come from --storage)",
    )
    p.set_defaults(handler=run)


def build_spec(args: argparse.Namespace):
    """The sweep the arguments describe, fully checked (ConfigError/SweepError otherwise)."""
    from workbench.config import parse_overrides
    from workbench.engine.sweeps import (
        SweepSpec,
        default_sweep_name,
        joined_spec,
        parse_param_specs,
    )
    from workbench.presets import resolve

    if args.join:
        if args.config or args.param or args.set or args.trials is not None:
            raise ConfigError(
                "--join",
                "takes the sweep's settings from its storage; give only --storage, "
                "--workers and --runs-dir",
            )
        return joined_spec(args.join, args.storage, args.runs_dir, args.workers).validate()
    if not args.config:
        raise ConfigError("config", "name a TOML file or a preset to sweep (or --join NAME)")
    if args.trials is None:
        raise ConfigError("--trials", "give the number of trials, e.g. --trials 20")
    base = parse_overrides(args.set, resolve(args.config)).validate()
    params = parse_param_specs(args.param, base)
    return SweepSpec(
        name=args.name or default_sweep_name(args.config, params),
        base=base,
        params=params,
        trials=args.trials,
        workers=args.workers,
        storage=args.storage,
        pruner=args.pruner,
        metric=args.metric,
        runs_dir=args.runs_dir,
    ).validate()


def run(args: argparse.Namespace) -> int:
    import optuna

    from workbench.engine.sweeps import display_location, run_sweep, storage_location

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = build_spec(args)
    where = display_location(storage_location(spec))

    def header(result) -> None:
        print(
            f"sweep {spec.name}: {spec.trials} trials, {spec.workers} worker(s), "
            f"{spec.pruner_name} pruner, {spec.metric_info.name} "
            f"({spec.direction}); study in {where}"
        )
        print(f"  more workers: workbench sweep --join {spec.name} --storage {where}")
        for number in result.interrupted_on_start:
            print(f"  trial {number}: its worker had ended; marked interrupted, queued again")
        sys.stdout.flush()

    printer = TrialPrinter(spec.metric_info.name, spec.trials)
    stop = {"asked": False}

    def on_sigint(signum, frame):  # noqa: ARG001
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        sys.stderr.write(
            "\nstopping: each trial stops after its iteration and is queued again "
            "(Ctrl+C again to quit at once)\n"
        )

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = run_sweep(
            spec, on_trial=printer, should_stop=lambda: stop["asked"], on_start=header
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    print_summary(result, spec.metric_info.name)
    return 130 if result.stopped else 0


class TrialPrinter:
    """One line per trial that starts or ends, with the sweep's progress."""

    def __init__(self, metric: str, target: int) -> None:
        self.metric, self.target = metric, target
        self.counted: set[int] = set()

    def __call__(self, row) -> None:
        if row.state == "waiting":
            return
        if row.counted:
            self.counted.add(row.number)
        head = f"[{len(self.counted)}/{self.target}] trial {row.number}"
        took = f" ({format_duration(row.duration or 0)})"
        if row.state == "running":
            print(f"{head} started: {params_text(row.params)}", flush=True)
        elif row.state == "complete":
            print(f"{head} complete: {self.metric} {row.value:.4f}{took}  {row.run_dir}")
        elif row.state == "pruned":
            print(f"{head} pruned at iteration {row.pruned_at_iteration}{took}  {row.run_dir}")
        else:
            print(f"{head} {row.state}: {row.reason}{took}")
        sys.stdout.flush()


def params_text(params: dict) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def print_summary(result, metric: str) -> None:
    rows = result.rows
    failed = [r for r in rows if r.state == "failed"]
    interrupted = [r for r in failed if not r.counted]
    print(
        f"\n{result.count('complete')} complete, {result.count('pruned')} pruned, "
        f"{len(failed) - len(interrupted)} failed, {len(interrupted)} interrupted"
        + (" (stopped)" if result.stopped else "")
    )
    for r in failed:
        print(f"  trial {r.number} {'interrupted' if not r.counted else 'failed'}: {r.reason}")
    best = result.best
    if best is None:
        print("no trial has completed yet")
        return
    print(f"best: trial {best.number}, {metric} {best.value:.4f}")
    print(f"  {params_text(best.params)}")
    print(f"  {best.run_dir}")
