"""The Runs view: listing (with damaged runs), sorting and filtering, live refresh, overlay,
clone, resume, evaluate (with cancel), rename, delete, open folder and exports."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from test_runs import TEST_RESULT, make_run  # noqa: E402  (tests/ is on sys.path)

from workbench.config import parse_overrides
from workbench.engine.runs import RunStore, run_info
from workbench.gui.context import GuiContext
from workbench.gui.runs import actions as runs_actions
from workbench.gui.runs import dialogs as runs_dialogs
from workbench.gui.runs.model import BEST, DURATION, HEADERS, INFO_ROLE, NAME, STATUS, TEST
from workbench.gui.runs.view import RunsView
from workbench.gui.theme import DARK, LIGHT
from workbench.presets import load_preset

LONG = 60000


@pytest.fixture
def context(tmp_path: Path) -> GuiContext:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    ctx = GuiContext(settings)
    ctx.set_runs_dir(tmp_path / "runs")
    return ctx


@pytest.fixture
def runs(context: GuiContext) -> dict[str, RunStore]:
    root = context.runs_dir()
    stores = {
        "maml-a": make_run(
            root,
            "maml-a",
            overrides=("algorithm.inner_lr=0.4",),
            best=(0.7123456, 0.0211111),
            test=TEST_RESULT,
        ),
        "maml-b": make_run(
            root,
            "maml-b",
            overrides=("algorithm.inner_lr=0.1",),
            best=(0.6512345, 0.0199999),
            status="stopped",
            iterations=30,
        ),
        "proto": make_run(
            root, "proto", overrides=("algorithm.name=protonet",), best=(0.8011111, 0.0155555)
        ),
    }
    stores["maml-b"].write_summary(total=60)  # stopped halfway: resumable
    broken = make_run(root, "broken", checkpoint=False)
    broken.config_path.write_text("[data\nways = ???\n")
    stores["broken"] = broken
    return stores


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real (tiny) sinusoid run, trained once for the evaluation tests."""
    from workbench.engine.trainer import Trainer

    config = parse_overrides(
        [
            "train.iterations=4",
            "train.meta_batch_size=2",
            "train.eval_every=2",
            "train.val_episodes=2",
            "train.checkpoint_every=2",
            "train.device=cpu",
            "eval.episodes=12",
            "eval.inner_steps=2",
        ],
        load_preset("sinusoid-maml"),
    ).validate()
    trainer = Trainer.create(config, tmp_path_factory.mktemp("trained"), name="tiny-sinusoid")
    assert trainer.run() == "finished"
    return trainer.store.path


def make_view(qtbot, context: GuiContext) -> RunsView:
    view = RunsView(context, poll_ms=200)
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitUntil(lambda: view.model.rowCount() > 0 or not view.listing.running, timeout=LONG)
    return view


def row_of(view: RunsView, name: str) -> int:
    for row in range(view.proxy.rowCount()):
        if view.proxy.index(row, 0).data(INFO_ROLE).name == name:
            return row
    raise AssertionError(f"{name} not shown")


def select(view: RunsView, *names: str) -> None:
    infos = {
        view.proxy.index(r, 0).data(INFO_ROLE).name: view.proxy.index(r, 0).data(INFO_ROLE)
        for r in range(view.proxy.rowCount())
    }
    view.select_paths([infos[n].path for n in names])


def finish(view: RunsView) -> None:
    """Join every background job of the view (the thread pool is shared)."""
    view.shutdown()
    assert view.wait_for_tasks(LONG)


