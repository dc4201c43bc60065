"""Real learning on the CPU, small and bounded: the algorithms learn, and learn more than
baselines that need no meta-learning. (Numbers for the full demo are in benchmarks/demo.py.)"""

from __future__ import annotations

import pytest
import torch

from workbench.config import parse_overrides
from workbench.data.baselines import pixel_nearest_neighbour_accuracy
from workbench.data.registry import make_sampler
from workbench.data.sinusoid import SinusoidSampler
from workbench.engine.evaluate import evaluate
from workbench.engine.trainer import Trainer
from workbench.presets import load_preset

pytestmark = pytest.mark.slow


def train(preset: str, *sets: str) -> Trainer:
    config = parse_overrides(list(sets) + ["train.eval_every=0"], load_preset(preset)).validate()
    trainer = Trainer.create(config)
    assert trainer.run() == "finished"
    return trainer


def test_sinusoid_maml_adapts_far_better_than_a_pretrained_baseline():
    common = (
        "data.shots=5",
        "data.queries=10",
        "train.iterations=600",
        "train.meta_batch_size=10",
        "train.meta_lr=0.003",
        "algorithm.inner_lr=0.02",
    )
    maml = train("sinusoid-maml", *common, "algorithm.name=maml")
    baseline = train("sinusoid-maml", *common, "algorithm.name=finetune")
    tasks = SinusoidSampler(5, 10, seed=99, split="test")
    maml_mse = evaluate(maml.learner, tasks, 100, 10).mse
    base_mse = evaluate(baseline.learner, tasks, 100, 10).mse
    assert maml_mse < 0.6 * base_mse, (maml_mse, base_mse)


@pytest.fixture(scope="module")
def glyph_test_episodes():
    config = load_preset("demo")
    config.data.queries = 5
    return make_sampler(config.data, "test", 4321)


def test_pixel_nearest_neighbour_is_a_weak_baseline_on_glyphs(glyph_test_episodes):
    accuracy = pixel_nearest_neighbour_accuracy(glyph_test_episodes, 300)
    assert 0.3 < accuracy < 0.75


@pytest.mark.parametrize(
    "algorithm,sets",
    [
        ("protonet", ("train.iterations=150", "train.meta_batch_size=4")),
        ("fomaml", ("train.iterations=200",)),
    ],
)
def test_meta_learners_beat_chance_and_the_pixel_baseline_on_glyphs(
    algorithm, sets, glyph_test_episodes
):
    torch.manual_seed(0)
    trainer = train("demo", f"algorithm.name={algorithm}", *sets)
    result = evaluate(trainer.learner, glyph_test_episodes, 100, 5)
    pixel = pixel_nearest_neighbour_accuracy(glyph_test_episodes, 100)
    assert result.accuracy > 0.2 + 0.35  # far above chance (5-way: 20%)
    assert result.accuracy > pixel + 0.05, (result.accuracy, pixel)
