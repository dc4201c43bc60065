"""Class balance of a dataset's splits: how many classes and images each has, and how evenly the
images are spread over the classes (a class with 2 images cannot serve a 1-shot 15-query task).

Qt-free, so the episode browser's table only draws what `summarize` and `summarize_splits`
count, and the same numbers are available to scripts and tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from workbench.config import DataConfig
from workbench.data.class_images import ClassImages
from workbench.data.split_cache import SplitCache, shared_splits
from workbench.errors import WorkbenchError

#: the splits a dataset is summarised by
SUMMARY_SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSummary:
    """Counts of one split, or the loader's message when it cannot be loaded."""

    split: str
    n_classes: int = 0
    n_images: int = 0
    min_per_class: int = 0
    max_per_class: int = 0
    image_shape: tuple[int, int, int] = (0, 0, 0)
    error: str = ""

    @property
    def per_class(self) -> str:
        """Images per class as shown: ``"20"``, or ``"6–8"`` when classes differ."""
        if self.min_per_class == self.max_per_class:
            return f"{self.min_per_class}"
        return f"{self.min_per_class}–{self.max_per_class}"


def summarize(images: ClassImages, split: str) -> SplitSummary:
    """The numbers of `images` (reads the counts; no image data is touched)."""
    counts = images.counts.tolist()
    c, h, w = images.image_shape
    return SplitSummary(
        split=split,
        n_classes=images.n_classes,
        n_images=images.n_images,
        min_per_class=int(min(counts)) if counts else 0,
        max_per_class=int(max(counts)) if counts else 0,
        image_shape=(int(c), int(h), int(w)),
    )


def summarize_splits(
    data: DataConfig,
    splits: Iterable[str] = SUMMARY_SPLITS,
    cache: SplitCache | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> list[SplitSummary]:
    """One summary per split of ``data``'s dataset; a split that cannot be loaded carries the
    loader's message. Splits come from ``cache`` (default: the shared cache of loaded splits)
    when it holds them or is loading them; others are loaded for the count and not kept.
    Stops early (fewer summaries) when ``cancelled()`` turns true."""
    cache = cache or shared_splits()
    out: list[SplitSummary] = []
    for split in splits:
        if cancelled():
            break
        try:
            out.append(summarize(cache.get(data, split, keep=False), split))
        except WorkbenchError as exc:
            out.append(SplitSummary(split, error=str(exc)))
    return out


__all__ = ["SUMMARY_SPLITS", "SplitSummary", "summarize", "summarize_splits"]
