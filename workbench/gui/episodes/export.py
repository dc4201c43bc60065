"""Exporting the shown episode as a picture: its file name, the save dialog, the PNG file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QWidget

from workbench.config import DataConfig
from workbench.errors import WorkbenchError

EXPORT_DIR_KEY = "episodes/export_dir"


def default_export_name(data: DataConfig, split: str, index: int) -> str:
    """``episode-glyphs-train-5w1s-3.png``: dataset, split, shape and index of the episode."""
    shape = f"{data.shots}shot" if data.dataset == "sinusoid" else f"{data.ways}w{data.shots}s"
    return f"episode-{data.dataset}-{split}-{shape}-{index}.png"


def save_png(image: QImage, path: str | Path) -> Path:
    """Write ``image`` as PNG to ``path`` (``.png`` added when missing)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    if not image.save(str(path), "PNG"):
        raise WorkbenchError(
            f"could not write {path}; check that the folder exists and is writable"
        )
    return path


def ask_export_path(parent: QWidget, settings: QSettings, name: str) -> str:
    """The file the user picks (starting in the last export folder), or "" when cancelled."""
    folder = str(settings.value(EXPORT_DIR_KEY, str(Path.home())))
    chosen, _ = QFileDialog.getSaveFileName(
        parent, "Export episode picture", str(Path(folder) / name), "PNG images (*.png)"
    )
    return chosen


def remember_export_folder(settings: QSettings, saved: Path) -> None:
    settings.setValue(EXPORT_DIR_KEY, str(saved.parent))


__all__ = ["ask_export_path", "default_export_name", "remember_export_folder", "save_png"]
