"""The Runs view's Export menu: curves as CSV, a comparison table as Markdown or CSV (or on the
clipboard), TensorBoard event files when the package is installed.

The files are written by `workbench.engine.run_export` in a background task (a long run's log
can be tens of megabytes); where to write is asked through `runs_dialogs`, which tests replace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu, QStyle, QToolButton, QWidget

from workbench.engine import run_export
from workbench.errors import WorkbenchError
from workbench.gui.runs import dialogs as runs_dialogs
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

INSTALL_HINT = "TensorBoard export needs the tensorboard package (pip install tensorboard)"


class RunsExporter(QObject):
    """Export actions over the runs ``selected()`` returns; ``message(text)`` on success,
    ``error(message, details)`` otherwise. ``button`` is the toolbar's Export menu button."""

    message = Signal(str)
    error = Signal(str, str)

    def __init__(
        self,
        widget: QWidget,
        settings: QSettings,
        runs_dir: Callable[[], Path],
        selected: Callable[[], list[str]],
    ) -> None:
        super().__init__(widget)
        self._widget, self._settings = widget, settings
        self._runs_dir, self._selected = runs_dir, selected
        self.task = BackgroundTask(self)
        self.task.finished.connect(self._on_written)
        self.task.failed.connect(self.error)

        def action(text: str, slot: Callable[[], None], tip: str) -> QAction:
            a = QAction(text, widget)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.curves_action = action(
            "Curves as CSV…",
            self.export_curves,
            "Every logged iteration and validation of the selected runs, one row each",
        )
        self.markdown_action = action(
            "Comparison table as Markdown…",
            lambda: self.export_comparison("md"),
            "Key hyperparameters, those that differ, and the results with their protocols",
        )
        self.csv_action = action(
            "Comparison table as CSV…",
            lambda: self.export_comparison("csv"),
            "The comparison with numbers at full precision",
        )
        self.copy_action = action(
            "Copy comparison as Markdown",
            self.copy_comparison,
            "Put the Markdown comparison table on the clipboard",
        )
        self.tensorboard_action = action(
            "TensorBoard event files…",
            self.export_tensorboard,
            "Write the selected runs' scalars for TensorBoard",
        )
        self.menu = QMenu("Export", widget)
        for a in (self.curves_action, self.markdown_action, self.csv_action, self.copy_action):
            self.menu.addAction(a)
        self.menu.addSeparator()
        self.menu.addAction(self.tensorboard_action)
        self.button = QToolButton()
        self.button.setText("Export")
        self.button.setIcon(widget.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        self.button.setToolTip("Export the selected runs: curves, comparison tables, TensorBoard")
        self.button.setMenu(self.menu)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

    def set_enabled(self, enabled: bool) -> None:
        self.button.setEnabled(enabled)
        self.menu.setEnabled(enabled)
        available = run_export.tensorboard_available()
        self.tensorboard_action.setEnabled(enabled and available)
        self.tensorboard_action.setText(
            "TensorBoard event files…"
            if available
            else "TensorBoard event files (pip install tensorboard)"
        )

    # -- the exports ---------------------------------------------------------------------------
    def _default(self, filename: str) -> Path:
        start = self._settings.value("runs/export_dir", "")
        return Path(str(start) or self._runs_dir()) / filename

    def _ask(self, title: str, filename: str, filters: str) -> Path | None:
        out = runs_dialogs.ask_save_path(self._widget, title, self._default(filename), filters)
        if out is not None:
            self._settings.setValue("runs/export_dir", str(out.parent))
        return out

    @Slot()
    def export_curves(self) -> None:
        paths = self._selected()
        out = self._ask("Export curves", "curves.csv", "CSV table (*.csv)") if paths else None
        if out is not None:
            self.task.start(
                lambda state: ("Curves", run_export.export_curves(paths, out), len(paths))
            )

    def export_comparison(self, fmt: str) -> None:
        paths = self._selected()
        suffix, filters = (
            (".md", "Markdown (*.md)") if fmt == "md" else (".csv", "CSV table (*.csv)")
        )
        out = (
            self._ask("Export comparison table", f"runs-comparison{suffix}", filters)
            if paths
            else None
        )
        if out is None:
            return

        def work(state: TaskState) -> Any:
            comparison = run_export.compare_runs(paths)
            text = (
                run_export.comparison_markdown(comparison)
                if fmt == "md"
                else run_export.comparison_csv(comparison)
            )
            return "Comparison table", run_export.write_text(out, text), len(paths)

        self.task.start(work)

    @Slot()
    def copy_comparison(self) -> None:
        paths = self._selected()
        if not paths:
            return
        try:
            text = run_export.comparison_markdown(run_export.compare_runs(paths))
        except WorkbenchError as exc:
            self.error.emit(str(exc), "")
            return
        QGuiApplication.clipboard().setText(text)
        self.message.emit(f"Copied a comparison of {len(paths)} runs as Markdown")

    @Slot()
    def export_tensorboard(self) -> None:
        paths = self._selected()
        if not paths:
            return
        if not run_export.tensorboard_available():
            self.error.emit(INSTALL_HINT, "")
            return
        out = runs_dialogs.ask_directory(
            self._widget, "Folder for TensorBoard logs", self._default("tensorboard")
        )
        if out is None:
            return

        def work(state: TaskState) -> Any:
            for path in paths:
                run_export.export_tensorboard(path, out)
            return "TensorBoard logs", out, len(paths)

        self.task.start(work)

    @Slot(object)
    def _on_written(self, result: Any) -> None:
        what, path, count = result
        self.message.emit(f"{what} of {count} run{'s' if count != 1 else ''} written to {path}")
