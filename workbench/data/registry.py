"""From a `DataConfig` to a split's images and an episode sampler: the one place that knows
which loader serves which ``data.dataset`` name."""

from __future__ import annotations

from collections.abc import Callable

from workbench.config import DataConfig
from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeSampler, Sampler
from workbench.data.sinusoid import SinusoidSampler
from workbench.data.split_cache import SplitCache, shared_splits
from workbench.errors import ConfigError

ProgressFn = Callable[[float, str], None]


def load_split(data: DataConfig, split: str, progress: ProgressFn | None = None) -> ClassImages:
    """The images of one split (``train``, ``val``, ``test`` or ``all``) of an image dataset,
    loaded now (`make_sampler` and the views go through the shared `SplitCache` instead)."""
    if data.dataset == "glyphs":
        from workbench.data.glyphs import load_glyphs as loader
    elif data.dataset == "omniglot":
        from workbench.data.omniglot import load_omniglot as loader
    elif data.dataset == "miniimagenet":
        from workbench.data.miniimagenet import load_miniimagenet as loader
    elif data.dataset == "folder":
        from workbench.data.folder import load_folder as loader
    elif data.dataset == "sinusoid":
        raise ConfigError("data.dataset", "sinusoid has no images; use make_sampler")
    else:
        raise ConfigError("data.dataset", f"unknown dataset {data.dataset!r}")
    return loader(data, split, progress)


def make_sampler(
    data: DataConfig,
    split: str,
    seed: int,
    progress: ProgressFn | None = None,
    splits: SplitCache | None = None,
) -> Sampler:
    """An indexable episode sampler over one split, shaped by ``data.ways/shots/queries``; the
    images come from ``splits`` (default: the process's shared cache of loaded splits)."""
    if data.dataset == "sinusoid":
        return SinusoidSampler(data.shots, data.queries, seed, split)
    images = (splits or shared_splits()).get(data, split, progress)
    return EpisodeSampler(images, data.ways, data.shots, data.queries, seed)
