"""The project's habits, checked by the test command so they hold on every change: lint and
format (ruff), the import contract (import-linter: layers, views independent, Qt only in the
GUI), type checking of the Qt-free packages (mypy), and the size limits that keep modules
readable (no function over 80 lines, no class over 400)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 400


def _tool(name: str) -> list[str]:
    """The command for a console tool of this venv (next to this interpreter), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the test extra (pip install -e '.[test]')")
    return [found]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean() -> None:
    result = _run([*_tool("ruff"), "check", "--no-cache", "."])
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run([*_tool("ruff"), "format", "--check", "--no-cache", "."])
    assert result.returncode == 0, "run `ruff format .`:\n" + result.stdout + result.stderr


def test_import_contract_holds() -> None:
    result = _run([*_tool("lint-imports"), "--no-cache"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and "3 kept, 0 broken" in result.stdout, result.stdout


def test_qt_free_packages_type_check() -> None:
    result = _run([*_tool("mypy"), "--no-incremental"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def _oversized(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - first + 1
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            if lines > limit:
                where = f"{path.relative_to(root)}:{node.lineno}"
                found.append(f"{where} {node.name}: {lines} lines (limit {limit})")
    return found


def test_functions_and_classes_stay_small() -> None:
    problems = [p for path in sorted((ROOT / "workbench").rglob("*.py")) for p in _oversized(path)]
    assert not problems, "split these:\n" + "\n".join(problems)


def test_size_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "probe.py"
    sample.write_text(f"def long():\n{body}\n\n\ndef short():\n    pass\n", encoding="utf-8")
    assert _oversized(sample, tmp_path) == ["probe.py:1 long: 81 lines (limit 80)"]
