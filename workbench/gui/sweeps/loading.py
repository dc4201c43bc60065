"""Sweeps kept in a runs folder: their names, and one sweep's settings and trials read back
(off the GUI thread: a database may be slow to answer)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.engine.sweeps import SweepSpec, TrialRow, load_study, study_rows
from workbench.engine.sweeps.spec import stored_spec
from workbench.engine.sweeps.study import storage_location

JOURNAL_SUFFIX = ".journal"


@dataclass(frozen=True)
class SweepSnapshot:
    spec: SweepSpec
    rows: list[TrialRow]


def list_sweeps(runs_dir: Path) -> list[str]:
    """Names of the sweeps whose journal is in ``runs_dir`` (newest first)."""
    folder = Path(runs_dir) / ".sweeps"
    if not folder.is_dir():
        return []
    files = sorted(folder.glob(f"*{JOURNAL_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [p.name[: -len(JOURNAL_SUFFIX)] for p in files]


def load_sweep(name: str, runs_dir: Path, storage: str | None = None) -> SweepSnapshot:
    study = load_study(name, storage_location(storage, name, runs_dir))
    spec = SweepSpec.from_stored(name, stored_spec(study), storage=storage, runs_dir=runs_dir)
    return SweepSnapshot(spec, study_rows(study))


__all__ = ["SweepSnapshot", "list_sweeps", "load_sweep"]
