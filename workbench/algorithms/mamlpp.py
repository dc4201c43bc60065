"""The MAML++ pieces (Antoniou et al. 2019, "How to train your MAML"), each a small module.

- `PerStepBatchNorm` (BNWB/BNRS): a BatchNorm scale/shift and running statistics per step.
- `msl_weights` (MSL): how much each step's query loss counts, annealed to the last step.
Per-layer per-step learning rates (LSLR) are `workbench.algorithms.rates.PerStepLearningRates`;
derivative-order annealing (DA) is a switch of the MAML++ policy
(`workbench.algorithms.policies`) and cosine annealing (CA) one of the trainer.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.algorithms.rates import dotless


def batchnorm_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [
        (n, m) for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]


def batchnorm_names(model: nn.Module) -> list[str]:
    """Parameter names that belong to BatchNorm layers (e.g. ``body.1.weight``)."""
    return [f"{n}.{p}" for n, m in batchnorm_modules(model) for p, _ in m.named_parameters()]


class PerStepBatchNorm(nn.Module):
    """BNWB and BNRS: per-step copies of every BatchNorm layer's weights and/or statistics.

    ``at_step(s)`` gives the parameter overrides and buffers to hand to ``functional_call`` for
    inner step ``s`` (steps beyond those trained reuse the last).
    """

    def __init__(self, model: nn.Module, steps: int, *, weights: bool, statistics: bool) -> None:
        super().__init__()
        self.steps, self.weights, self.statistics = steps, weights, statistics
        self.params = nn.ParameterDict()
        for s in range(steps):
            for name, module in batchnorm_modules(model):
                if weights and module.affine:
                    for p, value in module.named_parameters():
                        self.params[f"s{s}__{dotless(name)}__{p}"] = nn.Parameter(
                            value.detach().clone()
                        )
                if statistics and module.track_running_stats:
                    for b, buffer in module.named_buffers():
                        self.register_buffer(f"s{s}__{dotless(name)}__{b}", buffer.detach().clone())

    def at_step(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        s = min(step, self.steps - 1)
        overrides: dict[str, torch.Tensor] = {}
        buffers: dict[str, torch.Tensor] = {}
        prefix = f"s{s}__"
        for key, value in self.params.items():
            if key.startswith(prefix):
                layer, p = key[len(prefix) :].rsplit("__", 1)
                overrides[f"{layer.replace('__', '.')}.{p}"] = value
        for key, value in self.named_buffers():
            if key.startswith(prefix):
                layer, b = key[len(prefix) :].rsplit("__", 1)
                buffers[f"{layer.replace('__', '.')}.{b}"] = value
        return overrides, buffers


def msl_weights(steps: int, iteration: int, anneal_iterations: int) -> list[float]:
    """Multi-step loss weights: equal at first, then the earlier steps decay to a floor and the
    last step takes the rest, over ``anneal_iterations`` (MAML++ section 4)."""
    if steps == 1:
        return [1.0]
    progress = min(1.0, iteration / max(1, anneal_iterations))
    floor = 0.03 / steps
    early = max(floor, (1.0 - progress) / steps)
    return [early] * (steps - 1) + [1.0 - early * (steps - 1)]
