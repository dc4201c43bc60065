"""Whole-file writes: the new content or the old one, never half of one, and no leftovers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from workbench.durable import atomic_open, atomic_write_bytes, atomic_write_text


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_content_is_replaced_and_no_temporary_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    atomic_write_text(path, "ünïcode\n")
    assert path.read_text(encoding="utf-8") == "ünïcode\n"
    assert leftovers(tmp_path) == []


def test_a_failure_while_writing_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    atomic_write_bytes(path, b"previous checkpoint")
    with pytest.raises(RuntimeError, match="killed midway"):
        with atomic_open(path) as fh:
            fh.write(b"half of a new chec")
            raise RuntimeError("killed midway")
    assert path.read_bytes() == b"previous checkpoint"
    assert leftovers(tmp_path) == []


def test_a_failed_rename_keeps_the_old_file_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "config.toml"
    atomic_write_text(path, "a = 1\n")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("workbench.durable.os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(path, "a = 2\n")
    monkeypatch.undo()
    assert path.read_text() == "a = 1\n"
    assert leftovers(tmp_path) == []


def test_a_file_object_for_torch_save(tmp_path: Path) -> None:
    path = tmp_path / "cache.pt"
    with atomic_open(path) as fh:
        torch.save({"x": torch.arange(5)}, fh)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.arange(5))
    assert leftovers(tmp_path) == []


def test_only_whole_file_modes() -> None:
    with pytest.raises(ValueError, match="whole file"):
        with atomic_open("x", "ab"):  # type: ignore[arg-type]
            pass


def test_writers_in_threads_do_not_collide(tmp_path: Path) -> None:
    """Each writer has its own temporary file: the result is one writer's content, whole."""
    path = tmp_path / "shared.bin"
    contents = [bytes([n]) * 200_000 for n in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(contents))

    def write(data: bytes) -> None:
        start.wait()
        try:
            for _ in range(10):
                atomic_write_bytes(path, data)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(data,)) for data in contents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_bytes() in contents
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(__import__("os"), "getuid"), reason="POSIX permissions")
def test_permissions_are_those_of_an_ordinary_file(tmp_path: Path) -> None:
    """Not mkstemp's owner-only mode: a shared runs folder stays readable as before."""
    ordinary = tmp_path / "ordinary"
    ordinary.write_text("x")
    atomic_write_text(tmp_path / "atomic", "x")
    assert (tmp_path / "atomic").stat().st_mode == ordinary.stat().st_mode
