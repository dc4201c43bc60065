"""The few modal questions and messages the main window asks, in one place.

They are module-level functions looked up at call time, so tests replace them with
``monkeypatch.setattr(dialogs, "show_error", ...)`` instead of clicking through a modal box.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

import workbench
from workbench.gui import APP_NAME


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    """A readable message; a traceback, when there is one, stays behind "Show Details..."."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Warning)
    box.setWindowTitle(title)
    box.setText(title)
    box.setInformativeText(message[:1].upper() + message[1:])  # engine messages read as clauses
    if details.strip():
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.Ok)
    box.exec()


def confirm_stop_training(parent: QWidget | None) -> bool:
    """Asked when the window is closed during training: stop (saving a checkpoint) and quit?"""
    answer = QMessageBox.question(
        parent,
        "Training is running",
        "Training is still running. Stop it, save a checkpoint and quit?\n\n"
        "The run can be resumed later from the Runs view or with `workbench resume`.",
        QMessageBox.Yes | QMessageBox.No,
        QMessageBox.No,
    )
    return answer == QMessageBox.Yes


def show_about(parent: QWidget | None) -> None:
    """Version, what the workbench is for, and that the window is optional."""
    text = (
        f"<b>{APP_NAME}</b> {workbench.__version__}<br><br>"
        "Train, inspect and demonstrate few-shot meta-learning: MAML and its relatives, "
        "Prototypical Networks, Reptile and a fine-tuning baseline, on embedded glyphs, "
        "sinusoids, Omniglot, mini-ImageNet or your own folders.<br><br>"
        "The same engine runs without the window: <code>workbench train demo</code>.<br>"
        "License: MIT."
    )
    QMessageBox.about(parent, f"About {APP_NAME}", text)
