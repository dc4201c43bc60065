"""The dock that holds the Experiment panel, and narrows it to a strip where it is not needed.

At 1280x800 three columns (the Experiment panel, a view's own settings, its plots) leave the
plots a third of the width. Views that do not edit the experiment (Episodes, Adaptation, Runs)
therefore get the panel as a narrow strip; one click on the strip, or Ctrl+Shift+E, opens it
again, and that choice is remembered: a user who keeps the panel open keeps it open on every
view until they narrow it again (the « button, or the same shortcut).
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QStackedWidget,
    QToolButton,
    QWidget,
)

from workbench.gui.experiment.panel import ExperimentPanel

STRIP_WIDTH = 30
PANEL_WIDTH = 360
#: QSettings key: narrow the panel on views that do not edit the experiment
AUTO_KEY = "view/experiment_auto_narrow"
TOGGLE_SHORTCUT = "Ctrl+Shift+E"


class ExperimentStrip(QToolButton):
    """The narrow panel: a full-height button reading "Experiment »" from top to bottom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(f"Show the Experiment panel ({TOGGLE_SHORTCUT})")
        self.setAccessibleName("Show the Experiment panel")
        self.setAutoRaise(True)
        self.setFixedWidth(STRIP_WIDTH)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(STRIP_WIDTH, 200)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.translate(self.width() / 2 + self.fontMetrics().ascent() / 2 - 1, 12)
        painter.rotate(90)
        painter.drawText(0, 0, "Experiment  »")
        painter.end()


class ExperimentDock(QDockWidget):
    """The Experiment panel in a dock, full or narrowed to an `ExperimentStrip`.

    ``narrowChanged(bool)`` after every change, so the View menu's command stays checked right.
    """

    narrowChanged = Signal(bool)

    def __init__(self, panel: ExperimentPanel, window: QMainWindow, settings: QSettings) -> None:
        super().__init__("Experiment", window)
        self.setObjectName("experimentDock")
        self._window = window
        self._settings = settings
        self._width = PANEL_WIDTH
        self._edits = True  # the current view works with the form
        self.panel = panel
        self.strip = ExperimentStrip()
        self.strip.clicked.connect(lambda: self.set_narrow(False, remember=True))
        panel.collapse_button.clicked.connect(lambda: self.set_narrow(True, remember=True))
        self.stack = QStackedWidget()
        self.stack.addWidget(panel)
        self.stack.addWidget(self.strip)
        self.setWidget(self.stack)
        self.setFeatures(
            QDockWidget.DockWidgetMovable
            | QDockWidget.DockWidgetFloatable
            | QDockWidget.DockWidgetClosable
        )
        self.setAllowedAreas(Qt.LeftDockWidgetArea | Qt.RightDockWidgetArea)
        window.addDockWidget(Qt.LeftDockWidgetArea, self)

    # -- state -----------------------------------------------------------------------------------
    def auto_narrow(self) -> bool:
        """Whether the panel narrows on views that do not edit the experiment (remembered)."""
        return str(self._settings.value(AUTO_KEY, "true")).lower() == "true"

    def is_narrow(self) -> bool:
        return self.stack.currentWidget() is self.strip

    def follow_view(self, edits_experiment: bool) -> None:
        """A view became current: full panel where the form is used, else as remembered."""
        self._edits = edits_experiment
        self.set_narrow(not edits_experiment and self.auto_narrow())

    def toggle(self) -> None:
        """The shortcut and the View menu's command: the other state, remembered."""
        self.set_narrow(not self.is_narrow(), remember=True)

    def set_narrow(self, narrow: bool, remember: bool = False) -> None:
        """Show the strip or the panel; ``remember`` makes it the choice for views that do not
        edit the experiment."""
        if remember:
            self._settings.setValue(AUTO_KEY, "true" if narrow else "false")
        if narrow == self.is_narrow():
            self.narrowChanged.emit(narrow)
            return
        if narrow:
            self._width = max(self.width(), 200)
            self.stack.setCurrentWidget(self.strip)
            self.stack.setMaximumWidth(STRIP_WIDTH)
            self.setTitleBarWidget(QWidget())  # no title over a 30-pixel strip
        else:
            self.stack.setMaximumWidth(16777215)
            self.stack.setCurrentWidget(self.panel)
            self.setTitleBarWidget(None)
            self.show()
            self._window.resizeDocks([self], [self._width], Qt.Orientation.Horizontal)
        self.narrowChanged.emit(narrow)

    def reveal(self) -> None:
        """Show the full panel (a config was loaded into the form), without changing the
        remembered choice."""
        self.show()
        self.set_narrow(False)
        self.raise_()
