"""Run folders: everything a run leaves on disk, written so that a crash loses nothing saved.

A run is a folder::

    config.toml            the experiment, as TOML (the form can load it again: "clone")
    metrics.jsonl          one JSON object per trainer event, appended and flushed as written
    checkpoints/last.pt    the latest state (written to a temporary file, then os.replace)
    checkpoints/best.pt    the state with the best validation result so far
    summary.json           status, iterations, best and test results, times (rewritten atomically)

A run whose summary says ``running`` but whose process is gone was interrupted (killed, power
cut); it can be resumed from ``last.pt``. "Gone" is decided from the pid, the process's start
time and the machine's boot id, so a pid reused after a reboot does not keep a dead run
"running" forever. Checkpoints are read with ``torch.load(weights_only=True)``, so a malicious
file cannot run code.

Listing many runs often (the Runs view polls while a run trains) stays cheap: the metrics log is
scanned incrementally, from where the previous scan stopped.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench import config as configlib
from workbench.config import ExperimentConfig
from workbench.errors import RunError, WorkbenchError

STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
CHECKPOINT_FORMAT = 1
#: the first bytes of a file written by ``torch.save`` (a zip archive)
_ZIP_MAGIC = b"PK\x03\x04"


def default_runs_dir() -> Path:
    """``$WORKBENCH_RUNS_DIR``, else ``~/workbench-runs`` (shared by the GUI and the CLI)."""
    return Path(os.environ.get("WORKBENCH_RUNS_DIR") or Path.home() / "workbench-runs")


def _fsync_dir(path: Path) -> None:
    """Make a rename durable across a power cut (POSIX; a no-op where directories can't be opened)."""
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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync it, then rename over ``path``: readers see the old or
    the new content, never half of one, even if the process is killed mid-write."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


# -- is the process that owns a run still alive? -----------------------------------------------


def _read_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


_BOOT_ID = _read_boot_id()


def _process_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (Linux), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks after boot (field 22 of /proc/pid/stat), or ''."""
    fields = _process_stat(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def process_identity() -> dict[str, Any]:
    """What a ``running`` summary records so others can tell whether this process still lives."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "boot_id": _BOOT_ID,
        "pid_start": _process_start(os.getpid()),
    }


