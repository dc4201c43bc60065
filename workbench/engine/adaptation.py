"""What the adaptation viewer computes: which models to adapt, one episode, and many.

The viewer shows what MAML *is*: a meta-learned starting point, a new episode, and what 0, 1,
10 ... gradient steps on the support set do to support and query accuracy, next to first-order
MAML, a fine-tuning baseline and an untrained network on the same episode. This module is the
Qt-free half of that: it names the models (`ModelSource`), builds a fresh learner for each job
(`load_model`), draws episodes, adapts them (`adapt_models`) and aggregates over many episodes
(`aggregate_models`) through `workbench.engine.evaluate.evaluate`, so the aggregate is the same
number `workbench eval` prints for the same run, split, seed, episodes and steps.

Every job builds its own learner: `torch.func.functional_call` swaps a module's parameters while
it runs, so two background jobs must never share one model object.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.algorithms import AdaptationTrace, Learner, build_learner
from workbench.config import DataConfig, ExperimentConfig, from_dict
from workbench.data.episodes import Episode, EpisodeSampler, Sampler
from workbench.data.registry import make_sampler
from workbench.data.sinusoid import X_RANGE
from workbench.data.split_cache import SplitCache, shared_splits
from workbench.engine.evaluate import EvaluationResult, evaluate, mean_ci95
from workbench.engine.evaluation_run import (
    WAYS_FREE,
    data_info,
    evaluation_sampler,
    load_run_learner,
)
from workbench.engine.runs import RunInfo, RunStore
from workbench.engine.trainer import check_checkpoint, pick_device
from workbench.errors import ConfigError, RunError

LIVE = "live"
RUN = "run"
RANDOM = "random"
#: the most models one comparison shows (one colour each)
MAX_MODELS = 4
#: points of the predicted sinusoid curve (the MAML paper's Figure 2)
CURVE_POINTS = 200

ProgressFn = Callable[[int, int], None]


def curve_grid() -> torch.Tensor:
    """The x values ``[G, 1]`` a regression model's prediction is drawn on."""
    return torch.linspace(X_RANGE[0], X_RANGE[1], CURVE_POINTS)[:, None]


# -- which model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSource:
    """Where the parameters of a model to adapt come from.

    ``live``: a snapshot of the run being trained now (``run_dir`` is its folder, for its
    config); ``run``: a saved run's ``best`` or ``last`` checkpoint; ``random``: the
    architecture and initialisation seed of the run in ``run_dir``, untrained. A run whose
    algorithm is ``finetune`` is the transfer-learning baseline (``baseline``).
    """

    kind: str
    run_dir: str = ""
    checkpoint: str = "best"
    label: str = ""
    baseline: bool = False

    @classmethod
    def live(cls, run_dir: str | Path = "", label: str = "") -> ModelSource:
        return cls(LIVE, str(run_dir), "live", label or "Training now (live snapshot)")

    @classmethod
    def run(cls, info: RunInfo, checkpoint: str = "best") -> ModelSource:
        baseline = info.algorithm == "finetune"
        label = f"{'Fine-tuning baseline' if baseline else info.algorithm}: {info.name}"
        return cls(RUN, str(info.path), checkpoint, label, baseline)

    @classmethod
    def random(cls, run_dir: str | Path, algorithm: str = "") -> ModelSource:
        what = f" ({algorithm})" if algorithm else ""
        return cls(RANDOM, str(run_dir), "none", f"Random initialisation{what}")

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.run_dir, self.checkpoint)


@dataclass
class LoadedModel:
    """A fresh learner for one job, the config it was built from, and a line saying what it is."""

    source: ModelSource
    config: ExperimentConfig
    learner: Learner
    detail: str

    @property
    def label(self) -> str:
        return self.source.label


def _signature_of_run(store: RunStore) -> dict[str, list[int]] | None:
    for kind in ("last", "best"):
        if store.has_checkpoint(kind):
            return store.load_checkpoint(kind).get("signature")
    return None


