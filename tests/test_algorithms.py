"""Correctness of the gradient-based family and its relatives, on tiny float64 models.

Each test is one of the complaints users of public MAML code made ("my MAML is silently first
order", "BatchNorm in eval mode gives random accuracy", ...), turned into a check.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from workbench.algorithms import DataInfo, build_learner
from workbench.algorithms.mamlpp import msl_weights
from workbench.algorithms.prototypes import prototype_logits, prototypes
from workbench.config import ExperimentConfig
from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeSampler
from workbench.data.sinusoid import SinusoidSampler

CPU = torch.device("cpu")


def sinusoid_learner(name: str, steps: int = 2, lr: float = 0.05, **alg):
    c = ExperimentConfig()
    c.data.dataset, c.model.backbone = "sinusoid", "mlp"
    c.algorithm.name, c.algorithm.inner_steps, c.algorithm.inner_lr = name, steps, lr
    for k, v in alg.items():
        setattr(c.algorithm, k, v)
    learner = build_learner(c.validate(), DataInfo(), CPU)
    learner.model.double()
    for extra in (getattr(learner, "learned_lr", None), getattr(learner, "step_bn", None)):
        if extra is not None:
            extra.double()
    return learner


def double_episode(e):
    return e.support_x.double(), e.support_y.double(), e.query_x.double(), e.query_y.double()


def image_classes(classes=8, per_class=6, side=16, seed=0) -> ClassImages:
    g = torch.Generator().manual_seed(seed)
    prototypes_ = torch.randint(0, 256, (classes, 1, 1, side, side), generator=g)
    noise = torch.randint(-40, 40, (classes, per_class, 1, side, side), generator=g)
    images = (prototypes_ + noise).clamp(0, 255).to(torch.uint8)
    return ClassImages(images, [f"c{i}" for i in range(classes)], name="toy")


def conv_learner(name: str, batchnorm: str = "batch", **alg):
    c = ExperimentConfig()
    c.data.dataset, c.data.ways, c.data.image_size = "glyphs", 3, 16
    c.model.hidden, c.model.batchnorm = 4, batchnorm
    c.algorithm.name, c.algorithm.inner_steps, c.algorithm.inner_lr = name, 2, 0.1
    for k, v in alg.items():
        setattr(c.algorithm, k, v)
    learner = build_learner(c.validate(), DataInfo(1, tuple(f"c{i}" for i in range(8))), CPU)
    learner.model.double()
    for extra in (getattr(learner, "learned_lr", None), getattr(learner, "step_bn", None)):
        if extra is not None:
            extra.double()
    return learner


def meta_gradient(learner, episode, iteration=10**9, ways=1):
    sx, sy, qx, qy = episode
    loss, _ = learner.task_loss(sx, sy, qx, qy, ways, iteration)
    params = [p for _, p in learner.model.named_parameters()]
    return loss, torch.autograd.grad(loss, params, allow_unused=True)


def test_second_order_meta_gradient_matches_finite_differences():
    learner = sinusoid_learner("maml", steps=2, lr=0.05)
    episode = double_episode(SinusoidSampler(10, 10, seed=0)[0])
    _, grads = meta_gradient(learner, episode)
    params = dict(learner.model.named_parameters())
    eps = 1e-6
    g = torch.Generator().manual_seed(0)
    assert len(grads) == len(params) and all(g is not None for g in grads)
    for (name, p), grad in zip(params.items(), grads, strict=True):
        for _ in range(3):
            idx = tuple(int(torch.randint(0, n, (1,), generator=g)) for n in p.shape)
            with torch.no_grad():
                p[idx] += eps
            plus, _ = learner.task_loss(*episode, 1, 10**9)
            with torch.no_grad():
                p[idx] -= 2 * eps
            minus, _ = learner.task_loss(*episode, 1, 10**9)
            with torch.no_grad():
                p[idx] += eps
            numeric = (plus - minus).item() / (2 * eps)
            assert grad[idx].item() == pytest.approx(numeric, rel=1e-4, abs=1e-7), name


def test_first_order_differs_and_equals_query_gradient_at_adapted_parameters():
    episode = double_episode(SinusoidSampler(10, 10, seed=1)[3])
    second = sinusoid_learner("maml", steps=1, lr=0.05)
    first = sinusoid_learner("fomaml", steps=1, lr=0.05)
    first.model.load_state_dict(second.model.state_dict())
    _, g2 = meta_gradient(second, episode)
    _, g1 = meta_gradient(first, episode)
    assert any(not torch.allclose(a, b, atol=1e-8) for a, b in zip(g1, g2, strict=True))
    # first order: the query-loss gradient at theta' = theta - lr * grad(support loss)
    sx, sy, qx, qy = episode
    params = {k: v.detach().clone().requires_grad_() for k, v in first.model.named_parameters()}
    support = torch.nn.functional.mse_loss(functional_call(first.model, params, (sx,)), sy)
    inner = torch.autograd.grad(support, list(params.values()))
    adapted = {
        k: (v - 0.05 * g).detach().requires_grad_()
        for (k, v), g in zip(params.items(), inner, strict=True)
    }
    query = torch.nn.functional.mse_loss(functional_call(first.model, adapted, (qx,)), qy)
    expected = torch.autograd.grad(query, list(adapted.values()))
    assert sum(float(g.abs().sum()) for g in expected) > 0
    for a, b in zip(g1, expected, strict=True):
        assert torch.allclose(a, b, atol=1e-12)


def test_conv_maml_with_batchnorm_is_second_order_and_graph_connected():
    learner = conv_learner("maml")
    e = EpisodeSampler(image_classes(), 3, 2, 2, seed=0)[0]
    episode = (e.support_x.double(), e.support_y, e.query_x.double(), e.query_y)
    _, g2 = meta_gradient(learner, episode, ways=3)
    assert all(g is not None and torch.isfinite(g).all() for g in g2)
    fo = conv_learner("fomaml")
    fo.model.load_state_dict(learner.model.state_dict())
    _, g1 = meta_gradient(fo, episode, ways=3)
    assert any(not torch.allclose(a, b, atol=1e-10) for a, b in zip(g1, g2, strict=True))


def test_gradients_reach_metasgd_rates_and_lslr_rates():
    episode = double_episode(SinusoidSampler(10, 10, seed=2)[0])
    msgd = sinusoid_learner("metasgd", steps=2)
    loss, _ = msgd.task_loss(*episode, 1, 10**9)
    rates = list(msgd.learned_lr.parameters())
    grads = torch.autograd.grad(loss, rates)
    assert len(rates) == 6 and all(g.abs().sum() > 0 for g in grads)
    for name, p in msgd.model.named_parameters():  # one rate per parameter element
        assert msgd.learned_lr[name.replace(".", "__")].shape == p.shape
    pp = sinusoid_learner("mamlpp", steps=3, msl=True, lslr=True)
    loss, _ = pp.task_loss(*episode, 1, 0)
    rates = list(pp.learned_lr.parameters())
    grads = torch.autograd.grad(loss, rates)
    assert all(r.shape == (3,) for r in rates)
    assert all((g != 0).all() for g in grads)  # every step's rate of every layer


def test_anil_leaves_the_body_unchanged_in_the_inner_loop():
    learner = conv_learner("anil")
    e = EpisodeSampler(image_classes(), 3, 2, 2, seed=0)[1]
    assert all(k.startswith("head.") for k in learner.adapt_keys)
    before = {k: v.detach().clone() for k, v in learner.model.named_parameters()}
    trace = learner.adapt(e, steps=5)
    assert trace.steps == 5 and trace.support_loss[-1] < trace.support_loss[0]
    from workbench.algorithms.inner_loop import gradient_step

    sx, sy = e.support_x.double(), e.support_y
    fast = dict(learner.model.named_parameters())
    loss = learner.loss(learner.forward(fast, sx, 0), sy)
    after = gradient_step(loss, fast, learner.adapt_keys, learner._lr_fn(), 0, create_graph=False)
    for k in fast:
        if k.startswith("head."):
            assert not torch.equal(after[k], before[k])
        else:
            assert after[k] is fast[k] and torch.equal(after[k], before[k])
    # adapt() never changes the learner's own parameters
    for k, v in learner.model.named_parameters():
        assert torch.equal(v, before[k])


def test_protonet_logits_are_negative_squared_distances():
    feats = torch.randn(6, 5, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    c = prototypes(feats, labels, 3)
    assert torch.allclose(c[1], feats[2:4].mean(0))
    q = torch.randn(4, 5, dtype=torch.float64)
    logits = prototype_logits(q, c)
    expected = -((q[:, None, :] - c[None]) ** 2).sum(-1)
    assert torch.allclose(logits, expected, atol=1e-10)


def test_protomaml_head_starts_at_prototypes():
    learner = conv_learner("protomaml")
    e = EpisodeSampler(image_classes(), 3, 2, 2, seed=0)[2]
    sx = e.support_x.double()
    params = learner.initial_params(sx, e.support_y, 3)
    feats = learner.model(sx, features_only=True)
    c = prototypes(feats, e.support_y, 3)
    assert torch.allclose(params["head.weight"], 2 * c)
    assert torch.allclose(params["head.bias"], -(c**2).sum(-1))
    # so before any step the head scores -|f - c|^2 up to a per-query constant
    out = learner.forward(params, sx, 0)
    assert torch.equal(out.argmax(-1), prototype_logits(feats, c).argmax(-1))


def test_reptile_moves_the_initialisation_toward_adapted_weights():
    learner = sinusoid_learner("reptile", steps=5, lr=0.02)
    batch = SinusoidSampler(10, 10, seed=4).batch(0, 1)
    batch.support_x, batch.support_y = batch.support_x.double(), batch.support_y.double()
    batch.query_x, batch.query_y = batch.query_x.double(), batch.query_y.double()
    theta = {k: v.detach().clone() for k, v in learner.model.named_parameters()}
    phi = learner.adapted_params(
        batch.support_x[0], batch.support_y[0], torch.Generator().manual_seed(0)
    )
    learner.meta_step(batch, 0)
    moved_toward = total = 0
    for k, v in learner.model.named_parameters():
        step, target = v.detach() - theta[k], phi[k].detach() - theta[k]
        mask = target.abs() > 1e-9
        moved_toward += int(((step * target)[mask] > 0).sum())
        total += int(mask.sum())
    assert total > 0 and moved_toward == total


def test_msl_weights_anneal_to_the_last_step():
    assert msl_weights(1, 0, 100) == [1.0]
    start = msl_weights(5, 0, 100)
    assert start == pytest.approx([0.2] * 5)
    end = msl_weights(5, 1000, 100)
    assert sum(end) == pytest.approx(1.0) and end[-1] > 0.97 and end[0] == pytest.approx(0.006)


def test_mamlpp_per_step_batchnorm_and_derivative_order_annealing():
    learner = conv_learner("mamlpp", batchnorm="running", bnwb=True, bnrs=True, da_iterations=5)
    assert learner.step_bn is not None
    assert not any(
        k.startswith("body.1.") for k in learner.adapt_keys
    )  # BN weights are per step, not adapted
    over0, buf0 = learner.step_bn.at_step(0)
    over1, _ = learner.step_bn.at_step(1)
    assert (
        set(over0) == set(over1)
        and "body.1.weight" in over0
        and over0["body.1.weight"] is not over1["body.1.weight"]
    )
    assert "body.1.running_mean" in buf0
    assert not learner.second_order_at(4) and learner.second_order_at(5)
    e = EpisodeSampler(image_classes(), 3, 2, 2, seed=0)[0]
    loss, _ = learner.task_loss(
        e.support_x.double(), e.support_y, e.query_x.double(), e.query_y, 3, 10
    )
    grads = torch.autograd.grad(loss, list(learner.step_bn.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


def test_batchnorm_mode_is_explicit_and_both_modes_work():
    images = image_classes()
    e = EpisodeSampler(images, 3, 2, 2, seed=0)[0]
    batch_mode = conv_learner("maml", batchnorm="batch")
    assert all(
        not m.track_running_stats
        for m in batch_mode.model.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    )
    running = conv_learner("maml", batchnorm="running")
    running.model.load_state_dict(batch_mode.model.state_dict(), strict=False)
    # untrained running statistics (mean 0, var 1) differ from the batch's own statistics, so
    # the two modes give different outputs at test time: the choice matters and is explicit
    t_batch = batch_mode.adapt(e, 0)
    t_running = running.adapt(e, 0)
    assert t_batch.query_loss[0] != pytest.approx(t_running.query_loss[0])
    # running statistics are updated in training and used in eval mode
    sampler = EpisodeSampler(images, 3, 2, 2, seed=1)
    batch = sampler.batch(0, 2)
    batch.support_x, batch.query_x = batch.support_x.double(), batch.query_x.double()
    before = running.model.body[1].running_mean.clone()
    running.meta_step(batch, 0)
    assert not torch.equal(before, running.model.body[1].running_mean)


def test_adapt_step_zero_is_the_unadapted_model():
    learner = conv_learner("maml")
    e = EpisodeSampler(image_classes(), 3, 2, 4, seed=0)[5]
    trace = learner.adapt(e, steps=3)
    with torch.no_grad():
        out = learner.model(e.query_x.double())
    acc = (out.argmax(-1) == e.query_y).double().mean().item()
    assert trace.query_accuracy[0] == pytest.approx(acc)
    assert len(trace.query_accuracy) == 4 and len(trace.query_predictions[2]) == 12
    assert trace.query_predictions[0] == out.argmax(-1).tolist()
