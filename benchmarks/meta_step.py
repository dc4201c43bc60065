"""Seconds per meta-iteration and peak memory: the per-task loop versus the task-batched path.

Omniglot-sized episodes (28x28 grayscale, Conv4 with 64 filters, the MAML paper's settings:
5-way 1-shot with meta-batch 32 and one inner step of 0.4, 20-way 1-shot with meta-batch 16 and
five inner steps of 0.1), second and first order, then the scaling of the batched path with the
meta-batch size (1..32) and the number of inner steps (1, 2, 5).

Episodes are random tensors of the right shape (timing does not depend on pixel values). Every
configuration runs in its own subprocess, so peak memory figures (VmHWM on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU) never mix. CPU time is reported next to wall time:
on a shared machine wall time includes waiting for other people's processes.

Usage::

    python benchmarks/meta_step.py                 # everything, a few minutes on 2 CPU cores
    python benchmarks/meta_step.py --only compare  # just per-task vs batched
    python benchmarks/meta_step.py --queries 15 --threads 2 --iters 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Spec:
    """One measured configuration."""

    ways: int = 5
    shots: int = 1
    queries: int = 1
    tasks: int = 32
    steps: int = 1
    inner_lr: float = 0.4
    first_order: bool = False
    batched: bool = True
    iters: int = 3
    warmup: int = 1
    threads: int = 1
    device: str = "cpu"
    channels_last: bool = False
    compile: bool = False

    @property
    def label(self) -> str:
        order = "1st" if self.first_order else "2nd"
        return f"{self.ways}-way {self.shots}-shot T={self.tasks} S={self.steps} {order}"


# -- inside the worker subprocess -------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def make_learner(spec: Spec):
    """A MAML learner on a 28x28 Conv4 with 64 filters, through the real `build_learner`."""
    import torch

    from workbench.algorithms import DataInfo, build_learner
    from workbench.config import ExperimentConfig

    c = ExperimentConfig()
    c.data.dataset, c.data.ways = "glyphs", spec.ways
    c.data.shots, c.data.queries = spec.shots, spec.queries
    c.data.image_size, c.model.hidden = 28, 64
    c.algorithm.name, c.algorithm.first_order = "maml", spec.first_order
    c.algorithm.inner_steps, c.algorithm.inner_lr = spec.steps, spec.inner_lr
    c.train.meta_batch_size, c.train.batched = spec.tasks, spec.batched
    learner = build_learner(c.validate(), DataInfo(1, ()), torch.device(spec.device))
    if spec.channels_last:
        learner.model.to(memory_format=torch.channels_last)
    return learner


def synthetic_batch(spec: Spec, seed: int):
    """Random episodes shaped like Omniglot ones, labels ordered as the sampler orders them."""
    import torch

    from workbench.data.episodes import Episode, EpisodeBatch

    g = torch.Generator().manual_seed(seed)
    names = [f"class{i}" for i in range(spec.ways)]
    episodes = []
    for _ in range(spec.tasks):
        sx = torch.rand(spec.ways * spec.shots, 1, 28, 28, generator=g)
        qx = torch.rand(spec.ways * spec.queries, 1, 28, 28, generator=g)
        sy = torch.arange(spec.ways).repeat_interleave(spec.shots)
        qy = torch.arange(spec.ways).repeat_interleave(spec.queries)
        episodes.append(Episode(sx, sy, qx, qy, names))
    batch = EpisodeBatch.stack(episodes).to(torch.device(spec.device))
    if spec.channels_last:
        batch.support_x = _channels_last_5d(batch.support_x)
        batch.query_x = _channels_last_5d(batch.query_x)
    return batch


def _channels_last_5d(x):
    """[T, N, C, H, W] stored so that every task's [N, C, H, W] slice is channels-last."""
    return x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)


def run_worker(spec: Spec) -> dict[str, Any]:
    """Build, warm up, time ``spec.iters`` meta-steps; report times and peak memory."""
    import torch

    torch.set_num_threads(spec.threads)
    base_rss = current_rss_mb()
    learner = make_learner(spec)
    if spec.compile:  # the vmapped task function; the learner object itself breaks graphs
        from workbench.algorithms import batched

        batched.batched_task_losses = torch.compile(batched.batched_task_losses)
    batches = [synthetic_batch(spec, seed) for seed in range(2)]
    cuda = spec.device == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    for i in range(spec.warmup):
        learner.meta_step(batches[i % 2], i)
    sync()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    wall, cpu = [], []
    for i in range(spec.iters):
        w0, c0 = time.perf_counter(), time.process_time()
        metrics = learner.meta_step(batches[i % 2], spec.warmup + i)
        sync()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    out = {
        "spec": asdict(spec),
        "path": learner.path_description,
        "chunk": learner.chunk_size(batches[0]),
        "wall": wall,
        "cpu": cpu,
        "loss": metrics.loss,
        "peak_mb": peak_rss_mb(),
        "base_mb": base_rss,
    }
    if cuda:
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


# -- in the driver ----------------------------------------------------------------------------


