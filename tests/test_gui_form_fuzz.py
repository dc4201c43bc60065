"""Fuzzing the Experiment form the way a user would: keys typed into its editors.

Whatever is typed, in whatever field and order, the form must end in one of two states: valid,
and then its config validates, survives a TOML round trip and Start is enabled; or invalid, and
then every reason is shown next to a field the form has (or in the general notice), and Start is
disabled. An exception in any slot fails the test (pytest-qt captures them), so "never a crash
of the window" is part of every example.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QSettings, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit

from workbench import config as configlib
from workbench.config import ExperimentConfig, to_dict
from workbench.gui.experiment.form import ConfigForm
from workbench.gui.main_window import MainWindow
from workbench.gui.widgets.field_editors import CheckEditor, ChoiceEditor
from workbench.presets import list_presets

KEYS = [key for key, _f, _v in ExperimentConfig().fields()]
PRESETS = [p.name for p in list_presets()]

# what people type: numbers in every notation, words, whitespace, signs, and arbitrary text
typed = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-0",
            "1e-3",
            "1E+2",
            ".5",
            "5.",
            "1,5",
            "0x10",
            "nan",
            "inf",
            "-inf",
            "1e309",
            "1e-400",
            "  0.01 ",
            "++1",
            "1_000",
            "∞",
            "½",
            "glyphs",
            "maml",
            "cuda",
            "../x",
            "~/data",
            "C:\\data",
            "é/ü/字",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
)
edit = st.tuples(st.sampled_from(KEYS), typed, st.integers(min_value=0, max_value=50))


def type_text(widget: QLineEdit, text: str) -> None:
    """Key presses carrying each character, as a keyboard or input method sends them
    (``QTest.keyClicks`` only knows ASCII and aborts on anything else)."""
    for char in text:
        for kind in (QEvent.KeyPress, QEvent.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, 0, Qt.NoModifier, char))


def type_into(form: ConfigForm, key: str, text: str, pick: int) -> None:
    """Replace a field's content by typing, as a user would with the keyboard or mouse."""
    editor = form.editor(key)
    if isinstance(editor, CheckEditor):
        if pick % 2:
            QTest.mouseClick(editor, Qt.LeftButton)
        return
    if isinstance(editor, ChoiceEditor):
        index = pick % editor.count()
        editor.setCurrentIndex(index)
        editor.activated.emit(index)  # what a click on the item in the open list sends
        return
    line = editor.lineEdit() if isinstance(editor, QAbstractSpinBox) else editor
    assert isinstance(line, QLineEdit)
    editor.setFocus()
    line.selectAll()
    if text:
        type_text(line, text)  # spin boxes' validators drop what cannot be a number
    else:
        QTest.keyClick(line, Qt.Key_Backspace)
    if isinstance(editor, QAbstractSpinBox):
        QTest.keyClick(line, Qt.Key_Return)  # commits (or reverts) what was typed


def assert_consistent(form: ConfigForm) -> None:
    errors = form.errors()
    if form.is_valid():
        assert not errors
        config = form.config().validate()  # the form's config is really valid
        again = configlib.loads(configlib.dumps(config))  # and saves and reloads exactly
        assert to_dict(again) == to_dict(config)
    else:
        assert errors, "invalid without a reason"
        for key, reason in errors.items():
            assert reason.strip(), f"empty reason for {key!r}"
            if key in form.rows:
                assert form.rows[key].error == reason  # shown next to that field
            else:
                assert reason in form.notice.text()  # or in the notice above the form


def test_anything_typed_gives_a_valid_config_or_errors_next_to_fields(qtbot) -> None:
    form = ConfigForm()
    qtbot.addWidget(form)
    form.show()

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(preset=st.sampled_from(PRESETS), edits=st.lists(edit, min_size=1, max_size=6))
    def example(preset, edits):
        form.select_preset(preset)  # a fresh start: every field from the preset, no errors
        for key, text, pick in edits:
            type_into(form, key, text, pick)
            editor = form.editor(key)
            if isinstance(editor, QLineEdit) and editor.isEnabled() and text.isprintable():
                assert editor.text() == text  # the keys really reached the field
            assert_consistent(form)

    example()


def test_start_button_follows_the_form_and_a_bad_form_never_starts(qtbot, tmp_path) -> None:
    """In the main window: Start is enabled exactly when the form is valid, and Start with an
    invalid form does nothing but say why in the status bar (no thread, no run folder)."""
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    window.context.set_runs_dir(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(preset=st.sampled_from(PRESETS), edits=st.lists(edit, min_size=1, max_size=4))
    def example(preset, edits):
        window.form.select_preset(preset)
        for key, text, pick in edits:
            type_into(window.form, key, text, pick)
        assert window.panel.start_button.isEnabled() == window.form.is_valid()
        if not window.form.is_valid():
            window.training_control.start_training()
            assert not window.session.running
            assert window.statusBar().currentMessage().startswith("Cannot start: ")
            assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

    example()
    window.close()
