"""The transfer-learning baseline that seminars compare MAML against.

Meta-training is ordinary supervised pre-training: every image of a batch of episodes is
classified among *all* training classes by a wide head. Adaptation to an episode replaces that
head with a fresh zero-initialised ``ways``-way head and fine-tunes it on the support set with
SGD (the body stays frozen): the `finetune` policy's `ZeroHead` and `HeadOnly`. For regression
the baseline is one network fitted to all tasks at once, fine-tuned entirely on the support
points (the MAML paper's "pretrained" reference).
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.algorithms.base import StepMetrics
from workbench.algorithms.gradient import GradientLearner
from workbench.algorithms.policies import GradientPolicy
from workbench.config import ExperimentConfig
from workbench.data.episodes import EpisodeBatch


class FinetuneLearner(GradientLearner):
    def __init__(
        self,
        model: nn.Module,
        config: ExperimentConfig,
        policy: GradientPolicy,
        *,
        regression: bool,
        device: torch.device,
        class_names: list[str] | None = None,
    ) -> None:
        super().__init__(model, config, policy, regression=regression, device=device)
        self.class_index = {name: i for i, name in enumerate(class_names or [])}

    def _global_labels(self, batch: EpisodeBatch) -> torch.Tensor:
        maps = torch.tensor(
            [[self.class_index[n] for n in e.class_names] for e in batch.episodes],
            device=self.device,
        )
        ys = torch.cat([batch.support_y, batch.query_y], dim=1)
        return torch.gather(maps, 1, ys).reshape(-1)

    def meta_step(self, batch: EpisodeBatch, iteration: int) -> StepMetrics:
        self.model.train()
        x = torch.cat([batch.support_x, batch.query_x], dim=1)
        x = x.reshape(-1, *x.shape[2:])
        if self.regression:
            y = torch.cat([batch.support_y, batch.query_y], dim=1).reshape(-1, 1)
        else:
            y = self._global_labels(batch)
        self.optimizer.zero_grad(set_to_none=True)
        out = self.model(x)
        loss = self.loss(out, y)
        loss.backward()
        self.optimizer.step()
        if self.regression:
            return StepMetrics(loss=loss.item())
        loss_value, acc = torch.stack([loss.detach(), self.correct(out.detach(), y)]).tolist()
        return StepMetrics(loss=loss_value, accuracy=acc)
