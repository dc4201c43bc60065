"""`DistributedContext`: what the `Trainer` asks of the other ranks, and nothing more.

The trainer stays the ordinary single-process loop; given a context it (1) samples only this
rank's share of each meta-batch (`share`), (2) reports the mean figures of the whole meta-batch
(`reduce_metrics`), (3) stops and pauses at the iteration every rank agreed on (`agree`), and
(4) validates on its share of the episodes and summarises all of them (`evaluate`). The
meta-gradient itself is averaged inside the learner's own meta-step, by a hook the context puts
on the learner's optimiser (`attach`): it runs after the learner's backward passes and before
its ``optimizer.step()``, for every learner, with no change to the algorithms.

A collective that fails means another rank is gone (killed, crashed); it is reported as
`ProcessGroupLost`, and `peer_lost` tells the worker to leave the run resumable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from workbench.algorithms.base import Learner, StepMetrics, measured_count
from workbench.data.episodes import Sampler
from workbench.engine.distributed.running_stats import (
    RunningStatsMerge,
    batchnorm_momentum,
    statistics_groups,
)
from workbench.engine.distributed.shares import share
from workbench.engine.evaluate import EvaluationResult, summarise
from workbench.errors import TrainingError

T = TypeVar("T")

#: files a launch creates in its control folder to ask every rank to stop or pause
STOP_FILE, PAUSE_FILE = "stop", "pause"


class ProcessGroupLost(TrainingError):
    """Another rank of the run stopped answering (it died, or its machine went away)."""


class DistributedContext:
    """This rank's place in the process group (``rank`` of ``world``, on ``device``) and the
    collectives the trainer needs. ``control`` is the launch's control folder (stop/pause
    requests), if any."""

    def __init__(
        self, rank: int, world: int, device: torch.device, control: Path | None = None
    ) -> None:
        self.rank, self.world, self.device, self.control = rank, world, device, control
        self.peer_lost = False
        self._tasks, self._total = 1, 1  # this rank's tasks in the current meta-batch, of all
        self._measured = 1  # this rank's tasks measured before adaptation (`measured_before`)
        self._stats: RunningStatsMerge | None = None

    @property
    def is_writer(self) -> bool:
        """Only rank 0 writes the run folder (config, metrics, checkpoints, summary)."""
        return self.rank == 0

    # -- collectives -----------------------------------------------------------------------
    def collective(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return call(*args, **kwargs)
        except RuntimeError as exc:  # DistBackendError and gloo's connection errors
            self.peer_lost = True
            cause = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).splitlines()[0]).split(". ")[0]
            raise ProcessGroupLost(
                "lost contact with the other training processes (one of them stopped: see "
                f"the launch's message); the last checkpoint is kept ({cause})"
            ) from None

    def broadcast(self, value: Any = None) -> Any:
        """Rank 0's ``value`` on every rank (pickled: configs, checkpoint bytes, errors)."""
        box = [value]
        self.collective(dist.broadcast_object_list, box, src=0)
        return box[0]

    def leave_together(self) -> None:
        """Wait until every rank has finished before the group is torn down. A rank that exits
        while another still has Gloo work in flight can abort that other rank at exit
        ("terminate called without an active exception", pytorch#179291), turning a finished
        run into a failed launch. Only on success: after a failure the others may never come."""
        self.collective(dist.barrier)

    # -- what the trainer asks ---------------------------------------------------------------
    def share(self, start: int, size: int) -> tuple[int, int]:
        """This rank's (first episode, count) of the meta-batch of episodes ``start`` to
        ``start + size - 1``; remembered, to weight this rank's gradients and figures."""
        offset, count = share(size, self.world, self.rank)
        self._tasks, self._total = count, size
        self._measured = measured_count(start + offset, count, size)
        return start + offset, count

    def attach(self, learner: Learner) -> None:
        """Average the meta-gradient over ranks inside every meta-step of ``learner`` (and merge
        BatchNorm running statistics); call once every rank holds the same learner state."""
        groups = statistics_groups([learner.model, getattr(learner, "step_bn", None)])
        momentum = batchnorm_momentum(learner.model)
        if groups and momentum is not None:
            self._stats = RunningStatsMerge(groups, momentum, self.rank, self.world)
        learner.optimizer.register_step_pre_hook(self._before_step)

    def _before_step(self, optimizer: torch.optim.Optimizer, *_: Any) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.average_gradients(params)
        if self._stats is not None:
            self.collective(self._stats.merge)

    def average_gradients(self, params: list[torch.Tensor]) -> None:
        """Replace each rank's gradients (the mean over its own tasks) by the mean over every
        task of the meta-batch: one all_reduce of all gradients, weighted by task counts."""
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]) * (self._tasks / self._total)
        self.collective(dist.all_reduce, flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def reduce_metrics(self, metrics: StepMetrics) -> StepMetrics:
        """The figures of the whole meta-batch (each rank reported its own tasks' mean after
        adaptation, and the mean of its tasks measured before adaptation, if it had any)."""
        values = metrics.values()
        after = [k for k in values if not k.startswith("pre_")]
        before = [f"pre_{k}" for k in after]
        measured = self._measured if before[0] in values else 0
        row = [values[k] * self._tasks for k in after]
        row += [values.get(k, 0.0) * measured for k in before] + [float(measured)]
        weighted = torch.tensor(row, dtype=torch.float64, device=self.device)
        self.collective(dist.all_reduce, weighted)
        sums = weighted.tolist()
        n, count = len(after), sums[-1]
        mean = {k: v / self._total for k, v in zip(after, sums[:n])}
        if count > 0:
            mean |= {k: v / count for k, v in zip(before, sums[n:-1])}
        return StepMetrics(**mean)

    def agree(self, stop: bool, pause: bool) -> tuple[bool, bool]:
        """Stop or pause if any rank asks (its own flag, or a request file of its launch)."""
        if self.control is not None:
            stop = stop or (self.control / STOP_FILE).exists()
            pause = pause or (self.control / PAUSE_FILE).exists()
        flags = torch.tensor([float(stop), float(pause)], device=self.device)
        self.collective(dist.all_reduce, flags, op=dist.ReduceOp.MAX)
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def evaluate(
        self, learner: Learner, sampler: Sampler, episodes: int, steps: int
    ) -> EvaluationResult:
        """The validation protocol over episodes ``0..episodes-1``, each rank adapting its
        contiguous share; every rank gets the summary of all of them, in order."""
        offset, count = share(episodes, self.world, self.rank)
        traces = [learner.adapt(sampler[i], steps) for i in range(offset, offset + count)]
        gathered: list[Any] = [None] * self.world
        self.collective(dist.all_gather_object, gathered, traces)
        every = [trace for part in gathered for trace in part]
        return summarise(every, split="val", seed=sampler.seed)