def measure(spec: Spec) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter (so memory peaks do not mix)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(spec.threads)}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(asdict(spec))],
        capture_output=True,
        text=True,
        env=env,
        cwd=HERE.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.label} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def seconds(result: dict[str, Any]) -> tuple[float, float]:
    """Median wall and CPU seconds per meta-iteration."""
    return median(result["wall"]), median(result["cpu"])


def memory(result: dict[str, Any]) -> float:
    return result.get("cuda_peak_mb", result["peak_mb"])


def compare(base: Spec) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Per-task loop versus batched for the paper's two Omniglot settings, both orders
    (``tasks/call`` 1 means the learner chose the per-task loop for that episode shape)."""
    settings = [
        replace(base, ways=5, tasks=32, steps=1, inner_lr=0.4),
        replace(base, ways=20, tasks=16, steps=5, inner_lr=0.1),
    ]
    rows = []
    for setting in settings:
        for first_order in (False, True):
            spec = replace(setting, first_order=first_order)
            loop = measure(replace(spec, batched=False))
            fast = measure(replace(spec, batched=True))
            rows.append((spec.label, loop, fast))
            print_compare_row(rows[-1])
    return rows


def print_compare_header() -> None:
    print(
        f"{'configuration':34} {'per-task s/it':>14} {'batched s/it':>13} {'speed-up':>9}"
        f" {'(cpu s)':>16} {'peak MB loop':>13} {'batched':>8} {'tasks/call':>11}"
    )


def print_compare_row(row: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
    label, loop, fast = row
    (lw, lc), (fw, fc) = seconds(loop), seconds(fast)
    print(
        f"{label:34} {lw:14.3f} {fw:13.3f} {lw / fw:8.2f}x {lc:7.2f}/{fc:<7.2f}"
        f" {memory(loop):13.0f} {memory(fast):8.0f} {fast['chunk']:11d}",
        flush=True,
    )


def scaling(base: Spec, tasks: list[int], steps: list[int], steps_tasks: int) -> None:
    spec = replace(base, ways=5, steps=1, inner_lr=0.4, batched=True)
    print("\nBatched path, 5-way 1-shot, second order, 1 inner step: cost against meta-batch size")
    print(
        f"{'T':>4} {'s/it':>9} {'ms/task':>9} {'x T=1':>7} {'cpu s':>8} {'peak MB':>9}"
        f" {'tasks/call':>11}"
    )
    first = None
    for t in tasks:
        r = measure(replace(spec, tasks=t))
        w, c = seconds(r)
        first = first or w
        print(
            f"{t:4d} {w:9.3f} {1000 * w / t:9.1f} {w / first:7.2f} {c:8.2f} {memory(r):9.0f}"
            f" {r['chunk']:11d}",
            flush=True,
        )
    print(f"\nBatched path, 5-way 1-shot, second order, T={steps_tasks}: cost against inner steps")
    print(f"{'S':>4} {'s/it':>9} {'x S=1':>7} {'cpu s':>8} {'peak MB':>9}")
    first = None
    for s in steps:
        r = measure(replace(spec, tasks=steps_tasks, steps=s))
        w, c = seconds(r)
        first = first or w
        print(f"{s:4d} {w:9.3f} {w / first:7.2f} {c:8.2f} {memory(r):9.0f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        choices=("compare", "key", "scaling", "all"),
        default="all",
        help="compare: both paths on the two paper settings; key: only 5-way "
        "T=32 second order (--repeat times); scaling: the batched path",
    )
    parser.add_argument(
        "--queries",
        type=int,
        default=1,
        help="query images per class (1: as MAML's original Omniglot code; the presets use 15)",
    )
    parser.add_argument("--iters", type=int, default=3, help="timed meta-steps per configuration")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="times the key comparison (5-way T=32 second order) is measured",
    )
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(Spec(**json.loads(args.worker)))))
        return

    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    base = Spec(
        queries=args.queries,
        iters=args.iters,
        warmup=args.warmup,
        threads=args.threads,
        device=device,
        channels_last=args.channels_last,
        compile=args.compile,
    )
    started = time.monotonic()
    print(
        f"torch {torch.__version__} on {device}, {args.threads} thread(s), "
        f"{os.cpu_count()} CPUs, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"load average {os.getloadavg()[0]:.1f}; {args.queries} queries per class; median of "
        f"{args.iters} meta-steps after {args.warmup} warm-up; memory: "
        f"{'CUDA max allocated' if device == 'cuda' else 'peak RSS (VmHWM) of the subprocess'}"
    )
    if args.only in ("compare", "key", "all"):
        print("\nPer-task loop versus task-batched (vmap) meta-steps")
        print_compare_header()
        if args.only != "key":
            compare(base)
        key = replace(base, ways=5, tasks=32, steps=1, inner_lr=0.4)
        for i in range(args.repeat - (args.only != "key")):
            row = (
                key.label + (" (again)" if args.only != "key" or i else ""),
                measure(replace(key, batched=False)),
                measure(replace(key, batched=True)),
            )
            print_compare_row(row)
    if args.only in ("scaling", "all"):
        scaling(base, [1, 2, 4, 8, 16, 32], [1, 2, 5], steps_tasks=32)
    print(f"\n({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
