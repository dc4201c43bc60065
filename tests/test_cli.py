"""The command line: exit statuses, readable errors, train/eval/resume end to end, Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.engine.runs import RunStore

FAST_SINUSOID = [
    "--set",
    "train.iterations=20",
    "--set",
    "train.meta_batch_size=4",
    "--set",
    "train.eval_every=10",
    "--set",
    "train.val_episodes=5",
    "--set",
    "train.checkpoint_every=5",
]


def test_presets_lists_demo_first(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("demo ") and any(line.startswith("sinusoid-maml") for line in lines)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["train", "no-such-preset"], "no preset named 'no-such-preset'"),
        (["train", "demo", "--set", "data.ways=1"], "data.ways: must be at least 2"),
        (["train", "demo", "--set", "data.wayz=3"], "data.wayz: unknown key"),
        (
            ["train", "demo", "--set", "data.dataset=folder", "--set", "data.path=/no/such/dir"],
            "/no/such/dir",
        ),
        (["eval", "/no/such/run"], "no run folder at /no/such/run"),
        (["resume", "/no/such/run"], "no run folder"),
        (
            [
                "episodes",
                "--set",
                "data.dataset=sinusoid",
                "--set",
                "model.backbone=mlp",
                "--index",
                "-1",
                "--out",
                "x.png",
            ],
            "--index",
        ),
        (["train", "/tmp/definitely-missing.toml"], "config file not found"),
        (["resume", "."], "is not a run folder: it has no config.toml"),
        (["eval", "."], "is not a run folder: it has no config.toml"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_the_cause(argv, needle, capsys, tmp_path):
    status = main(argv + (["--runs-dir", str(tmp_path)] if argv[0] == "train" else []))
    err = capsys.readouterr().err
    assert status == 2
    assert needle in err and "Traceback" not in err


def test_train_then_eval_json_end_to_end(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "sinusoid-maml",
                *FAST_SINUSOID,
                "--runs-dir",
                str(tmp_path),
                "--name",
                "sine",
                "--quiet",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    run = Path(out[-1])  # the last line printed is the run folder
    assert run.parent == tmp_path and run.name.endswith("-sine")
    assert main(["eval", str(run), "--episodes", "20", "--steps", "3", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    for key in (
        "accuracy",
        "ci95",
        "episodes",
        "query_accuracy_per_step",
        "support_accuracy_per_step",
    ):
        assert key in result
    assert result["episodes"] == 20 and len(result["query_loss_per_step"]) == 4
    assert "query MSE" in "\n".join(out)
    assert RunStore(run).read_summary()["test"]["episodes"] == 20


def test_nan_loss_exits_1_with_the_cause_and_keeps_the_last_good_checkpoint(
    tmp_path, capsys, monkeypatch
):
    from workbench.algorithms.gradient import GradientLearner

    original = GradientLearner.meta_step

    def diverging(self, batch, iteration):  # the loss a far too large learning rate gives
        metrics = original(self, batch, iteration)
        if iteration >= 7:
            metrics.loss = float("nan")
        return metrics

    monkeypatch.setattr(GradientLearner, "meta_step", diverging)
    status = main(
        ["train", "sinusoid-maml", *FAST_SINUSOID, "--quiet", "--runs-dir", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert status == 1
    assert "NaN" in out + err and "learning rate" in out + err and "Traceback" not in out + err
    (run,) = tmp_path.iterdir()
    assert RunStore(run).load_checkpoint("last")["iteration"] == 5
    assert RunStore(run).read_summary()["status"] == "failed"


def test_episodes_picture_for_sinusoid(tmp_path):
    out = tmp_path / "sine.png"
    assert main(["episodes", "sinusoid-maml", "--index", "3", "--out", str(out)]) == 0
    from PIL import Image

    assert Image.open(out).size[0] > 400


def _spawn_train(tmp_path: Path, iterations: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "train",
            "sinusoid-maml",
            "--set",
            f"train.iterations={iterations}",
            "--set",
            "train.meta_batch_size=4",
            "--set",
            "train.checkpoint_every=1000",
            "--set",
            "train.eval_every=0",
            "--runs-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_progress(tmp_path: Path, minimum: int, timeout: float = 120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for metrics in tmp_path.glob("*/metrics.jsonl"):
            if sum(1 for _ in metrics.open()) >= minimum:
                return metrics.parent
        time.sleep(0.1)
    raise AssertionError("training made no progress")


def test_ctrl_c_saves_a_checkpoint_that_resumes(tmp_path):
    proc = _spawn_train(tmp_path, 100000)
    run = _wait_for_progress(tmp_path, 5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert out.strip().splitlines()[-1] == str(run)
    assert "saving a checkpoint" in err
    store = RunStore(run)
    assert store.status() == "stopped"
    state = store.load_checkpoint("last")
    assert state["iteration"] >= 5
    from workbench.engine.trainer import Trainer

    assert Trainer.resume(run).iteration == state["iteration"]


def test_second_ctrl_c_exits_at_once_without_corrupting_anything(tmp_path):
    proc = _spawn_train(tmp_path, 100000)
    run = _wait_for_progress(tmp_path, 5)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    records, problems = RunStore(run).read_metrics()
    assert records and len(problems) <= 1  # at most the line being written when it quit
    store = RunStore(run)
    if store.has_checkpoint("last"):  # whatever is on disk under the real name loads
        assert store.load_checkpoint("last")["iteration"] >= 1
