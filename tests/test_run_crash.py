"""Crash safety: a training process killed with SIGKILL leaves a run that is listed as
interrupted, holds its metrics up to the last flush and a loadable checkpoint, and resumes to
exactly the result of an uninterrupted run (CPU, same seed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from workbench.config import parse_overrides
from workbench.engine.runs import RunStore, list_runs, run_info
from workbench.engine.trainer import Trainer
from workbench.presets import load_preset

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

OVERRIDES = [
    "train.iterations=40",
    "train.meta_batch_size=2",
    "train.checkpoint_every=8",
    "train.eval_every=16",
    "train.val_episodes=4",
    "train.device=cpu",
]


def _logged_iteration(run_dir: Path) -> int:
    """The last iteration in metrics.jsonl (complete lines only: the writer is alive)."""
    try:
        text = (run_dir / "metrics.jsonl").read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    last = 0
    for line in text.split("\n")[:-1]:
        try:
            last = max(last, int(json.loads(line)["iteration"]))
        except (ValueError, KeyError):
            pass
    return last


def _summary_iteration(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "summary.json").read_text())["iteration"])
    except (OSError, ValueError, KeyError):
        return 0


def _train_and_kill(runs: Path) -> Path:
    """Start ``workbench train`` in a subprocess; SIGKILL it once a checkpoint (after the first
    validation) is on disk and the log has gone beyond it."""
    cmd = [
        sys.executable,
        "-m",
        "workbench.cli",
        "train",
        "sinusoid-maml",
        "--runs-dir",
        str(runs),
        "--name",
        "killed",
        "--quiet",
    ]
    for pair in OVERRIDES:
        cmd += ["--set", pair]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    "training ended before it was killed: "
                    + proc.stderr.read().decode(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint appeared within 300 s")
            folders = [p for p in runs.glob("*") if p.is_dir() and not p.name.startswith(".")]
            if folders:
                run_dir = folders[0]
                checkpoint = _summary_iteration(run_dir)
                if (
                    (run_dir / "checkpoints" / "last.pt").exists()
                    and checkpoint >= 16
                    and _logged_iteration(run_dir) >= checkpoint + 2
                ):
                    break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return run_dir


def _iteration_records(run_dir: Path, kind: str) -> list[dict]:
    records, problems = RunStore(run_dir).read_metrics()
    assert not problems
    return [r for r in records if r["kind"] == kind]


def test_sigkill_leaves_an_interrupted_run_that_resumes_to_the_same_result(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run_dir = _train_and_kill(runs)

    # listed as interrupted, with a loadable checkpoint behind the logged progress
    listed = {r.path: r for r in list_runs(runs)}
    info = listed[run_dir]
    assert info.status == "interrupted"
    assert info.resumable
    state = RunStore(run_dir).load_checkpoint("last")
    saved_at = int(state["iteration"])
    assert 16 <= saved_at < 40
    assert info.iteration > saved_at  # metrics up to the last flush survive the kill
    assert RunStore(run_dir).load_checkpoint("best")["iteration"] >= 16

    # resume: the log is cut back to the checkpoint, then training completes
    trainer = Trainer.resume(run_dir)
    assert trainer.iteration == saved_at
    assert max(r["iteration"] for r in _iteration_records(run_dir, "iteration")) == saved_at
    assert run_info(run_dir).status == "running"
    assert trainer.run() == "finished"
    done = run_info(run_dir)
    assert (done.status, done.iteration, done.problems) == ("finished", 40, [])

    # the same experiment without interruption, in this process
    config = RunStore(run_dir).load_config()
    reference = Trainer.create(config, tmp_path / "reference", name="reference")
    assert reference.run() == "finished"
    ref_dir = reference.store.path

    resumed_steps = _iteration_records(run_dir, "iteration")
    reference_steps = _iteration_records(ref_dir, "iteration")
    assert [r["iteration"] for r in resumed_steps] == list(range(1, 41))
    assert [r["iteration"] for r in reference_steps] == list(range(1, 41))
    for mine, theirs in zip(resumed_steps, reference_steps):
        assert mine["values"]["loss"] == pytest.approx(theirs["values"]["loss"], rel=1e-5, abs=1e-7)
        assert mine["values"]["pre_loss"] == pytest.approx(
            theirs["values"]["pre_loss"], rel=1e-5, abs=1e-7
        )
    resumed_val = _iteration_records(run_dir, "evaluation")
    reference_val = _iteration_records(ref_dir, "evaluation")
    assert [r["iteration"] for r in resumed_val] == [16, 32, 40]
    for mine, theirs in zip(resumed_val, reference_val):
        assert mine["values"]["val_query_loss_post"] == pytest.approx(
            theirs["values"]["val_query_loss_post"], rel=1e-5, abs=1e-7
        )

    for kind in ("last", "best"):
        mine = RunStore(run_dir).load_checkpoint(kind)
        theirs = RunStore(ref_dir).load_checkpoint(kind)
        assert mine["iteration"] == theirs["iteration"]
        for name, tensor in theirs["learner"]["model"].items():
            assert torch.allclose(mine["learner"]["model"][name], tensor, rtol=1e-5, atol=1e-7), (
                name
            )


def test_a_reused_pid_or_a_reboot_does_not_keep_a_dead_run_running(tmp_path: Path) -> None:
    """After a power cut the recorded pid may belong to another process: the process's creation
    time tells them apart."""
    config = parse_overrides(OVERRIDES, load_preset("sinusoid-maml")).validate()
    store = RunStore.create(tmp_path, config, "power-cut")
    assert store.status() == "running"  # this very process
    summary = store.read_summary()
    assert summary["pid"] == os.getpid() and summary["pid_created"] > 0
    store.write_summary(pid_created=summary["pid_created"] - 3600)  # same pid, other process
    assert store.status() == "interrupted"
    store.write_summary(pid_created=summary["pid_created"], pid=-1)
    assert store.status() == "interrupted"  # a negative pid is never probed
    store.write_summary(pid=summary["pid"])
    assert store.status() == "running"


def test_a_summary_of_the_older_format_is_interrupted_until_resumed(tmp_path: Path) -> None:
    """Older versions recorded a boot id and /proc start ticks instead of a creation time: such
    a run cannot be proven alive, so it is offered for resuming, which records the new form."""
    config = parse_overrides(OVERRIDES, load_preset("sinusoid-maml")).validate()
    store = RunStore.create(tmp_path, config, "old-format")
    legacy = {k: v for k, v in store.read_summary().items() if k != "pid_created"}
    legacy.update(boot_id="0f1e2d3c", pid_start="12345")
    store.summary_path.write_text(json.dumps(legacy), encoding="utf-8")
    assert store.status() == "interrupted"
    store.write_summary(status="running")
    summary = store.read_summary()
    assert "boot_id" not in summary and "pid_start" not in summary
    assert store.status() == "running"
