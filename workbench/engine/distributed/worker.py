"""One rank of a distributed run: what ``torchrun`` starts in every process.

``python -m workbench.engine.distributed.worker --control DIR (--config FILE --runs-dir DIR
[--name NAME] | --resume RUN)``, with torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in
the environment and ``WORKBENCH_BACKEND`` (gloo or nccl) set by the launch.

Rank 0 alone reads and writes the run folder. It reads the experiment (a config file, or the run
being resumed) and hands it to the others; every rank loads its data (in parallel; a rank that
cannot is named to all); rank 0 then creates or resumes the run and hands its learner state
(fresh initialisation or checkpoint) to the others, so every rank starts from the same bytes
whatever machine it runs on; then all train together.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import ErrorHandler, record

from workbench import config as configlib
from workbench.algorithms import build_learner
from workbench.config import ExperimentConfig
from workbench.engine import events as ev
from workbench.engine.distributed.context import DistributedContext
from workbench.engine.runs import RunStore
from workbench.engine.trainer import Trainer, load_data
from workbench.errors import RunError, TrainingError, WorkbenchError

#: exit status of a rank that stopped because another rank was lost (not a cause in itself)
PEER_LOST_EXIT = 3
#: exit status of a rank that met an error a user can act on (the message is in its error file)
USER_ERROR_EXIT = 2
#: the file in the control folder where rank 0 writes the run folder's path
RUN_FILE = "run"
#: environment variables the launch sets for every rank
BACKEND_ENV, THREADS_ENV = "WORKBENCH_BACKEND", "OMP_NUM_THREADS"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="workbench.engine.distributed.worker")
    p.add_argument("--control", type=Path, required=True)
    p.add_argument("--config", type=Path)
    p.add_argument("--runs-dir", type=Path)
    p.add_argument("--name")
    p.add_argument("--resume", type=Path)
    return p.parse_args(argv)


def join_group() -> DistributedContext:
    """Join the process group torchrun set up: gloo on the CPU, NCCL with one GPU per rank
    (``cuda:LOCAL_RANK``); one intra-op thread per rank unless the launch said otherwise."""
    torch.set_num_threads(max(1, int(os.environ.get(THREADS_ENV) or 1)))
    backend = os.environ.get(BACKEND_ENV, "gloo")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    device = torch.device("cpu")
    if backend == "nccl":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
    return DistributedContext(rank, world, device)


def _experiment(args: argparse.Namespace) -> ExperimentConfig:
    if args.resume is not None:
        return RunStore(args.resume).load_config()
    return configlib.load(args.config).validate()


def _agree_on_data(ctx: DistributedContext, config: ExperimentConfig) -> None:
    """Every rank loads its data; if any cannot, every rank stops with that rank's reason."""
    problem = ""
    try:
        load_data(config)
    except WorkbenchError as exc:
        problem = str(exc)
    problems: list[Any] = [None] * ctx.world
    ctx.collective(dist.all_gather_object, problems, problem)
    for rank, text in enumerate(problems):
        if text:
            raise WorkbenchError(f"process rank {rank} could not load the data: {text}")


def _state_bytes(trainer: Trainer) -> bytes:
    buffer = io.BytesIO()
    torch.save(trainer.checkpoint_state(), buffer)
    return buffer.getvalue()


def build_trainer(ctx: DistributedContext, args: argparse.Namespace) -> Trainer:
    """Rank 0 creates or resumes the run; the other ranks follow with the same state."""
    config: ExperimentConfig | None = None
    if ctx.is_writer:
        try:
            config = _experiment(args)
        except WorkbenchError as exc:
            ctx.broadcast({"error": str(exc)})
            raise
        ctx.broadcast({"config": configlib.to_dict(config)})
    else:
        config = _follow(ctx.broadcast())
    _agree_on_data(ctx, config)
    if ctx.is_writer:
        try:
            if args.resume is not None:
                trainer = Trainer.resume(args.resume, sync=ctx)
            else:
                trainer = Trainer.create(config, args.runs_dir, args.name, sync=ctx)
        except WorkbenchError as exc:
            ctx.broadcast({"error": str(exc)})
            raise
        assert trainer.store is not None
        (ctx.control or Path(".")).joinpath(RUN_FILE).write_text(str(trainer.store.path))
        ctx.broadcast({"state": _state_bytes(trainer)})
        return trainer
    state = torch.load(io.BytesIO(_follow(ctx.broadcast())), map_location="cpu", weights_only=True)
    train, val, info = load_data(config)
    learner = build_learner(config, info, ctx.device)
    learner.load_state_dict(state["learner"])
    return Trainer(
        config,
        learner,
        train,
        val,
        None,
        start_iteration=int(state["iteration"]),
        elapsed=float(state.get("elapsed", 0.0)),
        best=state.get("best"),
        sync=ctx,
    )


def _follow(payload: dict[str, Any]) -> Any:
    """What rank 0 handed over (its config, or its state); its error, if it had one."""
    if "error" in payload:
        raise RunError(f"process rank 0 could not start the run: {payload['error']}")
    if "config" in payload:
        return configlib.from_dict(payload["config"])
    return payload["state"]


def train(ctx: DistributedContext, args: argparse.Namespace) -> int:
    """Build, train, and say how it ended (an exit status)."""
    trainer = build_trainer(ctx, args)
    ctx.attach(trainer.learner)
    signal.signal(signal.SIGINT, lambda *_: trainer.stop())  # torchrun forwards Ctrl+C
    failure: list[str] = []
    trainer.subscribe(lambda e: failure.append(e.message) if e.kind == ev.FAILED else None)
    status = trainer.run()
    if status == ev.FAILED and ctx.peer_lost:
        if trainer.store is not None:  # not this run's fault: resumable from its checkpoint
            trainer.store.write_summary(
                status="interrupted", error="", iteration=trainer.last_checkpoint_iteration
            )
        return PEER_LOST_EXIT
    if status == ev.FAILED:  # this rank's reason, for the launch to show (only rank 0 logs)
        raise TrainingError(failure[-1] if failure else "training failed")
    return 0


@record
def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    ctx = join_group()
    ctx.control = args.control
    try:
        status = train(ctx, args)
        if status == 0:
            ctx.leave_together()
        return status
    except WorkbenchError as exc:
        ErrorHandler().record_exception(exc)  # the launch names this rank and its reason
        print(f"error (rank {ctx.rank}): {exc}", file=sys.stderr)
        if ctx.peer_lost:
            return PEER_LOST_EXIT
        return 1 if isinstance(exc, TrainingError) else USER_ERROR_EXIT
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
