"""The task-batched inner loop (torch.func.vmap) against the per-task loop.

The two paths must give the same meta-gradients (within 1e-6 in float64 and 1e-4 in float32),
second and first order, for every gradient-based algorithm and the MAML++ options; where the
batched path cannot apply (BatchNorm running statistics) the learner must say so and loop.
"""

from __future__ import annotations

import logging

import pytest
import torch

from workbench.algorithms import DataInfo, build_learner
from workbench.algorithms.batched import (
    WORKING_SET_BYTES,
    batched_meta_gradient,
    batched_task_losses,
    largest_activation,
    tasks_per_chunk,
)
from workbench.config import ExperimentConfig
from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeBatch, EpisodeSampler
from workbench.data.sinusoid import SinusoidSampler

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")
TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-4}


def image_classes(classes: int = 8, per_class: int = 6, side: int = 16) -> ClassImages:
    g = torch.Generator().manual_seed(0)
    centres = torch.randint(0, 256, (classes, 1, 1, side, side), generator=g)
    noise = torch.randint(-40, 40, (classes, per_class, 1, side, side), generator=g)
    images = (centres + noise).clamp(0, 255).to(torch.uint8)
    return ClassImages(images, [f"c{i}" for i in range(classes)], name="toy")


IMAGES = image_classes()


def make_learner(
    name: str,
    dtype: torch.dtype,
    *,
    regression: bool = False,
    batched: bool = True,
    batchnorm: str = "batch",
    steps: int = 2,
    backbone: str = "conv4",
    **alg,
):
    c = ExperimentConfig()
    if regression:
        c.data.dataset, c.model.backbone = "sinusoid", "mlp"
        c.algorithm.inner_lr = 0.05
    else:
        c.data.dataset, c.data.ways, c.data.image_size = "glyphs", 3, 16
        c.model.hidden, c.model.batchnorm, c.model.backbone = 4, batchnorm, backbone
        c.algorithm.inner_lr = 0.1
    c.algorithm.name, c.algorithm.inner_steps = name, steps
    c.train.batched = batched
    for k, v in alg.items():
        setattr(c.algorithm, k, v)
    learner = build_learner(c.validate(), DataInfo(1, tuple(IMAGES.class_names)), CPU)
    for module in (learner.model, learner.learned_lr, learner.step_bn):
        if module is not None:
            module.to(dtype)
    return learner


def make_batch(dtype: torch.dtype, *, regression: bool = False, tasks: int = 4) -> EpisodeBatch:
    if regression:
        batch = SinusoidSampler(5, 5, seed=3).batch(0, tasks)
        batch.support_y, batch.query_y = batch.support_y.to(dtype), batch.query_y.to(dtype)
    else:
        batch = EpisodeSampler(IMAGES, 3, 2, 2, seed=1).batch(0, tasks)
    batch.support_x, batch.query_x = batch.support_x.to(dtype), batch.query_x.to(dtype)
    return batch


def per_task_gradients(learner, batch, iteration):
    learner.optimizer.zero_grad(set_to_none=True)
    figures = learner._per_task_meta_gradient(batch, iteration)
    return gradients(learner), figures


def batched_gradients(learner, batch, iteration):
    learner.optimizer.zero_grad(set_to_none=True)
    task_loss = learner.functional_task_loss(batch.episodes[0].ways, iteration)
    losses, figures = batched_task_losses(task_loss, batch)
    assert losses.shape == (len(batch),) and figures.shape[0] == len(batch)
    losses.mean().backward()
    return gradients(learner), figures.mean(0)


def gradients(learner):
    """Meta-gradients in the order of `meta_parameters`, None where a meta-parameter is unused
    (MAML++ with per-step BatchNorm weights never calls the model's own BatchNorm weights)."""
    return [None if p.grad is None else p.grad.clone() for p in learner.meta_parameters()]


