"""Animated GIF export: settings that cannot work are refused, every step gets its share of the
loop, and a training run's curves grow frame by frame into exactly what the view shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from workbench.config import parse_overrides
from workbench.engine.trainer import Trainer
from workbench.errors import WorkbenchError
from workbench.gui.context import GuiContext
from workbench.gui.training.view import TrainingView
from workbench.gui.widgets import animation
from workbench.gui.widgets.animation import (
    TIMELINE_PX,
    AnimationDialog,
    AnimationSettings,
    compose_frame,
    frame_step,
    to_pil,
)
from workbench.presets import load_preset

WAIT = 120_000


def frames_of(path: Path) -> list[np.ndarray]:
    """Every frame of a GIF as RGB pixels, as a viewer shows it."""
    gif = Image.open(path)
    out = []
    for i in range(gif.n_frames):
        gif.seek(i)
        out.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    return out


def close_to(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal but for GIF's 256-colour palette (anti-aliased edges are rounded)."""
    return a.shape == b.shape and float(np.abs(a - b).mean()) < 2.0


def test_settings_refuse_what_cannot_work():
    assert AnimationSettings(seconds=3, fps=10).frames == 30
    with pytest.raises(WorkbenchError, match="cannot show all 12 steps"):
        AnimationSettings(seconds=1, fps=10).check(min_frames=12)
    with pytest.raises(WorkbenchError, match="too many"):
        AnimationSettings(seconds=120, fps=30, width=4000).check()
    with pytest.raises(WorkbenchError, match="wider or shorter"):
        AnimationSettings(seconds=60, fps=10, width=400).check()


def test_dialog_disables_ok_with_the_reason(qtbot):
    dialog = AnimationDialog(None, AnimationSettings(seconds=2, fps=5, width=640), min_frames=11)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.buttons()[0]
    assert not ok.isEnabled() and "cannot show all 11 steps" in dialog.summary.text()
    dialog.fps.setValue(10)
    assert ok.isEnabled() and dialog.summary.text().startswith("20 frames")
    assert dialog.settings() == AnimationSettings(2.0, 10, 640, True)


@pytest.mark.parametrize("frames,last", [(10, 3), (4, 3), (30, 0), (7, 6), (100, 9)])
def test_every_step_gets_its_share_and_the_last_frame_the_last_step(frames, last):
    steps = [frame_step(i, frames, last) for i in range(frames)]
    assert steps[0] == 0 and steps[-1] == last
    assert sorted(set(steps)) == list(range(last + 1))
    assert steps == sorted(steps)
    counts = [steps.count(s) for s in range(last + 1)]
    assert max(counts) - min(counts) <= 1


def test_timeline_makes_frames_differ(qtbot):
    from PySide6.QtGui import QColor, QImage

    view = QImage(300, 100, QImage.Format.Format_RGB888)
    view.fill(QColor("white"))
    s = AnimationSettings(seconds=1, fps=4, width=200)
    a, b = (to_pil(compose_frame(view, s, i, "#ffffff", "#1f77b4")) for i in (0, 1))
    assert a.size == (200, round(100 * 200 / 300) + TIMELINE_PX)
    assert a.tobytes() != b.tobytes()


@pytest.fixture(scope="module")
def sinusoid_run(tmp_path_factory) -> Path:
    config = parse_overrides(
        ["train.iterations=40", "train.eval_every=20", "train.val_episodes=4", "train.device=cpu"],
        load_preset("sinusoid-maml"),
    )
    trainer = Trainer.create(config, tmp_path_factory.mktemp("runs"))
    assert trainer.run() == "finished"
    return trainer.store.path


def test_training_curves_grow_into_the_view(qtbot, tmp_path, sinusoid_run, monkeypatch):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    view = TrainingView(GuiContext(settings))
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    view.load_run(sinusoid_run)
    view.redraw(force=True)
    full = view.curve_points("loss")
    assert full == 40
    chosen = AnimationSettings(seconds=2, fps=8, width=600)
    monkeypatch.setattr(animation, "ask_animation_settings", lambda *a: chosen)
    monkeypatch.setattr(animation, "ask_gif_path", lambda *a: str(tmp_path / "curves.gif"))
    sizes = []
    real_render = view.grid.grab

    def grab_counting():
        sizes.append(view.curve_points("loss"))
        return real_render()

    monkeypatch.setattr(view.grid, "grab", grab_counting)
    recorder = view.export_curves_gif()
    assert recorder is not None
    with qtbot.waitSignal(recorder.saved, timeout=WAIT) as saved:
        pass
    path = Path(saved.args[0])
    frames = frames_of(path)
    assert len(frames) == chosen.frames == 16
    height = round(view.grid.height() * 600 / view.grid.width()) + TIMELINE_PX
    assert frames[0].shape == (height, 600, 3)
    # the curves grow: one point at first, all of them in the last frame
    assert sizes[0] == 1 and sizes[-1] == full and sizes == sorted(sizes)
    assert view.curve_points("loss") == full  # the view shows everything again
    expected = compose_frame(view.grid.grab().toImage(), chosen, chosen.frames - 1, "#fff", "#000")
    last = np.asarray(to_pil(expected), dtype=np.int16)
    # the timeline's colours differ (this frame was composed with other ones): compare above it
    assert close_to(frames[-1][:-TIMELINE_PX], last[:-TIMELINE_PX])
    assert not close_to(frames[0][:-TIMELINE_PX], last[:-TIMELINE_PX])


def test_nothing_to_animate_says_so(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    context = GuiContext(settings)
    messages = []
    context.statusMessage.connect(messages.append)
    view = TrainingView(context)
    qtbot.addWidget(view)
    assert view.export_curves_gif() is None
    assert messages and "Nothing to animate" in messages[0]
