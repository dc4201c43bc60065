"""BackgroundTask: results, errors and cancellation arrive as signals; finished jobs leave
nothing behind (an overnight session runs thousands of them)."""

from __future__ import annotations

import gc

from workbench.errors import DatasetError
from workbench.gui.widgets.tasks import BackgroundTask, TaskState, _Emitter


def test_result_error_and_progress_arrive_as_signals(qtbot) -> None:
    task = BackgroundTask()
    seen = []
    task.progress.connect(lambda d, t, text: seen.append((d, t, text)))

    def work(state: TaskState) -> int:
        state.progress(1, 2, "half")
        return 42

    with qtbot.waitSignal(task.finished, timeout=10_000) as done:
        task.start(work)
    assert done.args == [42] and not task.running
    assert seen == [(1, 2, "half")]

    def broken(state: TaskState) -> None:
        raise DatasetError("folder /x is empty", "/x")

    with qtbot.waitSignal(task.failed, timeout=10_000) as failed:
        task.start(broken)
    message, details = failed.args
    assert message == "folder /x is empty" and "Traceback" in details
    assert task.wait()


def test_finished_jobs_leave_no_objects_behind(qtbot) -> None:
    task = BackgroundTask()
    for _ in range(60):
        with qtbot.waitSignal(task.finished, timeout=10_000):
            task.start(lambda state: bytearray(100_000))
    assert task.wait()
    qtbot.wait(50)  # the queued signal deliveries of the last job
    gc.collect()
    alive = [o for o in gc.get_objects() if type(o) in (TaskState, _Emitter)]
    assert alive == []
