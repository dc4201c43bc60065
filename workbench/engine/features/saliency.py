"""Saliency: which pixels of a query image its class score is most sensitive to.

The map is the gradient of the class score (a logit) with respect to the image's pixels
(Simonyan et al. 2014); SmoothGrad (Smilkov et al. 2017) averages it over noisy copies of the
image, which removes much of the speckle.

Computed with Captum (``Saliency``, ``NoiseTunnel``): it works with the workbench's functional
models through one small ``nn.Module`` (`_ScoreInBatch`) that calls the learner's model with a
given (e.g. adapted) set of parameters through ``functional_call``, and it gives SmoothGrad, with
its sampling and batching, for free; the test checks the map against the plain autograd
gradient. The wrapper has a second job: with BatchNorm on batch statistics (the default, as in
the MAML papers) a network's output for an image depends on the other images in its batch, so
the image is scored *inside its batch* (the episode's query set), as the learner scored it, and
only its own pixels are differentiated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import NoiseTunnel, Saliency
from torch import nn

from workbench.algorithms import Learner
from workbench.algorithms.inner_loop import Params
from workbench.data.episodes import Episode
from workbench.engine.features.activations import class_scores, eval_mode

#: SmoothGrad's noise, as a fraction of the image's value range (Smilkov et al. suggest 10-20%)
NOISE_FRACTION = 0.15
LIBRARY = "captum"


class _ScoreInBatch(nn.Module):
    """The class scores of image ``index`` of ``batch``, with that image replaced by each row of
    the input: Captum's forward function for one query image."""

    def __init__(
        self, scores: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, index: int
    ) -> None:
        super().__init__()
        self.scores, self.batch, self.index = scores, batch, index

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        i, rows = self.index, []
        for image in images:
            batch = torch.cat([self.batch[:i], image[None], self.batch[i + 1 :]])
            rows.append(self.scores(batch)[i])
        return torch.stack(rows)


@dataclass
class SaliencyMap:
    """``gradient [C, H, W]``: d(score of ``target``) / d(pixel) for image ``index`` of its
    batch (SmoothGrad: averaged over ``samples`` noisy copies; 0 samples: the plain gradient)."""

    gradient: np.ndarray
    index: int
    target: int
    samples: int = 0
    noise: float = 0.0

    def heat(self) -> np.ndarray:
        """``[H, W]`` in [0, 1] for display: the largest absolute gradient over channels,
        divided by its maximum."""
        g = np.abs(self.gradient).max(0)
        top = g.max()
        return g / top if top > 0 else g


def saliency(
    learner: Learner,
    params: Params,
    batch: torch.Tensor,
    index: int,
    target: int,
    *,
    step: int = 0,
    episode: Episode | None = None,
    samples: int = 0,
    noise: float = NOISE_FRACTION,
    seed: int = 0,
) -> SaliencyMap:
    """The saliency of image ``index`` of ``batch`` for class ``target`` under ``params``
    (called at inner ``step``; ``episode`` gives ProtoNet its prototypes, see `class_scores`).

    ``samples > 0`` gives SmoothGrad with that many noisy copies (Gaussian, standard deviation
    ``noise`` times the image's value range), drawn with ``seed`` without touching the global
    random state.
    """
    if not 0 <= index < batch.shape[0]:
        raise IndexError(f"image {index} is not in a batch of {batch.shape[0]}")
    dtype = next(learner.model.parameters()).dtype
    x_all = batch.to(learner.device, dtype)
    score = _ScoreInBatch(class_scores(learner, params, step, episode), x_all, index)
    x = x_all[index : index + 1].clone().requires_grad_(True)
    with eval_mode(learner.model), torch.enable_grad():
        if samples <= 0:
            g = Saliency(score).attribute(x, target=target, abs=False)
            return SaliencyMap(g[0].detach().cpu().numpy(), index, target)
        spread = float(noise * (x.detach().max() - x.detach().min()).clamp_min(1e-6))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            g = NoiseTunnel(Saliency(score)).attribute(
                x, nt_type="smoothgrad", nt_samples=samples, stdevs=spread, target=target, abs=False
            )
    return SaliencyMap(g[0].detach().cpu().numpy(), index, target, samples, spread)
