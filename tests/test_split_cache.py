"""The one cache of loaded splits: loads once, least recently used out first, bounded in
megabytes, safe and load-once under concurrent requests, and shared by the trainer."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch

from workbench.config import DataConfig, ExperimentConfig
from workbench.data import registry, split_cache
from workbench.data.class_images import ClassImages
from workbench.data.split_cache import (
    MAX_MB_VARIABLE,
    SplitCache,
    SplitKey,
    default_max_mb,
    entry_bytes,
)
from workbench.errors import DatasetError

MIB = 1 << 20


def megabyte_split(split: str, fill: int = 1) -> ClassImages:
    """A split whose images take exactly one MiB (plus 8 bytes of counts)."""
    images = torch.full((1, 1, 1, 1024, 1024), fill, dtype=torch.uint8)
    return ClassImages(images, [f"{split}/class"], name=split)


class CountingLoader:
    """A loader that records which splits it loaded."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, data: DataConfig, split: str, progress=None) -> ClassImages:
        with self.lock:
            self.calls.append(split)
        return megabyte_split(split)


DATA = DataConfig(dataset="glyphs")


def test_a_split_is_loaded_once_and_the_same_object_comes_back() -> None:
    loader = CountingLoader()
    cache = SplitCache(max_mb=10, loader=loader)
    first = cache.get(DATA, "train")
    again = cache.get(replace(DATA, ways=7, shots=3, queries=1), "train")  # shape is not content
    assert first is again
    assert loader.calls == ["train"] and cache.loads == 1
    cache.get(replace(DATA, image_size=20), "train")  # image size is content: a new entry
    cache.get(DATA, "val")
    assert loader.calls == ["train", "train", "val"]
    assert entry_bytes(first) == MIB + 8
    assert cache.size_bytes == 3 * (MIB + 8)


def test_least_recently_used_is_evicted_first() -> None:
    loader = CountingLoader()
    cache = SplitCache(max_mb=2.5, loader=loader)  # room for two one-MiB splits
    cache.get(DATA, "train")
    cache.get(DATA, "val")
    cache.get(DATA, "train")  # touching train protects it: val is now the oldest
    cache.get(DATA, "test")
    assert [k.split for k in cache.keys()] == ["train", "test"]
    assert cache.cached(DATA, "val") is None
    cache.get(DATA, "train")
    assert loader.calls == ["train", "val", "test"]  # train was never loaded again
    cache.get(DATA, "val")  # loaded again, and test (least recently used) makes room
    assert [k.split for k in cache.keys()] == ["train", "val"]
    assert loader.calls == ["train", "val", "test", "val"]


def test_the_megabyte_bound_evicts() -> None:
    cache = SplitCache(max_mb=3.5, loader=CountingLoader())
    for split in ("train", "val", "test"):
        cache.get(DATA, split)
    assert len(cache.keys()) == 3 and cache.size_bytes <= cache.max_bytes
    cache.set_max_mb(1.5)  # a smaller bound evicts at once, oldest first
    assert [k.split for k in cache.keys()] == ["test"]
    assert cache.size_bytes == MIB + 8
    cache.set_max_mb(0.5)  # the most recent entry stays even when it alone is too large
    assert [k.split for k in cache.keys()] == ["test"]
    cache.get(DATA, "all")
    assert [k.split for k in cache.keys()] == ["all"]
    cache.clear()
    assert cache.keys() == [] and cache.size_bytes == 0


def test_concurrent_requests_for_one_split_load_it_once() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_loader(data: DataConfig, split: str, progress=None) -> ClassImages:
        calls.append(split)
        started.set()
        assert release.wait(10)
        return megabyte_split(split)

    cache = SplitCache(max_mb=10, loader=slow_loader)
    results: list[ClassImages] = []
    lock = threading.Lock()

    def ask() -> None:
        images = cache.get(DATA, "train")
        with lock:
            results.append(images)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    threads[0].start()
    assert started.wait(10)  # the first request is loading; the others arrive meanwhile
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(10)
    assert calls == ["train"]
    assert len(results) == 6 and all(r is results[0] for r in results)


def test_a_failed_load_reaches_every_waiter_and_is_not_kept() -> None:
    started, release = threading.Event(), threading.Event()
    attempts: list[str] = []

    def broken(data: DataConfig, split: str, progress=None) -> ClassImages:
        attempts.append(split)
        started.set()
        release.wait(10)
        raise DatasetError(f"{split}: the folder is gone")

    cache = SplitCache(max_mb=10, loader=broken)
    errors: list[str] = []

    def ask() -> None:
        try:
            cache.get(DATA, "val")
        except DatasetError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=ask)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=ask)
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert errors == ["val: the folder is gone"] * 2 and attempts == ["val"]
    assert cache.keys() == []
    with pytest.raises(DatasetError):
        cache.get(DATA, "val")  # the next request tries again
    assert attempts == ["val", "val"]


def test_a_one_off_look_does_not_keep_the_split() -> None:
    loader = CountingLoader()
    cache = SplitCache(max_mb=10, loader=loader)
    kept = cache.get(DATA, "train")
    assert cache.get(DATA, "train", keep=False) is kept  # in memory: taken from there
    cache.get(DATA, "test", keep=False)
    assert [k.split for k in cache.keys()] == ["train"]
    assert loader.calls == ["train", "test"]


def test_progress_reaches_the_loader_and_keys_name_the_content() -> None:
    heard: list[str] = []

    def loader(data: DataConfig, split: str, progress=None) -> ClassImages:
        assert progress is not None
        progress(0.5, "half")
        return megabyte_split(split)

    cache = SplitCache(max_mb=10, loader=loader)
    cache.get(DATA, "train", lambda fraction, text: heard.append(text))
    assert heard == ["half"]
    key = SplitKey.of(replace(DATA, path=" /data ", rotations=True), "val")
    assert key == ("glyphs", "/data", 28, True, 0, "standard", 0.15, "val")
    assert key.with_split("test").dataset_key == key.dataset_key
    assert SplitKey.of(DATA, "train") in cache


def test_the_default_bound_is_configurable(monkeypatch) -> None:
    monkeypatch.setenv(MAX_MB_VARIABLE, "300")
    assert default_max_mb() == 300
    assert SplitCache().max_bytes == 300 * MIB
    monkeypatch.setenv(MAX_MB_VARIABLE, "")
    assert 0 < default_max_mb() <= split_cache.DEFAULT_MAX_MB


def test_the_trainer_and_make_sampler_share_the_loaded_splits(monkeypatch) -> None:
    from workbench.engine.trainer import load_data

    loads: list[str] = []
    real = registry.load_split

    def counting(data: DataConfig, split: str, progress=None) -> ClassImages:
        loads.append(split)
        return real(data, split, progress)

    monkeypatch.setattr(registry, "load_split", counting)
    monkeypatch.setattr(split_cache, "_shared", SplitCache())
    config = ExperimentConfig()
    train, val, _ = load_data(config)
    again, _, _ = load_data(config)  # a second run on the same data: nothing is loaded
    browsed = registry.make_sampler(replace(config.data, ways=3), "val", 0)
    assert sorted(loads) == ["train", "val"]
    assert again.images is train.images  # type: ignore[attr-defined]
    assert browsed.images is val.images  # type: ignore[attr-defined]
