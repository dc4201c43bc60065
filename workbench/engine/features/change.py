"""Representation change per layer over many episodes: "rapid learning or feature reuse?"

For each of M test episodes a model adapts to the support set (`activations.adapt`); each
layer's activations of the probe images before and after are compared with linear CKA
(`cka`), and the penultimate features after adaptation are scored for class separation
(`separation`). The result per layer is the mean CKA over the episodes with its 95% confidence
half-width (``1.96 * std / sqrt(M)``, `workbench.engine.evaluate.mean_ci95`, the convention of
every other number in the workbench). Raghu et al. (2020) read a body whose CKA stays near 1 with
a head whose CKA drops as feature reuse.

Layers whose CKA is undefined (a representation constant over the images: the fine-tuning
baseline's fresh zero head before it is fitted) have ``mean = None`` and a note saying why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.algorithms import Learner
from workbench.algorithms.inner_loop import Params
from workbench.data.episodes import Sampler
from workbench.engine.adaptation import LoadedModel
from workbench.engine.evaluate import mean_ci95
from workbench.engine.features.activations import adapt, capture, layer_names, penultimate
from workbench.engine.features.cka import cka_from_grams, gram, is_constant
from workbench.engine.features.probe import ProbeSet
from workbench.engine.features.progress import CancelledFn, ProgressFn, check, no_progress
from workbench.engine.features.separation import Separation, separation
from workbench.errors import ConfigError


def _summary(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and 95% CI half-width of the finite values (None when there are none)."""
    finite = np.array([v for v in values if math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return None, None
    mean, ci = mean_ci95(finite)
    return float(mean), float(ci)


@dataclass
class Spread:
    """A figure over episodes: mean, 95% CI half-width, and the value of each episode."""

    mean: float | None
    ci95: float | None
    values: list[float]

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        mean, ci = _summary(values)
        return cls(mean, ci, [float(v) for v in values])

    def to_dict(self) -> dict[str, object]:
        return {
            "mean": self.mean,
            "ci95": self.ci95,
            "episodes": len(self.values),
            "values": [v if math.isfinite(v) else None for v in self.values],
        }


@dataclass
class RepresentationChange:
    """One model's change per layer over ``episodes`` episodes of ``steps`` inner steps."""

    label: str
    steps: int
    layers: list[str]
    cka: dict[str, Spread]
    separation_before: Separation
    silhouette_after: Spread
    centroid_accuracy_after: Spread
    query_accuracy_before: Spread
    query_accuracy_after: Spread
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def episodes(self) -> int:
        return len(self.query_accuracy_after.values)


class _GramCache:
    """The before-adaptation Gram matrix per layer, reused while the activations are unchanged
    (the body's starting point is the same for every episode; only some heads start anew)."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def get(self, layer: str, activation: torch.Tensor) -> torch.Tensor:
        held = self.kept.get(layer)
        if held is not None and torch.equal(held[0], activation):
            return held[1]
        k = gram(activation)
        self.kept[layer] = (activation, k)
        return k


def _layer_cka(before: torch.Tensor, after: torch.Tensor, k: torch.Tensor) -> float:
    if is_constant(before) or is_constant(after):
        return float("nan")
    if torch.equal(before, after):  # a frozen layer: exactly 1, not 1 up to rounding
        return 1.0
    return cka_from_grams(k, gram(after))


class _BeforeCache:
    """The probe activations at the starting point, reused while the starting parameters are
    the same (they are for every episode, except heads that start from the support set)."""

    def __init__(self) -> None:
        self.params: Params | None = None
        self.activations: dict[str, torch.Tensor] = {}

    def _same(self, params: Params) -> bool:
        held = self.params
        if held is None or held.keys() != params.keys():
            return False
        return all(torch.equal(held[k], params[k]) for k in params)

    def get(
        self, learner: Learner, params: Params, images: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if not self._same(params):
            self.params, self.activations = params, capture(learner, params, images, 0)
        return self.activations


def representation_change(
    model: LoadedModel,
    probe: ProbeSet,
    sampler: Sampler,
    episodes: int,
    steps: int,
    *,
    inner_lr: float | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> RepresentationChange:
    """CKA per layer and separation after adaptation, over episodes ``0..episodes-1`` of
    ``sampler``; progress after each episode, cancel checked before each."""
    if episodes < 1:
        raise ConfigError("--episodes", f"must be at least 1, got {episodes}")
    learner, report = model.learner, progress or no_progress
    names, grams, starts = layer_names(learner), _GramCache(), _BeforeCache()
    ckas: dict[str, list[float]] = {n: [] for n in names}
    sil, cen, acc0, acc1 = [], [], [], []
    first: Separation | None = None
    constant: set[str] = set()
    for e in range(episodes):
        check(cancelled, "the representation change")
        adapted = adapt(learner, sampler[e], steps, inner_lr, with_trace=True)
        before = starts.get(learner, adapted.before, probe.images)
        after = capture(learner, adapted.after, probe.images, adapted.forward_step)
        for name in names:
            if is_constant(before[name]):
                constant.add(name)
            ckas[name].append(_layer_cka(before[name], after[name], grams.get(name, before[name])))
        first = first or separation(penultimate(before), probe.labels)
        scores = separation(penultimate(after), probe.labels)
        sil.append(scores.silhouette)
        cen.append(scores.centroid_accuracy)
        assert adapted.trace is not None
        acc0.append(adapted.trace.query_accuracy[0])
        acc1.append(adapted.trace.query_accuracy[-1])
        report((e + 1) / episodes, f"{model.label}: episode {e + 1} of {episodes}")
    assert first is not None
    notes = {
        n: "constant over the images before adaptation (a fresh zero head): CKA is undefined"
        for n in constant
    }
    return RepresentationChange(
        model.label,
        steps,
        names,
        {n: Spread.of(v) for n, v in ckas.items()},
        first,
        Spread.of(sil),
        Spread.of(cen),
        Spread.of(acc0),
        Spread.of(acc1),
        notes,
    )
