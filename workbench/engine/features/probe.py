"""The fixed set of test images every features picture and number is computed on.

Features, projections, separation scores, top images and CKA are all measured on one set of
images ("probe set"): ``classes`` classes of a split, ``per_class`` images each, chosen with a
seed, so that before and after adaptation, and every compared model, see exactly the same
images in the same order. With BatchNorm on batch statistics (the default) a network's output
for an image depends on the batch it is in, so the set is always passed through a network as one
batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from workbench.config import DataConfig
from workbench.data.split_cache import SplitCache, shared_splits
from workbench.errors import ConfigError

#: the probe set the view starts with (20 classes x 20 images, as the issue suggests)
DEFAULT_CLASSES = 20
DEFAULT_PER_CLASS = 20


@dataclass
class ProbeSet:
    """``images [N, C, H, W]`` (floats in [0, 1]) of ``len(class_names)`` classes, grouped by
    class: ``labels[i]`` indexes ``class_names``; ``sources[i]`` says where image ``i`` came from."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    sources: list[str]
    split: str
    seed: int

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def per_class(self) -> int:
        return len(self) // max(1, len(self.class_names))

    def describe(self) -> dict[str, object]:
        """The protocol of the set, for reports next to every number computed on it."""
        return {
            "split": self.split,
            "seed": self.seed,
            "classes": len(self.class_names),
            "images_per_class": self.per_class,
            "class_names": list(self.class_names),
        }


def probe_set(
    data: DataConfig,
    split: str = "test",
    classes: int = DEFAULT_CLASSES,
    per_class: int = DEFAULT_PER_CLASS,
    seed: int = 0,
    splits: SplitCache | None = None,
) -> ProbeSet:
    """``classes`` classes of ``split`` with at least ``per_class`` images, ``per_class`` images
    of each, all drawn with ``seed`` (the same arguments always give the same images)."""
    if data.dataset == "sinusoid":
        raise ConfigError("data.dataset", "sinusoid has no images to compute features of")
    if classes < 2:
        raise ConfigError(
            "--classes", f"must be at least 2 (separation needs classes), got {classes}"
        )
    if per_class < 2:
        raise ConfigError("--images-per-class", f"must be at least 2, got {per_class}")
    split_images = (splits or shared_splits()).get(data, split)
    eligible = torch.nonzero(split_images.counts >= per_class).flatten().numpy()
    if len(eligible) < classes:
        raise ConfigError(
            "--classes",
            f"the {split} split of {data.dataset} has {len(eligible)} classes with at least "
            f"{per_class} images; ask for at most {len(eligible)} classes or fewer images per class",
        )
    rng = np.random.default_rng([int(seed), 14])
    chosen = np.sort(rng.choice(eligible, size=classes, replace=False))
    picks = [
        np.sort(rng.choice(int(split_images.counts[c]), size=per_class, replace=False))
        for c in chosen
    ]
    c_idx = torch.from_numpy(np.repeat(chosen, per_class))
    p_idx = torch.from_numpy(np.concatenate(picks))
    images = split_images.images[c_idx, p_idx].float().div_(255.0)
    return ProbeSet(
        images=images.contiguous(),
        labels=torch.arange(classes).repeat_interleave(per_class),
        class_names=[split_images.class_names[int(c)] for c in chosen],
        sources=[split_images.source(int(c), int(p)) for c, p in zip(c_idx, p_idx)],
        split=split,
        seed=int(seed),
    )
