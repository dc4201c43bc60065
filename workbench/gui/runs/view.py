"""The Runs view: every run in the runs folder, to compare, evaluate, resume, clone or clean up.

Experiments accumulate here. The table lists each run folder with its status (running, finished,
stopped, failed, interrupted), progress, best validation result and stored test result; it can
be sorted and filtered. It stays current by itself: a `QFileSystemWatcher` sees runs appear,
vanish and change, and while a run is training a modest timer re-reads the folder. Listing
happens in a `BackgroundTask`, so a slow disk never freezes the window, and a damaged run costs
only a warning icon (with the problems in its tooltip) on its own row.

Selecting runs shows their details and curves below the table. Actions (toolbar, context menu,
shortcuts): Overlay curves in the Training view, Clone the config into the Experiment form
(Enter or double-click), Resume, Evaluate with the standard protocol (progress and Cancel),
Rename (F2), Delete (Delete, after a question), Open folder, and Export (curves CSV, comparison
table as Markdown or CSV, TensorBoard when installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.runs import STATUSES, RunInfo, run_info
from workbench.gui.context import GuiContext
from workbench.gui.runs import dialogs as runs_dialogs
from workbench.gui.runs.actions import RunActions
from workbench.gui.runs.details import RunDetails
from workbench.gui.runs.evaluation import EvaluationStrip
from workbench.gui.runs.exports import RunsExporter
from workbench.gui.runs.listing import POLL_MS, RunsListing
from workbench.gui.runs.model import (
    HEADERS,
    INFO_ROLE,
    NAME,
    STARTED,
    RunsFilterProxy,
    RunsTableModel,
)
from workbench.gui.runs.preview import RunsPreview
from workbench.gui.runs.selection import SelectionFollower
from workbench.gui.runs.table import RunsTable
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.view import View
from workbench.gui.widgets.inline_message import InlineMessage
from workbench.gui.widgets.tasks import BackgroundTask


class RunsView(View):
    """The runs table with its actions, details and curve preview. See the module doc.

    The parts: `RunsListing` keeps the list current, `RunActions` holds the actions,
    `SelectionFollower` shows the selected runs in `RunDetails` and `RunsPreview`.

    For tests and tools: `model`/`proxy`/`table`, `refresh()` (background) and
    `refresh_now()` (blocking), the signal ``listed(int)`` after every listing,
    `select_paths(paths)`, `selected_infos()`, one QAction per action (``overlay_action``,
    ``clone_action``, ...), ``evaluation`` (the progress strip) and ``exporter`` (the Export
    menu).
    """

    name = "runs"
    title = "Runs"
    shortcut = "Ctrl+4"
    tooltip = "Saved runs: compare, evaluate, resume, clone (Ctrl+4)"

    listed = Signal(int)  # number of runs, after each listing is shown
    evaluationDone = Signal(str, object)  # run folder, EvaluationResult (None if it failed)

    def __init__(
        self, context: GuiContext, parent: QWidget | None = None, *, poll_ms: int = POLL_MS
    ) -> None:
        super().__init__(context, parent)
        self.theme: Theme = LIGHT
        self._shown_dir: Path | None = None

        self.model = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.model.renameFailed.connect(self.show_error)
        self.evaluation = EvaluationStrip()
        self.evaluation.done.connect(self._on_evaluated)
        self.evaluation.failed.connect(self._on_evaluation_failed)
        self.evaluation.cancelled.connect(self._on_evaluation_cancelled)
        self.evaluation.runningChanged.connect(lambda _running: self.actions.update())
        self.exporter = RunsExporter(self, context.settings, context.runs_dir, self.selected_paths)
        self.exporter.message.connect(self.show_info)
        self.exporter.error.connect(self.show_error)
        self.listing = RunsListing(context.runs_dir, self, poll_ms=poll_ms)
        self.listing.listed.connect(self._apply_listing)
        self.listing.failed.connect(self._on_list_failed)
        self.poll_timer = self.listing.poll_timer

        self._build_folder_row()
        self._build_actions()
        self._build_filter_row()
        self._build_table()
        self.details = RunDetails()
        self.preview = RunsPreview()
        self.selection = SelectionFollower(self.selected_infos, self.details, self.preview, self)
        self.message = InlineMessage()
        self._lay_out()

        context.runsDirChanged.connect(self._on_runs_dir_changed)
        context.trainingStarted.connect(self.listing.schedule)
        context.trainingFinished.connect(self.listing.schedule)
        self._restore_state()
        self._update_folder_label()
        self.actions.update()
        self.apply_theme(context.theme)
        self.refresh()

    # -- building ------------------------------------------------------------------------------
    def _build_folder_row(self) -> None:
        self.folder_title = QLabel("Runs folder:")
        self.folder_label = QLabel()
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setMinimumWidth(120)
        self.change_button = QPushButton("Change…")
        self.change_button.setToolTip(
            "Choose the folder where runs are saved and listed "
            "(new training runs are saved there too)"
        )
        self.change_button.clicked.connect(self.choose_runs_dir)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip(
            "Read the runs folder again (F5); it is also watched for changes"
        )
        self.refresh_button.clicked.connect(self.refresh)
        self.folder_row = QHBoxLayout()
        self.folder_row.addWidget(self.folder_title)
        self.folder_row.addWidget(self.folder_label, 1)
        self.folder_row.addWidget(self.change_button)
        self.folder_row.addWidget(self.refresh_button)

    def _build_actions(self) -> None:
        self.actions = actions = RunActions(self)
        self.overlay_action, self.clone_action = actions.overlay, actions.clone
        self.resume_action, self.evaluate_action = actions.resume, actions.evaluate
        self.rename_action, self.delete_action = actions.rename, actions.delete
        self.folder_action, self.refresh_action = actions.folder, actions.refresh
        self.addAction(self.refresh_action)
        self.toolbar = actions.toolbar(self.exporter.button)

    def _build_filter_row(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name, algorithm, dataset…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All statuses", "")
        for status in STATUSES:
            self.status_filter.addItem(status.capitalize(), status)
        self.status_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.count_label = QLabel()
        self.filter_row = QHBoxLayout()
        self.filter_row.addWidget(self.filter_edit, 1)
        self.filter_row.addWidget(self.status_filter)
        self.filter_row.addWidget(self.count_label)

    def _build_table(self) -> None:
        table = self.table = RunsTable(self.context.settings)
        table.setModel(self.proxy)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(
            lambda pos: self.actions.context_menu(pos, self.exporter.menu)
        )
        table.doubleClicked.connect(self._on_double_click)
        table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        for action in (self.clone_action, self.rename_action, self.delete_action):
            table.addAction(action)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = QStackedWidget()
        self.stack.addWidget(table)
        self.stack.addWidget(self.empty_label)

    def _lay_out(self) -> None:
        """Folder, toolbar, filter and messages on top; the table over details and curves."""
        self.bottom = QSplitter(Qt.Orientation.Horizontal)
        self.bottom.addWidget(self.details)
        self.bottom.addWidget(self.preview)
        self.bottom.setSizes([600, 660])
        self.bottom.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.bottom)
        self.splitter.setSizes([340, 380])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(self.folder_row)
        layout.addWidget(self.toolbar)
        layout.addLayout(self.filter_row)
        layout.addWidget(self.message)
        layout.addWidget(self.evaluation)
        layout.addWidget(self.splitter, 1)

    # -- public --------------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.model.set_theme(theme)
        self.details.apply_theme(theme)
        self.preview.apply_theme(theme)
        self.message.apply_theme(theme)
        muted = f"color: {theme.muted};"
        self.count_label.setStyleSheet(muted)
        self.folder_title.setStyleSheet(muted)
        self.empty_label.setStyleSheet(
            f"color: {theme.muted}; font-size: {theme.font_point_size + 1}pt;"
        )
        self.table.apply_theme(theme)
        self.table.fit_columns()

    def refresh(self, *_args: Any) -> None:
        """List the runs folder in the background (``listed`` is emitted when shown)."""
        self.listing.refresh()

    def refresh_now(self) -> list[RunInfo]:
        """List the runs folder in this thread (tests, the screenshot tool)."""
        runs_dir, rows = self.listing.list_now()
        self._apply_listing(runs_dir, rows)
        return rows

    def prepare_screenshot(self) -> None:
        """Listed, with the two newest runs selected and their comparison and curves drawn."""
        self.refresh_now()
        if not self.model.rowCount():
            return
        if not self.table.selectionModel().hasSelection():
            count = min(2, self.proxy.rowCount())
            self.select_paths([self.proxy.index(r, 0).data(INFO_ROLE).path for r in range(count)])
        self.selection.show(sync=True)

    def select_paths(self, paths: list[str | Path]) -> None:
        """Select these runs (rows hidden by the filter stay unselected)."""
        wanted = {Path(p) for p in paths}
        selection = self.table.selectionModel()
        selection.clearSelection()
        first = None
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(INFO_ROLE).path in wanted:
                selection.select(
                    index,
                    QItemSelectionModel.SelectionFlag.Select
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
                first = first or index
        if first is not None:
            selection.setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.table.scrollTo(first)

    def selected_infos(self) -> list[RunInfo]:
        """Selected runs, in the order shown."""
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [i.data(INFO_ROLE) for i in rows]

    def selected_paths(self) -> list[str]:
        return [str(i.path) for i in self.selected_infos()]

    def rename_run(self, path: str | Path, name: str) -> bool:
        """Rename without the editor (tests, scripts); errors appear in the view."""
        row = self.model.row_of(path)
        return row >= 0 and self.model.setData(self.model.index(row, NAME), name)

    @Slot()
    def choose_runs_dir(self) -> None:
        path = runs_dialogs.ask_directory(self, "Choose the runs folder", self.context.runs_dir())
        if path is not None:
            self.context.set_runs_dir(path)

    @Slot(str)
    def show_info(self, message: str) -> None:
        self.message.show_info(message)
        self.context.statusMessage.emit(message)

    @Slot(str, str)
    def show_error(self, message: str, details: str = "") -> None:
        self.message.show_error(message[:1].upper() + message[1:], details)

    def is_busy(self) -> bool:
        return any(task.running for task in self._tasks())

    def wait_for_tasks(self, msecs: int = 60000) -> bool:
        """Block until background jobs end (tests, closing the window)."""
        return self.listing.wait(msecs)

    def save_state(self) -> None:
        self.context.settings.setValue("runs/splitter", self.splitter.saveState())

    def shutdown(self) -> None:
        """Closing the window: stop timers, cancel an evaluation (nothing is stored), and wait
        for background jobs so no thread outlives the window."""
        self.listing.stop()
        self.selection.stop()
        for task in self._tasks():
            task.cancel()
        self.save_state()
        self.wait_for_tasks(30000)

    def _tasks(self) -> tuple[BackgroundTask, ...]:
        return (self.evaluation.task, self.listing.task, self.selection.task, self.exporter.task)

    # -- listing -------------------------------------------------------------------------------
    @Slot(str, str)
    def _on_list_failed(self, message: str, details: str) -> None:
        self.show_error(f"cannot list the runs: {message}", details)

    def _apply_listing(self, runs_dir: Path, rows: list[RunInfo]) -> None:
        if Path(runs_dir) != self.context.runs_dir():
            return  # the folder changed while listing: a new listing is on its way
        if self._shown_dir != Path(runs_dir):
            self.model.set_rows([])
            self._shown_dir = Path(runs_dir)
        before = {str(i.path): i for i in self.model.infos()}
        self.model.set_rows(rows)
        self.listing.follow(runs_dir, rows)
        self._update_empty_state(runs_dir)
        self._update_count()
        self.table.fit_columns()
        self.actions.update()
        now = {str(i.path): i for i in self.model.infos()}
        if any(before.get(p) != now.get(p) for p in self.selected_paths()):
            self.selection.show()
        self.listed.emit(len(rows))

    @Slot(str)
    def _on_runs_dir_changed(self, _path: str) -> None:
        self._update_folder_label()
        self.model.set_rows([])
        self._shown_dir = None
        self.selection.show()
        self.refresh()

    def _update_folder_label(self) -> None:
        path = str(self.context.runs_dir())
        self.folder_label.setText(path)
        self.folder_label.setToolTip(
            f"{path}\nRuns started from the Experiment panel are saved "
            "here too. Change… picks another folder."
        )

    def _update_empty_state(self, runs_dir: Path) -> None:
        if self.model.rowCount():
            self.stack.setCurrentWidget(self.table)
            return
        if Path(runs_dir).is_dir():
            text = (
                f"No runs in {runs_dir} yet.\n\nStart training from the Experiment panel, "
                "or run `workbench train demo`, and the run appears here."
            )
        elif Path(runs_dir).exists():
            text = f"{runs_dir} is a file, not a folder.\n\nChange… picks the runs folder."
        else:
            text = (
                f"The runs folder {runs_dir} does not exist yet.\n\nIt is created when the "
                "first run starts; Change… picks another folder."
            )
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def _update_count(self) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        problems = sum(1 for i in self.model.infos() if i.problems)
        text = f"{total} run{'s' * (total != 1)}"
        if shown != total:
            text = f"{shown} of {text} shown"
        if problems:
            text += f" · ⚠ {problems} with problems"
        self.count_label.setText(text)

    def _on_filter_changed(self, *_args: Any) -> None:
        self.proxy.set_text(self.filter_edit.text())
        self.proxy.set_status(self.status_filter.currentData() or "")
        self._update_count()

    # -- selection -----------------------------------------------------------------------------
    def _on_selection_changed(self, *_args: Any) -> None:
        self.actions.update()
        self.selection.schedule()

    def _on_double_click(self, _index: Any) -> None:
        self.actions.clone_selected()  # like Enter (renaming is F2, so a double-click never edits)

    # -- evaluation ----------------------------------------------------------------------------
    def _refresh_row(self, path: str) -> RunInfo | None:
        if not path or not Path(path).is_dir():
            return None
        info = run_info(Path(path))
        self.model.update_row(info)
        if [path] == self.selected_paths():
            self.details.show_run(info)
        return info

    @Slot(str, object)
    def _on_evaluated(self, path: str, result: Any) -> None:
        info = self._refresh_row(path)
        name = info.name if info is not None else Path(path).name
        self.show_info(
            f"Test result of {name}: {result.headline()} on the {result.split} "
            "split — stored with the run"
        )
        self.evaluationDone.emit(path, result)

    @Slot(str, str, str)
    def _on_evaluation_failed(self, path: str, message: str, details: str) -> None:
        self.show_error(f"evaluation of {Path(path).name} failed: {message}", details)
        self.evaluationDone.emit(path, None)

    @Slot(str)
    def _on_evaluation_cancelled(self, path: str) -> None:
        self.show_info(f"Evaluation of {Path(path).name} cancelled; nothing was stored")

    # -- remembered layout ---------------------------------------------------------------------
    def _restore_state(self) -> None:
        settings = self.context.settings
        try:
            column = int(settings.value("runs/sort_column", STARTED))
            order = Qt.SortOrder(int(settings.value("runs/sort_order", 1)))
        except (TypeError, ValueError):
            column, order = STARTED, Qt.SortOrder.DescendingOrder
        column = column if 0 <= column < len(HEADERS) else STARTED
        self.table.sortByColumn(column, order)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._save_sort)
        state = settings.value("runs/splitter")
        if state:
            self.splitter.restoreState(state)

    def _save_sort(self, column: int, order: Qt.SortOrder) -> None:
        self.context.settings.setValue("runs/sort_column", column)
        self.context.settings.setValue("runs/sort_order", int(order.value))


__all__ = ["RunsView"]
