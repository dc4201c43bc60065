"""One run folder: creating it, and reading and writing its files.

Whole files (config, summary, checkpoints, a truncated log) go through `workbench.durable`, so a
crash leaves the previous version or the new one, never half of one; the metrics log is appended
and flushed line by line. Checkpoints are read with ``torch.load(weights_only=True)``, so a
malicious file cannot run code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import filelock
import torch

from workbench import config as configlib
from workbench.config import ExperimentConfig
from workbench.durable import atomic_open, atomic_write_bytes
from workbench.engine.runs.liveness import LEGACY_KEYS, process_alive, process_identity
from workbench.engine.runs.metrics import record_iteration
from workbench.errors import RunError, WorkbenchError

STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
CHECKPOINT_FORMAT = 1
#: the first bytes of a file written by ``torch.save`` (a zip archive)
_ZIP_MAGIC = b"PK\x03\x04"
#: how long a summary update waits for another writer before giving up
_LOCK_TIMEOUT = 30.0


def default_runs_dir() -> Path:
    """``$WORKBENCH_RUNS_DIR``, else ``~/workbench-runs`` (shared by the GUI and the CLI)."""
    return Path(os.environ.get("WORKBENCH_RUNS_DIR") or Path.home() / "workbench-runs")


def check_writable(runs_dir: Path) -> None:
    """Fail before training starts if runs cannot be saved in ``runs_dir``."""
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the runs folder {runs_dir}: {exc.strerror or exc}") from None
    probe = runs_dir / f".write-test-{os.getpid()}-{threading.get_ident()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise RunError(
            f"the runs folder {runs_dir} is not writable ({exc.strerror or exc}); choose another "
            "folder with --runs-dir or in the Runs view"
        ) from None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


class RunStore:
    """One run folder. Create with `RunStore.create`, open an existing one with `RunStore(path)`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics_fh: IO[str] | None = None

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls, runs_dir: str | Path, config: ExperimentConfig, name: str | None = None
    ) -> RunStore:
        runs_dir = Path(runs_dir)
        check_writable(runs_dir)
        c = config
        base = (
            _slug(name)
            if name
            else _slug(f"{c.algorithm.name}-{c.data.dataset}-{c.data.ways}w{c.data.shots}s")
        )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        # Built under a hidden name, then renamed: a listing never sees a half-made run.
        staging = runs_dir / f".creating-{stamp}-{base}-{os.getpid()}-{threading.get_ident()}"
        (staging / "checkpoints").mkdir(parents=True)
        try:
            configlib.save(config, staging / "config.toml")
            now = time.time()
            RunStore(staging).write_summary(
                name=name or base,
                status="running",
                iteration=0,
                total=c.train.iterations,
                created=now,
                started=now,
                elapsed=0.0,
            )
            path = _claim_folder(staging, runs_dir, f"{stamp}-{base}")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(path)

    # -- files -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    def checkpoint_path(self, kind: str = "last") -> Path:
        return self.path / "checkpoints" / f"{kind}.pt"

    def load_config(self) -> ExperimentConfig:
        if self.path.is_dir() and not self.config_path.exists():
            raise RunError(
                f"{self.path} is not a run folder: it has no config.toml (run "
                "folders are made by `workbench train` or the window's Start)"
            )
        try:
            return configlib.load(self.config_path)
        except WorkbenchError as exc:
            raise RunError(f"run {self.path.name}: unreadable config.toml: {exc}") from None
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise RunError(f"run {self.path.name}: unreadable config.toml: {exc}") from None

    # -- summary -----------------------------------------------------------------------------
    def read_summary(self) -> dict[str, Any]:
        try:
            data = json.loads(self.summary_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RunError(f"run {self.path.name}: unreadable summary.json: {exc}") from None
        if not isinstance(data, dict):
            raise RunError(f"run {self.path.name}: summary.json is not an object")
        return data

    @contextlib.contextmanager
    def _summary_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of summary.json between processes and threads (the
        trainer updating iterations while the Runs view renames the run or stores a test
        result), on every platform; the OS releases the lock if its holder dies."""
        lock = filelock.FileLock(self.path / ".summary.lock", timeout=_LOCK_TIMEOUT)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise RunError(
                f"run {self.path.name}: summary.json stayed locked by another process for "
                f"{_LOCK_TIMEOUT:.0f} s"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def write_summary(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into summary.json (atomically); ``status=running`` records who runs it."""
        with self._summary_lock():
            try:
                summary = self.read_summary()
            except RunError:
                summary = {}
            summary.update(fields)
            if fields.get("status") == "running":
                for key in LEGACY_KEYS:
                    summary.pop(key, None)
                summary.update(process_identity())
            summary["updated"] = time.time()
            atomic_write_bytes(self.summary_path, json.dumps(summary, indent=2).encode())
        return summary

    def status(self, summary: dict[str, Any] | None = None) -> str:
        summary = self.read_summary() if summary is None else summary
        status = summary.get("status", "interrupted")
        if status not in STATUSES:
            return "interrupted"
        if status == "running" and not process_alive(summary):
            return "interrupted"
        return status

    def rename(self, name: str) -> str:
        """Give the run a new display name (the folder keeps its name, so paths stay valid)."""
        name = " ".join(str(name).split())
        if not name:
            raise RunError("a run's name cannot be empty")
        if len(name) > 200:
            raise RunError(f"a run's name can have at most 200 characters, got {len(name)}")
        if not self.path.is_dir():
            raise RunError(f"no run folder at {self.path}")
        self.write_summary(name=name)
        return name

    # -- metrics -----------------------------------------------------------------------------
    def append_metric(self, record: dict[str, Any]) -> None:
        """Append one JSON line and flush it to the OS (survives a killed process)."""
        if self._metrics_fh is None:
            self._metrics_fh = open(self.metrics_path, "a", encoding="utf-8")
        self._metrics_fh.write(json.dumps(record, allow_nan=True) + "\n")
        self._metrics_fh.flush()

    def sync_metrics(self) -> None:
        """Push appended lines to the disk (before a checkpoint, so a power cut cannot leave a
        checkpoint newer than the log)."""
        if self._metrics_fh is not None:
            try:
                os.fsync(self._metrics_fh.fileno())
            except OSError:
                pass

    def close(self) -> None:
        if self._metrics_fh is not None:
            self._metrics_fh.close()
            self._metrics_fh = None

    def read_metrics(self) -> tuple[list[dict[str, Any]], list[str]]:
        """All records, and a list of problems (e.g. a truncated last line) instead of raising."""
        records: list[dict[str, Any]] = []
        problems: list[str] = []
        try:
            lines = self.metrics_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return records, problems
        except OSError as exc:
            return records, [f"metrics.jsonl unreadable: {exc}"]
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(f"metrics.jsonl line {number} is truncated or corrupt; skipped")
                continue
            if isinstance(record, dict):
                records.append(record)
        return records, problems

    def truncate_metrics(self, iteration: int) -> None:
        """Keep only records up to ``iteration`` (resuming from a checkpoint taken there); a
        half-written last line and the previous ending (finished/stopped/failed) go too."""
        self.close()
        records, _ = self.read_metrics()
        kept = [
            r
            for r in records
            if record_iteration(r) <= iteration
            and r.get("kind") not in ("finished", "stopped", "failed")
        ]
        atomic_write_bytes(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any], kind: str = "last") -> Path:
        """Write atomically: the previous checkpoint stays intact if anything fails."""
        path = self.checkpoint_path(kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.sync_metrics()
        with atomic_open(path) as fh:
            torch.save({"format": CHECKPOINT_FORMAT, **state}, fh)
        return path

    def load_checkpoint(self, kind: str = "last") -> dict[str, Any]:
        path = self.checkpoint_path(kind)
        if not path.exists():
            raise RunError(f"run {self.path.name} has no {kind} checkpoint ({path})")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle errors, truncated zip, foreign objects
            raise RunError(
                f"checkpoint {path} cannot be loaded safely ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'corrupt file'})"
            ) from None
        if not isinstance(state, dict) or "learner" not in state:
            raise RunError(f"checkpoint {path} is not a Meta-Learning Workbench checkpoint")
        return state

    def has_checkpoint(self, kind: str = "last") -> bool:
        return self.checkpoint_path(kind).exists()

    def checkpoint_problem(self, kind: str = "last") -> str:
        """'' if the checkpoint file looks whole (a cheap check: listing must not unpickle)."""
        path = self.checkpoint_path(kind)
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
        except FileNotFoundError:
            return f"checkpoints/{kind}.pt is missing"
        except OSError as exc:
            return f"checkpoints/{kind}.pt unreadable: {exc.strerror or exc}"
        if head != _ZIP_MAGIC:
            return f"checkpoints/{kind}.pt is empty or damaged (not a PyTorch checkpoint)"
        return ""


def _claim_folder(staging: Path, runs_dir: Path, name: str) -> Path:
    """Rename ``staging`` to ``runs_dir/name``, or ``name-2``, ``name-3``... when taken (by us
    or by another process at the same second)."""
    n = 1
    path = runs_dir / name
    while True:
        try:
            if path.exists():
                raise FileExistsError(path)
            os.rename(staging, path)
            return path
        except OSError:
            if not path.exists() or n > 1000:
                raise
            n += 1
            path = runs_dir / f"{name}-{n}"
