"""The one functional inner loop of the gradient-based family.

Parameters are a dict ``{name: tensor}``; the model is called with
``torch.func.functional_call``; an inner step is ``fast = {k: p - lr[k] * g}`` with
``g = torch.autograd.grad(loss, ..., create_graph=second_order)``. With ``create_graph`` the
update stays in the autograd graph, so the meta-gradient flows through it (second-order MAML);
without it the gradients are constants and the meta-gradient is the first-order approximation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

Params = dict[str, torch.Tensor]
#: the step size of parameter ``name`` at inner step ``step``: a float, a 0-d tensor (LSLR) or a
#: tensor shaped like the parameter (Meta-SGD)
LrFn = Callable[[str, int], "float | torch.Tensor"]


def inner_update(
    params: Mapping[str, torch.Tensor], grads: Mapping[str, torch.Tensor], lr: LrFn, step: int
) -> Params:
    """``params`` with every key of ``grads`` moved one gradient step: ``p - lr(k, step) * g``."""
    out = dict(params)
    for name, grad in grads.items():
        out[name] = params[name] - lr(name, step) * grad
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
    return inner_update(params, dict(zip(keys, grads)), lr, step)


def constant_lr(value: float) -> LrFn:
    return lambda name, step: value
