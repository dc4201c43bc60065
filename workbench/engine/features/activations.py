"""Each layer's activations of a set of images, before and after adapting to an episode.

A layer is one block of the backbone (Conv4: 3x3 conv, BatchNorm, ReLU, max-pool; MLP: linear,
BatchNorm, ReLU) and its output is what is captured: ``conv1``..``conv4`` or ``fc1``..``fc4``,
then ``head`` (the logits). The last body layer, flattened, is the penultimate-layer feature the
embedding view projects. Activations are read with forward hooks on the model's own modules
while the learner calls it through ``torch.func.functional_call`` with a given set of
parameters, so the very function the learner adapts and evaluates is the one measured (MAML++'s
per-step BatchNorm included).

The parameters come from `adapt`: the learner's starting point for the episode (its
meta-learned weights, with the head started as the algorithm starts it) and the parameters after
each inner step of the learner's own inner loop, which it reproduces step for step (the test
checks that its losses are the ones ``Learner.adapt`` reports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call

from workbench.algorithms import AdaptationTrace, Learner
from workbench.algorithms.gradient import GradientLearner
from workbench.algorithms.inner_loop import LrFn, Params, constant_lr, gradient_step
from workbench.algorithms.protonet import ProtoNetLearner
from workbench.algorithms.prototypes import prototype_logits, prototypes
from workbench.data.episodes import Episode

HEAD = "head"


def layer_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of each layer whose output is captured, input to output.

    A body block starts at each conv or linear module and ends at the last module before the
    next one (its ReLU or pool); the head comes last.
    """
    body = getattr(model, "body", None)
    if not isinstance(body, nn.Sequential):
        raise TypeError(f"{type(model).__name__} has no body to read layers from")
    blocks: list[list[nn.Module]] = []
    for module in body:
        if isinstance(module, nn.Conv2d | nn.Linear):
            blocks.append([module])
        elif blocks and not isinstance(module, nn.Flatten):
            blocks[-1].append(module)
    prefix = "conv" if isinstance(blocks[0][0], nn.Conv2d) else "fc"
    out: list[tuple[str, nn.Module]] = [(f"{prefix}{i + 1}", b[-1]) for i, b in enumerate(blocks)]
    head = model.head
    assert isinstance(head, nn.Module)
    return out + [(HEAD, head)]


def uses_head(learner: Learner) -> bool:
    """Whether the model's linear head classifies (ProtoNet classifies by prototypes instead,
    and its head is never trained)."""
    return not isinstance(learner, ProtoNetLearner)


def layer_names(learner: Learner) -> list[str]:
    """The captured layers of ``learner``'s model, input to output."""
    names = [name for name, _ in layer_modules(learner.model)]
    return names if uses_head(learner) else names[:-1]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Evaluation mode, as ``Learner.adapt`` uses it, restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def forward_function(learner: Learner) -> Callable[[Params, torch.Tensor, int], torch.Tensor]:
    """``f(params, x, step)``: the model as the learner calls it (MAML++ selects its per-step
    BatchNorm by ``step``; other learners ignore it)."""
    if isinstance(learner, GradientLearner):
        return lambda params, x, step: learner.forward(params, x, step)
    return lambda params, x, step: functional_call(learner.model, params, (x,))


