"""What can be done to the selected runs: one `QAction` and one slot per action.

The same actions fill the toolbar and the table's context menu, and their shortcuts work while
the table has the focus. Each is enabled only when it applies to the selection (one run for
Clone, Resume, Evaluate, Rename, Open folder; no running run for Delete; and so on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMenu, QStyle, QToolBar, QWidget

from workbench.engine.runs import RunInfo, delete_run
from workbench.errors import WorkbenchError
from workbench.gui.runs import dialogs as runs_dialogs
from workbench.gui.runs.model import NAME

if TYPE_CHECKING:
    from workbench.gui.runs.view import RunsView

SP = QStyle.StandardPixmap


class RunActions(QObject):
    """The actions of ``view`` (the Runs view: its selection, table, messages and evaluation)."""

    def __init__(self, view: RunsView) -> None:
        super().__init__(view)
        self._view = view
        self.overlay = self._action(
            "Overlay curves",
            self.overlay_selected,
            "Draw the selected runs' curves together in the Training view",
            SP.SP_FileDialogContentsView,
        )
        self.clone = self._action(
            "Clone",
            self.clone_selected,
            "Open this run's config in the Experiment form, to train a variant",
            SP.SP_FileDialogNewFolder,
            (Qt.Key.Key_Return, Qt.Key.Key_Enter),
        )
        self.resume = self._action(
            "Resume",
            self.resume_selected,
            "Continue a stopped or interrupted run from its last checkpoint",
            SP.SP_MediaPlay,
        )
        self.evaluate = self._action(
            "Evaluate",
            self.evaluate_selected,
            "Test the run with the standard protocol (its "
            "eval settings: episodes, inner steps, split); the result is stored with the run",
            SP.SP_DialogApplyButton,
        )
        self.rename = self._action(
            "Rename", self.rename_selected, "Rename the run", SP.SP_FileLinkIcon, (Qt.Key.Key_F2,)
        )
        self.delete = self._action(
            "Delete",
            self.delete_selected,
            "Delete the selected runs (asks first)",
            SP.SP_TrashIcon,
            (QKeySequence.StandardKey.Delete,),
        )
        self.folder = self._action(
            "Open folder",
            self.open_selected_folder,
            "Open the run's folder in the file manager",
            SP.SP_DirOpenIcon,
        )
        self.refresh = self._action(
            "Refresh", view.refresh, "Read the runs folder again", None, (Qt.Key.Key_F5,)
        )
        self.refresh.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _action(
        self,
        text: str,
        slot: Any,
        tip: str,
        icon: QStyle.StandardPixmap | None = None,
        shortcuts: tuple = (),
    ) -> QAction:
        """An action whose shortcuts work while the table has the focus (not while its name
        editor or the filter field has it: there Delete and Enter mean what they always do)."""
        action = QAction(text, self._view)
        if icon is not None:
            action.setIcon(self._view.style().standardIcon(icon))
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            key = QKeySequence(shortcuts[0]).toString(QKeySequence.SequenceFormat.NativeText)
            tip = f"{tip} ({key})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _groups(self) -> tuple[QAction | None, ...]:
        """The actions in menu order; None separates groups."""
        return (
            self.overlay,
            self.clone,
            self.resume,
            self.evaluate,
            None,
            self.rename,
            self.delete,
            self.folder,
            None,
        )

    def toolbar(self, extra: QWidget) -> QToolBar:
        """A toolbar with every action, then ``extra`` (the Export button)."""
        toolbar = QToolBar()
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for action in self._groups():
            if action is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(action)
        toolbar.addWidget(extra)
        return toolbar

    def context_menu(self, pos: QPoint, extra: QMenu) -> None:
        """The table's context menu at ``pos`` (viewport coordinates), then ``extra``."""
        table = self._view.table
        if not table.indexAt(pos).isValid():
            return
        menu = QMenu(self._view)
        for action in self._groups():
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        menu.addMenu(extra)
        menu.exec(table.viewport().mapToGlobal(pos))

    # -- what applies ---------------------------------------------------------------------------
    def can_evaluate(self, info: RunInfo) -> bool:
        return (
            not self._view.evaluation.running
            and info.status != "running"
            and info.config is not None
            and (info.has_checkpoint or (info.path / "checkpoints" / "best.pt").exists())
        )

    def can_delete(self, info: RunInfo) -> bool:
        return info.status != "running" and info.path != self._view.evaluation.path

    def update(self) -> None:
        """Enable the actions that apply to the selection."""
        infos = self._view.selected_infos()
        one = infos[0] if len(infos) == 1 else None
        self.overlay.setEnabled(bool(infos))
        self.clone.setEnabled(one is not None and one.config is not None)
        self.resume.setEnabled(one is not None and one.resumable)
        self.evaluate.setEnabled(one is not None and self.can_evaluate(one))
        self.rename.setEnabled(one is not None)
        self.delete.setEnabled(bool(infos) and all(self.can_delete(i) for i in infos))
        self.folder.setEnabled(one is not None)
        self._view.exporter.set_enabled(bool(infos))

    # -- the actions ----------------------------------------------------------------------------
    def _single(self) -> RunInfo | None:
        infos = self._view.selected_infos()
        return infos[0] if len(infos) == 1 else None

    @Slot()
    def overlay_selected(self) -> None:
        paths = self._view.selected_paths()
        if paths:
            self._view.context.overlayRuns.emit(paths)
            self._view.context.showView.emit("training")

    @Slot()
    def clone_selected(self) -> None:
        info = self._single()
        if info is None:
            return
        if info.config is None:
            self._view.show_error(f"cannot clone {info.name}: its config.toml is unreadable")
            return
        self._view.context.cloneConfig.emit(info.config.copy())
        self._view.context.statusMessage.emit(
            f"Loaded the config of {info.name} into the Experiment form"
        )

    @Slot()
    def resume_selected(self) -> None:
        info = self._single()
        if info is not None and info.resumable:
            self._view.context.resumeRun.emit(str(info.path))

    @Slot()
    def evaluate_selected(self) -> None:
        info = self._single()
        if info is not None and self.can_evaluate(info):
            self._view.message.clear()
            self._view.evaluation.start(info)

    @Slot()
    def rename_selected(self) -> None:
        table = self._view.table
        rows = table.selectionModel().selectedRows(NAME)
        if len(rows) == 1:
            table.setCurrentIndex(rows[0])
            table.edit(rows[0])

    @Slot()
    def delete_selected(self) -> None:
        view = self._view
        infos = [i for i in view.selected_infos() if self.can_delete(i)]
        if not infos or not runs_dialogs.confirm_delete(view, [i.name for i in infos]):
            return
        errors = []
        for info in infos:
            try:
                delete_run(info.path)
            except WorkbenchError as exc:
                errors.append(str(exc))
        if errors:
            view.show_error("; ".join(errors))
        else:
            view.context.statusMessage.emit(f"Deleted {len(infos)} run{'s' * (len(infos) != 1)}")
        view.refresh_now()

    @Slot()
    def open_selected_folder(self) -> None:
        info = self._single()
        if info is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(info.path)))