def test_lists_every_run_and_marks_damaged_ones(qtbot, context, runs) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    assert context.runs_dir().as_posix() in view.folder_label.text()
    broken = view.proxy.index(row_of(view, "broken"), NAME)
    assert broken.data(Qt.ItemDataRole.DecorationRole) is not None  # the warning icon
    assert "config.toml" in broken.data(Qt.ItemDataRole.ToolTipRole)
    assert "checkpoints/last.pt is missing" in broken.data(Qt.ItemDataRole.ToolTipRole)
    good = view.proxy.index(row_of(view, "maml-a"), NAME)
    assert good.data(Qt.ItemDataRole.DecorationRole) is None
    a = row_of(view, "maml-a")
    assert view.proxy.index(a, BEST).data() == "71.23% ± 2.11%"
    assert "iteration 20" in view.proxy.index(a, BEST).data(Qt.ItemDataRole.ToolTipRole)
    assert view.proxy.index(a, TEST).data() == "68.43% ± 1.23%"
    assert "600 episodes" in view.proxy.index(a, TEST).data(Qt.ItemDataRole.ToolTipRole)
    assert view.proxy.index(row_of(view, "maml-b"), STATUS).data() == "stopped"
    assert "1 with problems" in view.count_label.text()
    finish(view)


def test_sort_and_filter(qtbot, context, runs) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    view.table.sortByColumn(BEST, Qt.SortOrder.DescendingOrder)
    order = [view.proxy.index(r, 0).data(INFO_ROLE).name for r in range(view.proxy.rowCount())]
    assert order == ["proto", "maml-a", "broken", "maml-b"]
    view.filter_edit.setText("protonet")
    assert view.proxy.rowCount() == 1
    view.filter_edit.setText("")
    view.status_filter.setCurrentIndex(view.status_filter.findData("stopped"))
    assert [view.proxy.index(r, 0).data(INFO_ROLE).name for r in range(view.proxy.rowCount())] == [
        "maml-b"
    ]
    assert "1 of 4 runs shown" in view.count_label.text()
    finish(view)


def test_new_and_changed_runs_appear_without_refresh(qtbot, context, runs) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    select(view, "maml-a")
    live = make_run(context.runs_dir(), "live", status="running")  # this process: running
    qtbot.waitUntil(lambda: view.model.rowCount() == 5, timeout=LONG)
    assert view.poll_timer.isActive()
    live.append_metric(
        {
            "kind": "iteration",
            "iteration": 21,
            "total": 20,
            "elapsed": 11.0,
            "values": {"loss": 0.1},
        }
    )
    live.close()
    live.write_summary(status="finished")
    qtbot.waitUntil(
        lambda: view.model.info(view.model.row_of(live.path)).status == "finished", timeout=LONG
    )
    qtbot.waitUntil(lambda: not view.poll_timer.isActive(), timeout=LONG)
    assert [i.name for i in view.selected_infos()] == ["maml-a"]  # selection survives updates
    shutil.rmtree(runs["proto"].path)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    finish(view)


def test_overlay_emits_two_paths_and_the_training_view_draws_two_curves(
    qtbot, context, runs
) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    select(view, "maml-a", "proto")
    shown = []
    context.showView.connect(shown.append)
    with qtbot.waitSignal(context.overlayRuns, timeout=LONG) as blocker:
        view.overlay_action.trigger()
    paths = blocker.args[0]
    assert sorted(paths) == sorted([str(runs["maml-a"].path), str(runs["proto"].path)])
    assert shown == ["training"]

    training_view = pytest.importorskip("workbench.gui.training.view")
    tv = training_view.TrainingView(context)
    qtbot.addWidget(tv)
    tv.show()  # it draws only while visible
    context.overlayRuns.connect(tv.set_overlay_runs)
    view.overlay_action.trigger()

    def drawn() -> int:
        return len(
            [
                item
                for item in tv.plots["validation"].getPlotItem().listDataItems()
                if item.xData is not None and len(item.xData) == 2
            ]
        )

    qtbot.waitUntil(lambda: drawn() == 2, timeout=LONG)
    # the preview under the table draws the same two runs
    qtbot.waitUntil(lambda: view.preview.curve_count() == 2, timeout=LONG)
    finish(view)


def test_clone_with_enter_and_resume(qtbot, context, runs) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    select(view, "maml-a")
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus, timeout=5000)
    with qtbot.waitSignal(context.cloneConfig, timeout=LONG) as blocker:
        QTest.keyClick(view.table, Qt.Key.Key_Return)
    assert blocker.args[0].algorithm.inner_lr == 0.4
    assert not view.resume_action.isEnabled()  # finished
    select(view, "broken")
    assert not view.clone_action.isEnabled()  # unreadable config
    select(view, "maml-b")
    assert view.resume_action.isEnabled()
    with qtbot.waitSignal(context.resumeRun, timeout=LONG) as blocker:
        view.resume_action.trigger()
    assert blocker.args == [str(runs["maml-b"].path)]
    finish(view)


