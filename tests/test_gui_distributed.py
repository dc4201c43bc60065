"""Several processes from the window: the session starts torchrun, follows rank 0's metrics log
into the same signals as one process, and Stop reaches every rank; the device picker lists the
CPU and each GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.config import parse_overrides
from workbench.engine import events as ev
from workbench.engine.distributed.devices import list_devices
from workbench.gui.training.launch_worker import LaunchWorker
from workbench.gui.training.worker import TrainingSession
from workbench.gui.widgets.field_editors import DeviceEditor
from workbench.presets import load_preset

WAIT = 300_000
SIN = [
    "train.iterations=40",
    "train.eval_every=20",
    "train.val_episodes=4",
    "train.meta_batch_size=4",
    "train.checkpoint_every=20",
    "train.device=cpu",
    "train.processes=2",
]


def test_device_picker_lists_cpu_and_gpus(qtbot):
    editor = DeviceEditor()
    qtbot.addWidget(editor)
    values = [editor.itemData(i) for i in range(editor.count())]
    assert values[:2] == ["auto", "cpu"]
    assert values[1 : 1 + len(list_devices())] == [d.value for d in list_devices()]
    assert "CPU" in editor.itemText(1)
    editor.set_value("cpu")
    assert editor.value() == "cpu"
    editor.set_value("cuda:3")  # not on this machine: shown, so validation can say why
    assert editor.value() == "cuda:3"


def test_two_processes_from_the_window(qtbot, tmp_path):
    session = TrainingSession()
    events: list[ev.TrainerEvent] = []
    ready = []
    session.event.connect(events.append)
    session.ready.connect(lambda *args: ready.append(args))
    config = parse_overrides(SIN, load_preset("sinusoid-maml"))
    with qtbot.waitSignal(session.finished, timeout=WAIT) as finished:
        session.start(config, tmp_path / "runs")
        assert isinstance(session._worker, LaunchWorker)
    run_dir, status = finished.args
    assert status == ev.FINISHED, session.last_error
    assert ready and ready[0][1] == run_dir and "2 x gloo" in ready[0][2]
    iterations = [e.iteration for e in events if e.kind == ev.ITERATION]
    assert iterations == list(range(1, 41))  # every iteration rank 0 logged, once, in order
    assert sum(e.kind == ev.EVALUATION for e in events) == 2
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["iteration"] == 40


def test_bad_launch_is_a_message_before_any_process(qtbot, tmp_path):
    session = TrainingSession()
    config = parse_overrides(SIN + ["train.meta_batch_size=3"], load_preset("sinusoid-maml"))
    with qtbot.waitSignal(session.finished, timeout=60_000) as finished:
        session.start(config, tmp_path / "runs")
    assert finished.args[1] == ev.FAILED
    assert session.last_error is not None and "meta" in session.last_error[0].lower()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("processes", [1])
def test_one_process_keeps_the_thread_worker(qtbot, tmp_path, processes):
    session = TrainingSession()
    config = parse_overrides(
        SIN[:-1] + [f"train.processes={processes}"], load_preset("sinusoid-maml")
    )
    with qtbot.waitSignal(session.finished, timeout=WAIT):
        session.start(config, tmp_path / "runs")
        assert not isinstance(session._worker, LaunchWorker)


def test_stop_reaches_every_rank(qtbot, tmp_path):
    session = TrainingSession()
    events: list[ev.TrainerEvent] = []
    session.event.connect(events.append)
    config = parse_overrides(
        [s for s in SIN if not s.startswith("train.iterations")] + ["train.iterations=5000"],
        load_preset("sinusoid-maml"),
    )
    session.start(config, tmp_path / "runs")
    qtbot.waitUntil(lambda: any(e.kind == ev.ITERATION for e in events), timeout=WAIT)
    with qtbot.waitSignal(session.finished, timeout=WAIT) as finished:
        session.stop()
    run_dir, status = finished.args
    assert status == ev.STOPPED
    summary = json.loads((Path(run_dir) / "summary.json").read_text())
    assert summary["status"] == "stopped" and 0 < summary["iteration"] < 5000
