"""Whole-file writes that a crash or a power cut cannot leave half-done.

Every file the workbench writes whole (configs, run summaries, checkpoints, the data cache,
exports) is written to a temporary file beside it, flushed and fsynced, renamed over the target
with ``os.replace``, and the folder is fsynced so the rename itself survives a power cut.
Readers therefore see the old content or the new one, never a mixture, and a failed write leaves
the previous file as it was and no temporary file behind.

The temporary name is unique per process, thread and call (and created exclusively), so two
writers of the same file never write into each other's temporary file; the last rename wins.
It is created with ``open``, not ``tempfile.mkstemp``, so it gets the usual permissions
(the umask's), not mkstemp's owner-only ones.

This module imports nothing of the workbench, so every layer can use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal


def fsync_dir(path: str | Path) -> None:
    """Make a rename in ``path`` durable (best effort; skipped on Windows, where a folder
    cannot be opened, and wherever the file system refuses)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temporary_name(path: Path) -> Path:
    unique = f"{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}"
    return path.with_name(f".{path.name}.{unique}.tmp")


@contextlib.contextmanager
def atomic_open(
    path: str | Path,
    mode: Literal["wb", "w"] = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the ``with`` block ends normally.

    For writers that want a file rather than bytes (``torch.save``, ``csv.writer``). If the
    block raises, ``path`` is untouched and the temporary file is removed.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes a whole file: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    tmp = _temporary_name(path)
    text = mode == "w"
    try:
        with open(
            tmp,
            "x" if text else "xb",
            encoding=(encoding or "utf-8") if text else None,
            newline=newline if text else None,
        ) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` atomically and durably (newlines as ``Path.write_text``
    writes them: the platform's)."""
    with atomic_open(path, "w", encoding=encoding) as fh:
        fh.write(text)
