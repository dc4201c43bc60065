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
from workbench.models.init import maml_init_


def _bn2d(channels: int, batchnorm: str) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, track_running_stats=(batchnorm == "running"), momentum=0.1)


class GlobalMean(nn.Module):
    """The mean of each channel over the image: ``[B, C, H, W] -> [B, C]`` (global average
    pooling; what the strided network feeds its head, so the head's width is the filter count
    whatever the image size)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((-2, -1))


def conv4_side(image_size: int, pooling: str) -> int:
    """Side of conv4's last feature map: four 2x2 max-pools floor (28 -> 14, 7, 3, 1); four
    stride-2 convolutions with padding 1 round up (28 -> 14, 7, 4, 2)."""
    side = image_size
    for _ in range(4):
        side = side // 2 if pooling == "max" else (side + 1) // 2
    return max(side, 1)


class Conv4(nn.Module):
    """Four blocks of 3x3 conv (``hidden`` filters), BatchNorm and ReLU, each halving the image.

    ``pooling="max"``: each block ends in a 2x2 max-pool and the last map is flattened; 28x28
    grayscale gives 64 x 1 x 1 features with 64 filters, 84x84 RGB 32 x 5 x 5 with 32 filters
    (Vinyals et al. 2016; Finn et al. 2017, mini-ImageNet). ``pooling="stride"``: each conv has
    stride 2 and padding 1, there is no pooling, and the head gets the mean of the last map per
    filter (Finn et al. 2017's Omniglot network; learn2learn's ``OmniglotCNN``, whose layer
    shapes these are), so ``hidden`` features whatever the image size.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        out_features: int,
        hidden: int = 64,
        batchnorm: str = "batch",
        pooling: str = "max",
    ) -> None:
        super().__init__()
        if pooling not in ("max", "stride"):
            raise ValueError(f"pooling must be max or stride, got {pooling!r}")
        stride = 2 if pooling == "stride" else 1
        blocks: list[nn.Module] = []
        channels = in_channels
        for _ in range(4):
            blocks += [
                nn.Conv2d(channels, hidden, 3, stride=stride, padding=1),
                _bn2d(hidden, batchnorm),
                nn.ReLU(),
            ]
            if pooling == "max":
                blocks.append(nn.MaxPool2d(2))
            channels = hidden
        blocks.append(GlobalMean() if pooling == "stride" else nn.Flatten())
        self.body = nn.Sequential(*blocks)
        self.pooling = pooling
        side = conv4_side(image_size, pooling)
        self.feature_dim = hidden if pooling == "stride" else hidden * side**2
        self.head = nn.Linear(self.feature_dim, out_features)

    def forward(self, x: torch.Tensor, features_only: bool = False) -> torch.Tensor:
        features = self.body(x)
        return features if features_only else self.head(features)


def conv4_parameter_count(
    in_channels: int, image_size: int, out_features: int, hidden: int, pooling: str
) -> int:
    """Learnable parameters of `Conv4`, worked out by hand: per block a 3x3 conv (weights and
    bias) and a BatchNorm scale and shift, then the linear head on the features."""
    convs = (in_channels * 9 + 1) * hidden + 3 * (hidden * 9 + 1) * hidden
    norms = 4 * 2 * hidden
    features = hidden if pooling == "stride" else hidden * conv4_side(image_size, pooling) ** 2
    return convs + norms + (features + 1) * out_features


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
    model = Conv4(channels, d.image_size, outputs, hidden, m.batchnorm, m.pooling)
    return maml_init_(model, m.pooling == "stride") if m.init == "maml" else model
