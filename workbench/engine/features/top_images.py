"""The images that excite a unit most and least: what a channel responds to, shown by example.

A convolutional channel's response to an image is its activation averaged over all spatial
positions (one number per image and channel); a fully connected unit's is its activation. The
top images are those with the largest response, the bottom images those with the smallest,
in order; equal responses keep the images' order in the probe set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def channel_responses(activation: torch.Tensor) -> np.ndarray:
    """``[N, channels]``: each image's response per channel (conv: mean over positions)."""
    a = activation.detach().to(torch.float64)
    if a.dim() > 2:
        a = a.flatten(2).mean(-1)
    return a.cpu().numpy()


@dataclass
class Extremes:
    """The ``k`` images of largest (``top``) and smallest (``bottom``) response of one channel:
    indices into the probe set, most extreme first, with their responses."""

    layer: str
    channel: int
    top: list[int]
    top_values: list[float]
    bottom: list[int]
    bottom_values: list[float]

    def to_dict(self) -> dict[str, object]:
        return dict(vars(self))


def extremes(activation: torch.Tensor, layer: str, channel: int, k: int = 8) -> Extremes:
    """Top and bottom ``k`` images of ``channel`` in ``activation [N, channels, ...]``."""
    responses = channel_responses(activation)
    if not 0 <= channel < responses.shape[1]:
        raise IndexError(f"{layer} has {responses.shape[1]} channels, not {channel + 1}")
    r = responses[:, channel]
    k = min(k, len(r))
    top = np.argsort(-r, kind="stable")[:k]
    bottom = np.argsort(r, kind="stable")[:k]
    return Extremes(
        layer,
        channel,
        top.tolist(),
        r[top].tolist(),
        bottom.tolist(),
        r[bottom].tolist(),
    )


def channels_of(activation: torch.Tensor) -> int:
    """How many channels (conv) or units (dense) a layer has."""
    return int(activation.shape[1])
