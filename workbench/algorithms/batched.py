"""The task-batched inner loop: the tasks of a meta-batch adapted together with torch.func.vmap.

The per-task loop runs ``T`` small forward/backward passes one after the other and pays Python
and kernel-launch overhead on each. The tasks are independent, so the same inner loop can be
written as one pure function of one task, a `TaskLossFn`
``task_loss(support_x, support_y, query_x, query_y) -> (meta-loss, figures)``, and mapped over
the task axis with `torch.func.vmap`: every layer then runs once for many tasks (a convolution
with per-task fast weights becomes one grouped convolution inside vmap), and their meta-loss is
differentiated with one ``backward()``. This module knows nothing of the algorithm: the caller
hands it the task-loss function (`GradientLearner.functional_task_loss`).

Inside that function, inner gradients come from `torch.func.grad`
(`workbench.algorithms.inner_loop.functional_gradient_step`). Its result stays differentiable,
for the ordinary autograd outside the transforms, with respect to everything it was computed
from, so ``backward()`` differentiates through the inner step: second-order MAML, the same as
``torch.autograd.grad(create_graph=True)`` in the per-task loop; first order takes it under
``torch.no_grad()``, as ``create_graph=False`` does.

Chunks. Mapping over *all* tasks at once is what a GPU wants, but on a CPU it makes every
activation ``T`` times larger than the cache and the elementwise work memory-bound: measured on
2 cores with a 32 MiB L3, 5-way 1-shot episodes with 15 queries ran 2x *slower* batched over 32
tasks than task by task, and needed 5x the memory. So the meta-batch is processed in chunks of
tasks, as many per chunk as keep the largest activation of a chunk within a working-set budget
(`WORKING_SET_BYTES`: 16 MiB on the CPU, 256 MiB on a GPU), with one ``backward()`` per chunk;
the gradients add up to the same meta-gradient, and memory no longer grows with the meta-batch.
Where fewer than `MIN_TASKS_PER_CALL` tasks fit (on the CPU, 4: vmap over one or two tasks
measured slower than the loop, from four on faster), the learner uses the per-task loop. On a
CPU the gain is modest (see ``benchmarks/meta_step.py``): vmap's batch rules turn per-task
weights into grouped convolutions and per-task BatchNorm weights into extra elementwise passes
and layout copies, which cost about what the saved per-task overhead gains.

One PyTorch pitfall is worked around here: under vmap, the batching rule of the fused
``batch_norm`` backward with a BatchNorm *weight* gives wrong second-order gradients for the
layers below the BatchNorm (first order is right; reported upstream as "layer_norm and
batch_norm backward batching rule is incorrect for grad_input", pytorch/functorch#534, and
reproduced here on torch 2.14). Second order, the batched path therefore calls a twin of the
model (`vmap_safe_twin`) whose BatchNorm layers normalise without weight and apply the scale
and shift as two separate ops: the same function, differentiated correctly. The twin lives on
the ``meta`` device; every parameter comes from the dict handed to ``functional_call``. First
order calls the model itself (its fused kernel is faster and its first derivative is right).

What cannot be batched: BatchNorm that keeps running statistics (``model.batchnorm =
"running"``, and MAML++ per-step statistics, BNRS) updates its buffers in place once per task;
vmap cannot batch that, and the order of the updates is part of the result. Such learners use
the per-task loop, and `unsupported_reason` says why.

Reference: Finn et al. 2017 (MAML); the torch.func "model ensembling" and "per-sample
gradients" tutorials show the same vmap/grad pattern.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import vmap

from workbench.data.episodes import EpisodeBatch

#: one task's meta-loss (0-d) and its detached figures ``[k]``, from its support and query
#: examples and labels; pure, so that `torch.func.vmap` can map it over tasks
TaskLossFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]
]

#: bytes the largest activation of one chunk of tasks may take, per device type
WORKING_SET_BYTES = {"cpu": 16 * 2**20, "cuda": 256 * 2**20}
DEFAULT_WORKING_SET_BYTES = 256 * 2**20
#: fewer tasks than this per vmapped call are not worth vmap's own overhead
MIN_TASKS_PER_CALL = {"cpu": 4, "cuda": 2}


def unsupported_reason(model: nn.Module) -> str | None:
    """Why the batched inner loop cannot serve ``model`` (None when it can)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            return (
                f"BatchNorm layer {name} keeps running statistics (model.batchnorm = "
                "running), whose in-place per-task updates vmap cannot batch"
            )
    return None


