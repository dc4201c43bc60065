"""Linear CKA: how similar two representations of the same images are (Kornblith et al. 2019).

For activations ``X [N, p]`` and ``Y [N, q]`` of the same N images (columns centred), linear
centred kernel alignment is

    CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
              = <K_c, L_c> / (||K_c||_F ||L_c||_F),   K = X X^T, L = Y Y^T, centred,

1 for identical representations, invariant to orthogonal transforms and isotropic scaling of
either, and near 0 for unrelated ones. It is computed in the second (Gram) form, whose cost grows
with N^2 rather than with the layers' widths (a conv layer has thousands of features). The
features are centred in float64, their Gram matrices multiplied in float32 and compared in
float64. A
representation that is constant over the images (a zero head before fine-tuning) has no CKA:
the result is NaN, and reports say why.

This is what Raghu et al. (2020) use to ask whether MAML learns rapidly or reuses features:
compare each layer before and after adaptation; a body that barely changes (CKA near 1) with a
head that does means feature reuse.
"""

from __future__ import annotations

import torch


def _centred(activations: torch.Tensor) -> torch.Tensor:
    x = activations.detach().flatten(1).to(torch.float64)
    return x - x.mean(0, keepdim=True)


def is_constant(activations: torch.Tensor, tolerance: float = 1e-9) -> bool:
    """Whether a representation is (numerically) the same for every image: then it has no
    CKA with anything."""
    x = activations.detach().flatten(1).to(torch.float64)
    spread = torch.linalg.norm(x - x.mean(0, keepdim=True))
    return bool(spread <= tolerance * max(float(torch.linalg.norm(x)), 1e-300))


def gram(activations: torch.Tensor) -> torch.Tensor:
    """``[N, N]`` float64 Gram matrix ``X_c X_c^T`` of the column-centred ``activations``
    (flattened). Centring first keeps float32 products accurate: what float32 would lose is the
    large common offset of ReLU outputs, which centring removes."""
    x = _centred(activations).to(torch.float32)
    return (x @ x.T).to(torch.float64)


def centre(k: torch.Tensor) -> torch.Tensor:
    """``H K H`` with ``H = I - 11^T / N``: the Gram matrix of the column-centred features."""
    k = k.to(torch.float64)
    return k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()


def cka_from_grams(k: torch.Tensor, l: torch.Tensor) -> float:  # noqa: E741 - the paper's L
    """Linear CKA from two Gram matrices of the same images (centred here); NaN when either is
    zero after centring."""
    kc, lc = centre(k), centre(l)
    denominator = torch.linalg.norm(kc) * torch.linalg.norm(lc)
    if float(denominator) == 0.0:
        return float("nan")
    return float((kc * lc).sum() / denominator)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two representations ``[N, ...]`` of the same N images (NaN when either
    is constant over the images)."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA compares the same images: {x.shape[0]} vs {y.shape[0]} rows")
    if is_constant(x) or is_constant(y):
        return float("nan")
    if torch.equal(x, y):
        return 1.0
    return cka_from_grams(gram(x), gram(y))


def cka_per_layer(
    before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]
) -> dict[str, float]:
    """Linear CKA of each layer's activations before and after (layers in ``before``'s order)."""
    return {name: linear_cka(before[name], after[name]) for name in before if name in after}
