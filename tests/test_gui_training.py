"""Training through the window: Start, Pause/Resume, Stop, errors, closing, resuming.

Tiny configs keep it fast: the demo preset cut to 6 iterations, and sinusoid runs (milliseconds
per iteration) for the control tests. Every test waits on signals of GUI-thread objects and
ends with no training thread left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QSettings

from workbench.engine.runs import RunStore
from workbench.engine.trainer import Trainer
from workbench.gui import dialogs
from workbench.gui.main_window import MainWindow

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LONG = 180_000  # ms: generous, for a loaded machine


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(dialogs, "confirm_stop_training", lambda parent: True)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings)
    w.context.set_runs_dir(tmp_path / "runs")
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w.session.shutdown()  # never leave a thread behind, whatever the test did
    assert not w.session.running


def configure(window: MainWindow, preset: str, **values) -> None:
    window.form.select_preset(preset)
    for key, value in values.items():
        window.form.set_value(key.replace("__", "."), value)
    assert window.form.is_valid(), window.form.errors()


def summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())


def not_stepping(trainer: Trainer) -> bool:
    """No meta-step under way (the trainer holds this lock during one)."""
    if trainer._step_lock.acquire(blocking=False):
        trainer._step_lock.release()
        return True
    return False


def wait_iteration(qtbot, window: MainWindow, at_least: int) -> None:
    qtbot.waitUntil(lambda: window.status.iteration >= at_least, timeout=LONG)


def test_demo_start_plots_points_and_finishes_a_run(window: MainWindow, qtbot) -> None:
    configure(
        window,
        "demo",
        train__iterations=6,
        train__eval_every=3,
        train__val_episodes=4,
        train__meta_batch_size=2,
    )
    with qtbot.waitSignal(window.context.trainingFinished, timeout=LONG) as finished:
        with qtbot.waitSignal(window.context.trainingStarted, timeout=LONG) as started:
            window.panel.start_button.click()
            assert window.session.running and not window.panel.start_button.isEnabled()
            assert not window.form.scroll.isEnabled()  # the form is read-only while training
        assert window.context.live_trainer() is not None
    run_dir, status = finished.args
    assert status == "finished" and run_dir == started.args[0]
    assert summary(run_dir)["status"] == "finished"
    assert RunStore(run_dir).has_checkpoint("last")
    view = window.training_view
    # drawn by the view's redraw timer
    qtbot.waitUntil(
        lambda: (
            (
                view.curve_points("loss"),
                view.curve_points("accuracy"),
                view.curve_points("validation"),
            )
            == (6, 6, 2)
        ),
        timeout=5000,
    )
    assert view.legend_names("validation") == [
        "query, after",
        "query, before",
        "support, after",
        "support, before",
    ]
    qtbot.waitUntil(lambda: "6 / 6" in window.status.iteration_label.text(), timeout=5000)
    assert "Validation @ 6" in view.log.toPlainText()
    assert window.context.live_trainer() is None
    assert window.panel.start_button.isEnabled() and window.form.scroll.isEnabled()
    assert window.status.device_label.text() == "Device: cpu"


def test_pause_resume_and_stop(window: MainWindow, qtbot) -> None:
    configure(
        window,
        "sinusoid-maml",
        train__iterations=1_000_000,
        train__eval_every=0,
        train__meta_batch_size=2,
        train__checkpoint_every=1_000_000,
    )
    window.training_control.start_training()
    wait_iteration(qtbot, window, 3)
    thread = window.session._thread
    trainer = window.context.live_trainer()
    window.panel.pause_button.click()
    assert window.session.paused and window.panel.pause_button.text() == "Resume"
    # the meta-step under way when Pause was pressed still ends: wait until none is running
    qtbot.waitUntil(lambda: not_stepping(trainer), timeout=LONG)
    qtbot.wait(300)
    frozen = trainer.iteration
    qtbot.wait(1000)
    assert trainer.iteration == frozen, "iterations advanced while paused"
    assert window.status.iteration == frozen
    assert window.status.rate_label.text() == "paused"
    window.panel.pause_button.click()
    assert not window.session.paused
    wait_iteration(qtbot, window, frozen + 3)
    start = time.monotonic()
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as finished:
        window.panel.stop_button.click()
    stop_seconds = time.monotonic() - start
    run_dir, status = finished.args
    assert status == "stopped"
    assert stop_seconds < 5.0, f"Stop took {stop_seconds:.2f} s"
    assert not window.session.running and window.session._thread is None
    assert not shiboken6.isValid(thread) or thread.isFinished()
    assert summary(run_dir)["status"] == "stopped"
    state = RunStore(run_dir).load_checkpoint("last")
    assert state["iteration"] == summary(run_dir)["iteration"] >= frozen + 3
    assert window.panel.start_button.isEnabled()


def test_space_starts_and_pauses_outside_the_form(window: MainWindow, qtbot) -> None:
    configure(
        window,
        "sinusoid-maml",
        train__iterations=1_000_000,
        train__eval_every=0,
        train__meta_batch_size=2,
    )
    window.training_view.plots["loss"].setFocus()
    window.training_control.on_space()
    assert window.session.running
    wait_iteration(qtbot, window, 1)
    window.training_control.on_space()
    assert window.session.paused
    with qtbot.waitSignal(window.session.finished, timeout=LONG):
        window.training_control.stop_action.trigger()  # Ctrl+. / Esc


def test_error_while_creating_the_trainer_shows_dialog(
    window: MainWindow, qtbot, tmp_path, monkeypatch
) -> None:
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda *args: shown.append(args))
    configure(window, "demo", data__dataset="folder", data__path=str(tmp_path / "missing"))
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as finished:
        window.training_control.start_training()
    assert finished.args == ["", "failed"]
    assert len(shown) == 1
    _parent, title, message, details = shown[0]
    assert title == "Training could not start"
    assert "does not exist" in message and "missing" in message
    assert "Traceback" in details
    # the window stays usable
    assert window.panel.start_button.isEnabled() and window.form.scroll.isEnabled()
    assert window.statusBar().currentMessage() == "Training could not start"
    configure(window, "sinusoid-maml", train__iterations=3, train__eval_every=0)
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as again:
        window.training_control.start_training()
    assert again.args[1] == "finished"


def test_failure_during_training_shows_message_and_details(
    window: MainWindow, qtbot, monkeypatch
) -> None:
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda *args: shown.append(args))
    original = Trainer.meta_lr

    def broken(self, iteration):
        if iteration >= 2:
            raise ValueError("the learning-rate schedule broke")
        return original(self, iteration)

    monkeypatch.setattr(Trainer, "meta_lr", broken)
    configure(window, "sinusoid-maml", train__iterations=50, train__eval_every=0)
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as finished:
        window.training_control.start_training()
    run_dir, status = finished.args
    assert status == "failed" and run_dir
    ((_parent, title, message, details),) = shown
    assert title == "Training failed"
    assert "the learning-rate schedule broke" in message
    assert "Traceback" in details and "broken" in details
    assert summary(run_dir)["status"] == "failed"
    assert "Failed:" in window.training_view.log.toPlainText()
    assert window.panel.start_button.isEnabled() and not window.session.running


def test_closing_during_training_asks_then_stops_and_joins(
    window: MainWindow, qtbot, monkeypatch
) -> None:
    answers = [False, True]
    asked = []

    def confirm(parent):
        asked.append(parent)
        return answers.pop(0)

    monkeypatch.setattr(dialogs, "confirm_stop_training", confirm)
    configure(
        window,
        "sinusoid-maml",
        train__iterations=1_000_000,
        train__eval_every=0,
        train__checkpoint_every=1_000_000,
    )
    with qtbot.waitSignal(window.context.trainingStarted, timeout=LONG) as started:
        window.training_control.start_training()
    wait_iteration(qtbot, window, 2)
    assert not window.close()  # "No": the window stays, training goes on
    assert window.isVisible() and window.session.running
    assert window.close()  # "Yes": stop, checkpoint, join
    assert len(asked) == 2
    assert not window.session.running
    run_dir = started.args[0]
    assert summary(run_dir)["status"] == "stopped"
    saved = RunStore(run_dir).load_checkpoint("last")["iteration"]
    assert saved >= 2
    # the checkpoint written on closing resumes: from where it stopped, to a few more
    trainer = Trainer.resume(run_dir)
    assert trainer.iteration == saved
    trainer.config.train.iterations = saved + 3
    assert trainer.run() == "finished"
    assert RunStore(run_dir).load_checkpoint("last")["iteration"] == saved + 3


def test_out_of_memory_says_what_to_change_and_the_window_stays_usable(
    window: MainWindow, qtbot, monkeypatch
) -> None:
    import torch

    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda *args: shown.append(args))
    original = Trainer.meta_lr

    def out_of_memory(self, iteration):
        if iteration >= 6:  # simulated: the error PyTorch raises when CUDA memory runs out
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, iteration)

    monkeypatch.setattr(Trainer, "meta_lr", out_of_memory)
    configure(
        window,
        "sinusoid-maml",
        train__iterations=50,
        train__eval_every=0,
        train__checkpoint_every=2,
    )
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as finished:
        window.training_control.start_training()
    run_dir, status = finished.args
    assert status == "failed"
    ((_parent, title, message, _details),) = shown
    assert title == "Training failed"
    assert "out of memory" in message and "smaller meta-batch" in message
    assert "first-order" in message
    # nothing saved is lost: the last checkpoint before the failure loads
    assert RunStore(run_dir).load_checkpoint("last")["iteration"] >= 4
    # the window stays usable: the form is editable and a smaller run starts and finishes
    assert window.panel.start_button.isEnabled() and window.form.scroll.isEnabled()
    monkeypatch.setattr(Trainer, "meta_lr", original)
    window.form.set_value("train.meta_batch_size", 2)
    assert window.form.is_valid()
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as again:
        window.training_control.start_training()
    assert again.args[1] == "finished"


def test_resume_a_stopped_run_from_the_context(window: MainWindow, qtbot) -> None:
    configure(
        window,
        "sinusoid-maml",
        train__iterations=400,
        train__eval_every=100,
        train__val_episodes=2,
        train__checkpoint_every=1000,
    )
    window.training_control.start_training()
    wait_iteration(qtbot, window, 5)
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as stopped:
        window.training_control.stop_training()
    run_dir, status = stopped.args
    assert status == "stopped"
    stopped_at = summary(run_dir)["iteration"]
    assert 5 <= stopped_at < 400
    with qtbot.waitSignal(window.session.finished, timeout=LONG) as resumed:
        window.context.resumeRun.emit(run_dir)
        assert window.session.running and window.session.resumed
    assert resumed.args == [run_dir, "finished"]
    assert summary(run_dir)["iteration"] == 400
    live = window.training_view.live
    assert live is not None and live.path == run_dir
    iterations = live.it["iteration"].view().tolist()
    assert iterations == list(range(1, 401))  # the curves before the stop, then the rest
    assert live.val["iteration"].view().tolist() == [100, 200, 300, 400]
