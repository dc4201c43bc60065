"""What an adaptation trace says at one inner step, in the terms the adaptation viewer draws.

A trace (`Learner.adapt`) holds per-step lists; the viewer's slider picks a step. Asking for a
step a trace does not have (ProtoNet has step 0 only, models adapted with fewer steps than the
longest in a comparison) gives the trace's last step, so every model can be shown at the
slider's step. Kept out of the GUI so the numbers the viewer shows can be tested without Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.algorithms.base import AdaptationTrace
from workbench.data.episodes import Episode
from workbench.data.sinusoid import X_RANGE, sinusoid

#: points the true sinusoid is drawn with (finer than the predicted curve: it is exact)
TRUE_CURVE_POINTS = 400


@dataclass(frozen=True)
class StepPredictions:
    """Per query image: the predicted label, its confidence and whether it is right."""

    step: int
    labels: list[int]
    confidences: list[float]
    correct: list[bool]

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / max(1, len(self.correct))


def clamp_step(values: list, step: int) -> int:
    """``step``, or the last step ``values`` has when it has fewer."""
    return min(step, len(values) - 1)


def predictions_at(trace: AdaptationTrace, episode: Episode, step: int) -> StepPredictions:
    """The trace's query predictions after ``step`` steps, scored against ``episode``'s labels."""
    s = clamp_step(trace.query_predictions, step)
    labels = [int(v) for v in trace.query_predictions[s]]
    truth = episode.query_y.tolist()
    return StepPredictions(
        s,
        labels,
        [float(c) for c in trace.query_confidences[s]],
        [p == t for p, t in zip(labels, truth)],
    )


def trace_value(trace: AdaptationTrace, name: str, step: int) -> float | None:
    """``trace.<name>[step]`` (e.g. ``query_accuracy``), None when the trace does not record it
    (accuracies of a regression model)."""
    values = getattr(trace, name)
    if not values:
        return None
    return float(values[clamp_step(values, step)])


def true_function(
    episode: Episode, points: int = TRUE_CURVE_POINTS
) -> tuple[list[float], list[float]] | None:
    """The sinusoid a regression episode was drawn from, on ``points`` x values over the task's
    range; None for an episode without amplitude and phase."""
    task = episode.task
    if "amplitude" not in task:
        return None
    xs = torch.linspace(X_RANGE[0], X_RANGE[1], points, dtype=torch.float64)
    ys = sinusoid(xs, float(task["amplitude"]), float(task["phase"]))
    return xs.tolist(), ys.tolist()


__all__ = [
    "StepPredictions",
    "TRUE_CURVE_POINTS",
    "clamp_step",
    "predictions_at",
    "trace_value",
    "true_function",
]
