"""The contract between the shell and a view: what the main window and the screenshot command
may ask of any tab, so neither reaches into a view through ``getattr``.

A view is a `QWidget` built from the shared `GuiContext`. It names itself (``name``, ``title``,
``shortcut``, ``tooltip``: the main window builds its tabs and View menu from them), takes a new
theme through `apply_theme` (the main window calls it once per change; views do not also listen to
the context's signal), says whether background work is under way (`is_busy`, so tests and the
screenshot command can wait for a settled picture with `wait_until_idle`), can put itself in a
representative state for a screenshot, exports what it shows as an image, and stops its timers
and background jobs on `shutdown` before the window closes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication, QWidget

from workbench.gui.context import GuiContext
from workbench.gui.theme import Theme


class View(QWidget):
    """Base class of the main window's views (Training, Episodes, Adaptation, Runs, ...)."""

    #: key used by the shell and in file names of screenshots ("training", "runs", ...)
    name: ClassVar[str] = ""
    #: tab title
    title: ClassVar[str] = ""
    #: the key sequence that shows the view, e.g. "Ctrl+1"
    shortcut: ClassVar[str] = ""
    #: the tab's tooltip
    tooltip: ClassVar[str] = ""
    #: whether the view works with the Experiment form: the panel narrows to a strip on views
    #: that do not, so their plots get the room
    edits_experiment: ClassVar[bool] = False

    def __init__(self, context: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context

    # -- what every view must provide --------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        """Restyle for ``theme`` (colours, fonts of presentation mode)."""
        raise NotImplementedError(f"{type(self).__name__} does not apply themes")

    # -- what a view may refine ------------------------------------------------------------------------
    def is_busy(self) -> bool:
        """True while background work (loading, adapting, listing) may still change the view."""
        return False

    def wait_until_idle(self, timeout: float = 60.0) -> bool:
        """Process events until `is_busy` turns false (tests, screenshots); False on time-out."""
        deadline = time.monotonic() + timeout
        app = QApplication.instance()
        while self.is_busy() and time.monotonic() < deadline:
            if app is not None:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        return not self.is_busy()

    def prepare_screenshot(self) -> None:
        """Put the view in a representative, settled state for the screenshot command."""
        self.wait_until_idle()

    def export_view(self, path: str | Path) -> Path:
        """The whole view as it looks on screen, as a PNG file."""
        path = Path(path)
        if not self.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        return path

    def save_state(self) -> None:
        """Store splitter positions and similar layout choices in the context's settings."""

    def shutdown(self) -> None:
        """Stop timers and background jobs and wait for them (the window is closing)."""


__all__ = ["View"]
