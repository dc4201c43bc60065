"""t-SNE of the features view's default set: 400 points (20 classes x 20 images), scikit-learn's
TSNE against openTSNE, seconds each, on this machine.

The view embeds the penultimate features of its probe images: 32-d for the demo's Conv4 (32
filters), 64-d for the Omniglot presets' Conv4 (64 filters), 800-d for mini-ImageNet's (32 x 5
x 5). Points are class clusters in that many dimensions (or, with ``--run``, the real
penultimate features of a saved run's 400 probe images). Both libraries run single-threaded
with the same perplexity (30), PCA initialisation and 750 iterations (250 of early
exaggeration). scikit-learn's ``n_jobs=1`` still lets its Barnes-Hut gradient use every OpenMP
thread; on a busy machine those threads wait for each other, so it is also timed with OpenMP
limited to one thread (threadpoolctl). "engine" is `workbench.engine.features.projection.tsne`, openTSNE with the
progress callback every 25 iterations the view uses. Target: under 5 s for 400 points.

Usage::

    python benchmarks/tsne.py                       # 32, 64 and 800 dimensions, 3 repeats
    python benchmarks/tsne.py --run RUN_DIR         # the real features of a run's probe images
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def clusters(points: int, dims: int, classes: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dims)) * 2.0
    labels = np.arange(points) % classes
    return (centres[labels] + rng.normal(size=(points, dims))).astype(np.float32)


def run_features(run_dir: str) -> np.ndarray:
    import torch

    from workbench.engine.features.activations import adapt, capture, penultimate
    from workbench.engine.features.probe import probe_set
    from workbench.engine.features.sources import load_analysed, run_source

    model = load_analysed([run_source(run_dir)])[0]
    probe = probe_set(model.config.data)
    with torch.no_grad():
        start = adapt(model.learner, _first_episode(model), 0).before
    return penultimate(capture(model.learner, start, probe.images)).numpy()


def _first_episode(model):
    from workbench.engine.adaptation import aggregate_sampler

    return aggregate_sampler(model.config, "test", 0)[0]


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def measure(x: np.ndarray, repeats: int) -> dict[str, float]:
    from openTSNE import TSNE as OpenTSNE
    from sklearn.manifold import TSNE as SkTSNE
    from threadpoolctl import threadpool_limits

    from workbench.engine.features.projection import tsne

    def sklearn_tsne() -> None:
        SkTSNE(2, perplexity=30, init="pca", random_state=0, n_jobs=1).fit_transform(x)

    def sklearn_one_thread() -> None:
        with threadpool_limits(1):
            sklearn_tsne()

    return {
        "scikit-learn": timed(sklearn_tsne, repeats),
        "scikit-learn (OpenMP 1 thread)": timed(sklearn_one_thread, repeats),
        "openTSNE": timed(
            lambda: OpenTSNE(2, perplexity=30, initialization="pca", random_state=0, n_jobs=1).fit(
                x
            ),
            repeats,
        ),
        "engine (openTSNE + progress)": timed(
            lambda: tsne(x, perplexity=30, seed=0, progress=lambda f, t: None), repeats
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=400)
    p.add_argument("--dims", type=int, nargs="+", default=[32, 64, 800])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--run", default=None, help="use a run's real penultimate features")
    args = p.parse_args()
    import openTSNE
    import sklearn

    sets = {f"{args.points} x {d} (clusters)": clusters(args.points, d) for d in args.dims}
    if args.run:
        features = run_features(args.run)
        sets = {f"{features.shape[0]} x {features.shape[1]} ({args.run})": features}
    print(
        f"scikit-learn {sklearn.__version__}, openTSNE {openTSNE.__version__}; single thread, "
        f"median of {args.repeats}"
    )
    for name, x in sets.items():
        results = measure(x, args.repeats)
        line = ", ".join(f"{lib} {sec:.2f} s" for lib, sec in results.items())
        worst = max(results.values())
        print(f"{name}: {line}  [{'OK' if worst < 5 else 'OVER'} target 5 s]")


if __name__ == "__main__":
    main()
