"""What tells one gradient-based algorithm from another, as one small policy object each.

`GradientLearner` runs one inner loop, MAML's; an algorithm is the answers its
`GradientPolicy` gives to the questions that loop asks:

- which parameters adapt: `AllParameters`, or `HeadOnly` (ANIL, the fine-tuning baseline);
- with which step sizes: `ConstantRate`, `PerElementRates` (Meta-SGD: a learned rate per
  parameter element) or `PerLayerPerStepRates` (MAML++ LSLR);
- where the head starts: `HeadAsIs`, `ZeroHead` (the baseline's fresh head) or `PrototypeHead`
  (Proto-MAML: w = 2c, b = -|c|^2 from the support features);
- first or second order, and from which meta-iteration on (MAML++ derivative-order annealing);
- MAML++'s multi-step loss and per-step BatchNorm (`StepBatchNorm`).

`POLICIES` maps each algorithm's name to the function that builds its policy from the
configuration: the one place where the names of the family are told apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from workbench.algorithms.inner_loop import Params
from workbench.algorithms.mamlpp import PerStepBatchNorm, batchnorm_modules, msl_weights
from workbench.algorithms.prototypes import prototypes
from workbench.algorithms.rates import (
    LearnedRates,
    PerElementLearningRates,
    PerStepLearningRates,
)
from workbench.config import AlgorithmConfig
from workbench.models.backbones import head_keys

# -- which parameters adapt ---------------------------------------------------------------------


class ParameterScope(Protocol):
    def keys(self, model: nn.Module) -> list[str]:
        """Names of the parameters the inner loop adapts."""
        ...


@dataclass(frozen=True)
class AllParameters:
    def keys(self, model: nn.Module) -> list[str]:
        return [name for name, _ in model.named_parameters()]


@dataclass(frozen=True)
class HeadOnly:
    """The body is a fixed feature extractor within a task (ANIL, Raghu et al. 2020)."""

    def keys(self, model: nn.Module) -> list[str]:
        return head_keys(model)


# -- the learning-rate rule ---------------------------------------------------------------------


class RateRule(Protocol):
    def learned(
        self, params: Mapping[str, torch.Tensor], keys: Sequence[str], steps: int, init: float
    ) -> LearnedRates | None:
        """The learned rates of the parameters named in ``keys`` (meta-parameters, starting at
        ``init``), or None where every step uses the constant inner learning rate."""
        ...


@dataclass(frozen=True)
class ConstantRate:
    def learned(
        self, params: Mapping[str, torch.Tensor], keys: Sequence[str], steps: int, init: float
    ) -> LearnedRates | None:
        return None


@dataclass(frozen=True)
class PerElementRates:
    """Meta-SGD (Li et al. 2017): a learned rate for every element of every adapted tensor."""

    def learned(
        self, params: Mapping[str, torch.Tensor], keys: Sequence[str], steps: int, init: float
    ) -> LearnedRates | None:
        return PerElementLearningRates(params, keys, init)


@dataclass(frozen=True)
class PerLayerPerStepRates:
    """MAML++ LSLR: a learned scalar rate per adapted tensor and inner step."""

    def learned(
        self, params: Mapping[str, torch.Tensor], keys: Sequence[str], steps: int, init: float
    ) -> LearnedRates | None:
        return PerStepLearningRates(keys, steps, init)


# -- where the head starts ----------------------------------------------------------------------


class HeadStart(Protocol):
    #: whether the start is computed from the body's features; an inner step must then take the
    #: partial derivative for each fast weight (see `GradientLearner.inner_step`)
    depends_on_body: bool

    def start(
        self,
        params: Params,
        support_features: Callable[[], torch.Tensor],
        support_y: torch.Tensor,
        ways: int,
    ) -> Params:
        """``params`` with the head an episode's adaptation starts from."""
        ...


@dataclass(frozen=True)
class HeadAsIs:
    depends_on_body = False

    def start(
        self,
        params: Params,
        support_features: Callable[[], torch.Tensor],
        support_y: torch.Tensor,
        ways: int,
    ) -> Params:
        return params


@dataclass(frozen=True)
class ZeroHead:
    """A fresh zero ``ways``-way head: the fine-tuning baseline's pre-training head has one
    output per training class, not per class of the episode."""

    depends_on_body = False

    def start(
        self,
        params: Params,
        support_features: Callable[[], torch.Tensor],
        support_y: torch.Tensor,
        ways: int,
    ) -> Params:
        weight = params["head.weight"]
        head = {
            "head.weight": weight.new_zeros(ways, weight.shape[1]),
            "head.bias": weight.new_zeros(ways),
        }
        return {**params, **head}


