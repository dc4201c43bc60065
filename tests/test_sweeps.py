"""Sweeps: specs checked before anything starts, real sweeps with worker processes on a journal
file, pruning through the trainer's stop, and a killed sweep that continues."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import psutil
import pytest
from sweep_helpers import PARAMS, TINY, check_completed_sweep, sweep_argv

from workbench.cli import main
from workbench.config import parse_overrides
from workbench.engine.runs import RunStore, list_runs
from workbench.engine.sweeps import (
    SweepError,
    SweepSpec,
    best_trial_config,
    load_study,
    load_trials,
    make_pruner,
    param_importances,
    parse_param_spec,
    parse_param_specs,
    run_sweep,
    storage_location,
)
from workbench.errors import ConfigError
from workbench.presets import resolve

NAME = "demo-inner_lr-meta_lr"  # the default name of the TINY sweep of PARAMS
ROOT = Path(__file__).resolve().parents[1]


def tiny_spec(runs_dir: Path, **kw) -> SweepSpec:
    base = parse_overrides(list(TINY), resolve("demo")).validate()
    return SweepSpec(
        name=kw.pop("name", "tiny"),
        base=base,
        params=parse_param_specs(list(PARAMS), base),
        runs_dir=runs_dir,
        **kw,
    )


# -- specs ------------------------------------------------------------------------------------


def test_specs_are_read_against_the_field_metadata() -> None:
    demo = resolve("demo")
    lr = parse_param_spec("algorithm.inner_lr", " log( 0.01 , 1 ) ", demo)
    assert (lr.kind, lr.low, lr.high, lr.log, lr.text()) == (
        "log",
        0.01,
        1.0,
        True,
        "log(0.01,1.0)",
    )
    steps = parse_param_spec("algorithm.inner_steps", "int(1,5)", demo)
    assert (steps.low, steps.high) == (1, 5) and isinstance(
        steps.distribution(), optuna.distributions.IntDistribution
    )
    alg = parse_param_spec("algorithm.name", "choice(maml,fomaml,anil)", demo)
    assert alg.choices == ("maml", "fomaml", "anil")
    flag = parse_param_spec("algorithm.first_order", "choice(yes,false,1)", demo)
    assert flag.choices == (True, False) and flag.text() == "choice(true,false)"
    assert parse_param_spec("train.meta_lr", lr.text().replace("log", "float"), demo).log is False
    # a spec's text reads back as the same spec (the study stores the text)
    for spec in (lr, steps, alg, flag):
        assert parse_param_spec(spec.key, spec.text(), demo) == spec


@pytest.mark.parametrize(
    "param,needle",
    [
        (
            "algorithm.inner_lr=log(1e-9,1)",
            "1e-9 is outside the field's limits (must be at least 1e-06",
        ),
        (
            "algorithm.inner_lr=float(0.1,500)",
            "500 is outside the field's limits (must be at most 100",
        ),
        ("data.ways=int(1,5)", "data.ways: int(1,5): 1 is outside the field's limits"),
        ("algorithm.inner_lrr=log(0.1,1)", "algorithm.inner_lrr: unknown key"),
        ("nosection.x=int(1,2)", "nosection.x: unknown key"),
        ("algorithm.inner_lr=lug(0.1,1)", "cannot read the search space 'lug(0.1,1)'"),
        ("algorithm.inner_lr=log(1,0.1)", "the low bound must be below the high bound"),
        ("algorithm.inner_lr=log(0.1)", "takes two bounds"),
        ("algorithm.inner_lr=int(1,3)", "int(...) is for whole-number fields"),
        ("data.ways=float(2,5)", "float(...) is for decimal fields"),
        ("algorithm.name=float(1,2)", "choice(...) of maml, fomaml"),
        ("algorithm.name=choice(maml,xyz)", "xyz is not a valid value"),
        ("algorithm.name=choice(maml,maml)", "offers one value"),
        ("algorithm.reptile_batch=int(1,3)", "does not apply to algorithm fomaml"),
        ("algorithm.inner_lr", "expected KEY=SPEC"),
    ],
)
def test_bad_specs_exit_2_before_anything_starts(param, needle, tmp_path, capsys) -> None:
    argv = ["sweep", "demo", "--param", param, "--trials", "2", "--runs-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no study, no run folder


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--param", "train.meta_lr=log(0.001,0.01)"], "--trials: give the number of trials"),
        (
            ["--param", "train.meta_lr=log(0.001,0.01)", "--trials", "0"],
            "--trials: must be at least 1",
        ),
        (["--trials", "3"], "at least one --param"),
        (
            [
                "--trials",
                "3",
                "--param",
                "train.meta_lr=log(0.001,0.01)",
                "--set",
                "train.eval_every=0",
            ],
            "train.eval_every: a sweep scores trials by validation",
        ),
        (
            ["--trials", "3", "--param", "train.eval_every=int(10,20)", "--pruner", "wilcoxon"],
            "the wilcoxon pruner pairs trials",
        ),
        (
            ["--trials", "3", "--param", "train.meta_lr=log(0.001,0.01)", "--storage", "redis://x"],
            "use a postgresql:// URL or the path of a journal file",
        ),
        (
            ["--trials", "3", "--param", "train.meta_lr=log(0.001,0.01)", "--name", "a b"],
            "sweep name 'a b'",
        ),
    ],
)
def test_bad_sweeps_exit_2_with_the_cause(argv, needle, tmp_path, capsys) -> None:
    assert main(["sweep", "demo", *argv, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_sinusoid_is_minimised_and_has_no_accuracy(tmp_path) -> None:
    base = resolve("sinusoid-maml")
    params = parse_param_specs(["train.meta_lr=log(0.0001,0.01)"], base)
    spec = SweepSpec("sine", base, params, runs_dir=tmp_path).validate()
    assert (spec.metric_info.name, spec.direction) == ("val_loss", "minimize")
    with pytest.raises(ConfigError, match="sinusoid is regression"):
        SweepSpec("sine", base, params, metric="val_accuracy").validate()


def test_storage_locations(tmp_path) -> None:
    spec = tiny_spec(tmp_path)
    assert storage_location(spec) == str(tmp_path / ".sweeps" / "tiny.journal")
    spec.storage = str(tmp_path)  # an existing folder: a journal named after the sweep in it
    assert storage_location(spec) == str(tmp_path / "tiny.journal")
    spec.storage = "postgresql://u:secret@db.example:5432/sweeps"
    assert storage_location(spec) == spec.storage
    from workbench.engine.sweeps import display_location

    assert "secret" not in display_location(spec.storage)


def test_pruners_by_name(tmp_path) -> None:
    names = {
        n: type(make_pruner(tiny_spec(tmp_path, pruner=n))).__name__
        for n in ("median", "wilcoxon", "none")
    }
    assert names == {"median": "MedianPruner", "wilcoxon": "WilcoxonPruner", "none": "NopPruner"}


def test_joining_an_unknown_sweep_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["sweep", "--join", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "no sweep journal at" in capsys.readouterr().err
    assert main(["sweep", "--join", "nope", "--storage", str(tmp_path), "demo"]) == 2
    assert "--join: takes the sweep's settings from its storage" in capsys.readouterr().err


# -- real sweeps ------------------------------------------------------------------------------


def test_sweep_with_two_workers_on_one_journal(tmp_path, capsys) -> None:
    assert main(sweep_argv(tmp_path, trials=4, workers=2)) == 0
    out = capsys.readouterr().out
    rows = load_trials(NAME, runs_dir=tmp_path)
    best = check_completed_sweep(rows, NAME, 4)
    assert len({r.worker for r in rows}) == 2  # both worker processes ran trials
    assert os.getpid() not in {int(r.worker.split(":")[1]) for r in rows}
    assert f"best: trial {best.number}, val_accuracy {best.value:.4f}" in out
    assert str(best.run_dir) in out and "4 complete, 0 pruned, 0 failed" in out
    # the runs list shows every trial; the best config is the best run's config
    assert len(list_runs(tmp_path)) == 4
    config = best_trial_config(NAME, runs_dir=tmp_path)
    assert config.train.meta_lr == RunStore(best.run_dir).load_config().train.meta_lr
    importances = param_importances(NAME, runs_dir=tmp_path)
    assert set(importances) == {"algorithm.inner_lr", "train.meta_lr"}
    assert sum(importances.values()) == pytest.approx(1.0)
    # started again with the same command: already done, nothing new runs
    assert main(sweep_argv(tmp_path, trials=4, workers=2)) == 0
    assert len(load_trials(NAME, runs_dir=tmp_path)) == 4
    # the same name with another search space is refused
    other = sweep_argv(tmp_path) + ["--param", "algorithm.inner_steps=int(1,3)", "--name", NAME]
    assert main(other) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_pruned_trial_is_marked_and_stops_early(tmp_path) -> None:
    # accuracy never exceeds 1: this pruner prunes at the first validation, surely
    spec = tiny_spec(
        tmp_path, trials=1, workers=1, pruner=optuna.pruners.ThresholdPruner(lower=1.01)
    )
    result = run_sweep(spec)
    (row,) = result.rows
    assert row.state == "pruned" and row.pruned_at_iteration == 10 and row.value is None
    assert "pruned at iteration 10" in row.reason
    summary = RunStore(row.run_dir).read_summary()
    assert summary["status"] == "stopped" and summary["iteration"] == 10 < summary["total"]
    assert summary["sweep_state"] == "pruned" and summary["sweep_pruned_at"] == 10
    assert row.counted  # a pruned trial counts towards the target


def test_stopping_a_sweep_interrupts_and_requeues_its_trial(tmp_path) -> None:
    spec = tiny_spec(tmp_path, trials=3, workers=1, pruner="none")
    spec.base.train.iterations = 400  # long enough to be stopped part way
    seen: list = []
    result = run_sweep(
        spec, on_trial=seen.append, should_stop=lambda: any(r.state == "running" for r in seen)
    )
    assert result.stopped
    failed = [r for r in result.rows if r.state == "failed"]
    assert len(failed) == 1 and not failed[0].counted
    assert "the sweep was stopped at iteration" in failed[0].reason
    waiting = [r for r in result.rows if r.state == "waiting"]
    assert [w.params for w in waiting] == [failed[0].params]  # queued again
    assert RunStore(failed[0].run_dir).read_summary()["status"] == "stopped"


def _start_sweep(runs_dir: Path, trials: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *sweep_argv(runs_dir, trials=trials, workers=1)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: killed with its worker
    )


def _wait_for(condition, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended early: {proc.stderr.read().decode()}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


@pytest.mark.parametrize("kill", ["group", "main"])
def test_a_killed_sweep_continues_to_the_number_of_trials(kill, tmp_path) -> None:
    """``group``: the main process and its worker are killed at once (the trial is found dead
    when the sweep starts again); ``main``: only the main process, and its orphaned worker
    stops the trial itself and exits."""
    proc = _start_sweep(tmp_path, trials=3)
    journal = Path(storage_location(tiny_spec(tmp_path, name=NAME)))

    def rows():
        try:
            return load_trials(NAME, runs_dir=tmp_path) if journal.exists() else []
        except SweepError:
            return []

    def one_done_and_one_training():
        r = rows()
        return any(x.state == "complete" for x in r) and any(
            x.state == "running" and x.run_dir is not None for x in r
        )

    try:
        _wait_for(one_done_and_one_training, 240, proc)
    finally:
        os.kill(-proc.pid if kill == "group" else proc.pid, signal.SIGKILL)
        proc.wait()
    killed = next(r for r in rows() if r.state == "running")
    with contextlib.suppress(psutil.NoSuchProcess):  # gone, not just signalled
        psutil.Process(int(killed.worker.split(":")[1])).wait(60)
    assert main(sweep_argv(tmp_path, trials=3, workers=1)) == 0
    after = load_trials(NAME, runs_dir=tmp_path)
    assert sum(r.counted for r in after) == 3
    assert [r.state for r in after if r.counted] == ["complete"] * 3
    (lost,) = [r for r in after if r.number == killed.number]
    assert lost.state == "failed" and not lost.counted
    assert ("ended while it ran" if kill == "group" else "main process ended") in lost.reason
    # its parameters were tried again; its run folder can be resumed by hand
    trials = load_study(NAME, str(journal)).trials
    (retry,) = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    assert retry.params == killed.params and retry.state == optuna.trial.TrialState.COMPLETE
    assert RunStore(lost.run_dir).status() == ("interrupted" if kill == "group" else "stopped")
