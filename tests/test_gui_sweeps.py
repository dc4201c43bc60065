"""The Sweeps view: a real sweep of the form's config from the window (trials in worker
processes), the live table equal to the study, Use best into the form, clear errors, and a
sweep read back from the runs folder."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings

from workbench.config import parse_overrides, to_dict
from workbench.engine.sweeps import best_trial_config, load_trials
from workbench.gui.context import GuiContext
from workbench.gui.sweeps.fields import proposed_range, sweepable
from workbench.gui.sweeps.view import SweepsView
from workbench.presets import load_preset

TINY = [
    "train.iterations=20",
    "train.eval_every=10",
    "train.val_episodes=5",
    "train.meta_batch_size=2",
    "train.checkpoint_every=10",
]
WAIT = 300_000


@pytest.fixture
def view(qtbot, tmp_path):
    config = parse_overrides(TINY, load_preset("demo"))
    context = GuiContext(
        QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), lambda: config
    )
    context.set_runs_dir(tmp_path / "runs")
    v = SweepsView(context)
    qtbot.addWidget(v)
    v.resize(1280, 800)
    v.show()
    yield v
    v.shutdown()


def test_proposed_ranges_respect_the_field():
    config = load_preset("demo")
    keys = [k for k, _ in sweepable(config)]
    assert keys[:2] == ["algorithm.inner_lr", "train.meta_lr"]
    assert "data.dataset" in keys  # choices are sweepable
    inner = config.algorithm.inner_lr
    assert proposed_range("algorithm.inner_lr", config) == f"log({inner / 10:.3g},{inner * 10:.3g})"
    assert proposed_range("data.dataset", config).startswith("choice(")


def test_bad_range_is_a_clear_message_and_nothing_starts(view):
    view.panel.fields.add_row("algorithm.inner_lr", "log(0,1)")
    view.start()
    assert not view.running
    assert "algorithm.inner_lr: log(0,1): 0 is outside the field's limits" in view.message.text()
    view.panel.fields.set_rows([])
    view.start()
    assert "choose at least one field" in view.message.text()


def test_sweep_from_the_window(qtbot, view, tmp_path):
    clones = []
    view.context.cloneConfig.connect(clones.append)
    view.panel.fields.set_rows(
        [("algorithm.inner_lr", "log(0.05,1)"), ("train.meta_lr", "log(0.0005,0.01)")]
    )
    view.panel.trials.setValue(3)
    view.panel.workers.setValue(2)
    view.panel.pruner.setCurrentIndex(view.panel.pruner.findData("none"))
    view.panel.name_edit.setText("gui-sweep")
    view.start()
    assert view.running and not view.panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: not view.running, timeout=WAIT)
    assert view.message.text() == ""
    study = load_trials("gui-sweep", None, tmp_path / "runs")
    assert [r.number for r in view.model.rows] == [r.number for r in study]
    assert [r.state for r in view.model.rows] == ["complete"] * 3
    assert [r.value for r in view.model.rows] == [r.value for r in study]
    best = max(study, key=lambda r: r.value)
    assert view.best().number == best.number
    assert f"best {best.value:.4f}" in view.status.text()
    assert view.model.text(
        view.model.rows[[r.number for r in study].index(best.number)], 0
    ).endswith("★")
    # the plots show the trials: one dot per completed trial, the best-so-far ends at the best
    items = view.plots.history.getPlotItem().listDataItems()
    assert len(items[0].xData) == 3 and items[-1].yData[-1] == pytest.approx(best.value)
    qtbot.waitUntil(lambda: not view.importance_task.running, timeout=60_000)
    bars = [i for i in view.plots.importance.getPlotItem().items if isinstance(i, pg.BarGraphItem)]
    assert bars and sum(bars[0].opts["width"]) == pytest.approx(1.0, abs=1e-6)
    assert view.panel.best_button.isEnabled()
    view.use_best()
    assert clones and clones[0].algorithm.inner_lr == pytest.approx(
        best.params["algorithm.inner_lr"]
    )
    assert to_dict(clones[0]) == to_dict(best_trial_config("gui-sweep", None, tmp_path / "runs"))


def test_a_kept_sweep_is_listed_and_read_back(qtbot, view, tmp_path):
    from workbench.cli import main

    argv = ["sweep", "demo"]
    for pair in TINY:
        argv += ["--set", pair]
    argv += ["--param", "algorithm.inner_lr=log(0.05,1)", "--trials", "2", "--workers", "1"]
    argv += ["--runs-dir", str(tmp_path / "runs"), "--name", "kept", "--pruner", "none"]
    assert main(argv) == 0
    view.refresh_list()
    combo = view.panel.open_combo
    assert combo.findData("kept") > 0
    view.open_sweep("kept")
    qtbot.waitUntil(lambda: len(view.model.rows) == 2, timeout=60_000)
    assert view.heading.text() == "Sweep kept"
    [(key, text)] = view.panel.fields.rows()
    spec = view.panel.fields.specs(view.context.current_config())[key]
    assert key == "algorithm.inner_lr" and (spec.kind, spec.low, spec.high) == ("log", 0.05, 1.0)
