"""How well classes separate in a feature space: the figure next to every embedding picture.

Two numbers, on the features themselves (never on a 2-D projection, which distorts distances):

- the silhouette score (scikit-learn, Euclidean): from -1 to 1, how much closer an image is to
  its own class than to the nearest other class, averaged over images;
- nearest-centroid accuracy, leave-one-out: each image is classified by the nearest class mean
  computed without it (the rule ProtoNet uses at test time), so no image helps classify itself.
  The leave-one-out means are computed in closed form, ``(n_c * mean_c - x) / (n_c - 1)``,
  rather than by refitting per image; the test checks it against scikit-learn's
  ``NearestCentroid`` under ``LeaveOneOut``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.spatial.distance import cdist
from sklearn.metrics import silhouette_score


@dataclass
class Separation:
    """Silhouette score and leave-one-out nearest-centroid accuracy of one feature set."""

    silhouette: float
    centroid_accuracy: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _arrays(features: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray):
    x = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else features
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
    x = np.asarray(x, dtype=np.float64).reshape(len(y), -1)
    return x, np.asarray(y)


def silhouette(features: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> float:
    """Mean silhouette (Euclidean) of ``features [N, D]`` grouped by ``labels [N]``; 0 when all
    features are equal (no structure at all)."""
    x, y = _arrays(features, labels)
    if len(np.unique(y)) < 2:
        raise ValueError("the silhouette needs at least two classes")
    if np.allclose(x, x[0]):
        return 0.0
    return float(silhouette_score(x, y, metric="euclidean"))


def nearest_centroid_accuracy(
    features: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray
) -> float:
    """Leave-one-out accuracy of the nearest class mean (Euclidean) on ``features [N, D]``.

    Every class needs at least two images (one to leave out, one to form the mean); ties go to
    the lower class index.
    """
    x, y = _arrays(features, labels)
    classes, index, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError("leave-one-out needs at least two images of every class")
    sums = np.zeros((len(classes), x.shape[1]))
    np.add.at(sums, index, x)
    centroids = sums / counts[:, None]
    distances = cdist(x, centroids, "sqeuclidean")  # [N, classes]
    own = (sums[index] - x) / (counts[index] - 1)[:, None]
    distances[np.arange(len(x)), index] = ((x - own) ** 2).sum(-1)
    return float((distances.argmin(1) == index).mean())


def separation(
    features: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray
) -> Separation:
    """Both separation figures of one feature set."""
    return Separation(silhouette(features, labels), nearest_centroid_accuracy(features, labels))
