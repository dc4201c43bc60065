"""Training with several processes (torch.distributed, started by torchrun) on the CPU.

Two gloo ranks must give what one process gives with the same config and seed: the same
per-iteration losses and validation figures, and the same parameters (float tolerance), for
second-order MAML, Meta-SGD and MAML++ with BatchNorm running statistics. A killed rank leaves
an interrupted run that resumes to completion; a stop is agreed by all ranks; bad requests fail
before any process starts. Every launch here is the real one (torchrun), with one thread per
rank on the loopback interface.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from torch import nn

from workbench.cli import main
from workbench.config import ExperimentConfig, parse_overrides
from workbench.engine.distributed.devices import list_devices
from workbench.engine.distributed.launch import Launch
from workbench.engine.distributed.plan import LaunchError, plan_launch
from workbench.engine.distributed.shares import share, shares
from workbench.engine.runs import RunStore, list_runs
from workbench.engine.trainer import Trainer, pick_device
from workbench.errors import ConfigError, TrainingError
from workbench.presets import load_preset

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="needs torch.distributed with gloo",
)

#: a launch's ranks and the reference process each take one thread; loopback only
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
TINY_GLYPHS = [
    "train.device=cpu",
    "train.meta_batch_size=4",
    "train.iterations=10",
    "train.eval_every=5",
    "train.val_episodes=6",
    "train.checkpoint_every=5",
    "model.hidden=8",
    "data.queries=2",
    # One inner step, as the MAML paper trains on Omniglot. With two, float rounding alone
    # makes runs part after ~9 iterations (ReLU and max-pool are piecewise: a last-bit change
    # can flip which input wins): one process with the task-batched path and one with the
    # per-task loop part the same way, so that is no property of several processes.
    "algorithm.inner_steps=1",
]


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)


def config_of(preset: str, *sets: str) -> ExperimentConfig:
    return parse_overrides(list(sets), load_preset(preset)).validate()


def records(run: Path, kind: str) -> list[dict]:
    found, problems = RunStore(run).read_metrics()
    assert not problems
    return [r for r in found if r["kind"] == kind]


def reference_run(config: ExperimentConfig, runs: Path) -> Path:
    """The same experiment in this process, alone."""
    trainer = Trainer.create(config.copy(), runs, name="one-process")
    assert trainer.run() == "finished"
    assert trainer.store is not None
    return trainer.store.path


def launch_and_wait(config: ExperimentConfig, runs: Path, nproc: int = 2) -> Path:
    launch = Launch(plan_launch(config, nproc), config, runs_dir=runs, name="two-processes")
    launch.start()
    code = launch.wait(timeout=600)
    log = launch.log_path.read_text(errors="replace") if launch.log_path.exists() else ""
    assert code == 0, log[-3000:]
    assert launch.failures() == [] and launch.status() == "finished"
    run = launch.run_dir()
    assert run is not None
    launch.close()
    return run


def bias_before_batchnorm(model: nn.Module) -> set[str]:
    """Conv biases that a BatchNorm subtracts again: they do not change the function, their
    true gradient is zero, and Adam turns the float noise of that zero (1e-9) into full steps
    of +-meta_lr, in one process as in two. Compared through the model's outputs instead."""
    names = set()
    for parent_name, parent in model.named_modules():
        children = list(parent.named_children())
        for (name, child), (_, after) in zip(children, children[1:]):
            if isinstance(child, nn.Conv2d) and isinstance(after, nn.modules.batchnorm._BatchNorm):
                names.add(f"{parent_name}.{name}.bias".lstrip("."))
    return names