@dataclass(frozen=True)
class PrototypeHead:
    """Proto-MAML (Triantafillou et al. 2020): the linear head that scores a feature ``f`` by
    ``-|f - c_j|^2`` up to a per-example constant, ``w_j = 2 c_j`` and ``b_j = -|c_j|^2``,
    where ``c_j`` is the prototype (mean support feature) of class ``j``."""

    depends_on_body = True

    def start(
        self,
        params: Params,
        support_features: Callable[[], torch.Tensor],
        support_y: torch.Tensor,
        ways: int,
    ) -> Params:
        c = prototypes(support_features(), support_y, ways)
        return {**params, "head.weight": 2 * c, "head.bias": -(c * c).sum(-1)}


# -- MAML++ per-step BatchNorm ------------------------------------------------------------------


@dataclass(frozen=True)
class StepBatchNorm:
    """MAML++ BNWB (a BatchNorm scale and shift per inner step) and BNRS (running statistics per
    inner step, where the model keeps running statistics at all)."""

    weights: bool
    statistics: bool

    def build(self, model: nn.Module, steps: int) -> PerStepBatchNorm | None:
        """The per-step BatchNorm module, or None where the model has nothing it would hold."""
        layers = [m for _, m in batchnorm_modules(model)]
        statistics = self.statistics and any(m.track_running_stats for m in layers)
        has_weights = any(m.affine for m in layers)
        if not has_weights or not (self.weights or statistics):
            return None
        return PerStepBatchNorm(model, steps, weights=self.weights, statistics=statistics)


# -- the policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GradientPolicy:
    """Everything that tells one gradient-based algorithm from another (MAML's answers by
    default)."""

    scope: ParameterScope = AllParameters()
    rates: RateRule = ConstantRate()
    head: HeadStart = HeadAsIs()
    #: inner gradients are constants in the meta-gradient
    first_order: bool = False
    #: MAML++ derivative-order annealing: first order before this meta-iteration
    second_order_from: int = 0
    #: MAML++ multi-step loss: the iterations over which every step's query loss gives way to
    #: the last step's (None: only the last step's query loss counts)
    msl_iterations: int | None = None
    step_batchnorm: StepBatchNorm | None = None
    #: whether the outer loop learns the model's own head; Proto-MAML replaces it by
    #: prototypes in every task, so it never takes part
    meta_learns_head: bool = True

    def second_order_at(self, iteration: int) -> bool:
        return not self.first_order and iteration >= self.second_order_from

    def query_loss_weights(self, steps: int, iteration: int) -> list[float] | None:
        """How much the query loss after each inner step counts (None: the last step only)."""
        if self.msl_iterations is None:
            return None
        return msl_weights(steps, iteration, self.msl_iterations)


def maml(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    """Finn et al. 2017; ``first_order`` drops the second-order terms."""
    return GradientPolicy(first_order=alg.first_order)


def fomaml(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    return GradientPolicy(first_order=True)


def metasgd(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    return GradientPolicy(rates=PerElementRates(), first_order=alg.first_order)


def anil(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    return GradientPolicy(scope=HeadOnly(), first_order=alg.first_order)


def protomaml(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    return GradientPolicy(head=PrototypeHead(), first_order=alg.first_order, meta_learns_head=False)


def mamlpp(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    """Antoniou et al. 2019 (MAML++), each option a switch; cosine annealing of the meta
    learning rate (CA) is the trainer's ``train.lr_schedule``."""
    return GradientPolicy(
        rates=PerLayerPerStepRates() if alg.lslr else ConstantRate(),
        first_order=alg.first_order,
        second_order_from=alg.da_iterations,
        msl_iterations=alg.msl_iterations if alg.msl else None,
        step_batchnorm=StepBatchNorm(weights=alg.bnwb, statistics=alg.bnrs),
    )


def reptile(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    """Nichol et al. 2018: plain SGD on every parameter; Reptile's meta-step never
    differentiates through it."""
    return GradientPolicy(first_order=True)


def finetune(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    """The transfer-learning baseline: a fresh head fitted on the frozen body (classification),
    or the whole pre-trained network fine-tuned (regression)."""
    if regression:
        return GradientPolicy(first_order=True)
    return GradientPolicy(scope=HeadOnly(), head=ZeroHead(), first_order=True)


class PolicyFactory(Protocol):
    def __call__(self, alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy: ...


#: the policy of every algorithm that `GradientLearner` (or a subclass) runs
POLICIES: dict[str, PolicyFactory] = {
    "maml": maml,
    "fomaml": fomaml,
    "metasgd": metasgd,
    "anil": anil,
    "protomaml": protomaml,
    "mamlpp": mamlpp,
    "reptile": reptile,
    "finetune": finetune,
}


def policy_for(alg: AlgorithmConfig, *, regression: bool) -> GradientPolicy:
    """The policy of ``alg.name``; ValueError for an algorithm outside the gradient family."""
    factory = POLICIES.get(alg.name)
    if factory is None:
        raise ValueError(f"{alg.name} is not a gradient-based algorithm")
    return factory(alg, regression=regression)
