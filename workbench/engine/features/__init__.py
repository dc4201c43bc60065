"""Features: what a (meta-)learned network has learned, against standard training.

Qt-free; the command ``workbench features`` and the Features view both build on it. The parts,
each a small module with one job:

``sources``      which models: a run's checkpoint and the adaptation viewer's comparison models
                 (`workbench.engine.adaptation.ModelSource`: another run, the fine-tuning
                 baseline, a random initialisation); clear errors for sinusoid runs, missing or
                 damaged checkpoints and comparison models of another architecture
``probe``        the fixed set of test images (classes x images per class, chosen with a seed)
``activations``  each layer's activations under given parameters (forward hooks on the model
                 called through ``functional_call``); `adapt` gives the parameters at each inner
                 step of the learner's own adaptation to an episode
``filters``      the first layer's weights as images (exact), and `normalise` for display
``projection``   PCA (scikit-learn) and t-SNE (openTSNE, with progress and cancel)
``separation``   silhouette and leave-one-out nearest-centroid accuracy
``top_images``   the images that activate a channel most and least
``saliency``     gradient of a class score with respect to the pixels, SmoothGrad (Captum)
``cka``          linear CKA (Kornblith et al. 2019)
``change``       CKA per layer before/after adaptation over many episodes, mean and 95% CI
``snapshot``     all of the above for one model on one episode
``analysis``     the whole analysis of a run and its comparison models (`analyse`)
``report``       the result as one object and as JSON
``render``       PNG pictures drawn with Pillow (no Qt, no matplotlib)

Long computations take ``progress(fraction, text)`` and ``cancelled() -> bool`` callables and
raise `Cancelled` when cancelled (`workbench.engine.features.progress`). Example::

    from workbench.engine.features import FeaturesRequest, analyse, resolve_compare, run_source

    request = FeaturesRequest([run_source(run), resolve_compare("baseline", run)], episodes=50)
    report = analyse(request, progress=lambda f, text: print(f"{f:.0%} {text}"))
    report.to_dict()["models"][0]["representation_change"]["cka"]["conv4"]["mean"]
"""

from workbench.engine.features.analysis import FeaturesRequest, analyse
from workbench.engine.features.progress import Cancelled
from workbench.engine.features.report import FeaturesReport
from workbench.engine.features.sources import resolve_compare, run_source

__all__ = [
    "Cancelled",
    "FeaturesReport",
    "FeaturesRequest",
    "analyse",
    "resolve_compare",
    "run_source",
]
