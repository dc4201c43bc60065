"""Episodes: N-way K-shot tasks drawn reproducibly from a split.

`EpisodeSampler[i]` draws episode ``i`` from its own random stream seeded by ``(seed, i)``, so
the episode browser can step back and forth, a test can pin an episode, and a resumed run sees
exactly the episodes the interrupted one would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from workbench.data.class_images import ClassImages


@dataclass
class Episode:
    """One task. Classification: ``support_x [N*K, C, H, W]`` floats in [0, 1], labels 0..N-1,
    ordered by label (K supports of label 0, then label 1, ...), queries likewise with Q per
    class. Regression (sinusoid): ``x`` and ``y`` are ``[K, 1]`` float tensors.

    ``class_names[j]`` is the class shown as label ``j``; ``support_sources``/``query_sources``
    say where each image came from; ``task`` holds generator parameters (sinusoid amplitude and
    phase) where there are any.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    class_names: list[str] = field(default_factory=list)
    support_sources: list[str] = field(default_factory=list)
    query_sources: list[str] = field(default_factory=list)
    index: int = 0
    task: dict = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return self.support_y.is_floating_point()

    @property
    def ways(self) -> int:
        return 1 if self.is_regression else len(self.class_names)

    @property
    def shots(self) -> int:
        return self.support_x.shape[0] // self.ways

    @property
    def queries(self) -> int:
        return self.query_x.shape[0] // self.ways

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> Episode:
        """On ``device``; with ``dtype``, floating tensors (images, regression targets) cast."""

        def move(t: torch.Tensor) -> torch.Tensor:
            return (
                t.to(device, dtype) if dtype is not None and t.is_floating_point() else t.to(device)
            )

        return Episode(
            move(self.support_x),
            move(self.support_y),
            move(self.query_x),
            move(self.query_y),
            self.class_names,
            self.support_sources,
            self.query_sources,
            self.index,
            self.task,
        )


@dataclass
class EpisodeBatch:
    """T episodes of the same shape stacked along a leading task axis, plus their metadata."""

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    episodes: list[Episode]

    @classmethod
    def stack(cls, episodes: Sequence[Episode]) -> EpisodeBatch:
        return cls(
            torch.stack([e.support_x for e in episodes]),
            torch.stack([e.support_y for e in episodes]),
            torch.stack([e.query_x for e in episodes]),
            torch.stack([e.query_y for e in episodes]),
            list(episodes),
        )

    def __len__(self) -> int:
        return self.support_x.shape[0]

    def __getitem__(self, t: int) -> Episode:
        e = self.episodes[t]
        return Episode(
            self.support_x[t],
            self.support_y[t],
            self.query_x[t],
            self.query_y[t],
            e.class_names,
            e.support_sources,
            e.query_sources,
            e.index,
            e.task,
        )

    def select(self, tasks: slice | Sequence[int]) -> EpisodeBatch:
        """The batch of the tasks ``tasks`` (a slice or task positions), in that order."""
        episodes = (
            self.episodes[tasks] if isinstance(tasks, slice) else [self.episodes[t] for t in tasks]
        )
        where = tasks if isinstance(tasks, slice) else list(tasks)
        return EpisodeBatch(
            self.support_x[where],
            self.support_y[where],
            self.query_x[where],
            self.query_y[where],
            episodes,
        )

    def to(self, device: torch.device | str) -> EpisodeBatch:
        return EpisodeBatch(
            self.support_x.to(device, non_blocking=True),
            self.support_y.to(device, non_blocking=True),
            self.query_x.to(device, non_blocking=True),
            self.query_y.to(device, non_blocking=True),
            self.episodes,
        )


class Sampler(Protocol):
    """What the trainer, evaluator and browser need from any episode source."""

    seed: int

    def __getitem__(self, index: int) -> Episode: ...

    def batch(self, start: int, size: int) -> EpisodeBatch: ...


def episode_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of episode ``index``: independent of every other index."""
    if index < 0:
        raise IndexError(f"episode index must be >= 0, got {index}")
    return np.random.default_rng([int(seed), int(index)])


class EpisodeSampler:
    """Seeded, indexable N-way K-shot episodes over a `ClassImages` split.

    Classes in an episode are distinct, support and query images are disjoint, and labels
    0..N-1 are given to the drawn classes in random order.
    """

    def __init__(
        self, images: ClassImages, ways: int, shots: int, queries: int, seed: int = 0
    ) -> None:
        images.check_episode_shape(ways, shots, queries)
        self.images = images
        self.ways, self.shots, self.queries, self.seed = ways, shots, queries, seed
        self._eligible = torch.nonzero(images.counts >= shots + queries).flatten().numpy()

    def indices(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(classes [N], image indices [N, K+Q]) of episode ``index``."""
        rng = episode_rng(self.seed, index)
        classes = rng.choice(self._eligible, size=self.ways, replace=False)
        counts = self.images.counts
        picks = np.stack(
            [
                rng.choice(int(counts[c]), size=self.shots + self.queries, replace=False)
                for c in classes
            ]
        )
        return classes, picks

    def __getitem__(self, index: int) -> Episode:
        classes, picks = self.indices(index)
        c_idx = torch.from_numpy(np.repeat(classes, picks.shape[1]).reshape(picks.shape))
        p_idx = torch.from_numpy(picks)
        x = self.images.images[c_idx, p_idx].float().div_(255.0)  # [N, K+Q, C, H, W]
        k = self.shots
        labels = torch.arange(self.ways).unsqueeze(1)
        support_x = x[:, :k].reshape(-1, *x.shape[2:])
        query_x = x[:, k:].reshape(-1, *x.shape[2:])
        support_y = labels.expand(self.ways, k).reshape(-1)
        query_y = labels.expand(self.ways, self.queries).reshape(-1)
        src = self.images.source
        support_sources = [src(int(c), int(p)) for c, row in zip(classes, picks) for p in row[:k]]
        query_sources = [src(int(c), int(p)) for c, row in zip(classes, picks) for p in row[k:]]
        return Episode(
            support_x.contiguous(),
            support_y.contiguous(),
            query_x.contiguous(),
            query_y.contiguous(),
            [self.images.class_names[int(c)] for c in classes],
            support_sources,
            query_sources,
            index,
        )

    def batch(self, start: int, size: int) -> EpisodeBatch:
        return EpisodeBatch.stack([self[i] for i in range(start, start + size)])
