"""The workbench against learn2learn 0.2.0, side by side on one machine: speed and accuracy.

The peer is ``../shared/peer/l2l_omniglot.py`` (learn2learn's ``maml_omniglot.py`` loop on the
shared Omniglot subsets) run by the peer venv's Python (``--peer-python`` or
``$WORKBENCH_PEER_PYTHON``; build it with ``bash ../shared/peer/setup_peer.sh VENV``). Without
it the benchmark says why and exits 0. Our side is the workbench's own `Trainer` and
`GradientLearner` in a subprocess of this script (``side``), fed the same characters.

``speed``: median seconds per meta-iteration (iterations 4..N, episode sampling included, as the
peer counts them) for 5-way 1-shot meta-batch 32 and 20-way 1-shot meta-batch 16, first and
second order, the strided (``OmniglotCNN``) and max-pool (``CNN4``) networks: 8 pairs, peer and
ours alternating, the ratio ours/peer and the machine load (1-minute load average) beside each.

``accuracy``: both train for the same wall-clock seconds (or the same iterations, ``--iters``:
learning per iteration) on the same characters (all but the peer's ``--val-chars`` held-out
ones, chosen as the peer chooses them: ``RandomState(split_seed).permutation(242)[:42]`` of the
sorted alphabet/character names, all four rotations as classes), then adapt to the same 600
tasks of the held-out characters (the peer's own draw: ``RandomState(1234)``, classes from the
held-out pool, ``2 * shots`` drawings each, even positions support, odd query) and report mean
accuracy and 95% CI after 3 inner steps (and 1).

Both sides: 1 query per class and shot (the peer's episodes), inner lr 0.4, one inner step,
Adam with meta lr 0.003 (the peer's defaults), ``torch.set_num_threads(1)`` (``--threads``).

Usage::

    python benchmarks/versus_learn2learn.py speed --iters 15
    python benchmarks/versus_learn2learn.py accuracy --seconds 300
    python benchmarks/versus_learn2learn.py accuracy --iters 300 --ways 5 --pooling stride
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEER_SCRIPT = "l2l_omniglot.py"
N_CHARACTERS = 242  # distinct characters in the two shared background subsets


@dataclass(frozen=True)
class Spec:
    """One side-by-side configuration, passed to both sides."""

    ways: int = 5
    shots: int = 1
    meta_batch: int = 32
    first_order: bool = False
    pooling: str = "stride"  # stride: l2l OmniglotCNN; max: l2l CNN4 with max-pool
    steps: int = 1
    fast_lr: float = 0.4
    meta_lr: float = 0.003
    threads: int = 1
    seed: int = 42
    iters: int = 15
    seconds: float = 0.0
    val_chars: int = 0
    val_tasks: int = 0
    split_seed: int = 0
    init: str = ""  # our side: empty keeps the workbench default (model.init)
    batched: bool = True
    clock: str = "wall"  # cpu: process time per iteration (both sides), robust to load

    @property
    def label(self) -> str:
        order = "1st" if self.first_order else "2nd"
        net = "strided" if self.pooling == "stride" else "max-pool"
        return f"{self.ways}-way {self.shots}-shot mb {self.meta_batch} {order} {net}"


# -- finding the peer --------------------------------------------------------------------------


def peer_dir() -> Path | None:
    """``$WORKBENCH_PEER_DIR``, or ``shared/peer`` beside the project or its worktree folder."""
    env = os.environ.get("WORKBENCH_PEER_DIR")
    places = [Path(env)] if env else []
    places += [ROOT.parent / "shared" / "peer", ROOT.parent.parent / "shared" / "peer"]
    return next((p for p in places if (p / PEER_SCRIPT).is_file()), None)


def peer_python(given: str | None) -> tuple[str | None, str]:
    """The peer venv's Python and '' when usable, else None and the reason."""
    python = given or os.environ.get("WORKBENCH_PEER_PYTHON")
    if not python:
        return None, "no peer venv given (--peer-python or $WORKBENCH_PEER_PYTHON)"
    if not Path(python).exists():
        return None, f"peer Python {python} does not exist (build it with setup_peer.sh)"
    probe = subprocess.run(
        [python, "-c", "import learn2learn"], capture_output=True, text=True, timeout=300
    )
    if probe.returncode != 0:
        return None, f"{python} cannot import learn2learn: {probe.stderr.strip()[-200:]}"
    return python, ""