def assert_same_training(mine: Path, theirs: Path, *, running_means: bool = False) -> None:
    """Per-iteration losses, validation figures, checkpoints and outputs agree.

    ``running_means``: BatchNorm running means follow the conv biases before them, whose
    Adam noise (see `bias_before_batchnorm`) they absorb; they are compared to that noise
    (0.05). Validation, which normalises with them at test time where nothing cancels the
    biases any more, then parts from one process's (measured: 4e-4 at iteration 5, 8% at 10,
    a query prediction flips), so only its iterations are compared. Running variances, which
    no bias shifts, and update counts are compared as tightly as everything else; the merge
    itself is checked exactly by `test_running_statistics_merge_is_exact`."""
    for kind in ("iteration", "evaluation"):
        a, b = records(mine, kind), records(theirs, kind)
        assert [r["iteration"] for r in a] == [r["iteration"] for r in b] and a
        for x, y in zip(a, b):
            assert x["values"].keys() == y["values"].keys()
            for key, value in x["values"].items():
                if kind == "evaluation" and running_means:
                    continue
                assert value == pytest.approx(y["values"][key], rel=1e-5, abs=1e-6), (kind, key)
    config = RunStore(theirs).load_config()
    learners = []
    for run in (mine, theirs):
        state = RunStore(run).load_checkpoint("last")
        assert state["iteration"] == config.train.iterations
        learners.append(state["learner"])
    skip = bias_before_batchnorm(_model_of(config))
    for name, tensor in learners[1]["model"].items():
        if name not in skip:
            assert torch.allclose(learners[0]["model"][name], tensor, rtol=1e-4, atol=1e-5), name
    for part, values in learners[1]["extra"].items():  # learned rates, per-step BatchNorm
        for name, tensor in values.items():
            atol = 0.05 if running_means and name.endswith("running_mean") else 1e-5
            mine_value = learners[0]["extra"][part][name].double()
            assert torch.allclose(mine_value, tensor.double(), rtol=1e-4, atol=atol), name
    outputs = [_outputs(config, state) for state in learners]  # training-mode BatchNorm
    assert torch.allclose(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)


def _model_of(config: ExperimentConfig) -> nn.Module:
    from workbench.algorithms import build_learner
    from workbench.engine.trainer import load_data

    _, _, info = load_data(config)
    return build_learner(config, info, torch.device("cpu")).model


def _outputs(config: ExperimentConfig, learner_state: dict) -> torch.Tensor:
    """The trained model's outputs on fixed validation episodes (training-mode BatchNorm)."""
    from workbench.algorithms import build_learner
    from workbench.engine.trainer import load_data

    _, val, info = load_data(config)
    learner = build_learner(config, info, torch.device("cpu"))
    learner.load_state_dict(learner_state)
    batch = val.batch(0, 2)
    with torch.no_grad():
        return torch.stack([learner.model(batch.query_x[t]) for t in range(len(batch))])


# -- the same training in two processes as in one -------------------------------------------------


def test_second_order_maml_through_the_command_line_equals_one_process(tmp_path: Path) -> None:
    sets = TINY_GLYPHS + ["algorithm.name=maml", "algorithm.first_order=false"]
    command = [sys.executable, "-m", "workbench.cli", "train", "demo", "--nproc", "2"]
    command += ["--runs-dir", str(tmp_path / "two"), "--quiet"]
    for pair in sets:
        command += ["--set", pair]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=os.environ)
    assert done.returncode == 0, done.stderr[-3000:]
    run = Path(done.stdout.strip().splitlines()[-1])
    saved = RunStore(run).load_config()
    assert saved.train.processes == 2 and saved.algorithm.name == "maml"
    assert not saved.algorithm.first_order
    assert RunStore(run).status() == "finished"
    assert_same_training(run, reference_run(config_of("demo", *sets), tmp_path / "one"))


def test_meta_sgd_learned_rates_equal_one_process(tmp_path: Path) -> None:
    config = config_of(
        "sinusoid-maml",
        "algorithm.name=metasgd",
        # 5 + 5 tasks, every 2nd measured before adaptation: 3 in one process, 2 in the other
        "train.meta_batch_size=10",
        "train.iterations=12",
        "train.eval_every=6",
        "train.val_episodes=5",  # 3 + 2 episodes: uneven validation shares
        "train.checkpoint_every=4",
    )
    run = launch_and_wait(config, tmp_path / "two")
    reference = reference_run(config, tmp_path / "one")
    assert_same_training(run, reference)
    rates = RunStore(run).load_checkpoint("last")["learner"]["extra"]["learned_lr"]
    assert rates and all(not torch.allclose(r, torch.full_like(r, 0.01)) for r in rates.values())


