"""The command line: exit statuses, readable errors, train/eval/resume end to end, Ctrl+C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.cli import EpisodeBar, ProgressPrinter, main
from workbench.engine import events as ev
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


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _feed(printer: ProgressPrinter, total: int = 40, start: int = 0) -> None:
    printer(ev.TrainerEvent(ev.STARTED, start, total, 0.0, {}, "training on cpu"))
    for i in range(start + 1, total + 1):
        printer(ev.TrainerEvent(ev.ITERATION, i, total, 0.1 * i, {"loss": 1 / i, "accuracy": 0.5}))
        if i == total // 2:
            values = {
                "val_query_accuracy_pre": 0.2,
                "val_query_accuracy_post": 0.6,
                "val_ci95": 0.05,
            }
            printer(ev.TrainerEvent(ev.EVALUATION, i, total, 0.1 * i, values))
    printer(ev.TrainerEvent(ev.FINISHED, total, total, 0.1 * total, {}))


def test_progress_on_a_terminal_is_a_bar_with_rate_and_eta() -> None:
    stream = FakeTerminal()
    _feed(ProgressPrinter(stream), start=10)  # resumed at 10: the bar starts there
    text = stream.getvalue()
    final_bar = text.split("\r")[-1].splitlines()[0]
    assert "40/40" in final_bar and "it/s" in final_bar and "loss 0.0250 acc  50.0%" in final_bar
    assert "10/40" in text  # started part way
    assert "60.0% ± 5.0% after adaptation" in text
    assert text.rstrip().endswith("finished after 40 iterations (0:04)")
    assert text.startswith("training on cpu\n")


def test_progress_in_a_log_is_plain_lines_and_quiet_keeps_only_the_ending() -> None:
    log = io.StringIO()
    _feed(ProgressPrinter(log))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    assert lines[0] == "training on cpu"
    assert lines[1].startswith("      1/40 [") and "loss 1.0000 acc  50.0%" in lines[1]
    assert any(line.startswith("     40/40 [########################]") for line in lines)
    assert lines[-1] == "finished after 40 iterations (0:04)"
    quiet = io.StringIO()
    _feed(ProgressPrinter(quiet, quiet=True))
    assert quiet.getvalue() == "finished after 40 iterations (0:04)\n"


def test_episode_bar_is_silent_unless_enabled(capsys) -> None:
    with EpisodeBar(enabled=False) as bar:
        for done in range(1, 11):
            bar(done, 10)
    assert capsys.readouterr().err == ""
    with EpisodeBar(enabled=True) as bar:
        for done in range(1, 11):
            bar(done, 10)
    err = capsys.readouterr().err
    assert "evaluating" in err and "10/10" in err and err.endswith("\n")


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