class BatchNormThenAffine(nn.Module):
    """``nn.BatchNorm*d(track_running_stats=False)`` as batch normalisation without weight,
    then ``* weight + bias``: the same function and parameter names, but its second-order
    gradients are right under vmap (see the module docstring)."""

    def __init__(self, source: nn.modules.batchnorm._BatchNorm) -> None:
        super().__init__()
        self.eps = source.eps
        self.weight = nn.Parameter(torch.empty_like(source.weight)) if source.affine else None
        self.bias = nn.Parameter(torch.empty_like(source.bias)) if source.affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Written out rather than F.batch_norm: under vmap the fused kernel needs the task axis
        # folded into the channel axis (layout copies), and its double backward is a long
        # chain of full-size broadcasts; mean/sub/mul/rsqrt reduce over each task's own axes
        # and differentiate twice through cheap ops. Profiled on 5-way 1-shot, 16 tasks per
        # call, second order: 1.66 s -> 1.03 s of CPU time per meta-step (the mul kernels
        # alone 596 -> 256 ms).
        dims = [0, *range(2, x.dim())]
        centred = x - x.mean(dims, keepdim=True)
        variance = (centred * centred).mean(dims, keepdim=True)
        y = centred * torch.rsqrt(variance + self.eps)
        if self.weight is None or self.bias is None:
            return y
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return y * self.weight.view(shape) + self.bias.view(shape)


def vmap_safe_twin(model: nn.Module) -> nn.Module:
    """A structural copy of ``model`` on the ``meta`` device (no memory, no stale weights)
    with every BatchNorm replaced by `BatchNormThenAffine`; call it with ``functional_call``."""
    reason = unsupported_reason(model)
    if reason is not None:
        raise ValueError(reason)
    twin = copy.deepcopy(model).to("meta")
    for module in list(twin.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, child_name, BatchNormThenAffine(child))
    return twin


def largest_activation(net: nn.Module, example_shape: Sequence[int]) -> int:
    """Elements of the largest output of any layer of ``net`` for one example, found by running
    ``net`` on the ``meta`` device (shapes only, no arithmetic, no memory)."""
    sizes: list[int] = []
    leaves = [m for m in net.modules() if not any(True for _ in m.children())]
    hooks = [m.register_forward_hook(lambda _m, _i, out: sizes.append(out.numel())) for m in leaves]
    try:
        with torch.no_grad():
            dtype = next(net.parameters()).dtype
            net(torch.empty((2, *example_shape), device="meta", dtype=dtype))
    finally:
        for h in hooks:
            h.remove()
    return max(sizes + [2]) // 2


def tasks_per_chunk(net: nn.Module, batch: EpisodeBatch) -> int:
    """How many tasks of ``batch`` to map over at once: as many as keep the largest activation
    of a chunk (support and query examples of each task) within the device's working set;
    1 (loop task by task) where fewer than the device's `MIN_TASKS_PER_CALL` would fit."""
    device = batch.support_x.device.type
    examples = batch.support_x.shape[1] + batch.query_x.shape[1]
    per_task = (
        largest_activation(net, tuple(batch.support_x.shape[2:]))
        * examples
        * batch.support_x.element_size()
    )
    budget = WORKING_SET_BYTES.get(device, DEFAULT_WORKING_SET_BYTES)
    chunk = min(len(batch), budget // max(1, per_task))
    if chunk < MIN_TASKS_PER_CALL.get(device, 2):
        return 1
    calls = -(-len(batch) // chunk)
    return -(-len(batch) // calls)  # even chunks: 8 tasks with room for 5 run as 4 + 4


def batched_task_losses(
    task_loss: TaskLossFn, batch: EpisodeBatch
) -> tuple[torch.Tensor, torch.Tensor]:
    """Meta-losses ``[T]`` of every task of ``batch`` and their figures ``[T, k]``, computed
    by ``task_loss`` mapped over the tasks in one vmapped call."""
    return vmap(task_loss)(batch.support_x, batch.support_y, batch.query_x, batch.query_y)


def batched_meta_gradient(task_loss: TaskLossFn, batch: EpisodeBatch, chunk: int) -> torch.Tensor:
    """Accumulate the meta-gradient of the mean meta-loss over ``batch`` into the ``.grad`` of
    whatever ``task_loss`` depends on, ``chunk`` tasks per vmapped call and backward (see
    `tasks_per_chunk`); returns the mean figures ``[k]``, still on the device."""
    tasks = len(batch)
    totals: torch.Tensor | None = None
    for start in range(0, tasks, chunk):
        part = slice(start, start + chunk)
        sub = EpisodeBatch(
            batch.support_x[part],
            batch.support_y[part],
            batch.query_x[part],
            batch.query_y[part],
            batch.episodes[part],
        )
        losses, figures = batched_task_losses(task_loss, sub)
        (losses.sum() / tasks).backward()
        summed = figures.sum(0)
        totals = summed if totals is None else totals + summed
    if totals is None:
        raise ValueError("an empty meta-batch has no meta-gradient")
    return totals / tasks
