"""Trainer and run folders: events, resume equality, and faults that must lose nothing."""

from __future__ import annotations

import errno
import json
import pickle
from pathlib import Path

import pytest
import torch

from workbench.config import ExperimentConfig, parse_overrides
from workbench.engine import events as ev
from workbench.engine.evaluation_run import load_run_learner
from workbench.engine.runs import RunStore, list_runs
from workbench.engine.trainer import Trainer
from workbench.errors import RunError
from workbench.presets import load_preset


def sinusoid_config(iterations: int = 30, **overrides: object) -> ExperimentConfig:
    c = load_preset("sinusoid-maml")
    sets = [
        f"train.iterations={iterations}",
        "train.meta_batch_size=4",
        "train.eval_every=10",
        "train.val_episodes=5",
        "train.checkpoint_every=5",
    ]
    sets += [f"{k.replace('__', '.')}={v}" for k, v in overrides.items()]
    return parse_overrides(sets, c).validate()


def iteration_losses(run: Path) -> list[tuple[int, float]]:
    records, problems = RunStore(run).read_metrics()
    assert not problems
    return [(r["iteration"], r["values"]["loss"]) for r in records if r["kind"] == "iteration"]


def test_events_and_run_folder(tmp_path):
    trainer = Trainer.create(sinusoid_config(12), tmp_path, name="first")
    seen: list[ev.TrainerEvent] = []
    trainer.subscribe(seen.append)
    assert trainer.run() == ev.FINISHED
    kinds = [e.kind for e in seen]
    assert kinds[0] == ev.STARTED and kinds[-1] == ev.FINISHED
    assert "inner loop" in seen[0].message  # which one (batched or per task) is in the log
    assert kinds.count(ev.ITERATION) == 12 and kinds.count(ev.EVALUATION) == 2
    it = next(e for e in seen if e.kind == ev.ITERATION)
    assert {"loss", "pre_loss", "meta_lr"} <= set(it.values)
    assert all(isinstance(v, float) for e in seen for v in e.values.values())
    run = trainer.store.path
    assert (run / "config.toml").exists() and (run / "checkpoints" / "last.pt").exists()
    assert (run / "checkpoints" / "best.pt").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["iteration"] == 12
    assert [r.status for r in list_runs(tmp_path)] == ["finished"]


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    config = sinusoid_config(30)
    full = Trainer.create(config, tmp_path / "a")
    full.run()
    part = Trainer.create(config, tmp_path / "b")
    part.subscribe(lambda e: part.stop() if e.kind == ev.ITERATION and e.iteration == 13 else None)
    assert part.run() == ev.STOPPED
    assert RunStore(part.store.path).status() == "stopped"
    resumed = Trainer.resume(part.store.path)
    assert resumed.iteration == 13
    assert resumed.run() == ev.FINISHED
    a, b = iteration_losses(full.store.path), iteration_losses(part.store.path)
    assert [i for i, _ in b] == list(range(1, 31))
    assert [i for i, _ in a] == [i for i, _ in b]
    assert [x for _, x in a] == pytest.approx([x for _, x in b], rel=1e-6, abs=1e-7)
    sa = full.store.load_checkpoint("last")["learner"]["model"]
    sb = part.store.load_checkpoint("last")["learner"]["model"]
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-6)


def test_pause_blocks_iterations_until_unpaused(tmp_path):
    import threading
    import time

    trainer = Trainer(sinusoid_config(200), *_parts(sinusoid_config(200)))
    thread = threading.Thread(target=trainer.run)
    trainer.pause()
    thread.start()
    time.sleep(0.3)
    assert trainer.iteration == 0
    trainer.unpause()
    deadline = time.time() + 20
    while trainer.iteration < 3 and time.time() < deadline:
        time.sleep(0.01)
    trainer.stop()
    thread.join(10)
    assert not thread.is_alive() and trainer.iteration >= 3


