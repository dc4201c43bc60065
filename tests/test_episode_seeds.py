"""The one seed rule: training, validation and test episodes, in the trainer and in the window."""

from __future__ import annotations

from workbench.config import ExperimentConfig
from workbench.engine.episode_seeds import VAL_SEED_OFFSET, episode_seed


def test_each_split_has_its_seed() -> None:
    config = ExperimentConfig()
    config.train.seed, config.eval.seed = 21, 1234
    assert episode_seed(config, "train") == 21
    assert episode_seed(config, "val") == 21 + VAL_SEED_OFFSET == 7940
    assert episode_seed(config, "test") == 1234
    assert episode_seed(config, "all") == 1234


def test_the_trainer_draws_with_the_rule() -> None:
    from workbench.engine.trainer import load_data

    config = ExperimentConfig()
    config.data.dataset = "sinusoid"  # no images: the seeds are all there is to check
    config.train.seed = 5
    train, val, _ = load_data(config)
    assert (train.seed, val.seed) == (episode_seed(config, "train"), episode_seed(config, "val"))
    assert (train.seed, val.seed) == (5, 5 + VAL_SEED_OFFSET)
