"""Run folders: everything a run leaves on disk, written so that a crash loses nothing saved.

A run is a folder::

    config.toml            the experiment, as TOML (the form can load it again: "clone")
    metrics.jsonl          one JSON object per trainer event, appended and flushed as written
    checkpoints/last.pt    the latest state (written to a temporary file, then os.replace)
    checkpoints/best.pt    the state with the best validation result so far
    summary.json           status, iterations, best and test results, times (rewritten atomically)

A run whose summary says ``running`` but whose process is gone was interrupted (killed, power
cut); it can be resumed from ``last.pt``. Checkpoints are read with
``torch.load(weights_only=True)``, so a malicious file cannot run code.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch

from workbench import config as configlib
from workbench.config import ExperimentConfig
from workbench.errors import RunError, WorkbenchError

STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
CHECKPOINT_FORMAT = 1


def default_runs_dir() -> Path:
    """``$WORKBENCH_RUNS_DIR``, else ``~/workbench-runs`` (shared by the GUI and the CLI)."""
    return Path(os.environ.get("WORKBENCH_RUNS_DIR") or Path.home() / "workbench-runs")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _pid_alive(pid: int, host: str) -> bool:
    if host and host != socket.gethostname():
        return True  # another machine's run: assume it is alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed child not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


class RunStore:
    """One run folder. Create with `RunStore.create`, open an existing one with `RunStore(path)`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics_fh = None

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def create(cls, runs_dir: str | Path, config: ExperimentConfig, name: str | None = None
               ) -> "RunStore":
        runs_dir = Path(runs_dir)
        check_writable(runs_dir)
        c = config
        base = _slug(name) if name else _slug(
            f"{c.algorithm.name}-{c.data.dataset}-{c.data.ways}w{c.data.shots}s"
        )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = runs_dir / f"{stamp}-{base}"
        n = 1
        while path.exists():
            n += 1
            path = runs_dir / f"{stamp}-{base}-{n}"
        (path / "checkpoints").mkdir(parents=True)
        store = cls(path)
        configlib.save(config, path / "config.toml")
        store.write_summary(
            name=name or base, status="running", iteration=0, total=c.train.iterations,
            created=time.time(), started=time.time(), elapsed=0.0,
        )
        return store

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
        try:
            return configlib.load(self.config_path)
        except WorkbenchError as exc:
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

    def write_summary(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into summary.json (atomically); ``status=running`` records our pid."""
        try:
            summary = self.read_summary()
        except RunError:
            summary = {}
        summary.update(fields)
        if fields.get("status") == "running":
            summary["pid"], summary["host"] = os.getpid(), socket.gethostname()
        summary["updated"] = time.time()
        _atomic_write_bytes(self.summary_path, json.dumps(summary, indent=2).encode())
        return summary

    def status(self, summary: dict[str, Any] | None = None) -> str:
        summary = self.read_summary() if summary is None else summary
        status = summary.get("status", "interrupted")
        if status == "running" and not _pid_alive(int(summary.get("pid", -1)), summary.get("host", "")):
            return "interrupted"
        return status

    # -- metrics -----------------------------------------------------------------------------
    def append_metric(self, record: dict[str, Any]) -> None:
        """Append one JSON line and flush it to the OS (survives a killed process)."""
        if self._metrics_fh is None:
            self._metrics_fh = open(self.metrics_path, "a", encoding="utf-8")
        self._metrics_fh.write(json.dumps(record, allow_nan=True) + "\n")
        self._metrics_fh.flush()

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
        """Keep only records up to ``iteration`` (resuming from a checkpoint taken there)."""
        self.close()
        records, _ = self.read_metrics()
        kept = [r for r in records if int(r.get("iteration", 0)) <= iteration
                and r.get("kind") not in ("finished", "stopped", "failed")]
        _atomic_write_bytes(
            self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept).encode()
        )

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any], kind: str = "last") -> Path:
        """Write atomically: the previous checkpoint stays intact if anything fails."""
        import io

        path = self.checkpoint_path(kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
        _atomic_write_bytes(path, buffer.getvalue())
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


def check_writable(runs_dir: Path) -> None:
    """Fail before training starts if runs cannot be saved in ``runs_dir``."""
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the runs folder {runs_dir}: {exc.strerror or exc}") from None
    probe = runs_dir / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise RunError(
            f"the runs folder {runs_dir} is not writable ({exc.strerror or exc}); choose another "
            "folder with --runs-dir or in the Runs view"
        ) from None


@dataclass
class RunInfo:
    """A row of the runs list. ``problems`` lists what is wrong with this run's files."""

    path: Path
    name: str
    status: str
    algorithm: str = ""
    dataset: str = ""
    ways: int = 0
    shots: int = 0
    iteration: int = 0
    total: int = 0
    best_accuracy: float | None = None
    best_ci95: float | None = None
    test_accuracy: float | None = None
    test_ci95: float | None = None
    started: float | None = None
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)


def run_info(path: Path) -> RunInfo:
    """Describe one run folder; damaged files become ``problems``, never exceptions."""
    store = RunStore(path)
    info = RunInfo(path=path, name=path.name, status="interrupted")
    try:
        summary = store.read_summary()
    except RunError as exc:
        summary = {}
        info.problems.append(str(exc))
    if not summary and not info.problems:
        info.problems.append("summary.json missing")
    info.name = str(summary.get("name", path.name))
    info.status = store.status(summary) if summary else "interrupted"
    info.iteration = int(summary.get("iteration", 0) or 0)
    info.total = int(summary.get("total", 0) or 0)
    info.best_accuracy = summary.get("best_accuracy")
    info.best_ci95 = summary.get("best_ci95")
    test = summary.get("test") or {}
    info.test_accuracy, info.test_ci95 = test.get("accuracy"), test.get("ci95")
    info.started = summary.get("started")
    info.elapsed = float(summary.get("elapsed", 0.0) or 0.0)
    try:
        cfg = store.load_config()
        info.algorithm, info.dataset = cfg.algorithm.name, cfg.data.dataset
        info.ways, info.shots = cfg.data.ways, cfg.data.shots
    except RunError as exc:
        info.problems.append(str(exc))
    if info.iteration > 0 and not store.has_checkpoint("last"):
        info.problems.append("checkpoints/last.pt is missing")
    return info


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run folder under ``runs_dir`` (a folder with a config.toml or summary.json)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    rows: Iterable[Path] = sorted(p for p in root.iterdir() if p.is_dir())
    return [
        run_info(p) for p in rows
        if (p / "config.toml").exists() or (p / "summary.json").exists()
    ]
