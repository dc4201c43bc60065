"""The main window without training: views, menus, themes, remembered state, cross-view requests,
the Training view's comparison of saved runs and its exports."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QApplication

from workbench.config import to_dict
from workbench.engine import events as ev
from workbench.engine.runs import RunStore
from workbench.engine.series import GrowBuffer, SmoothedSeries, ema
from workbench.gui import dialogs
from workbench.gui.main_window import VIEW_CLASSES, MainWindow
from workbench.gui.view import View
from workbench.presets import load_preset


def make_window(qtbot, tmp_path: Path, name: str = "s.ini") -> MainWindow:
    settings = QSettings(str(tmp_path / name), QSettings.IniFormat)
    window = MainWindow(settings=settings)
    window.context.set_runs_dir(tmp_path / "runs")
    qtbot.addWidget(window)
    return window


@pytest.fixture
def window(qtbot, tmp_path) -> MainWindow:
    return make_window(qtbot, tmp_path)


def make_run(runs_dir: Path, name: str, iterations: int, accuracy_start: float) -> Path:
    """A finished run folder with a metrics log, written without training."""
    config = load_preset("demo")
    config.set("train.iterations", iterations)
    store = RunStore.create(runs_dir, config, name)
    for i in range(1, iterations + 1):
        acc = accuracy_start + 0.3 * i / iterations
        store.append_metric(
            ev.TrainerEvent(
                ev.ITERATION,
                i,
                iterations,
                0.1 * i,
                {
                    "loss": 1.5 - acc,
                    "accuracy": acc,
                    "pre_loss": 1.6,
                    "pre_accuracy": 0.2,
                    "meta_lr": 0.003,
                },
            ).to_json()
        )
        if i % 10 == 0:
            store.append_metric(
                ev.TrainerEvent(
                    ev.EVALUATION,
                    i,
                    iterations,
                    0.1 * i,
                    {
                        "val_query_accuracy_pre": 0.2,
                        "val_query_accuracy_post": acc,
                        "val_support_accuracy_pre": 0.2,
                        "val_support_accuracy_post": 1.0,
                        "val_ci95": 0.02,
                    },
                ).to_json()
            )
    store.close()
    store.write_summary(status="finished", iteration=iterations)
    return store.path


def test_views_are_tabs_in_the_agreed_order(window: MainWindow) -> None:
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Training", "Episodes", "Adaptation", "Runs", "Features", "Sweeps"]
    assert [cls.title for cls in VIEW_CLASSES] == titles
    shortcuts = [cls.shortcut for cls in VIEW_CLASSES]
    assert shortcuts == ["Ctrl+1", "Ctrl+2", "Ctrl+3", "Ctrl+4", "Ctrl+5", "Ctrl+6"]
    for name, view in window.views.items():
        assert isinstance(view, View) and view.name == name
        assert view.tooltip.endswith(f"({view.shortcut})")
    assert window.form.preset_name == "demo"  # first start: the demo, ready to run


def test_every_button_has_a_tooltip(window: MainWindow) -> None:
    missing = [
        b.text() or b.objectName()
        for b in window.panel.findChildren(QAbstractButton)
        if not b.toolTip() and b.isVisibleTo(window.panel)
    ]
    missing += [
        b.text() for b in window.training_view.findChildren(QAbstractButton) if not b.toolTip()
    ]
    assert not missing
    for i in range(window.tabs.count()):
        assert window.tabs.tabToolTip(i)


def test_menus_and_shortcuts(window: MainWindow) -> None:
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Training", "View", "Help"]
    shortcuts = {
        s.toString()
        for a in window.findChildren(type(window.training_control.start_action))
        for s in a.shortcuts()
    }
    for key in (
        "Ctrl+Return",
        "Ctrl+.",
        "Esc",
        "F5",
        "Ctrl+Shift+P",
        "Ctrl+1",
        "Ctrl+4",
        "Ctrl+5",
        "Ctrl+6",
        "Ctrl+O",
        "Ctrl+S",
    ):
        assert key in shortcuts, key
    assert window.training_control.space_shortcut.key().toString() == "Space"


def test_invalid_field_disables_start_and_shows_why(window: MainWindow) -> None:
    window.show()
    assert window.panel.start_button.isEnabled()
    window.form.set_value("data.image_size", 8)  # conv4 needs at least 16x16
    assert (
        not window.panel.start_button.isEnabled()
        and not window.training_control.start_action.isEnabled()
    )
    row = window.form.rows["data.image_size"]
    assert "at least 16x16" in row.message.text() and row.message.isVisible()
    assert (
        window.panel.invalid_label.isVisible()
        and "the field marked in red above needs" in window.panel.invalid_label.text()
    )
    window.training_control.start_training()  # the shortcut path is refused too
    assert not window.session.running
    assert "data.image_size" in window.statusBar().currentMessage()
    window.form.set_value("data.image_size", 28)
    assert window.panel.start_button.isEnabled() and not window.panel.invalid_label.isVisible()


def test_a_theme_change_reaches_each_view_once(window: MainWindow, monkeypatch) -> None:
    calls: dict[str, int] = {}
    for name, view in window.views.items():
        original = view.apply_theme

        def counted(theme, _name=name, _original=original):
            calls[_name] = calls.get(_name, 0) + 1
            _original(theme)

        monkeypatch.setattr(view, "apply_theme", counted)
    window.set_theme("dark")
    assert calls == {name: 1 for name in window.views}


def test_themes_and_presentation_mode(window: MainWindow) -> None:
    app = QApplication.instance()
    window.theme_actions.dark.trigger()
    assert window.context.theme.name == "dark"
    assert window.training_view.theme.name == "dark"
    assert app.palette().window().color().name() == window.context.theme.surface
    window.theme_actions.presentation.trigger()
    theme = window.context.theme
    assert theme.presentation and theme.name == "dark" and theme.foreground == "#ffffff"
    assert app.font().pointSize() == theme.font_point_size == 15
    assert window.settings.value("view/presentation") == "true"
    window.theme_actions.presentation.trigger()
    window.theme_actions.light.trigger()
    assert window.context.theme.name == "light" and not window.context.theme.presentation
    assert app.font().pointSize() == 10


def test_window_state_is_remembered(qtbot, tmp_path) -> None:
    first = make_window(qtbot, tmp_path)
    first.show()
    first.addDockWidget(Qt.RightDockWidgetArea, first.dock)  # the user moved the panel
    first.training_view.splitter.setSizes([300, 200])
    first.set_theme("dark")
    first.form.select_preset("sinusoid-maml")
    sizes = first.training_view.splitter.sizes()
    first.close()
    assert first.settings.value("window/geometry") == first.saveGeometry()
    second = make_window(qtbot, tmp_path)
    second.show()
    # (the offscreen screen is 800x800, so Qt clamps a restored size: compare positions)
    assert second.dockWidgetArea(second.dock) == Qt.RightDockWidgetArea
    restored = second.training_view.splitter.sizes()
    assert math.isclose(restored[0] / sum(restored), sizes[0] / sum(sizes), abs_tol=0.02)
    assert second.context.theme.name == "dark"
    assert second.form.preset_name == "sinusoid-maml"


def test_overlay_runs_one_curve_per_run_with_legend(window: MainWindow, tmp_path) -> None:
    runs = [make_run(tmp_path / "runs", f"run{i}", 40, 0.3 + 0.1 * i) for i in range(3)]
    window.show_view("runs" if "runs" in window.views else "training")
    window.context.overlayRuns.emit([str(p) for p in runs])
    view = window.training_view
    assert window.tabs.currentWidget() is view
    assert view.clear_button.isVisible() or not window.isVisible()
    loss_items = [i for i in view.plots["loss"].getPlotItem().listDataItems() if i.name()]
    assert [i.name() for i in loss_items] == [p.name for p in runs]
    colors = {i.opts["pen"].color().name() for i in loss_items}
    assert len(colors) == 3
    assert view.legend_names("loss") == [p.name for p in runs]
    assert all(p.name in view.legends["loss"].text() for p in runs)
    assert all(len(i.xData) == 40 for i in loss_items)
    val_items = [i for i in view.plots["validation"].getPlotItem().listDataItems() if i.name()]
    assert [len(i.xData) for i in val_items] == [4, 4, 4]
    assert "Comparing 3 runs" in view.title_label.text()
    # the x axis and smoothing apply to every run
    view.set_x_axis("elapsed")
    assert math.isclose(loss_items[0].xData[-1], 4.0)
    view.set_smoothing(0.0)
    assert math.isclose(loss_items[1].yData[-1], 1.5 - 0.7)
    view.clear_overlays()
    assert not view.overlays


def test_export_png_and_csv(window: MainWindow, tmp_path) -> None:
    runs = [make_run(tmp_path / "runs", f"r{i}", 20, 0.4) for i in range(2)]
    view = window.training_view
    view.set_overlay_runs([str(p) for p in runs])
    window.resize(1280, 800)
    window.show()
    png = view.export_png("loss", tmp_path / "loss.png")
    assert png.stat().st_size > 1000
    path = view.export_csv("accuracy", tmp_path / "acc.csv")
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["curve", "iteration", "accuracy (%)"]
    names = {r[0] for r in rows[1:]}
    assert any(runs[0].name in n for n in names) and any(runs[1].name in n for n in names)
    smoothed = [r for r in rows[1:] if r[0] == f"{runs[0].name}: accuracy"]
    assert len(smoothed) == 20 and float(smoothed[0][1]) == 1.0


def test_open_run_folder_loads_config_and_curves(window: MainWindow, tmp_path) -> None:
    run = make_run(tmp_path / "runs", "saved", 30, 0.5)
    assert window.open_run(run)
    assert to_dict(window.form.config()) == to_dict(RunStore(run).load_config())
    view = window.training_view
    assert view.live is not None and view.live.path == str(run)
    assert view.curve_points("loss") == 30
    assert "Iteration 30 / 30" in view.stats_label.text()


def test_open_a_folder_that_is_not_a_run(window: MainWindow, tmp_path, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda *args: shown.append(args))
    assert not window.open_run(tmp_path)
    assert shown and "not a run folder" in shown[0][2]
    assert window.panel.start_button.isEnabled()


def test_context_requests_reach_the_right_place(window: MainWindow, monkeypatch) -> None:
    config = load_preset("sinusoid-maml")
    config.set("train.iterations", 999)
    window.context.cloneConfig.emit(config)
    assert to_dict(window.form.config()) == to_dict(config)
    for name in window.views:
        window.context.showView.emit(name)
        assert window.tabs.currentWidget() is window.views[name]
    assert window.context.current_config().train.iterations == 999
    if "adaptation" in window.views:
        received = []
        monkeypatch.setattr(window.views["adaptation"], "show_episode", received.append)
        window.show_view("training")
        payload = {"config": config, "split": "train", "seed": 0, "index": 3, "episode": None}
        window.context.openEpisodeInAdaptation.emit(payload)
        assert received == [payload]  # exactly once: the window is the one that connects it
        assert window.tabs.currentWidget() is window.views["adaptation"]


def test_space_goes_to_form_editors_and_starts_elsewhere(
    window: MainWindow, qtbot, monkeypatch
) -> None:
    calls = []
    monkeypatch.setattr(
        window.training_control, "toggle_start_pause", lambda: calls.append("toggle")
    )
    window.show()
    window.activateWindow()
    check = window.form.editor("data.rotations")
    check.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is check, timeout=5000)
    before = check.isChecked()
    window.training_control.on_space()
    assert calls == [] and check.isChecked() != before  # the check box got the key
    plot = window.training_view.plots["loss"]
    plot.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is plot, timeout=5000)
    window.training_control.on_space()
    assert calls == ["toggle"]


def test_view_switching_shortcuts(window: MainWindow, qtbot) -> None:
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    window.training_view.plots["loss"].setFocus()
    names = list(window.views)
    qtbot.keyClick(window, Qt.Key_2 if len(names) > 1 else Qt.Key_1, Qt.ControlModifier)
    assert window.tabs.currentWidget() is window.views[names[1 if len(names) > 1 else 0]]
    qtbot.keyClick(window, Qt.Key_1, Qt.ControlModifier)
    assert window.tabs.currentWidget() is window.training_view


def test_bias_corrected_ema() -> None:
    values = [1.0, 2.0, 3.0, float("nan"), 4.0]
    out = ema(values, 0.5)
    assert out[0] == 1.0  # bias correction: the first point is the first value, not half of it
    assert math.isclose(out[1], (0.25 * 1 + 0.5 * 2) / 0.75)
    assert math.isnan(out[3]) and not math.isnan(out[4])
    assert list(ema(values[:3], 0.0)) == [1.0, 2.0, 3.0]
    buf = GrowBuffer(2)
    series = SmoothedSeries(buf, 0.9)
    for v in range(1000):
        buf.append(float(v))
    first = series.view().copy()
    buf.append(1000.0)
    assert list(series.view()[:1000]) == list(first)  # incremental: earlier points unchanged
    assert len(series.view()) == 1001


def test_screenshot_command_arguments() -> None:
    from workbench.cli import _parser
    from workbench.errors import ConfigError
    from workbench.gui.screenshot import parse_size

    args = _parser().parse_args(["screenshot", "--out", "shots", "--theme", "dark"])
    assert (args.command, args.theme, args.size, args.iterations) == (
        "screenshot",
        "dark",
        "1280x800",
        60,
    )
    assert parse_size("1280x800") == (1280, 800)
    for bad in ("big", "10x10", "1280"):
        with pytest.raises(ConfigError, match="--size"):
            parse_size(bad)


def test_a_long_run_is_drawn_downsampled(window: MainWindow) -> None:
    """100,000 points: curves keep all the data, pyqtgraph draws a peak-downsampled view."""
    view = window.training_view
    view.begin_run("long", "", regression=False)
    for i in range(1, 100_001):
        view.live.add(
            ev.ITERATION,
            i,
            100_000,
            i * 0.01,
            {
                "loss": 1.0 / i,
                "accuracy": 0.5,
                "pre_loss": 1.0,
                "pre_accuracy": 0.2,
                "meta_lr": 0.001,
            },
        )
    view.redraw(force=True)
    item = next(
        i
        for i in view.plots["loss"].getPlotItem().listDataItems()
        if i.name() == "after adaptation"
    )
    assert len(item.xData) == 100_000
    assert item.opts["autoDownsample"] and item.opts["downsampleMethod"] == "peak"
    assert item.opts["clipToView"]


class SteppingClock:
    """A clock that moves on by ``step`` seconds each time it is read: whatever runs between
    two readings seems to take ``step``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.step = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_costly_redraws_come_less_often(window: MainWindow, qtbot) -> None:
    """Redrawing takes at most ~5% of the GUI thread: a costly redraw makes the next ones come
    less often (but at least once a second), and cheap redraws bring the full rate back."""
    from workbench.gui.training.redraw import FASTEST_REDRAW_MS, REDRAW_SHARE, SLOWEST_REDRAW_MS
    from workbench.gui.training.view import TrainingView

    clock = SteppingClock()
    view = TrainingView(window.context, clock=clock)
    qtbot.addWidget(view)
    view.show()  # an unseen view does not redraw at all
    view.begin_run("timed", "", regression=False)
    assert view.redraws.interval_ms == FASTEST_REDRAW_MS

    def redraw_costing(seconds: float) -> int:
        """A redraw of a new point that takes ``seconds``; the interval it leads to."""
        event = ev.TrainerEvent(ev.ITERATION, view.live.iteration + 1, 10, 0.0, {"loss": 1.0})
        view.add_event(event)
        clock.step = seconds
        view.redraw()
        clock.step = 0.0
        return view.redraws.interval_ms

    for cost in (0.010, 0.020, 0.040):
        interval = redraw_costing(cost)
        share = 1000 * cost / interval  # of the time from one redraw to the next
        assert interval > FASTEST_REDRAW_MS, cost
        assert 0.95 * REDRAW_SHARE <= share <= 1.05 * REDRAW_SHARE, (cost, interval)
    assert redraw_costing(0.200) == SLOWEST_REDRAW_MS  # never less often than once a second
    assert redraw_costing(0.001) == FASTEST_REDRAW_MS  # cheap again: the full rate
    assert view.curve_points("loss") == 5  # every timed redraw drew its new point


