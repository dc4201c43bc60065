"""``workbench train CONFIG --nproc N`` and ``workbench resume RUN`` of a run trained by several
processes: the command-line side of `workbench.engine.distributed`.

The launching process checks the request (`plan_launch`: nothing starts if it cannot work),
starts ``torchrun`` (`Launch`), prints the ranks' progress from the run's metrics log, turns
Ctrl+C into an agreed stop (a second Ctrl+C ends at once), and at the end names the rank that
died, if one did.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from workbench.config import ExperimentConfig
from workbench.engine import events as ev
from workbench.errors import RunError


def add_launch_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``train`` and ``resume`` that start several processes (torchrun's)."""
    g = parser.add_argument_group(
        "several processes (torch.distributed, started by torchrun; see the README)"
    )
    g.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="processes on this machine sharing each meta-batch: one per GPU, or several on "
        "the CPU (default train.processes)",
    )
    g.add_argument("--nnodes", type=int, default=1, help="machines taking part (default 1)")
    g.add_argument("--node-rank", type=int, default=0, help="this machine's number, 0 to nnodes-1")
    g.add_argument(
        "--rdzv-endpoint",
        default="",
        metavar="HOST:PORT",
        help="where the machines meet: an address of machine 0 (the same on every machine)",
    )
    g.add_argument("--rdzv-id", default="workbench", help="rendezvous id (c10d backend)")
    g.add_argument(
        "--rdzv-backend",
        choices=("static", "c10d"),
        default="static",
        help="static (default: machine --node-rank 0 holds rank 0, which writes the run "
        "folder) or c10d (torchrun assigns the ranks)",
    )


def requested(args: argparse.Namespace, config: ExperimentConfig) -> bool:
    """Whether this train or resume starts several processes (``--nproc``, ``--nnodes`` or the
    config's ``train.processes``); ``--nproc 1`` is recorded in the config as one process."""
    nproc = config.train.processes if args.nproc is None else args.nproc
    if nproc == 1 and args.nnodes == 1:
        config.train.processes = 1
        return False
    return True


def _plan(args: argparse.Namespace, config: ExperimentConfig):
    from workbench.engine.distributed.plan import plan_launch

    nproc = config.train.processes if args.nproc is None else args.nproc
    return plan_launch(
        config,
        nproc,
        nnodes=args.nnodes,
        node_rank=args.node_rank,
        rdzv_endpoint=args.rdzv_endpoint,
        rdzv_id=args.rdzv_id,
        rdzv_backend=args.rdzv_backend,
    )


def train(args: argparse.Namespace, config: ExperimentConfig) -> int:
    """Check, then train a new run with several processes."""
    from workbench.engine.distributed.launch import Launch
    from workbench.engine.runs import check_writable, default_runs_dir

    plan = _plan(args, config)
    config.train.processes = plan.nproc  # kept in the run's config: resume uses it
    config.validate()
    runs_dir = args.runs_dir or default_runs_dir()
    check_writable(runs_dir)
    return supervise(Launch(plan, config, runs_dir=runs_dir, name=args.name), args.quiet)


def resume_requested(args: argparse.Namespace) -> bool:
    """Whether ``workbench resume`` continues with several processes (the options, or the
    run's ``train.processes``); a folder that is no run is left to the ordinary resume."""
    from workbench.engine.runs import RunStore

    store = RunStore(args.run_dir)
    if not store.config_path.is_file():
        return False
    return requested(args, store.load_config())


def resume(args: argparse.Namespace) -> int:
    """Check, then continue a run with several processes (``train.processes`` of the run)."""
    from workbench.engine.distributed.launch import Launch
    from workbench.engine.runs import RunStore

    store = RunStore(args.run_dir)
    plan = _plan(args, store.load_config())
    if store.status() == "running":
        raise RunError(f"run {store.path.name} is still running")
    if not store.has_checkpoint("last"):
        raise RunError(f"run {store.path.name} has no checkpoint to continue from")
    sys.stderr.write(f"resuming {args.run_dir} with {plan.world} processes\n")
    return supervise(Launch(plan, resume=args.run_dir), args.quiet)


