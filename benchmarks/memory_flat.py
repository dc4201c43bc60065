"""Is training flat? 500 meta-iterations through the real `Trainer`: memory after iteration 50
and after 500, and time per iteration over the first and the last 50.

Users of public MAML code report memory that grows step after step and iterations that get
slower; both come from graphs or tensors kept alive across iterations. The trainer here runs
the default (task-batched) meta-step on random Omniglot-sized episodes (28x28, Conv4 with 64
filters) drawn fresh for every iteration, with validation and checkpoints off, and a
subscriber samples resident memory (VmRSS; ``torch.cuda.memory_allocated`` on a GPU) and the
clock at every iteration.

Targets: memory after 500 within 5% of memory after 50; time per iteration in the last 50
within 10% of the first 50 (CPU time is shown too: on a shared machine wall time includes
waiting for other processes).

Usage::

    python benchmarks/memory_flat.py                        # 5-way 1-shot, meta-batch 8
    python benchmarks/memory_flat.py --tasks 32 --per-task  # the per-task loop instead
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

from meta_step import Spec, current_rss_mb, make_learner, peak_rss_mb, synthetic_batch


class SyntheticSampler:
    """Random episodes of a fixed shape; ``batch(start, size)`` is seeded by ``start`` so every
    iteration gets new tensors (as real training does) and a rerun gets the same ones."""

    def __init__(self, spec: Spec, seed: int = 0) -> None:
        self.spec, self.seed = spec, seed

    def batch(self, start: int, size: int):
        return synthetic_batch(replace(self.spec, tasks=size, device="cpu"), self.seed + start)

    def __getitem__(self, index: int):
        return self.batch(index, 1)[0]


def run(spec: Spec, iterations: int, window: int) -> dict[str, object]:
    import torch

    from workbench.config import ExperimentConfig
    from workbench.engine import events as ev
    from workbench.engine.trainer import Trainer

    torch.set_num_threads(spec.threads)
    learner = make_learner(spec)
    config = ExperimentConfig()
    config.data.ways, config.data.shots, config.data.queries = spec.ways, spec.shots, spec.queries
    config.train.meta_batch_size, config.train.iterations = spec.tasks, iterations
    config.train.eval_every, config.train.checkpoint_every = 0, iterations
    trainer = Trainer(config, learner, SyntheticSampler(spec), None)
    cuda = spec.device == "cuda"
    wall: list[float] = []
    cpu: list[float] = []
    memory: dict[int, float] = {}

    def sample(event: ev.TrainerEvent) -> None:
        if event.kind == ev.STARTED:
            wall.append(time.perf_counter())
            cpu.append(time.process_time())
        elif event.kind == ev.ITERATION:
            if cuda:
                torch.cuda.synchronize()
            wall.append(time.perf_counter())
            cpu.append(time.process_time())
            if event.iteration in (window, iterations):
                memory[event.iteration] = (
                    torch.cuda.memory_allocated() / 2**20 if cuda else current_rss_mb()
                )
            if event.iteration % 50 == 0:
                print(
                    f"  iteration {event.iteration}: {wall[-1] - wall[-2]:.3f} s, "
                    f"RSS {current_rss_mb():.0f} MB",
                    flush=True,
                )
        elif event.kind == ev.FAILED:
            print(event.message, event.details)

    trainer.subscribe(sample)
    status = trainer.run()
    step_wall = [b - a for a, b in zip(wall, wall[1:])]
    step_cpu = [b - a for a, b in zip(cpu, cpu[1:])]
    return {
        "status": status,
        "path": learner.path_description,
        "memory": memory,
        "peak": peak_rss_mb(),
        "first_wall": step_wall[:window],
        "last_wall": step_wall[-window:],
        "first_cpu": step_cpu[:window],
        "last_cpu": step_cpu[-window:],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=8, help="meta-batch size")
    parser.add_argument("--queries", type=int, default=1, help="query images per class")
    parser.add_argument("--steps", type=int, default=1, help="inner steps")
    parser.add_argument("--first-order", action="store_true")
    parser.add_argument("--per-task", action="store_true", help="the per-task loop, not batched")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)

    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    spec = Spec(
        ways=args.ways,
        queries=args.queries,
        tasks=args.tasks,
        steps=args.steps,
        first_order=args.first_order,
        batched=not args.per_task,
        threads=args.threads,
        device=device,
    )
    print(
        f"torch {torch.__version__} on {device}, {args.threads} thread(s), load average "
        f"{os.getloadavg()[0]:.1f}: {spec.label}, {args.queries} queries per class, "
        f"{args.iterations} iterations through the Trainer"
    )
    r = run(spec, args.iterations, args.window)
    w = args.window
    first, last = r["memory"][w], r["memory"][args.iterations]  # type: ignore[index]
    mean = statistics.fmean
    med = statistics.median
    fw, lw = mean(r["first_wall"]), mean(r["last_wall"])  # type: ignore[arg-type]
    fc, lc = mean(r["first_cpu"]), mean(r["last_cpu"])  # type: ignore[arg-type]
    fm, lm = med(r["first_wall"]), med(r["last_wall"])  # type: ignore[arg-type]
    unit = "CUDA allocated" if device == "cuda" else "RSS"
    print(f"\n{r['status']}; {r['path']}")
    print(f"{'':28} {'first ' + str(w):>12} {'last ' + str(w):>12} {'change':>8}   target")
    change = 100 * (last / first - 1)
    print(
        f"{'memory (' + unit + ', MB)':28} {first:12.1f} {last:12.1f} {change:+7.1f}%"
        f"   within 5%: {'yes' if abs(last / first - 1) <= 0.05 else 'NO'}"
    )
    print(
        f"{'wall s/iteration (mean)':28} {fw:12.3f} {lw:12.3f} {100 * (lw / fw - 1):+7.1f}%"
        f"   within 10%: {'yes' if lw <= 1.10 * fw else 'NO'}"
    )
    print(f"{'wall s/iteration (median)':28} {fm:12.3f} {lm:12.3f} {100 * (lm / fm - 1):+7.1f}%")
    print(f"{'CPU s/iteration (mean)':28} {fc:12.3f} {lc:12.3f} {100 * (lc / fc - 1):+7.1f}%")
    print(f"peak RSS {r['peak']:.0f} MB")


if __name__ == "__main__":
    main()
