"""The adaptation viewer's engine: the numbers it shows are `Learner.adapt`'s and `evaluate`'s."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
import torch
from run_helpers import train_run

from workbench.config import parse_overrides
from workbench.data import registry, split_cache
from workbench.data.episodes import EpisodeSampler
from workbench.data.registry import load_split
from workbench.data.split_cache import SplitCache
from workbench.engine import adaptation as ad
from workbench.engine.evaluation_run import evaluate_run, load_run_learner
from workbench.engine.runs import list_runs, run_info
from workbench.engine.trainer import Trainer
from workbench.errors import ConfigError, RunError
from workbench.presets import load_preset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_DEMO = [
    "train.iterations=5",
    "train.eval_every=5",
    "train.val_episodes=4",
    "train.meta_batch_size=2",
    "train.checkpoint_every=5",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapt-runs")
    return {
        "fomaml": train_run(root, "demo", TINY_DEMO),
        "finetune": train_run(root, "demo", TINY_DEMO + ["algorithm.name=finetune"]),
        "sinusoid": train_run(
            root,
            "sinusoid-maml",
            [
                "train.iterations=20",
                "train.eval_every=20",
                "train.val_episodes=4",
                "train.meta_batch_size=5",
                "train.checkpoint_every=20",
                "train.device=cpu",
            ],
        ),
        "root": root,
    }


def _episode(config, split="test", seed=3, index=2):
    return ad.sample_episode(config.data, split, seed, index)


def test_episode_numbers_equal_learner_adapt(runs):
    model = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"]), "best"))
    episode = _episode(model.config)
    shown = ad.adapt_episode(model, episode, 7, inner_lr=0.2).trace
    _, learner, _ = load_run_learner(runs["fomaml"], "best")
    direct = learner.adapt(episode, 7, 0.2)
    assert shown.steps == 7
    assert shown.query_accuracy == direct.query_accuracy
    assert shown.support_accuracy == direct.support_accuracy
    assert shown.query_loss == pytest.approx(direct.query_loss)
    assert shown.query_predictions == direct.query_predictions


def test_step_zero_is_the_unadapted_model(runs):
    model = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"]), "last"))
    episode = _episode(model.config, index=5)
    trace = ad.adapt_episode(model, episode, 3).trace
    net = model.learner.model.eval()
    with torch.no_grad():
        q = net(episode.query_x).argmax(-1)
        s = net(episode.support_x).argmax(-1)
    assert trace.query_accuracy[0] == pytest.approx((q == episode.query_y).float().mean().item())
    assert trace.support_accuracy[0] == pytest.approx(
        (s == episode.support_y).float().mean().item()
    )
    assert trace.query_predictions[0] == q.tolist()
    assert ad.adapt_episode(model, episode, 0).trace.query_accuracy == trace.query_accuracy[:1]


def test_aggregate_equals_workbench_eval(runs):
    run = runs["fomaml"]
    model = ad.load_model(ad.ModelSource.run(run_info(run), "best"))
    cfg = model.config
    [agg] = ad.aggregate_models([model], cfg.data, "test", cfg.eval.seed, episodes=6, steps=4)
    reference = evaluate_run(run, episodes=6, steps=4, split="test", record=False)
    r = agg.result
    assert (r.episodes, r.steps, r.split, r.seed) == (6, 4, "test", cfg.eval.seed)
    assert r.accuracy == pytest.approx(reference.accuracy)
    assert r.ci95 == pytest.approx(reference.ci95)
    assert r.query_accuracy_per_step == pytest.approx(reference.query_accuracy_per_step)
    assert r.support_accuracy_per_step == pytest.approx(reference.support_accuracy_per_step)
    assert r.episode_query_accuracy == pytest.approx(reference.episode_query_accuracy)
    assert len(agg.query_loss_ci95_per_step) == 5
    assert "6 episodes of the test split, seed 1234, 4 inner steps" == ad.protocol_text(r)


def test_aggregate_regression_equals_evaluate_run(runs):
    run = runs["sinusoid"]
    model = ad.load_model(ad.ModelSource.run(run_info(run), "best"))
    [agg] = ad.aggregate_models([model], model.config.data, "test", model.config.eval.seed, 5, 3)
    reference = evaluate_run(run, episodes=5, steps=3, split="test", record=False)
    assert agg.regression
    assert agg.result.mse == pytest.approx(reference.mse)
    assert agg.result.query_loss_per_step == pytest.approx(reference.query_loss_per_step)
    assert sum(agg.episode_query_loss) / 5 == pytest.approx(agg.result.mse)


def test_aggregate_cancels_between_episodes(runs):
    model = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"]), "best"))
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 3:
            cancel.set()

    [agg] = ad.aggregate_models(
        [model], model.config.data, "test", 1, 50, 2, progress=progress, cancel=cancel
    )
    assert agg.result.cancelled and agg.result.episodes == 3
    assert "(cancelled)" in ad.protocol_text(agg.result)


def test_sinusoid_draws_one_curve_per_step(runs):
    model = ad.load_model(ad.ModelSource.run(run_info(runs["sinusoid"]), "best"))
    episode = _episode(model.config, index=0)
    trace = ad.adapt_episode(model, episode, 10).trace
    assert len(trace.curve_y) == 11
    assert all(len(c) == ad.CURVE_POINTS for c in trace.curve_y)
    assert trace.curve_x[0] == pytest.approx(-5.0) and trace.curve_x[-1] == pytest.approx(5.0)
    assert trace.curve_y[0] != trace.curve_y[10]
    assert trace.support_accuracy == []


def test_random_initialisation_is_the_untrained_run(runs):
    info = run_info(runs["fomaml"])
    random = ad.load_model(ad.ModelSource.random(info.path, info.algorithm))
    trained = ad.load_model(ad.ModelSource.run(info, "last"))
    r = dict(random.learner.model.named_parameters())
    t = dict(trained.learner.model.named_parameters())
    assert r.keys() == t.keys()
    assert any(not torch.equal(r[k], t[k]) for k in r)
    again = ad.load_model(ad.ModelSource.random(info.path))
    assert all(
        torch.equal(v, dict(again.learner.model.named_parameters())[k]) for k, v in r.items()
    )
    assert "untrained" in random.detail


def test_live_snapshot_holds_the_trainers_parameters():
    config = parse_overrides(TINY_DEMO + ["train.iterations=2"], load_preset("demo"))
    trainer = Trainer.create(config)
    trainer.run()
    model = ad.load_model(ad.ModelSource.live(), snapshot=trainer.snapshot())
    mine = model.learner.model.state_dict()
    for k, v in trainer.learner.model.state_dict().items():
        assert torch.equal(mine[k], v)
    assert "iteration 2" in model.detail
    with pytest.raises(RunError):
        ad.load_model(ad.ModelSource.live())


def test_baseline_and_comparable_runs(runs):
    infos = list_runs(runs["root"])
    config = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"]))).config
    baselines = ad.baseline_runs(infos, config)
    assert [b.path for b in baselines] == [runs["finetune"]]
    source = ad.ModelSource.run(baselines[0])
    assert source.baseline and source.label.startswith("Fine-tuning baseline")
    comparable = {r.path for r in ad.comparable_runs(infos, config)}
    assert comparable == {runs["fomaml"], runs["finetune"]}


def test_incompatible_models_are_refused_readably(runs):
    maml = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"])))
    sin = ad.load_model(ad.ModelSource.run(run_info(runs["sinusoid"])))
    episode = _episode(maml.config)
    with pytest.raises(ConfigError, match="sinusoid model cannot adapt to glyphs"):
        ad.adapt_models([maml, sin], episode, maml.config.data, 1)
    from dataclasses import replace

    rgb = replace(
        episode,
        support_x=episode.support_x.repeat(1, 3, 1, 1),
        query_x=episode.query_x.repeat(1, 3, 1, 1),
    )
    with pytest.raises(ConfigError, match="takes 1-channel images"):
        ad.adapt_episode(maml, rgb, 1)
    three_way = parse_overrides(["data.ways=3"], maml.config.copy()).data
    with pytest.raises(ConfigError, match="5-way head"):
        ad.check_compatible(maml.config, three_way)
    finetune = ad.load_model(ad.ModelSource.run(run_info(runs["finetune"])))
    ad.check_compatible(finetune.config, three_way)  # builds its head per episode
    small = ad.sample_episode(three_way, "test", 0, 0)
    [a] = ad.adapt_models([finetune], small, ad.episode_data(small, maml.config.data), 2)
    assert len(a.trace.query_predictions[2]) == 3 * three_way.queries


def test_exports(runs, tmp_path):
    model = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"])))
    episode = _episode(model.config)
    adaptations = ad.adapt_models([model], episode, model.config.data, 2)
    path = ad.write_episode_csv(tmp_path / "e.csv", adaptations, {"split": "test", "index": 2})
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    assert [int(r["step"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["query_accuracy"]) == pytest.approx(adaptations[0].trace.query_accuracy[2])
    assert rows[0]["index"] == "2"
    aggs = ad.aggregate_models([model], model.config.data, "test", 5, 3, 1)
    rows = list(
        csv.DictReader(open(ad.write_aggregate_csv(tmp_path / "a.csv", aggs), encoding="utf-8"))
    )
    assert len(rows) == 2 and rows[1]["episodes"] == "3" and rows[1]["seed"] == "5"
    assert float(rows[1]["query_accuracy"]) == pytest.approx(aggs[0].result.accuracy)


def test_sampler_cache_gives_the_browser_episode(runs, monkeypatch):
    cfg = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"]))).config
    loads: list[str] = []

    def counting_load(data, split, progress=None):
        loads.append(split)
        return load_split(data, split, progress)

    monkeypatch.setattr(registry, "load_split", counting_load)
    cache = ad.SamplerCache(SplitCache())
    a = ad.sample_episode(cfg.data, "val", 9, 4, cache)
    b = ad.sample_episode(cfg.data, "val", 9, 4, cache)
    other = ad.sample_episode(cfg.data, "val", 10, 2, cache)  # another seed: the same images
    assert loads == ["val"]  # stepping and re-seeding never reload the split
    assert cache.get(cfg.data, "val", 9).images is cache.get(cfg.data, "val", 10).images
    assert torch.equal(a.query_x, b.query_x) and a.class_names == b.class_names
    browser = EpisodeSampler(load_split(cfg.data, "val"), *_shape(cfg.data), seed=9)[4]
    assert torch.equal(a.query_x, browser.query_x) and a.class_names == browser.class_names
    assert other.index == 2
    with pytest.raises(ConfigError):
        ad.sample_episode(cfg.data, "val", 9, -1, cache)


def test_sample_episode_without_a_cache_uses_the_shared_splits(runs, monkeypatch):
    cfg = ad.load_model(ad.ModelSource.run(run_info(runs["fomaml"]))).config
    shared = SplitCache()
    monkeypatch.setattr(split_cache, "_shared", shared)
    ad.sample_episode(cfg.data, "test", 3, 0)
    ad.sample_episode(cfg.data, "test", 3, 1)
    assert shared.loads == 1 and shared.cached(cfg.data, "test") is not None


def _shape(data):
    return data.ways, data.shots, data.queries