def supervise(launch, quiet: bool) -> int:
    """Start ``launch``, print its progress until it ends, report how it ended."""
    from workbench.cli import ProgressPrinter
    from workbench.engine.distributed.follow import MetricsFollower

    printer = ProgressPrinter(quiet=quiet)
    presses = {"n": 0}

    def on_sigint(signum, frame):  # noqa: ARG001
        presses["n"] += 1
        if presses["n"] == 1:
            sys.stderr.write(
                "\nstopping every process after this iteration and saving a checkpoint "
                "(Ctrl+C again to quit at once)\n"
            )
            launch.stop()
        else:
            sys.stderr.write("\nquitting now; the last checkpoint on disk is intact\n")
            launch.terminate()

    previous = signal.signal(signal.SIGINT, on_sigint)
    previous_term = signal.signal(signal.SIGTERM, lambda *_: launch.terminate())
    try:
        launch.start()
        follower, code = None, None
        while code is None:
            code = launch.poll()
            run = launch.run_dir()
            if follower is None and run is not None:
                follower = MetricsFollower(run)
                if not quiet:
                    plan = launch.plan
                    sys.stderr.write(
                        f"training with {plan.world} processes ({plan.backend}, "
                        f"{plan.threads} thread(s) each) in {run}\n"
                    )
            for event in _thinned(follower.poll() if follower is not None else []):
                printer(event)
            if code is None:
                time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    return report(launch)


def _thinned(events: list[ev.TrainerEvent]) -> list[ev.TrainerEvent]:
    """The events read in one poll, with only the last of each run of iterations: the progress
    line's rate is measured between calls, and a burst read at once would fake it."""
    kept = [
        e
        for i, e in enumerate(events)
        if e.kind != ev.ITERATION or i + 1 == len(events) or events[i + 1].kind != ev.ITERATION
    ]
    return kept


def _grouped(failures: list, shown: str) -> list[str]:
    """One line per distinct reason: ranks that failed alike (a NaN every rank saw) are named
    together, and a reason already printed from the run's log (``shown``) is not repeated."""
    groups: dict[str, list] = {}
    for f in failures:
        groups.setdefault(f.reason or f.describe(), []).append(f)
    lines = []
    for reason, group in groups.items():
        ranks = " and ".join(str(f.rank) for f in group)
        if reason == shown:
            lines.append(f"process{'es' if len(group) > 1 else ''} rank {ranks} stopped there")
        elif len(group) > 1:
            lines.append(f"{group[0].describe()} (as did rank {ranks.split(' and ', 1)[1]})")
        else:
            lines.append(group[0].describe())
    return lines


def report(launch) -> int:
    """Say how the launch ended (naming a rank that died) and return the exit status."""
    from workbench.engine.distributed.launch import failure_causes
    from workbench.engine.runs import RunStore

    failures = launch.failures()
    causes = failure_causes(failures)
    status, run = launch.status(), launch.run_dir()
    if causes:
        shown = str(RunStore(run).read_summary().get("error", "")) if run is not None else ""
        others = "; the other processes were stopped" if len(failures) < launch.plan.world else ""
        sys.stderr.write("error: " + "; ".join(_grouped(causes, shown)) + others + "\n")
    if run is None:  # rank 0 is on another machine, or never got as far as the run folder
        if launch.poll() == 0:
            sys.stderr.write("done: this machine's processes ended with the run\n")
            launch.close()
            return 0
        sys.stderr.write(f"error: no run was started here; torchrun's log: {launch.log_path}\n")
        return 1
    if status == "interrupted":
        sys.stderr.write(f"the run is interrupted; `workbench resume {run}` continues it\n")
    if status in (ev.FINISHED, ev.STOPPED) and not failures:
        launch.close()
    elif launch.poll() is not None:
        sys.stderr.write(f"torchrun's log: {launch.log_path}\n")
    print(Path(run))
    return {ev.FINISHED: 0, ev.STOPPED: 130}.get(status, 1)
