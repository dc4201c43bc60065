"""The adaptation viewer's Export menu and the writers behind it.

The view names its exports explicitly (`Export`: menu text, file-name part, kind, writer); the
menu asks where to write (`ask_save_path`, a module function so tests can replace the dialog),
remembers the folder in the settings and reports the written file or the reason it failed.
Tables are written by `workbench.engine.adaptation`; pictures are grabbed from the widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFileDialog, QMenu, QToolButton, QWidget

from workbench.engine import adaptation as ad
from workbench.errors import WorkbenchError
from workbench.gui.adaptation.episode import EpisodeTab
from workbench.gui.widgets import sized_export
from workbench.gui.widgets.image_grid import ImageGrid
from workbench.gui.widgets.sized_export import SizedExport

DIR_KEY = "adaptation/export_dir"
FILTERS = {"csv": "CSV table (*.csv)", "png": "PNG image (*.png)", "gif": "GIF (*.gif)"}
NO_RESULT = "nothing to export yet: press Adapt first"
NO_AGGREGATE = "nothing to export yet: press Aggregate first"


def ask_save_path(parent: QWidget, title: str, default: str, filters: str) -> str:
    """The file to export to, or "" (a module function so tests can replace the dialog)."""
    path, _ = QFileDialog.getSaveFileName(parent, title, default, filters)
    return path


# -- writers -------------------------------------------------------------------------------------


def save_image(image: QImage | QPixmap, path: str | Path) -> Path:
    if not image.save(str(path)):
        raise WorkbenchError(f"could not write {path}")
    return Path(path)


def save_widget_png(widget: QWidget, path: str | Path) -> Path:
    """``widget`` as it looks on screen."""
    return save_image(widget.grab(), path)


def write_curves_csv(result: ad.EpisodeResult | None, path: str | Path) -> Path:
    """Every model's losses and accuracies per inner step, with how the episode was drawn."""
    if result is None:
        raise WorkbenchError(NO_RESULT)
    return ad.write_episode_csv(
        path, result.adaptations, {**result.protocol(), "steps": result.steps}
    )


def write_picture_png(
    result: ad.EpisodeResult | None,
    fit: QWidget,
    grid: ImageGrid,
    path: str | Path,
    size: SizedExport | None = None,
) -> Path:
    """The sinusoid fit as shown, or the whole image grid (also the rows scrolled away); the
    grid at ``size``'s width and scale when given."""
    if result is None:
        raise WorkbenchError(NO_RESULT)
    if result.regression:
        return save_widget_png(fit, path)
    if size is not None:
        return save_image(grid.render_image(size.width, size.scale), path)
    return save_image(grid.render_image(), path)


def write_picture_at_size(parent: QWidget, episode: EpisodeTab, path: str | Path) -> Path | None:
    """The picture at the selected step at the width and scale the user chooses (None when
    the user cancels the size)."""
    size = sized_export.ask_sized_export(parent, SizedExport(), plot=False)
    if size is None:
        return None
    return write_picture_png(episode.result(), episode.fit, episode.grid, path, size)


def write_aggregate_csv(aggregates: list[ad.Aggregate], path: str | Path) -> Path:
    if not aggregates:
        raise WorkbenchError(NO_AGGREGATE)
    return ad.write_aggregate_csv(path, aggregates)


# -- the menu ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """One entry of the menu: ``write(path)`` writes a ``kind`` ("csv" or "png") file, offered
    as ``<stem>-<part>.<kind>``; or, for an export that asks more than a file name (an
    animation), ``start()`` runs its own dialogs."""

    label: str
    part: str
    kind: str
    write: Callable[[str | Path], Path | None] | None = None
    start: Callable[[], object] | None = None


class ExportMenu(QObject):
    """The Export button and its menu, one action per entry of ``exports`` (in that order).

    ``stem()`` starts the offered file names; signals ``saved(path)`` after a file is written
    and ``failed(message)`` when it could not be.
    """

    saved = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        parent: QWidget,
        settings: QSettings,
        stem: Callable[[], str],
        exports: Mapping[str, Export],
    ) -> None:
        super().__init__(parent)
        self._parent, self.settings, self._stem = parent, settings, stem
        self._exports = dict(exports)
        self.button = QToolButton()
        self.button.setText("Export ")
        self.button.setMinimumWidth(84)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.button)
        self.actions = {
            key: menu.addAction(e.label, self._trigger(key)) for key, e in self._exports.items()
        }
        self.button.setMenu(menu)

    def _trigger(self, key: str) -> Callable[[], None]:
        return lambda: self.export(key)

    def set_enabled(self, keys: tuple[str, ...], enabled: bool) -> None:
        for key in keys:
            self.actions[key].setEnabled(enabled)

    def export(self, key: str) -> None:
        """Ask where to write export ``key``, write it and say so."""
        e = self._exports[key]
        if e.start is not None:
            e.start()
            return
        assert e.write is not None
        folder = str(self.settings.value(DIR_KEY, str(Path.home())))
        default = str(Path(folder) / f"{self._stem()}-{e.part}.{e.kind}")
        path = ask_save_path(self._parent, "Export", default, FILTERS[e.kind])
        if not path:
            return
        try:
            saved = e.write(path)
        except (WorkbenchError, OSError) as exc:
            self.failed.emit(f"Export failed: {exc}")
            return
        if saved is None:  # the user cancelled a dialog of the export itself
            return
        self.settings.setValue(DIR_KEY, str(Path(saved).parent))
        self.saved.emit(str(saved))


__all__ = [
    "Export",
    "ExportMenu",
    "ask_save_path",
    "save_widget_png",
    "write_aggregate_csv",
    "write_curves_csv",
    "write_picture_png",
]
