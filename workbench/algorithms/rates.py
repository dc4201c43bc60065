"""Learned inner-loop step sizes, each a module whose ``rate(name, step)`` is an `LrFn`.

- `PerElementLearningRates` (Meta-SGD, Li et al. 2017): one learned rate per parameter element.
- `PerStepLearningRates` (MAML++ LSLR, Antoniou et al. 2019): one learned scalar per parameter
  tensor and inner step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn


def dotless(name: str) -> str:
    """A parameter or module name as a ParameterDict key (which may not contain dots)."""
    return name.replace(".", "__")


class PerElementLearningRates(nn.ParameterDict):
    """Meta-SGD: a tensor of rates shaped like each adapted parameter, all starting at
    ``init``. Keyed by `dotless` names, so its state dict is that of a plain ParameterDict."""

    def __init__(self, params: Mapping[str, torch.Tensor], keys: Iterable[str], init: float):
        super().__init__(
            {dotless(k): nn.Parameter(torch.full_like(params[k].detach(), init)) for k in keys}
        )

    def rate(self, name: str, step: int) -> torch.Tensor:
        return self[dotless(name)]


class PerStepLearningRates(nn.Module):
    """LSLR: ``rate(name, step)`` is a learned scalar per parameter tensor and inner step.

    Steps beyond those trained (longer adaptation at test time) reuse the last step's rate.
    """

    def __init__(self, names: Iterable[str], steps: int, init: float) -> None:
        super().__init__()
        self.steps = steps
        self.rates = nn.ParameterDict(
            {dotless(n): nn.Parameter(torch.full((steps,), float(init))) for n in names}
        )

    def rate(self, name: str, step: int) -> torch.Tensor:
        return self.rates[dotless(name)][min(step, self.steps - 1)]


LearnedRates = PerElementLearningRates | PerStepLearningRates
