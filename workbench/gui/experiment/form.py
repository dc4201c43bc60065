"""The Experiment form, generated from the config dataclasses' field metadata.

Labels, help texts (tooltips), ranges and choices all come from `workbench.config`, so the
command line, TOML files and this form cannot disagree. Every edit goes through
``ExperimentConfig.set`` (which converts and range-checks) and then ``validate`` (which checks
combinations); a `ConfigError` is shown under the field it names, with a red frame, and makes
the form invalid (the window disables Start). Fields that do not apply to the chosen algorithm
or dataset are disabled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench import config as configlib
from workbench.config import ExperimentConfig
from workbench.errors import ConfigError, WorkbenchError
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.widgets.field_editors import make_editor
from workbench.presets import DEFAULT_PRESET, list_presets, load_preset

SECTION_TITLES = {
    "data": "Data",
    "model": "Model",
    "algorithm": "Algorithm",
    "train": "Training",
    "eval": "Evaluation",
}
TOML_FILTER = "Experiment config (*.toml);;All files (*)"


def _range_text(meta: dict) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and hi is not None:
        return f"Range: {lo:g} to {hi:g}"
    if lo is not None:
        return f"At least {lo:g}"
    if hi is not None:
        return f"At most {hi:g}"
    return ""


def _where_text(meta: dict) -> str:
    parts = []
    if meta.get("algorithms"):
        parts.append("algorithms: " + ", ".join(meta["algorithms"]))
    if meta.get("datasets"):
        parts.append("datasets: " + ", ".join(meta["datasets"]))
    return ("Applies to " + "; ".join(parts)) if parts else ""


class FieldRow:
    """One field: its label, editor (in a frame that turns red), and message line."""

    def __init__(self, key: str, f: dataclasses.Field, parent: QWidget) -> None:
        self.key = key
        self.field = f
        meta = f.metadata
        self.label = QLabel(meta["label"], parent)
        self.label.setWordWrap(True)
        self.editor = make_editor(f)
        self.editor.setObjectName(key)
        self.frame = QFrame(parent)
        self.frame.setObjectName("fieldFrame")
        frame_layout = QHBoxLayout(self.frame)
        frame_layout.setContentsMargins(2, 2, 2, 2)
        frame_layout.setSpacing(4)
        frame_layout.addWidget(self.editor, 1)
        self.browse: QToolButton | None = None
        self.message = QLabel(parent)
        self.message.setWordWrap(True)
        self.message.hide()
        self.container = QWidget(parent)
        box = QVBoxLayout(self.container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(self.frame)
        box.addWidget(self.message)
        details = [t for t in (_range_text(meta), _where_text(meta)) if t]
        self.help = meta["help"] + ("\n\n" + "\n".join(details) if details else "")
        self.help += f"\n\nKey: {key}"
        self.label.setToolTip(self.help)
        self.editor.setToolTip(self.help)
        self.error = ""

    def show_error(self, reason: str, bad_color: str) -> None:
        self.error = reason
        if reason:
            self.message.setText(reason)
            self.message.setStyleSheet(f"color: {bad_color};")
            self.message.show()
            self.frame.setStyleSheet(
                f"QFrame#fieldFrame {{ border: 2px solid {bad_color}; border-radius: 4px; }}"
            )
            self.editor.setToolTip(f"Invalid: {reason}\n\n{self.help}")
        else:
            self.message.hide()
            self.frame.setStyleSheet("QFrame#fieldFrame { border: 2px solid transparent; }")
            self.editor.setToolTip(self.help)


class ConfigForm(QWidget):
    """Preset selector, load/save TOML, and every config field grouped by section.

    Signals: ``configChanged()`` after any edit or load; ``validityChanged(bool)``;
    ``message(str)`` for the status bar (a TOML file that could not be read).
    """

    configChanged = Signal()
    validityChanged = Signal(bool)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._config = ExperimentConfig()
        self._field_errors: dict[str, str] = {}  # values ExperimentConfig.set rejected
        self._cross_error: ConfigError | None = None  # what validate() said
        self._valid = True
        self._loading = False
        self.theme: Theme = LIGHT
        self.preset_name = ""
        self.source_path: Path | None = None

        top = self._build_header()
        self.scroll = self._build_fields()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.description)
        layout.addWidget(self.notice)
        layout.addWidget(self.scroll, 1)
        self.set_config(ExperimentConfig())

    def _build_header(self) -> QHBoxLayout:
        """Preset selector, Load and Save; the description and notice lines below them."""
        self.preset_combo = QComboBox()
        self.preset_combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(10)
        self.preset_combo.setToolTip(
            "Named settings: the demo and the papers' experiments "
            "(resources/presets). Choosing one replaces the form."
        )
        for preset in list_presets():
            self.preset_combo.addItem(preset.name, preset.name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, preset.description, Qt.ToolTipRole
            )
        self.preset_combo.activated.connect(
            lambda _i: self.select_preset(self.preset_combo.currentData())
        )
        self.load_button = QToolButton()
        self.load_button.setText("Load…")
        self.load_button.setToolTip("Load an experiment from a TOML file (Ctrl+O)")
        self.load_button.clicked.connect(self.open_toml_dialog)
        self.save_button = QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip(
            "Save this experiment as a TOML file (Ctrl+S); "
            "`workbench train FILE` trains it without the window"
        )
        self.save_button.clicked.connect(self.save_toml_dialog)
        self.description = QLineEdit()
        self.description.setPlaceholderText("A one-line description of the experiment")
        self.description.setToolTip("Shown in preset and run lists; saved in the TOML file")
        self.description.textEdited.connect(self._on_description)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.hide()

        top = QHBoxLayout()
        preset_label = QLabel("Preset")
        preset_label.setToolTip(self.preset_combo.toolTip())
        top.addWidget(preset_label)
        top.addWidget(self.preset_combo, 1)
        top.addWidget(self.load_button)
        top.addWidget(self.save_button)
        return top

    def _build_fields(self) -> QScrollArea:
        """One group per config section, one row per field, generated from `ExperimentConfig`."""
        self.rows: dict[str, FieldRow] = {}
        fields_widget = QWidget()
        fields_layout = QVBoxLayout(fields_widget)
        fields_layout.setContentsMargins(0, 0, 4, 0)
        self.groups: dict[str, QGroupBox] = {}
        for section in ExperimentConfig.sections():
            group = QGroupBox(SECTION_TITLES[section])
            form = QFormLayout(group)
            form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignLeft | Qt.AlignVCenter)
            form.setVerticalSpacing(4)
            for key, f, _value in self._config.fields():
                if not key.startswith(section + "."):
                    continue
                row = FieldRow(key, f, group)
                row.editor.changed.connect(lambda k=key: self._on_edited(k))
                if key == "data.path":
                    self._add_browse(row)
                form.addRow(row.label, row.container)
                self.rows[key] = row
            self.groups[section] = group
            fields_layout.addWidget(group)
        fields_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(fields_widget)
        return scroll

    # -- reading and writing the whole config ----------------------------------------------------
    def config(self) -> ExperimentConfig:
        """A copy of the form's config (the last accepted value of any field marked invalid)."""
        return self._config.copy()

    def set_config(
        self, config: ExperimentConfig, preset: str | None = None, source: Path | None = None
    ) -> None:
        """Show ``config`` in every field; clears all error marks, then validates."""
        self._loading = True
        try:
            self._config = config.copy()
            self._field_errors.clear()
            self.description.setText(config.description)
            self.description.setCursorPosition(0)
            for key, _f, value in self._config.fields():
                self.rows[key].editor.set_value(value)
            self.preset_name = preset or ""
            self.source_path = source
            if preset:
                index = self.preset_combo.findData(preset)
                if index >= 0:
                    self.preset_combo.setCurrentIndex(index)
            self._set_notice("")
        finally:
            self._loading = False
        self._revalidate()
        self.configChanged.emit()

    def select_preset(self, name: str) -> None:
        try:
            config = load_preset(name)
        except WorkbenchError as exc:
            self._set_notice(f"Preset {name} could not be loaded: {exc}")
            self.message.emit(f"Preset {name} could not be loaded: {exc}")
            return
        self.set_config(config, preset=name)
        self.message.emit(f"Preset {name}: {config.description}")

    def load_toml(self, path: str | Path) -> ExperimentConfig:
        """Load a TOML file into the form (raises ConfigError with a readable message)."""
        config = configlib.load(path)
        self.set_config(config, source=Path(path))
        return config

    def save_toml(self, path: str | Path) -> Path:
        path = Path(path)
        try:
            configlib.save(self.config(), path)
        except OSError as exc:
            raise ConfigError("", f"cannot write {path}: {exc.strerror or exc}") from None
        self.source_path = path
        return path

    def open_toml_dialog(self) -> None:
        start = str(self.source_path.parent) if self.source_path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Load experiment", start, TOML_FILTER)
        if not path:
            return
        try:
            self.load_toml(path)
        except WorkbenchError as exc:
            self._set_notice(f"Could not load {Path(path).name}: {exc}")
            self.message.emit(f"Could not load {path}: {exc}")
            return
        self.message.emit(f"Loaded {path}")

    def save_toml_dialog(self) -> None:
        default = str(self.source_path or f"{self.preset_name or 'experiment'}.toml")
        path, _ = QFileDialog.getSaveFileName(self, "Save experiment", default, TOML_FILTER)
        if not path:
            return
        if not path.endswith(".toml"):
            path += ".toml"
        try:
            self.save_toml(path)
        except WorkbenchError as exc:
            self._set_notice(str(exc))
            self.message.emit(str(exc))
            return
        self.message.emit(f"Saved {path}")

    # -- state kept between sessions -------------------------------------------------------------
    def store(self, settings: QSettings) -> None:
        settings.setValue("form/config", configlib.dumps(self._config))
        settings.setValue("form/preset", self.preset_name)

    def restore(self, settings: QSettings) -> None:
        """The form as it was last time; the demo preset on first start (or if that fails)."""
        text = settings.value("form/config", "")
        preset = str(settings.value("form/preset", "") or "")
        if text:
            try:
                self.set_config(
                    configlib.loads(str(text), source="saved settings"), preset=preset or None
                )
                return
            except WorkbenchError:
                pass
        self.select_preset(DEFAULT_PRESET)

    # -- editing ------------------------------------------------------------------------------
    def set_value(self, key: str, value: object) -> None:
        """Enter ``value`` in a field as a user would (tests and scripted edits)."""
        row = self.rows[key]
        row.editor.set_value(value)
        self._on_edited(key)

    def editor(self, key: str) -> QWidget:
        return self.rows[key].editor

    def errors(self) -> dict[str, str]:
        """Reasons by field key, for the fields that block Start."""
        out = {k: v for k, v in self._field_errors.items() if self._config.applies(k)}
        if self._cross_error is not None:
            out.setdefault(self._cross_error.field, self._cross_error.reason)
        return out

    def is_valid(self) -> bool:
        return self._valid

    def contains_focus(self) -> bool:
        """Whether the keyboard focus is in one of the form's editors."""
        focus = QApplication.focusWidget()
        return focus is not None and self.isAncestorOf(focus)

    def set_editable(self, editable: bool) -> None:
        """Read-only while training (the run uses the config it was started with)."""
        for widget in (self.preset_combo, self.load_button, self.description, self.scroll):
            widget.setEnabled(editable)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.notice.setStyleSheet(f"color: {theme.bad};")
        for row in self.rows.values():
            row.show_error(row.error, theme.bad)

    def _on_description(self, text: str) -> None:
        self._config.description = text
        self.configChanged.emit()

    def _on_edited(self, key: str) -> None:
        if self._loading:
            return
        try:
            self._config.set(key, self.rows[key].editor.value())
            self._field_errors.pop(key, None)
        except ConfigError as exc:
            self._field_errors[key] = exc.reason
        self._revalidate()
        self.configChanged.emit()

    def _revalidate(self) -> None:
        try:
            self._config.copy().validate()
            self._cross_error = None
        except ConfigError as exc:
            self._cross_error = exc
        errors = self.errors()
        for key, row in self.rows.items():
            applies = self._config.applies(key)
            row.label.setEnabled(applies)
            row.container.setEnabled(applies)
            reason = errors.get(key) or (self._field_errors.get(key, "") if not applies else "")
            row.show_error(reason, self.theme.bad)
        general = [f"{k}: {v}" if k else v for k, v in errors.items() if k not in self.rows]
        if general:
            self._set_notice("Invalid: " + "; ".join(general))
        elif self.notice.text().startswith("Invalid:"):
            self._set_notice("")
        valid = not errors
        if valid != self._valid:
            self._valid = valid
            self.validityChanged.emit(valid)

    def _set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _add_browse(self, row: FieldRow) -> None:
        button = QToolButton(row.frame)
        button.setText("Browse…")
        button.setToolTip("Choose the dataset folder (the arrow offers an archive file instead)")
        button.setPopupMode(QToolButton.MenuButtonPopup)
        menu = QMenu(button)
        menu.addAction("Choose a folder…", lambda: self._browse(row, folder=True))
        menu.addAction("Choose an archive file (.zip)…", lambda: self._browse(row, folder=False))
        button.setMenu(menu)
        button.clicked.connect(lambda: self._browse(row, folder=True))
        row.frame.layout().addWidget(button)
        row.browse = button

    def _browse(self, row: FieldRow, folder: bool) -> None:
        start = row.editor.value() or str(Path.home())
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Dataset folder", start)
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Dataset archive", start, "Archives (*.zip *.tar *.tar.gz);;All files (*)"
            )
        if path:
            self.set_value(row.key, path)