def test_reptile_equals_one_process(tmp_path: Path) -> None:
    """Reptile's inner mini-batches are drawn by the task's place in the whole meta-batch, so a
    rank's share is sampled as one process samples it."""
    config = config_of("demo", *TINY_GLYPHS, "algorithm.name=reptile", "algorithm.reptile_batch=3")
    run = launch_and_wait(config, tmp_path / "two")
    assert_same_training(run, reference_run(config, tmp_path / "one"))


def test_mamlpp_running_statistics_merge_as_in_one_process(tmp_path: Path) -> None:
    """MAML++ with BatchNorm running statistics per step (BNRS), LSLR, BNWB, MSL and a switch
    from first to second order (DA) halfway: the same training losses, LSLR rates and
    per-step BatchNorm weights, and the statistics each rank updates task after task merged as
    one process would have updated them."""
    config = config_of(
        "demo",
        *TINY_GLYPHS,
        "algorithm.name=mamlpp",
        "model.batchnorm=running",
        "algorithm.inner_steps=2",
        "algorithm.da_iterations=5",
        "algorithm.msl_iterations=10",
    )
    run = launch_and_wait(config, tmp_path / "two")
    assert_same_training(run, reference_run(config, tmp_path / "one"), running_means=True)
    extra = RunStore(run).load_checkpoint("last")["learner"]["extra"]["step_bn"]
    counts = [v for k, v in extra.items() if k.endswith("num_batches_tracked")]
    # (compared with one process's above: every update of both ranks counted once)
    assert counts and all(int(c) > 0 for c in counts)
    variances = [v for k, v in extra.items() if k.endswith("running_var")]
    assert all(not torch.allclose(v, torch.ones_like(v)) for v in variances)


# -- stop, kill, resume -----------------------------------------------------------------------------

SINUSOID_LONG = [
    "--set",
    "train.iterations=400",
    "--set",
    "train.meta_batch_size=4",
    "--set",
    "train.checkpoint_every=25",
    "--set",
    "train.eval_every=200",
    "--set",
    "train.val_episodes=4",
    "--set",
    "train.device=cpu",
]


