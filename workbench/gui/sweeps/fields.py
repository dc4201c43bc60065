"""Which fields of the experiment are swept, over which ranges: the editable list in the
Sweeps view, with a sensible range proposed for each field from its value and its limits."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.config import ExperimentConfig, field_type
from workbench.engine.sweeps import ParamSpec, parse_param_spec
from workbench.errors import ConfigError

#: fields offered first: the ones MAML is known to be sensitive to
FAVOURITES = ("algorithm.inner_lr", "train.meta_lr", "algorithm.inner_steps")


def sweepable(config: ExperimentConfig) -> list[tuple[str, str]]:
    """(key, label) of every field a sweep can search: numbers, choices and switches."""
    out = []
    for key, f, _value in config.fields():
        kind = field_type(f)
        if kind in (int, float, bool) or f.metadata.get("choices"):
            out.append((key, f"{f.metadata.get('label', key)}  ({key})"))
    out.sort(
        key=lambda item: (
            item[0] not in FAVOURITES,
            FAVOURITES.index(item[0]) if item[0] in FAVOURITES else 0,
        )
    )
    return out


def _clip(value: float, meta: Mapping[str, Any]) -> float:
    low, high = meta.get("min"), meta.get("max")
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


def proposed_range(key: str, config: ExperimentConfig) -> str:
    """A first range for ``key`` around its current value: a decade either side for learning
    rates, half to double for other numbers, every choice for choices."""
    f = next(f for k, f, _ in config.fields() if k == key)
    value, meta, kind = config.get(key), f.metadata, field_type(f)
    if meta.get("choices"):
        return f"choice({','.join(meta['choices'])})"
    if kind is bool:
        return "choice(true,false)"
    if kind is int:
        low_int = int(_clip(max(1, value // 2), meta))
        return f"int({low_int},{int(_clip(max(low_int + 1, value * 2), meta))})"
    if meta.get("log") and value > 0:
        low = _clip(value / 10, meta)
        return f"log({_short(low)},{_short(_clip(value * 10, meta))})"
    low = _clip(value / 2 if value else 0.0, meta)
    return f"float({_short(low)},{_short(_clip(value * 2 if value else 1.0, meta))})"


def _short(x: float) -> str:
    return f"{x:.3g}" if x and abs(math.log10(abs(x))) < 4 else f"{x:g}"


class SweptFields(QWidget):
    """Rows of (field, range). ``specs(config)`` checks every row against ``config``; the
    first bad row raises `ConfigError` naming the field. Signal: ``changed()``."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Field", "Range", ""])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setToolTip(
            "The fields each trial samples: log(a,b) for rates, float(a,b), int(a,b), "
            "choice(x,y,...). Everything else comes from the Experiment panel."
        )
        self.add_button = QPushButton("Add field")
        self.add_button.setToolTip("Sweep one more field of the experiment")
        self.add_button.clicked.connect(lambda: self.add_row())
        self._config = ExperimentConfig()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)

    def set_config(self, config: ExperimentConfig) -> None:
        """The config whose fields are offered (and whose values propose ranges)."""
        self._config = config

    def add_row(self, key: str | None = None, text: str | None = None) -> None:
        used = set(self.keys())
        options = sweepable(self._config)
        if key is None:
            key = next((k for k, _ in options if k not in used), options[0][0])
        combo = QComboBox()
        for k, label in options:
            combo.addItem(label, k)
        combo.setCurrentIndex(max(0, combo.findData(key)))
        edit = QLineEdit(text or proposed_range(key, self._config))
        edit.textChanged.connect(self.changed)
        remove = QPushButton("✕")
        remove.setToolTip("Stop sweeping this field")
        remove.setFixedWidth(28)
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setCellWidget(row, 0, combo)
        self.table.setCellWidget(row, 1, edit)
        self.table.setCellWidget(row, 2, remove)
        combo.currentIndexChanged.connect(lambda _i, c=combo, e=edit: self._field_chosen(c, e))
        remove.clicked.connect(lambda _c=False, b=remove: self._remove(b))
        self.changed.emit()

    def _field_chosen(self, combo: QComboBox, edit: QLineEdit) -> None:
        edit.setText(proposed_range(combo.currentData(), self._config))

    def _remove(self, button: QPushButton) -> None:
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, 2) is button:
                self.table.removeRow(row)
                break
        self.changed.emit()

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        self.table.setRowCount(0)
        for key, text in rows:
            self.add_row(key, text)

    def rows(self) -> list[tuple[str, str]]:
        out = []
        for row in range(self.table.rowCount()):
            combo = self.table.cellWidget(row, 0)
            edit = self.table.cellWidget(row, 1)
            assert isinstance(combo, QComboBox) and isinstance(edit, QLineEdit)
            out.append((str(combo.currentData()), edit.text().strip()))
        return out

    def keys(self) -> list[str]:
        return [key for key, _ in self.rows()]

    def specs(self, config: ExperimentConfig) -> dict[str, ParamSpec]:
        specs: dict[str, ParamSpec] = {}
        for key, text in self.rows():
            if key in specs:
                raise ConfigError(key, "is swept twice; remove one of its rows")
            specs[key] = parse_param_spec(key, text, config)
        if not specs:
            raise ConfigError("", "choose at least one field to sweep (Add field)")
        return specs

    def set_enabled(self, enabled: bool) -> None:
        self.table.setEnabled(enabled)
        self.add_button.setEnabled(enabled)


__all__ = ["SweptFields", "proposed_range", "sweepable"]
