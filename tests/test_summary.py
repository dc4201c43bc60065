"""Split summaries (class balance) are counted in the data layer, without Qt."""

from __future__ import annotations

import torch

from workbench.config import DataConfig
from workbench.data.class_images import ClassImages
from workbench.data.split_cache import SplitCache
from workbench.data.summary import SUMMARY_SPLITS, SplitSummary, summarize, summarize_splits
from workbench.errors import DatasetError


def ragged(n_classes: int, channels: int = 1) -> ClassImages:
    images = torch.zeros(n_classes, 8, channels, 12, 10, dtype=torch.uint8)
    counts = torch.tensor([8 if c % 3 else 6 for c in range(n_classes)])
    return ClassImages(images, [f"c{c}" for c in range(n_classes)], counts)


def test_summarize_counts_classes_images_and_per_class() -> None:
    s = summarize(ragged(7, channels=3), "val")
    per_class = [8 if c % 3 else 6 for c in range(7)]
    assert s == SplitSummary("val", 7, sum(per_class), 6, 8, (3, 12, 10))
    assert s.per_class == "6–8" and not s.error
    full = summarize(ClassImages(torch.zeros(4, 20, 1, 5, 5, dtype=torch.uint8), list("abcd")), "x")
    assert (full.n_images, full.per_class) == (80, "20")


def test_summarize_splits_reports_each_split_and_keeps_none() -> None:
    sizes = {"train": 12, "val": 7}

    def loader(data: DataConfig, split: str, progress=None) -> ClassImages:
        if split not in sizes:
            raise DatasetError(f"no {split} folder")
        return ragged(sizes[split])

    cache = SplitCache(max_mb=100, loader=loader)
    summaries = summarize_splits(DataConfig(dataset="folder", path="/x"), cache=cache)
    assert [s.split for s in summaries] == list(SUMMARY_SPLITS)
    assert [s.n_classes for s in summaries] == [12, 7, 0]
    assert summaries[2].error == "no test folder"
    assert cache.keys() == []  # counting does not fill the cache of loaded splits
    stopped = summarize_splits(DataConfig(), cache=cache, cancelled=lambda: True)
    assert stopped == []
