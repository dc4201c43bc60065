"""The questions the Runs view asks: confirm a delete, where to save an export, which folder.

Module-level functions looked up at call time, so tests replace them with
``monkeypatch.setattr(runs_dialogs, "confirm_delete", lambda *a: True)`` instead of clicking
through a modal box.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def confirm_delete(parent: QWidget | None, names: list[str]) -> bool:
    """Deleting runs cannot be undone (folders are removed, not moved to a trash)."""
    if len(names) == 1:
        text = f"Delete the run “{names[0]}”?"
    else:
        shown = "\n".join(f"• {n}" for n in names[:8])
        more = f"\n… and {len(names) - 8} more" if len(names) > 8 else ""
        text = f"Delete these {len(names)} runs?\n\n{shown}{more}"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Delete runs")
    box.setText(text)
    box.setInformativeText("Their folders (config, metrics and checkpoints) are deleted for good.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Yes).setText("Delete")
    return box.exec() == QMessageBox.StandardButton.Yes


def ask_save_path(parent: QWidget | None, title: str, default: Path, filters: str) -> Path | None:
    """A file to write an export to, with the suffix of the first filter added when missing."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(default), filters)
    if not path:
        return None
    out = Path(path)
    if not out.suffix and default.suffix:
        out = out.with_suffix(default.suffix)
    return out


def ask_directory(parent: QWidget | None, title: str, start: Path) -> Path | None:
    """A folder (the runs folder, or where TensorBoard files go)."""
    path = QFileDialog.getExistingDirectory(parent, title, str(start))
    return Path(path) if path else None