def test_rename_with_f2(qtbot, context, runs) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    select(view, "maml-b")
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus, timeout=5000)
    QTest.keyClick(view.table, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: view.table.state() == view.table.State.EditingState, timeout=5000)
    editor = view.table.focusWidget()
    editor.selectAll()
    QTest.keyClicks(editor, "first-order, lr 0.1")
    QTest.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits in a queued call
    qtbot.waitUntil(
        lambda: run_info(runs["maml-b"].path).name == "first-order, lr 0.1", timeout=5000
    )
    assert view.model.info(view.model.row_of(runs["maml-b"].path)).name == "first-order, lr 0.1"
    assert view.rename_run(runs["maml-b"].path, "   ") is False
    assert "empty" in view.message.text()
    finish(view)


def test_delete_asks_first(qtbot, context, runs, monkeypatch) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    asked = []
    monkeypatch.setattr(
        runs_dialogs, "confirm_delete", lambda parent, names: asked.append(names) or False
    )
    select(view, "proto", "broken")
    view.activateWindow()
    view.table.setFocus()
    qtbot.waitUntil(view.table.hasFocus, timeout=5000)
    QTest.keyClick(view.table, Qt.Key.Key_Delete)
    assert sorted(asked[0]) == ["broken", "proto"]
    assert runs["proto"].path.exists() and view.model.rowCount() == 4
    monkeypatch.setattr(runs_dialogs, "confirm_delete", lambda parent, names: True)
    view.delete_action.trigger()
    assert not runs["proto"].path.exists() and not runs["broken"].path.exists()
    assert view.model.rowCount() == 2
    assert runs["maml-a"].path.exists()
    finish(view)


def test_open_folder(qtbot, context, runs, monkeypatch) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    opened = []
    monkeypatch.setattr(
        runs_actions.QDesktopServices, "openUrl", lambda url: opened.append(url) or True
    )
    select(view, "maml-a")
    view.folder_action.trigger()
    assert [u.toLocalFile() for u in opened] == [str(runs["maml-a"].path)]
    finish(view)


def test_exports_hold_the_stored_numbers(qtbot, context, runs, monkeypatch, tmp_path) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    select(view, "maml-a", "maml-b")
    targets = iter([tmp_path / "cmp.md", tmp_path / "cmp.csv", tmp_path / "curves.csv"])
    monkeypatch.setattr(runs_dialogs, "ask_save_path", lambda *a: next(targets))
    for action in (
        view.exporter.markdown_action,
        view.exporter.csv_action,
        view.exporter.curves_action,
    ):
        with qtbot.waitSignal(view.exporter.task.finished, timeout=LONG):
            action.trigger()
    markdown = (tmp_path / "cmp.md").read_text()
    assert "71.23% ± 2.11% @ 20" in markdown and "65.12% ± 2.00% @ 30" in markdown
    assert "68.43% ± 1.23%" in markdown and "600 episodes, 5 inner steps" in markdown
    rows = list(csv.DictReader((tmp_path / "cmp.csv").open()))
    assert {r["run"]: float(r["best_val_accuracy"]) for r in rows} == {
        "maml-a": 0.7123456,
        "maml-b": 0.6512345,
    }
    curves = list(csv.DictReader((tmp_path / "curves.csv").open()))
    assert len(curves) == (20 + 2) + (30 + 3)
    assert "written to" in view.message.text()
    view.exporter.copy_action.trigger()
    from PySide6.QtGui import QGuiApplication

    assert "71.23% ± 2.11%" in QGuiApplication.clipboard().text()
    finish(view)


