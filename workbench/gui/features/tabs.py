"""The Features view's picture tabs: first-layer filters, the images that drive a channel, and
the saliency of query images. Each paints what the engine computed; nothing is recomputed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.features import FeaturesReport
from workbench.gui.features.pictures import (
    clear_layout,
    filter_grid,
    grey_image,
    heat_overlay,
    image_strip,
)
from workbench.gui.theme import LIGHT, Theme

CELL = 56


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


class FiltersTab(QWidget):
    """Each model's first layer side by side: Conv4's 3x3 kernels, or each MLP unit's weights
    on the 28x28 pixels (grey is zero, light positive, dark negative)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.report: FeaturesReport | None = None
        self.inner = QWidget()
        self.row = QHBoxLayout(self.inner)
        self.row.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.note)
        layout.addWidget(_scroll(self.inner), 1)
        self.images: list[QLabel] = []

    def set_report(self, report: FeaturesReport) -> None:
        self.report = report
        self.redraw()

    def redraw(self) -> None:
        clear_layout(self.row)
        self.images = []
        if self.report is None:
            return
        for m in self.report.models:
            bank = m.filters
            dense = bank.kind == "dense"
            columns = 8 if dense else 8
            cell = 48 if dense else 28
            box = QWidget()
            bl = QVBoxLayout(box)
            bl.setContentsMargins(0, 0, 12, 0)
            title = QLabel(f"<b>{m.label}</b><br>{bank.layer}: {bank.units} units")
            picture = QLabel()
            picture.setPixmap(
                QPixmap.fromImage(filter_grid(bank, columns, cell, self.theme.background))
            )
            picture.setToolTip("Grey is a zero weight; each filter on its own scale")
            bl.addWidget(title)
            bl.addWidget(picture)
            bl.addStretch(1)
            self.row.addWidget(box)
            self.images.append(picture)
        first = self.report.models[0].filters
        self.note.setText(
            "First-layer weights as images, exactly as in each model (before adaptation). "
            + (
                "Each tile is one unit's 784 weights on the pixels."
                if first.kind == "dense"
                else "Each tile is one 3x3 kernel (first input channel)."
            )
        )

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.note.setStyleSheet(f"color: {theme.muted};")
        self.redraw()


class ActivationsTab(QWidget):
    """For a model, a layer and a channel: the probe images that excite it most and least."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.report: FeaturesReport | None = None
        self.model_combo = QComboBox()
        self.layer_combo = QComboBox()
        self.channel = QSpinBox()
        self.channel.setToolTip("The channel (unit) of the layer")
        self.model_combo.currentIndexChanged.connect(lambda _i: self._list_layers())
        self.layer_combo.currentIndexChanged.connect(lambda _i: self._layer_chosen())
        self.channel.valueChanged.connect(lambda _v: self.redraw())
        top = QHBoxLayout()
        for label, w in (
            ("Model", self.model_combo),
            ("Layer", self.layer_combo),
            ("Channel", self.channel),
        ):
            top.addWidget(QLabel(label))
            top.addWidget(w)
        top.addStretch(1)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(_scroll(self.picture), 1)

    def set_report(self, report: FeaturesReport) -> None:
        self.report = report
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems([m.label for m in report.models])
        self.model_combo.blockSignals(False)
        self._list_layers()

    def _list_layers(self) -> None:
        if self.report is None:
            return
        m = self.report.models[max(0, self.model_combo.currentIndex())]
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(list(m.extremes))
        self.layer_combo.blockSignals(False)
        self._layer_chosen()

    def _layer_chosen(self) -> None:
        extremes = self.current_layer()
        self.channel.blockSignals(True)
        self.channel.setRange(0, max(0, len(extremes) - 1))
        self.channel.blockSignals(False)
        self.redraw()

    def current_layer(self) -> list:
        if self.report is None or not self.layer_combo.currentText():
            return []
        m = self.report.models[max(0, self.model_combo.currentIndex())]
        return m.extremes.get(self.layer_combo.currentText(), [])

    def shown(self):
        """The `Extremes` the picture shows (tests), or None."""
        layer = self.current_layer()
        return layer[self.channel.value()] if layer else None

    def redraw(self) -> None:
        e = self.shown()
        if e is None or self.report is None:
            self.picture.clear()
            return
        images = self.report.probe.images
        rows = [
            (
                "Most active",
                [grey_image(images[i].numpy()) for i in e.top],
                [f"{v:.2f}" for v in e.top_values],
            ),
            (
                "Least active",
                [grey_image(images[i].numpy()) for i in e.bottom],
                [f"{v:.2f}" for v in e.bottom_values],
            ),
        ]
        self.picture.setPixmap(
            QPixmap.fromImage(image_strip(rows, CELL, self.theme.background, self.theme.foreground))
        )
        self.picture.setToolTip(
            "The mean activation of the channel over its positions, for each image"
        )

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.redraw()


class SaliencyTab(QWidget):
    """One query image per class of the episode and, under it, the gradient of its class score
    with respect to the pixels after adaptation (SmoothGrad: averaged over noisy copies)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.report: FeaturesReport | None = None
        self.model_combo = QComboBox()
        self.model_combo.currentIndexChanged.connect(lambda _i: self.redraw())
        self.smooth = QCheckBox("SmoothGrad")
        self.smooth.setToolTip("Average the gradient over noisy copies of the image (less speckle)")
        self.smooth.toggled.connect(lambda _on: self.redraw())
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_combo)
        top.addWidget(self.smooth)
        top.addStretch(1)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addWidget(_scroll(self.picture), 1)
        layout.addWidget(self.note)

    def set_report(self, report: FeaturesReport) -> None:
        self.report = report
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems([m.label for m in report.models])
        self.model_combo.blockSignals(False)
        self.redraw()

    def maps(self) -> list:
        if self.report is None:
            return []
        m = self.report.models[max(0, self.model_combo.currentIndex())]
        return m.smoothgrad if self.smooth.isChecked() and m.smoothgrad else m.saliency

    def redraw(self) -> None:
        maps = self.maps()
        if not maps or self.report is None:
            self.picture.clear()
            return
        e = self.report.episode
        images = [e.query_x[s.index].numpy() for s in maps]
        names = [e.class_names[s.target] for s in maps]
        rows = [
            ("Query image", [grey_image(i) for i in images], names),
            (
                "Saliency",
                [heat_overlay(i, s.heat(), CELL * 2) for i, s in zip(images, maps, strict=True)],
                [],
            ),
        ]
        self.picture.setPixmap(
            QPixmap.fromImage(
                image_strip(rows, CELL * 2, self.theme.background, self.theme.foreground)
            )
        )
        self.note.setText(
            f"Gradient of each image's class score with respect to its pixels, after adapting to "
            f"the episode (computed with {self.report.saliency_library or 'autograd'}); red-yellow "
            f"where a small change of the pixel changes the score most."
        )

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.note.setStyleSheet(f"color: {theme.muted};")
        self.redraw()


__all__ = ["ActivationsTab", "FiltersTab", "SaliencyTab"]