def assert_same_gradients(expected, actual, tol):
    """Both lists cover the same meta-parameters, unused (None) in the same places, agree
    within ``tol`` and are a real meta-gradient: not empty and not all zero."""
    assert len(expected) == len(actual) > 0
    for a, b in zip(expected, actual, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a, rtol=tol, atol=tol)
    assert_nonzero(expected)


def assert_nonzero(grads):
    used = [g for g in grads if g is not None]
    assert used and sum(float(g.abs().sum()) for g in used) > 0, "the meta-gradient is zero"


CASES = [
    # (id, algorithm, options, iteration)
    ("maml", "maml", {}, 0),
    ("fomaml", "fomaml", {}, 0),
    ("metasgd", "metasgd", {}, 0),
    ("metasgd-first-order", "metasgd", {"first_order": True}, 0),
    ("anil", "anil", {}, 0),
    ("anil-first-order", "anil", {"first_order": True}, 0),
    ("protomaml", "protomaml", {}, 0),
    ("protomaml-first-order", "protomaml", {"first_order": True}, 0),
    ("mamlpp-msl-lslr-bnwb", "mamlpp", {"msl": True, "lslr": True, "bnwb": True}, 3),
    (
        "mamlpp-msl-lslr-bnwb-first-order",
        "mamlpp",
        {"msl": True, "lslr": True, "bnwb": True, "first_order": True},
        3,
    ),
    ("mamlpp-da-still-first-order", "mamlpp", {"da_iterations": 5}, 2),
    ("mamlpp-da-now-second-order", "mamlpp", {"da_iterations": 5}, 7),
    ("mamlpp-no-options", "mamlpp", {"msl": False, "lslr": False, "bnwb": False}, 0),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batched_meta_gradients_match_the_per_task_loop(case, dtype):
    _, name, options, iteration = case
    learner = make_learner(name, dtype, **options)
    assert learner.batched, learner.path_description
    batch = make_batch(dtype)
    g_loop, f_loop = per_task_gradients(learner, batch, iteration)
    g_vmap, f_vmap = batched_gradients(learner, batch, iteration)
    tol = TOLERANCE[dtype]
    assert_same_gradients(g_loop, g_vmap, tol)
    torch.testing.assert_close(f_vmap, f_loop, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["maml", "fomaml"])
def test_batched_mlp_with_batchnorm1d_matches_the_per_task_loop(name):
    learner = make_learner(name, torch.float64, backbone="mlp")
    batch = make_batch(torch.float64)
    g_loop, f_loop = per_task_gradients(learner, batch, 0)
    g_vmap, f_vmap = batched_gradients(learner, batch, 0)
    assert all(g is not None for g in g_loop)  # every meta-parameter takes part
    assert_same_gradients(g_loop, g_vmap, 1e-6)
    torch.testing.assert_close(f_vmap, f_loop, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["maml", "fomaml", "metasgd"])
def test_batched_regression_matches_the_per_task_loop(name):
    learner = make_learner(name, torch.float64, regression=True)
    batch = make_batch(torch.float64, regression=True, tasks=5)
    g_loop, f_loop = per_task_gradients(learner, batch, 0)
    g_vmap, f_vmap = batched_gradients(learner, batch, 0)
    assert all(g is not None for g in g_loop)  # every meta-parameter takes part
    assert_same_gradients(g_loop, g_vmap, 1e-6)
    torch.testing.assert_close(f_vmap, f_loop, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 3, None])
def test_chunked_meta_gradient_matches_the_per_task_loop(chunk):
    """Chunks of 1, of 3 then 1 (uneven) and the automatic size add up to the same
    meta-gradient and figures, MAML++ with all its batchable options, float32."""
    learner = make_learner("mamlpp", torch.float32, msl=True, lslr=True, bnwb=True)
    batch = make_batch(torch.float32)
    g_loop, f_loop = per_task_gradients(learner, batch, 3)
    learner.optimizer.zero_grad(set_to_none=True)
    task_loss = learner.functional_task_loss(batch.episodes[0].ways, 3)
    f_chunked = batched_meta_gradient(task_loss, batch, chunk or learner.chunk_size(batch))
    assert_same_gradients(g_loop, gradients(learner), 1e-4)
    torch.testing.assert_close(f_chunked, f_loop, rtol=1e-4, atol=1e-4)