def test_evaluate_stores_and_shows_the_result_and_cancel_stores_nothing(
    qtbot, context, trained_run
) -> None:
    shutil.copytree(trained_run, context.runs_dir() / trained_run.name)
    big = context.runs_dir() / "huge-eval"
    shutil.copytree(trained_run, big)
    text = (big / "config.toml").read_text().replace("episodes = 12", "episodes = 100000")
    (big / "config.toml").write_text(text)
    RunStore(big).rename("huge-eval")
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=LONG)

    select(view, "tiny-sinusoid")
    assert view.evaluate_action.isEnabled()
    with qtbot.waitSignal(view.evaluationDone, timeout=LONG) as blocker:
        view.evaluate_action.trigger()
        assert view.evaluation.isVisibleTo(view)
        assert not view.evaluate_action.isEnabled()  # one evaluation at a time
    result = blocker.args[1]
    info = run_info(context.runs_dir() / trained_run.name)
    assert info.test_mse == result.mse and info.test["episodes"] == 12
    row = row_of(view, "tiny-sinusoid")
    assert view.proxy.index(row, TEST).data().startswith(f"MSE {result.mse:.4g}")
    assert "Test result" in view.message.text()
    assert not view.evaluation.isVisibleTo(view)

    damaged = context.runs_dir() / "damaged"
    shutil.copytree(trained_run, damaged)
    RunStore(damaged).rename("damaged")
    for kind in ("best", "last"):  # looks like a zip, is not a checkpoint
        (damaged / "checkpoints" / f"{kind}.pt").write_bytes(b"PK\x03\x04" + b"\0" * 64)
    view.refresh_now()
    select(view, "damaged")
    with qtbot.waitSignal(view.evaluationDone, timeout=LONG) as blocker:
        view.evaluate_action.trigger()
    assert blocker.args[1] is None
    assert view.message.kind == "error" and "cannot be loaded safely" in view.message.text()

    select(view, "huge-eval")
    view.evaluate_action.trigger()
    qtbot.waitUntil(lambda: view.evaluation.progress.value() >= 1, timeout=LONG)
    view.evaluation.cancel_button.click()
    assert "cancelled" in view.message.text()
    assert view.wait_for_tasks(LONG)
    assert run_info(big).test == {}
    assert view.evaluate_action.isEnabled()
    finish(view)


def test_runs_folder_can_be_changed_and_empty_state(
    qtbot, context, runs, monkeypatch, tmp_path
) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    other = tmp_path / "elsewhere"
    monkeypatch.setattr(runs_dialogs, "ask_directory", lambda *a: other)
    with qtbot.waitSignal(view.listed, timeout=LONG):
        view.change_button.click()
    assert context.runs_dir() == other
    assert view.model.rowCount() == 0
    assert view.stack.currentWidget() is view.empty_label
    assert "does not exist yet" in view.empty_label.text()
    assert str(other) == view.folder_label.text()
    finish(view)


def test_both_themes_render(qtbot, context, runs, tmp_path) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    view.prepare_screenshot()
    assert len(view.selected_infos()) == 2 and view.preview.curve_count() == 2
    for theme in (LIGHT, DARK):
        view.apply_theme(theme)
        assert view.grab().toImage().width() == 1280
        assert theme.foreground in view.details.document().defaultStyleSheet()
        assert view.proxy.index(0, STATUS).data(Qt.ItemDataRole.DecorationRole) is not None
    finish(view)


def test_columns_fit_and_optional_ones_give_way(qtbot, context, runs) -> None:
    view = make_view(qtbot, context)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=LONG)
    assert not any(view.table.isColumnHidden(c) for c in range(len(HEADERS)))
    view.resize(760, 700)  # beside a wide Experiment panel
    qtbot.waitUntil(lambda: view.table.isColumnHidden(DURATION), timeout=5000)
    assert not view.table.isColumnHidden(BEST) and not view.table.isColumnHidden(TEST)
    view.table.set_column_visible(DURATION, True)  # asked for: stays, even when narrow
    assert not view.table.isColumnHidden(DURATION)
    view.table.set_column_visible(TEST, False)
    assert view.table.isColumnHidden(TEST)
    again = RunsView(context)  # remembered
    qtbot.addWidget(again)
    assert again.table.isColumnHidden(TEST) and DURATION in again.table.wanted_columns
    finish(again)
    finish(view)
