"""Meta-learning algorithms behind one `Learner` interface, built from an `ExperimentConfig`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.algorithms.base import AdaptationTrace, Learner, StepMetrics
from workbench.config import ExperimentConfig
from workbench.models.backbones import build_model


@dataclass
class DataInfo:
    """What a learner must know of the training data: image channels, and for the fine-tuning
    baseline the names of all training classes (its pre-training head has one output each)."""

    in_channels: int = 1
    train_class_names: tuple[str, ...] = ()


def build_learner(config: ExperimentConfig, info: DataInfo, device: torch.device) -> Learner:
    """The learner named by ``algorithm.name``, its model initialised from ``train.seed``."""
    from workbench.algorithms.finetune import FinetuneLearner
    from workbench.algorithms.gradient import GradientLearner
    from workbench.algorithms.protonet import ProtoNetLearner
    from workbench.algorithms.reptile import ReptileLearner

    torch.manual_seed(config.train.seed)
    regression = config.data.dataset == "sinusoid"
    name = config.algorithm.name
    if name == "finetune":
        outputs = None if regression else len(info.train_class_names)
        model = build_model(config, outputs, info.in_channels)
        return FinetuneLearner(
            model,
            config,
            regression=regression,
            device=device,
            class_names=list(info.train_class_names),
        )
    model = build_model(config, None, info.in_channels)
    if name == "protonet":
        return ProtoNetLearner(model, config, device=device)
    if name == "reptile":
        return ReptileLearner(
            model,
            config,
            regression=regression,
            device=device,
            inner_batch=config.algorithm.reptile_batch,
        )
    return GradientLearner(model, config, regression=regression, device=device)


__all__ = ["AdaptationTrace", "DataInfo", "Learner", "StepMetrics", "build_learner"]
