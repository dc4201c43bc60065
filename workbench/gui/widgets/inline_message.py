"""An inline message strip: a loader's error shown where the user is looking, not in a dialog.

One message at a time replaces the last, so a broken dataset cannot cause a storm of pop-ups.
Unexpected errors keep their traceback behind a "Details" toggle.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.theme import LIGHT, Theme


class InlineMessage(QFrame):
    """A coloured strip with a message; `show_error`, `show_info`, `clear`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inlineMessage")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.toggle = QToolButton()
        self.toggle.setText("Details")
        self.toggle.setCheckable(True)
        self.toggle.toggled.connect(self._toggle_details)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.details.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(self.label, 1)
        row.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addLayout(row)
        layout.addWidget(self.details)
        self._kind = "error"
        self._theme = LIGHT
        self.clear()

    def show_error(self, text: str, details: str = "") -> None:
        self._show("error", text, details)

    def show_info(self, text: str) -> None:
        self._show("info", text, "")

    def _show(self, kind: str, text: str, details: str) -> None:
        self._kind = kind
        self.label.setText(text)
        self.details.setPlainText(details)
        self.toggle.setVisible(bool(details))
        self.toggle.setChecked(False)
        self._restyle()
        self.setVisible(True)

    def clear(self) -> None:
        self.label.setText("")
        self.details.setPlainText("")
        self.toggle.setChecked(False)
        self.setVisible(False)

    def text(self) -> str:
        """The message shown, or "" when the strip is hidden."""
        return "" if self.isHidden() else self.label.text()

    @property
    def kind(self) -> str:
        return self._kind

    def _toggle_details(self, on: bool) -> None:
        self.details.setVisible(on)

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self._restyle()

    def _restyle(self) -> None:
        theme = self._theme
        accent = QColor(theme.bad if self._kind == "error" else theme.curve_colors[0])
        tint = QColor(accent)
        tint.setAlpha(34)
        rgba = f"rgba({tint.red()}, {tint.green()}, {tint.blue()}, {tint.alpha()})"
        self.setStyleSheet(
            f"#inlineMessage {{ background: {rgba}; border: 1px solid {accent.name()}; "
            f"border-left: 4px solid {accent.name()}; border-radius: 3px; }}"
        )
        self.label.setStyleSheet(f"color: {theme.foreground};")


__all__ = ["InlineMessage"]
