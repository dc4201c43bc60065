"""The task-folded inner loop (grouped convolutions) against the per-task loop.

Folding the tasks of a meta-batch into the channels of one conv4 must give the same
meta-gradients and figures as adapting task by task (within 1e-6 in float64, 1e-4 in float32),
second and first order, both networks, every algorithm it serves and any fold size; where it
cannot serve (Proto-MAML's head, running BatchNorm statistics, the MLP) the learner says so and
takes another path.
"""

from __future__ import annotations

import pytest
import torch

from workbench.algorithms import DataInfo, build_learner
from workbench.algorithms.folded import (
    fold,
    fold_images,
    folded_forward,
    folded_meta_gradient,
    tasks_per_fold,
)
from workbench.config import ExperimentConfig
from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeBatch, EpisodeSampler

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")
TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-4}


def toy_images(classes: int = 8, per_class: int = 6, side: int = 16) -> ClassImages:
    g = torch.Generator().manual_seed(0)
    centres = torch.randint(0, 256, (classes, 1, 1, side, side), generator=g)
    noise = torch.randint(-40, 40, (classes, per_class, 1, side, side), generator=g)
    images = (centres + noise).clamp(0, 255).to(torch.uint8)
    return ClassImages(images, [f"c{i}" for i in range(classes)], name="toy")


IMAGES = toy_images()


def make_learner(name: str, dtype: torch.dtype, pooling: str = "max", **alg):
    c = ExperimentConfig()
    c.data.dataset, c.data.ways, c.data.image_size = "glyphs", 3, 16
    c.model.hidden, c.model.pooling, c.model.init = 4, pooling, "maml"
    c.model.batchnorm = alg.pop("batchnorm", "batch")
    c.algorithm.name, c.algorithm.inner_steps, c.algorithm.inner_lr = name, 2, 0.1
    for k, v in alg.items():
        setattr(c.algorithm, k, v)
    learner = build_learner(c.validate(), DataInfo(1, tuple(IMAGES.class_names)), CPU)
    for module in (learner.model, learner.learned_lr, learner.step_bn):
        if module is not None:
            module.to(dtype)
    return learner


def make_batch(dtype: torch.dtype, tasks: int = 4) -> EpisodeBatch:
    batch = EpisodeSampler(IMAGES, 3, 2, 2, seed=1).batch(0, tasks)
    batch.support_x, batch.query_x = batch.support_x.to(dtype), batch.query_x.to(dtype)
    return batch


def gradients(learner) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.clone() for p in learner.meta_parameters()]


def per_task(learner, batch, iteration):
    learner.optimizer.zero_grad(set_to_none=True)
    figures = learner._per_task_meta_gradient(batch, iteration)
    return gradients(learner), figures


def folded(learner, batch, iteration, chunk):
    learner.optimizer.zero_grad(set_to_none=True)
    figures = folded_meta_gradient(learner, batch, iteration, chunk)
    return gradients(learner), figures


CASES = [
    # (id, algorithm, options, iteration)
    ("maml", "maml", {}, 0),
    ("maml-first-order", "maml", {"first_order": True}, 0),
    ("fomaml", "fomaml", {}, 0),
    ("metasgd", "metasgd", {}, 0),
    ("metasgd-first-order", "metasgd", {"first_order": True}, 0),
    ("anil", "anil", {}, 0),
    ("mamlpp-msl-lslr-bnwb", "mamlpp", {"msl": True, "lslr": True, "bnwb": True}, 3),
    ("mamlpp-da-still-first-order", "mamlpp", {"da_iterations": 5}, 2),
]


