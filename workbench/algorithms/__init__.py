"""Meta-learning algorithms behind one `Learner` interface, built from an `ExperimentConfig`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from workbench.algorithms.base import AdaptationTrace, Learner, StepMetrics
from workbench.allocator import keep_freed_memory
from workbench.config import ExperimentConfig
from workbench.models.backbones import build_model


@dataclass
class DataInfo:
    """What a learner must know of the training data: image channels, and for the fine-tuning
    baseline the names of all training classes (its pre-training head has one output each)."""

    in_channels: int = 1
    train_class_names: tuple[str, ...] = ()


#: builds one algorithm's learner: (config, data info, device, regression) -> learner
LearnerBuilder = Callable[[ExperimentConfig, DataInfo, torch.device, bool], Learner]


def _gradient_learner(
    config: ExperimentConfig, info: DataInfo, device: torch.device, regression: bool
) -> Learner:
    from workbench.algorithms.gradient import GradientLearner
    from workbench.algorithms.policies import policy_for

    model = build_model(config, None, info.in_channels)
    policy = policy_for(config.algorithm, regression=regression)
    return GradientLearner(model, config, policy, regression=regression, device=device)


def _finetune_learner(
    config: ExperimentConfig, info: DataInfo, device: torch.device, regression: bool
) -> Learner:
    from workbench.algorithms.finetune import FinetuneLearner
    from workbench.algorithms.policies import policy_for

    outputs = None if regression else len(info.train_class_names)
    return FinetuneLearner(
        build_model(config, outputs, info.in_channels),
        config,
        policy_for(config.algorithm, regression=regression),
        regression=regression,
        device=device,
        class_names=list(info.train_class_names),
    )


def _protonet_learner(
    config: ExperimentConfig, info: DataInfo, device: torch.device, regression: bool
) -> Learner:
    from workbench.algorithms.protonet import ProtoNetLearner

    return ProtoNetLearner(build_model(config, None, info.in_channels), config, device=device)


def _reptile_learner(
    config: ExperimentConfig, info: DataInfo, device: torch.device, regression: bool
) -> Learner:
    from workbench.algorithms.policies import policy_for
    from workbench.algorithms.reptile import ReptileLearner

    return ReptileLearner(
        build_model(config, None, info.in_channels),
        config,
        policy_for(config.algorithm, regression=regression),
        regression=regression,
        device=device,
        inner_batch=config.algorithm.reptile_batch,
    )


#: the algorithms with a learner class of their own; every other one is a `GradientLearner`
#: steered by its policy (`workbench.algorithms.policies.POLICIES`)
OWN_LEARNERS: dict[str, LearnerBuilder] = {
    "finetune": _finetune_learner,
    "protonet": _protonet_learner,
    "reptile": _reptile_learner,
}


def build_learner(config: ExperimentConfig, info: DataInfo, device: torch.device) -> Learner:
    """The learner named by ``algorithm.name``, its model initialised from ``train.seed``."""
    keep_freed_memory()  # every meta-step reuses its tensors' memory (see workbench.allocator)
    torch.manual_seed(config.train.seed)
    build = OWN_LEARNERS.get(config.algorithm.name, _gradient_learner)
    return build(config, info, device, config.data.dataset == "sinusoid")


__all__ = ["AdaptationTrace", "DataInfo", "Learner", "StepMetrics", "build_learner"]
