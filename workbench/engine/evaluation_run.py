"""Evaluate a saved run: load its checkpoint safely, draw test episodes, apply the protocol.

Shared by ``workbench eval``, the Runs view's "Evaluate" and the adaptation viewer, so the three
always report the same number for the same settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from workbench.algorithms import DataInfo, Learner, build_learner
from workbench.config import ExperimentConfig, parse_overrides
from workbench.data.episodes import EpisodeSampler, Sampler
from workbench.data.registry import make_sampler
from workbench.engine.evaluate import EvaluationResult, evaluate
from workbench.engine.runs import RunStore
from workbench.engine.trainer import check_checkpoint, pick_device
from workbench.errors import ConfigError, RunError

#: algorithms whose classifier is built per episode, so any N-way works at test time
WAYS_FREE = ("protonet", "protomaml", "finetune")


def data_info(config: ExperimentConfig, signature: dict[str, list[int]] | None) -> DataInfo:
    """Input channels and head size of a saved model, read from its parameter shapes, so a
    model can be rebuilt without loading its training data; falls back to the dataset's usual
    channels."""
    from workbench.models.backbones import input_channels

    signature = signature or {}
    channels = input_channels(config)
    for shape in signature.values():
        if len(shape) == 4:  # the first conv weight: [out, in, k, k]
            channels = shape[1]
            break
    else:
        for name, shape in signature.items():
            if len(shape) == 2 and not name.startswith("head."):
                channels = max(1, shape[1] // (config.data.image_size**2))
                break
    head = signature.get("head.weight", [config.data.ways])
    return DataInfo(channels, tuple(str(i) for i in range(head[0])))


def load_run_learner(
    run_dir: str | Path, checkpoint: str = "best", device: torch.device | None = None
) -> tuple[ExperimentConfig, Learner, str]:
    """The run's config and a learner holding its checkpoint; falls back from ``best`` to
    ``last`` when no validation has happened yet. Returns which checkpoint was used."""
    store = RunStore(run_dir)
    if not store.path.is_dir():
        raise RunError(f"no run folder at {store.path}")
    config = store.load_config()
    kind = checkpoint
    if kind == "best" and not store.has_checkpoint("best") and store.has_checkpoint("last"):
        kind = "last"
    state = store.load_checkpoint(kind)
    device = device or pick_device(config.train.device)
    info = data_info(config, state.get("signature"))
    learner = build_learner(config, info, device)
    check_checkpoint(state, learner, f"checkpoint {store.checkpoint_path(kind)}")
    return config, learner, kind


def evaluation_sampler(
    config: ExperimentConfig, split: str, overrides: Sequence[str] = ()
) -> Sampler:
    """Episodes for evaluation: the run's data settings, with ``data.*`` overrides applied."""
    data_config = parse_overrides(list(overrides), config.copy()).validate()
    trained = config.data
    data = data_config.data
    if (
        data.ways != trained.ways
        and config.algorithm.name not in WAYS_FREE
        and data.dataset != "sinusoid"
    ):
        raise ConfigError(
            "data.ways",
            f"this {config.algorithm.name} model has a {trained.ways}-way head; evaluating "
            f"{data.ways}-way episodes needs an algorithm that builds its classifier per episode "
            f"({', '.join(WAYS_FREE)})",
        )
    if data.image_size != trained.image_size and data.dataset != "sinusoid":
        raise ConfigError(
            "data.image_size", f"the model was trained on {trained.image_size}px images"
        )
    return make_sampler(data, split, data_config.eval.seed)


def evaluate_run(
    run_dir: str | Path,
    *,
    episodes: int | None = None,
    steps: int | None = None,
    split: str | None = None,
    checkpoint: str = "best",
    overrides: Sequence[str] = (),
    inner_lr: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    record: bool = True,
) -> EvaluationResult:
    """The standard protocol on a run; the result is stored in its summary unless the data
    were overridden (then it describes other data than the run's own)."""
    config, learner, used = load_run_learner(run_dir, checkpoint)
    split = split or config.eval.split
    episodes = episodes if episodes is not None else config.eval.episodes
    steps = steps if steps is not None else config.eval.inner_steps
    if episodes < 1:
        raise ConfigError("--episodes", f"must be at least 1, got {episodes}")
    if steps < 0:
        raise ConfigError("--steps", f"must be 0 or more, got {steps}")
    sampler = evaluation_sampler(config, split, overrides)
    if isinstance(sampler, EpisodeSampler):
        sampler.images.check_episode_shape(sampler.ways, sampler.shots, sampler.queries)
    result = evaluate(
        learner,
        sampler,
        episodes,
        steps,
        inner_lr=inner_lr,
        progress=progress,
        cancel=cancel,
        split=split,
    )
    if record and not overrides and not result.cancelled and inner_lr is None:
        store = RunStore(run_dir)
        store.write_summary(
            test={
                "accuracy": result.accuracy,
                "ci95": result.ci95,
                "mse": result.mse,
                "mse_ci95": result.mse_ci95,
                "episodes": result.episodes,
                "steps": result.steps,
                "split": split,
                "checkpoint": used,
                "seed": result.seed,
            }
        )
    return result
