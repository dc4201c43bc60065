"""Which seed draws the episodes of each split: the one rule the trainer, the evaluation code and
the windows share, so the browser and the adaptation viewer show exactly the episodes a run
trains, validates and is tested on.

Training episodes are drawn with ``train.seed``; validation episodes with ``train.seed +
VAL_SEED_OFFSET`` (fixed for a run, and a different stream from the training episodes); test
episodes (and ``all``) with ``eval.seed``, the seed of the evaluation protocol.
"""

from __future__ import annotations

from workbench.config import ExperimentConfig

#: validation episodes are drawn with ``train.seed + VAL_SEED_OFFSET``
VAL_SEED_OFFSET = 7919


def episode_seed(config: ExperimentConfig, split: str) -> int:
    """The episode seed ``config`` uses for ``split`` (``train``, ``val``, ``test`` or ``all``)."""
    if split == "train":
        return int(config.train.seed)
    if split == "val":
        return int(config.train.seed) + VAL_SEED_OFFSET
    return int(config.eval.seed)


__all__ = ["VAL_SEED_OFFSET", "episode_seed"]
