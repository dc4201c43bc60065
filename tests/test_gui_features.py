"""The Features view: Analyse in the background with progress, each tab showing exactly what
the engine computed (scatter points = the projection, bars = the CKA means, top images = the
engine's arg-max), the command's JSON equal to the view's, clear messages for a damaged run,
and a window that keeps answering while t-SNE runs."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, QTimer
from run_helpers import train_run

from workbench.cli import main
from workbench.gui.context import GuiContext
from workbench.gui.features.view import FeaturesView

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = [
    "train.iterations=5",
    "train.eval_every=5",
    "train.val_episodes=4",
    "train.meta_batch_size=2",
    "train.checkpoint_every=5",
    "train.device=cpu",
]
WAIT = 300_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("features-gui-runs")
    return {
        "root": root,
        "fomaml": train_run(root, "demo", TINY),
        "finetune": train_run(root, "demo", TINY + ["algorithm.name=finetune"]),
    }


@pytest.fixture
def view(qtbot, tmp_path, runs):
    context = GuiContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    context.set_runs_dir(runs["root"])
    v = FeaturesView(context)
    qtbot.addWidget(v)
    v.resize(1280, 800)
    v.show()
    qtbot.waitUntil(lambda: not v.listing.running, timeout=60_000)
    yield v
    v.shutdown()


def _small(view: FeaturesView, run: Path, compare: list[str], tsne_classes: int = 4) -> None:
    assert view.panel.select_run(str(run))
    view.panel.set_compared(compare)
    view.panel.classes.setValue(tsne_classes)
    view.panel.per_class.setValue(5)
    view.panel.episodes.setValue(3)
    view.panel.steps.setValue(2)


def _analyse(qtbot, view: FeaturesView) -> None:
    view.analyse()
    assert view.panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not view.task.running, timeout=WAIT)
    assert view.message.text() == "", view.message.text()
    assert view.report is not None


def test_tabs_show_what_the_engine_computed(qtbot, view, runs, tmp_path):
    _small(view, runs["fomaml"], ["baseline", "random"])
    _analyse(qtbot, view)
    report = view.report
    assert [m.label for m in report.models][1].startswith("Fine-tuning baseline")
    # embedding: the scatter points are the projection of exactly the engine's features
    emb = view.embedding
    for i, m in enumerate(report.models):
        x, y = emb.scatters[i].getData()
        assert np.allclose(np.c_[x, y], m.pca_after)
    emb.set_step(0)
    x, y = emb.scatters[0].getData()
    assert np.allclose(np.c_[x, y], report.models[0].pca_before)
    # the slider over inner steps: each step's features on the same PCA axes
    assert len(report.models[0].pca_steps) == report.steps + 1 == emb.last_step() + 1
    emb.set_step(1)
    x, y = emb.scatters[0].getData()
    assert np.allclose(np.c_[x, y], report.models[0].pca_steps[1])
    assert np.allclose(report.models[0].pca_steps[-1], report.models[0].pca_after)
    emb.set_step(0)
    emb.method.setCurrentIndex(emb.method.findData("tsne"))
    x, y = emb.scatters[0].getData()
    assert np.allclose(np.c_[x, y], report.models[0].tsne_before)
    emb.show_point(0, 7)
    name = report.probe.class_names[int(report.probe.labels[7])]
    assert name in emb.detail_text.text() and emb.detail_image.pixmap() is not None
    # representation change: one bar per model and layer at the CKA mean
    drawn = [list(np.nan_to_num(b.opts["height"])) for b in view.change.bars]
    expected = [[c.cka[layer].mean or 0.0 for layer in c.layers] for c in report.changes]
    assert np.allclose(drawn, expected)
    assert view.change.table.rowCount() == len(report.models)
    # filters: one picture per model; activations: the engine's top and bottom images
    assert len(view.filters.images) == len(report.models)
    view.activations.layer_combo.setCurrentIndex(1)
    view.activations.channel.setValue(3)
    shown = view.activations.shown()
    acts = report.models[0].before[view.activations.layer_combo.currentText()]
    means = acts.flatten(2).mean(-1)[:, 3] if acts.dim() > 2 else acts[:, 3]
    assert shown.top[0] == int(torch.argmax(means)) and shown.bottom[0] == int(torch.argmin(means))
    # exports
    view.tabs.setCurrentWidget(view.change)
    assert view.export_tab_png(tmp_path / "tab.png").stat().st_size > 1000
    saved = json.loads(view.export_json(tmp_path / "view.json").read_text())
    assert saved == json.loads(json.dumps(report.to_dict()))
    _check_projector(view, tmp_path / "tb")
    assert view.export_cka_csv(tmp_path / "cka.csv").read_text().count("\n") == 1 + sum(
        len(c.layers) for c in report.changes
    )


def test_the_commands_json_equals_what_the_view_shows(qtbot, view, runs, tmp_path):
    _small(view, runs["fomaml"], ["random"])
    _analyse(qtbot, view)
    out = tmp_path / "cli"
    argv = ["features", str(runs["fomaml"]), "--compare", "random", "--out", str(out)]
    argv += ["--classes", "4", "--images-per-class", "5", "--episodes", "3", "--steps", "2"]
    assert main(argv + ["--quiet"]) == 0
    command = json.loads((out / "features.json").read_text())
    shown = json.loads(json.dumps(view.report.to_dict()))
    for a, b in zip(command["models"], shown["models"], strict=True):
        for key in ("representation_change", "episode", "pca", "extremes", "tsne"):
            assert a[key] == b[key], key


def test_a_damaged_checkpoint_is_a_message(qtbot, view, runs, tmp_path):
    broken = runs["root"] / "broken-copy"
    shutil.copytree(runs["fomaml"], broken)
    for pt in broken.rglob("*.pt"):
        pt.write_bytes(b"not a checkpoint")
    view.refresh_runs()
    qtbot.waitUntil(lambda: not view.listing.running, timeout=60_000)
    _small(view, broken, ["random"])
    view.analyse()
    qtbot.waitUntil(lambda: not view.task.running, timeout=WAIT)
    assert "checkpoint" in view.message.text().lower()
    assert view.panel.analyse_button.isEnabled()
    shutil.rmtree(broken)


def test_window_answers_during_tsne(qtbot, view, runs):
    """An event-loop probe: a 50 ms timer keeps ticking while 400 points are laid out."""
    _small(view, runs["fomaml"], [], tsne_classes=20)
    view.panel.per_class.setValue(20)
    view.panel.episodes.setValue(0)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(50)
    _analyse(qtbot, view)
    timer.stop()
    assert len(view.report.probe.labels) == 400
    gaps = np.diff(ticks)
    assert len(ticks) > 10 and gaps.max() < 2.0  # generous: a shared machine


def _check_projector(view: FeaturesView, folder: Path) -> None:
    """TensorBoard's projector reads its config with its own protobuf: one embedding per model
    and moment, whose tensor is the engine's features and whose metadata are the classes."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    view.export_projector(folder)
    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), ProjectorConfig())
    report = view.report
    assert len(config.embeddings) == 2 * len(report.models)
    first = config.embeddings[0]
    assert "before" in first.tensor_name and first.sprite.single_image_dim == [28, 28]
    tensor = np.loadtxt(folder / first.tensor_path, delimiter="\t")
    assert np.allclose(tensor, report.models[0].features_before.numpy(), atol=1e-5)
    names = (folder / first.metadata_path).read_text().splitlines()
    assert names == [report.probe.class_names[int(c)] for c in report.probe.labels]
    assert (folder / first.sprite.image_path).stat().st_size > 1000


def test_embedding_over_steps_as_a_gif(qtbot, view, runs, tmp_path, monkeypatch):
    from PIL import Image

    from workbench.gui.widgets import animation

    _small(view, runs["fomaml"], [])
    view.panel.episodes.setValue(0)
    _analyse(qtbot, view)
    chosen = animation.AnimationSettings(seconds=1, fps=6, width=480)
    monkeypatch.setattr(animation, "ask_animation_settings", lambda *a: chosen)
    monkeypatch.setattr(animation, "ask_gif_path", lambda *a: str(tmp_path / "emb.gif"))
    view.embedding.set_step(1)
    recorder = view.export_embedding_gif()
    with qtbot.waitSignal(recorder.saved, timeout=WAIT) as saved:
        pass
    gif = Image.open(saved.args[0])
    assert gif.n_frames == 6 and gif.size[0] == 480
    assert view.embedding.step() == 1  # restored