def test_chunk_size_keeps_the_working_set_within_budget():
    """Omniglot-sized Conv4 (64 filters, 28x28): the first block's output, 64*28*28 floats
    per image, is the largest activation; 5-way 1-shot with 15 queries is 80 images a task."""
    c = ExperimentConfig()
    c.data.image_size, c.model.hidden = 28, 64
    learner = build_learner(c.validate(), DataInfo(1, ()), CPU)
    net = learner.vmap_net()
    assert largest_activation(net, (1, 28, 28)) == 64 * 28 * 28
    assert all(p.device.type == "meta" for p in net.parameters())  # the twin holds no weights

    def shaped(tasks, support, query):
        sx = torch.zeros(1, 1, 1, 28, 28).expand(tasks, support, 1, 28, 28)
        qx = torch.zeros(1, 1, 1, 28, 28).expand(tasks, query, 1, 28, 28)
        y = torch.zeros(tasks, 1, dtype=torch.long)
        return EpisodeBatch(sx, y, qx, y, [])

    per_image = 64 * 28 * 28 * 4
    small = tasks_per_chunk(net, shaped(32, 5, 5))
    assert small == WORKING_SET_BYTES["cpu"] // (10 * per_image) == 8
    assert tasks_per_chunk(net, shaped(4, 5, 5)) == 4  # never more than the meta-batch
    assert tasks_per_chunk(net, shaped(32, 5, 75)) == 1  # one task fills the working set
    assert tasks_per_chunk(net, shaped(32, 20, 20)) == 1  # 2 fit: below MIN_TASKS_PER_CALL
    assert tasks_per_chunk(net, shaped(3, 5, 5)) == 1  # a meta-batch of 3 on the CPU
    assert tasks_per_chunk(net, shaped(12, 5, 5)) == 6  # room for 8: even chunks, 6 + 6
    assert tasks_per_chunk(net, shaped(8, 5, 11)) == 4  # room for 5: 4 + 4, not 5 + 3


def test_second_order_batched_differs_from_first_order_batched():
    """The batched path is not silently first order: the two meta-gradients differ."""
    second = make_learner("maml", torch.float64)
    first = make_learner("fomaml", torch.float64)
    first.model.load_state_dict(second.model.state_dict())
    batch = make_batch(torch.float64)
    g2, _ = batched_gradients(second, batch, 0)
    g1, _ = batched_gradients(first, batch, 0)
    assert_nonzero(g1)
    assert_nonzero(g2)
    assert any(not torch.allclose(a, b, atol=1e-8) for a, b in zip(g1, g2, strict=True))


def test_protomaml_inner_step_is_the_partial_derivative_as_in_adapt():
    """The prototype head depends on the body, but an inner step differentiates the support
    loss with respect to each fast weight on its own (what ``adapt`` does with detached
    starting weights), not along the path through the prototypes."""
    learner = make_learner("protomaml", torch.float64, batched=False, steps=1)
    e = make_batch(torch.float64, tasks=1)[0]
    fast = learner.initial_params(e.support_x, e.support_y, 3)
    stepped = learner.inner_step(
        fast, e.support_x, e.support_y, learner._lr_fn(), 0, create_graph=True
    )
    independent = {k: v.detach().requires_grad_() for k, v in fast.items()}
    loss = learner.loss(learner.forward(independent, e.support_x, 0), e.support_y)
    grads = torch.autograd.grad(loss, list(independent.values()))
    assert set(stepped) == set(independent) and sum(float(g.abs().sum()) for g in grads) > 0
    for (k, v), g in zip(independent.items(), grads, strict=True):
        torch.testing.assert_close(stepped[k].detach(), v - 0.1 * g, rtol=1e-10, atol=1e-12, msg=k)
    assert stepped["body.0.weight"].requires_grad  # still connected for the meta-gradient


