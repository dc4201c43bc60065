"""The details and curves under the runs table follow the selection.

They follow after a short pause (`SELECTION_MS`: moving through the table with the arrow keys
does not read every run on the way), and the comparison and curves are read off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot

from workbench.engine import run_export
from workbench.engine.runs import RunInfo
from workbench.gui.runs.details import RunDetails
from workbench.gui.runs.preview import RunsPreview, load_preview
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

SELECTION_MS = 120  # details and curves follow the selection after this pause


class SelectionFollower(QObject):
    """Shows the runs that ``selected()`` returns in ``details`` and ``preview``."""

    def __init__(
        self,
        selected: Callable[[], list[RunInfo]],
        details: RunDetails,
        preview: RunsPreview,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._selected = selected
        self._details = details
        self._preview = preview
        self.task = BackgroundTask(self)
        self.task.finished.connect(self._on_loaded)
        self.task.failed.connect(self._on_failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SELECTION_MS)
        self._timer.timeout.connect(self.show)

    def schedule(self) -> None:
        """The selection changed: show it once it rests."""
        self._timer.start()

    def show(self, sync: bool = False) -> None:
        """Show the selection now; ``sync`` reads the comparison and curves in this thread."""
        self._timer.stop()
        infos = self._selected()
        if not infos:
            self._details.show_hint()
            self._preview.set_curves([])
            return
        if len(infos) == 1:
            self._details.show_run(infos[0])
        paths = [str(i.path) for i in infos]
        names = [i.name for i in infos]

        def work(state: TaskState | None) -> Any:
            comparison = run_export.compare_runs(paths) if len(paths) > 1 else None
            return paths, comparison, load_preview(paths, names)

        if sync:
            self._on_loaded(work(None))
        else:
            self.task.start(work)

    def stop(self) -> None:
        self._timer.stop()
        self.task.cancel()

    @Slot(object)
    def _on_loaded(self, result: Any) -> None:
        paths, comparison, curves = result
        if paths != [str(i.path) for i in self._selected()]:
            return  # the selection moved on
        if comparison is not None:
            self._details.show_comparison(comparison)
        self._preview.set_curves(curves)

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self._preview.set_curves([])
        self._details.show_hint(f"Cannot read the selected runs: {message}")