def process_alive(summary: dict[str, Any]) -> bool:
    """Whether the process recorded in a ``running`` summary still runs.

    A run of another machine (shared folder) is assumed alive; on this machine a different boot
    id (a reboot or power cut since), a missing pid, a zombie, or a pid now owned by a process
    that started at another time all mean the run's process is gone.
    """
    try:
        pid = int(summary.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0:  # os.kill(-1, 0) would probe every process
        return False
    host = summary.get("host", "")
    if host and host != socket.gethostname():
        return True
    boot = summary.get("boot_id", "")
    if boot and _BOOT_ID and boot != _BOOT_ID:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl+C there
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else: decide from /proc below
    except OSError:
        return False
    fields = _process_stat(pid)
    if fields is None:
        return True  # no /proc (not Linux): the pid exists, trust it
    if fields[0] in ("Z", "X"):  # a killed child not yet reaped
        return False
    recorded = summary.get("pid_start", "")
    return not (recorded and len(fields) > 19 and fields[19] != recorded)


def _windows_process_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


# -- incremental metrics scan --------------------------------------------------------------------


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


def scan_metrics(path: Path) -> MetricsScan:
    """Scan ``metrics.jsonl`` of the run folder ``path``, reading only what was appended since
    the previous scan of the same file (a rewrite on resume gives it a new inode: rescan)."""
    metrics = Path(os.path.abspath(Path(path) / "metrics.jsonl"))
    key = metrics
    try:
        st = os.stat(metrics)
    except FileNotFoundError:
        with _scan_lock:
            _scan_cache.pop(key, None)
        return MetricsScan()
    except OSError as exc:
        return MetricsScan(error=f"metrics.jsonl unreadable: {exc.strerror or exc}")
    with _scan_lock:
        state = _scan_cache.get(key)
        if state is None or state.inode != st.st_ino or st.st_size < state.offset:
            state = _ScanState(st.st_ino, 0, 0, MetricsScan())
        if st.st_size == state.offset:
            state.scan.partial_tail = False
            _scan_cache[key] = state
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
        _scan_cache[key] = state
        return _copy_scan(scan)


def _copy_scan(scan: MetricsScan) -> MetricsScan:
    return MetricsScan(
        scan.count,
        dict(scan.last) if scan.last else None,
        list(scan.corrupt_lines),
        scan.partial_tail,
        scan.error,
    )


# -- one run folder ------------------------------------------------------------------------------


class RunStore:
    """One run folder. Create with `RunStore.create`, open an existing one with `RunStore(path)`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics_fh = None

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
            n = 1
            path = runs_dir / f"{stamp}-{base}"
            while True:
                try:
                    if path.exists():
                        raise FileExistsError(path)
                    os.rename(staging, path)
                    break
                except OSError:  # taken (by us or another process at the same second)
                    if not path.exists() or n > 1000:
                        raise
                    n += 1
                    path = runs_dir / f"{stamp}-{base}-{n}"
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
        result). Advisory ``flock`` where available; elsewhere writes are still atomic."""
        try:
            import fcntl
        except ImportError:  # Windows
            yield
            return
        try:
            fh = open(self.path / ".summary.lock", "a+b")
        except OSError:
            yield
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            fh.close()  # releases the lock

    def write_summary(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into summary.json (atomically); ``status=running`` records who runs it."""
        with self._summary_lock():
            try:
                summary = self.read_summary()
            except RunError:
                summary = {}
            summary.update(fields)
            if fields.get("status") == "running":
                summary.update(process_identity())
            summary["updated"] = time.time()
            _atomic_write_bytes(self.summary_path, json.dumps(summary, indent=2).encode())
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
            if _record_iteration(r) <= iteration
            and r.get("kind") not in ("finished", "stopped", "failed")
        ]
        _atomic_write_bytes(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any], kind: str = "last") -> Path:
        """Write atomically: the previous checkpoint stays intact if anything fails."""
        path = self.checkpoint_path(kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
        self.sync_metrics()
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


def _record_iteration(record: dict[str, Any]) -> int:
    try:
        return int(record.get("iteration", 0))
    except (TypeError, ValueError):
        return 0


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


# -- listing -------------------------------------------------------------------------------------


@dataclass
class RunInfo:
    """A row of the runs list. ``problems`` lists what is wrong with this run's files.

    ``iteration`` is the last iteration logged (what was done); ``checkpoint_iteration`` the one
    in ``last.pt`` (where a resume starts). For regression runs the accuracies are None and the
    ``*_mse`` fields carry the results. ``test`` is the stored evaluation with its protocol.
    """

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
    checkpoint_iteration: int = 0
    best_iteration: int | None = None
    best_mse: float | None = None
    test_mse: float | None = None
    test_mse_ci95: float | None = None
    test: dict[str, Any] = field(default_factory=dict)
    updated: float | None = None
    error: str = ""
    has_checkpoint: bool = False
    config: ExperimentConfig | None = field(default=None, repr=False, compare=False)

    @property
    def resumable(self) -> bool:
        """Stopped or interrupted, with a checkpoint to continue from and iterations left."""
        return (
            self.status in ("stopped", "interrupted")
            and self.has_checkpoint
            and (self.total <= 0 or self.checkpoint_iteration < self.total)
        )

    @property
    def regression(self) -> bool:
        return self.dataset == "sinusoid" or (
            self.best_accuracy is None and self.best_mse is not None
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def protocol_text(test: dict[str, Any]) -> str:
    """The protocol behind a stored test result, e.g. '600 episodes, 10 inner steps, test split,
    best checkpoint' (every reported number carries how it was obtained)."""
    if not test:
        return ""
    parts = []
    if test.get("episodes") is not None:
        parts.append(f"{test['episodes']} episodes")
    if test.get("steps") is not None:
        parts.append(f"{test['steps']} inner step{'' if test['steps'] == 1 else 's'}")
    if test.get("split"):
        parts.append(f"{test['split']} split")
    if test.get("checkpoint"):
        parts.append(f"{test['checkpoint']} checkpoint")
    if test.get("seed") is not None:
        parts.append(f"seed {test['seed']}")
    return ", ".join(parts)


def run_info(path: Path) -> RunInfo:
    """Describe one run folder; damaged files become ``problems``, never exceptions."""
    path = Path(path)
    store = RunStore(path)
    info = RunInfo(path=path, name=path.name, status="interrupted")
    try:
        summary = store.read_summary()
    except RunError as exc:
        summary = {}
        info.problems.append(str(exc))
    if not summary and not info.problems:
        info.problems.append("summary.json missing")
    info.name = str(summary.get("name") or path.name)
    info.status = store.status(summary) if summary else "interrupted"
    info.checkpoint_iteration = int(_number(summary.get("iteration")) or 0)
    info.total = int(_number(summary.get("total")) or 0)
    info.best_iteration = (
        int(summary["best_iteration"])
        if _number(summary.get("best_iteration")) is not None
        else None
    )
    info.best_accuracy = _number(summary.get("best_accuracy"))
    info.best_ci95 = _number(summary.get("best_ci95"))
    info.best_mse = _number(summary.get("best_mse"))
    test = summary.get("test") if isinstance(summary.get("test"), dict) else {}
    info.test = dict(test)
    info.test_accuracy, info.test_ci95 = _number(test.get("accuracy")), _number(test.get("ci95"))
    info.test_mse, info.test_mse_ci95 = _number(test.get("mse")), _number(test.get("mse_ci95"))
    info.started = _number(summary.get("started"))
    info.updated = _number(summary.get("updated"))
    info.elapsed = _number(summary.get("elapsed")) or 0.0
    info.error = str(summary.get("error") or "") if info.status == "failed" else ""
    try:
        cfg = store.load_config()
        info.config = cfg
        info.algorithm, info.dataset = cfg.algorithm.name, cfg.data.dataset
        info.ways, info.shots = cfg.data.ways, cfg.data.shots
        info.total = info.total or cfg.train.iterations
    except RunError as exc:
        info.problems.append(str(exc))

    scan = scan_metrics(path)
    if scan.error:
        info.problems.append(scan.error)
    if scan.corrupt_lines:
        lines = ", ".join(str(n) for n in scan.corrupt_lines[:3])
        more = f" and {len(scan.corrupt_lines) - 3} more" if len(scan.corrupt_lines) > 3 else ""
        info.problems.append(f"metrics.jsonl line {lines}{more} truncated or corrupt; skipped")
    if scan.partial_tail and info.status != "running":
        info.problems.append(
            "metrics.jsonl ends in a half-written line (the process was killed "
            "while writing); resuming removes it"
        )
    if scan.last is not None:
        info.iteration = max(info.checkpoint_iteration, _record_iteration(scan.last))
        info.elapsed = max(info.elapsed, _number(scan.last.get("elapsed")) or 0.0)
    else:
        info.iteration = info.checkpoint_iteration

    info.has_checkpoint = store.has_checkpoint("last")
    problem = store.checkpoint_problem("last")
    if problem and (info.has_checkpoint or info.checkpoint_iteration > 0):
        info.problems.append(problem)
        info.has_checkpoint = False
    if store.has_checkpoint("best"):
        problem = store.checkpoint_problem("best")
        if problem:
            info.problems.append(problem)
    return info


def is_run_folder(path: Path) -> bool:
    return (path / "config.toml").exists() or (path / "summary.json").exists()


def list_runs(runs_dir: str | Path) -> list[RunInfo]:
    """Every run folder under ``runs_dir`` (a folder with a config.toml or summary.json).

    One damaged run never hides the others: whatever goes wrong reading it becomes a problem on
    its own row. An unreadable runs folder is a `RunError`.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise RunError(f"cannot read the runs folder {root}: {exc.strerror or exc}") from None
    rows = []
    for p in folders:
        try:
            if not is_run_folder(p):
                continue
            rows.append(run_info(p))
        except Exception as exc:  # a bug or a strange file must cost one row, not the list
            rows.append(
                RunInfo(
                    path=p,
                    name=p.name,
                    status="interrupted",
                    problems=[f"cannot read this run: {type(exc).__name__}: {exc}"],
                )
            )
    return rows


def delete_run(path: str | Path) -> None:
    """Delete a run folder for good. Refuses folders that are not runs and runs still training."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"no run folder at {path}")
    if not is_run_folder(path):
        raise RunError(
            f"{path} does not look like a run folder (no config.toml or summary.json); "
            "not deleting it"
        )
    store = RunStore(path)
    try:
        summary = store.read_summary()
    except RunError:
        summary = {}
    if summary and store.status(summary) == "running":
        raise RunError(f"run {summary.get('name', path.name)} is still training; stop it first")
    try:
        shutil.rmtree(path)
    except OSError as exc:
        raise RunError(f"could not delete {path}: {exc.strerror or exc}") from None
    absolute = Path(os.path.abspath(path))
    with _scan_lock:
        for key in [k for k in _scan_cache if absolute in k.parents]:
            del _scan_cache[key]
