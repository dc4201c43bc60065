"""The task-folded inner loop: the tasks of a meta-batch as one conv4 with grouped convolutions.

Each task of a meta-batch runs the same network with its own fast weights. Stack the tasks'
images along the channel axis, ``[T, N, C, H, W] -> [N, T*C, H, W]``, and every layer of conv4
has an exact task-folded twin: a convolution with ``groups=T`` whose weight is the tasks' fast
weights stacked, ``[T*C_out, C_in, 3, 3]``; a BatchNorm over ``T*C`` channels, whose statistics
over the batch and the image are then exactly each task's own (the statistics of each task's
batch, as ``model.batchnorm = "batch"`` asks); ReLU and max-pooling per channel; and the head
as one batched matrix product. At the start of the inner loop every task's weights are the
meta-parameters, stacked (``repeat``); the inner gradient of the sum of the tasks' support
losses with respect to the stacked weights is each task's own gradient, so one
``torch.autograd.grad`` adapts every task, and ``create_graph`` keeps the second-order terms.

Why not `torch.func.vmap` (`workbench.algorithms.batched`)? It arrives at the same grouped
convolutions, but pays for its generality: BatchNorm must be written out (its fused kernel's
batching rule gives wrong second-order gradients), layouts are copied back and forth between
the task axis and the channel axis, and max-pooling's batching rule is slow. Measured on 2 CPU
cores (process time per meta-step, 5-way 1-shot, meta-batch 32, second order): strided network
0.33 s with vmap, 0.26 s folded; max-pool network 1.03 s with vmap, 0.73 s folded; first order
0.21 -> 0.14 s and 0.83 -> 0.38 s.

Chunks. A CPU is fastest when a layer's input and output stay in its caches, so the tasks are
folded a few at a time (`tasks_per_fold`: the largest activation of a chunk within
`WORKING_SET_BYTES`, 8 MiB on the CPU; where fewer than 4 tasks fit, one task per fold), one
``backward()`` per chunk, the gradients adding up to the meta-gradient of the mean meta-loss. On
a GPU the budget is large and a chunk is the meta-batch. Measured (second order, process time
per meta-step, 2 cores): 5-way max-pool 0.93 s with one task per fold, 0.73 s with 8; 20-way
max-pool 1.45 s with one, 1.8 s with 2.

What folds: conv4 (max-pool or strided) whose BatchNorm uses batch statistics, with the
algorithms whose head starts as it is (MAML, first-order MAML, Meta-SGD, ANIL, MAML++ without
per-step running statistics). Proto-MAML's head is computed from each task's features, a model
with running BatchNorm statistics updates them task by task, and the MLP is not a conv4: those
use the vmap path or the per-task loop (`unsupported_reason` says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from workbench.algorithms.batched import largest_activation
from workbench.algorithms.inner_loop import LrFn, Params, inner_update
from workbench.algorithms.policies import GradientPolicy, HeadAsIs
from workbench.data.episodes import EpisodeBatch
from workbench.models.backbones import Conv4, GlobalMean

if TYPE_CHECKING:
    from workbench.algorithms.gradient import GradientLearner

#: bytes the largest activation of one fold of tasks may take, per device type
WORKING_SET_BYTES = {"cpu": 8 * 2**20, "cuda": 256 * 2**20}
#: fewer tasks than this per fold run one task per fold: measured on the CPU, a convolution
#: with 2 or 3 large groups was slower than the same work as separate plain convolutions
MIN_TASKS_PER_FOLD = {"cpu": 4, "cuda": 2}
DEFAULT_WORKING_SET_BYTES = 256 * 2**20
_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, GlobalMean, nn.Flatten)


def unsupported_reason(model: nn.Module, policy: GradientPolicy) -> str | None:
    """Why the tasks of ``model`` under ``policy`` cannot be folded (None when they can)."""
    if not isinstance(model, Conv4):
        return f"only conv4 folds tasks into channels, not {type(model).__name__}"
    for layer in model.body:
        if not isinstance(layer, _LAYERS):
            return f"conv4 layer {type(layer).__name__} has no task-folded twin"
        if isinstance(layer, nn.BatchNorm2d) and layer.track_running_stats:
            return "BatchNorm keeps running statistics (model.batchnorm = running)"
    if not isinstance(policy.head, HeadAsIs):
        return f"the head starts per task ({type(policy.head).__name__})"
    return None


def fold_tensor(name: str, value: torch.Tensor, tasks: int) -> torch.Tensor:
    """``tasks`` copies of one parameter-shaped tensor as the folded network reads them: the
    head's along a new leading axis, the body's stacked along its first axis."""
    if name.startswith("head."):
        return value.expand(tasks, *value.shape)
    return value.repeat(tasks, *([1] * (value.dim() - 1)))


def fold(params: Params, tasks: int) -> Params:
    """Every task's copy of ``params`` (see `fold_tensor`); differentiable, so the gradients of
    the copies add up on the originals."""
    return {k: fold_tensor(k, v, tasks) for k, v in params.items()}


def folded_rate(lr: LrFn, tasks: int) -> LrFn:
    """``lr`` for folded parameters: a rate per element (Meta-SGD) is folded like its parameter;
    a number or a 0-d tensor (LSLR) serves every task as it is."""

    def rate(name: str, step: int) -> float | torch.Tensor:
        r = lr(name, step)
        return fold_tensor(name, r, tasks) if isinstance(r, torch.Tensor) and r.dim() else r

    return rate


def fold_images(x: torch.Tensor) -> torch.Tensor:
    """``[T, N, C, H, W] -> [N, T*C, H, W]``: task ``t``'s channels are ``t*C .. t*C + C-1``."""
    t, n, c, h, w = x.shape
    return x.transpose(0, 1).reshape(n, t * c, h, w)


