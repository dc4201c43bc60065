"""The Experiment form: generated from the config metadata, exact round trips, in-place errors."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings

from workbench import config as configlib
from workbench.config import ExperimentConfig, to_dict
from workbench.gui.experiment.form import ConfigForm
from workbench.gui.widgets.field_editors import (
    CheckEditor,
    ChoiceEditor,
    DeviceEditor,
    IntEditor,
    LogFloatEdit,
    format_float,
    log_step,
)
from workbench.presets import list_presets, load_preset


@pytest.fixture
def form(qtbot) -> ConfigForm:
    widget = ConfigForm()
    qtbot.addWidget(widget)
    return widget


def test_every_field_has_a_row_with_its_label_help_and_kind(form: ConfigForm) -> None:
    keys = [key for key, _f, _v in ExperimentConfig().fields()]
    assert list(form.rows) == keys
    for key, f, _value in ExperimentConfig().fields():
        row = form.rows[key]
        assert row.label.text() == f.metadata["label"]
        assert f.metadata["help"] in row.editor.toolTip()
        assert f.metadata["help"] in row.label.toolTip()
        kind = configlib.field_type(f)
        if kind is bool:
            assert isinstance(row.editor, CheckEditor)
        elif key == "train.device":  # the devices found here, with names; values as choices
            assert isinstance(row.editor, DeviceEditor)
            values = [row.editor.itemData(i) for i in range(row.editor.count())]
            assert values[:2] == ["auto", "cpu"] and "CPU" in row.editor.itemText(1)
        elif f.metadata["choices"]:
            assert isinstance(row.editor, ChoiceEditor)
            assert [row.editor.itemText(i) for i in range(row.editor.count())] == list(
                f.metadata["choices"]
            )
        elif kind is int:
            assert isinstance(row.editor, IntEditor)
            assert row.editor.minimum() == f.metadata["min"]
            assert row.editor.maximum() == f.metadata["max"]
        elif f.metadata["log"]:
            assert isinstance(row.editor, LogFloatEdit)
    assert [g.title() for g in form.groups.values()] == [
        "Data",
        "Model",
        "Algorithm",
        "Training",
        "Evaluation",
    ]


@pytest.mark.parametrize("preset", [p.name for p in list_presets()])
def test_form_round_trips_every_preset_exactly(form: ConfigForm, preset: str) -> None:
    config = load_preset(preset)
    form.set_config(config, preset=preset)
    assert to_dict(form.config()) == to_dict(config)
    try:
        config.validate()
        expected_errors = {}
    except configlib.ConfigError as exc:  # mini-ImageNet presets need the user's data.path
        expected_errors = {exc.field: exc.reason}
    assert form.errors() == expected_errors
    assert form.is_valid() == (not expected_errors)


def test_form_round_trips_unusual_values(form: ConfigForm) -> None:
    config = ExperimentConfig(description='quotes " and ünïcode')
    config.set("train.meta_lr", 1.2345678901234e-7)
    config.set("algorithm.inner_lr", 0.1 + 0.2)  # 0.30000000000000004 must survive
    config.set("algorithm.name", "mamlpp")
    config.set("algorithm.lslr", False)
    config.set("train.iterations", 100_000_000)
    config.set("data.split_seed", 2**31 - 1)
    config.set("eval.split", "all")
    form.set_config(config)
    assert to_dict(form.config()) == to_dict(config)
    # and through the editors' text, as a user would type it
    form.set_value("algorithm.inner_lr", format_float(0.1 + 0.2))
    assert form.config().algorithm.inner_lr == 0.1 + 0.2


def test_learning_rate_accepts_scientific_notation(form: ConfigForm) -> None:
    form.set_value("train.meta_lr", "1e-5")
    assert form.config().train.meta_lr == 1e-5
    assert form.is_valid()
    form.set_value("algorithm.inner_lr", "3E-4")
    assert form.config().algorithm.inner_lr == 3e-4


def test_invalid_value_is_marked_in_place_with_its_reason(form: ConfigForm, qtbot) -> None:
    form.show()
    before = form.config().algorithm.inner_lr
    with qtbot.waitSignal(form.validityChanged) as blocker:
        form.set_value("algorithm.inner_lr", "fast")
    assert blocker.args == [False]
    row = form.rows["algorithm.inner_lr"]
    assert not form.is_valid()
    assert "expected a number" in form.errors()["algorithm.inner_lr"]
    assert row.message.isVisible() and "expected a number" in row.message.text()
    assert "border: 2px solid" in row.frame.styleSheet()
    assert row.editor.toolTip().startswith("Invalid: expected a number")
    assert form.config().algorithm.inner_lr == before  # the last accepted value is kept
    form.set_value("algorithm.inner_lr", "1e9")
    assert "at most 100" in form.errors()["algorithm.inner_lr"]
    form.set_value("algorithm.inner_lr", "0.5")
    assert form.is_valid() and not row.message.isVisible()
    assert "transparent" in row.frame.styleSheet()


def test_combination_error_is_shown_under_the_field_validate_names(form: ConfigForm) -> None:
    form.show()
    form.set_value("data.dataset", "folder")  # a folder dataset needs data.path
    assert not form.is_valid()
    row = form.rows["data.path"]
    assert "one sub-folder of images per class" in row.message.text() and row.message.isVisible()
    assert row.browse is not None and row.container.isEnabled()
    form.set_value("data.path", "/some/folder")
    assert form.is_valid()
    assert not row.message.isVisible()


def test_fields_that_do_not_apply_are_disabled(form: ConfigForm) -> None:
    form.set_value("algorithm.name", "protonet")
    assert not form.rows["algorithm.lslr"].container.isEnabled()
    assert not form.rows["algorithm.inner_lr"].container.isEnabled()
    form.set_value("algorithm.name", "mamlpp")
    assert form.rows["algorithm.lslr"].container.isEnabled()
    form.set_value("data.dataset", "glyphs")
    assert not form.rows["data.path"].container.isEnabled()
    form.set_value("data.dataset", "omniglot")
    assert form.rows["data.path"].container.isEnabled()


def test_error_in_a_field_that_stops_applying_does_not_block(form: ConfigForm) -> None:
    form.set_value("algorithm.name", "mamlpp")
    form.set_value("algorithm.inner_lr", "oops")
    assert not form.is_valid()
    form.set_value("algorithm.name", "protonet")
    assert form.is_valid()


def test_load_and_save_toml(form: ConfigForm, tmp_path) -> None:
    config = load_preset("sinusoid-maml")
    config.set("train.iterations", 123)
    path = tmp_path / "exp.toml"
    configlib.save(config, path)
    form.load_toml(path)
    assert to_dict(form.config()) == to_dict(config)
    form.set_value("train.meta_lr", "2e-4")
    out = form.save_toml(tmp_path / "out.toml")
    saved = configlib.load(out)
    assert saved.train.meta_lr == 2e-4 and saved.train.iterations == 123


def test_unreadable_toml_raises_readable_error(form: ConfigForm, tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[data]\nways = 'many'\n")
    with pytest.raises(configlib.ConfigError, match="data.ways"):
        form.load_toml(bad)


def test_presets_listed_and_demo_chosen_on_first_start(form: ConfigForm, tmp_path) -> None:
    names = [form.preset_combo.itemData(i) for i in range(form.preset_combo.count())]
    assert names == [p.name for p in list_presets()] and names[0] == "demo"
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    form.restore(settings)
    assert form.preset_name == "demo"
    assert form.preset_combo.currentData() == "demo"
    assert to_dict(form.config()) == to_dict(load_preset("demo"))
    assert form.description.text() == load_preset("demo").description


def test_form_state_is_kept_between_sessions(qtbot, tmp_path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    first = ConfigForm()
    qtbot.addWidget(first)
    first.select_preset("sinusoid-maml")
    first.set_value("train.iterations", 77)
    first.store(settings)
    second = ConfigForm()
    qtbot.addWidget(second)
    second.restore(settings)
    assert second.preset_name == "sinusoid-maml"
    assert to_dict(second.config()) == to_dict(first.config())


def test_selecting_a_preset_replaces_the_form(form: ConfigForm) -> None:
    form.set_value("data.ways", 17)
    form.select_preset("protonet-omniglot-5w1s")
    expected = load_preset("protonet-omniglot-5w1s")
    assert to_dict(form.config()) == to_dict(expected)
    assert form.editor("algorithm.name").value() == "protonet"


def test_log_step_walks_the_1_2_5_grid() -> None:
    assert log_step(0.003, up=True) == 0.005
    assert log_step(0.003, up=False) == 0.002
    assert log_step(0.001, up=True) == 0.002
    assert log_step(0.001, up=False) == 0.0005
    assert log_step(5e-5, up=True) == 1e-4
    assert log_step(0.0, up=True) == 1e-3


def test_log_float_edit_steps_with_arrow_keys(qtbot) -> None:
    from PySide6.QtCore import Qt

    edit = LogFloatEdit(1e-6, 100.0)
    qtbot.addWidget(edit)
    edit.set_value(0.01)
    with qtbot.waitSignal(edit.changed):
        qtbot.keyClick(edit, Qt.Key_Up)
    assert edit.value() == "0.02"
    qtbot.keyClick(edit, Qt.Key_Down)
    qtbot.keyClick(edit, Qt.Key_Down)
    assert edit.value() == "0.005"


def test_config_field_metadata_is_complete() -> None:
    """The form relies on every field carrying a label and help text."""
    for key, f, _value in ExperimentConfig().fields():
        assert f.metadata.get("label"), key
        assert f.metadata.get("help"), key
        assert dataclasses.is_dataclass(ExperimentConfig)


def test_zero_that_means_a_choice_is_shown_as_words(form: ConfigForm) -> None:
    """0 filters reads as "no filters": the form shows what 0 means, and 0 still round-trips."""
    form.set_config(load_preset("maml-omniglot-5w1s"))
    editor = form.editor("model.hidden")
    assert form.config().model.hidden == 0
    assert editor.text() == "paper's value"
    form.set_value("model.hidden", 48)
    assert editor.text() == "48" and form.config().model.hidden == 48
    form.set_value("train.eval_every", 0)
    assert form.editor("train.eval_every").text() == "never"
    assert form.config().train.eval_every == 0 and form.is_valid()
