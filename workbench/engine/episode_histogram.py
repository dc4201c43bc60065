"""How the episodes of an aggregate spread: per model, how many episodes ended with each query
accuracy (or MSE) after adaptation.

The mean ± 95% CI says where a model lands on average; the histogram shows whether it is
reliably there or sometimes fails badly. With few queries per episode only a handful of
accuracies are attainable (5-way with 5 queries: multiples of 4%); equal-width bins would split
them unevenly, so then every attainable accuracy gets a bar of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workbench.engine.adaptation import Aggregate

#: bins of an accuracy or MSE histogram that is not one bar per attainable accuracy
BINS = 20
#: up to this many query images per episode, one bar per attainable accuracy
MAX_EXACT_QUERIES = 60


@dataclass(frozen=True)
class EpisodeHistogram:
    """``counts[i]`` episodes of model ``i`` per bin between consecutive ``edges`` (accuracy in
    percent, or MSE); None for a model without episodes. ``top`` is the tallest bar (at least 1)."""

    regression: bool
    edges: np.ndarray
    counts: list[np.ndarray | None]
    top: int


def bin_edges(values: Sequence[np.ndarray], regression: bool, queries: int) -> np.ndarray:
    """Edges for post-adaptation values (accuracies as fractions, or MSEs) of every model."""
    if regression:
        top = max(float(v.max()) for v in values if v.size)
        return np.linspace(0.0, top * 1.02 if top > 0 else 1.0, BINS + 1)
    if 0 < queries <= MAX_EXACT_QUERIES:
        return (np.arange(queries + 2) - 0.5) / queries * 100.0  # centred on k/queries
    return np.linspace(0.0, 100.0, BINS + 1)


def episode_histogram(
    aggregates: Sequence[Aggregate], queries_per_episode: int = 0
) -> EpisodeHistogram | None:
    """The histogram of each aggregate's per-episode query accuracy (query MSE for regression);
    ``queries_per_episode`` (N*Q, 0 when unknown) allows one bar per attainable accuracy. None
    when no aggregate has any episode."""
    regression = bool(aggregates) and aggregates[0].regression
    values = [
        np.asarray(a.episode_query_loss if regression else a.result.episode_query_accuracy)
        for a in aggregates
    ]
    if not any(v.size for v in values):
        return None
    edges = bin_edges(values, regression, queries_per_episode)
    counts: list[np.ndarray | None] = []
    for v in values:
        counts.append(
            np.histogram(v if regression else v * 100.0, bins=edges)[0] if v.size else None
        )
    top = max([1] + [int(c.max()) for c in counts if c is not None])
    return EpisodeHistogram(regression, edges, counts, top)


__all__ = ["EpisodeHistogram", "bin_edges", "episode_histogram"]