Window = int | tuple[int, ...]


def _pair(size: Window) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[-1])


def max_pool(h: torch.Tensor, kernel_size: Window, stride: Window) -> torch.Tensor:
    """``F.max_pool2d(h, kernel_size, stride)`` with the same values and the same gradients
    (each window's first maximum), computed faster on the CPU: PyTorch's pooling kernel is
    several times faster on channels-last memory (20 x 64 x 28 x 28 on one thread: 4.1 ms
    contiguous, 0.7 ms with the copy to channels-last), while its backward and double backward
    are faster on contiguous memory. So the window maxima are found channels-last, without
    autograd (`_window_maxima`), and the output is a ``gather`` of ``h`` at them, whose
    backward is a scatter and double backward a gather: forward, backward and double backward
    measured 2.3 ms against 8.8 ms."""
    if h.device.type != "cpu":
        return F.max_pool2d(h, kernel_size, stride)
    return _gather(h, _window_maxima(h, None, kernel_size, stride))


def _window_maxima(
    h: torch.Tensor, sign: torch.Tensor | None, kernel_size: Window, stride: Window
) -> torch.Tensor:
    """Where each pooling window of ``h * sign`` (per channel; ``None``: ``h``) has its first
    maximum, as flat positions in each image plane (the same in either memory layout), found
    on a channels-last copy and without autograd."""
    with torch.no_grad():
        ordered = torch.empty_like(h, memory_format=torch.channels_last)
        if sign is None:
            ordered.copy_(h)
        else:
            torch.mul(h, sign, out=ordered)
        _, where = F.max_pool2d_with_indices(ordered, _pair(kernel_size), _pair(stride))
    return where.contiguous()


