"""Sinusoid regression tasks of the MAML paper (Finn et al. 2017, section 5.1).

Each task is ``y = A sin(x - phase)`` with amplitude A in [0.1, 5.0], phase in [0, pi] and x
drawn uniformly from [-5, 5]; K support and Q query points per task.
"""

from __future__ import annotations

import math

import torch

from workbench.data.episodes import Episode, EpisodeBatch, episode_rng

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)

# Splits draw from disjoint random streams so validation tasks are never training tasks.
_SPLIT_OFFSET = {"train": 0, "val": 1_000_003, "test": 2_000_003, "all": 0}


def sinusoid(x: torch.Tensor, amplitude: float, phase: float) -> torch.Tensor:
    return amplitude * torch.sin(x - phase)


class SinusoidSampler:
    """Indexable sinusoid tasks: ``sampler[i]`` is always the same task for the same seed."""

    ways = 1
    name = "sinusoid"

    def __init__(self, shots: int, queries: int, seed: int = 0, split: str = "train") -> None:
        self.shots, self.queries = shots, queries
        self.seed = seed
        self.split = split
        self._stream = seed + _SPLIT_OFFSET.get(split, 0)

    def __getitem__(self, index: int) -> Episode:
        rng = episode_rng(self._stream, index)
        amplitude = float(rng.uniform(*AMPLITUDE))
        phase = float(rng.uniform(*PHASE))
        x = torch.from_numpy(rng.uniform(*X_RANGE, size=(self.shots + self.queries, 1))).float()
        y = sinusoid(x, amplitude, phase)
        k = self.shots
        return Episode(
            x[:k],
            y[:k],
            x[k:],
            y[k:],
            class_names=[],
            support_sources=[f"x={float(v):.3f}" for v in x[:k, 0]],
            query_sources=[f"x={float(v):.3f}" for v in x[k:, 0]],
            index=index,
            task={"amplitude": amplitude, "phase": phase},
        )

    def batch(self, start: int, size: int) -> EpisodeBatch:
        return EpisodeBatch.stack([self[i] for i in range(start, start + size)])