# -- running the two sides ---------------------------------------------------------------------


#: runs the peer script with its clock (``time.perf_counter``) reading process time instead, so
#: its "median s/iter" is CPU seconds per iteration
CPU_CLOCK = (
    "import runpy, sys, time; time.perf_counter = time.process_time; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def peer_command(python: str, script: Path, spec: Spec) -> list[str]:
    cmd = [python] + (["-c", CPU_CLOCK] if spec.clock == "cpu" else [])
    cmd += [str(script), "--ways", str(spec.ways), "--shots", str(spec.shots)]
    cmd += ["--meta-batch-size", str(spec.meta_batch), "--threads", str(spec.threads)]
    cmd += ["--model", "omniglotcnn" if spec.pooling == "stride" else "cnn4"]
    cmd += ["--adaptation-steps", str(spec.steps), "--fast-lr", str(spec.fast_lr)]
    cmd += ["--meta-lr", str(spec.meta_lr), "--seed", str(spec.seed), "--log-every", "1000000"]
    cmd += ["--iters", str(spec.iters if not spec.seconds else 10**9)]
    if spec.seconds:
        cmd += ["--seconds", str(spec.seconds)]
    if spec.val_chars:
        cmd += ["--val-chars", str(spec.val_chars), "--split-seed", str(spec.split_seed)]
        cmd += ["--val-tasks", str(spec.val_tasks), "--val-every", "0"]
    return cmd + (["--first-order"] if spec.first_order else [])


TRAIN_LINE = re.compile(r"RESULT train: .*?(\d+) iterations in ([\d.]+)s; median ([\d.]+) s/iter")
VALID_LINE = re.compile(
    r"RESULT valid: .*?(\d+) adaptation step\(s\): acc ([\d.]+) \+- ([\d.]+) \(95% CI\)"
)


def parse_peer(text: str) -> dict[str, Any]:
    """The peer's iterations, seconds, median s/iter and accuracies by inner steps."""
    out: dict[str, Any] = {"accuracy": {}}
    m = TRAIN_LINE.search(text)
    if m:
        out.update(iterations=int(m[1]), seconds=float(m[2]), median=float(m[3]))
    for steps, acc, ci in VALID_LINE.findall(text):
        out["accuracy"][int(steps)] = (float(acc), float(ci))
    return out


def our_command(spec: Spec) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "side", json.dumps(asdict(spec))]


