"""How a conv4's weights start: PyTorch's layer defaults, or the MAML reference scheme.

PyTorch's defaults (``torch``): Kaiming-uniform convolution and linear weights with a = sqrt(5)
(a spread of about 1/sqrt(3 * fan_in)), uniform biases of the same scale, BatchNorm scale 1.

The MAML scheme (``maml``), as in Finn et al.'s reference code and in learn2learn 0.2.0's
``learn2learn/vision/models/cnn4.py`` (``maml_init_``, ``ConvBlock``, ``OmniglotCNN``, ``CNN4``):
convolution weights Xavier-uniform (gain 1) with zero biases, BatchNorm scale drawn from U(0, 1)
and shift zero, and the linear head N(0, 1) with zero bias after the strided network (the
reference code's ``w5``, learn2learn's ``OmniglotCNN``) or Xavier-uniform with zero bias after
the max-pool network (learn2learn's ``CNN4``). Xavier's spread is about twice PyTorch's default
for a 3x3 convolution, and the U(0, 1) BatchNorm scales switch some channels nearly off at the
start, which breaks the symmetry between filters early.
"""

from __future__ import annotations

from torch import nn


def maml_init_(model: nn.Module, head_normal: bool) -> nn.Module:
    """Initialise `model` in place by the MAML scheme (module docstring); ``head_normal`` draws
    the head ``head`` from N(0, 1) (strided network) instead of Xavier-uniform."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            nn.init.xavier_uniform_(module.weight, gain=1.0)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.uniform_(module.weight, 0.0, 1.0)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and name == "head":
            if head_normal:
                nn.init.normal_(module.weight, 0.0, 1.0)
            else:
                nn.init.xavier_uniform_(module.weight, gain=1.0)
            nn.init.zeros_(module.bias)
    return model