def load_model(
    source: ModelSource,
    *,
    snapshot: dict[str, Any] | None = None,
    device: torch.device | None = None,
) -> LoadedModel:
    """Build a learner holding the parameters ``source`` names.

    ``snapshot`` is `Trainer.snapshot()` for a ``live`` source. Raises `RunError` for a missing
    or foreign checkpoint and `ConfigError` for an unknown kind.
    """
    if source.kind == RUN:
        config, learner, used = load_run_learner(source.run_dir, source.checkpoint, device)
        summary = RunStore(source.run_dir).read_summary()
        it = summary.get("best_iteration" if used == "best" else "iteration")
        at = f" (iteration {it})" if it is not None else ""
        return LoadedModel(source, config, learner, f"{used} checkpoint{at}")
    if source.kind == LIVE:
        if snapshot is None:
            raise RunError("no run is being trained now")
        config = from_dict(snapshot["config"])
        device = device or pick_device(config.train.device)
        learner = build_learner(config, data_info(config, snapshot.get("signature")), device)
        check_checkpoint(snapshot, learner, "the live snapshot")
        return LoadedModel(
            source, config, learner, f"live snapshot at iteration {snapshot.get('iteration', 0)}"
        )
    if source.kind == RANDOM:
        if snapshot is not None:
            config, signature = from_dict(snapshot["config"]), snapshot.get("signature")
        else:
            store = RunStore(source.run_dir)
            if not store.path.is_dir():
                raise RunError(f"no run folder at {store.path}")
            config, signature = store.load_config(), _signature_of_run(store)
        device = device or pick_device(config.train.device)
        learner = build_learner(config, data_info(config, signature), device)
        return LoadedModel(
            source, config, learner, f"untrained {config.algorithm.name}, seed {config.train.seed}"
        )
    raise ConfigError("model", f"unknown model source {source.kind!r}")


def baseline_runs(runs: Sequence[RunInfo], config: ExperimentConfig) -> list[RunInfo]:
    """Saved fine-tuning runs usable as the baseline for episodes of ``config``'s data: same
    dataset; runs with the same ways and shots first, newest first within each group."""
    d = config.data
    usable = [
        r
        for r in runs
        if r.algorithm == "finetune"
        and r.dataset == d.dataset
        and not r.problems
        and r.iteration > 0
    ]
    return sorted(usable, key=lambda r: (r.ways != d.ways, r.shots != d.shots, -(r.started or 0.0)))


def comparable_runs(runs: Sequence[RunInfo], config: ExperimentConfig) -> list[RunInfo]:
    """Saved runs (any algorithm) that can adapt to episodes of ``config``'s data."""
    d = config.data
    return [
        r
        for r in runs
        if r.dataset == d.dataset
        and not r.problems
        and r.iteration > 0
        and (r.ways == d.ways or r.algorithm in WAYS_FREE or d.dataset == "sinusoid")
    ]


def check_compatible(model: ExperimentConfig, data: DataConfig) -> None:
    """A readable `ConfigError` when a model cannot adapt to episodes drawn with ``data``."""
    m = model.data
    if (m.dataset == "sinusoid") != (data.dataset == "sinusoid"):
        raise ConfigError(
            "data.dataset", f"a {m.dataset} model cannot adapt to {data.dataset} episodes"
        )
    if data.dataset == "sinusoid":
        return
    if data.ways != m.ways and model.algorithm.name not in WAYS_FREE:
        raise ConfigError(
            "data.ways",
            f"this {model.algorithm.name} model has a {m.ways}-way head and cannot adapt to "
            f"{data.ways}-way episodes (only {', '.join(WAYS_FREE)} build their classifier per "
            "episode)",
        )
    if data.image_size != m.image_size:
        raise ConfigError(
            "data.image_size",
            f"the model was trained on {m.image_size}px images, "
            f"the episodes have {data.image_size}px",
        )


# -- which episode -----------------------------------------------------------------------------


class SamplerCache:
    """Where the adaptation engine's episode samplers get their images: the shared cache of
    loaded splits (`workbench.data.split_cache`), so stepping through episode indices, the
    episode browser and the trainer never load a split twice. A sampler is a cheap view over
    the cached images, so none is kept here: holding samplers would hold images the shared cache
    has already evicted. Thread-safe, as the split cache is."""

    def __init__(self, splits: SplitCache | None = None) -> None:
        self.splits = splits or shared_splits()

    def get(
        self,
        data: DataConfig,
        split: str,
        seed: int,
        progress: Callable[[float, str], None] | None = None,
    ) -> Sampler:
        return make_sampler(data, split, int(seed), progress, self.splits)


