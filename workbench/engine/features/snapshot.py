"""Everything the features view shows of one model on one episode.

`model_features` adapts the model to the episode and computes, on the probe images: each
layer's activations before and after, the first layer's filters, the penultimate features'
PCA projection (after-adaptation features on the axes fitted before it), their separation
scores, the top and bottom images of every channel, and the saliency of one query image per
class after adaptation. `add_tsne` adds the slower t-SNE layouts. Each part is also a function of
its own module, for a view that computes only what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.data.episodes import Episode
from workbench.engine.adaptation import LoadedModel
from workbench.engine.features.activations import (
    HEAD,
    Adapted,
    adapt,
    capture,
    layer_names,
    penultimate,
)
from workbench.engine.features.filters import FilterBank, first_layer_filters
from workbench.engine.features.probe import ProbeSet
from workbench.engine.features.progress import CancelledFn, ProgressFn, part
from workbench.engine.features.projection import PcaProjection, fit_pca, tsne
from workbench.engine.features.saliency import SaliencyMap, saliency
from workbench.engine.features.separation import Separation, separation
from workbench.engine.features.sources import architecture_text
from workbench.engine.features.top_images import Extremes, channels_of, extremes


@dataclass
class ModelFeatures:
    """One model on the probe images, before (``step 0``) and after adapting to one episode.

    ``before``/``after`` map layer names to activations ``[N, ...]``; ``features_before`` and
    ``features_after`` are the penultimate features ``[N, D]`` the projections and separation
    scores are computed from; ``pca_before``/``pca_after`` are ``[N, 2]`` on ``pca_axes``.
    """

    label: str
    detail: str
    algorithm: str
    architecture: str
    layers: list[str]
    filters: FilterBank
    adapted: Adapted
    before: dict[str, torch.Tensor]
    after: dict[str, torch.Tensor]
    pca_axes: PcaProjection
    pca_before: np.ndarray
    pca_after: np.ndarray
    separation_before: Separation
    separation_after: Separation
    extremes: dict[str, list[Extremes]]
    saliency: list[SaliencyMap]
    smoothgrad: list[SaliencyMap]
    #: ``pca_steps[s]``: the features after ``s`` inner steps on the same axes (the first is
    #: ``pca_before``, the last ``pca_after``): the embedding moving step by step
    pca_steps: list[np.ndarray] = field(default_factory=list)
    tsne_before: np.ndarray | None = None
    tsne_after: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def features_before(self) -> torch.Tensor:
        return penultimate(self.before)

    @property
    def features_after(self) -> torch.Tensor:
        return penultimate(self.after)


def activations_at(
    model: LoadedModel, adapted: Adapted, images: torch.Tensor, step: int
) -> dict[str, torch.Tensor]:
    """Every layer's activations of ``images`` after ``step`` inner steps (0: before), for a
    slider over the inner steps."""
    if not 0 <= step < len(adapted.params):
        raise IndexError(f"step {step} is not in 0..{len(adapted.params) - 1}")
    return capture(model.learner, adapted.params[step], images, max(0, step - 1))


def all_extremes(activations: dict[str, torch.Tensor], k: int = 8) -> dict[str, list[Extremes]]:
    """Top and bottom ``k`` images of every channel of every body layer."""
    return {
        name: [extremes(a, name, c, k) for c in range(channels_of(a))]
        for name, a in activations.items()
        if name != HEAD
    }


def query_saliency(
    model: LoadedModel, adapted: Adapted, episode: Episode, samples: int = 0, seed: int = 0
) -> list[SaliencyMap]:
    """Saliency after adaptation of the first query image of each class, for its own class,
    scored inside the episode's query set (``samples > 0``: SmoothGrad)."""
    e = episode
    queries = e.queries
    return [
        saliency(
            model.learner,
            adapted.after,
            e.query_x,
            c * queries,
            c,
            step=adapted.forward_step,
            episode=e,
            samples=samples,
            seed=seed,
        )
        for c in range(e.ways)
    ]


def model_features(
    model: LoadedModel,
    probe: ProbeSet,
    episode: Episode,
    steps: int,
    *,
    inner_lr: float | None = None,
    top_k: int = 8,
    smoothgrad: int = 20,
    seed: int = 0,
) -> ModelFeatures:
    """Filters, activations, projections, separation, extremes and saliency of one model
    adapted to ``episode`` for ``steps`` inner steps (no t-SNE: see `add_tsne`)."""
    learner = model.learner
    adapted = adapt(learner, episode, steps, inner_lr, with_trace=True)
    before = capture(learner, adapted.before, probe.images, 0)
    after = capture(learner, adapted.after, probe.images, adapted.forward_step)
    f0, f1 = penultimate(before), penultimate(after)
    axes = fit_pca(f0)
    return ModelFeatures(
        label=model.label,
        detail=model.detail,
        algorithm=model.config.algorithm.name,
        architecture=architecture_text(learner.model),
        layers=layer_names(learner),
        filters=first_layer_filters(learner.model, adapted.before),
        adapted=adapted,
        before=before,
        after=after,
        pca_axes=axes,
        pca_before=axes.transform(f0),
        pca_after=axes.transform(f1),
        pca_steps=pca_by_step(model, adapted, probe, axes, f0, f1),
        separation_before=separation(f0, probe.labels),
        separation_after=separation(f1, probe.labels),
        extremes=all_extremes(before, top_k),
        saliency=query_saliency(model, adapted, episode),
        smoothgrad=query_saliency(model, adapted, episode, smoothgrad, seed) if smoothgrad else [],
        notes=list(adapted.notes),
    )


def pca_by_step(
    model: LoadedModel,
    adapted: Adapted,
    probe: ProbeSet,
    axes: PcaProjection,
    first: torch.Tensor,
    last: torch.Tensor,
) -> list[np.ndarray]:
    """The probe features after each inner step 0..S, projected on ``axes`` (the first and
    last are ``first`` and ``last``, the features the before/after pictures use)."""
    steps = len(adapted.params) - 1
    out = [axes.transform(first)]
    for step in range(1, steps):
        out.append(axes.transform(penultimate(activations_at(model, adapted, probe.images, step))))
    if steps > 0:
        out.append(axes.transform(last))
    return out


def add_tsne(
    features: ModelFeatures,
    *,
    perplexity: float = 30.0,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> ModelFeatures:
    """``features`` with t-SNE layouts of the penultimate features before and after adaptation
    (the one after starts from the one before, so the two pictures are comparable)."""
    features.tsne_before = tsne(
        features.features_before,
        perplexity=perplexity,
        seed=seed,
        progress=part(progress, 0.0, 0.5),
        cancelled=cancelled,
    )
    if torch.equal(features.features_before, features.features_after):  # nothing moved
        features.tsne_after = features.tsne_before.copy()
        return features
    features.tsne_after = tsne(
        features.features_after,
        perplexity=perplexity,
        seed=seed,
        initial=features.tsne_before,
        progress=part(progress, 0.5, 1.0),
        cancelled=cancelled,
    )
    return features
