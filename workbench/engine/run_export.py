"""Runs out of the workbench: curves as CSV, comparison tables for papers and slides, TensorBoard.

A comparison table lists, for each run, the hyperparameters that matter for reading it (the key
ones, plus every config value that differs between the runs compared) and its results with the
protocol behind them: best validation accuracy ± 95% CI (or query MSE for regression) and the
stored test result with its episodes, inner steps, split and checkpoint. CSV keeps full
precision for further processing; Markdown rounds for reading.

No Qt here: the Runs view and ``workbench runs --export-*`` both call these functions.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.durable import atomic_write_text
from workbench.engine.runs import RunInfo, RunStore, protocol_text, run_info
from workbench.errors import RunError

#: always shown, in this order: what a reader needs to place any few-shot result
KEY_PARAMETERS = (
    "algorithm.name",
    "data.dataset",
    "data.ways",
    "data.shots",
    "algorithm.inner_lr",
    "algorithm.inner_steps",
    "train.meta_batch_size",
    "train.iterations",
)
#: short column titles for the key parameters
KEY_TITLES = {
    "algorithm.name": "algorithm",
    "data.dataset": "dataset",
    "data.ways": "ways",
    "data.shots": "shots",
    "algorithm.inner_lr": "inner_lr",
    "algorithm.inner_steps": "inner_steps",
    "train.meta_batch_size": "meta_batch_size",
    "train.iterations": "iterations",
}
#: settings that cannot change a result (where it ran, how often it saved): never "differences"
BOOKKEEPING = ("train.device", "train.batched", "train.checkpoint_every")
#: the order curve columns come in (the rest follow alphabetically)
_CURVE_ORDER = ("loss", "accuracy", "pre_loss", "pre_accuracy", "meta_lr")

NOT_APPLICABLE = "n/a"


@dataclass
class Comparison:
    """Runs side by side: ``parameters`` are dotted config keys; ``values[i][key]`` is run i's
    value, `NOT_APPLICABLE` where the key does not matter for its algorithm or dataset, or None
    when its config could not be read."""

    runs: list[RunInfo]
    parameters: list[str]
    values: list[dict[str, Any]]


def compare_runs(paths: Sequence[str | Path]) -> Comparison:
    """Collect the runs' hyperparameters (key ones + those that differ, bookkeeping aside) and
    results."""
    if not paths:
        raise RunError("choose at least one run to compare")
    infos = [run_info(Path(p)) for p in paths]
    configs = [i.config for i in infos]
    readable = [c for c in configs if c is not None]
    differing: list[str] = []
    if len(readable) > 1:
        for key, _field, _value in readable[0].fields():
            if key in KEY_PARAMETERS or key in BOOKKEEPING:
                continue
            seen = {repr(c.get(key)) if c.applies(key) else NOT_APPLICABLE for c in readable}
            if len(seen) > 1:
                differing.append(key)
    parameters = list(KEY_PARAMETERS) + differing
    values = []
    for config in configs:
        row: dict[str, Any] = {}
        for key in parameters:
            if config is None:
                row[key] = None
            elif config.applies(key):
                row[key] = config.get(key)
            else:
                row[key] = NOT_APPLICABLE
        values.append(row)
    return Comparison(infos, parameters, values)


# -- formatting -------------------------------------------------------------------------------


def _percent(value: float | None, ci: float | None) -> str:
    if value is None:
        return ""
    text = f"{100 * value:.2f}%"
    return text + (f" ± {100 * ci:.2f}%" if ci is not None else "")


def _mse(value: float | None, ci: float | None) -> str:
    if value is None:
        return ""
    text = f"MSE {value:.4g}"
    return text + (f" ± {ci:.2g}" if ci is not None else "")


def best_text(info: RunInfo, at: bool = True) -> str:
    """Best validation result for reading, e.g. '71.20% ± 2.10% @ 800' (``at``: with the
    iteration it was reached at)."""
    if info.best_accuracy is not None:
        text = _percent(info.best_accuracy, info.best_ci95)
    elif info.best_mse is not None:
        text = _mse(info.best_mse, info.best_ci95)
    else:
        return ""
    return text + (f" @ {info.best_iteration}" if at and info.best_iteration is not None else "")


def result_text(info: RunInfo) -> str:
    """The stored test result for reading (its protocol is `protocol_text(info.test)`)."""
    if info.test_accuracy is not None:
        return _percent(info.test_accuracy, info.test_ci95)
    if info.test_mse is not None:
        return _mse(info.test_mse, info.test_mse_ci95)
    return ""


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") or " "


def _title(key: str) -> str:
    return KEY_TITLES.get(key, key)


def comparison_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured Markdown table (one row per run) and a note on the protocols."""
    header = (
        ["run"]
        + [_title(k) for k in comparison.parameters]
        + ["status", "done", "best val", "test", "test protocol"]
    )
    lines = [
        "| " + " | ".join(_md_cell(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for info, values in zip(comparison.runs, comparison.values):
        cells = (
            [info.name]
            + [_plain(values[k]) for k in comparison.parameters]
            + [
                info.status,
                f"{info.iteration}/{info.total}",
                best_text(info),
                result_text(info),
                protocol_text(info.test),
            ]
        )
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    notes = _validation_protocols(comparison.runs)
    lines += [
        "",
        "Best val: the best validation result during training, mean ± 95% CI over the "
        f"run's fixed validation episodes ({notes}); '@ N' is the iteration. "
        "Test: the stored evaluation, mean ± 95% CI, with its protocol.",
    ]
    return "\n".join(lines) + "\n"


def _validation_protocols(runs: Sequence[RunInfo]) -> str:
    protocols = []
    for info in runs:
        if info.config is None:
            continue
        steps = info.config.algorithm.inner_steps
        text = (
            f"{info.config.train.val_episodes} episodes, "
            f"{steps} inner step{'' if steps == 1 else 's'}"
        )
        if text not in protocols:
            protocols.append(text)
    return "; ".join(protocols) if protocols else "protocol unknown"


CSV_RESULT_COLUMNS = (
    "status",
    "iteration",
    "total",
    "best_iteration",
    "best_val_accuracy",
    "best_val_ci95",
    "best_val_mse",
    "test_accuracy",
    "test_ci95",
    "test_mse",
    "test_mse_ci95",
    "test_episodes",
    "test_steps",
    "test_split",
    "test_checkpoint",
    "test_seed",
    "val_episodes",
    "elapsed_s",
)


def comparison_csv(comparison: Comparison) -> str:
    """The same comparison as CSV, numbers at full precision (dotted config keys as columns)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run", "folder"] + comparison.parameters + list(CSV_RESULT_COLUMNS))
    for info, values in zip(comparison.runs, comparison.values):
        best_mse = info.best_mse
        best_ci = info.best_ci95
        test = info.test
        results = {
            "status": info.status,
            "iteration": info.iteration,
            "total": info.total,
            "best_iteration": info.best_iteration,
            "best_val_accuracy": info.best_accuracy,
            "best_val_ci95": best_ci,
            "best_val_mse": best_mse,
            "test_accuracy": info.test_accuracy,
            "test_ci95": info.test_ci95,
            "test_mse": info.test_mse,
            "test_mse_ci95": info.test_mse_ci95,
            "test_episodes": test.get("episodes"),
            "test_steps": test.get("steps"),
            "test_split": test.get("split"),
            "test_checkpoint": test.get("checkpoint"),
            "test_seed": test.get("seed"),
            "val_episodes": info.config.train.val_episodes if info.config else None,
            "elapsed_s": info.elapsed,
        }
        writer.writerow(
            [info.name, info.path.name]
            + [_csv_value(values[k]) for k in comparison.parameters]
            + [_csv_value(results[c]) for c in CSV_RESULT_COLUMNS]
        )
    return out.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


# -- curves -------------------------------------------------------------------------------------


def curves_table(paths: Sequence[str | Path]) -> tuple[list[str], list[list[Any]], list[str]]:
    """Every iteration and evaluation record of the runs, one row each: header, rows and the
    problems met (damaged lines are skipped and reported, never fatal)."""
    if not paths:
        raise RunError("choose at least one run to export")
    per_run: list[tuple[str, str, list[dict[str, Any]]]] = []
    keys: set[str] = set()
    problems: list[str] = []
    for p in paths:
        store = RunStore(p)
        info = run_info(store.path)
        records, found = store.read_metrics()
        problems += [f"{info.name}: {f}" for f in found]
        kept = [
            r
            for r in records
            if r.get("kind") in ("iteration", "evaluation") and isinstance(r.get("values"), dict)
        ]
        for r in kept:
            keys.update(str(k) for k in r["values"])
        per_run.append((info.name, store.path.name, kept))
    ordered = [k for k in _CURVE_ORDER if k in keys] + sorted(keys - set(_CURVE_ORDER))
    header = ["run", "folder", "kind", "iteration", "elapsed_s"] + ordered
    rows = []
    for name, folder, records in per_run:
        for r in records:
            values = r["values"]
            rows.append(
                [name, folder, r.get("kind"), r.get("iteration"), r.get("elapsed")]
                + [values.get(k) for k in ordered]
            )
    return header, rows, problems


def curves_csv(paths: Sequence[str | Path]) -> str:
    header, rows, _ = curves_table(paths)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return out.getvalue()


# -- files --------------------------------------------------------------------------------------


def write_text(path: str | Path, text: str) -> Path:
    """Write an export, turning file-system errors into a readable `RunError`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as exc:
        raise RunError(f"could not write {path}: {exc.strerror or exc}") from None
    return path


def export_comparison(paths: Sequence[str | Path], out: str | Path) -> Path:
    """A comparison table; Markdown for ``.md``/``.markdown``, CSV otherwise."""
    comparison = compare_runs(paths)
    markdown = Path(out).suffix.lower() in (".md", ".markdown")
    return write_text(
        out, comparison_markdown(comparison) if markdown else comparison_csv(comparison)
    )


def export_curves(paths: Sequence[str | Path], out: str | Path) -> Path:
    return write_text(out, curves_csv(paths))


# -- TensorBoard (optional) ---------------------------------------------------------------------


def tensorboard_available() -> bool:
    """True when the ``tensorboard`` package is installed (it is not a dependency)."""
    return importlib.util.find_spec("tensorboard") is not None


def _summary_writer(log_dir: str) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RunError(
            "TensorBoard export needs the tensorboard package (pip install tensorboard)"
        ) from None
    return SummaryWriter(log_dir=log_dir)


def export_tensorboard(
    run_dir: str | Path, out_dir: str | Path, writer_factory: Callable[[str], Any] | None = None
) -> Path:
    """Write a run's scalars as TensorBoard events in ``out_dir/<run folder>``: training
    figures under ``train/``, validation under ``val/``, the config as text. Returns the log
    folder. ``writer_factory`` (a log dir -> SummaryWriter-like object) is for tests."""
    store = RunStore(run_dir)
    if not store.path.is_dir():
        raise RunError(f"no run folder at {store.path}")
    records, _ = store.read_metrics()
    log_dir = Path(out_dir) / store.path.name
    writer = (writer_factory or _summary_writer)(str(log_dir))
    started = None
    try:
        started = float(store.read_summary().get("started") or 0) or None
    except RunError:
        pass
    try:
        for r in records:
            kind = r.get("kind")
            if kind not in ("iteration", "evaluation") or not isinstance(r.get("values"), dict):
                continue
            prefix = "train" if kind == "iteration" else "val"
            step = int(r.get("iteration", 0))
            walltime = started + float(r.get("elapsed", 0.0)) if started else None
            for key, value in r["values"].items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    name = key[4:] if prefix == "val" and key.startswith("val_") else key
                    writer.add_scalar(f"{prefix}/{name}", float(value), step, walltime=walltime)
        try:
            writer.add_text("config", "```toml\n" + store.config_path.read_text("utf-8") + "\n```")
        except OSError:
            pass
    finally:
        writer.close()
    return log_dir
