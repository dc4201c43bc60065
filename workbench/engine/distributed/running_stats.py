"""BatchNorm running statistics merged across ranks as if one process had made every update.

With ``model.batchnorm = running`` (and MAML++ per-step statistics, BNRS) every training forward
pass updates each BatchNorm layer's running mean and variance in place, ``r <- a r + m s``
(momentum ``m``, ``a = 1 - m``, the batch's statistic ``s``), task after task. These are not
gradients: averaging gradients leaves each rank's statistics having seen its own share only.
The update is linear, though. A rank that starts from ``r0`` and makes ``k`` updates holds
``a^k r0 + u``, where ``u`` is what its batches added. One process going through the ranks'
contiguous shares in rank order would hold ``a^K r0 + sum_j a^(K after j) u_j``, where
``K after j`` counts the updates of the ranks after ``j``. Each rank knows its ``k`` from
``num_batches_tracked``; one all_reduce of the counts and one of the weighted ``u_j`` give every
rank exactly that (to float rounding). Training losses do not depend on these statistics (in
training mode BatchNorm normalises with the batch's own), so gradients are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass
class StatisticsGroup:
    """One BatchNorm layer's (or one MAML++ step's copy of it) running statistics."""

    name: str
    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor


def statistics_groups(modules: Iterable[nn.Module | None]) -> list[StatisticsGroup]:
    """Every (running_mean, running_var, num_batches_tracked) triple in ``modules``' buffers,
    whether a BatchNorm layer's own (``body.1.running_mean``) or a per-step copy
    (``s0__body__1__running_mean``)."""
    found: dict[str, dict[str, torch.Tensor]] = {}
    for index, module in enumerate(modules):
        if module is None:
            continue
        for name, buffer in module.named_buffers():
            for suffix in _SUFFIXES:
                if name.endswith(suffix):
                    found.setdefault(f"{index}:{name[: -len(suffix)]}", {})[suffix] = buffer
    return [
        StatisticsGroup(name, parts["running_mean"], parts["running_var"], parts[_SUFFIXES[2]])
        for name, parts in sorted(found.items())
        if all(s in parts for s in _SUFFIXES)
    ]


def batchnorm_momentum(model: nn.Module) -> float | None:
    """The one momentum of the model's BatchNorm layers that keep running statistics (None if
    none do); a cumulative average (momentum None) or mixed momenta cannot be merged."""
    momenta = {
        m.momentum
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    }
    if not momenta:
        return None
    if len(momenta) > 1 or None in momenta:
        raise ValueError(f"BatchNorm momenta {sorted(map(str, momenta))} cannot be merged")
    return float(momenta.pop())  # type: ignore[arg-type]


class RunningStatsMerge:
    """Keeps the statistics every rank agreed on after the last meta-step (``r0``) and merges
    the ranks' updates after the next one (`merge`). All ranks call `merge` together."""

    def __init__(self, groups: list[StatisticsGroup], momentum: float, rank: int, world: int):
        self.groups, self.rank, self.world = groups, rank, world
        self.keep = 1.0 - momentum
        self._start = self._copy()

    def _copy(self) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
        return [
            (g.mean.detach().clone(), g.var.detach().clone(), int(g.count)) for g in self.groups
        ]

    def reset(self) -> None:
        """Take the current statistics as the agreed start (after a checkpoint is loaded)."""
        self._start = self._copy()

    def merge(self) -> None:
        if not self.groups:
            return
        device = self.groups[0].mean.device
        counts = torch.zeros(self.world, len(self.groups), dtype=torch.float64, device=device)
        for j, (g, (_, _, c0)) in enumerate(zip(self.groups, self._start)):
            counts[self.rank, j] = int(g.count) - c0
        dist.all_reduce(counts)
        total = counts.sum(0)
        after = counts[self.rank + 1 :].sum(0)
        added = []
        for j, (g, (m0, v0, _)) in enumerate(zip(self.groups, self._start)):
            own = self.keep ** float(counts[self.rank, j])
            weight = self.keep ** float(after[j])
            added += [(g.mean.double() - own * m0.double()) * weight]
            added += [(g.var.double() - own * v0.double()) * weight]
        flat = torch.cat([t.reshape(-1) for t in added])
        dist.all_reduce(flat)
        offset = 0
        with torch.no_grad():
            for j, (g, (m0, v0, c0)) in enumerate(zip(self.groups, self._start)):
                start = self.keep ** float(total[j])
                for target, first in ((g.mean, m0), (g.var, v0)):
                    n = target.numel()
                    merged = start * first.double() + flat[offset : offset + n].view_as(first)
                    target.copy_(merged.to(target.dtype))
                    offset += n
                g.count.fill_(c0 + int(total[j]))
        self._start = self._copy()