def class_scores(
    learner: Learner, params: Params, step: int = 0, episode: Episode | None = None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``scores(x) -> [N, ways]``: the class scores the learner classifies ``x`` by under
    ``params``: the head's logits, or for ProtoNet ``-|f(x) - c_j|^2`` with the prototypes
    ``c_j`` of ``episode``'s support set."""
    call = forward_function(learner)
    if uses_head(learner):
        return lambda x: call(params, x, step)
    if episode is None:
        raise ValueError(f"{learner.name} scores classes by the prototypes of an episode")
    e = learner.prepare(episode)

    def features(x: torch.Tensor) -> torch.Tensor:
        return functional_call(learner.model, params, (x,), {"features_only": True})

    with torch.no_grad(), eval_mode(learner.model):
        protos = prototypes(features(e.support_x), e.support_y, e.ways)
    return lambda x: prototype_logits(features(x), protos)


def capture(
    learner: Learner, params: Params, images: torch.Tensor, step: int = 0
) -> dict[str, torch.Tensor]:
    """Every layer's output for ``images`` (one batch) under ``params``, on the CPU, in layer
    order; the head's output is left out for learners that do not classify with it."""
    wanted = dict(layer_modules(learner.model))
    if not uses_head(learner):
        wanted.pop(HEAD)
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        module.register_forward_hook(
            lambda _m, _inp, out, name=name: seen.__setitem__(name, out.detach().cpu())
        )
        for name, module in wanted.items()
    ]
    x = images.to(learner.device, next(learner.model.parameters()).dtype)
    try:
        with torch.no_grad(), eval_mode(learner.model):
            forward_function(learner)(params, x, step)
    finally:
        for hook in hooks:
            hook.remove()
    if HEAD in wanted and HEAD not in seen:  # a model that skipped its head
        raise RuntimeError("the head was not called")
    return {name: seen[name] for name in wanted if name in seen}


def penultimate(activations: dict[str, torch.Tensor]) -> torch.Tensor:
    """The last body layer's output, flattened to ``[N, D]``: the embedding's features."""
    body = [name for name in activations if name != HEAD]
    return activations[body[-1]].flatten(1)


@dataclass
class Adapted:
    """The parameters at inner steps 0..S of adapting to one episode (``params[0]``: the
    starting point), and, when asked for, the learner's own `AdaptationTrace` of the same steps."""

    params: list[Params]
    trace: AdaptationTrace | None = None
    steps_taken: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def before(self) -> Params:
        return self.params[0]

    @property
    def after(self) -> Params:
        return self.params[-1]

    @property
    def forward_step(self) -> int:
        """The ``step`` argument the adapted model is called with (as ``Learner.adapt`` does)."""
        return max(0, self.steps_taken - 1)


def _lr_function(learner: GradientLearner, inner_lr: float | None) -> LrFn:
    """The inner learning rate ``Learner.adapt`` uses: the override, else the learned
    per-parameter rates (Meta-SGD, MAML++), else ``algorithm.inner_lr``."""
    if inner_lr is not None or learner.learned_lr is None:
        return constant_lr(learner.inner_lr if inner_lr is None else inner_lr)
    return learner.learned_lr.rate


def _detached(params: Params) -> Params:
    return {k: v.detach() for k, v in params.items()}


def adapt(
    learner: Learner,
    episode: Episode,
    steps: int,
    inner_lr: float | None = None,
    *,
    with_trace: bool = False,
) -> Adapted:
    """The parameters at each of ``steps`` inner steps on ``episode``'s support set.

    Gradient-based learners (MAML, first-order MAML, ANIL, Meta-SGD, MAML++, Proto-MAML,
    Reptile, the fine-tuning baseline) take the steps of ``Learner.adapt``; ProtoNet changes no
    weight on an episode (its prototypes are the adaptation), so its parameters before and after
    are the same.
    """
    trace = learner.adapt(episode, steps, inner_lr) if with_trace else None
    if not isinstance(learner, GradientLearner):
        params = _detached(dict(learner.model.named_parameters()))
        note = f"{learner.name} changes no weight on an episode: before and after are equal"
        return Adapted([params], trace, 0, [note])
    e = learner.prepare(episode)
    lr = _lr_function(learner, inner_lr)
    keys = learner.adapt_keys
    with eval_mode(learner.model):
        with torch.no_grad():
            start = learner.initial_params(e.support_x, e.support_y, e.ways)
        fast = {k: v.detach().requires_grad_(k in keys) for k, v in start.items()}
        history = [_detached(fast)]
        for step in range(steps):
            with torch.enable_grad():
                loss = learner.loss(learner.forward(fast, e.support_x, step), e.support_y)
                fast = gradient_step(loss, fast, keys, lr, step, create_graph=False)
            fast = {k: v.detach().requires_grad_(k in keys) for k, v in fast.items()}
            history.append(_detached(fast))
    return Adapted(history, trace, steps)
