"""The engine never imports Qt: only workbench/gui/ may (as napari keeps Qt in its _qt package).

Imports are read with `ast`, so a Qt import hidden inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
QT_MODULES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "shiboken2", "qtpy")


def qt_imports(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, module) of every import of a Qt binding or pyqtgraph in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        for name in names:
            if name.split(".")[0] in QT_MODULES:
                found.append((node.lineno, name))
    return found


def engine_files() -> list[Path]:
    gui = PACKAGE / "gui"
    return sorted(p for p in PACKAGE.rglob("*.py") if gui not in p.parents)


def test_the_checker_sees_every_form_of_import() -> None:
    source = (
        "import PySide6\nfrom PySide6.QtCore import QObject\nimport pyqtgraph as pg\n"
        "def f():\n    from shiboken6 import isValid\n"
        "importlib.import_module('PyQt6.QtWidgets')\nimport numpy\nfrom . import gui\n"
    )
    assert [m for _line, m in qt_imports(source, "x.py")] == [
        "PySide6",
        "PySide6.QtCore",
        "pyqtgraph",
        "shiboken6",
        "PyQt6.QtWidgets",
    ]


def test_engine_files_exist() -> None:
    names = {p.relative_to(PACKAGE).as_posix() for p in engine_files()}
    assert {"config.py", "engine/trainer.py", "cli/__init__.py"} <= names
    assert not any(n.startswith("gui/") for n in names)


@pytest.mark.parametrize("path", engine_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_qt_import_outside_gui(path: Path) -> None:
    found = qt_imports(path.read_text(encoding="utf-8"), str(path))
    assert not found, f"{path.relative_to(PACKAGE)} imports Qt: {found}"
