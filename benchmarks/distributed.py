"""Seconds per meta-iteration with 1 and 2 processes sharing each meta-batch (CPU), and with
1 to N GPUs where there are GPUs.

The MAML paper's Omniglot setting: 5-way 1-shot, meta-batch 32, one inner step of 0.4, second
order, Conv4 with 64 filters on 28x28 images; the real Omniglot subsets in
``../shared/data/omniglot`` when present, else the embedded glyph alphabets (the same shapes).
Every configuration is a real ``workbench train`` in a subprocess: one process is the ordinary
trainer, N processes go through torchrun (gloo on the CPU, NCCL on GPUs), one intra-op thread
per process. Time per iteration comes from the trainer's own clock in the run's metrics log,
after the warm-up iterations, so start-up (imports, data loading, the rendezvous) is not counted.

On the CPU, two processes use two cores where one process with one thread uses one: the ratio
says how much of the second core the split turns into speed (2.0 is perfect). With one GPU per
process, the same split is what scales a multi-GPU workstation.

Usage::

    python benchmarks/distributed.py                    # 1 and 2 CPU processes (GPUs: 1..N)
    python benchmarks/distributed.py --iterations 6 --warmup 2 --queries 15
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OMNIGLOT = ROOT.parent / "shared" / "data" / "omniglot"


def settings(args: argparse.Namespace, device: str) -> list[str]:
    sets = [
        "data.ways=5",
        "data.shots=1",
        f"data.queries={args.queries}",
        "model.hidden=64",
        "algorithm.name=maml",
        "algorithm.first_order=false",
        "algorithm.inner_lr=0.4",
        "algorithm.inner_steps=1",
        f"train.meta_batch_size={args.tasks}",
        f"train.iterations={args.warmup + args.iterations}",
        "train.eval_every=0",
        "train.checkpoint_every=100000",
        f"train.device={device}",
    ]
    if OMNIGLOT.is_dir() and any(OMNIGLOT.glob("images_background*")):
        sets += ["data.dataset=omniglot", f"data.path={OMNIGLOT}"]
    return sets


def seconds_per_iteration(run: Path, warmup: int) -> float:
    """From the trainer's own clock: iterations after the warm-up ones."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(x) for x in lines if '"kind": "iteration"' in x]
    first, last = steps[warmup - 1], steps[-1]
    return (last["elapsed"] - first["elapsed"]) / (last["iteration"] - first["iteration"])


def measure(args: argparse.Namespace, nproc: int, device: str, runs: Path) -> float:
    command = [sys.executable, "-m", "workbench.cli", "train", "demo", "--quiet"]
    command += ["--nproc", str(nproc), "--runs-dir", str(runs), "--name", f"{device}-{nproc}"]
    for pair in settings(args, device):
        command += ["--set", pair]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{device} x{nproc} failed:\n{done.stderr[-3000:]}")
    run = Path(done.stdout.strip().splitlines()[-1])
    seconds = seconds_per_iteration(run, args.warmup)
    print(
        f"  {nproc} process{'es' if nproc > 1 else ''} on {device}: {seconds:.3f} s/iteration "
        f"(whole command {time.monotonic() - started:.0f} s)",
        flush=True,
    )
    return seconds


def table(label: str, times: dict[int, float]) -> None:
    one = times[1]
    print(f"{label}:")
    for n, t in times.items():
        print(
            f"  {n} -> {t:.3f} s/iteration, speed-up {one / t:.2f}x, efficiency {one / t / n:.0%}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--iterations", type=int, default=6, help="timed iterations (after warm-up)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--tasks", type=int, default=32, help="meta-batch size")
    p.add_argument("--queries", type=int, default=15, help="query examples per class")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per process")
    p.add_argument("--cpu-processes", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    import torch

    data = "Omniglot" if "data.dataset=omniglot" in settings(args, "cpu") else "glyphs"
    print(
        f"MAML second order, 5-way 1-shot, {args.queries} queries, meta-batch {args.tasks}, "
        f"Conv4-64 on {data}; {args.threads} thread(s) per process, {os.cpu_count()} CPU cores, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as folder:
        runs = Path(folder)
        cpu = {n: measure(args, n, "cpu", runs) for n in args.cpu_processes}
        table("CPU (gloo)", cpu)
        if len(cpu) > 1:
            n = max(cpu)
            ideal = cpu[1] / n
            print(f"  overhead over a perfect split at {n}: {cpu[n] - ideal:.3f} s/iteration")
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if gpus:
            counts = [n for n in range(1, gpus + 1) if args.tasks % n == 0]
            table("GPU (NCCL)", {n: measure(args, n, "cuda", runs) for n in counts})


if __name__ == "__main__":
    main()
