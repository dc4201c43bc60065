"""The runs list: one row per run folder, with what is wrong with its files.

Listing never raises because of one run: a damaged summary, config, log or checkpoint becomes a
problem on that run's row, so the other runs stay visible.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import ExperimentConfig
from workbench.engine.runs.metrics import forget_scans, record_iteration, scan_metrics
from workbench.engine.runs.store import RunStore
from workbench.errors import RunError


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
    _read_summary_fields(info, store, summary)
    try:
        cfg = store.load_config()
        info.config = cfg
        info.algorithm, info.dataset = cfg.algorithm.name, cfg.data.dataset
        info.ways, info.shots = cfg.data.ways, cfg.data.shots
        info.total = info.total or cfg.train.iterations
    except RunError as exc:
        info.problems.append(str(exc))
    _read_metrics_fields(info)
    _check_checkpoints(info, store)
    return info


def _read_summary_fields(info: RunInfo, store: RunStore, summary: dict[str, Any]) -> None:
    info.name = str(summary.get("name") or info.path.name)
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
    raw_test = summary.get("test")
    test: dict[str, Any] = raw_test if isinstance(raw_test, dict) else {}
    info.test = dict(test)
    info.test_accuracy, info.test_ci95 = _number(test.get("accuracy")), _number(test.get("ci95"))
    info.test_mse, info.test_mse_ci95 = _number(test.get("mse")), _number(test.get("mse_ci95"))
    info.started = _number(summary.get("started"))
    info.updated = _number(summary.get("updated"))
    info.elapsed = _number(summary.get("elapsed")) or 0.0
    info.error = str(summary.get("error") or "") if info.status == "failed" else ""


def _read_metrics_fields(info: RunInfo) -> None:
    scan = scan_metrics(info.path)
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
        info.iteration = max(info.checkpoint_iteration, record_iteration(scan.last))
        info.elapsed = max(info.elapsed, _number(scan.last.get("elapsed")) or 0.0)
    else:
        info.iteration = info.checkpoint_iteration


def _check_checkpoints(info: RunInfo, store: RunStore) -> None:
    info.has_checkpoint = store.has_checkpoint("last")
    problem = store.checkpoint_problem("last")
    if problem and (info.has_checkpoint or info.checkpoint_iteration > 0):
        info.problems.append(problem)
        info.has_checkpoint = False
    if store.has_checkpoint("best"):
        problem = store.checkpoint_problem("best")
        if problem:
            info.problems.append(problem)


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
    forget_scans(path)