@pytest.mark.parametrize("pooling", ["max", "stride"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_folded_meta_gradients_match_the_per_task_loop(case, dtype, pooling):
    _, name, options, iteration = case
    learner = make_learner(name, dtype, pooling, **options)
    assert learner.folded, learner.path_description
    batch = make_batch(dtype)
    g_loop, f_loop = per_task(learner, batch, iteration)
    tol = TOLERANCE[dtype]
    for chunk in (1, 3, 4):  # one fold per task, uneven folds, one fold
        g_fold, f_fold = folded(learner, batch, iteration, chunk)
        assert len(g_loop) == len(g_fold) > 0
        for a, b in zip(g_loop, g_fold, strict=True):
            assert (a is None) == (b is None)
            if a is not None:
                torch.testing.assert_close(b, a, rtol=tol, atol=tol)
        torch.testing.assert_close(f_fold, f_loop, rtol=tol, atol=tol)
    used = [g for g in g_loop if g is not None]
    assert sum(float(g.abs().sum()) for g in used) > 0, "the meta-gradient is zero"


@pytest.mark.parametrize("pooling", ["max", "stride"])
def test_folded_forward_is_each_tasks_own_forward(pooling):
    """Different weights per task, folded, give each task's logits from the plain model."""
    learner = make_learner("maml", torch.float64, pooling)
    batch = make_batch(torch.float64, tasks=3)
    params = dict(learner.model.named_parameters())
    per_task = [
        {k: v + 0.01 * t * torch.randn_like(v) for k, v in params.items()} for t in range(3)
    ]
    stacked = {
        k: (
            torch.stack([p[k] for p in per_task])
            if k.startswith("head.")
            else torch.cat([p[k] for p in per_task])
        )
        for k in params
    }
    out = folded_forward(learner.model, stacked, fold_images(batch.support_x), 3)
    for t in range(3):
        expected = torch.func.functional_call(learner.model, per_task[t], (batch.support_x[t],))
        torch.testing.assert_close(out[:, t], expected)
    shared = folded_forward(learner.model, fold(params, 3), fold_images(batch.support_x), 3)
    torch.testing.assert_close(shared[:, 1], learner.model(batch.support_x[1]))


def test_meta_step_takes_the_folded_path_and_names_it():
    learner = make_learner("maml", torch.float32)
    batch = make_batch(torch.float32, tasks=8)
    before = [p.detach().clone() for p in learner.model.parameters()]
    learner.meta_step(batch, 0)
    assert learner.path_description.startswith("task-folded inner loop")
    assert "of 8 tasks per fold" in learner.path_description
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.model.parameters()))


@pytest.mark.parametrize(
    ("name", "options", "why"),
    [
        ("protomaml", {}, "head starts per task"),
        ("maml", {"batchnorm": "running"}, "running statistics"),
    ],
)
def test_what_cannot_fold_takes_another_path(name, options, why):
    learner = make_learner(name, torch.float32, **options)
    assert not learner.folded
    assert "task-folded" not in learner.path_description
    from workbench.algorithms.folded import unsupported_reason

    reason = unsupported_reason(learner.model, learner.policy)
    assert reason is not None and why in reason


def test_fold_size_keeps_a_fold_within_the_working_set():
    """Omniglot-sized episodes: the max-pool conv4's first map is 64x28x28 floats (200 KB) per
    image; 5-way 1-shot (5 images a task) folds 8 tasks in 8 MiB, 20-way only 2, too few to
    pay, so one; the strided network's first map is a quarter of that."""
    c = ExperimentConfig()
    c.data.dataset, c.data.image_size, c.model.hidden = "omniglot", 28, 64
    sizes = {}
    for pooling in ("max", "stride"):
        for ways in (5, 20):
            c.model.pooling, c.data.ways, c.data.queries = pooling, ways, 1
            learner = build_learner(c, DataInfo(1, ()), CPU)
            x = torch.zeros(16, ways, 1, 28, 28)
            y = torch.zeros(16, ways, dtype=torch.long)
            batch = EpisodeBatch(x, y, x, y, [])
            sizes[(pooling, ways)] = tasks_per_fold(learner.vmap_net(), batch)
    assert sizes == {("max", 5): 8, ("max", 20): 1, ("stride", 5): 16, ("stride", 20): 8}


