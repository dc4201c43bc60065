"""Few-shot datasets: in-memory class images, episode sampling, and the loaders that fill them."""

from workbench.data.class_images import ClassImages
from workbench.data.episodes import Episode, EpisodeBatch, EpisodeSampler

__all__ = ["ClassImages", "Episode", "EpisodeBatch", "EpisodeSampler"]
