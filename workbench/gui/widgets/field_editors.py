"""One editor widget per kind of config field, all with the same small interface.

`make_editor(field)` picks the widget from the field's type and metadata: a check box for
booleans, a combo box for choices, a spin box for whole numbers, a text box for learning rates
(``1e-5`` must be typable; Up/Down and the wheel step along 1-2-5), a text box for text.
Every editor has ``value()`` (what the user entered, possibly invalid text), ``set_value(v)``
and a ``changed`` signal emitted on user edits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from workbench.config import field_type

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def format_float(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``0.003``, ``1e-05``)."""
    return repr(float(value))


def log_step(value: float, up: bool) -> float:
    """The next value on the 1-2-5 grid (…, 0.001, 0.002, 0.005, 0.01, …) up or down."""
    if not math.isfinite(value) or value <= 0:
        return 1e-3
    exponent = math.floor(math.log10(value))
    grid = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1, 2, 5)]
    grid = [float(f"{g:.12g}") for g in grid]
    if up:
        return next(g for g in grid if g > value * (1 + 1e-9))
    return next(g for g in reversed(grid) if g < value * (1 - 1e-9))


class LogFloatEdit(QLineEdit):
    """A number typed as text (``3e-4`` works); Up/Down and the wheel step along 1-2-5."""

    changed = Signal()

    def __init__(
        self, minimum: float | None, maximum: float | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.minimum, self.maximum = minimum, maximum
        self.setPlaceholderText("e.g. 0.001 or 1e-3")
        self.textEdited.connect(lambda _t: self.changed.emit())

    def value(self) -> str:
        return self.text()

    def set_value(self, value: Any) -> None:
        self.setText(format_float(value) if isinstance(value, (int, float)) else str(value))

    def _step(self, up: bool) -> None:
        try:
            current = float(self.text())
        except ValueError:
            return
        new = log_step(current, up)
        if self.minimum is not None and new < self.minimum:
            new = self.minimum
        if self.maximum is not None and new > self.maximum:
            new = self.maximum
        self.setText(format_float(new))
        self.changed.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key_Up, Qt.Key_Down):
            self._step(event.key() == Qt.Key_Up)
            return
        super().keyPressEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if self.hasFocus() and event.angleDelta().y():
            self._step(event.angleDelta().y() > 0)
            event.accept()
            return
        super().wheelEvent(event)


class CheckEditor(QCheckBox):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clicked.connect(lambda _c: self.changed.emit())

    def value(self) -> bool:
        return self.isChecked()

    def set_value(self, value: Any) -> None:
        self.setChecked(bool(value))


class _WheelOnlyWhenFocused:
    """Scrolling over the form must scroll it, not edit the value under the mouse: editors take
    wheel events only once they have focus."""

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt's name
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()


class ChoiceEditor(_WheelOnlyWhenFocused, QComboBox):
    changed = Signal()

    def __init__(self, choices: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addItems(list(choices))
        self.activated.connect(lambda _i: self.changed.emit())

    def value(self) -> str:
        return self.currentText()

    def set_value(self, value: Any) -> None:
        index = self.findText(str(value))
        if index < 0:  # not a choice: show it, so validation can say why it is wrong
            self.addItem(str(value))
            index = self.count() - 1
        self.setCurrentIndex(index)


class DeviceEditor(ChoiceEditor):
    """``train.device``: auto, the CPU and each GPU with its name and memory (as
    `workbench.engine.distributed.devices` finds them); the value is what the config takes
    (``auto``, ``cpu``, ``cuda:1``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__((), parent)
        from workbench.engine.distributed.devices import list_devices

        self.addItem("auto - a GPU when present, else the CPU", "auto")
        devices = list_devices()
        for d in devices:
            self.addItem(d.label, d.value)
        if len(devices) > 1:
            self.addItem("cuda - the first GPU", "cuda")

    def value(self) -> str:
        return str(self.currentData())

    def set_value(self, value: Any) -> None:
        index = self.findData(str(value))
        if index < 0:  # a GPU this machine lacks: show it, so validation can say why
            self.addItem(str(value), str(value))
            index = self.count() - 1
        self.setCurrentIndex(index)


class IntEditor(_WheelOnlyWhenFocused, QSpinBox):
    changed = Signal()

    def __init__(
        self, minimum: float | None, maximum: float | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setRange(
            int(minimum) if minimum is not None else INT_MIN,
            int(maximum) if maximum is not None else INT_MAX,
        )
        self.setFocusPolicy(Qt.StrongFocus)
        self.valueChanged.connect(lambda _v: self.changed.emit())

    def value(self) -> int:  # type: ignore[override]
        return super().value()

    def set_value(self, value: Any) -> None:
        self.blockSignals(True)
        self.setValue(int(value))
        self.blockSignals(False)


class FloatEditor(_WheelOnlyWhenFocused, QDoubleSpinBox):
    changed = Signal()

    def __init__(
        self, minimum: float | None, maximum: float | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setDecimals(6)
        self.setRange(
            minimum if minimum is not None else -1e12, maximum if maximum is not None else 1e12
        )
        self.setFocusPolicy(Qt.StrongFocus)
        self.valueChanged.connect(lambda _v: self.changed.emit())

    def value(self) -> float:  # type: ignore[override]
        return super().value()

    def set_value(self, value: Any) -> None:
        self.blockSignals(True)
        self.setValue(float(value))
        self.blockSignals(False)


class TextEditor(QLineEdit):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.textEdited.connect(lambda _t: self.changed.emit())

    def value(self) -> str:
        return self.text()

    def set_value(self, value: Any) -> None:
        self.setText(str(value))


def make_editor(f: dataclasses.Field) -> QWidget:
    """The editor for one config field, chosen from its type and metadata."""
    meta = f.metadata
    kind = field_type(f)
    editor: QWidget
    if kind is bool:
        return CheckEditor()
    if f.name == "device":
        editor = DeviceEditor()
        editor.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        editor.setMinimumContentsLength(6)
    elif meta.get("choices"):
        editor = ChoiceEditor(tuple(meta["choices"]))
        editor.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        editor.setMinimumContentsLength(6)
    elif kind is int:
        editor = IntEditor(meta.get("min"), meta.get("max"))
        if meta.get("zero") and meta.get("min") == 0:
            editor.setSpecialValueText(meta["zero"])  # shown instead of 0; typing 0 works
    elif kind is float and meta.get("log"):
        editor = LogFloatEdit(meta.get("min"), meta.get("max"))
    elif kind is float:
        editor = FloatEditor(meta.get("min"), meta.get("max"))
    else:
        editor = TextEditor()
    # a spin box sized for 100,000,000 must not make the whole panel wide
    editor.setMinimumWidth(72)
    return editor
