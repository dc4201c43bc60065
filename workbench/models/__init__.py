"""Backbones with a linear head, called functionally by the algorithms."""

from workbench.models.backbones import MLP, Conv4, build_model, feature_dim, head_keys

__all__ = ["Conv4", "MLP", "build_model", "feature_dim", "head_keys"]