def _parts(config):
    from workbench.algorithms import build_learner
    from workbench.engine.trainer import load_data

    train, val, info = load_data(config)
    return build_learner(config, info, torch.device("cpu")), train, val


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path):
    config = sinusoid_config(40, algorithm__inner_lr=0.001)
    trainer = Trainer.create(config, tmp_path)
    seen: list[ev.TrainerEvent] = []
    trainer.subscribe(seen.append)

    def explode(e):  # after a first good checkpoint, make the inner learning rate absurd
        if e.kind == ev.CHECKPOINT and e.iteration == 5:
            trainer.learner.inner_lr = 1e30

    trainer.subscribe(explode)
    assert trainer.run() == ev.FAILED
    failed = seen[-1]
    assert failed.kind == ev.FAILED
    assert "NaN" in failed.message and "inner_lr" in failed.message
    assert "iteration 5" in failed.message
    state = trainer.store.load_checkpoint("last")
    assert state["iteration"] == 5
    assert all(torch.isfinite(v).all() for v in state["learner"]["model"].values())
    summary = trainer.store.read_summary()
    assert summary["status"] == "failed" and "NaN" in summary["error"]


def test_checkpoint_write_failure_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer.create(sinusoid_config(20), tmp_path)
    seen: list[ev.TrainerEvent] = []
    trainer.subscribe(seen.append)
    real_replace = __import__("os").replace
    calls = {"n": 0}

    def full_disk(src, dst):
        if str(dst).endswith("last.pt"):
            calls["n"] += 1
            if calls["n"] >= 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr("workbench.durable.os.replace", full_disk)
    assert trainer.run() == ev.FAILED
    assert "No space left on device" in seen[-1].message
    assert "previous checkpoint (iteration 5) is intact" in seen[-1].message
    monkeypatch.undo()
    state = trainer.store.load_checkpoint("last")
    assert state["iteration"] == 5
    assert not list(trainer.store.path.glob("checkpoints/.*tmp"))  # no half-written leftovers
    assert Trainer.resume(trainer.store.path).iteration == 5


def test_read_only_runs_folder_is_reported_before_training(tmp_path, monkeypatch):
    def read_only(self, data):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(RunError, match="not writable.*Read-only file system"):
        Trainer.create(sinusoid_config(5), tmp_path / "runs")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.undo()
    with pytest.raises(RunError, match="cannot create the runs folder"):
        Trainer.create(sinusoid_config(5), blocker / "runs")


def test_checkpoint_from_another_architecture_gives_a_clear_message(tmp_path):
    trainer = Trainer.create(sinusoid_config(5), tmp_path)
    trainer.run()
    run = trainer.store.path
    other = load_preset("demo")
    other.data.ways = 3
    (run / "config.toml").write_text(
        __import__("workbench.config", fromlist=["dumps"]).dumps(other)
    )
    with pytest.raises(RunError, match="another architecture"):
        load_run_learner(run, "last")


def test_checkpoints_load_safely_and_malicious_files_are_refused(tmp_path):
    trainer = Trainer.create(sinusoid_config(5), tmp_path)
    trainer.run()
    store = trainer.store

    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    with open(store.checkpoint_path("last"), "wb") as fh:
        pickle.dump({"learner": Evil()}, fh)
    with pytest.raises(RunError, match="cannot be loaded safely"):
        store.load_checkpoint("last")
    assert not (tmp_path / "pwned").exists()
    store.checkpoint_path("best").write_bytes(b"\x00garbage")
    with pytest.raises(RunError, match="cannot be loaded safely"):
        store.load_checkpoint("best")


def test_out_of_memory_stops_with_advice(tmp_path, monkeypatch):
    trainer = Trainer.create(sinusoid_config(10), tmp_path)
    seen: list[ev.TrainerEvent] = []
    trainer.subscribe(seen.append)

    def oom(batch, iteration):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer.learner, "meta_step", oom)
    assert trainer.run() == ev.FAILED
    assert "out of memory" in seen[-1].message and "smaller meta-batch" in seen[-1].message
    assert "first-order" in seen[-1].message
