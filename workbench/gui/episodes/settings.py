"""The episode browser's settings: dataset, split, N-way, K-shot, queries, seed, rotations.

Labels, ranges and tooltips come from the config field metadata, so the browser and the
Experiment form describe a setting the same way. Changes are reported as two signals: those that
need the split (re)loaded (`dataChanged`) and those that only re-draw episodes (`episodeChanged`).
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from workbench.config import DataConfig, ExperimentConfig
from workbench.engine.episode_seeds import VAL_SEED_OFFSET, episode_seed

SPLITS = ("train", "val", "test", "all")
DATASET_TITLES = {
    "glyphs": "Glyphs (embedded)",
    "sinusoid": "Sinusoid (regression)",
    "omniglot": "Omniglot",
    "miniimagenet": "mini-ImageNet",
    "folder": "Folder of class folders",
}
SPLIT_TITLES = {"train": "train", "val": "validation", "test": "test", "all": "all classes"}

DATA_KEYS = ("dataset", "path", "image_size", "rotations", "split_seed")
EPISODE_KEYS = ("ways", "shots", "queries")


def _meta(name: str) -> dict:
    for f in dataclasses.fields(DataConfig):
        if f.name == name:
            return dict(f.metadata)
    raise KeyError(name)


class _NoWheelSpinBox(QSpinBox):
    """A spin box that lets the mouse wheel scroll the panel instead of changing the value."""

    def wheelEvent(self, event) -> None:  # noqa: N802
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class EpisodeSettingsForm(QWidget):
    """Widgets for the data settings of the browser; `data_config()`, `split()`, `seed()`."""

    dataChanged = Signal()  # the split must be loaded again
    episodeChanged = Signal()  # only the episode shape or seed changed
    copyRequested = Signal()  # "Copy from Experiment" was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._labels: dict[str, QWidget] = {}

        meta = _meta("dataset")
        self.dataset = QComboBox()
        for name in meta["choices"]:
            self.dataset.addItem(DATASET_TITLES.get(name, name), name)
        self._add(form, "dataset", self.dataset)

        meta = _meta("path")
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder or archive")
        self.path.setClearButtonEnabled(True)
        self.browse = QToolButton()
        self.browse.setText("Browse…")
        self.browse.setToolTip("Choose the dataset folder")
        self.browse.clicked.connect(self._browse)
        path_row = QWidget()
        row = QHBoxLayout(path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        self.path_row = path_row
        self._add(form, "path", path_row, tooltip_widget=self.path)

        self.split = QComboBox()
        for name in SPLITS:
            self.split.addItem(SPLIT_TITLES[name], name)
        self.split.setToolTip(
            "Which classes episodes are drawn from: train (meta-training), validation (model "
            "selection during training), test (the final evaluation), or all classes."
        )
        form.addRow("Split", self.split)
        self._labels["split"] = form.labelForField(self.split)

        self.ways = self._spin(form, "ways")
        self.shots = self._spin(form, "shots")
        self.queries = self._spin(form, "queries")

        self.seed = _NoWheelSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip(
            "Seed of episode sampling: episode i is always the same for the same seed and "
            "settings. Copying from the Experiment sets the seed the trainer uses for this split "
            f"(train.seed for train, train.seed + {VAL_SEED_OFFSET} for validation, eval.seed "
            "for test)."
        )
        form.addRow("Episode seed", self.seed)
        self._labels["seed"] = form.labelForField(self.seed)

        meta = _meta("rotations")
        self.rotations = QCheckBox(meta["label"])
        self.rotations.setToolTip(meta["help"])
        form.addRow("", self.rotations)

        self.image_size = self._spin(form, "image_size")
        self.split_seed = self._spin(form, "split_seed")

        self.copy_button = QPushButton("Copy from Experiment")
        self.copy_button.setToolTip(
            "Use the data settings of the Experiment panel (dataset, path, N-way, K-shot, "
            "queries, rotations, image size, split seed and the split's episode seed)"
        )
        self.copy_button.clicked.connect(self.copyRequested)
        form.addRow(self.copy_button)

        for w in (self.dataset, self.split):
            w.currentIndexChanged.connect(self._data_changed)
        self.path.editingFinished.connect(self._path_edited)
        for w in (self.image_size, self.split_seed):
            w.valueChanged.connect(self._data_changed)
        self.rotations.toggled.connect(self._data_changed)
        for w in (self.ways, self.shots, self.queries, self.seed):
            w.valueChanged.connect(self._episode_changed)
        self._last_path = ""
        self.set_values(DataConfig(), "train", 0)

    # -- construction helpers ---------------------------------------------------------------------
    def _add(
        self, form: QFormLayout, name: str, widget: QWidget, tooltip_widget: QWidget | None = None
    ) -> None:
        meta = _meta(name)
        (tooltip_widget or widget).setToolTip(meta["help"])
        form.addRow(meta["label"], widget)
        label = form.labelForField(widget)
        if label is not None:
            label.setToolTip(meta["help"])
        self._labels[name] = label

    def _spin(self, form: QFormLayout, name: str) -> QSpinBox:
        meta = _meta(name)
        spin = _NoWheelSpinBox()
        spin.setRange(int(meta["min"]), int(meta["max"]))
        self._add(form, name, spin)
        return spin

    # -- values ------------------------------------------------------------------------------------
    def data_config(self) -> DataConfig:
        """The data settings as a `DataConfig` (every value is in range by construction)."""
        return DataConfig(
            dataset=str(self.dataset.currentData()),
            path=self.path.text().strip(),
            ways=self.ways.value(),
            shots=self.shots.value(),
            queries=self.queries.value(),
            image_size=self.image_size.value(),
            rotations=self.rotations.isChecked(),
            split_seed=self.split_seed.value(),
        )

    def current_split(self) -> str:
        return str(self.split.currentData())

    def current_seed(self) -> int:
        return self.seed.value()

    def set_values(self, data: DataConfig, split: str, seed: int) -> None:
        """Show these settings; emits `dataChanged` once (not per widget)."""
        widgets = (
            self.dataset,
            self.path,
            self.split,
            self.ways,
            self.shots,
            self.queries,
            self.seed,
            self.rotations,
            self.image_size,
            self.split_seed,
        )
        blockers = [QSignalBlocker(w) for w in widgets]
        try:
            index = self.dataset.findData(data.dataset)
            self.dataset.setCurrentIndex(max(0, index))
            self.path.setText(data.path)
            self._last_path = data.path.strip()
            self.split.setCurrentIndex(max(0, self.split.findData(split)))
            self.ways.setValue(int(data.ways))
            self.shots.setValue(int(data.shots))
            self.queries.setValue(int(data.queries))
            self.seed.setValue(int(seed))
            self.rotations.setChecked(bool(data.rotations))
            self.image_size.setValue(int(data.image_size))
            self.split_seed.setValue(int(data.split_seed))
        finally:
            for b in blockers:
                b.unblock()
        self._update_enabled()
        self.dataChanged.emit()

    def set_from_experiment(self, config: ExperimentConfig) -> None:
        """Copy the Experiment's data settings and the seed it uses for the shown split."""
        self.set_values(
            config.data, self.current_split(), episode_seed(config, self.current_split())
        )

    def _update_enabled(self) -> None:
        """Grey out what does not apply to the chosen dataset (the config's own rule)."""
        probe = ExperimentConfig()
        probe.data.dataset = str(self.dataset.currentData())
        for name, widget in (
            ("path", self.path_row),
            ("rotations", self.rotations),
            ("image_size", self.image_size),
        ):
            on = probe.applies(f"data.{name}")
            widget.setEnabled(on)
            label = self._labels.get(name)
            if label is not None:
                label.setEnabled(on)
        regression = probe.data.dataset == "sinusoid"
        for name, widget in (("ways", self.ways), ("split_seed", self.split_seed)):
            widget.setEnabled(not regression)
            label = self._labels.get(name)
            if label is not None:
                label.setEnabled(not regression)

    # -- reactions ------------------------------------------------------------------------------
    def _data_changed(self) -> None:
        self._update_enabled()
        self.dataChanged.emit()

    def _episode_changed(self) -> None:
        self.episodeChanged.emit()

    def _path_edited(self) -> None:
        text = self.path.text().strip()
        if text != self._last_path:
            self._last_path = text
            self.dataChanged.emit()

    def _browse(self) -> None:
        start = self.path.text().strip()
        chosen = QFileDialog.getExistingDirectory(self, "Dataset folder", start)
        if chosen:
            self.path.setText(chosen)
            self._path_edited()


__all__ = ["EpisodeSettingsForm", "DATASET_TITLES", "SPLITS"]
