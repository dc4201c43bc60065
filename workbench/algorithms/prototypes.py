"""Class prototypes, shared by Prototypical Networks and Proto-MAML's head."""

from __future__ import annotations

import torch


def prototypes(features: torch.Tensor, labels: torch.Tensor, ways: int) -> torch.Tensor:
    """Class means ``[ways, D]`` of support features ``[N, D]`` (any leading axes broadcast).

    One product with the one-hot labels rather than an in-place scatter and a bincount, so the
    same code runs inside `torch.func.vmap` (the task-batched Proto-MAML inner loop).
    """
    classes = torch.arange(ways, device=labels.device)
    onehot = (labels.unsqueeze(-1) == classes).to(features.dtype)
    counts = onehot.sum(-2).clamp_min(1)
    return (onehot.transpose(-1, -2) @ features) / counts.unsqueeze(-1)


def prototype_logits(query_features: torch.Tensor, protos: torch.Tensor) -> torch.Tensor:
    """Logits ``-|f(q) - c_j|^2`` of each query for each class ``j``."""
    return -torch.cdist(query_features, protos).pow(2)
