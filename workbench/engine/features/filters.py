"""The first layer's weights as images: the classic picture of what a network learned.

Conv4: one small image per output channel and input channel, the 3x3 kernel itself. MLP: one
image per first-layer unit, its weights on the input pixels laid out as the input image (a 784
weight unit on 28x28 grayscale is a 28x28 picture). The images hold the exact weights; turning
them into grey levels is a separate display step (`normalise`), so exports and tests see the
numbers the network uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from workbench.algorithms.inner_loop import Params
from workbench.engine.features.activations import layer_modules

CONV = "conv"
DENSE = "dense"


@dataclass
class FilterBank:
    """``weights [units, in_channels, height, width]``: unit ``u``'s weights on input channel
    ``c`` as an image, exactly as in the model (``kind`` is ``conv`` or ``dense``)."""

    weights: np.ndarray
    kind: str
    layer: str

    @property
    def units(self) -> int:
        return int(self.weights.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.weights.shape[1])

    def image(self, unit: int, channel: int = 0) -> np.ndarray:
        """Unit ``unit``'s weights on input ``channel`` as a 2-D array (exact values)."""
        return self.weights[unit, channel]


def first_layer_filters(model: nn.Module, params: Params | None = None) -> FilterBank:
    """The first layer of ``model`` as images; ``params`` (e.g. adapted ones) replace the
    model's own weights when given."""
    name, _ = layer_modules(model)[0]
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear))
    key = next(k for k, p in model.named_parameters() if p is first.weight)
    weight = (params[key] if params is not None else first.weight).detach().cpu().numpy()
    if isinstance(first, nn.Conv2d):
        return FilterBank(weight.astype(np.float32, copy=True), CONV, name)
    return FilterBank(_as_images(weight, _input_channels(model, weight.shape[1])), DENSE, name)


def _input_channels(model: nn.Module, inputs: int) -> int:
    """Input channels of a fully connected model on square images (``inputs = C * side**2``)."""
    for channels in (1, 3):
        side = int(round((inputs / channels) ** 0.5))
        if channels * side * side == inputs:
            return channels
    raise ValueError(f"{inputs} inputs are not a square image of 1 or 3 channels")


def _as_images(weight: np.ndarray, channels: int) -> np.ndarray:
    """``[units, C*H*W]`` weights as ``[units, C, H, W]``: the inverse of ``nn.Flatten`` on
    ``[N, C, H, W]`` images, so pixel ``(c, y, x)`` shows the weight that multiplies it."""
    units, inputs = weight.shape
    side = int(round((inputs / channels) ** 0.5))
    return weight.reshape(units, channels, side, side).astype(np.float32, copy=True)


def normalise(weights: np.ndarray, shared: bool = False) -> np.ndarray:
    """Grey levels in [0, 1] for display: 0.5 is a zero weight, and the largest absolute
    weight of each image (``shared``: of the whole bank) maps to 0 or 1, so the sign of a weight
    reads as dark or light and images of small weights stay visible."""
    w = np.asarray(weights, dtype=np.float64)
    if shared:
        scale = np.abs(w).max()
    else:
        images = np.abs(w).reshape(-1, w.shape[-2] * w.shape[-1])
        scale = images.max(1).reshape(*w.shape[:-2], 1, 1)
    return 0.5 + 0.5 * w / np.where(scale > 0, scale, 1.0)
