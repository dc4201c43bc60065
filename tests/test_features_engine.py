"""The features engine: every picture and number is what the network computes, checked against
independent computations (weights, autograd, SVD, an HSIC-based CKA, scikit-learn)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from openTSNE import TSNE
from run_helpers import train_run
from sklearn.model_selection import LeaveOneOut, cross_val_score
from sklearn.neighbors import NearestCentroid
from torch.func import functional_call

from workbench.engine.adaptation import ModelSource, aggregate_sampler, sample_episode
from workbench.engine.evaluate import mean_ci95
from workbench.engine.features import FeaturesRequest, analyse, resolve_compare, run_source
from workbench.engine.features import cka as ck
from workbench.engine.features.activations import adapt, capture, layer_names, penultimate
from workbench.engine.features.change import representation_change
from workbench.engine.features.filters import first_layer_filters, normalise
from workbench.engine.features.probe import probe_set
from workbench.engine.features.progress import Cancelled
from workbench.engine.features.projection import fit_pca, tsne, tsne_perplexity
from workbench.engine.features.saliency import saliency
from workbench.engine.features.separation import nearest_centroid_accuracy, separation
from workbench.engine.features.snapshot import activations_at, add_tsne, model_features
from workbench.engine.features.sources import load_analysed
from workbench.engine.features.top_images import channel_responses, extremes
from workbench.errors import ConfigError, RunError

TINY = [
    "train.iterations=5",
    "train.eval_every=5",
    "train.val_episodes=4",
    "train.meta_batch_size=2",
    "train.checkpoint_every=5",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("features-runs")
    sinusoid = ["train.iterations=5", "train.eval_every=5", "train.val_episodes=2"]
    return {
        "fomaml": train_run(root, "demo", TINY),
        "finetune": train_run(root, "demo", TINY + ["algorithm.name=finetune"]),
        "protonet": train_run(root, "demo", TINY + ["algorithm.name=protonet"]),
        "anil": train_run(root, "demo", TINY + ["algorithm.name=anil"]),
        "mlp": train_run(root, "demo", TINY + ["model.backbone=mlp"]),
        "sinusoid": train_run(root, "sinusoid-maml", sinusoid + ["train.device=cpu"]),
    }


@pytest.fixture(scope="module")
def fomaml(runs):
    return load_analysed([run_source(runs["fomaml"])])[0]


@pytest.fixture(scope="module")
def probe(fomaml):
    return probe_set(fomaml.config.data, "test", classes=5, per_class=6, seed=1)


@pytest.fixture(scope="module")
def episode(fomaml):
    return sample_episode(fomaml.config.data, "test", 0, 0)


# -- filters ------------------------------------------------------------------------------------


def test_conv_filter_images_are_the_kernels(fomaml):
    conv = fomaml.learner.model.body[0]
    bank = first_layer_filters(fomaml.learner.model)
    assert bank.kind == "conv" and bank.weights.shape == (32, 1, 3, 3)
    assert np.array_equal(bank.weights, conv.weight.detach().numpy())
    assert np.array_equal(bank.image(7, 0), conv.weight[7, 0].detach().numpy())


def test_mlp_filter_images_are_each_units_weights_on_the_pixels(runs):
    model = load_analysed([run_source(runs["mlp"])])[0].learner.model
    first = model.body[1]
    bank = first_layer_filters(model)
    assert bank.kind == "dense" and bank.weights.shape == (256, 1, 28, 28)
    w = first.weight.detach().numpy()
    assert np.array_equal(bank.weights.reshape(256, -1), w)
    # pixel (y, x) of unit u's image is the weight that multiplies pixel (y, x) of an input
    image = torch.rand(1, 1, 28, 28)
    unit = 11
    with torch.no_grad():
        direct = float(first(image.flatten(1))[0, unit] - first.bias[unit])
    assert float((bank.image(unit) * image[0, 0].numpy()).sum()) == pytest.approx(direct, abs=1e-4)


def test_filter_normalisation_is_a_separate_display_step():
    w = np.array([[[[-2.0, 0.0], [1.0, 2.0]]], [[[0.5, -0.25], [0.0, 0.0]]]])
    grey = normalise(w)
    assert grey.shape == w.shape and grey.min() >= 0 and grey.max() <= 1
    assert grey[0, 0, 0, 1] == 0.5 and grey[0, 0, 0, 0] == 0.0 and grey[0, 0, 1, 1] == 1.0
    assert grey[1, 0, 0, 0] == 1.0  # each image scaled by its own largest weight
    assert normalise(w, shared=True)[1, 0, 0, 0] == pytest.approx(0.5 + 0.5 * 0.5 / 2)


def test_filters_of_adapted_params_read_those_params(fomaml, episode):
    adapted = adapt(fomaml.learner, episode, 2)
    bank = first_layer_filters(fomaml.learner.model, adapted.after)
    assert np.array_equal(bank.weights, adapted.after["body.0.weight"].numpy())


# -- activations and adaptation -------------------------------------------------------------------


def test_adaptation_reproduces_the_learners_own_trace(fomaml, episode):
    learner = fomaml.learner
    adapted = adapt(learner, episode, 3, with_trace=True)
    assert len(adapted.params) == 4 and adapted.trace is not None
    e = learner.prepare(episode)
    learner.model.eval()
    with torch.no_grad():
        for s, params in enumerate(adapted.params):
            out = learner.forward(params, e.query_x, max(0, s - 1))
            loss = float(learner.loss(out, e.query_y))
            assert loss == pytest.approx(adapted.trace.query_loss[s], rel=1e-5, abs=1e-6)
    learner.model.train()
    assert not torch.equal(adapted.before["body.0.weight"], adapted.after["body.0.weight"])


def test_captured_features_are_what_the_model_computes(fomaml, probe, episode):
    learner = fomaml.learner
    adapted = adapt(learner, episode, 2)
    acts = capture(learner, adapted.after, probe.images, adapted.forward_step)
    assert list(acts) == ["conv1", "conv2", "conv3", "conv4", "head"] == layer_names(learner)
    learner.model.eval()
    with torch.no_grad():
        features = functional_call(
            learner.model, adapted.after, (probe.images,), {"features_only": True}
        )
        logits = functional_call(learner.model, adapted.after, (probe.images,))
    learner.model.train()
    assert torch.equal(penultimate(acts), features)
    assert torch.equal(acts["head"], logits)
    assert acts["conv1"].shape == (30, 32, 14, 14)


def test_activations_at_each_inner_step_follow_the_adapted_parameters(fomaml, probe, episode):
    adapted = adapt(fomaml.learner, episode, 3)
    first = activations_at(fomaml, adapted, probe.images, 0)
    last = activations_at(fomaml, adapted, probe.images, 3)
    assert torch.equal(
        first["conv1"], capture(fomaml.learner, adapted.before, probe.images)["conv1"]
    )
    expected = capture(fomaml.learner, adapted.after, probe.images, adapted.forward_step)
    assert all(torch.equal(last[k], expected[k]) for k in expected)
    with pytest.raises(IndexError):
        activations_at(fomaml, adapted, probe.images, 4)


def test_protonet_keeps_its_weights_and_has_no_head_layer(runs, probe, episode):
    model = load_analysed([run_source(runs["protonet"])])[0]
    adapted = adapt(model.learner, episode, 5)
    assert len(adapted.params) == 1 and adapted.notes
    assert layer_names(model.learner)[-1] == "conv4"
    change = representation_change(model, probe, aggregate_sampler(model.config, "test", 0), 2, 5)
    assert all(change.cka[n].mean == 1.0 for n in change.layers)


# -- projections ----------------------------------------------------------------------------------


def test_pca_matches_an_independent_svd_up_to_sign():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 9)) @ rng.normal(size=(9, 9)) + 4.0
    axes = fit_pca(x)
    xc = x - x.mean(0)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    expected = xc @ vt[:2].T
    got = axes.transform(x)
    for k in range(2):
        sign = np.sign(got[:, k] @ expected[:, k])
        np.testing.assert_allclose(got[:, k], sign * expected[:, k], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(axes.explained_variance_ratio, (s**2 / (s**2).sum())[:2])


def test_scatter_points_are_the_projection_of_exactly_the_engines_features(fomaml, probe, episode):
    m = model_features(fomaml, probe, episode, 2, smoothgrad=0)
    learner = fomaml.learner
    learner.model.eval()
    with torch.no_grad():  # fomaml starts from its own weights: features are the model's
        direct = learner.model(probe.images, features_only=True)
    learner.model.train()
    assert torch.equal(m.features_before, direct)
    f0 = m.features_before.double().numpy()
    f1 = m.features_after.double().numpy()
    xc = f0 - f0.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    for k in range(2):
        sign = np.sign(m.pca_before[:, k] @ (xc @ vt[k]))
        np.testing.assert_allclose(m.pca_before[:, k], sign * (xc @ vt[k]), atol=1e-6)
        np.testing.assert_allclose(m.pca_after[:, k], sign * ((f1 - f0.mean(0)) @ vt[k]), atol=1e-6)
    add_tsne(m, perplexity=5, seed=2)
    direct_tsne = TSNE(
        perplexity=tsne_perplexity(len(f0), 5), initialization="pca", random_state=2, n_jobs=1
    ).fit(f0)
    np.testing.assert_allclose(m.tsne_before, np.asarray(direct_tsne), atol=1e-9)
    assert m.tsne_after is not None and m.tsne_after.shape == (30, 2)


def test_tsne_reports_progress_and_stops_when_cancelled():
    x = np.random.default_rng(0).normal(size=(40, 5))
    seen: list[float] = []
    tsne(x, perplexity=5, progress=lambda f, text: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 10
    calls = {"n": 0}

    def cancel_soon() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled):
        tsne(x, perplexity=5, cancelled=cancel_soon)
    assert calls["n"] <= 4  # stopped at the first callback that saw the flag


# -- separation ---------------------------------------------------------------------------------


def test_nearest_centroid_leave_one_out_matches_scikit_learn():
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(4), 7)
    x = rng.normal(size=(28, 6)) + 0.8 * y[:, None]
    expected = cross_val_score(NearestCentroid(), x, y, cv=LeaveOneOut()).mean()
    assert nearest_centroid_accuracy(x, y) == pytest.approx(expected)


def test_separation_of_separated_and_shuffled_classes():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 10)
    apart = rng.normal(size=(30, 4)) * 0.1 + 5 * np.eye(4)[y]
    assert separation(apart, y).silhouette > 0.8 and separation(apart, y).centroid_accuracy == 1
    mixed = separation(rng.normal(size=(30, 4)), y)
    assert mixed.silhouette < 0.2 and mixed.centroid_accuracy < 0.8


# -- CKA ------------------------------------------------------------------------------------------


def _reference_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA as normalised HSIC (Gretton et al. 2005; Kornblith et al. 2019, eq. 2-4), with the
    centring matrix H written out: HSIC(K, L) = tr(K H L H) / (n - 1)^2."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T  # noqa: E741

    def hsic(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.trace(a @ h @ b @ h)) / (n - 1) ** 2

    return hsic(k, l) / math.sqrt(hsic(k, k) * hsic(l, l))


@pytest.mark.parametrize("n,p,q", [(40, 5, 7), (30, 200, 50), (25, 3, 300)])
def test_cka_matches_the_hsic_reference_on_random_data(n, p, q):
    rng = np.random.default_rng(n + p + q)
    x = rng.normal(size=(n, p)) + rng.normal(size=p)
    y = np.tanh(x[:, :1] * rng.normal(size=(1, q))) + 0.5 * rng.normal(size=(n, q))
    got = ck.linear_cka(torch.from_numpy(x), torch.from_numpy(y))
    assert got == pytest.approx(_reference_cka(x, y), rel=1e-5)
    assert 0.0 < got < 1.0


def test_cka_is_one_for_equal_inputs_and_invariant_to_rotation_and_scale():
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.normal(size=(50, 12)))
    y = torch.from_numpy(rng.normal(size=(50, 8)) + x[:, :8].numpy())
    assert ck.linear_cka(x, x) == 1.0
    assert ck.cka_from_grams(ck.gram(x), ck.gram(x)) == pytest.approx(1.0, abs=1e-6)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    rotated = x @ torch.from_numpy(q)
    assert ck.linear_cka(x, rotated) == pytest.approx(1.0, abs=1e-6)
    base = ck.linear_cka(x, y)
    assert ck.linear_cka(rotated, y) == pytest.approx(base, rel=1e-5)
    assert ck.linear_cka(3.7 * x, y) == pytest.approx(base, rel=1e-5)
    assert ck.linear_cka(x, 0.01 * y) == pytest.approx(base, rel=1e-5)


def test_cka_of_a_constant_representation_is_undefined():
    x = torch.randn(20, 4)
    assert math.isnan(ck.linear_cka(x, torch.zeros(20, 3)))
    assert math.isnan(ck.linear_cka(torch.full((20, 3), 2.5), x))


def test_cka_over_episodes_has_mean_and_ci_of_each_episodes_value(fomaml, probe):
    sampler = aggregate_sampler(fomaml.config, "test", 0)
    change = representation_change(fomaml, probe, sampler, 3, 2)
    assert change.episodes == 3 and change.layers == layer_names(fomaml.learner)
    adapted = adapt(fomaml.learner, sampler[1], 2)
    before = capture(fomaml.learner, adapted.before, probe.images)
    after = capture(fomaml.learner, adapted.after, probe.images, adapted.forward_step)
    for name in change.layers:
        spread = change.cka[name]
        assert spread.values[1] == pytest.approx(ck.linear_cka(before[name], after[name]))
        mean, ci = mean_ci95(np.array(spread.values))
        assert spread.mean == pytest.approx(mean) and spread.ci95 == pytest.approx(ci)
    scores = separation(penultimate(after), probe.labels)
    assert change.silhouette_after.values[1] == pytest.approx(scores.silhouette)


def test_fine_tuning_baseline_keeps_its_body_and_starts_a_new_head(runs, probe):
    model = load_analysed([run_source(runs["finetune"])])[0]
    change = representation_change(model, probe, aggregate_sampler(model.config, "test", 0), 2, 3)
    assert [change.cka[n].mean for n in ("conv1", "conv2", "conv3", "conv4")] == [1.0] * 4
    assert change.cka["head"].mean is None and "zero head" in change.notes["head"]


def test_anil_adapts_its_head_only(runs, probe):
    model = load_analysed([run_source(runs["anil"])])[0]
    change = representation_change(model, probe, aggregate_sampler(model.config, "test", 0), 2, 3)
    assert [change.cka[n].mean for n in ("conv1", "conv2", "conv3", "conv4")] == [1.0] * 4
    assert change.cka["head"].mean is not None and change.cka["head"].mean < 1.0


def test_cka_over_episodes_stops_when_cancelled(fomaml, probe):
    sampler = aggregate_sampler(fomaml.config, "test", 0)
    done: list[float] = []
    with pytest.raises(Cancelled):
        representation_change(
            fomaml,
            probe,
            sampler,
            10,
            1,
            progress=lambda f, t: done.append(f),
            cancelled=lambda: len(done) >= 2,
        )
    assert done == [0.1, 0.2]


# -- top images and saliency ----------------------------------------------------------------------


def test_top_and_bottom_images_are_the_argmax_and_argmin_of_the_activation():
    a = torch.randn(30, 6, 5, 5)
    ex = extremes(a, "conv2", 4, k=5)
    means = a[:, 4].mean((1, 2)).double()
    assert ex.top[0] == int(means.argmax()) and ex.bottom[0] == int(means.argmin())
    assert ex.top == torch.argsort(means, descending=True)[:5].tolist()
    assert ex.bottom == torch.argsort(means)[:5].tolist()
    assert ex.top_values == pytest.approx(means[ex.top].tolist())
    dense = torch.randn(12, 3)
    assert extremes(dense, "fc1", 2, k=1).top == [int(dense[:, 2].argmax())]
    assert np.allclose(channel_responses(a), a.double().mean((2, 3)).numpy())


def test_top_images_of_the_analysis_are_those_of_the_captured_activation(fomaml, probe, episode):
    m = model_features(fomaml, probe, episode, 1, smoothgrad=0, top_k=3)
    for layer in ("conv2", "conv4"):
        for ex in m.extremes[layer][:4]:
            r = m.before[layer][:, ex.channel].double().mean((1, 2))
            assert ex.top[0] == int(r.argmax()) and ex.bottom[0] == int(r.argmin())


def test_saliency_is_the_autograd_gradient_of_the_class_score(fomaml, episode):
    learner = fomaml.learner
    adapted = adapt(learner, episode, 2)
    batch, index, target = episode.query_x, 7, 1
    got = saliency(learner, adapted.after, batch, index, target, step=adapted.forward_step)
    x = batch[index : index + 1].clone().requires_grad_(True)
    learner.model.eval()
    full = torch.cat([batch[:index], x, batch[index + 1 :]])
    score = learner.forward(adapted.after, full, adapted.forward_step)[index, target]
    (expected,) = torch.autograd.grad(score, x)
    learner.model.train()
    np.testing.assert_allclose(got.gradient, expected[0].numpy(), rtol=1e-5, atol=1e-7)
    assert np.abs(got.gradient).max() > 0
    noiseless = saliency(learner, adapted.after, batch, index, target, step=1, samples=4, noise=0)
    np.testing.assert_allclose(noiseless.gradient, expected[0].numpy(), rtol=1e-4, atol=1e-6)
    smooth = saliency(learner, adapted.after, batch, index, target, step=1, samples=4, seed=3)
    again = saliency(learner, adapted.after, batch, index, target, step=1, samples=4, seed=3)
    assert np.array_equal(smooth.gradient, again.gradient)
    assert not np.allclose(smooth.gradient, expected[0].numpy())


# -- sources and errors ---------------------------------------------------------------------------


def test_comparison_models_load_with_the_adaptation_viewers_labels(runs):
    run = runs["fomaml"]
    models = load_analysed(
        [run_source(run), resolve_compare("baseline", run), resolve_compare("random", run)]
    )
    assert [m.source.kind for m in models] == ["run", "run", "random"]
    assert models[1].label.startswith("Fine-tuning baseline") and models[1].source.baseline
    assert models[2].label == "Random initialisation (fomaml)"


def test_a_sinusoid_run_is_refused_with_the_reason(runs):
    with pytest.raises(RunError, match="sinusoid regression model: it has no images"):
        load_analysed([run_source(runs["sinusoid"])])
    with pytest.raises(RunError, match="no images"):
        load_analysed([run_source(runs["fomaml"]), run_source(runs["sinusoid"])])


def test_a_comparison_model_of_another_architecture_is_refused(runs):
    with pytest.raises(ConfigError, match="has another architecture") as info:
        load_analysed([run_source(runs["fomaml"]), run_source(runs["mlp"])])
    assert "mlp 256-128-64-64" in str(info.value) and "conv4, 32 filters" in str(info.value)


def test_damaged_and_missing_checkpoints_are_refused_with_the_file(runs, tmp_path):
    broken = Path(shutil.copytree(runs["fomaml"], tmp_path / "broken"))
    for kind in ("best", "last"):
        (broken / "checkpoints" / f"{kind}.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RunError, match="cannot be loaded safely") as info:
        load_analysed([run_source(broken)])
    assert "best.pt" in str(info.value)
    shutil.rmtree(broken / "checkpoints")
    with pytest.raises(RunError, match="has no best checkpoint"):
        load_analysed([run_source(runs["fomaml"]), ModelSource.run(_info(broken))])
    with pytest.raises(RunError, match="no run folder"):
        run_source(tmp_path / "nothing")


def _info(path: Path):
    from workbench.engine.runs import run_info

    return run_info(path)


def test_no_baseline_in_the_runs_folder_says_how_to_make_one(runs, tmp_path):
    lonely = Path(shutil.copytree(runs["fomaml"], tmp_path / "runs" / "only"))
    with pytest.raises(ConfigError, match="no fine-tuning baseline for glyphs"):
        resolve_compare("baseline", lonely)


def test_the_probe_set_is_fixed_by_its_seed(fomaml):
    a = probe_set(fomaml.config.data, "test", classes=4, per_class=3, seed=9)
    b = probe_set(fomaml.config.data, "test", classes=4, per_class=3, seed=9)
    c = probe_set(fomaml.config.data, "test", classes=4, per_class=3, seed=10)
    assert torch.equal(a.images, b.images) and a.sources == b.sources
    assert a.sources != c.sources
    assert a.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert len(set(a.class_names)) == 4
    with pytest.raises(ConfigError, match="--classes"):
        probe_set(fomaml.config.data, "test", classes=100_000)


def test_the_analysis_reports_progress_and_its_json_is_strict(runs):
    request = FeaturesRequest(
        [run_source(runs["fomaml"]), resolve_compare("baseline", runs["fomaml"])],
        classes=4,
        per_class=4,
        episodes=2,
        steps=1,
        tsne=False,
        smoothgrad=0,
    )
    seen: list[float] = []
    report = analyse(request, progress=lambda f, t: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    import json

    text = json.dumps(report.to_dict(), allow_nan=False)
    d = json.loads(text)
    assert d["models"][1]["representation_change"]["cka"]["head"]["mean"] is None
    assert len(d["models"][0]["pca"]["before"]) == 16
