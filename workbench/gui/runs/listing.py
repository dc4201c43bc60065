"""Keeping the Runs view's list current without freezing the window.

The runs folder is listed in a `BackgroundTask`, so a slow disk never blocks the GUI thread. A
`QFileSystemWatcher` on the folder and on each run folder sees runs appear, vanish and rewrite
their summary; a burst of such events within `SETTLE_MS` causes one listing. While a run is
training (its summary does not change at every iteration) the folder is re-read every
``poll_ms`` as well.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from workbench.engine.runs import RunInfo, list_runs
from workbench.gui.widgets.tasks import BackgroundTask

POLL_MS = 2000  # re-read the folder this often while a run is training
SETTLE_MS = 400  # file-system events arriving within this time cause one listing


class RunsListing(QObject):
    """Lists the folder that ``runs_dir()`` names; ``listed(runs_dir, rows)`` or
    ``failed(message, details)`` after each background listing."""

    listed = Signal(object, object)  # the folder listed (Path), its runs (list[RunInfo])
    failed = Signal(str, str)

    def __init__(
        self, runs_dir: Callable[[], Path], parent: QObject | None = None, *, poll_ms: int = POLL_MS
    ) -> None:
        super().__init__(parent)
        self._runs_dir = runs_dir
        self.task = BackgroundTask(self)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self.failed)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self.schedule)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.refresh)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(poll_ms)
        self.poll_timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        """True while a background listing is under way."""
        return self.task.running

    def refresh(self, *_args: Any) -> None:
        """List the runs folder in the background."""
        runs_dir = self._runs_dir()
        self._settle.stop()
        self.task.start(lambda state: (runs_dir, list_runs(runs_dir)))

    def list_now(self) -> tuple[Path, list[RunInfo]]:
        """List the runs folder in this thread (a background listing under way is dropped)."""
        self.task.cancel()
        runs_dir = self._runs_dir()
        return runs_dir, list_runs(runs_dir)

    @Slot()
    def schedule(self, *_args: Any) -> None:
        """Something changed: list once the changes settle."""
        if not self._settle.isActive():
            self._settle.start()

    def follow(self, runs_dir: Path, rows: list[RunInfo]) -> None:
        """Watch the folder and these runs, and poll while one of them is training."""
        wanted = {str(r.path) for r in rows}
        if Path(runs_dir).is_dir():
            wanted.add(str(runs_dir))
        current = set(self.watcher.directories())
        if current - wanted:
            self.watcher.removePaths(sorted(current - wanted))
        new = [p for p in wanted - current if Path(p).is_dir()]
        if new:
            self.watcher.addPaths(sorted(new))
        if any(r.status == "running" for r in rows):
            if not self.poll_timer.isActive():
                self.poll_timer.start()
        else:
            self.poll_timer.stop()

    def stop(self) -> None:
        """No more listings (the window is closing); `wait` joins one under way."""
        self._settle.stop()
        self.poll_timer.stop()
        self.task.cancel()

    def wait(self, msecs: int) -> bool:
        return self.task.wait(msecs)

    @Slot()
    def _poll(self) -> None:
        if not self.task.running:
            self.refresh()

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        runs_dir, rows = result
        self.listed.emit(runs_dir, rows)
