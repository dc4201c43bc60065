"""Prototypical Networks (Snell et al. 2017): classify a query by its squared Euclidean
distance to each class's mean support embedding. No gradient steps at adaptation time: the
prototypes *are* the adaptation, so an `AdaptationTrace` of ProtoNet has step 0 only.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.algorithms.base import AdaptationTrace, Learner, StepMetrics, make_optimizer
from workbench.algorithms.prototypes import prototype_logits, prototypes
from workbench.config import ExperimentConfig
from workbench.data.episodes import Episode, EpisodeBatch


class ProtoNetLearner(Learner):
    name = "protonet"

    def __init__(self, model: nn.Module, config: ExperimentConfig, *, device: torch.device) -> None:
        super().__init__(model, regression=False, device=device)
        self.optimizer = make_optimizer(self.meta_parameters(), config.train.meta_lr)

    def meta_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.model.named_parameters() if not n.startswith("head.")]

    def logits(
        self, support_x: torch.Tensor, support_y: torch.Tensor, x: torch.Tensor, ways: int
    ) -> torch.Tensor:
        protos = prototypes(self.model(support_x, features_only=True), support_y, ways)
        return prototype_logits(self.model(x, features_only=True), protos)

    def meta_step(self, batch: EpisodeBatch, iteration: int) -> StepMetrics:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        tasks, ways = len(batch), batch.episodes[0].ways
        totals = torch.zeros(2, device=self.device)
        for t in range(tasks):
            out = self.logits(batch.support_x[t], batch.support_y[t], batch.query_x[t], ways)
            loss = self.loss(out, batch.query_y[t])
            (loss / tasks).backward()
            totals += torch.stack([loss.detach(), self.correct(out.detach(), batch.query_y[t])])
        self.optimizer.step()
        loss, acc = (totals / tasks).tolist()
        return StepMetrics(loss=loss, accuracy=acc)

    @torch.no_grad()
    def adapt(
        self,
        episode: Episode,
        steps: int,
        inner_lr: float | None = None,
        grid: torch.Tensor | None = None,
    ) -> AdaptationTrace:
        e = self.prepare(episode)
        was_training = self.model.training
        self.model.eval()
        try:
            protos = prototypes(self.model(e.support_x, features_only=True), e.support_y, e.ways)
            s_out = prototype_logits(self.model(e.support_x, features_only=True), protos)
            q_out = prototype_logits(self.model(e.query_x, features_only=True), protos)
        finally:
            self.model.train(was_training)
        conf, pred = q_out.softmax(-1).max(-1)
        return AdaptationTrace(
            support_loss=[self.loss(s_out, e.support_y).item()],
            query_loss=[self.loss(q_out, e.query_y).item()],
            support_accuracy=[self.correct(s_out, e.support_y).item()],
            query_accuracy=[self.correct(q_out, e.query_y).item()],
            query_predictions=[pred.tolist()],
            query_confidences=[conf.tolist()],
        )
