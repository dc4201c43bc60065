"""The Adaptation view: what it shows equals the engine's numbers, and it stays responsive."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QSettings, QTimer
from run_helpers import train_run

from workbench.config import parse_overrides
from workbench.engine import adaptation as ad
from workbench.engine.evaluation_run import evaluate_run, load_run_learner
from workbench.engine.trainer import Trainer
from workbench.gui.adaptation import grid as agrid
from workbench.gui.adaptation.models import LIVE_KEY
from workbench.gui.adaptation.tables import mse, percent
from workbench.gui.adaptation.view import AdaptationView
from workbench.gui.context import GuiContext
from workbench.gui.theme import DARK
from workbench.presets import load_preset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = [
    "train.iterations=5",
    "train.eval_every=5",
    "train.val_episodes=4",
    "train.meta_batch_size=2",
    "train.checkpoint_every=5",
    "train.device=cpu",
]
WAIT = 120_000  # ms: generous, the test machine is shared


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    glyphs = tmp_path_factory.mktemp("glyph-runs")
    sin = tmp_path_factory.mktemp("sinusoid-runs")
    return {
        "glyphs": glyphs,
        "fomaml": train_run(glyphs, "demo", TINY),
        "finetune": train_run(glyphs, "demo", TINY + ["algorithm.name=finetune"]),
        "sin_dir": sin,
        "sinusoid": train_run(sin, "sinusoid-maml", TINY + ["train.meta_batch_size=5"]),
    }


def _view(qtbot, tmp_path: Path, runs_dir: Path) -> AdaptationView:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    context = GuiContext(settings)
    context.set_runs_dir(runs_dir)
    view = AdaptationView(context)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    return view


def _adapt(qtbot, view: AdaptationView) -> ad.EpisodeResult:
    with qtbot.waitSignal(view.adapted, timeout=WAIT) as blocker:
        view.adapt()
    assert view.message.text() == ""
    return blocker.args[0]


@pytest.fixture
def glyph_view(qtbot, tmp_path, runs):
    view = _view(qtbot, tmp_path, runs["glyphs"])
    assert view.panel.models.set_primary(str(runs["fomaml"]))
    yield view
    view.shutdown()


def test_numbers_shown_equal_learner_adapt(qtbot, glyph_view, runs):
    view = glyph_view
    view.panel.models.set_compared(lambda s: s.baseline)
    view.panel.set_episode("test", 77, 3)
    view.panel.steps_spin.setValue(6)
    result = _adapt(qtbot, view)
    assert [a.label for a in result.adaptations] == ["fomaml", "Fine-tuning baseline"]

    config, learner, _ = load_run_learner(runs["fomaml"], "best")
    episode = ad.sample_episode(config.data, "test", 77, 3)
    expected = learner.adapt(episode, 6)
    shown = result.adaptations[0].trace
    assert torch.equal(result.episode.query_x, episode.query_x)
    assert shown.query_accuracy == expected.query_accuracy
    assert shown.support_accuracy == expected.support_accuracy
    assert shown.query_predictions == expected.query_predictions

    # step 0 is the unadapted model; the table says so, and so do the images
    net = learner.model.eval()
    with torch.no_grad():
        before = (net(episode.query_x).argmax(-1) == episode.query_y).float().mean().item()
    view.set_step(0)
    assert shown.query_accuracy[0] == pytest.approx(before)
    assert view.table.cell_text(0, 2) == f"{percent(before)} → {percent(before)}"
    view.set_step(6)
    assert (
        view.table.cell_text(0, 2) == f"{percent(before)} → {percent(expected.query_accuracy[6])}"
    )
    support = episode.ways * episode.shots
    for j, (p, y) in enumerate(zip(expected.query_predictions[6], episode.query_y.tolist())):
        color = view._theme.good if p == y else view._theme.bad
        assert view.grid.border(agrid.SECTION, support + j) == color
        assert view.grid.caption(agrid.SECTION, support + j).startswith(f"→{p} ")
    # the curves plot holds the same numbers
    curves = {
        item.export_name: item.yData.tolist()
        for item in view.curves.acc_plot.getPlotItem().listDataItems()
    }
    assert curves["fomaml · query accuracy"] == pytest.approx(
        [100 * v for v in expected.query_accuracy]
    )


def test_adapt_runs_in_the_background(qtbot, glyph_view):
    view = glyph_view
    view.panel.steps_spin.setValue(40)
    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(view.is_busy()))
    timer.start()
    try:
        with qtbot.waitSignal(view.adapted, timeout=WAIT):
            view.adapt()
            assert view.is_busy()  # adapt() returned at once: the work is elsewhere
    finally:
        timer.stop()
    assert any(ticks), "the event loop did not run while adapting"
    assert view.result().adaptations[0].trace.steps == 40
    assert view.slider.maximum() == 40 and view.selected_step() == 40


def test_aggregate_equals_workbench_eval_and_cancels(qtbot, glyph_view, runs):
    view = glyph_view
    p = view.panel
    p.steps_spin.setValue(3)
    p.episodes_spin.setValue(5)
    p.agg_split_combo.setCurrentText("test")
    assert p.agg_seed_spin.value() == 1234  # the run's eval.seed
    with qtbot.waitSignal(view.aggregated, timeout=WAIT) as blocker:
        view.aggregate()
    [agg] = blocker.args[0]
    reference = evaluate_run(runs["fomaml"], episodes=5, steps=3, split="test", record=False)
    assert agg.result.accuracy == pytest.approx(reference.accuracy)
    assert agg.result.ci95 == pytest.approx(reference.ci95)
    assert agg.result.query_accuracy_per_step == pytest.approx(reference.query_accuracy_per_step)
    assert agg.result.support_accuracy_per_step == pytest.approx(
        reference.support_accuracy_per_step
    )
    assert (
        view.agg_table.cell_text(0, 2)
        == f"{percent(reference.accuracy)} ± {percent(reference.ci95)}"
    )
    assert "5 episodes of the test split, seed 1234, 3 inner steps" in view.protocol.text()
    assert "workbench eval" in view.protocol.text()

    # a long aggregate: the window keeps handling events, and Cancel ends it
    p.episodes_spin.setValue(5000)
    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    try:
        with qtbot.waitSignal(view.aggregation.task.progress, timeout=WAIT):
            view.aggregate()
        assert p.cancel_button.isEnabled() and p.progress.isVisible()
        with qtbot.waitSignal(view.aggregation.task.cancelled, timeout=WAIT):
            p.cancel_button.click()
    finally:
        timer.stop()
    assert ticks
    assert not view.aggregation.task.running and p.aggregate_button.isEnabled()
    assert not p.progress.isVisible()
    assert view.aggregates()[0].result.episodes == 5  # the finished aggregate stays shown
    assert view.aggregation.task.wait(WAIT)


def test_sinusoid_draws_one_curve_per_step(qtbot, tmp_path, runs):
    view = _view(qtbot, tmp_path, runs["sin_dir"])
    try:
        view.panel.steps_spin.setValue(5)
        result = _adapt(qtbot, view)
        trace = result.adaptations[0].trace
        assert result.regression and len(trace.curve_y) == 6
        assert view.picture.currentWidget() is view.fit
        for s in range(6):
            view.set_step(s)
            assert view.fit.curves_drawn() == 1
            x, y = view.fit.curve_data(0)
            assert y == pytest.approx(trace.curve_y[s])
            assert x == pytest.approx(trace.curve_x)
        assert (
            view.table.cell_text(0, 2) == f"{mse(trace.query_loss[0])} → {mse(trace.query_loss[5])}"
        )
        with qtbot.waitSignal(view.aggregated, timeout=WAIT) as blocker:
            view.panel.episodes_spin.setValue(3)
            view.aggregate()
        [agg] = blocker.args[0]
        reference = evaluate_run(runs["sinusoid"], episodes=3, steps=5, split="test", record=False)
        assert agg.result.mse == pytest.approx(reference.mse)
    finally:
        view.shutdown()


def test_episode_from_the_browser(qtbot, glyph_view):
    view = glyph_view
    config = parse_overrides(["data.queries=2"], load_preset("demo"))
    episode = ad.sample_episode(config.data, "val", 5, 9)
    with qtbot.waitSignal(view.adapted, timeout=WAIT) as blocker:
        view.show_episode(dict(config=config, split="val", seed=5, index=9, episode=episode))
    result = blocker.args[0]
    assert result.handed_over and result.episode is episode
    assert len(result.adaptations[0].trace.query_predictions[0]) == 5 * 2
    assert (
        view.panel.handed.isVisible()
        and "episode 9 of the val split" in view.panel.handed_label.text()
    )
    assert (view.panel.split(), view.panel.seed(), view.panel.index()) == ("val", 5, 9)

    # a sinusoid episode cannot be given to a glyph classifier: said in the view, not raised
    sin = load_preset("sinusoid-maml")
    wave = ad.sample_episode(sin.data, "test", 0, 0)
    with qtbot.waitSignal(view.episode.task.failed, timeout=WAIT):
        view.show_episode(dict(config=sin, split="test", seed=0, index=0, episode=wave))
    assert "cannot adapt to sinusoid episodes" in view.message.text()

    view.panel.index_spin.setValue(4)  # editing the episode leaves the handed-over one
    assert not view.panel.handed.isVisible()
    qtbot.waitUntil(
        lambda: (
            view.result() is not None and view.result().index == 4 and not view.result().handed_over
        ),
        timeout=WAIT,
    )


def test_play_animates_the_steps(qtbot, glyph_view):
    view = glyph_view
    view.panel.steps_spin.setValue(3)
    _adapt(qtbot, view)
    seen = []
    view.slider.valueChanged.connect(seen.append)
    view.toggle_play()
    assert view.is_playing() and view.selected_step() == 0
    qtbot.waitUntil(lambda: not view.is_playing(), timeout=10_000)
    assert seen == [0, 1, 2, 3]
    assert view.play_button.text() == "▶ Play"


def test_exports(qtbot, glyph_view, tmp_path):
    view = glyph_view
    view.panel.steps_spin.setValue(2)
    _adapt(qtbot, view)
    with qtbot.waitSignal(view.aggregated, timeout=WAIT):
        view.panel.episodes_spin.setValue(2)
        view.aggregate()
    rows = list(csv.DictReader(open(view.export_curves_csv(tmp_path / "c.csv"), encoding="utf-8")))
    assert [r["step"] for r in rows] == ["0", "1", "2"]
    assert float(rows[2]["query_accuracy"]) == pytest.approx(
        view.result().adaptations[0].trace.query_accuracy[2]
    )
    agg_rows = list(
        csv.DictReader(open(view.export_aggregate_csv(tmp_path / "a.csv"), encoding="utf-8"))
    )
    assert len(agg_rows) == 3 and agg_rows[0]["episodes"] == "2"
    pngs = {
        "curves": view.export_curves_png,
        "picture": view.export_picture_png,
        "aggregate": view.export_aggregate_png,
        "view": view.export_view,
    }
    for name, export in pngs.items():
        path = export(tmp_path / f"{name}.png")
        assert path.stat().st_size > 1000


def test_steps_gif_frames_size_and_last_frame(qtbot, glyph_view, tmp_path, monkeypatch):
    """Steps 0..3 as a GIF: the requested frames and width, the curves growing, the last frame
    what the view shows at the last step; the view goes back to the step it showed."""
    import numpy as np
    from PIL import Image

    from workbench.gui.adaptation.animation import render_step_frame
    from workbench.gui.widgets import animation

    view = glyph_view
    view.panel.steps_spin.setValue(3)
    _adapt(qtbot, view)
    view.set_step(1)
    assert view.export_menu.actions["steps_gif"].isEnabled()
    chosen = animation.AnimationSettings(seconds=2, fps=6, width=640)
    monkeypatch.setattr(animation, "ask_animation_settings", lambda *a: chosen)
    monkeypatch.setattr(animation, "ask_gif_path", lambda *a: str(tmp_path / "steps.gif"))
    recorder = view.export_steps_gif()
    with qtbot.waitSignal(recorder.saved, timeout=WAIT) as saved:
        pass
    gif = Image.open(saved.args[0])
    assert gif.n_frames == chosen.frames == 12
    episode = view.episode
    height = round(episode.height() * 640 / episode.width()) + animation.TIMELINE_PX
    assert gif.size == (640, height)
    assert view.selected_step() == 1  # restored
    assert len(view.curves.acc_plot.getPlotItem().listDataItems()[0].xData) == 4
    gif.seek(gif.n_frames - 1)
    last = np.asarray(gif.convert("RGB"), dtype=np.int16)[: -animation.TIMELINE_PX]
    view.set_step(3)
    expected = animation.compose_frame(episode.grab().toImage(), chosen, 11, "#fff", "#000")
    shown = np.asarray(animation.to_pil(expected), dtype=np.int16)[: -animation.TIMELINE_PX]
    assert last.shape == shown.shape and float(np.abs(last - shown).mean()) < 2.0
    render_step_frame(episode, 0, 12)  # the first frame: one point per curve, step 0
    assert len(view.curves.acc_plot.getPlotItem().listDataItems()[0].xData) == 1
    assert view.selected_step() == 0


def test_live_snapshot_and_theme(qtbot, tmp_path, runs):
    config = parse_overrides(TINY, load_preset("demo"))
    trainer = Trainer.create(config, tmp_path / "live-runs")
    view = _view(qtbot, tmp_path, runs["glyphs"])
    try:
        view.context.set_live_trainer(trainer)
        view.refresh_models()
        assert view.panel.models.set_primary(LIVE_KEY)
        view.panel.steps_spin.setValue(2)
        result = _adapt(qtbot, view)
        assert "live snapshot at iteration 0" in result.adaptations[0].detail
        episode = result.episode
        expected = trainer.learner.adapt(episode, 2)
        assert result.adaptations[0].trace.query_accuracy == expected.query_accuracy
        view.apply_theme(DARK)
        assert DARK.foreground in view.curves.legend.text()
    finally:
        view.shutdown()
        trainer.store.close()


def test_no_runs_and_screenshot_state(qtbot, tmp_path, runs):
    empty = _view(qtbot, tmp_path, tmp_path / "nothing")
    assert not empty.panel.adapt_button.isEnabled()
    assert "No saved runs" in empty.panel.models.detail.text()
    empty.prepare_screenshot()  # nothing to show: no error, no job
    assert empty.result() is None and not empty.is_busy()
    empty.shutdown()

    view = _view(qtbot, tmp_path, runs["glyphs"])
    try:
        view.prepare_screenshot()
        labels = [a.label for a in view.result().adaptations]
        assert labels == ["fomaml", "Fine-tuning baseline"]
    finally:
        view.shutdown()
