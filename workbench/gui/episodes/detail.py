"""A side panel showing one image large, with where it came from (file path or generator index).

Clicking a thumbnail in the episode browser (or the adaptation viewer) fills this panel instead
of opening a dialog per click; the source text is selectable so a path can be copied.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.theme import LIGHT, Theme
from workbench.gui.widgets.image_grid import scaled_pixmap

PANEL_WIDTH = 236
IMAGE_SIDE = 196  # 7 x 28: glyphs and Omniglot characters stay crisp


class ImageDetailPanel(QFrame):
    """Large image, a title, detail lines and the source; ``closed`` when the user hides it."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageDetailPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(PANEL_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

        self.title = QLabel()
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide the image panel (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide_panel)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(IMAGE_SIDE + 8, IMAGE_SIDE + 8)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.source_heading = QLabel("Source")
        self.source_heading.setFont(font)
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.source.setTextFormat(Qt.TextFormat.PlainText)
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.addLayout(head)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.details)
        layout.addWidget(self.source_heading)
        layout.addWidget(self.source)
        layout.addStretch(1)
        self._image: QImage | None = None
        self.apply_theme(LIGHT)

    def show_image(self, image: QImage, title: str, details: str, source: str) -> None:
        """Fill the panel and show it."""
        self._image = image
        self.picture.setPixmap(scaled_pixmap(image, IMAGE_SIDE))
        self.title.setText(title)
        self.details.setText(details)
        self.source.setText(source or "(unknown)")
        self.source.setToolTip(source)
        self.show()

    def image(self) -> QImage | None:
        return self._image

    def hide_panel(self) -> None:
        self.hide()
        self.closed.emit()

    def apply_theme(self, theme: Theme) -> None:
        self.setStyleSheet(
            f"#imageDetailPanel {{ background: {theme.background}; border: 1px solid {theme.muted}; "
            f"border-radius: 4px; }}"
        )
        self.picture.setStyleSheet(f"background: {theme.surface}; border: 1px solid {theme.muted};")
        self.details.setStyleSheet(f"color: {theme.foreground};")
        self.source.setStyleSheet(f"color: {theme.muted};")


__all__ = ["ImageDetailPanel"]
