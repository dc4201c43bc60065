"""Conv4 and the MAML paper's MLP, each split into ``body`` (features) and ``head`` (linear).

The split is what ANIL (adapt ``head`` only), ProtoNet (use ``body`` only), Proto-MAML
(initialise ``head`` from prototypes) and the fine-tuning baseline (a fresh ``head`` per
episode) need; every algorithm calls these modules through ``torch.func.functional_call`` with
parameters as a dict, so no special "meta" layer classes exist.

BatchNorm: ``batchnorm="batch"`` normalises with the statistics of the batch being processed,
in training and at test time (``track_running_stats=False``, as the MAML papers do);
``"running"`` keeps running averages and uses them in eval mode, the classic supervised
behaviour, which is known to give poor test accuracy on tiny support sets.
"""

from __future__ import annotations

import torch
from torch import nn

from workbench.config import ExperimentConfig


def _bn2d(channels: int, batchnorm: str) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, track_running_stats=(batchnorm == "running"), momentum=0.1)


class Conv4(nn.Module):
    """Four blocks of 3x3 conv (``hidden`` filters), BatchNorm, ReLU and 2x2 max-pool.

    28x28 grayscale gives 64 x 1 x 1 features with 64 filters; 84x84 RGB gives 32 x 5 x 5 with
    32 filters (Vinyals et al. 2016; Finn et al. 2017).
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        out_features: int,
        hidden: int = 64,
        batchnorm: str = "batch",
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = in_channels
        for _ in range(4):
            blocks += [
                nn.Conv2d(channels, hidden, 3, padding=1),
                _bn2d(hidden, batchnorm),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            channels = hidden
        blocks.append(nn.Flatten())
        self.body = nn.Sequential(*blocks)
        side = image_size
        for _ in range(4):
            side //= 2
        self.feature_dim = hidden * max(side, 1) ** 2
        self.head = nn.Linear(self.feature_dim, out_features)

    def forward(self, x: torch.Tensor, features_only: bool = False) -> torch.Tensor:
        features = self.body(x)
        return features if features_only else self.head(features)


class MLP(nn.Module):
    """Fully connected network: hidden layers with ReLU (and BatchNorm for images), linear head.

    Images: 256-128-64-64 with BatchNorm (MAML paper, non-convolutional Omniglot model).
    Regression: 40-40 without BatchNorm (MAML paper, section 5.1).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: tuple[int, ...],
        use_bn: bool,
        batchnorm: str = "batch",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if use_bn:
                layers.append(nn.BatchNorm1d(h, track_running_stats=(batchnorm == "running")))
            layers.append(nn.ReLU())
            width = h
        self.body = nn.Sequential(*layers)
        self.feature_dim = width
        self.head = nn.Linear(width, out_features)

    def forward(self, x: torch.Tensor, features_only: bool = False) -> torch.Tensor:
        features = self.body(x)
        return features if features_only else self.head(features)


def feature_dim(model: nn.Module) -> int:
    return int(model.feature_dim)  # type: ignore[arg-type]


def head_keys(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_parameters() if name.startswith("head.")]


def input_channels(config: ExperimentConfig) -> int:
    return 3 if config.data.dataset == "miniimagenet" else 1


def build_model(
    config: ExperimentConfig, out_features: int | None = None, in_channels: int | None = None
) -> nn.Module:
    """The model an experiment trains: ``out_features`` defaults to ``data.ways`` (1 for
    regression); ``in_channels`` defaults to the dataset's usual channels."""
    d, m = config.data, config.model
    if d.dataset == "sinusoid":
        return MLP(1, 1, (40, 40), use_bn=False)
    outputs = out_features if out_features is not None else d.ways
    channels = in_channels if in_channels is not None else input_channels(config)
    if m.backbone == "mlp":
        return MLP(channels * d.image_size**2, outputs, (256, 128, 64, 64), True, m.batchnorm)
    hidden = m.hidden or (32 if d.image_size >= 64 else 64)
    return Conv4(channels, d.image_size, outputs, hidden, m.batchnorm)
