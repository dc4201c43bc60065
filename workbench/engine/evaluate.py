"""The standard few-shot evaluation protocol.

M test episodes drawn with a fixed seed; each is adapted for S inner steps; we report the mean
query accuracy after adaptation and its 95% confidence interval ``1.96 * std / sqrt(M)``, plus
support and query accuracy and loss after every inner step 0..S (step 0 = before adaptation).
Every reported number carries the protocol that produced it (episodes, steps, seed, split).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from workbench.algorithms.base import AdaptationTrace
from workbench.data.episodes import Episode, Sampler

ProgressFn = Callable[[int, int], None]


def mean_ci95(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95% confidence half-width ``1.96 * std / sqrt(n)`` along ``axis``."""
    n = values.shape[axis]
    return values.mean(axis), 1.96 * values.std(axis) / math.sqrt(max(n, 1))


@dataclass
class EvaluationResult:
    """Protocol and results. For regression the accuracies are empty and ``accuracy``/``ci95``
    are ``None``; ``mse``/``mse_ci95`` carry the final query loss instead."""

    episodes: int
    steps: int
    split: str = ""
    seed: int = 0
    accuracy: float | None = None
    ci95: float | None = None
    mse: float | None = None
    mse_ci95: float | None = None
    query_accuracy_per_step: list[float] = field(default_factory=list)
    query_accuracy_ci95_per_step: list[float] = field(default_factory=list)
    support_accuracy_per_step: list[float] = field(default_factory=list)
    support_accuracy_ci95_per_step: list[float] = field(default_factory=list)
    query_loss_per_step: list[float] = field(default_factory=list)
    support_loss_per_step: list[float] = field(default_factory=list)
    episode_query_accuracy: list[float] = field(default_factory=list)
    cancelled: bool = False

    def to_json(self) -> dict:
        return asdict(self)

    def headline(self) -> str:
        proto = f"{self.episodes} episodes, {self.steps} inner steps"
        if self.accuracy is not None:
            return f"{100 * self.accuracy:.2f}% ± {100 * (self.ci95 or 0):.2f}% ({proto})"
        return f"query MSE {self.mse:.4f} ± {self.mse_ci95:.4f} ({proto})"


def summarise(
    traces: list[AdaptationTrace], *, split: str = "", seed: int = 0, cancelled: bool = False
) -> EvaluationResult:
    """Aggregate per-episode traces into the protocol's figures."""
    m = len(traces)
    steps = min(t.steps for t in traces) if traces else 0
    q_loss = np.array([t.query_loss[: steps + 1] for t in traces], dtype=np.float64)
    s_loss = np.array([t.support_loss[: steps + 1] for t in traces], dtype=np.float64)
    result = EvaluationResult(
        episodes=m,
        steps=steps,
        split=split,
        seed=seed,
        cancelled=cancelled,
        query_loss_per_step=q_loss.mean(0).tolist() if m else [],
        support_loss_per_step=s_loss.mean(0).tolist() if m else [],
    )
    if not m:
        return result
    if traces[0].query_accuracy:
        q_acc = np.array([t.query_accuracy[: steps + 1] for t in traces], dtype=np.float64)
        s_acc = np.array([t.support_accuracy[: steps + 1] for t in traces], dtype=np.float64)
        q_mean, q_ci = mean_ci95(q_acc)
        s_mean, s_ci = mean_ci95(s_acc)
        result.query_accuracy_per_step = q_mean.tolist()
        result.query_accuracy_ci95_per_step = q_ci.tolist()
        result.support_accuracy_per_step = s_mean.tolist()
        result.support_accuracy_ci95_per_step = s_ci.tolist()
        result.accuracy, result.ci95 = float(q_mean[-1]), float(q_ci[-1])
        result.episode_query_accuracy = q_acc[:, -1].tolist()
    else:
        mean, ci = mean_ci95(q_loss[:, -1])
        result.mse, result.mse_ci95 = float(mean), float(ci)
    return result


class Adapter(Protocol):
    """What the protocol needs of a model: adapt to an episode and say what each step did (a
    `Learner`, or a wrapper that also keeps the traces)."""

    def adapt(
        self, episode: Episode, steps: int, inner_lr: float | None = None
    ) -> AdaptationTrace: ...


def evaluate(
    learner: Adapter,
    sampler: Sampler,
    episodes: int,
    steps: int,
    *,
    inner_lr: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    split: str = "",
) -> EvaluationResult:
    """Adapt to episodes ``0..episodes-1`` of ``sampler`` and summarise.

    ``cancel`` (checked between episodes) ends early; the result then covers the episodes done
    and says ``cancelled``.
    """
    traces: list[AdaptationTrace] = []
    for i in range(episodes):
        if cancel is not None and cancel.is_set():
            return summarise(traces, split=split, seed=sampler.seed, cancelled=True)
        traces.append(learner.adapt(sampler[i], steps, inner_lr))
        if progress is not None:
            progress(i + 1, episodes)
    return summarise(traces, split=split, seed=sampler.seed)