def test_whole_meta_steps_agree_between_paths():
    """Three full meta-steps (Adam included) leave both learners with the same weights and
    report the same metrics."""
    fast = make_learner("maml", torch.float64, batched=True)
    slow = make_learner("maml", torch.float64, batched=False)
    slow.model.load_state_dict(fast.model.state_dict())
    start = {k: v.detach().clone() for k, v in fast.model.named_parameters()}
    assert fast.batched and not slow.batched
    for it in range(3):
        batch = make_batch(torch.float64)
        assert fast.chunk_size(batch) == len(batch)  # really the batched path
        m_fast, m_slow = fast.meta_step(batch, it), slow.meta_step(batch, it)
        for key, value in m_slow.values().items():
            assert m_fast.values()[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    fast_params, slow_params = (
        dict(fast.model.named_parameters()),
        dict(slow.model.named_parameters()),
    )
    assert set(fast_params) == set(slow_params)
    for k, a in fast_params.items():
        torch.testing.assert_close(a, slow_params[k], rtol=1e-9, atol=1e-9, msg=k)
    assert any(not torch.equal(a, start[k]) for k, a in fast_params.items())  # it did learn


def test_running_batchnorm_falls_back_to_the_per_task_loop_and_says_why():
    learner = make_learner("mamlpp", torch.float64, batchnorm="running", bnrs=True)
    assert not learner.batched
    assert "per-task" in learner.path_description and "running" in learner.path_description
    before = learner.step_bn.s0__body__1__running_mean.clone()
    metrics = learner.meta_step(make_batch(torch.float64), 0)
    assert metrics.loss > 0
    assert not torch.equal(before, learner.step_bn.s0__body__1__running_mean)
    plain = make_learner("maml", torch.float64, batchnorm="running")
    assert not plain.batched and "running statistics" in plain.path_description


def test_switch_off_and_own_meta_step_use_the_per_task_loop():
    off = make_learner("maml", torch.float32, batched=False)
    assert not off.batched and "train.batched is off" in off.path_description
    reptile = make_learner("reptile", torch.float32)
    assert not reptile.batched and "reptile has its own meta-step" in reptile.path_description
    on = make_learner("protomaml", torch.float32)  # conv4 MAML folds (tests/test_folded.py)
    assert on.batched and "vmap" in on.path_description


def test_the_path_is_logged_once(caplog):
    learner = make_learner("protomaml", torch.float32)
    batch = make_batch(torch.float32, tasks=4)
    with caplog.at_level(logging.INFO, logger="workbench.algorithms.gradient"):
        learner.meta_step(batch, 0)
        learner.meta_step(batch, 1)
    lines = [r.getMessage() for r in caplog.records if "inner loop" in r.getMessage()]
    assert lines == [f"protomaml: {learner.path_description}"]
    assert "4 of 4 tasks per call" in learner.path_description


def test_one_task_per_call_uses_the_per_task_loop(caplog, monkeypatch):
    """Where one task alone fills the working set (or the meta-batch has one task), vmap over
    single tasks would only add overhead: the learner loops, says so, and stays correct."""
    import workbench.algorithms.batched as batched

    monkeypatch.setitem(batched.WORKING_SET_BYTES, "cpu", 1)
    learner = make_learner("protomaml", torch.float64)  # conv4 MAML would fold
    reference = make_learner("protomaml", torch.float64, batched=False)
    reference.model.load_state_dict(learner.model.state_dict())
    batch = make_batch(torch.float64)
    with caplog.at_level(logging.INFO, logger="workbench.algorithms.gradient"):
        m = learner.meta_step(batch, 0)
    assert learner.chunk_size(batch) == 1
    assert "per-task inner loop: too few tasks fit the working set" in caplog.text
    assert m.loss == pytest.approx(reference.meta_step(batch, 0).loss, rel=1e-12)
    single = make_learner("protomaml", torch.float64)
    single.meta_step(make_batch(torch.float64, tasks=1), 0)
    assert single.path_description == "per-task inner loop: a meta-batch of one task"
