"""Run folders: listing with damaged files, process liveness, incremental metrics scans,
rename/delete, comparison and curve exports, TensorBoard, and a stored evaluation."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from workbench.cli import main
from workbench.config import ExperimentConfig, parse_overrides
from workbench.engine import run_export
from workbench.engine.runs import (
    RunStore,
    delete_run,
    list_runs,
    protocol_text,
    run_info,
    scan_metrics,
)
from workbench.errors import RunError
from workbench.presets import load_preset


def make_run(
    runs_dir: Path,
    name: str,
    *,
    overrides: tuple[str, ...] = (),
    iterations: int = 20,
    status: str = "finished",
    best: tuple[float, float] | None = (0.71234, 0.01501),
    test: dict | None = None,
    checkpoint: bool = True,
) -> RunStore:
    """A run folder as the trainer leaves it, without training (fast)."""
    config = parse_overrides([f"train.iterations={iterations}", *overrides], ExperimentConfig())
    store = RunStore.create(runs_dir, config, name)
    for i in range(1, iterations + 1):
        store.append_metric(
            {
                "kind": "iteration",
                "iteration": i,
                "total": iterations,
                "elapsed": 0.5 * i,
                "values": {"loss": 2.0 / i, "accuracy": i / 40},
            }
        )
        if i % 10 == 0:
            store.append_metric(
                {
                    "kind": "evaluation",
                    "iteration": i,
                    "total": iterations,
                    "elapsed": 0.5 * i,
                    "values": {"val_query_accuracy_post": 0.5 + i / 100, "val_ci95": 0.02},
                }
            )
    store.close()
    if checkpoint:
        store.save_checkpoint({"learner": {"model": {}}, "iteration": iterations}, "last")
    fields = {"status": status, "iteration": iterations, "elapsed": 0.5 * iterations}
    if best is not None:
        fields.update(best_accuracy=best[0], best_ci95=best[1], best_iteration=iterations)
    if test is not None:
        fields["test"] = test
    store.write_summary(**fields)
    return store


# -- listing and damaged files ---------------------------------------------------------------------


def test_damaged_files_are_reported_on_their_own_row_and_never_hide_the_others(
    tmp_path: Path,
) -> None:
    good = make_run(tmp_path, "good")
    truncated = make_run(tmp_path, "truncated-log")
    with open(truncated.metrics_path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "iteration", "iteration": 21, "tot')  # killed mid-write
    corrupt = make_run(tmp_path, "corrupt-line")
    lines = corrupt.metrics_path.read_text().splitlines(keepends=True)
    lines[3] = "not json at all\n"
    corrupt.metrics_path.write_text("".join(lines))
    no_checkpoint = make_run(tmp_path, "no-checkpoint", checkpoint=False)
    bad_config = make_run(tmp_path, "bad-config")
    bad_config.config_path.write_text("[data\nways = ???\n")
    bad_summary = make_run(tmp_path, "bad-summary")
    bad_summary.summary_path.write_text('{"name": "bad-summary", "stat')
    empty_checkpoint = make_run(tmp_path, "empty-checkpoint")
    empty_checkpoint.checkpoint_path("last").write_bytes(b"")
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / ".creating-20250101-000000-x").mkdir()  # a run being created

    rows = {r.path: r for r in list_runs(tmp_path)}
    assert len(rows) == 7

    assert rows[good.path].problems == []
    assert rows[good.path].status == "finished"
    assert rows[good.path].best_accuracy == 0.71234
    assert any("half-written" in p for p in rows[truncated.path].problems)
    assert rows[truncated.path].iteration == 20
    assert any("line 4" in p for p in rows[corrupt.path].problems)
    assert rows[no_checkpoint.path].problems == ["checkpoints/last.pt is missing"]
    assert not rows[no_checkpoint.path].resumable
    assert any("config.toml" in p for p in rows[bad_config.path].problems)
    assert rows[bad_config.path].config is None
    assert rows[bad_config.path].name == "bad-config"  # from the summary, still readable
    assert any("summary.json" in p for p in rows[bad_summary.path].problems)
    assert rows[bad_summary.path].algorithm == "maml"  # from the config, still readable
    assert any("damaged" in p for p in rows[empty_checkpoint.path].problems)
    assert not rows[empty_checkpoint.path].has_checkpoint


def test_unreadable_runs_folder_is_a_readable_error(tmp_path: Path, monkeypatch) -> None:
    def boom(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", boom)
    with pytest.raises(RunError, match="cannot read the runs folder"):
        list_runs(tmp_path)


def test_missing_runs_folder_lists_nothing(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "does-not-exist") == []


def test_running_with_a_dead_process_is_interrupted(tmp_path: Path) -> None:
    store = make_run(tmp_path, "run", status="running")
    assert run_info(store.path).status == "running"  # our own pid: alive
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store.write_summary(pid=child.pid)
    info = run_info(store.path)
    assert info.status == "interrupted"
    assert info.resumable is False  # all 20 of 20 iterations are in the checkpoint
    store.write_summary(total=40)
    assert run_info(store.path).resumable
    store.write_summary(status="bogus")
    assert run_info(store.path).status == "interrupted"


def test_a_killed_process_not_yet_reaped_is_not_alive(tmp_path: Path) -> None:
    """A zombie still has its pid and creation time; it must not keep its run running."""
    store = make_run(tmp_path, "run", status="running")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store.write_summary(pid=child.pid, pid_created=psutil.Process(child.pid).create_time())
        assert run_info(store.path).status == "running"
        child.kill()
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        assert run_info(store.path).status == "interrupted"
    finally:
        child.kill()
        child.wait()


def test_a_run_of_another_machine_is_assumed_alive(tmp_path: Path) -> None:
    """Its process cannot be seen from here (a shared runs folder), so it is never offered for
    resuming or deleting."""
    store = make_run(tmp_path, "run", status="running")
    store.write_summary(host="another-machine", pid=1, pid_created=0.0)
    assert run_info(store.path).status == "running"
    with pytest.raises(RunError, match="still training"):
        delete_run(store.path)


def test_concurrent_summary_updates_lose_no_field(tmp_path: Path) -> None:
    """The trainer and the Runs view update summary.json at once: the lock keeps each
    read-modify-write whole, so every thread's field survives."""
    store = make_run(tmp_path, "run")

    def update(n: int) -> None:
        for i in range(20):
            RunStore(store.path).write_summary(**{f"field_{n}_{i}": i})

    threads = [threading.Thread(target=update, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = store.read_summary()
    assert all(summary[f"field_{n}_{i}"] == i for n in range(4) for i in range(20))
    assert not list(store.path.glob(".summary.json.*"))  # no temporary file left


def test_create_never_shows_a_half_made_run_and_names_are_unique(tmp_path: Path) -> None:
    config = ExperimentConfig()
    a = RunStore.create(tmp_path, config, "same")
    b = RunStore.create(tmp_path, config, "same")
    assert a.path != b.path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([a.path.name, b.path.name])
    for store in (a, b):
        assert store.config_path.exists() and store.read_summary()["status"] == "running"


# -- metrics --------------------------------------------------------------------------------------


def test_metrics_scan_reads_only_what_was_appended(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, ExperimentConfig(), "scan")
    for i in range(1, 4):
        store.append_metric({"kind": "iteration", "iteration": i, "values": {}})
    first = scan_metrics(store.path)
    assert (first.count, first.last["iteration"], first.partial_tail) == (3, 3, False)
    store.close()
    with open(store.metrics_path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "iteration", "iteration": 4, "values": {}}\n{"kind": "itera')
    second = scan_metrics(store.path)
    assert (second.count, second.last["iteration"], second.partial_tail) == (4, 4, True)
    with open(store.metrics_path, "a", encoding="utf-8") as fh:
        fh.write('tion", "iteration": 5, "values": {}}\n')
    third = scan_metrics(store.path)
    assert (third.count, third.last["iteration"], third.partial_tail) == (5, 5, False)
    store.truncate_metrics(2)  # a rewrite (new file): scanned afresh
    again = scan_metrics(store.path)
    assert (again.count, again.last["iteration"]) == (2, 2)


def test_truncate_metrics_keeps_the_log_up_to_the_checkpoint(tmp_path: Path) -> None:
    store = make_run(tmp_path, "cut", iterations=20)
    store.append_metric({"kind": "finished", "iteration": 20, "values": {}})
    store.close()
    with open(store.metrics_path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "iter')
    store.truncate_metrics(10)
    records, problems = store.read_metrics()
    assert problems == []
    assert max(r["iteration"] for r in records) == 10
    assert [r["kind"] for r in records].count("evaluation") == 1
    assert not any(r["kind"] == "finished" for r in records)


# -- rename / delete ------------------------------------------------------------------------------


def test_rename_edits_the_summary_name_only(tmp_path: Path) -> None:
    store = make_run(tmp_path, "old")
    folder = store.path.name
    assert store.rename("  MAML   first order ") == "MAML first order"
    assert run_info(store.path).name == "MAML first order"
    assert store.path.name == folder
    with pytest.raises(RunError, match="empty"):
        store.rename("   ")


def test_delete_refuses_running_runs_and_foreign_folders(tmp_path: Path) -> None:
    running = make_run(tmp_path, "running", status="running")
    with pytest.raises(RunError, match="still training"):
        delete_run(running.path)
    other = tmp_path / "holiday-photos"
    other.mkdir()
    with pytest.raises(RunError, match="does not look like a run"):
        delete_run(other)
    done = make_run(tmp_path, "done")
    delete_run(done.path)
    assert not done.path.exists()
    assert other.exists() and running.path.exists()


# -- exports --------------------------------------------------------------------------------------


TEST_RESULT = {
    "accuracy": 0.6843217,
    "ci95": 0.0123456,
    "mse": None,
    "mse_ci95": None,
    "episodes": 600,
    "steps": 5,
    "split": "test",
    "checkpoint": "best",
    "seed": 1234,
}


def _three_runs(tmp_path: Path) -> list[RunStore]:
    return [
        make_run(
            tmp_path,
            "maml-a",
            overrides=("algorithm.inner_lr=0.4", "train.meta_lr=0.003"),
            best=(0.7123456, 0.0211111),
            test=TEST_RESULT,
        ),
        make_run(
            tmp_path,
            "maml-b",
            overrides=("algorithm.inner_lr=0.1", "train.meta_lr=0.001"),
            best=(0.6512345, 0.0199999),
        ),
        make_run(
            tmp_path,
            "proto",
            overrides=("algorithm.name=protonet", "train.meta_lr=0.001"),
            best=(0.8011111, 0.0155555),
        ),
    ]


def test_comparison_csv_holds_the_stored_numbers_and_the_differing_keys(tmp_path: Path) -> None:
    runs = _three_runs(tmp_path)
    comparison = run_export.compare_runs([r.path for r in runs])
    rows = list(csv.DictReader(io.StringIO(run_export.comparison_csv(comparison))))
    assert [r["run"] for r in rows] == ["maml-a", "maml-b", "proto"]
    for key in run_export.KEY_PARAMETERS:
        assert key in rows[0]
    assert "train.meta_lr" in rows[0]  # differs
    assert "train.seed" not in rows[0]  # the same everywhere
    assert float(rows[0]["best_val_accuracy"]) == 0.7123456
    assert float(rows[0]["best_val_ci95"]) == 0.0211111
    assert float(rows[1]["best_val_accuracy"]) == 0.6512345
    assert float(rows[0]["test_accuracy"]) == 0.6843217
    assert float(rows[0]["test_ci95"]) == 0.0123456
    assert (rows[0]["test_episodes"], rows[0]["test_steps"], rows[0]["test_split"]) == (
        "600",
        "5",
        "test",
    )
    assert rows[1]["test_accuracy"] == ""
    assert rows[0]["algorithm.inner_lr"] == "0.4"
    assert rows[2]["algorithm.inner_lr"] == run_export.NOT_APPLICABLE  # protonet has no inner loop
    assert rows[2]["algorithm.name"] == "protonet"


def test_comparison_markdown_shows_results_with_their_protocols(tmp_path: Path) -> None:
    runs = _three_runs(tmp_path)
    text = run_export.comparison_markdown(run_export.compare_runs([r.path for r in runs]))
    lines = text.splitlines()
    assert lines[0].startswith("| run | algorithm | dataset | ways | shots | inner_lr |")
    assert "train.meta_lr" in lines[0]
    assert len([line for line in lines if line.startswith("| ")]) == 4  # header + 3 runs
    maml_a = next(line for line in lines if line.startswith("| maml-a "))
    assert "71.23% ± 2.11% @ 20" in maml_a
    assert "68.43% ± 1.23%" in maml_a
    assert "600 episodes, 5 inner steps, test split, best checkpoint, seed 1234" in maml_a
    assert "80.11% ± 1.56%" in text
    assert protocol_text(TEST_RESULT) in text


def test_curves_csv_has_every_logged_number(tmp_path: Path) -> None:
    runs = _three_runs(tmp_path)[:2]
    header, rows, problems = run_export.curves_table([r.path for r in runs])
    assert problems == []
    assert header[:5] == ["run", "folder", "kind", "iteration", "elapsed_s"]
    assert len(rows) == 2 * (20 + 2)
    text = run_export.curves_csv([r.path for r in runs])
    parsed = list(csv.DictReader(io.StringIO(text)))
    step7 = next(
        r
        for r in parsed
        if r["run"] == "maml-b" and r["kind"] == "iteration" and r["iteration"] == "7"
    )
    assert float(step7["loss"]) == 2.0 / 7
    val = [r for r in parsed if r["run"] == "maml-a" and r["kind"] == "evaluation"]
    assert [float(r["val_query_accuracy_post"]) for r in val] == [0.6, 0.7]


def test_export_files_and_cli(tmp_path: Path, capsys) -> None:
    runs = _three_runs(tmp_path / "runs")
    md, table, curves = tmp_path / "out" / "c.md", tmp_path / "out" / "c.csv", tmp_path / "k.csv"
    assert (
        main(
            [
                "runs",
                "--runs-dir",
                str(tmp_path / "runs"),
                "--export-md",
                str(md),
                "--export-csv",
                str(table),
                "--curves",
                str(curves),
            ]
        )
        == 0
    )
    assert "71.23% ± 2.11%" in md.read_text()
    assert len(list(csv.DictReader(table.open()))) == 3
    assert len(curves.read_text().splitlines()) == 1 + 3 * 22
    one = tmp_path / "one.md"
    assert main(["runs", str(runs[1].path), "--export-md", str(one)]) == 0
    assert "maml-b" in one.read_text() and "maml-a" not in one.read_text()
    printed = capsys.readouterr().out
    assert str(md) in printed and str(one) in printed
    with pytest.raises(RunError, match="could not write"):
        run_export.write_text(tmp_path / "k.csv" / "inside-a-file.md", "x")


class FakeWriter:
    def __init__(self, log_dir: str) -> None:
        self.log_dir, self.scalars, self.texts, self.closed = log_dir, [], [], False

    def add_scalar(self, tag, value, step, walltime=None):
        self.scalars.append((tag, value, step))

    def add_text(self, tag, text):
        self.texts.append((tag, text))

    def close(self):
        self.closed = True


def test_tensorboard_export_maps_training_and_validation_scalars(tmp_path: Path) -> None:
    store = make_run(tmp_path / "runs", "tb")
    writers: list[FakeWriter] = []
    log_dir = run_export.export_tensorboard(
        store.path,
        tmp_path / "tb",
        writer_factory=lambda d: writers.append(FakeWriter(d)) or writers[-1],
    )
    writer = writers[0]
    assert log_dir == tmp_path / "tb" / store.path.name and writer.closed
    assert ("train/loss", 1.0, 2) in writer.scalars
    assert ("val/query_accuracy_post", 0.7, 20) in writer.scalars
    assert len([s for s in writer.scalars if s[0] == "train/loss"]) == 20
    assert writer.texts[0][0] == "config" and "[algorithm]" in writer.texts[0][1]


def test_tensorboard_reads_back_exactly_the_exported_scalars(tmp_path: Path) -> None:
    """Read with TensorBoard's own event reader, not a fake writer."""
    import numpy as np
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store = make_run(tmp_path / "runs", "tb")
    log_dir = run_export.export_tensorboard(store.path, tmp_path / "tb")
    events = EventAccumulator(str(log_dir))
    events.Reload()
    records, _ = store.read_metrics()
    expected: dict[str, list[tuple[int, float]]] = {}
    for r in records:
        if r.get("kind") not in ("iteration", "evaluation"):
            continue
        prefix = "train" if r["kind"] == "iteration" else "val"
        for key, value in r["values"].items():
            name = key[4:] if prefix == "val" and key.startswith("val_") else key
            expected.setdefault(f"{prefix}/{name}", []).append((r["iteration"], value))
    assert sorted(events.Tags()["scalars"]) == sorted(expected)
    for tag, points in expected.items():
        read = [(e.step, e.value) for e in events.Scalars(tag)]
        # TensorBoard keeps scalars as 32-bit floats: exact at that precision
        assert read == [(step, float(np.float32(v))) for step, v in points], tag
    assert len(expected["train/loss"]) == 20


# -- a stored evaluation --------------------------------------------------------------------------


def test_evaluation_is_stored_in_the_summary_and_listed_with_its_protocol(tmp_path: Path) -> None:
    from workbench.engine.evaluation_run import evaluate_run
    from workbench.engine.trainer import Trainer

    config = parse_overrides(
        [
            "train.iterations=4",
            "train.meta_batch_size=2",
            "train.eval_every=2",
            "train.val_episodes=2",
            "train.checkpoint_every=2",
            "train.device=cpu",
        ],
        load_preset("sinusoid-maml"),
    ).validate()
    trainer = Trainer.create(config, tmp_path, name="evaluated")
    assert trainer.run() == "finished"
    path = trainer.store.path

    cancel = threading.Event()
    cancel.set()
    cancelled = evaluate_run(path, episodes=5, steps=2, cancel=cancel)
    assert cancelled.cancelled and run_info(path).test == {}

    result = evaluate_run(path, episodes=5, steps=2)
    info = run_info(path)
    assert info.test_mse == result.mse and info.test_mse_ci95 == result.mse_ci95
    assert info.best_mse is not None and info.best_iteration in (2, 4)
    assert protocol_text(info.test).startswith("5 episodes, 2 inner steps, test split")
    rows = list(
        csv.DictReader(io.StringIO(run_export.comparison_csv(run_export.compare_runs([path]))))
    )
    assert float(rows[0]["test_mse"]) == result.mse
    assert json.loads(info.path.joinpath("summary.json").read_text())["test"]["episodes"] == 5
    assert os.path.exists(info.path / "checkpoints" / "best.pt")