def parse_ours(text: str) -> dict[str, Any]:
    line = next((ln for ln in text.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"accuracy": {}}
    out = json.loads(line[len("RESULT ") :])
    out["accuracy"] = {int(k): tuple(v) for k, v in out["accuracy"].items()}
    return out


def run_side(cmd: list[str], parse: Any, cwd: Path) -> dict[str, Any]:
    """Run one side; its figures, the load average before it, and its error if it failed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    result = parse(done.stdout)
    result["load"] = load
    if done.returncode != 0 or "median" not in result:
        result["error"] = (done.stderr.strip() or done.stdout.strip())[-600:]
    return result


def pair(python: str, peer: Path, spec: Spec, peer_first: bool) -> tuple[dict, dict]:
    """Peer and ours on ``spec``, one after the other (order alternated by the caller)."""
    sides = [
        (
            "peer",
            lambda: run_side(peer_command(python, peer / PEER_SCRIPT, spec), parse_peer, peer),
        ),
        ("ours", lambda: run_side(our_command(spec), parse_ours, ROOT)),
    ]
    results = {name: run() for name, run in (sides if peer_first else sides[::-1])}
    return results["peer"], results["ours"]


# -- our side (runs in its own process) --------------------------------------------------------


def peer_split(n_chars: int, val_chars: int, split_seed: int) -> tuple[list[int], list[int]]:
    """Held-out and training characters exactly as the peer script picks them."""
    import numpy as np

    perm = np.random.RandomState(split_seed).permutation(n_chars)
    return sorted(perm[:val_chars].tolist()), sorted(perm[val_chars:].tolist())


class PeerTasks:
    """The peer's validation tasks, drawn by its own rule, as workbench `Episode`s (a `Sampler`
    for `workbench.engine.evaluate.evaluate`). Class ``4c + k`` is character ``c`` rotated by
    ``k`` quarter turns, as in the peer's ``rotate_classes``."""

    def __init__(self, chars: Any, val: list[int], ways: int, shots: int, n: int) -> None:
        import numpy as np
        import torch

        from workbench.data.episodes import Episode

        self.seed = 1234
        rng = np.random.RandomState(self.seed)
        pool = np.concatenate([4 * np.asarray(val) + k for k in range(4)])
        self.episodes = []
        for i in range(n):
            classes = rng.choice(pool, ways, replace=False)
            picks = [rng.choice(chars.shape[1], 2 * shots, replace=False) for _ in classes]
            x = torch.stack(
                [
                    torch.rot90(chars[c // 4, p], int(c % 4), dims=(-2, -1))
                    for c, p in zip(classes, picks)
                ]
            )  # [ways, 2 * shots, 1, 28, 28]
            sx, qx = x[:, 0::2].flatten(0, 1), x[:, 1::2].flatten(0, 1)
            y = torch.arange(ways).repeat_interleave(shots)
            names = [f"class {int(c)}" for c in classes]
            self.episodes.append(Episode(sx, y, qx, y.clone(), names, index=i))

    def __getitem__(self, index: int) -> Any:
        return self.episodes[index]

    def batch(self, start: int, size: int) -> Any:
        from workbench.data.episodes import EpisodeBatch

        return EpisodeBatch.stack(self.episodes[start : start + size])


def side_config(spec: Spec, data_path: Path) -> Any:
    from workbench.config import ExperimentConfig

    c = ExperimentConfig()
    c.data.dataset, c.data.path, c.data.image_size = "omniglot", str(data_path), 28
    c.data.ways, c.data.shots, c.data.queries = spec.ways, spec.shots, spec.shots
    c.model.pooling = spec.pooling
    if spec.init:
        c.model.init = spec.init
    c.algorithm.name, c.algorithm.first_order = "maml", spec.first_order
    c.algorithm.inner_steps, c.algorithm.inner_lr = spec.steps, spec.fast_lr
    c.train.meta_batch_size, c.train.meta_lr = spec.meta_batch, spec.meta_lr
    c.train.iterations = 10**8 if spec.seconds else spec.iters
    c.train.eval_every, c.train.seed, c.train.device = 0, spec.seed, "cpu"
    c.train.batched = spec.batched
    return c.validate()


def run_our_side(spec: Spec) -> dict[str, Any]:
    """Train the workbench on the peer's training characters; time it; test it like the peer."""
    import torch

    from workbench.algorithms import DataInfo, build_learner
    from workbench.data.episodes import EpisodeSampler
    from workbench.data.images import select_classes, with_rotations
    from workbench.data.omniglot import load_omniglot
    from workbench.engine import events as ev
    from workbench.engine.evaluate import evaluate
    from workbench.engine.trainer import Trainer

    torch.set_num_threads(spec.threads)
    peer = peer_dir()
    config = side_config(spec, (peer or ROOT).parent / "data" / "omniglot")
    everything = load_omniglot(config.data, "all", download=False)
    assert everything.n_classes == N_CHARACTERS, everything.summary()
    val, train = peer_split(everything.n_classes, spec.val_chars, spec.split_seed)
    train_images = with_rotations(select_classes(everything, train, "peer training characters"))
    sampler = EpisodeSampler(train_images, spec.ways, spec.shots, spec.shots, spec.seed)
    learner = build_learner(
        config, DataInfo(1, tuple(train_images.class_names)), torch.device("cpu")
    )
    trainer = Trainer(config, learner, sampler, None, None)
    stamps: list[float] = []
    clock = time.process_time if spec.clock == "cpu" else time.perf_counter

    def on_event(event: ev.TrainerEvent) -> None:
        stamps.append(clock())
        if spec.seconds and event.kind == ev.ITERATION and stamps[-1] - stamps[0] >= spec.seconds:
            trainer.stop()

    trainer.subscribe(on_event)
    trainer.run()
    times = [b - a for a, b in zip(stamps[:-2], stamps[1:-1])]  # iterations (last: FINISHED)
    timed = times[3:] if len(times) > 3 else times
    out: dict[str, Any] = {
        "iterations": trainer.iteration,
        "seconds": stamps[-2] - stamps[0],
        "median": statistics.median(timed),
        "path": getattr(learner, "path_description", ""),
        "accuracy": {},
    }
    if spec.val_chars and spec.val_tasks:
        images = everything.images[:, :, :].float() / 255.0  # [242, 20, 1, 28, 28]
        tasks = PeerTasks(images, val, spec.ways, spec.shots, spec.val_tasks)
        for steps in sorted({spec.steps, 3}):
            r = evaluate(learner, tasks, spec.val_tasks, steps)
            out["accuracy"][steps] = (r.accuracy, r.ci95)
    return out


# -- the two measurements ----------------------------------------------------------------------


def speed_specs(iters: int, threads: int, clock: str) -> list[Spec]:
    return [
        Spec(w, 1, mb, fo, pool, iters=iters, threads=threads, clock=clock)
        for w, mb in ((5, 32), (20, 16))
        for pool in ("stride", "max")
        for fo in (False, True)
    ]


def fmt_load(peer: dict, ours: dict) -> str:
    return f"{peer['load']:.1f}/{ours['load']:.1f}"


ONE_TASK_NOTE = (
    "one task per fold: a task's first feature map alone fills the fold's working set, so "
    "the folded loop cannot batch tasks here and runs them one by one (still without vmap's "
    "or learn2learn's per-task overhead)"
)


def speed(python: str, peer: Path, args: argparse.Namespace) -> None:
    print(
        f"(a) {args.clock} seconds per meta-iteration: median of iterations 4..{args.iters} "
        f"(median over {args.rounds} round(s)), threads {args.threads} each side, peer and ours "
        f"alternating; load = 1-min load average before peer/ours ({os.cpu_count()} cores)"
    )
    print(
        f"{'configuration':36s} {'peer s/it':>10s} {'ours s/it':>10s} {'ours/peer':>10s} "
        f"{'load':>9s}  our inner loop"
    )
    for i, spec in enumerate(speed_specs(args.iters, args.threads, args.clock)):
        runs = [pair(python, peer, spec, peer_first=(i + r) % 2 == 0) for r in range(args.rounds)]
        failed = [r.get("error") for run in runs for r in run if "error" in r]
        if failed:
            print(f"{spec.label:36s} failed: {failed[0]}")
            continue
        p = statistics.median(run[0]["median"] for run in runs)
        o = statistics.median(run[1]["median"] for run in runs)
        load = "/".join(f"{statistics.mean(run[k]['load'] for run in runs):.1f}" for k in range(2))
        path = runs[0][1]["path"]
        print(f"{spec.label:36s} {p:10.4f} {o:10.4f} {o / p:9.2f}x {load:>9s}  {path}", flush=True)
        if " 1 of " in path:
            print(f"{'':36s} ({ONE_TASK_NOTE})")


def accuracy(python: str, peer: Path, args: argparse.Namespace) -> None:
    budget = f"{args.seconds:g} s" if not args.iters else f"{args.iters} iterations"
    print(
        f"(b) accuracy after {budget} of training each, second order unless --first-order, "
        f"on all but {args.val_chars} held-out characters (x4 rotations); test: the same "
        f"{args.val_tasks} tasks of the held-out characters, 3 inner steps (1 step in brackets), "
        "mean and 95% CI; load = 1-min load average before peer/ours"
    )
    print(
        f"{'configuration':36s} {'side':5s} {'iters':>6s} {'s/it':>7s} {'acc 3 steps':>16s} "
        f"{'(1 step)':>9s} {'load':>6s}"
    )
    for i, (ways, mb) in enumerate(((5, 32), (20, 16))):
        if args.ways and ways != args.ways:
            continue
        for j, pool in enumerate(("stride", "max")):
            if args.pooling and pool != args.pooling:
                continue
            spec = Spec(
                ways=ways,
                meta_batch=mb,
                first_order=args.first_order,
                pooling=pool,
                iters=args.iters,
                seconds=0.0 if args.iters else args.seconds,
                threads=args.threads,
                val_chars=args.val_chars,
                val_tasks=args.val_tasks,
                init=args.init,
            )
            p, o = pair(python, peer, spec, peer_first=(i + j) % 2 == 0)
            for name, r in (("peer", p), ("ours", o)):
                print(accuracy_row(spec, name, r), flush=True)
            if "error" not in p and "error" not in o:
                gain = 100 * (o["accuracy"][3][0] - p["accuracy"][3][0])
                print(f"{'':36s} ours - peer: {gain:+.1f} points (3 steps); {o['path']}")


def accuracy_row(spec: Spec, name: str, r: dict) -> str:
    if "error" in r:
        return f"{spec.label:36s} {name:5s} failed: {r['error']}"
    a3, c3 = r["accuracy"][3]
    a1 = r["accuracy"].get(1, (float("nan"), 0.0))[0]
    return (
        f"{spec.label:36s} {name:5s} {r['iterations']:6d} {r['median']:7.3f} "
        f"{100 * a3:8.2f}% ± {100 * c3:4.2f} {100 * a1:8.2f}% {r['load']:6.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed", help="(a) seconds per meta-iteration, 8 pairs")
    s.add_argument("--iters", type=int, default=15)
    s.add_argument("--rounds", type=int, default=1, help="pairs per configuration (median)")
    s.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: seconds per iteration as the peer reports them; cpu: process seconds, "
        "less disturbed by other work on a shared machine",
    )
    a = sub.add_parser("accuracy", help="(b) accuracy at equal wall time (or iterations)")
    a.add_argument("--seconds", type=float, default=300.0)
    a.add_argument("--iters", type=int, default=0, help="equal iterations instead of seconds")
    a.add_argument("--ways", type=int, default=0, help="only 5 or only 20")
    a.add_argument("--pooling", choices=("stride", "max"), default="", help="only one network")
    a.add_argument("--first-order", action="store_true")
    a.add_argument("--val-chars", type=int, default=42)
    a.add_argument("--val-tasks", type=int, default=600)
    a.add_argument("--init", choices=("maml", "torch"), default="", help="override ours")
    for q in (s, a):
        q.add_argument("--peer-python", default=None, help="default $WORKBENCH_PEER_PYTHON")
        q.add_argument("--threads", type=int, default=1)
    side = sub.add_parser("side", help="(internal) our side of one pair")
    side.add_argument("spec")
    args = p.parse_args(argv)
    if args.what == "side":
        print("RESULT " + json.dumps(run_our_side(Spec(**json.loads(args.spec)))), flush=True)
        return 0
    python, reason = peer_python(args.peer_python)
    peer = peer_dir()
    if python is None or peer is None:
        print(f"SKIPPED: {reason or 'peer folder shared/peer not found (set $WORKBENCH_PEER_DIR)'}")
        return 0
    print(f"peer: {peer / PEER_SCRIPT} with {python}; ours: {ROOT} with {sys.executable}")
    (speed if args.what == "speed" else accuracy)(python, peer, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
