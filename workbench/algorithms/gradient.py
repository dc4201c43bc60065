"""MAML and its gradient-based relatives: one functional inner loop, steered by a policy.

``maml``       Finn et al. 2017, second order (``first_order`` switches it to first order)
``fomaml``     first-order MAML: inner gradients are constants in the meta-gradient
``metasgd``    Li et al. 2017: a learned step size per parameter element
``anil``       Raghu et al. 2020: only the linear head adapts in the inner loop
``mamlpp``     Antoniou et al. 2019 (MAML++): multi-step loss (MSL), derivative-order annealing
               (DA), per-layer per-step learning rates (LSLR), per-step BatchNorm weights (BNWB)
               and running statistics (BNRS); cosine annealing (CA) is ``train.lr_schedule``
``protomaml``  Triantafillou et al. 2020: the head starts from the prototypes (w = 2c,
               b = -|c|^2) of the support features, then MAML adapts every parameter

What tells them apart is each one's `GradientPolicy` (`workbench.algorithms.policies`): the
learner asks its policy which parameters adapt, at which rates, where the head starts and
whether the meta-gradient is second order, and never looks at the algorithm's name.

Example::

    learner = build_learner(config, model_info)
    metrics = learner.meta_step(batch, iteration)     # one meta-update
    trace = learner.adapt(episode, steps=10)          # what 0..10 inner steps do
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from workbench.algorithms import folded
from workbench.algorithms.base import (
    AdaptationTrace,
    Learner,
    StepMetrics,
    make_optimizer,
    measured_before,
)
from workbench.algorithms.batched import (
    TaskLossFn,
    batched_meta_gradient,
    tasks_per_chunk,
    unsupported_reason,
    vmap_safe_twin,
)
from workbench.algorithms.inner_loop import (
    LrFn,
    Params,
    constant_lr,
    functional_gradient_step,
    gradient_step,
)
from workbench.algorithms.mamlpp import PerStepBatchNorm, batchnorm_names
from workbench.algorithms.policies import GradientPolicy
from workbench.algorithms.rates import LearnedRates
from workbench.config import ExperimentConfig
from workbench.data.episodes import Episode, EpisodeBatch
from workbench.models.backbones import head_keys

log = logging.getLogger(__name__)


class GradientLearner(Learner):
    """MAML, first-order MAML, Meta-SGD, ANIL, MAML++ and Proto-MAML, each as its ``policy``
    tells (see `workbench.algorithms.policies`)."""

    def __init__(
        self,
        model: nn.Module,
        config: ExperimentConfig,
        policy: GradientPolicy,
        *,
        regression: bool,
        device: torch.device,
    ) -> None:
        super().__init__(model, regression=regression, device=device)
        alg = config.algorithm
        self.name = alg.name
        self.policy = policy
        self.steps = alg.inner_steps
        self.inner_lr = alg.inner_lr
        self.meta_batch_size = config.train.meta_batch_size

        step_bn = policy.step_batchnorm.build(model, self.steps) if policy.step_batchnorm else None
        self.step_bn: PerStepBatchNorm | None = None if step_bn is None else step_bn.to(device)
        per_step = set(batchnorm_names(model)) if step_bn is not None and step_bn.weights else set()
        #: the parameters the inner loop adapts (not BatchNorm weights that MAML++ keeps per step)
        self.adapt_keys = [k for k in policy.scope.keys(model) if k not in per_step]
        rates = policy.rates.learned(
            dict(model.named_parameters()), self.adapt_keys, self.steps, alg.inner_lr
        )
        self.learned_lr: LearnedRates | None = None if rates is None else rates.to(device)
        self.optimizer = make_optimizer(self.meta_parameters(), config.train.meta_lr)

        reason = self._per_task_reason(config)
        #: whether meta_step may map over tasks (`workbench.algorithms.batched`)
        self.batched = reason is None
        #: whether the batched path folds tasks into channels (`workbench.algorithms.folded`)
        #: rather than mapping over them with vmap
        self.folded = self.batched and folded.unsupported_reason(model, policy) is None
        #: which inner loop meta_step runs, and why; made exact for the episode shape at the
        #: first meta-step, and logged then (once per run)
        self.path_description = (
            "task-folded inner loop (grouped convolutions over chunks of tasks)"
            if self.folded
            else "task-batched inner loop (torch.func.vmap over chunks of tasks)"
            if reason is None
            else f"per-task inner loop: {reason}"
        )
        self._path_logged = False
        self._vmap_net: nn.Module | None = None
        self._chunks: dict[tuple, int] = {}

    def vmap_net(self) -> nn.Module:
        """The model's vmap-safe twin (made once): what the task-batched path calls."""
        if self._vmap_net is None:
            self._vmap_net = vmap_safe_twin(self.model)
        return self._vmap_net

    def _per_task_reason(self, config: ExperimentConfig) -> str | None:
        """Why meta_step must loop over tasks one by one (None: the batched path applies)."""
        if type(self).meta_step is not GradientLearner.meta_step:
            return f"{self.name} has its own meta-step"
        if not config.train.batched:
            return "train.batched is off"
        return unsupported_reason(self.model)

    # -- parameters --------------------------------------------------------------------------
    def meta_parameters(self) -> list[nn.Parameter]:
        unused = set() if self.policy.meta_learns_head else set(head_keys(self.model))
        params = [p for n, p in self.model.named_parameters() if n not in unused]
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
        return self.learned_lr.rate

    # -- the model as a function of its parameters --------------------------------------------
    def forward(
        self,
        params: Params,
        x: torch.Tensor,
        step: int,
        features_only: bool = False,
        *,
        net: nn.Module | None = None,
    ) -> torch.Tensor:
        """The model at inner step ``step`` (which selects MAML++'s per-step BatchNorm).

        ``net`` is the module whose structure is called with ``params`` (default: the model;
        the task-batched path passes its vmap-safe twin, see `vmap_safe_twin`).
        """
        net = self.model if net is None else net
        if self.step_bn is not None:
            overrides, buffers = self.step_bn.at_step(step)
            params = {**params, **overrides}
            return functional_call(
                net,
                (params, buffers),
                (x,),
                {"features_only": features_only},
                strict=False,
            )
        return functional_call(net, params, (x,), {"features_only": features_only})

    def initial_params(
        self,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        ways: int,
        net: nn.Module | None = None,
    ) -> Params:
        """The meta-learned starting point, its head as the policy starts it (Proto-MAML:
        prototypes of the support features; the fine-tuning baseline: zero)."""
        params: Params = dict(self.model.named_parameters())

        def support_features() -> torch.Tensor:
            return self.forward(params, support_x, 0, features_only=True, net=net)

        return self.policy.head.start(params, support_features, support_y, ways)

    def second_order_at(self, iteration: int) -> bool:
        return self.policy.second_order_at(iteration)

    # -- meta-training -----------------------------------------------------------------------
    def inner_step(
        self,
        fast: Params,
        x: torch.Tensor,
        y: torch.Tensor,
        lr: LrFn,
        step: int,
        *,
        create_graph: bool,
        functional: bool = False,
    ) -> Params:
        """``fast`` after one gradient step on the loss on ``(x, y)``.

        ``functional`` takes the gradient with `torch.func.grad` (what the task-batched path
        needs inside vmap) instead of `torch.autograd.grad`; the result is the same. Second
        order, it calls the model's vmap-safe twin (see `vmap_safe_twin`); first order, the
        model itself (its fused BatchNorm is differentiated correctly once, and is faster).

        A head computed from the body (Proto-MAML's ``2c``) always takes the functional route:
        `torch.autograd.grad` with respect to the body would follow that path too (a total
        derivative through the prototypes, at the first step only), whereas an inner step is
        the partial derivative with respect to each fast weight, as in ``adapt``.
        """
        if functional or self.policy.head.depends_on_body:
            net = self.vmap_net() if functional and create_graph else None

            def support_loss(adapted: Params) -> torch.Tensor:
                return self.loss(self.forward({**fast, **adapted}, x, step, net=net), y)

            return functional_gradient_step(
                support_loss, fast, self.adapt_keys, lr, step, create_graph=create_graph
            )
        loss = self.loss(self.forward(fast, x, step), y)
        return gradient_step(loss, fast, self.adapt_keys, lr, step, create_graph=create_graph)

    def task_loss(
        self,
        support_x: torch.Tensor,
        support_y: torch.Tensor,
        query_x: torch.Tensor,
        query_y: torch.Tensor,
        ways: int,
        iteration: int,
        *,
        functional: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Meta-loss of one task and its detached query figures after adaptation ``[loss, acc]``
        (``[loss]`` for regression).

        ``functional`` switches the inner gradient to `torch.func.grad`, so that this very
        function can be mapped over the tasks of a meta-batch (`functional_task_loss`).
        """
        create_graph = self.second_order_at(iteration)
        lr = self._lr_fn()
        net = self.vmap_net() if functional and create_graph else None
        fast = self.initial_params(support_x, support_y, ways, net=net)
        weights = self.policy.query_loss_weights(self.steps, iteration)
        meta_loss = support_x.new_zeros(())
        query_out: torch.Tensor | None = None
        for step in range(self.steps):
            fast = self.inner_step(
                fast,
                support_x,
                support_y,
                lr,
                step,
                create_graph=create_graph,
                functional=functional,
            )
            if weights is not None or step == self.steps - 1:
                query_out = self.forward(fast, query_x, step, net=net)
                step_loss = self.loss(query_out, query_y)
                meta_loss = meta_loss + (
                    step_loss if weights is None else weights[step] * step_loss
                )
        assert query_out is not None  # inner_steps >= 1
        return meta_loss, self.figures(query_out.detach(), query_y)

    def figures(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``[loss, accuracy]`` of ``output`` (``[loss]`` for regression), as one tensor."""
        row = [self.loss(output, target)]
        if not self.regression:
            row.append(self.correct(output, target))
        return torch.stack(row).detach()

    @torch.no_grad()
    def figures_before(self, batch: EpisodeBatch) -> torch.Tensor | None:
        """Mean query figures of the tasks of ``batch`` that are `measured_before`, at the
        meta-parameters before any adaptation (None if the batch holds none of them).

        A measurement changes nothing: BatchNorm running statistics, which a forward in
        training mode updates, are put back as they were."""
        picks = [
            t
            for t, episode in enumerate(batch.episodes)
            if measured_before(episode.index, self.meta_batch_size)
        ]
        if not picks:
            return None
        sample = batch.select(picks)
        with self._running_statistics_kept():
            if self.folded:
                sums = folded.figures_before(self, sample)
            else:
                sums = torch.stack(
                    [self._task_figures_before(sample[t]) for t in range(len(sample))]
                )
                sums = sums.sum(0)
        return sums / len(picks)

    def _task_figures_before(self, episode: Episode) -> torch.Tensor:
        fast = self.initial_params(episode.support_x, episode.support_y, episode.ways)
        return self.figures(self.forward(fast, episode.query_x, 0), episode.query_y)

    @contextlib.contextmanager
    def _running_statistics_kept(self) -> Iterator[None]:
        modules = [self.model] + ([] if self.step_bn is None else [self.step_bn])
        saved = [(b, b.clone()) for module in modules for b in module.buffers()]
        try:
            yield
        finally:
            for buffer, value in saved:
                buffer.copy_(value)

    def functional_task_loss(self, ways: int, iteration: int) -> TaskLossFn:
        """`task_loss` of one task's four tensors with its inner gradients taken by
        `torch.func.grad`: what the task-batched path maps over the tasks. The two paths thus
        share every line of the algorithm and differ only in how the inner gradient is taken."""
        return functools.partial(self.task_loss, ways=ways, iteration=iteration, functional=True)

    def meta_step(self, batch: EpisodeBatch, iteration: int) -> StepMetrics:
        """One meta-update: the task-batched path where it applies, else the per-task loop.

        Figures stay on the device until the single ``tolist()`` at the end (one host-device
        synchronisation per meta-step, none per task or inner step).
        """
        chunk = self.chunk_size(batch)
        if not self._path_logged:
            self.describe_path(batch)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        before = self.figures_before(batch)
        if self.folded:
            mean = folded.folded_meta_gradient(self, batch, iteration, chunk)
        elif chunk > 1:
            task_loss = self.functional_task_loss(batch.episodes[0].ways, iteration)
            mean = batched_meta_gradient(task_loss, batch, chunk)
        else:
            mean = self._per_task_meta_gradient(batch, iteration)
        self.optimizer.step()
        return step_metrics(mean, before)

    def chunk_size(self, batch: EpisodeBatch) -> int:
        """Tasks per vmapped call for episodes shaped like ``batch`` (1: the per-task loop,
        also where too few tasks fit a call for vmap to pay off; see `tasks_per_chunk`)."""
        if not self.batched:
            return 1
        key = (
            tuple(batch.support_x.shape),
            tuple(batch.query_x.shape),
            batch.support_x.device.type,
            batch.support_x.dtype,
        )
        if key not in self._chunks:
            size = folded.tasks_per_fold if self.folded else tasks_per_chunk
            self._chunks[key] = size(self.vmap_net(), batch)
        return self._chunks[key]

    def describe_path(self, batch: EpisodeBatch) -> str:
        """Make `path_description` exact for episodes shaped like ``batch``, log it (once per
        run) and return it."""
        chunk = self.chunk_size(batch)
        if self.folded:
            self.path_description = (
                f"task-folded inner loop (grouped convolutions, {chunk} of {len(batch)} tasks "
                "per fold)"
            )
        elif self.batched and chunk > 1:
            self.path_description = (
                f"task-batched inner loop (torch.func.vmap, {chunk} of {len(batch)} tasks per call)"
            )
        elif self.batched:
            why = (
                "a meta-batch of one task"
                if len(batch) == 1
                else "too few tasks fit the working set of a vmapped call to gain from it"
            )
            self.path_description = f"per-task inner loop: {why}"
        if not self._path_logged:
            log.info("%s: %s", self.name, self.path_description)
        self._path_logged = True
        return self.path_description

    def _per_task_meta_gradient(self, batch: EpisodeBatch, iteration: int) -> torch.Tensor:
        """Accumulate the meta-gradient task by task (one backward each, so only one task's
        graph is alive at a time); returns the mean figures."""
        tasks = len(batch)
        ways = batch.episodes[0].ways
        totals: torch.Tensor | None = None
        for t in range(tasks):
            loss, figures = self.task_loss(
                batch.support_x[t],
                batch.support_y[t],
                batch.query_x[t],
                batch.query_y[t],
                ways,
                iteration,
            )
            (loss / tasks).backward()
            totals = figures if totals is None else totals + figures
        assert totals is not None
        return totals / tasks

    # -- adaptation to one episode ------------------------------------------------------------
    def adapt(
        self,
        episode: Episode,
        steps: int,
        inner_lr: float | None = None,
        grid: torch.Tensor | None = None,
    ) -> AdaptationTrace:
        episode = self.prepare(episode)
        was_training = self.model.training
        self.model.eval()
        try:
            return self._adapt(episode, steps, inner_lr, grid)
        finally:
            self.model.train(was_training)

    def _adapt(
        self, episode: Episode, steps: int, inner_lr: float | None, grid: torch.Tensor | None
    ) -> AdaptationTrace:
        lr = self._lr_fn(inner_lr)
        sx, sy = episode.support_x, episode.support_y
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
            row.update(
                s_acc=ln.correct(s_out, e.support_y),
                q_acc=ln.correct(q_out, e.query_y),
                pred=pred,
                conf=conf,
            )
        self.rows.append(row)

    def trace(self, inner_lr: float) -> AdaptationTrace:
        cols: dict[str, list[Any]] = {k: [r[k].tolist() for r in self.rows] for k in self.rows[0]}
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


def step_metrics(after: torch.Tensor, before: torch.Tensor | None) -> StepMetrics:
    """`StepMetrics` of mean figures ``[loss, acc]`` (``[loss]``: regression) after and before
    adaptation, read from the device in one transfer."""
    values = torch.cat([after, before if before is not None else after[:0]]).tolist()
    n = len(after)
    post, pre = values[:n], values[n:] or [None] * n
    return StepMetrics(
        loss=post[0],
        accuracy=post[1] if n > 1 else None,
        pre_loss=pre[0],
        pre_accuracy=pre[1] if n > 1 else None,
    )
