"""The one in-memory cache of loaded splits, shared by the episode browser, the adaptation engine
and the trainer.

A split of mini-ImageNet is close to a gigabyte and takes seconds to load even from the disk
cache (`workbench.data.cache`), so a window that browses, adapts and trains on the same data must
hold it once, not once per view. Entries are `ClassImages` keyed by everything that changes
their content (`SplitKey`), kept least recently used first out, and bounded in megabytes: an
entry weighs what its tensors take. Samplers are cheap views over an entry, so callers build them
afresh and keep no copies of the images.

Views load in pool threads, so the cache is thread-safe, and a second request for a split that is
being loaded waits for that load instead of starting another one.

Keys are settings, not file contents: files changed on disk while the process runs are seen
after `SplitCache.clear` (or in a new process; the disk cache notices changes by itself).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import NamedTuple

from workbench.config import DataConfig
from workbench.data.class_images import ClassImages

ProgressFn = Callable[[float, str], None]
LoaderFn = Callable[[DataConfig, str, ProgressFn | None], ClassImages]

#: environment variable that sets the bound of the shared cache, in megabytes
MAX_MB_VARIABLE = "WORKBENCH_SPLIT_CACHE_MB"
#: the default bound: this many megabytes, or a quarter of the memory when that is less
DEFAULT_MAX_MB = 2048
MEGABYTE = 1 << 20


class SplitKey(NamedTuple):
    """What identifies a loaded split: the data settings that change the images, and the split.
    The episode shape (ways, shots, queries) and the episode seed are not part of it."""

    dataset: str
    path: str
    image_size: int
    rotations: bool
    split_seed: int
    split_mode: str
    val_share: float
    split: str

    @classmethod
    def of(cls, data: DataConfig, split: str) -> SplitKey:
        return cls(
            data.dataset,
            data.path.strip(),
            int(data.image_size),
            bool(data.rotations),
            int(data.split_seed),
            data.split,
            float(data.val_share),
            split,
        )

    def with_split(self, split: str) -> SplitKey:
        """The same dataset's ``split``."""
        return self._replace(split=split)

    @property
    def dataset_key(self) -> tuple:
        """Everything but the split: which dataset (as loaded) the split belongs to."""
        return tuple(self[:-1])


def entry_bytes(images: ClassImages) -> int:
    """What an entry weighs: the bytes of its tensors (images and per-class counts)."""
    tensors = (images.images, images.counts)
    return sum(int(t.numel() * t.element_size()) for t in tensors)


def default_max_mb() -> float:
    """``$WORKBENCH_SPLIT_CACHE_MB``, else `DEFAULT_MAX_MB` or a quarter of the memory if less."""
    configured = os.environ.get(MAX_MB_VARIABLE, "").strip()
    if configured:
        try:
            return max(0.0, float(configured))
        except ValueError:
            pass  # an unreadable setting falls back to the default
    try:
        import psutil

        quarter = psutil.virtual_memory().total / 4 / MEGABYTE
    except (ImportError, OSError):
        return float(DEFAULT_MAX_MB)
    return float(min(DEFAULT_MAX_MB, quarter))


def _load_split(data: DataConfig, split: str, progress: ProgressFn | None) -> ClassImages:
    """`workbench.data.registry.load_split`, looked up at call time (tests replace it)."""
    from workbench.data import registry

    return registry.load_split(data, split, progress)


class SplitCache:
    """Loaded splits by `SplitKey`, least recently used evicted first, bounded in megabytes.

    `get` returns the cached split or loads it (once, however many threads ask at the same time).
    The most recently used entry is kept even when it alone exceeds the bound: whoever asked for
    it holds it anyway, so dropping it would only make the next request load it again.
    """

    def __init__(self, max_mb: float | None = None, loader: LoaderFn | None = None) -> None:
        self._max_bytes = int((default_max_mb() if max_mb is None else max_mb) * MEGABYTE)
        self._loader: LoaderFn = loader or _load_split
        self._entries: OrderedDict[SplitKey, ClassImages] = OrderedDict()
        self._sizes: dict[SplitKey, int] = {}
        self._loading: dict[SplitKey, Future[ClassImages]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # loader calls so far (that finished or failed)

    # -- reading ---------------------------------------------------------------------------------
    def get(
        self,
        data: DataConfig,
        split: str,
        progress: ProgressFn | None = None,
        *,
        keep: bool = True,
    ) -> ClassImages:
        """The images of ``split``: from memory, or loaded (``progress`` only hears a load that
        this call starts; a call that waits for another thread's load hears nothing).

        ``keep=False`` is for a one-off look (counting a split's classes): the split is taken
        from memory or from a load under way if there is one, else loaded without being stored,
        so it does not push out the splits being browsed or trained on.
        """
        key = SplitKey.of(data, split)
        with self._lock:
            images = self._entries.get(key)
            if images is not None:
                if keep:
                    self._entries.move_to_end(key)
                return images
            pending = self._loading.get(key)
            owner = pending is None and keep
            if owner:
                pending = self._loading[key] = Future()
        if pending is None:
            return self._load(data, split, progress)
        if not owner:
            return pending.result()  # re-raises the loader's error
        try:
            images = self._load(data, split, progress)
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            del self._loading[key]
            self._store(key, images)
        pending.set_result(images)
        return images

    def cached(self, data: DataConfig, split: str) -> ClassImages | None:
        """The split if it is in memory now, marked as just used; never loads."""
        key = SplitKey.of(data, split)
        with self._lock:
            images = self._entries.get(key)
            if images is not None:
                self._entries.move_to_end(key)
            return images

    def _load(self, data: DataConfig, split: str, progress: ProgressFn | None) -> ClassImages:
        try:
            return self._loader(data, split, progress)
        finally:
            with self._lock:
                self.loads += 1

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def keys(self) -> list[SplitKey]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    # -- size ------------------------------------------------------------------------------------
    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def set_max_mb(self, max_mb: float) -> None:
        """A new bound; entries beyond it are evicted at once."""
        with self._lock:
            self._max_bytes = int(max(0.0, max_mb) * MEGABYTE)
            self._evict()

    def clear(self) -> None:
        """Forget every entry (loads under way still finish and are stored)."""
        with self._lock:
            self._entries.clear()
            self._sizes.clear()

    def _store(self, key: SplitKey, images: ClassImages) -> None:
        self._entries[key] = images
        self._entries.move_to_end(key)
        self._sizes[key] = entry_bytes(images)
        self._evict()

    def _evict(self) -> None:
        total = sum(self._sizes.values())
        while total > self._max_bytes and len(self._entries) > 1:
            oldest, _ = self._entries.popitem(last=False)
            total -= self._sizes.pop(oldest)


_shared: SplitCache | None = None
_shared_lock = threading.Lock()


def shared_splits() -> SplitCache:
    """The process's cache of loaded splits (created on first use, bound from `default_max_mb`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SplitCache()
        return _shared


__all__ = [
    "MAX_MB_VARIABLE",
    "SplitCache",
    "SplitKey",
    "default_max_mb",
    "entry_bytes",
    "shared_splits",
]
