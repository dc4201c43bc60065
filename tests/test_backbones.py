"""Conv4's two downsampling variants: layer shapes and parameter counts, by the formula and
against learn2learn 0.2.0's models of the same shape."""

from __future__ import annotations

import pytest
import torch

from workbench.config import ExperimentConfig
from workbench.models.backbones import Conv4, build_model, conv4_parameter_count
from workbench.presets import load_preset


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("pooling", ["max", "stride"])
@pytest.mark.parametrize(
    ("channels", "size", "ways", "hidden"),
    [(1, 28, 5, 64), (1, 28, 20, 64), (3, 84, 5, 32), (1, 32, 7, 16)],
)
def test_parameter_count_matches_the_formula(
    pooling: str, channels: int, size: int, ways: int, hidden: int
) -> None:
    model = Conv4(channels, size, ways, hidden, pooling=pooling)
    assert count(model) == conv4_parameter_count(channels, size, ways, hidden, pooling)
    out = model(torch.zeros(2, channels, size, size))
    assert out.shape == (2, ways)
    assert model(torch.zeros(2, channels, size, size), features_only=True).shape == (
        2,
        model.feature_dim,
    )


# learn2learn 0.2.0, printed in the peer venv (built by ../shared/peer/setup_peer.sh) with
#   python -c "import learn2learn as l2l; m = l2l.vision.models.OmniglotCNN(W);
#              print(sum(p.numel() for p in m.parameters()))"
# and, for the max-pool network, m = l2l.vision.models.CNN4(W, hidden_size=64, channels=1,
# max_pool=True, embedding_size=64): the two models the peer script l2l_omniglot.py trains.
# Printed: OmniglotCNN 5 -> 112261, 20 -> 113236; CNN4 5 -> 112261, 20 -> 113236.
LEARN2LEARN_COUNTS = {
    ("stride", 5): 112_261,
    ("stride", 20): 113_236,
    ("max", 5): 112_261,
    ("max", 20): 113_236,
}


@pytest.mark.parametrize(("pooling", "ways"), sorted(LEARN2LEARN_COUNTS))
def test_parameter_count_equals_learn2learns_network(pooling: str, ways: int) -> None:
    config = ExperimentConfig()
    config.data.dataset, config.data.ways = "omniglot", ways
    config.model.pooling = pooling
    assert count(build_model(config)) == LEARN2LEARN_COUNTS[(pooling, ways)]


def relu_sides(model: Conv4) -> list[int]:
    """The side of each block's feature map after its ReLU, for one 28x28 image batch."""
    x, sides = torch.zeros(3, 1, 28, 28), []
    for layer in model.body:
        x = layer(x)
        if isinstance(layer, torch.nn.ReLU):
            sides.append(x.shape[-1])
    return sides


def test_strided_layers_have_the_papers_shapes() -> None:
    """28x28 -> 14 -> 7 -> 4 -> 2 with stride-2 convolutions, the head reads the 64 channel
    means; the max-pool network convolves at 28, 14, 7, 3 and pools down to 1x1."""
    strided, pooled = Conv4(1, 28, 5, 64, pooling="stride"), Conv4(1, 28, 5, 64, pooling="max")
    assert relu_sides(strided) == [14, 7, 4, 2]
    assert relu_sides(pooled) == [28, 14, 7, 3]
    assert strided.feature_dim == pooled.feature_dim == 64
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in strided.modules())
    convs = [m for m in strided.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.stride, c.padding) for c in convs] == [((2, 2), (1, 1))] * 4
    x = torch.rand(3, 1, 28, 28)
    last_map = strided.body[:-1](x)
    assert torch.allclose(strided(x, features_only=True), last_map.mean((-2, -1)))


def test_the_maml_paper_omniglot_presets_use_the_strided_network() -> None:
    for name in (
        "maml-omniglot-5w1s",
        "maml-omniglot-5w5s",
        "maml-omniglot-20w1s",
        "maml-omniglot-20w5s",
        "fomaml-omniglot-5w1s",
        "fomaml-omniglot-20w1s",
    ):
        preset = load_preset(name)
        assert preset.model.pooling == "stride", name
        assert "MAML" in preset.description
        # Finn et al.'s code draws 2K images per class for Omniglot: K support, K query
        assert preset.data.queries == preset.data.shots, name


def test_unknown_pooling_is_refused() -> None:
    with pytest.raises(ValueError, match="pooling"):
        Conv4(1, 28, 5, 64, pooling="average")