def sample_episode(
    data: DataConfig, split: str, seed: int, index: int, cache: SamplerCache | None = None
) -> Episode:
    """Episode ``index`` of ``split`` drawn with ``seed``: the one the episode browser shows for
    the same settings."""
    if index < 0:
        raise ConfigError("index", f"episode index must be 0 or more, got {index}")
    sampler = (cache or SamplerCache()).get(data, split, seed)
    if isinstance(sampler, EpisodeSampler):
        sampler.images.check_episode_shape(sampler.ways, sampler.shots, sampler.queries)
    return sampler[index]


def episode_data(episode: Episode, data: DataConfig) -> DataConfig:
    """``data`` with the ways/shots/queries of ``episode`` (a handed-over episode may have been
    drawn with other settings than the model's)."""
    from dataclasses import replace

    if episode.is_regression:
        return replace(data, shots=episode.support_x.shape[0], queries=episode.query_x.shape[0])
    return replace(
        data,
        ways=episode.ways,
        shots=episode.shots,
        queries=episode.queries,
        image_size=int(episode.support_x.shape[-1]),
    )


# -- one episode -------------------------------------------------------------------------------


@dataclass
class EpisodeAdaptation:
    """What adapting one model to one episode did (``trace`` has steps 0..S)."""

    label: str
    detail: str
    trace: AdaptationTrace
    seconds: float = 0.0


def adapt_episode(
    model: LoadedModel, episode: Episode, steps: int, inner_lr: float | None = None
) -> EpisodeAdaptation:
    """`Learner.adapt` for the viewer: with the curve grid for regression models."""
    if steps < 0:
        raise ConfigError("steps", f"must be 0 or more, got {steps}")
    if not episode.is_regression:
        channels = next(
            (p.shape[1] for p in model.learner.model.parameters() if p.dim() == 4), None
        )
        if channels is not None and episode.support_x.shape[1] != channels:
            raise ConfigError(
                "data.dataset",
                f"{model.label} takes {channels}-channel images; the "
                f"episode's images have {episode.support_x.shape[1]}",
            )
    grid = curve_grid() if episode.is_regression else None
    tick = time.perf_counter()
    trace = model.learner.adapt(episode, steps, inner_lr, grid=grid)
    return EpisodeAdaptation(model.label, model.detail, trace, time.perf_counter() - tick)


def adapt_models(
    models: Sequence[LoadedModel],
    episode: Episode,
    data: DataConfig,
    steps: int,
    inner_lr: float | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
) -> list[EpisodeAdaptation]:
    """Adapt every model to the same episode (``data`` describes how it was drawn)."""
    for model in models:
        check_compatible(model.config, data)
    out: list[EpisodeAdaptation] = []
    for i, model in enumerate(models):
        if cancel is not None and cancel.is_set():
            break
        out.append(adapt_episode(model, episode, steps, inner_lr))
        if progress is not None:
            progress(i + 1, len(models))
    return out


# -- many episodes -----------------------------------------------------------------------------


@dataclass
class Aggregate:
    """One model's evaluation over M episodes (`result` is exactly `evaluate`'s), plus the
    per-step spread of the losses and each episode's final query loss, which regression
    models are judged by."""

    label: str
    result: EvaluationResult
    support_loss_ci95_per_step: list[float] = field(default_factory=list)
    query_loss_ci95_per_step: list[float] = field(default_factory=list)
    episode_query_loss: list[float] = field(default_factory=list)

    @property
    def regression(self) -> bool:
        return self.result.accuracy is None


class _Recorder:
    """Passes `adapt` through to the learner and keeps every trace (for the loss spreads)."""

    def __init__(self, learner: Learner) -> None:
        self.learner = learner
        self.traces: list[AdaptationTrace] = []

    def adapt(
        self,
        episode: Episode,
        steps: int,
        inner_lr: float | None = None,
        grid: torch.Tensor | None = None,
    ) -> AdaptationTrace:
        trace = self.learner.adapt(episode, steps, inner_lr, grid)
        self.traces.append(trace)
        return trace


