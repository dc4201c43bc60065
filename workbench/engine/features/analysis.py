"""The whole features analysis of a run and its comparison models, as one background job.

`analyse` is what ``workbench features`` runs and what a view can run in a ``BackgroundTask``:
load the models (`sources`), draw the probe images (`probe`) and the test episodes of the
evaluation protocol, then for each model the pictures of one episode (`snapshot`), the t-SNE
layouts and the representation change over many episodes (`change`), reporting progress as a
fraction with a line of text and stopping with `Cancelled` when asked.

Every model is analysed on the *run's* data: the same probe images and the same episodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.data.split_cache import SplitCache
from workbench.engine.adaptation import ModelSource, SnapshotFn, aggregate_sampler
from workbench.engine.features.change import RepresentationChange, representation_change
from workbench.engine.features.probe import DEFAULT_CLASSES, DEFAULT_PER_CLASS, probe_set
from workbench.engine.features.progress import CancelledFn, ProgressFn, check, part
from workbench.engine.features.projection import TSNE_LIBRARY
from workbench.engine.features.report import FeaturesReport
from workbench.engine.features.saliency import LIBRARY as SALIENCY_LIBRARY
from workbench.engine.features.snapshot import ModelFeatures, add_tsne, model_features
from workbench.engine.features.sources import load_analysed
from workbench.errors import ConfigError

#: the share of the work one model's pictures, t-SNE and one CKA episode are counted as
_SNAPSHOT, _TSNE, _EPISODE = 1.0, 2.0, 0.25


@dataclass
class FeaturesRequest:
    """What to analyse and how: ``sources[0]`` is the run, the others its comparison models.

    The probe set is ``classes`` x ``per_class`` images of ``split`` drawn with ``seed``; the
    episodes are the evaluation protocol's episodes of ``split`` with ``seed`` (the pictures
    show episode ``episode_index``; CKA averages over episodes ``0..episodes-1``); ``steps``
    inner steps (None: the run's ``eval.inner_steps``). ``episodes = 0`` skips the CKA.
    """

    sources: list[ModelSource]
    classes: int = DEFAULT_CLASSES
    per_class: int = DEFAULT_PER_CLASS
    split: str = "test"
    seed: int = 0
    episodes: int = 20
    steps: int | None = None
    episode_index: int = 0
    inner_lr: float | None = None
    tsne: bool = True
    perplexity: float = 30.0
    smoothgrad: int = 20
    top_k: int = 8

    def check(self) -> None:
        if self.episodes < 0:
            raise ConfigError("--episodes", f"must be 0 or more, got {self.episodes}")
        if self.steps is not None and self.steps < 0:
            raise ConfigError("--steps", f"must be 0 or more, got {self.steps}")
        if self.episode_index < 0:
            raise ConfigError("--episode", f"must be 0 or more, got {self.episode_index}")
        if self.smoothgrad < 0:
            raise ConfigError("--smoothgrad", f"must be 0 or more, got {self.smoothgrad}")
        if self.top_k < 1:
            raise ConfigError("--top", f"must be at least 1, got {self.top_k}")


def _weights(request: FeaturesRequest, models: int) -> list[float]:
    """Cumulative progress fractions at the start of each stage of each model."""
    per_model = [_SNAPSHOT, _TSNE if request.tsne else 0.0, _EPISODE * request.episodes]
    stages = per_model * models
    total = sum(stages) or 1.0
    marks, at = [], 0.0
    for w in stages:
        marks.append(at / total)
        at += w
    return marks + [1.0]


def analyse(
    request: FeaturesRequest,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    splits: SplitCache | None = None,
    snapshot: SnapshotFn | None = None,
) -> FeaturesReport:
    """Run the analysis ``request`` asks for (see the module docstring); ``snapshot()`` gives
    the parameters of a ``live`` source, ``splits`` the cache of loaded images (default: the
    process's shared one)."""
    request.check()
    report = part(progress, 0.0, 1.0)
    report(0.0, "loading models")
    models = load_analysed(request.sources, snapshot=snapshot)
    main = models[0]
    steps = main.config.eval.inner_steps if request.steps is None else request.steps
    probe = probe_set(
        main.config.data, request.split, request.classes, request.per_class, request.seed, splits
    )
    sampler = aggregate_sampler(main.config, request.split, request.seed)
    episode = sampler[request.episode_index]
    marks = _weights(request, len(models))
    pictures: list[ModelFeatures] = []
    changes: list[RepresentationChange] = []
    for i, model in enumerate(models):
        m = 3 * i
        check(cancelled)
        report(marks[m], f"{model.label}: filters, features, saliency")
        features = model_features(
            model,
            probe,
            episode,
            steps,
            inner_lr=request.inner_lr,
            top_k=request.top_k,
            smoothgrad=request.smoothgrad,
            seed=request.seed,
        )
        if request.tsne:
            add_tsne(
                features,
                perplexity=request.perplexity,
                seed=request.seed,
                progress=part(progress, marks[m + 1], marks[m + 2]),
                cancelled=cancelled,
            )
        pictures.append(features)
        if request.episodes:
            changes.append(
                representation_change(
                    model,
                    probe,
                    sampler,
                    request.episodes,
                    steps,
                    inner_lr=request.inner_lr,
                    progress=part(progress, marks[m + 2], marks[m + 3]),
                    cancelled=cancelled,
                )
            )
    report(1.0, "done")
    return FeaturesReport(
        probe,
        episode,
        request.episode_index,
        steps,
        pictures,
        changes,
        TSNE_LIBRARY if request.tsne else "",
        SALIENCY_LIBRARY,
    )