def _gather(h: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The values of ``h`` at the flat positions ``where`` of each image plane."""
    return h.flatten(2).gather(2, where.flatten(2)).view(where.shape)


def _pool_after_relu(layers: list[nn.Module], i: int) -> nn.MaxPool2d | None:
    """The max-pool of ``layers[i + 2]`` when ``layers[i + 1]`` is a ReLU, else None."""
    if i + 2 < len(layers) and isinstance(layers[i + 1], nn.ReLU):
        pool = layers[i + 2]
        return pool if isinstance(pool, nn.MaxPool2d) else None
    return None


def _batch_statistics(
    h: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch normalisation of ``h`` as the per-channel affine map ``h * scale + shift``:
    ``scale = weight / sqrt(var + eps)`` and ``shift = bias - mean * scale``, with the mean
    and variance over the batch and the image, written out for second-order autograd.

    Every full-size operation is recorded three times in second-order MAML (forward, backward
    with graph, double backward), so the mean is a sum (whose gradient is a free broadcast,
    where ``mean()``'s backward divides a full-size map) and the normalised map is one product
    and one sum rather than a centring, a product and a sum. The variance is the second moment
    about the mean held constant, ``E[(h - m)^2] - (mean - m)^2`` with ``m = mean.detach()``:
    the centred formula's precision (the raw moments ``E[h^2] - E[h]^2`` lose it as
    ``(mean / std)^2 * 1e-7`` in float32: 1% at mean/std = 100) and exact first and second
    derivatives (the second term is zero, its derivatives are not). Measured against the
    previous centred form (``h - mean``, ``mean()``): 0.89-0.95x the time of a second-order
    meta-step on either network; the raw moments were 3% faster still."""
    dims = (0, 2, 3)
    n = h.numel() // h.shape[1]
    mean = h.sum(dims, keepdim=True) * (1.0 / n)
    held = mean.detach()
    about = h - held
    off = mean - held
    var = (about * about).sum(dims, keepdim=True) * (1.0 / n) - off * off
    return _normalising_map(mean, var, weight, bias, eps)


def _normalising_map(
    mean: torch.Tensor,
    var: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BatchNorm with batch moments ``mean`` and ``var`` as ``h * scale + shift``
    (``weight`` and ``bias``, one per channel, take the moments' shape)."""
    scale = torch.rsqrt(var + eps)
    if weight is not None:
        scale = scale * weight.view_as(scale)
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias.view_as(shift)
    return scale, shift


def norm_relu_pool(
    h: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
    kernel_size: Window,
    stride: Window,
) -> torch.Tensor:
    """``max_pool(relu(batch_norm(h)))`` with batch statistics, computed on the pooled map.

    Batch normalisation is, per channel, ``h * scale + shift``; ReLU is monotone; so the
    maximum of a window after both is taken at the window's maximum of ``h * sign(scale)``, and
    the block's output is ``relu(picked * scale + shift)`` for the picked values of ``h``. Only
    the statistics read the full map; the affine map, the ReLU and everything autograd records
    for them (three times over in second-order MAML) work on a quarter of it. Same values up to
    rounding, and the same gradients (each window's first maximum), as the three layers.
    Measured in second order (pairs alternating, one thread): 20-way 1-shot 0.90x the time of
    the three layers, 5-way 0.98x; in first order, where the fused kernel normalises, it was
    slower (1.03-1.08x), so first order keeps the layers.
    """
    scale, shift = _batch_statistics(h, weight, bias, eps)
    picked = _gather(h, _window_maxima(h, scale.sign(), kernel_size, stride))
    return F.relu(picked * scale + shift)


def batch_norm(
    h: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> torch.Tensor:
    """Batch normalisation with batch statistics, written out (`_batch_statistics`). The same
    function as ``F.batch_norm(training=True)``, but its double backward (second-order MAML) is
    a few cheap ops where the fused kernel's is a long chain of full-size products: 5-way
    1-shot, max-pool network, second order, measured about a quarter less time per meta-step.
    First order keeps the fused kernel."""
    scale, shift = _batch_statistics(h, weight, bias, eps)
    return h * scale + shift


def _patch_moments(
    x: torch.Tensor, conv: nn.Conv2d, tasks: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each task's mean patch ``[T, k]`` and patch covariance ``[T, k, k]`` of the images
    ``x`` as ``conv`` reads them (``k = C_in * kh * kw``, padding included), over the batch
    and every output position: the moments that decide the batch statistics of ``conv(x)``."""
    padding = conv.padding
    assert not isinstance(padding, str)  # `_input_block` lets only numbers through
    patches = F.unfold(x, conv.kernel_size, conv.dilation, padding, conv.stride)  # [N, T*k, L]
    n, _, positions = patches.shape
    patches = (
        patches.view(n, tasks, -1, positions).permute(1, 2, 0, 3).reshape(tasks, -1, n * positions)
    )
    mean = patches.mean(-1)
    centred = patches - mean.unsqueeze(-1)
    return mean, torch.bmm(centred, centred.transpose(1, 2)) / (n * positions)


def _input_block(layers: list[nn.Module]) -> tuple[nn.Conv2d, nn.BatchNorm2d] | None:
    """The network's first convolution and BatchNorm when `input_conv_norm` can fuse them."""
    if len(layers) < 2:
        return None
    conv, norm = layers[0], layers[1]
    if (
        isinstance(conv, nn.Conv2d)
        and conv.groups == 1
        and not isinstance(conv.padding, str)
        and isinstance(norm, nn.BatchNorm2d)
    ):
        return conv, norm
    return None


def input_conv_norm(
    x: torch.Tensor,
    conv: nn.Conv2d,
    norm: nn.BatchNorm2d,
    params: Params,
    conv_key: str,
    norm_key: str,
    tasks: int,
) -> torch.Tensor:
    """``batch_norm(conv(x))`` with batch statistics, for a convolution whose input ``x`` is
    the images (no gradient flows into them), as one convolution with rescaled weights.

    The images are constant, so each output channel's batch mean and variance are
    ``w . mu`` (+ bias) and ``w^T Sigma w`` for its weight ``w`` and the mean patch ``mu`` and
    patch covariance ``Sigma`` of the images (`_patch_moments`, no autograd), and the
    normalisation ``(conv(x) - mean) * scale + beta`` is ``conv(x; w * scale) + beta - scale *
    (w . mu)`` (the convolution's bias cancels; it stays in the graph, on both sides, so that
    its gradient is zero rather than absent). Nothing autograd records for the statistics or
    the affine map touches the feature map, in any order of differentiation, and the first
    layer's map is the network's largest (64 x 28 x 28 per Omniglot image). Measured against
    normalising the map (pairs alternating, one thread, the eight configurations of
    ``benchmarks/versus_learn2learn.py speed``): 0.83-0.93x the time of a meta-step.
    """
    weight = params[conv_key + "weight"]  # [T * C_out, C_in, kh, kw], task by task
    c_out = weight.shape[0] // tasks
    with torch.no_grad():
        mu, sigma = _patch_moments(x, conv, tasks)
    w = weight.reshape(tasks, c_out, -1)  # [T, C, k]
    mean = torch.einsum("tck,tk->tc", w, mu).reshape(-1)
    var = torch.einsum("tck,tkj,tcj->tc", w, sigma, w).reshape(-1)
    bias = params.get(conv_key + "bias")
    if bias is not None:  # the mean of conv(x) holds its bias ...
        mean = mean + bias
    scale, shift = _normalising_map(
        mean, var, params.get(norm_key + "weight"), params.get(norm_key + "bias"), norm.eps
    )
    if bias is not None:  # ... and conv(x; w * scale) below leaves it out
        shift = shift + bias * scale
    return F.conv2d(
        x,
        weight * scale.view(-1, 1, 1, 1),
        shift,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=tasks,
    )


def folded_forward(
    model: Conv4, params: Params, x: torch.Tensor, tasks: int, *, fused_norm: bool = True
) -> torch.Tensor:
    """Logits ``[N, T, ways]`` of conv4 on folded images ``x`` with folded ``params``;
    ``fused_norm=False`` normalises with `batch_norm`, and pools before normalising where a
    max-pool follows (`norm_relu_pool`), for second-order differentiation."""
    h = x
    layers = list(model.body)
    i = 0
    while i < len(layers):
        layer, key = layers[i], f"body.{i}."
        block = _input_block(layers) if i == 0 and not x.requires_grad else None
        if block is not None:
            h = input_conv_norm(x, *block, params, key, "body.1.", tasks)
            pool = _pool_after_relu(layers, 1)
            if pool is not None:  # ReLU is monotone: pool first, on a quarter of the map
                h = F.relu(max_pool(h, pool.kernel_size, pool.stride))
            i = 4 if pool is not None else 2
            continue
        norm = layer if isinstance(layer, nn.BatchNorm2d) and not fused_norm else None
        pool = _pool_after_relu(layers, i) if norm is not None else None
        if norm is not None and pool is not None:  # BatchNorm, ReLU and MaxPool in one
            w, b = params.get(key + "weight"), params.get(key + "bias")
            h = norm_relu_pool(h, w, b, norm.eps, pool.kernel_size, pool.stride)
            i += 3
            continue
        if isinstance(layer, nn.Conv2d):
            h = F.conv2d(
                h,
                params[key + "weight"],
                params.get(key + "bias"),
                stride=layer.stride,
                padding=layer.padding,
                groups=tasks,
            )
        elif isinstance(layer, nn.BatchNorm2d):
            w, b = params.get(key + "weight"), params.get(key + "bias")
            if fused_norm:
                h = F.batch_norm(h, None, None, w, b, training=True, eps=layer.eps)
            else:
                h = batch_norm(h, w, b, layer.eps)
        elif isinstance(layer, nn.ReLU):
            h = F.relu(h)
        elif isinstance(layer, nn.MaxPool2d):
            h = max_pool(h, layer.kernel_size, layer.stride)
        elif isinstance(layer, GlobalMean):
            h = h.mean((-2, -1))
        else:  # Flatten: each task's [C, s, s] block in the order the unfolded model reads it
            h = h.flatten(1)
        i += 1
    features = h.reshape(h.shape[0], tasks, -1)
    weight, bias = params["head.weight"], params["head.bias"]  # [T, ways, F], [T, ways]
    return torch.einsum("ntf,tkf->ntk", features, weight) + bias


def task_losses(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sum over tasks of each task's mean cross-entropy; ``out [N, T, K]``, ``y [T, N]``."""
    n, _, k = out.shape
    return F.cross_entropy(out.reshape(-1, k), y.t().reshape(-1), reduction="sum") / n


def task_accuracies(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sum over tasks of each task's fraction correct (a 0-d tensor; each fraction in
    float32 as `Learner.correct` computes it, the sum in the logits' type)."""
    return (out.argmax(-1) == y.t()).float().mean(0).to(out.dtype).sum()


def tasks_per_fold(net: nn.Module, batch: EpisodeBatch) -> int:
    """How many tasks of ``batch`` to fold at once: as many as keep the largest activation of
    the fold (the support or the query set, whichever is larger) within the device's working
    set, or one where fewer than `MIN_TASKS_PER_FOLD` fit. ``net`` is a meta-device twin of the
    model (shapes only)."""
    device = batch.support_x.device.type
    examples = max(batch.support_x.shape[1], batch.query_x.shape[1])
    per_task = (
        largest_activation(net, tuple(batch.support_x.shape[2:]))
        * examples
        * batch.support_x.element_size()
    )
    budget = WORKING_SET_BYTES.get(device, DEFAULT_WORKING_SET_BYTES)
    chunk = max(1, min(len(batch), budget // max(1, per_task)))
    if chunk < min(len(batch), MIN_TASKS_PER_FOLD.get(device, 2)):
        chunk = 1
    calls = -(-len(batch) // chunk)
    return -(-len(batch) // calls)  # even chunks: 8 tasks with room for 5 run as 4 + 4


def fold_loss(
    learner: GradientLearner, batch: EpisodeBatch, iteration: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed meta-loss of the tasks of ``batch``, folded, and their summed query figures
    after adaptation ``[loss, acc]``: MAML's inner loop as `GradientLearner.task_loss` runs it
    for one task, for all of them at once."""
    tasks = len(batch)
    model = learner.model
    assert isinstance(model, Conv4)
    xs, xq = fold_images(batch.support_x), fold_images(batch.query_x)
    lr = folded_rate(learner._lr_fn(), tasks)
    fast = fold(dict(model.named_parameters()), tasks)

    def at(params: Params, step: int) -> Params:
        if learner.step_bn is None:
            return params
        return {**params, **fold(learner.step_bn.at_step(step)[0], tasks)}

    create_graph = learner.second_order_at(iteration)

    def forward(params: Params, x: torch.Tensor) -> torch.Tensor:
        return folded_forward(model, params, x, tasks, fused_norm=not create_graph)

    weights = learner.policy.query_loss_weights(learner.steps, iteration)
    meta_loss = xs.new_zeros(())
    query_out: torch.Tensor | None = None
    for step in range(learner.steps):
        loss = task_losses(forward(at(fast, step), xs), batch.support_y)
        keys = learner.adapt_keys
        grads = torch.autograd.grad(loss, [fast[k] for k in keys], create_graph=create_graph)
        fast = inner_update(fast, dict(zip(keys, grads, strict=True)), lr, step)
        if weights is not None or step == learner.steps - 1:
            query_out = forward(at(fast, step), xq)
            step_loss = task_losses(query_out, batch.query_y)
            meta_loss = meta_loss + (step_loss if weights is None else weights[step] * step_loss)
    assert query_out is not None  # inner_steps >= 1
    return meta_loss, figures(query_out.detach(), batch.query_y)


def figures(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Summed ``[loss, accuracy]`` of the tasks of a folded output."""
    return torch.stack([task_losses(out, y), task_accuracies(out, y)]).detach()


def figures_before(learner: GradientLearner, batch: EpisodeBatch) -> torch.Tensor:
    """Summed query figures ``[loss, acc]`` of the tasks of ``batch`` at the meta-parameters,
    before adaptation: one folded forward (`GradientLearner.figures_before` calls it)."""
    tasks, model = len(batch), learner.model
    assert isinstance(model, Conv4)
    params = fold(dict(model.named_parameters()), tasks)
    if learner.step_bn is not None:
        params.update(fold(learner.step_bn.at_step(0)[0], tasks))
    out = folded_forward(model, params, fold_images(batch.query_x), tasks)
    return figures(out, batch.query_y)


def folded_meta_gradient(
    learner: GradientLearner, batch: EpisodeBatch, iteration: int, chunk: int
) -> torch.Tensor:
    """Accumulate the meta-gradient of the mean meta-loss over ``batch`` into the ``.grad`` of
    the meta-parameters, ``chunk`` tasks per fold; returns the mean figures after adaptation."""
    totals: torch.Tensor | None = None
    for start in range(0, len(batch), chunk):
        loss, sums = fold_loss(learner, batch.select(slice(start, start + chunk)), iteration)
        (loss / len(batch)).backward()
        totals = sums if totals is None else totals + sums
    if totals is None:
        raise ValueError("an empty meta-batch has no meta-gradient")
    return totals / len(batch)


__all__: Sequence[str] = (
    "WORKING_SET_BYTES",
    "fold",
    "fold_images",
    "figures_before",
    "fold_loss",
    "folded_forward",
    "folded_meta_gradient",
    "tasks_per_fold",
    "unsupported_reason",
)
