"""What the sweep tests share: tiny demo settings that train a trial in a few seconds, and the
check that a finished sweep's trials are real runs whose values match their run folders."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.engine.runs import RunStore
from workbench.engine.sweeps import TrialRow

#: the demo preset cut down so that a trial takes a few seconds on one core
TINY = [
    "train.iterations=20",
    "train.eval_every=10",
    "train.val_episodes=5",
    "train.meta_batch_size=2",
    "train.checkpoint_every=10",
]
PARAMS = ["algorithm.inner_lr=log(0.05,1)", "train.meta_lr=log(0.0005,0.01)"]


def sweep_argv(runs_dir: Path, *extra: str, trials: int = 4, workers: int = 2) -> list[str]:
    argv = ["sweep", "demo"]
    for pair in TINY:
        argv += ["--set", pair]
    for pair in PARAMS:
        argv += ["--param", pair]
    return argv + [
        "--trials",
        str(trials),
        "--workers",
        str(workers),
        "--runs-dir",
        str(runs_dir),
        *extra,
    ]


def evaluations(run_dir: Path) -> dict[int, float]:
    """The run's validation accuracy by iteration, read from its metrics log."""
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "evaluation":
            out[record["iteration"]] = record["values"]["val_query_accuracy_post"]
    return out


def check_completed_sweep(rows: list[TrialRow], name: str, trials: int) -> TrialRow:
    """Every trial complete with its own finished run folder, tagged with the sweep; each
    value is its run's best validation and what was reported is its metrics log; returns the
    best trial, checked against the best run."""
    assert [r.state for r in rows] == ["complete"] * trials
    assert len({r.run_dir for r in rows}) == trials
    for row in rows:
        assert row.run_dir is not None and row.run_dir.is_dir()
        summary = RunStore(row.run_dir).read_summary()
        assert summary["status"] == "finished" and summary["iteration"] == 20
        assert summary["sweep"] == name and summary["sweep_trial"] == row.number
        assert row.value == summary["best_accuracy"]
        assert row.intermediate == evaluations(row.run_dir)
        config = RunStore(row.run_dir).load_config()
        assert config.algorithm.inner_lr == row.params["algorithm.inner_lr"]
        assert config.train.meta_lr == row.params["train.meta_lr"]
    best = max(rows, key=lambda r: r.value or 0.0)
    best_runs = max(RunStore(r.run_dir).read_summary()["best_accuracy"] for r in rows)
    assert best.value == best_runs == max(evaluations(best.run_dir).values())
    return best
