"""Which models the features analysis looks at, loaded through the adaptation viewer's sources.

A features analysis looks at one run and up to three comparison models, exactly the ones the
adaptation viewer offers (`workbench.engine.adaptation.ModelSource`): another saved run, the
fine-tuning baseline ("standard training") and a random initialisation of the run's own
architecture. This module turns what a user names (a run folder, ``baseline``, ``random``) into
sources, loads them with `workbench.engine.adaptation.load_models`, and refuses, with a message
that names the cause, what cannot be analysed: a run without images (sinusoid regression), a
missing or damaged checkpoint, or a comparison model whose layers do not match the run's (the
layer-by-layer comparisons, CKA and the shared pictures, need one architecture).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from workbench.config import ExperimentConfig
from workbench.engine.adaptation import (
    MAX_MODELS,
    LoadedModel,
    ModelSource,
    SnapshotFn,
    baseline_runs,
    check_compatible,
    load_models,
)
from workbench.engine.runs import RunStore, list_runs, run_info
from workbench.errors import ConfigError, RunError

#: what ``--compare`` accepts besides a run folder
BASELINE = "baseline"
RANDOM = "random"


def run_config(run_dir: str | Path) -> ExperimentConfig:
    """The config of the run in ``run_dir`` (a `RunError` naming the folder when there is none)."""
    store = RunStore(run_dir)
    if not store.path.is_dir():
        raise RunError(f"no run folder at {store.path}")
    return store.load_config()


def check_has_images(config: ExperimentConfig, what: str) -> None:
    """A `RunError` for a model trained without images: it has no filters, no features of
    images and no saliency to show."""
    if config.data.dataset == "sinusoid":
        raise RunError(
            f"{what} is a sinusoid regression model: it has no images, so it has no filters, "
            "image features or saliency to show (the features view needs an image dataset)"
        )


def run_source(run_dir: str | Path, checkpoint: str = "best") -> ModelSource:
    """The source of a saved run's checkpoint, labelled as the adaptation viewer labels it."""
    run_config(run_dir)  # a readable error for a folder that is not a run
    return ModelSource.run(run_info(Path(run_dir)), checkpoint)


def baseline_source(run_dir: str | Path, runs_dir: str | Path | None = None) -> ModelSource:
    """The fine-tuning baseline ("standard training") that best fits the run's data: a saved
    ``finetune`` run on the same dataset in ``runs_dir`` (default: the run's own runs folder),
    one with the same ways and shots first, the newest first."""
    config = run_config(run_dir)
    folder = Path(runs_dir) if runs_dir is not None else Path(run_dir).resolve().parent
    found = baseline_runs(list_runs(folder), config)
    if not found:
        raise ConfigError(
            "--compare",
            f"no fine-tuning baseline for {config.data.dataset} in {folder}: train one with "
            f"`workbench train <config> --set algorithm.name=finetune` (same dataset)",
        )
    return ModelSource.run(found[0])


def resolve_compare(
    spec: str, run_dir: str | Path, runs_dir: str | Path | None = None, checkpoint: str = "best"
) -> ModelSource:
    """A comparison model from what a user typed: ``baseline``, ``random`` or a run folder."""
    if spec == BASELINE:
        return baseline_source(run_dir, runs_dir)
    if spec == RANDOM:
        return ModelSource.random(run_dir, run_config(run_dir).algorithm.name)
    return run_source(spec, checkpoint)


def check_sources(sources: Sequence[ModelSource]) -> None:
    """Refuse an empty list, too many models, or a model without images, before loading any."""
    if not sources:
        raise ConfigError("model", "choose a run to analyse first")
    if len(sources) > MAX_MODELS:
        raise ConfigError(
            "--compare",
            f"a run and at most {MAX_MODELS - 1} comparison models can be analysed at once",
        )
    for source in sources:
        if source.run_dir:
            check_has_images(run_config(source.run_dir), f"run {Path(source.run_dir).name}")


def load_analysed(
    sources: Sequence[ModelSource],
    device: torch.device | None = None,
    snapshot: SnapshotFn | None = None,
) -> list[LoadedModel]:
    """A fresh learner per source (the first is the run analysed, the others its comparison
    models), each checked against the first: same architecture, same kind of episodes.
    ``snapshot()`` gives the parameters of a ``live`` source (`Trainer.snapshot`)."""
    check_sources(sources)
    models: list[LoadedModel] = []
    for source in sources:
        try:
            models.extend(load_models([source], snapshot, device))
        except RunError as exc:  # say which model: the baseline may have been found for the user
            raise RunError(f"{source.label}: {exc}") from None
        check_has_images(models[-1].config, models[-1].label)
    main = models[0]
    for other in models[1:]:
        check_same_architecture(main, other)
        check_compatible(other.config, main.config.data)
    return models


def body_signature(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """The shapes of every parameter below the head: what must match for two models' layers to
    be compared one by one (the head may differ: the baseline pre-trains a wide one)."""
    return {
        name: tuple(p.shape) for name, p in model.named_parameters() if not name.startswith("head.")
    }


def architecture_text(model: nn.Module) -> str:
    """``conv4, 32 filters, 1-channel input`` / ``mlp 256-128-64-64, 784 inputs``."""
    weights = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    if isinstance(weights[0], nn.Conv2d):
        first = weights[0]
        return f"conv4, {first.out_channels} filters, {first.in_channels}-channel input"
    body = [w for w in weights if w is not getattr(model, "head", None)]
    widths = "-".join(str(w.out_features) for w in body)
    return f"mlp {widths}, {body[0].in_features} inputs"


def check_same_architecture(main: LoadedModel, other: LoadedModel) -> None:
    """A `ConfigError` naming both architectures when ``other``'s layers differ from ``main``'s."""
    mine, theirs = body_signature(main.learner.model), body_signature(other.learner.model)
    if mine == theirs:
        return
    raise ConfigError(
        "--compare",
        f"{other.label} ({architecture_text(other.learner.model)}) has another architecture "
        f"than {main.label} ({architecture_text(main.learner.model)}): features are compared "
        "layer by layer, so comparison models need the run's architecture",
    )
