"""Reptile (Nichol et al. 2018): run plain SGD on each task, then move the initialisation
toward the adapted weights. The step ``theta - mean(phi)`` is handed to Adam as the
meta-gradient, so ``train.meta_lr`` plays the part of Reptile's outer step size.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from workbench.algorithms.base import StepMetrics
from workbench.algorithms.gradient import GradientLearner, step_metrics
from workbench.algorithms.inner_loop import Params, gradient_step
from workbench.algorithms.policies import GradientPolicy
from workbench.config import ExperimentConfig
from workbench.data.episodes import EpisodeBatch


class ReptileLearner(GradientLearner):
    """Inner SGD on mini-batches of the support set; adaptation at test time is the same SGD."""

    def __init__(
        self,
        model: nn.Module,
        config: ExperimentConfig,
        policy: GradientPolicy,
        *,
        inner_batch: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, config, policy, **kwargs)
        self.inner_batch = inner_batch

    def adapted_params(
        self, support_x: torch.Tensor, support_y: torch.Tensor, generator: torch.Generator
    ) -> Params:
        """Parameters after ``inner_steps`` SGD steps on (mini-batches of) the support set."""
        lr = self._lr_fn()
        fast = {k: v.detach().clone().requires_grad_() for k, v in self.model.named_parameters()}
        n = support_x.shape[0]
        size = n if self.inner_batch <= 0 else min(self.inner_batch, n)
        order = torch.randperm(n, generator=generator).to(support_x.device)
        for step in range(self.steps):
            idx = order[torch.arange(step * size, (step + 1) * size, device=order.device) % n]
            loss = self.loss(self.forward(fast, support_x[idx], step), support_y[idx])
            fast = gradient_step(loss, fast, self.adapt_keys, lr, step, create_graph=False)
            fast = {k: v.detach().requires_grad_() for k, v in fast.items()}
        return fast

    def meta_step(self, batch: EpisodeBatch, iteration: int) -> StepMetrics:
        self.model.train()
        tasks = len(batch)
        theta: Params = dict(self.model.named_parameters())
        delta = {k: torch.zeros_like(v) for k, v in theta.items()}
        before = self.figures_before(batch)
        after = []
        for t in range(tasks):
            # seeded by the task's place in the whole meta-batch (the same when a process
            # trains on a share of it: `workbench.engine.distributed`)
            place = batch.episodes[t].index - iteration * self.meta_batch_size
            gen = torch.Generator().manual_seed(iteration * 1_000_003 + place)
            sx, sy, qx, qy = (
                batch.support_x[t],
                batch.support_y[t],
                batch.query_x[t],
                batch.query_y[t],
            )
            phi = self.adapted_params(sx, sy, gen)
            with torch.no_grad():
                for k in theta:
                    delta[k] += theta[k].detach() - phi[k].detach()
                after.append(self.figures(self.forward(phi, qx, 0), qy))
        self.optimizer.zero_grad(set_to_none=True)
        for k, p in self.model.named_parameters():
            p.grad = delta[k] / tasks
        self.optimizer.step()
        return step_metrics(torch.stack(after).mean(0), before)
