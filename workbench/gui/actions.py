"""One way to make the window's commands, so each names its shortcuts and tip in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence


def make_action(
    parent: QObject,
    text: str,
    slot: Callable[..., object],
    shortcuts: Sequence[str | QKeySequence | QKeySequence.StandardKey] = (),
    tip: str = "",
    checkable: bool = False,
) -> QAction:
    """A command for a menu: ``slot`` runs on ``triggered`` (with the checked state when
    ``checkable``); the tip shows as tooltip and in the status bar."""
    action = QAction(text, parent)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    return action
