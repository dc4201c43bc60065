"""The one functional inner loop of the gradient-based family.

Parameters are a dict ``{name: tensor}``; the model is called with
``torch.func.functional_call``; an inner step is ``fast = {k: p - lr[k] * g}``. The gradient
``g`` comes either from ``torch.autograd.grad(loss, ..., create_graph=second_order)``
(`gradient_step`, given a loss already computed) or from `torch.func.grad` of a loss function
(`functional_gradient_step`, which also runs inside `torch.func.vmap`). With ``create_graph`` the
update stays in the autograd graph, so the meta-gradient flows through it (second-order MAML);
without it the gradients are constants and the meta-gradient is the first-order approximation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch.func import grad

Params = dict[str, torch.Tensor]
#: the step size of parameter ``name`` at inner step ``step``: a float, a 0-d tensor (LSLR) or a
#: tensor shaped like the parameter (Meta-SGD)
LrFn = Callable[[str, int], "float | torch.Tensor"]
#: a loss as a function of the adapted parameters only (the others are closed over)
LossFn = Callable[[Params], torch.Tensor]


def inner_update(
    params: Mapping[str, torch.Tensor], grads: Mapping[str, torch.Tensor], lr: LrFn, step: int
) -> Params:
    """``params`` with every key of ``grads`` moved one gradient step: ``p - lr(k, step) * g``."""
    out = dict(params)
    for name, g in grads.items():
        out[name] = params[name] - lr(name, step) * g
    return out


def gradient_step(
    loss: torch.Tensor,
    params: Mapping[str, torch.Tensor],
    keys: Sequence[str],
    lr: LrFn,
    step: int,
    *,
    create_graph: bool,
) -> Params:
    """One inner step on ``loss`` for the parameters named in ``keys``."""
    grads = torch.autograd.grad(loss, [params[k] for k in keys], create_graph=create_graph)
    return inner_update(params, dict(zip(keys, grads, strict=True)), lr, step)


def functional_gradient_step(
    loss_fn: LossFn,
    params: Mapping[str, torch.Tensor],
    keys: Sequence[str],
    lr: LrFn,
    step: int,
    *,
    create_graph: bool,
) -> Params:
    """One inner step for the parameters named in ``keys``, safe inside `torch.func.vmap`.

    ``loss_fn`` takes the adapted parameters (a dict with exactly ``keys``); the others are
    read from ``params`` by the caller's closure. The result equals `gradient_step`'s with the
    same ``create_graph``. `torch.func.grad` keeps its result differentiable for the ordinary
    autograd outside the transform, which is second order; first order computes it under
    ``torch.no_grad()``: the transform still differentiates (it ignores an enclosing
    ``no_grad`` for its own work) but the outer autograd records nothing, so the gradients are
    constants. It also differentiates with respect to each fast weight on its own, where
    ``torch.autograd.grad`` would follow any path from one fast weight to another.
    """
    adapted = {k: params[k] for k in keys}
    if create_graph:
        grads = grad(loss_fn)(adapted)
    else:
        with torch.no_grad():
            grads = grad(loss_fn)(adapted)
    return inner_update(params, grads, lr, step)


def constant_lr(value: float) -> LrFn:
    return lambda name, step: value
