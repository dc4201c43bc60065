"""MAML and its gradient-based relatives as switches on one functional inner loop.

``maml``       Finn et al. 2017, second order (``first_order`` switches it to first order)
``fomaml``     first-order MAML: inner gradients are constants in the meta-gradient
``metasgd``    Li et al. 2017: a learned step size per parameter element
``anil``       Raghu et al. 2020: only the linear head adapts in the inner loop
``mamlpp``     Antoniou et al. 2019 (MAML++): multi-step loss (MSL), derivative-order annealing
               (DA), per-layer per-step learning rates (LSLR), per-step BatchNorm weights (BNWB)
               and running statistics (BNRS); cosine annealing (CA) is ``train.lr_schedule``
``protomaml``  Triantafillou et al. 2020: the head starts from the prototypes (w = 2c,
               b = -|c|^2) of the support features, then MAML adapts every parameter

Example::

    learner = build_learner(config, model_info)
    metrics = learner.meta_step(batch, iteration)     # one meta-update
    trace = learner.adapt(episode, steps=10)          # what 0..10 inner steps do
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from workbench.algorithms.base import AdaptationTrace, Learner, StepMetrics, make_optimizer
from workbench.algorithms.inner_loop import LrFn, Params, constant_lr, gradient_step
from workbench.algorithms.mamlpp import (
    PerStepBatchNorm,
    PerStepLearningRates,
    batchnorm_names,
    msl_weights,
)
from workbench.config import ExperimentConfig
from workbench.data.episodes import Episode, EpisodeBatch
from workbench.models.backbones import head_keys


def prototypes(features: torch.Tensor, labels: torch.Tensor, ways: int) -> torch.Tensor:
    """Class means ``[ways, D]`` of support features, in one scatter over the labels."""
    sums = features.new_zeros(ways, features.shape[-1]).index_add_(0, labels, features)
    counts = torch.bincount(labels, minlength=ways).clamp_min(1).to(features.dtype)
    return sums / counts.unsqueeze(1)


class GradientLearner(Learner):
    """MAML, first-order MAML, Meta-SGD, ANIL, MAML++ and Proto-MAML."""

    def __init__(
        self, model: nn.Module, config: ExperimentConfig, *, regression: bool,
        device: torch.device,
    ) -> None:
        super().__init__(model, regression=regression, device=device)
        alg = config.algorithm
        self.name = alg.name
        self.steps = alg.inner_steps
        self.inner_lr = alg.inner_lr
        self.first_order = alg.first_order or alg.name == "fomaml"
        self.protomaml = alg.name == "protomaml"
        mamlpp = alg.name == "mamlpp"
        self.msl = mamlpp and alg.msl
        self.msl_iterations = alg.msl_iterations
        self.da_iterations = alg.da_iterations if mamlpp else 0
        self.running_bn = config.model.batchnorm == "running"

        names = [n for n, _ in model.named_parameters()]
        bn_names = batchnorm_names(model)
        self.step_bn: PerStepBatchNorm | None = None
        if mamlpp and (alg.bnwb or (alg.bnrs and self.running_bn)) and bn_names:
            self.step_bn = PerStepBatchNorm(
                model, self.steps, weights=alg.bnwb, statistics=alg.bnrs and self.running_bn
            ).to(device)
        if alg.name == "anil":
            self.adapt_keys = head_keys(model)
        elif self.step_bn is not None and self.step_bn.weights:
            self.adapt_keys = [n for n in names if n not in bn_names]
        else:
            self.adapt_keys = names

        self.learned_lr: nn.ParameterDict | PerStepLearningRates | None = None
        if alg.name == "metasgd":
            params = dict(model.named_parameters())
            self.learned_lr = nn.ParameterDict(
                {
                    _safe(k): nn.Parameter(torch.full_like(params[k], alg.inner_lr))
                    for k in self.adapt_keys
                }
            ).to(device)
        elif mamlpp and alg.lslr:
            self.learned_lr = PerStepLearningRates(self.adapt_keys, self.steps, alg.inner_lr).to(
                device
            )
        self.optimizer = make_optimizer(self.meta_parameters(), config.train.meta_lr)

    # -- parameters --------------------------------------------------------------------------
    def meta_parameters(self) -> list[nn.Parameter]:
        params = [p for n, p in self.model.named_parameters()
                  if not (self.protomaml and n.startswith("head."))]
        if self.learned_lr is not None:
            params += list(self.learned_lr.parameters())
        if self.step_bn is not None:
            params += list(self.step_bn.parameters())
        return params

    def extra_state(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.learned_lr is not None:
            out["learned_lr"] = self.learned_lr.state_dict()
        if self.step_bn is not None:
            out["step_bn"] = self.step_bn.state_dict()
        return out

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.learned_lr is not None and "learned_lr" in state:
            self.learned_lr.load_state_dict(state["learned_lr"])
        if self.step_bn is not None and "step_bn" in state:
            self.step_bn.load_state_dict(state["step_bn"])

    def _lr_fn(self, override: float | None = None) -> LrFn:
        if override is not None or self.learned_lr is None:
            return constant_lr(self.inner_lr if override is None else override)
        if isinstance(self.learned_lr, PerStepLearningRates):
            return self.learned_lr.rate
        rates = self.learned_lr
        return lambda name, step: rates[_safe(name)]

    # -- the model as a function of its parameters --------------------------------------------
    def forward(self, params: Params, x: torch.Tensor, step: int, features_only: bool = False
                ) -> torch.Tensor:
        """The model at inner step ``step`` (which selects MAML++'s per-step BatchNorm)."""
        if self.step_bn is not None:
            overrides, buffers = self.step_bn.at_step(step)
            params = {**params, **overrides}
            return functional_call(
                self.model, (params, buffers), (x,), {"features_only": features_only},
                strict=False,
            )
        return functional_call(self.model, params, (x,), {"features_only": features_only})

    def initial_params(self, support_x: torch.Tensor, support_y: torch.Tensor, ways: int) -> Params:
        """The meta-learned starting point; Proto-MAML replaces the head by prototypes."""
        params = dict(self.model.named_parameters())
        if self.protomaml and not self.regression:
            feats = self.forward(params, support_x, 0, features_only=True)
            c = prototypes(feats, support_y, ways)
            params["head.weight"] = 2 * c
            params["head.bias"] = -(c * c).sum(-1)
        return params

    def second_order_at(self, iteration: int) -> bool:
        return not self.first_order and iteration >= self.da_iterations

    # -- meta-training -----------------------------------------------------------------------
    def task_loss(
        self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor,
        query_y: torch.Tensor, ways: int, iteration: int,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Meta-loss of one task and its detached (loss, acc, pre_loss, pre_acc) tensors."""
        create_graph = self.second_order_at(iteration)
        lr = self._lr_fn()
        fast = self.initial_params(support_x, support_y, ways)
        with torch.no_grad():
            pre_out = self.forward(fast, query_x, 0)
            pre = [self.loss(pre_out, query_y)]
            if not self.regression:
                pre.append(self.correct(pre_out, query_y))
        weights = msl_weights(self.steps, iteration, self.msl_iterations) if self.msl else None
        meta_loss = support_x.new_zeros(())
        query_out = pre_out
        for step in range(self.steps):
            support_loss = self.loss(self.forward(fast, support_x, step), support_y)
            fast = gradient_step(support_loss, fast, self.adapt_keys, lr, step,
                                 create_graph=create_graph)
            if weights is not None or step == self.steps - 1:
                query_out = self.forward(fast, query_x, step)
                step_loss = self.loss(query_out, query_y)
                meta_loss = meta_loss + (step_loss if weights is None else weights[step] * step_loss)
        final_loss = self.loss(query_out.detach(), query_y)
        post = [final_loss] + ([] if self.regression else [self.correct(query_out.detach(), query_y)])
        return meta_loss, post + pre

    def meta_step(self, batch: EpisodeBatch, iteration: int) -> StepMetrics:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        tasks = len(batch)
        ways = batch.episodes[0].ways
        totals: torch.Tensor | None = None
        for t in range(tasks):
            loss, figures = self.task_loss(
                batch.support_x[t], batch.support_y[t], batch.query_x[t], batch.query_y[t],
                ways, iteration,
            )
            (loss / tasks).backward()
            stacked = torch.stack([f.detach() for f in figures])
            totals = stacked if totals is None else totals + stacked
        self.optimizer.step()
        return _metrics((totals / tasks).tolist(), self.regression)

    # -- adaptation to one episode ------------------------------------------------------------
    def adapt(
        self, episode: Episode, steps: int, inner_lr: float | None = None,
        grid: torch.Tensor | None = None,
    ) -> AdaptationTrace:
        episode = self.prepare(episode)
        was_training = self.model.training
        self.model.eval()
        try:
            return self._adapt(episode, steps, inner_lr, grid)
        finally:
            self.model.train(was_training)

    def _adapt(self, episode: Episode, steps: int, inner_lr: float | None,
               grid: torch.Tensor | None) -> AdaptationTrace:
        lr = self._lr_fn(inner_lr)
        sx, sy, qx, qy = episode.support_x, episode.support_y, episode.query_x, episode.query_y
        with torch.no_grad():
            start = self.initial_params(sx, sy, episode.ways)
        fast = {k: v.detach().requires_grad_(k in self.adapt_keys) for k, v in start.items()}
        recorder = TraceRecorder(self, episode, grid)
        recorder.record(fast, 0)
        for step in range(steps):
            with torch.enable_grad():
                loss = self.loss(self.forward(fast, sx, step), sy)
                fast = gradient_step(loss, fast, self.adapt_keys, lr, step, create_graph=False)
            fast = {k: v.detach().requires_grad_(k in self.adapt_keys) for k, v in fast.items()}
            recorder.record(fast, step)
        return recorder.trace(self.inner_lr if inner_lr is None else inner_lr)


class TraceRecorder:
    """Collects support/query loss, accuracy and predictions after each inner step, as tensors
    on the device, and converts them to Python numbers once at the end."""

    def __init__(self, learner: GradientLearner, episode: Episode, grid: torch.Tensor | None):
        self.learner, self.episode = learner, episode
        self.grid = grid.to(learner.device) if grid is not None else None
        self.rows: list[dict[str, torch.Tensor]] = []

    @torch.no_grad()
    def record(self, params: Params, step: int) -> None:
        ln, e = self.learner, self.episode
        s_out = ln.forward(params, e.support_x, step)
        q_out = ln.forward(params, e.query_x, step)
        row = {"s_loss": ln.loss(s_out, e.support_y), "q_loss": ln.loss(q_out, e.query_y)}
        if ln.regression:
            row["q_out"] = q_out.flatten()
            if self.grid is not None:
                row["curve"] = ln.forward(params, self.grid, step).flatten()
        else:
            probs = q_out.softmax(-1)
            conf, pred = probs.max(-1)
            row.update(s_acc=ln.correct(s_out, e.support_y), q_acc=ln.correct(q_out, e.query_y),
                       pred=pred, conf=conf)
        self.rows.append(row)

    def trace(self, inner_lr: float) -> AdaptationTrace:
        cols = {k: [r[k].tolist() for r in self.rows] for k in self.rows[0]}
        return AdaptationTrace(
            support_loss=cols["s_loss"],
            query_loss=cols["q_loss"],
            support_accuracy=cols.get("s_acc", []),
            query_accuracy=cols.get("q_acc", []),
            query_predictions=cols.get("pred", []),
            query_confidences=cols.get("conf", []),
            query_outputs=cols.get("q_out", []),
            curve_x=self.grid.flatten().tolist() if self.grid is not None else [],
            curve_y=cols.get("curve", []),
            inner_lr=float(inner_lr),
        )


def _metrics(values: list[float], regression: bool) -> StepMetrics:
    if regression:
        return StepMetrics(loss=values[0], pre_loss=values[1])
    return StepMetrics(loss=values[0], accuracy=values[1], pre_loss=values[2],
                       pre_accuracy=values[3])


def _safe(name: str) -> str:
    """Parameter names as ParameterDict keys (which may not contain dots)."""
    return name.replace(".", "__")