def aggregate_sampler(
    config: ExperimentConfig, split: str, seed: int, data: DataConfig | None = None
) -> Sampler:
    """The test episodes of the protocol: `evaluation_sampler` on ``config`` with ``eval.seed`` set to
    ``seed`` (and its data replaced by ``data`` when given)."""
    cfg = config.copy()
    if data is not None:
        cfg.data = DataConfig(**vars(data))
    cfg.eval.seed = int(seed)
    sampler = evaluation_sampler(cfg, split)
    if isinstance(sampler, EpisodeSampler):
        sampler.images.check_episode_shape(sampler.ways, sampler.shots, sampler.queries)
    return sampler


def aggregate(
    model: LoadedModel,
    sampler: Sampler,
    episodes: int,
    steps: int,
    split: str,
    inner_lr: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Aggregate:
    """`evaluate` of one model on ``episodes`` episodes of ``sampler``."""
    if episodes < 1:
        raise ConfigError("episodes", f"must be at least 1, got {episodes}")
    if steps < 0:
        raise ConfigError("steps", f"must be 0 or more, got {steps}")
    recorder = _Recorder(model.learner)
    result = evaluate(
        recorder,
        sampler,
        episodes,
        steps,
        inner_lr=inner_lr,
        progress=progress,
        cancel=cancel,
        split=split,
    )
    out = Aggregate(model.label, result)
    traces = recorder.traces
    if traces:
        s = result.steps
        q = np.array([t.query_loss[: s + 1] for t in traces], dtype=np.float64)
        sup = np.array([t.support_loss[: s + 1] for t in traces], dtype=np.float64)
        out.query_loss_ci95_per_step = mean_ci95(q)[1].tolist()
        out.support_loss_ci95_per_step = mean_ci95(sup)[1].tolist()
        out.episode_query_loss = q[:, -1].tolist()
    return out


def aggregate_models(
    models: Sequence[LoadedModel],
    data: DataConfig,
    split: str,
    seed: int,
    episodes: int,
    steps: int,
    inner_lr: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> list[Aggregate]:
    """`aggregate` for every model on the same episodes: the test sampler of the first model
    with its data replaced by ``data`` (for a saved run with its own data settings and
    ``seed == eval.seed`` this is exactly `workbench eval`'s sampler)."""
    if not models:
        return []
    for model in models:
        check_compatible(model.config, data)
    sampler = aggregate_sampler(models[0].config, split, seed, data)
    total = episodes * len(models)
    out: list[Aggregate] = []
    for i, model in enumerate(models):

        def report(done: int, _total: int, base: int = i * episodes) -> None:
            if progress is not None:
                progress(base + done, total)

        agg = aggregate(model, sampler, episodes, steps, split, inner_lr, report, cancel)
        out.append(agg)
        if agg.result.cancelled:
            break
    return out


# -- what the viewer's background jobs run ------------------------------------------------------


SnapshotFn = Callable[[], dict[str, Any]]


def load_models(
    sources: Sequence[ModelSource],
    snapshot: SnapshotFn | None = None,
    device: torch.device | None = None,
) -> list[LoadedModel]:
    """A fresh learner per source; ``snapshot()`` is called once, only for a ``live`` source."""
    if not sources:
        raise ConfigError("model", "choose a model to adapt first")
    if len(sources) > MAX_MODELS:
        raise ConfigError("model", f"at most {MAX_MODELS} models can be compared at once")
    taken: dict[str, Any] | None = None
    out = []
    for source in sources:
        snap = None
        if source.kind == LIVE:
            if snapshot is None:
                raise RunError("no run is being trained now")
            taken = taken if taken is not None else snapshot()
            snap = taken
        out.append(load_model(source, snapshot=snap, device=device))
    return out


@dataclass
class EpisodeRequest:
    """Which episode to adapt to: a handed-over ``episode`` (drawn with ``data``), or episode
    ``index`` of ``split`` with ``seed`` under ``data`` (None: the first model's data)."""

    split: str
    seed: int
    index: int
    data: DataConfig | None = None
    episode: Episode | None = None


@dataclass
class EpisodeResult:
    """The episode, how it was drawn, and each model's adaptation to it."""

    episode: Episode
    data: DataConfig
    split: str
    seed: int
    index: int
    steps: int
    inner_lr: float | None
    adaptations: list[EpisodeAdaptation]
    handed_over: bool = False

    @property
    def regression(self) -> bool:
        return self.episode.is_regression

    def protocol(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "seed": self.seed,
            "index": self.index,
            "inner_lr": "" if self.inner_lr is None else self.inner_lr,
        }


def adapt_sources(
    sources: Sequence[ModelSource],
    request: EpisodeRequest,
    steps: int,
    inner_lr: float | None = None,
    *,
    snapshot: SnapshotFn | None = None,
    cache: SamplerCache | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
) -> EpisodeResult:
    """Load the models, draw (or take) the episode and adapt every model to it."""
    models = load_models(sources, snapshot)
    base = request.data or models[0].config.data
    if request.episode is not None:
        episode = request.episode
    else:
        episode = sample_episode(base, request.split, request.seed, request.index, cache)
    data = episode_data(episode, base)
    adaptations = adapt_models(models, episode, data, steps, inner_lr, cancel, progress)
    return EpisodeResult(
        episode,
        data,
        request.split,
        int(request.seed),
        int(request.index),
        steps,
        inner_lr,
        adaptations,
        request.episode is not None,
    )


def aggregate_sources(
    sources: Sequence[ModelSource],
    split: str,
    seed: int,
    episodes: int,
    steps: int,
    inner_lr: float | None = None,
    *,
    snapshot: SnapshotFn | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> list[Aggregate]:
    """Load the models and run the protocol on the first model's data settings."""
    models = load_models(sources, snapshot)
    return aggregate_models(
        models, models[0].config.data, split, seed, episodes, steps, inner_lr, progress, cancel
    )


# -- export ------------------------------------------------------------------------------------


def write_episode_csv(
    path: str | Path, adaptations: Sequence[EpisodeAdaptation], protocol: dict[str, Any]
) -> Path:
    """One row per model and inner step: support/query loss and accuracy (step 0 = before)."""
    path = Path(path)
    keys = list(protocol)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "model",
                "step",
                "support_loss",
                "query_loss",
                "support_accuracy",
                "query_accuracy",
                *keys,
            ]
        )
        for a in adaptations:
            t = a.trace
            for s in range(t.steps + 1):
                w.writerow(
                    [
                        a.label,
                        s,
                        t.support_loss[s],
                        t.query_loss[s],
                        t.support_accuracy[s] if t.support_accuracy else "",
                        t.query_accuracy[s] if t.query_accuracy else "",
                        *(protocol[k] for k in keys),
                    ]
                )
    return path


def write_aggregate_csv(path: str | Path, aggregates: Sequence[Aggregate]) -> Path:
    """One row per model and inner step: means and 95% CI half-widths, with the protocol."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "model",
                "step",
                "support_accuracy",
                "support_accuracy_ci95",
                "query_accuracy",
                "query_accuracy_ci95",
                "support_loss",
                "support_loss_ci95",
                "query_loss",
                "query_loss_ci95",
                "episodes",
                "split",
                "seed",
            ]
        )
        for a in aggregates:
            r = a.result
            for s in range(r.steps + 1):
                acc = (
                    [
                        r.support_accuracy_per_step[s],
                        r.support_accuracy_ci95_per_step[s],
                        r.query_accuracy_per_step[s],
                        r.query_accuracy_ci95_per_step[s],
                    ]
                    if r.query_accuracy_per_step
                    else ["", "", "", ""]
                )
                w.writerow(
                    [
                        a.label,
                        s,
                        *acc,
                        r.support_loss_per_step[s],
                        a.support_loss_ci95_per_step[s] if a.support_loss_ci95_per_step else "",
                        r.query_loss_per_step[s],
                        a.query_loss_ci95_per_step[s] if a.query_loss_ci95_per_step else "",
                        r.episodes,
                        r.split,
                        r.seed,
                    ]
                )
    return path


def protocol_text(result: EvaluationResult) -> str:
    """The protocol that produced a number, to show next to it."""
    cut = " (cancelled)" if result.cancelled else ""
    return (
        f"{result.episodes} episodes of the {result.split or '?'} split, seed {result.seed}, "
        f"{result.steps} inner steps{cut}"
    )
