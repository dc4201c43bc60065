"""The incremental scan of a run's ``metrics.jsonl`` behind the runs list.

Listing many runs often (the Runs view polls while a run trains) stays cheap: each file is read
only from where the previous scan of it stopped, and only what listing needs is kept (the last
good record, the count, what is wrong with the file), never the records themselves.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MetricsScan:
    """What listing needs from metrics.jsonl without keeping its records: the last good record,
    how many there are, and what is wrong with the file."""

    count: int = 0
    last: dict[str, Any] | None = None
    corrupt_lines: list[int] = field(default_factory=list)
    partial_tail: bool = False  # the file ends inside a line (killed while writing)
    error: str = ""


@dataclass
class _ScanState:
    inode: int
    offset: int
    line: int
    scan: MetricsScan


_scan_cache: dict[Path, _ScanState] = {}
_scan_lock = threading.Lock()


def record_iteration(record: dict[str, Any]) -> int:
    """The iteration a metrics record belongs to (0 when it has none or a bad one)."""
    try:
        return int(record.get("iteration", 0))
    except (TypeError, ValueError):
        return 0


def scan_metrics(path: Path) -> MetricsScan:
    """Scan ``metrics.jsonl`` of the run folder ``path``, reading only what was appended since
    the previous scan of the same file (a rewrite on resume gives it a new inode: rescan)."""
    metrics = Path(os.path.abspath(Path(path) / "metrics.jsonl"))
    try:
        st = os.stat(metrics)
    except FileNotFoundError:
        with _scan_lock:
            _scan_cache.pop(metrics, None)
        return MetricsScan()
    except OSError as exc:
        return MetricsScan(error=f"metrics.jsonl unreadable: {exc.strerror or exc}")
    with _scan_lock:
        state = _scan_cache.get(metrics)
        if state is None or state.inode != st.st_ino or st.st_size < state.offset:
            state = _ScanState(st.st_ino, 0, 0, MetricsScan())
        if st.st_size == state.offset:
            state.scan.partial_tail = False
            _scan_cache[metrics] = state
            return _copy_scan(state.scan)
        try:
            with open(metrics, "rb") as fh:
                fh.seek(max(0, state.offset - 1))
                before = fh.read(1) if state.offset else b"\n"
                if before != b"\n":  # rewritten in place, not appended to: start over
                    state = _ScanState(st.st_ino, 0, 0, MetricsScan())
                    fh.seek(0)
                data = fh.read(st.st_size - state.offset)
        except OSError as exc:
            return MetricsScan(error=f"metrics.jsonl unreadable: {exc.strerror or exc}")
        _consume(state, data)
        _scan_cache[metrics] = state
        return _copy_scan(state.scan)


def _consume(state: _ScanState, data: bytes) -> None:
    """Count the complete lines of ``data`` into ``state``; a partial last line waits."""
    end = data.rfind(b"\n") + 1
    scan = state.scan
    for raw in data[:end].split(b"\n")[:-1]:
        state.line += 1
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except ValueError:
            scan.corrupt_lines.append(state.line)
            continue
        if isinstance(record, dict):
            scan.count += 1
            scan.last = record
    state.offset += end
    scan.partial_tail = end < len(data)


def forget_scans(folder: Path) -> None:
    """Drop the cached scans of files under ``folder`` (a run folder that was deleted)."""
    absolute = Path(os.path.abspath(folder))
    with _scan_lock:
        for key in [k for k in _scan_cache if absolute in k.parents]:
            del _scan_cache[key]


def _copy_scan(scan: MetricsScan) -> MetricsScan:
    return MetricsScan(
        scan.count,
        dict(scan.last) if scan.last else None,
        list(scan.corrupt_lines),
        scan.partial_tail,
        scan.error,
    )
