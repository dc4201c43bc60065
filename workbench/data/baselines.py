"""Learning-free reference scores for few-shot splits.

A meta-learning result only means something next to what needs no learning at all: if matching
raw pixels already solves a split, the split cannot show what meta-learning adds. The glyphs
dataset is tuned against `pixel_nearest_neighbour_accuracy`, and reports can quote it.
"""

from __future__ import annotations

import torch

from workbench.data.episodes import Sampler

_BATCH = 50  # episodes compared at once: few large tensor operations instead of many small


def pixel_nearest_neighbour_accuracy(sampler: Sampler, episodes: int) -> float:
    """Accuracy of 1-nearest-neighbour on raw pixels over episodes ``0 .. episodes - 1``.

    Every query gets the label of the support image at the smallest Euclidean distance between
    flattened images (with K > 1 shots, the single nearest support image, not a class mean).
    The result is the fraction of all queries labelled correctly, which equals the mean episode
    accuracy because every episode has the same number of queries.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    correct = 0
    total = 0
    for start in range(0, episodes, _BATCH):
        batch = sampler.batch(start, min(_BATCH, episodes - start))
        if batch.support_y.is_floating_point():
            raise ValueError("pixel nearest neighbour needs classification episodes")
        support = batch.support_x.flatten(2)  # [T, N*K, pixels]
        query = batch.query_x.flatten(2)  # [T, N*Q, pixels]
        distance = torch.cdist(query, support, compute_mode="donot_use_mm_for_euclid_dist")
        nearest = distance.argmin(dim=2)
        predicted = torch.gather(batch.support_y, 1, nearest)
        correct += int((predicted == batch.query_y).sum())
        total += int(batch.query_y.numel())
    return correct / total