def test_written_out_batch_norm_is_the_fused_one():
    from workbench.algorithms.folded import batch_norm

    g = torch.Generator().manual_seed(3)
    x = torch.randn(5, 6, 4, 4, generator=g, dtype=torch.float64) * 3 + 1
    w, b = torch.rand(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    expected = torch.nn.functional.batch_norm(x, None, None, w, b, training=True, eps=1e-5)
    torch.testing.assert_close(batch_norm(x, w, b, 1e-5), expected)
    plain = torch.nn.functional.batch_norm(x, None, None, None, None, training=True, eps=1e-5)
    torch.testing.assert_close(batch_norm(x, None, None, 1e-5), plain)


@pytest.mark.parametrize("offset", [0.0, 10.0, 100.0])
def test_written_out_batch_norm_keeps_float32_precision_on_offset_maps(offset):
    """The variance as a moment about the (held) mean stays as precise as the fused kernel on
    a float32 map the size of a 20-way fold's first layer, even with the mean a hundred
    standard deviations from zero (the raw moments ``E[h^2] - E[h]^2`` were 1% off there)."""
    from workbench.algorithms.folded import batch_norm

    g = torch.Generator().manual_seed(4)
    x = torch.randn(20, 64, 14, 14, generator=g) + offset
    expected = torch.nn.functional.batch_norm(x.double(), None, None, training=True, eps=1e-5)
    assert (batch_norm(x, None, None, 1e-5).double() - expected).abs().max() < 5e-5


@pytest.mark.parametrize("size", [28, 7])  # 7: floor mode drops the last row and column
def test_fast_max_pool_has_max_pool2ds_values_gradients_and_double_gradients(size):
    """Ties (ReLU's zeros, repeated values) must pick each window's first maximum, as
    PyTorch's kernel does, or second-order MAML would differ from the per-task loop."""
    from workbench.algorithms.folded import max_pool

    g = torch.Generator().manual_seed(4)
    base = torch.relu(torch.randn(3, 5, size, size, generator=g, dtype=torch.float64))
    base[0, 0, :2, :2] = 0.5  # a whole window of one value
    grad_out = torch.randn(3, 5, size // 2, size // 2, generator=g, dtype=torch.float64)
    results = []
    for pool in (max_pool, lambda h, k, s: torch.nn.functional.max_pool2d(h, k, s)):
        x = base.clone().requires_grad_()
        out = pool(torch.sin(x) * x, 2, 2)  # a function of x, so the double gradient is not 0
        (gx,) = torch.autograd.grad(out, x, grad_out, create_graph=True)
        (ggx,) = torch.autograd.grad((gx * gx).sum(), x)
        results.append((out.detach(), gx.detach(), ggx))
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("negative", [False, True])
def test_pooling_before_normalising_is_the_three_layers(negative):
    """A negative BatchNorm weight reverses the order within a window: the block must then
    pick each window's minimum of the convolution's output, as the layers do."""
    from workbench.algorithms.folded import batch_norm, max_pool, norm_relu_pool

    g = torch.Generator().manual_seed(5)
    h = torch.randn(4, 6, 9, 9, generator=g, dtype=torch.float64).requires_grad_()
    w = torch.rand(6, generator=g, dtype=torch.float64) * (-1 if negative else 1)
    w[0] = 0.0  # a zero weight: every value of the window ties
    w.requires_grad_()
    b = torch.randn(6, generator=g, dtype=torch.float64).requires_grad_()
    grad_out = torch.randn(4, 6, 4, 4, generator=g, dtype=torch.float64)
    results = []
    for block in (
        lambda: norm_relu_pool(h, w, b, 1e-5, 2, 2),
        lambda: max_pool(torch.relu(batch_norm(h, w, b, 1e-5)), 2, 2),
    ):
        out = block()
        grads = torch.autograd.grad(out, (h, w, b), grad_out, create_graph=True)
        second = torch.autograd.grad(sum((gr * gr).sum() for gr in grads), (h, w, b))
        results.append((out.detach(), *(gr.detach() for gr in grads), *second))
    for ours, theirs in zip(*results):
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(
    ("channels", "stride", "affine", "bias"),
    [(1, 1, True, True), (1, 2, True, True), (3, 1, False, False), (3, 2, True, False)],
    ids=["omniglot-max", "omniglot-stride", "rgb-plain", "rgb-stride"],
)
def test_input_convolution_normalised_by_patch_moments_is_conv_then_batch_norm(
    channels, stride, affine, bias
):
    """The first block as one rescaled convolution (`input_conv_norm`) must be the
    convolution followed by batch-statistics BatchNorm in value and in first and second
    derivatives, for every task of a fold, or second-order MAML would change."""
    from workbench.algorithms.folded import input_conv_norm

    tasks, c_out = 3, 4
    conv = torch.nn.Conv2d(channels, c_out, 3, stride=stride, padding=1, bias=bias)
    norm = torch.nn.BatchNorm2d(c_out, affine=affine)
    g = torch.Generator().manual_seed(5)
    x = torch.rand(6, tasks * channels, 11, 11, generator=g, dtype=torch.float64)
    params = {"body.0.weight": torch.randn(tasks * c_out, channels, 3, 3, generator=g)}
    if bias:
        params["body.0.bias"] = torch.randn(tasks * c_out, generator=g)
    if affine:
        params["body.1.weight"] = torch.rand(tasks * c_out, generator=g) + 0.5
        params["body.1.bias"] = torch.randn(tasks * c_out, generator=g)
    params = {k: v.double().requires_grad_() for k, v in params.items()}
    probe = torch.randn(
        6,
        tasks * c_out,
        11 // stride + 11 % stride,
        11 // stride + 11 % stride,
        generator=g,
        dtype=torch.float64,
    )

    def reference(p):
        h = torch.nn.functional.conv2d(
            x, p["body.0.weight"], p.get("body.0.bias"), stride=stride, padding=1, groups=tasks
        )
        return torch.nn.functional.batch_norm(
            h, None, None, p.get("body.1.weight"), p.get("body.1.bias"), training=True
        )

    results = []
    for f in (reference, lambda p: input_conv_norm(x, conv, norm, p, "body.0.", "body.1.", tasks)):
        out = f(params)
        loss = (torch.sin(out) * probe).sum()  # not linear in the output: second order is not 0
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        twice = torch.autograd.grad(sum((gr * gr).sum() for gr in grads), list(params.values()))
        results.append((out.detach(), *[gr.detach() for gr in grads], *twice))
    assert results[0][0].shape == results[1][0].shape
    for ours, theirs in zip(results[1], results[0], strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("offset", [0.0, 10.0])
def test_input_convolution_normalisation_is_as_precise_as_the_fused_kernel_in_float32(offset):
    """Statistics from the patch moments must keep float32 precision, even on images far
    from zero mean: within 5e-5 (normalised units) of float64, the bound the written-out
    BatchNorm is held to (the fused kernel here: 3e-6; this form 1.5e-5 at offset 10, where
    the rescaled convolution's output and its shift cancel)."""
    from workbench.algorithms.folded import input_conv_norm

    conv, norm = torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.BatchNorm2d(64)
    g = torch.Generator().manual_seed(6)
    x = torch.rand(20, 1, 28, 28, generator=g) + offset
    params = {"body.0.weight": conv.weight.detach(), "body.0.bias": conv.bias.detach()}
    expected = torch.nn.functional.batch_norm(
        torch.nn.functional.conv2d(x.double(), params["body.0.weight"].double(), None, padding=1),
        None,
        None,
        training=True,
    )
    ours = input_conv_norm(x, conv, norm, params, "body.0.", "body.1.", 1)
    assert (ours.double() - expected).abs().max().item() < 5e-5
