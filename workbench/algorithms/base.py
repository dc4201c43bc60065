"""The `Learner` interface every algorithm implements, and what it reports.

The trainer, the evaluation protocol and the adaptation viewer only ever talk to a `Learner`;
an algorithm is free in how it meta-learns as long as it can (1) take one meta-step on a batch
of episodes and (2) adapt to one episode and say, step by step, what adaptation did.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from workbench.data.episodes import Episode, EpisodeBatch

#: the figures before adaptation are a diagnostic (the Training view's dashed curves), measured
#: on about this many tasks of each meta-batch rather than on all of them (`measured_before`)
PRE_ADAPTATION_TASKS = 4


def measured_before(index: int, meta_batch_size: int) -> bool:
    """Whether the meta-step measures the query figures of episode ``index`` before adaptation.

    Measuring them costs one forward of the query set per task: 8% of a second-order and 15%
    of a first-order MAML step at 1-shot. The episodes of a meta-batch are independent draws,
    so every ``meta_batch_size // PRE_ADAPTATION_TASKS``-th one (every one in meta-batches
    under 8) is an unbiased sample of them; choosing by episode index picks the same tasks
    whether one process trains the meta-batch or several share it."""
    return index % max(1, meta_batch_size // PRE_ADAPTATION_TASKS) == 0


def measured_count(first: int, count: int, meta_batch_size: int) -> int:
    """How many of the episodes ``first .. first + count - 1`` are `measured_before`."""
    return sum(measured_before(i, meta_batch_size) for i in range(first, first + count))


@dataclass
class StepMetrics:
    """Query loss and accuracy of one meta-step, averaged over its tasks, after adaptation, and
    before it (``pre_``: over the tasks `measured_before`; ``None`` where a share of a
    meta-batch holds none of them). Accuracies are ``None`` for regression."""

    loss: float
    accuracy: float | None = None
    pre_loss: float | None = None
    pre_accuracy: float | None = None

    def values(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class AdaptationTrace:
    """What adapting to one episode did, for inner steps 0..S (step 0 = before adaptation).

    Classification: ``query_predictions[s][i]`` is the predicted label of query ``i`` after
    ``s`` steps and ``query_confidences[s][i]`` its softmax probability. Regression:
    ``query_outputs[s][i]`` is the predicted value, and where a grid was asked for,
    ``curve_y[s]`` the prediction on ``curve_x`` (the MAML paper's Figure 2).
    """

    support_loss: list[float]
    query_loss: list[float]
    support_accuracy: list[float] = field(default_factory=list)
    query_accuracy: list[float] = field(default_factory=list)
    query_predictions: list[list[int]] = field(default_factory=list)
    query_confidences: list[list[float]] = field(default_factory=list)
    query_outputs: list[list[float]] = field(default_factory=list)
    curve_x: list[float] = field(default_factory=list)
    curve_y: list[list[float]] = field(default_factory=list)
    inner_lr: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.query_loss) - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Learner(abc.ABC):
    """A meta-learning algorithm bound to a model, an optimiser and a device.

    Attributes:
        regression: True for sinusoid-style regression, False for classification.
        device: where parameters and episodes live.
    """

    name: str = ""
    #: the outer loop's optimiser, made by each algorithm once its meta-parameters exist
    optimizer: torch.optim.Optimizer

    def __init__(self, model: nn.Module, *, regression: bool, device: torch.device) -> None:
        self.model = model.to(device)
        self.regression = regression
        self.device = device

    # -- the interface ---------------------------------------------------------------------
    @abc.abstractmethod
    def meta_step(self, batch: EpisodeBatch, iteration: int) -> StepMetrics:
        """One meta-update on a batch of episodes (already on ``self.device``)."""

    @abc.abstractmethod
    def adapt(
        self,
        episode: Episode,
        steps: int,
        inner_lr: float | None = None,
        grid: torch.Tensor | None = None,
    ) -> AdaptationTrace:
        """Adapt a copy of the meta-learned model to ``episode``; never changes the learner."""

    @abc.abstractmethod
    def meta_parameters(self) -> list[nn.Parameter]:
        """Everything the outer loop learns (weights, learned rates, per-step BN weights)."""

    def set_meta_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "extra": self.extra_state(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.load_extra_state(state.get("extra", {}))
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        pass

    # -- shared helpers ----------------------------------------------------------------------
    def prepare(self, episode: Episode) -> Episode:
        """The episode on this learner's device and in its parameters' floating type."""
        dtype = next(self.model.parameters()).dtype
        return episode.to(self.device, dtype)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.regression:
            return F.mse_loss(output, target)
        return F.cross_entropy(output, target)

    def correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Fraction correct as a 0-d tensor (kept on the device: no synchronisation)."""
        return (output.argmax(-1) == target).float().mean()


def make_optimizer(params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)
