"""On-disk cache of loaded splits, so files are decoded once and later loads take a moment.

A cache entry is keyed by everything that changes its content (source path and its size and
modification time, image size, options); it is written atomically and read with
``torch.load(weights_only=True)``, so a corrupt or foreign file is rebuilt, never executed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from workbench.data.class_images import ClassImages
from workbench.durable import atomic_open


def cache_dir() -> Path:
    """``$WORKBENCH_CACHE_DIR``, else ``~/.cache/workbench``."""
    root = os.environ.get("WORKBENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "workbench"
    )
    return Path(root)


def cache_key(**parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_class_images(kind: str, key: str, build: Callable[[], ClassImages]) -> ClassImages:
    """Load ``kind-key.pt`` from the cache, or build it and store it (best effort)."""
    path = cache_dir() / f"{kind}-{key}.pt"
    if path.exists():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            return ClassImages(
                images=blob["images"],
                class_names=list(blob["class_names"]),
                counts=blob["counts"],
                sources=blob.get("sources"),
                name=blob.get("name", ""),
                meta=dict(blob.get("meta", {})),
            )
        except Exception:  # a truncated or foreign cache file: rebuild it
            pass
    images = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as fh:
            torch.save(
                {
                    "images": images.images,
                    "class_names": images.class_names,
                    "counts": images.counts,
                    "sources": images.sources,
                    "name": images.name,
                    "meta": images.meta,
                },
                fh,
            )
    except OSError:
        pass  # a read-only or full cache only costs time
    return images
