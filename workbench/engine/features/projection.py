"""Features projected to 2-D: PCA (scikit-learn) and t-SNE (openTSNE).

PCA is fitted on one set of features and can project others into the same axes
(`PcaProjection.transform`): the embedding view projects the features after adaptation with the
axes fitted before it, so a point's move is the adaptation's doing, not the projection's.

t-SNE uses openTSNE rather than scikit-learn's TSNE. Both embed 400 points of 32 or 64
dimensions in well under a second on this machine (``benchmarks/tsne.py`` prints the figures),
so speed does not decide; openTSNE calls back every few iterations, which gives the view a
progress bar and a Cancel that works during the optimisation, where scikit-learn's TSNE runs as
one uninterruptible call. A t-SNE after adaptation can start from the layout before it
(``initial``), so the two pictures are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from openTSNE import TSNE
from sklearn.decomposition import PCA

from workbench.engine.features.progress import (
    CancelledFn,
    ProgressFn,
    check,
    no_progress,
    part,
)

PCA_METHOD = "pca"
TSNE_METHOD = "tsne"
#: the library that computes t-SNE (named in reports)
TSNE_LIBRARY = "openTSNE"
#: openTSNE's two phases: early exaggeration, then the normal optimisation
EXAGGERATION_ITERATIONS = 250
ITERATIONS = 500
#: how often (in iterations) progress is reported and the cancel flag read
CALLBACK_EVERY = 25


def _array(features: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        x = x.reshape(x.shape[0], -1)
    return x


@dataclass
class PcaProjection:
    """PCA axes fitted on some features: ``mean [D]``, ``components [2, D]`` (unit rows) and the
    share of the variance each axis explains."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray

    def transform(self, features: torch.Tensor | np.ndarray) -> np.ndarray:
        """``[N, 2]``: the features' coordinates on these axes, ``(x - mean) @ components.T``."""
        return (_array(features) - self.mean) @ self.components.T


def fit_pca(features: torch.Tensor | np.ndarray, components: int = 2) -> PcaProjection:
    """Principal axes of ``features [N, D]`` (scikit-learn's PCA, exact SVD)."""
    x = _array(features)
    n = min(components, *x.shape)
    pca = PCA(n_components=n, svd_solver="full").fit(x)
    comps, ratio = pca.components_, pca.explained_variance_ratio_
    if n < components:  # fewer samples or dimensions than axes: pad with zero axes
        comps = np.vstack([comps, np.zeros((components - n, x.shape[1]))])
        ratio = np.concatenate([ratio, np.zeros(components - n)])
    return PcaProjection(pca.mean_.copy(), comps, ratio)


def pca(features: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[N, 2]``: the features on their own first two principal axes."""
    return fit_pca(features).transform(features)


def tsne_perplexity(points: int, perplexity: float = 30.0) -> float:
    """The perplexity used for ``points`` points: the asked one, at most ``(points - 1) / 3``
    (the neighbourhood t-SNE matches must fit in the data)."""
    return float(max(1.0, min(perplexity, (points - 1) / 3.0)))


def tsne(
    features: torch.Tensor | np.ndarray,
    *,
    perplexity: float = 30.0,
    seed: int = 0,
    initial: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
) -> np.ndarray:
    """``[N, 2]``: openTSNE's embedding of ``features [N, D]``.

    ``initial`` (``[N, 2]``, e.g. the layout before adaptation) starts the optimisation from
    those positions, rescaled as openTSNE asks; otherwise it starts from PCA. Progress is
    reported and ``cancelled()`` read every `CALLBACK_EVERY` iterations; a cancel raises
    `Cancelled`.
    """
    x = _array(features)
    if x.shape[0] < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {x.shape[0]}")
    check(cancelled, "t-SNE")
    report = progress or no_progress
    total = EXAGGERATION_ITERATIONS + ITERATIONS
    done = {"iterations": 0}

    def callback(iteration: int, error: float, embedding: np.ndarray) -> bool:  # noqa: ARG001
        done["iterations"] += CALLBACK_EVERY
        part(report, 0.1, 1.0)(done["iterations"] / total, f"t-SNE: iteration {done['iterations']}")
        return bool(cancelled is not None and cancelled())

    start: str | np.ndarray = "pca"
    if initial is not None:
        start = np.asarray(initial, dtype=np.float64)
        start = (start - start.mean(0)) / max(float(start[:, 0].std()), 1e-12) * 1e-4
    report(0.0, "t-SNE: neighbourhoods")
    embedding = TSNE(
        n_components=2,
        perplexity=tsne_perplexity(x.shape[0], perplexity),
        initialization=start,
        early_exaggeration_iter=EXAGGERATION_ITERATIONS,
        n_iter=ITERATIONS,
        random_state=seed,
        n_jobs=1,
        callbacks=callback,
        callbacks_every_iters=CALLBACK_EVERY,
    ).fit(x)
    check(cancelled, "t-SNE")
    report(1.0, "t-SNE: done")
    return np.asarray(embedding, dtype=np.float64)
