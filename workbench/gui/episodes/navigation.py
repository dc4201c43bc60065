"""The episode browser's navigation row: previous / index / next, and the two actions on the
episode shown (open it in the Adaptation view, export its picture), plus the keys that step."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QMenu, QPushButton, QSpinBox, QToolButton, QWidget

MAX_INDEX = 9_999_999


class EpisodeNavigation(QWidget):
    """Buttons and the index spin box. Signals: ``indexChanged(index)``, ``adaptRequested()``,
    ``exportRequested()`` (as shown), ``sizedExportRequested()`` (at a chosen size)."""

    indexChanged = Signal(int)
    adaptRequested = Signal()
    exportRequested = Signal()
    sizedExportRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip("Previous episode (Left or Page Up)")
        self.prev_button.clicked.connect(self.previous)
        self.index_spin = QSpinBox()
        self.index_spin.setRange(0, MAX_INDEX)
        self.index_spin.setPrefix("Episode ")
        self.index_spin.setToolTip(
            "Episode index: the same index always shows the same episode "
            "for the same settings and seed"
        )
        self.index_spin.setKeyboardTracking(False)
        self.index_spin.setMinimumWidth(130)
        self.index_spin.valueChanged.connect(self.indexChanged)
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next episode (Right or Page Down)")
        self.next_button.clicked.connect(self.next)
        self.adapt_button = QPushButton("Open in Adaptation view")
        self.adapt_button.setToolTip(
            "Adapt a model to this episode step by step in the Adaptation view"
        )
        self.adapt_button.clicked.connect(self.adaptRequested)
        self.export_button = QToolButton()
        self.export_button.setText("Export PNG…")
        self.export_button.setToolTip(
            "Save a picture of this episode (the arrow: at a chosen width and scale, for a slide)"
        )
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.export_button.clicked.connect(self.exportRequested)
        menu = QMenu(self.export_button)
        menu.addAction("As shown…", self.exportRequested.emit)
        menu.addAction("At a size, for slides…", self.sizedExportRequested.emit)
        self.export_button.setMenu(menu)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)  # the buttons' own margins separate them
        row.addWidget(self.prev_button)
        row.addWidget(self.index_spin)
        row.addWidget(self.next_button)
        row.addStretch(1)
        row.addWidget(self.adapt_button)
        row.addWidget(self.export_button)

    def index(self) -> int:
        return self.index_spin.value()

    def set_index(self, index: int) -> None:
        self.index_spin.setValue(max(0, min(MAX_INDEX, int(index))))

    def set_index_quietly(self, index: int) -> None:
        """Show ``index`` without announcing it (restoring settings, programmatic set-up)."""
        self.index_spin.blockSignals(True)
        self.index_spin.setValue(index)
        self.index_spin.blockSignals(False)

    def next(self) -> None:
        self.set_index(self.index() + 1)

    def previous(self) -> None:
        self.set_index(self.index() - 1)

    def update_enabled(self, has_episode: bool) -> None:
        self.prev_button.setEnabled(self.index() > 0)
        self.next_button.setEnabled(self.index() < MAX_INDEX)
        self.adapt_button.setEnabled(has_episode)
        self.export_button.setEnabled(has_episode)

    def install_keys(self, owner: QWidget) -> None:
        """Left/Page Up and Right/Page Down step through episodes anywhere inside ``owner``."""
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for keys, slot in (
            ((Qt.Key.Key_Left, Qt.Key.Key_PageUp), self.previous),
            ((Qt.Key.Key_Right, Qt.Key.Key_PageDown), self.next),
        ):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), owner)
                shortcut.setContext(context)
                shortcut.activated.connect(slot)


__all__ = ["MAX_INDEX", "EpisodeNavigation"]
