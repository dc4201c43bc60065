"""`ClassImages`: the images of one split, in memory, so sampling an episode is pure indexing."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from workbench.errors import DatasetError


@dataclass
class ClassImages:
    """Images of one split as one tensor ``[n_classes, n_per_class, C, H, W]``.

    Attributes:
        images: uint8 tensor (0 = background, 255 = stroke/full intensity). Classes with fewer
            images than ``n_per_class`` are padded; ``counts`` says how many are real.
        class_names: one readable name per class, e.g. ``"Latin/character03"`` or
            ``"Latin/character03 rot90"``.
        counts: real images per class (left out or ``None``: every class is full).
        sources: per class, per image, where the image came from (a file path or a generator
            index such as ``"glyphs seed=0 alphabet=3 char=7 drawer=12"``), for the browser.
        name: a short description of the dataset and split, for messages and titles.
    """

    images: torch.Tensor
    class_names: list[str]
    counts: torch.Tensor = None  # type: ignore[assignment]  # None: filled in __post_init__
    sources: list[list[str]] | None = None
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dim() != 5:
            raise ValueError(
                f"images must be [classes, per_class, C, H, W], got {tuple(self.images.shape)}"
            )
        if len(self.class_names) != self.images.shape[0]:
            raise ValueError("one class name per class is required")
        if self.counts is None:
            self.counts = torch.full(
                (self.images.shape[0],), self.images.shape[1], dtype=torch.long
            )

    @property
    def n_classes(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_images(self) -> int:
        return int(self.counts.sum())

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[2:])  # type: ignore[return-value]

    def source(self, cls: int, index: int) -> str:
        if self.sources is not None:
            return self.sources[cls][index]
        return f"{self.name} class {cls} image {index}"

    def check_episode_shape(self, ways: int, shots: int, queries: int) -> None:
        """Raise a DatasetError naming the numbers when episodes of this shape cannot be drawn."""
        where = self.name or "this dataset"
        if self.n_classes < ways:
            raise DatasetError(
                f"{where} has {self.n_classes} classes, fewer than the {ways} a {ways}-way "
                f"episode needs; lower data.ways or add classes"
            )
        need = shots + queries
        eligible = int((self.counts >= need).sum())
        if eligible < ways:
            smallest = int(self.counts.min())
            raise DatasetError(
                f"{where}: only {eligible} classes have at least {need} images "
                f"(shots {shots} + queries {queries}); {ways}-way episodes need {ways}. "
                f"The smallest class has {smallest} images; lower data.shots or data.queries"
            )

    def summary(self) -> str:
        c, h, w = self.image_shape
        return (
            f"{self.n_classes} classes, {self.n_images} images "
            f"({int(self.counts.min())}-{int(self.counts.max())} per class), {c}x{h}x{w}"
        )