def _wait_for(predicate, proc: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"ended before {what}: {proc.stderr.read()[-3000:]}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.02)


def _run_folder(runs: Path) -> Path | None:
    found = [p for p in runs.glob("*") if p.is_dir() and not p.name.startswith(".")]
    return found[0] if found else None


def _checkpointed_and_beyond(runs: Path, at_least: int) -> bool:
    run = _run_folder(runs)
    if run is None or not (run / "checkpoints" / "last.pt").exists():
        return False
    try:
        saved = int(json.loads((run / "summary.json").read_text())["iteration"])
        lines = (run / "metrics.jsonl").read_text().split("\n")[:-1]
        logged = max((int(json.loads(line)["iteration"]) for line in lines), default=0)
    except (OSError, ValueError, KeyError):
        return False
    return saved >= at_least and logged >= saved + 2


def _rank_process(launcher: subprocess.Popen, rank: int) -> psutil.Process | None:
    for child in psutil.Process(launcher.pid).children(recursive=True):
        try:
            if "workbench.engine.distributed.worker" in " ".join(child.cmdline()):
                if child.environ().get("RANK") == str(rank):
                    return child
        except psutil.Error:
            continue
    return None


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_a_killed_rank_leaves_an_interrupted_run_that_resumes_to_completion(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "workbench.cli", "train", "sinusoid-maml", "--nproc", "2"]
    command += ["--runs-dir", str(runs), "--quiet", *SINUSOID_LONG]
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _checkpointed_and_beyond(runs, 50), launcher, "a checkpoint")
        victim = _rank_process(launcher, 1)
        assert victim is not None, "rank 1 not found among the launcher's processes"
        victim.send_signal(signal.SIGKILL)
        out, err = launcher.communicate(timeout=120)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.communicate()
    assert launcher.returncode == 1, err
    assert "process rank 1" in err and "SIGKILL" in err, err
    run = Path(out.strip().splitlines()[-1])
    info = {r.path: r for r in list_runs(runs)}[run]
    assert info.status == "interrupted" and info.resumable, (info.status, err)
    saved = int(RunStore(run).load_checkpoint("last")["iteration"])
    assert 50 <= saved < 400

    # resumed with the run's two processes; Ctrl+C stops them all after the same iteration
    resume = [sys.executable, "-m", "workbench.cli", "resume", str(run), "--quiet"]
    interrupted = subprocess.Popen(
        resume, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(lambda: len(records(run, "iteration")) > saved + 5, interrupted, "progress")
        interrupted.send_signal(signal.SIGINT)
        out, err = interrupted.communicate(timeout=120)
    finally:
        if interrupted.poll() is None:
            interrupted.kill()
            interrupted.communicate()
    assert interrupted.returncode == 130, err
    assert "with 2 processes" in err and out.strip().splitlines()[-1] == str(run)
    stopped = {r.path: r for r in list_runs(runs)}[run]
    assert stopped.status == "stopped" and stopped.resumable
    stopped_at = records(run, "stopped")[0]["iteration"]
    assert RunStore(run).load_checkpoint("last")["iteration"] == stopped_at > saved

    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done = {r.path: r for r in list_runs(runs)}[run]
    assert (done.status, done.iteration, done.problems) == ("finished", 400, [])
    steps = [r["iteration"] for r in records(run, "iteration")]
    assert steps == list(range(1, 401))


def test_pause_and_stop_are_agreed_by_every_rank(tmp_path: Path) -> None:
    """The launch's pause and stop (the window's Pause and Stop; Ctrl+C stops too): every rank
    pauses, goes on, and stops after the same iteration, and rank 0 saves it."""
    config = config_of(
        "sinusoid-maml", "train.iterations=100000", "train.meta_batch_size=4", "train.device=cpu"
    )
    launch = Launch(plan_launch(config, 2), config, runs_dir=tmp_path, name="stopped")
    launch.start()
    try:
        deadline = time.monotonic() + 300
        while launch.run_dir() is None or not records(launch.run_dir(), "iteration"):
            assert launch.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        run = launch.run_dir()
        launch.pause()
        time.sleep(1.0)  # the iteration under way ends, then nothing
        paused_at = len(records(run, "iteration"))
        time.sleep(1.5)
        assert len(records(run, "iteration")) == paused_at and launch.poll() is None
        launch.unpause()
        while len(records(run, "iteration")) <= paused_at + 3:
            assert launch.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        launch.stop()
        assert launch.wait(timeout=120) == 0
    finally:
        launch.terminate()
    run = launch.run_dir()
    assert run is not None and launch.status() == "stopped" and launch.failures() == []
    stopped_at = records(run, "stopped")[0]["iteration"]
    assert 0 < stopped_at < 100000
    assert RunStore(run).load_checkpoint("last")["iteration"] == stopped_at
    assert {r.path: r for r in list_runs(tmp_path)}[run].resumable
    launch.close()


# -- bad requests fail before any process starts ----------------------------------------------------


def test_nproc_zero_is_an_error_before_anything_starts(tmp_path: Path, capsys) -> None:
    started = time.monotonic()
    code = main(["train", "demo", "--nproc", "0", "--runs-dir", str(tmp_path)])
    assert code == 2 and time.monotonic() - started < 30
    assert "--nproc must be at least 1" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_meta_batch_smaller_than_processes_or_uneven(tmp_path: Path, capsys) -> None:
    config = config_of("demo", "train.meta_batch_size=2")
    with pytest.raises(LaunchError, match="cannot be shared by 4 processes.*meta-batch of 4"):
        plan_launch(config, 4)
    with pytest.raises(LaunchError, match="multiple of 3"):
        plan_launch(config_of("demo", "train.meta_batch_size=8"), 3)
    with pytest.raises(LaunchError, match="multiple of 4"):  # 2 machines of 2 processes
        plan_launch(
            config_of("demo", "train.meta_batch_size=6"),
            2,
            nnodes=2,
            rdzv_endpoint="127.0.0.1:29999",
        )
    code = main(["train", "demo", "--nproc", "3", "--runs-dir", str(tmp_path / "runs")])
    assert code == 2 and "multiple of 3" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_rendezvous_port_in_use_is_refused() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LaunchError, match=f"port {port} on 127.0.0.1 is in use"):
            plan_launch(config_of("demo"), 2, rdzv_endpoint=f"127.0.0.1:{port}")
    with pytest.raises(LaunchError, match="not HOST:PORT"):
        plan_launch(config_of("demo"), 2, rdzv_endpoint="127.0.0.1")
    with pytest.raises(LaunchError, match="needs --rdzv-endpoint"):
        plan_launch(config_of("demo"), 2, nnodes=2)


