"""A tab that explains itself until there is something to show."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget


class PlaceholderStack(QStackedWidget):
    """Page 0: ``text`` centred (what to do to fill the tab); page 1: the content, given here or
    added with ``addWidget``. `show_content` turns the page once there is a result."""

    def __init__(
        self, text: str, content: QWidget | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.placeholder = QLabel(text)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setMargin(60)
        self.addWidget(self.placeholder)
        if content is not None:
            self.addWidget(content)

    def show_content(self) -> None:
        self.setCurrentIndex(1)


__all__ = ["PlaceholderStack"]