def test_resumed_curves_never_repeat_an_iteration() -> None:
    """Records read from a resumed run's log and the first live events can overlap; each
    iteration is drawn once, in order."""
    from workbench.engine import events as ev
    from workbench.gui.training.series import RunSeries

    series = RunSeries("resumed")
    records = [
        ev.TrainerEvent(ev.ITERATION, i, 20, float(i), {"loss": 1.0 / i}).to_json()
        for i in range(1, 13)
    ]
    records.append(
        ev.TrainerEvent(ev.EVALUATION, 10, 20, 10.0, {"val_query_accuracy_post": 0.5}).to_json()
    )
    series.add_records(records)
    for i in (11, 12, 13, 14):  # 11 and 12 were in the log already
        assert series.add_event(
            ev.TrainerEvent(ev.ITERATION, i, 20, float(i), {"loss": 1.0 / i})
        ) == (i > 12)
    assert not series.add_event(ev.TrainerEvent(ev.EVALUATION, 10, 20, 10.0, {}))
    assert series.it["iteration"].view().tolist() == list(range(1, 15))
    assert series.val["iteration"].view().tolist() == [10]


def test_experiment_panel_narrows_on_views_that_do_not_edit_it(window: MainWindow, qtbot, tmp_path):
    dock = window.dock
    window.show()
    qtbot.waitExposed(window)
    assert not dock.is_narrow()  # the Training view works with the form
    window.show_view("runs")
    assert dock.is_narrow() and dock.stack.width() <= 40
    runs_view_width = window.views["runs"].width()
    dock.strip.click()  # one click opens it, and that is remembered
    qtbot.waitUntil(lambda: window.views["runs"].width() < runs_view_width - 200)
    window.show_view("episodes")
    assert not dock.is_narrow()
    window.panel.collapse_button.click()  # « narrows it again, also remembered
    assert dock.is_narrow()
    window.show_view("training")
    assert not dock.is_narrow()
    window.show_view("adaptation")
    assert dock.is_narrow()
    narrow = next(a for a in window.findChildren(QAction) if "Narrow" in a.text())
    assert narrow.isChecked()
    narrow.trigger()  # the View menu's command (Ctrl+Shift+E)
    assert not dock.is_narrow() and not narrow.isChecked()
    # a new window with the same settings remembers the choice
    window.settings.sync()
    again = make_window(qtbot, tmp_path)
    again.show_view("runs")
    assert not again.dock.is_narrow()