def test_nccl_with_more_processes_than_gpus_is_refused() -> None:
    for device in ("cuda", "auto"):
        config = config_of("demo", f"train.device={device}")
        with pytest.raises(LaunchError, match="this machine has 2 GPUs: use --nproc 2"):
            plan_launch(config, 4, gpus=2)
    with pytest.raises(LaunchError, match="one GPU"):
        plan_launch(config_of("demo", "train.device=cuda:1"), 2, gpus=2)
    with pytest.raises(LaunchError, match="no CUDA GPU"):
        plan_launch(config_of("demo", "train.device=cuda"), 2, gpus=0)
    assert plan_launch(config_of("demo", "train.device=auto"), 2, gpus=0).backend == "gloo"


def test_an_algorithm_that_cannot_be_split_is_refused_with_the_reason() -> None:
    with pytest.raises(LaunchError, match="finetune baseline cannot be split.*BatchNorm"):
        plan_launch(config_of("demo", "algorithm.name=finetune"), 2)
    for name in ("maml", "fomaml", "metasgd", "anil", "mamlpp", "protomaml", "protonet", "reptile"):
        assert plan_launch(config_of("demo", f"algorithm.name={name}"), 2).nproc == 2
    # the regression baseline has no BatchNorm: its batch loss is a mean of per-task losses
    assert plan_launch(config_of("sinusoid-maml", "algorithm.name=finetune"), 5).nproc == 5


# -- the pieces -------------------------------------------------------------------------------------


def test_shares_are_contiguous_and_cover_everything_in_order() -> None:
    assert shares(8, 2) == [(0, 4), (4, 4)]
    assert shares(5, 2) == [(0, 3), (3, 2)]
    assert shares(2, 4) == [(0, 1), (1, 1), (2, 0), (2, 0)]
    for count in range(0, 30):
        for parts in range(1, 7):
            covered = [i for offset, n in shares(count, parts) for i in range(offset, offset + n)]
            assert covered == list(range(count))
    with pytest.raises(ValueError):
        share(4, 2, 2)


def test_train_device_accepts_one_gpu_and_processes_are_a_config_key() -> None:
    config = config_of(
        "demo", "train.device=cuda:1", "train.processes=4", "train.meta_batch_size=8"
    )
    assert (config.train.device, config.train.processes) == ("cuda:1", 4)
    with pytest.raises(ConfigError, match="or cuda:N"):
        config.set("train.device", "gpu1")
    with pytest.raises(ConfigError, match="at least 1"):
        config.set("train.processes", 0)
    with pytest.raises(ConfigError, match="multiple of 4"):
        config_of("demo", "train.processes=4", "train.meta_batch_size=6")
    if torch.cuda.device_count() < 4:
        with pytest.raises(TrainingError, match="cuda:3"):
            pick_device("cuda:3")


def test_device_list_has_the_cpu_then_each_gpu() -> None:
    devices = list_devices()
    assert devices[0].value == "cpu" and "core" in devices[0].label
    assert [d.value for d in devices[1:]] == [f"cuda:{i}" for i in range(len(devices) - 1)]
    for gpu in devices[1:]:
        assert gpu.memory_bytes > 0 and "GB" in gpu.label


def test_running_statistics_merge_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two ranks (threads here, with an all_reduce that sums their tensors) each update a
    BatchNorm layer on their half of a sequence of batches; merged, their running statistics
    equal one layer that saw the whole sequence in order."""
    import threading

    from workbench.engine.distributed import running_stats

    torch.manual_seed(0)
    batches = [torch.randn(6, 3, 4, 4) * (1 + i) + i for i in range(7)]  # 4 + 3: uneven
    one = nn.BatchNorm2d(3, momentum=0.1)
    for x in batches:
        one(x)
    deposits: dict[int, torch.Tensor] = {}
    barrier = threading.Barrier(2)
    rank_of = threading.local()

    def all_reduce(tensor: torch.Tensor, op=None) -> None:  # noqa: ARG001 - sum, as gloo's
        deposits[rank_of.value] = tensor.clone()
        barrier.wait()
        total = deposits[0] + deposits[1]
        barrier.wait()
        tensor.copy_(total)

    monkeypatch.setattr(running_stats.dist, "all_reduce", all_reduce)
    layers = [nn.BatchNorm2d(3, momentum=0.1) for _ in range(2)]

    def rank(r: int) -> None:
        rank_of.value = r
        groups = running_stats.statistics_groups([layers[r]])
        merge = running_stats.RunningStatsMerge(groups, 0.1, r, 2)
        for x in batches[:4] if r == 0 else batches[4:]:
            layers[r](x)
        merge.merge()

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for layer in layers:
        assert int(layer.num_batches_tracked) == 7
        assert torch.allclose(layer.running_mean, one.running_mean, rtol=1e-5, atol=1e-6)
        assert torch.allclose(layer.running_var, one.running_var, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(layer.running_var, torch.ones(3))


def test_a_failure_every_rank_meets_is_reported_once(tmp_path: Path) -> None:
    """A loss that becomes NaN does so on every rank at the same iteration (they report the
    same figures): the launch fails with the trainer's advice, said once, naming the ranks."""
    command = [sys.executable, "-m", "workbench.cli", "train", "sinusoid-maml", "--nproc", "2"]
    command += ["--runs-dir", str(tmp_path), "--quiet", "--set", "algorithm.inner_lr=100"]
    command += ["--set", "algorithm.inner_steps=10", "--set", "train.iterations=50"]
    command += ["--set", "train.meta_batch_size=4", "--set", "train.device=cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.count("became NaN") == 1, done.stderr
    # both ranks usually record the failure; under load torchrun may end the slower one first
    # (SIGTERM is then its cause, not the NaN): the rank that met it is named either way
    assert re.search(r"process(es)? rank (0 and 1|0|1) stopped there", done.stderr), done.stderr
    run = Path(done.stdout.strip().splitlines()[-1])
    assert RunStore(run).status() == "failed"


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_killing_the_launcher_ends_its_ranks(tmp_path: Path) -> None:
    """A launching process that dies (a crashed window, a killed terminal) takes torchrun and
    the ranks with it: nothing trains on unseen, and the run is left interrupted."""
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "workbench.cli", "train", "sinusoid-maml", "--nproc", "2"]
    command += ["--runs-dir", str(runs), "--quiet", *SINUSOID_LONG]
    command[command.index("train.iterations=400")] = "train.iterations=100000"
    launcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _checkpointed_and_beyond(runs, 25), launcher, "a checkpoint")
        family = psutil.Process(launcher.pid).children(recursive=True)
        assert len(family) >= 3  # torchrun's agent and two ranks
        launcher.kill()
        launcher.communicate(timeout=30)
        gone, alive = psutil.wait_procs(family, timeout=60)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        for process in psutil.Process().children(recursive=True):
            if process.pid != os.getpid():
                process.kill()
    run = _run_folder(runs)
    assert run is not None and {r.path: r for r in list_runs(runs)}[run].status == "interrupted"
