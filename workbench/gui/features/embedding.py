"""The penultimate features of the probe images projected to 2-D, one plot per model, coloured
by class; at any inner step of adapting to the episode (PCA; t-SNE before and after), on the
same axes, so the step slider shows what adaptation moves. A click on a point shows its image
and class; Animate saves the steps as a GIF."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.features import FeaturesReport
from workbench.engine.features.snapshot import ModelFeatures
from workbench.gui.features.pictures import clear_layout, grey_image
from workbench.gui.theme import LIGHT, Theme, style_plot
from workbench.gui.widgets.plots import make_plot

PCA, TSNE = "pca", "tsne"


def projected(model: ModelFeatures, method: str, step: int, last: int) -> np.ndarray | None:
    """The ``[N, 2]`` points a plot shows after ``step`` of ``last`` inner steps (None: that
    projection was not computed; t-SNE exists before and after adaptation only)."""
    if method == PCA:
        if model.pca_steps:
            return model.pca_steps[min(step, len(model.pca_steps) - 1)]
        return model.pca_after if step >= last else model.pca_before
    return model.tsne_after if step >= last else model.tsne_before


def all_points(model: ModelFeatures, method: str) -> list[np.ndarray]:
    """Every picture of the model for ``method``: one range holds them all."""
    if method == PCA:
        return model.pca_steps or [model.pca_before, model.pca_after]
    return [p for p in (model.tsne_before, model.tsne_after) if p is not None]


def short_label(label: str, limit: int = 26) -> str:
    """``fomaml: run-name`` -> ``fomaml``; anything longer than ``limit`` cut with an ellipsis."""
    head = label.split(":")[0].strip()
    return head if len(head) <= limit else head[: limit - 1] + "…"


def _scores(m: ModelFeatures, step: int, last: int) -> str:
    """The separation line under a plot (scored before and after adaptation)."""
    if 0 < step < last:
        return f"after {step} of {last} steps (separation is scored before and after)"
    s = m.separation_after if step >= last else m.separation_before
    return (
        f"silhouette {s.silhouette:.3f} · nearest-centroid accuracy "
        f"{100 * s.centroid_accuracy:.1f}% ({'after' if step >= last else 'before'})"
    )


class EmbeddingTab(QWidget):
    """Signals: ``pointChosen(model, index)`` when a point is clicked; ``animateRequested()``."""

    pointChosen = Signal(int, int)
    animateRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.report: FeaturesReport | None = None
        self.method = QComboBox()
        self.method.addItem("PCA", PCA)
        self.method.addItem("t-SNE", TSNE)
        self.method.setToolTip(
            "PCA keeps distances along the main directions; t-SNE keeps neighbours"
        )
        self.method.currentIndexChanged.connect(lambda _i: self.redraw())
        self.step_slider = QSlider(Qt.Orientation.Horizontal)
        self.step_slider.setRange(0, 1)
        self.step_slider.setValue(1)
        self.step_slider.setPageStep(1)
        self.step_slider.setToolTip(
            "Inner step: 0 is the meta-learned initialisation, the last is after adapting to "
            "the episode's support set (t-SNE: before and after only)"
        )
        self.step_slider.valueChanged.connect(lambda _v: self.redraw())
        self.step_label = QLabel()
        self.animate_button = QPushButton("Animate…")
        self.animate_button.setToolTip("Save the embedding over the inner steps as a GIF")
        self.animate_button.clicked.connect(self.animateRequested)
        top = QHBoxLayout()
        top.addWidget(QLabel("Projection"))
        top.addWidget(self.method)
        top.addSpacing(12)
        top.addWidget(self.step_label)
        top.addWidget(self.step_slider, 1)
        top.addWidget(self.animate_button)
        self.plots_row = QHBoxLayout()
        self.detail_image = QLabel()
        self.detail_image.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.detail_text = QLabel("Click a point to see its image and class.")
        self.detail_text.setWordWrap(True)
        detail = QWidget()
        detail.setFixedWidth(150)
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(4, 0, 0, 0)
        dl.addWidget(self.detail_image)
        dl.addWidget(self.detail_text)
        dl.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(self.plots_row, 1)
        body.addWidget(detail)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self.plots: list[pg.PlotWidget] = []
        self.scatters: list[pg.ScatterPlotItem] = []
        self.scores: list[QLabel] = []

    def step(self) -> int:
        return self.step_slider.value()

    def last_step(self) -> int:
        return self.step_slider.maximum()

    def set_step(self, step: int) -> None:
        self.step_slider.setValue(step)

    def set_report(self, report: FeaturesReport) -> None:
        self.report = report
        tsne = any(m.tsne_before is not None for m in report.models)
        self.method.model().item(1).setEnabled(tsne)  # type: ignore[attr-defined]
        if not tsne:
            self.method.setCurrentIndex(0)
        self.step_slider.blockSignals(True)
        self.step_slider.setRange(0, max(1, report.steps))
        self.step_slider.setValue(self.step_slider.maximum())
        self.step_slider.blockSignals(False)
        clear_layout(self.plots_row)
        self.plots, self.scatters, self.scores = [], [], []
        for i, m in enumerate(report.models):
            column = QWidget()
            cl = QVBoxLayout(column)
            cl.setContentsMargins(0, 0, 0, 0)
            # the title short (a long title widens the plot past its column): the kind of
            # model; the run's name is in the line under the plot
            plot = make_plot(short_label(m.label), "", legend=False)
            scatter = pg.ScatterPlotItem(size=7, pen=None, hoverable=True)
            scatter.sigClicked.connect(lambda _s, pts, _e, model=i: self._clicked(model, pts))
            plot.getPlotItem().addItem(scatter)
            score = QLabel()
            score.setWordWrap(True)
            cl.addWidget(plot, 1)
            cl.addWidget(score)
            self.plots_row.addWidget(column, 1)
            self.plots.append(plot)
            self.scatters.append(scatter)
            self.scores.append(score)
        self.apply_theme(self.theme)

    def redraw(self) -> None:
        report = self.report
        if report is None:
            return
        method, step, last = str(self.method.currentData()), self.step(), self.last_step()
        if method == TSNE and 0 < step < last:  # t-SNE has no pictures between the two
            self.step_slider.setValue(last if step > last / 2 else 0)
            return
        self.step_label.setText(f"Step {step} of {last}")
        labels = report.probe.labels.numpy()
        classes = len(report.probe.class_names)
        brushes = [pg.mkBrush(pg.intColor(int(c), hues=max(classes, 2), alpha=220)) for c in labels]
        for i, m in enumerate(report.models):
            points = projected(m, method, step, last)
            both = all_points(m, method)
            scatter, plot = self.scatters[i], self.plots[i].getPlotItem()
            if points is None:
                scatter.setData([], [])
                continue
            scatter.setData(
                x=points[:, 0],
                y=points[:, 1],
                brush=brushes,
                data=np.arange(len(points)),
                size=10 if self.theme.presentation else 7,  # seen from the back of a room
            )
            allp = np.concatenate(both)  # the same axes at every step
            plot.getViewBox().setRange(
                xRange=(float(allp[:, 0].min()), float(allp[:, 0].max())),
                yRange=(float(allp[:, 1].min()), float(allp[:, 1].max())),
                padding=0.05,
                disableAutoRange=True,
            )
            self.scores[i].setText(f"{m.label}\n{_scores(m, step, last)}")
            axis = "PC" if method == PCA else "t-SNE "
            plot.setLabel("bottom", f"{axis}1")
            plot.setLabel("left", f"{axis}2")

    def _clicked(self, model: int, points) -> None:
        if self.report is None or not len(points):
            return
        self.show_point(model, int(points[0].data()))

    def show_point(self, model: int, index: int) -> None:
        """Probe image ``index`` large, with its class (what a click on its point shows)."""
        if self.report is None:
            return
        probe = self.report.probe
        image = grey_image(probe.images[index].numpy())
        self.detail_image.setPixmap(QPixmap.fromImage(image.scaled(112, 112)))
        name = probe.class_names[int(probe.labels[index])]
        self.detail_text.setText(
            f"{name}\nprobe image {index}\n({self.report.models[model].label})"
        )
        self.pointChosen.emit(model, index)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        for p in self.plots:
            style_plot(p, theme)
        for label in (*self.scores, self.detail_text):
            label.setStyleSheet(f"color: {theme.muted};")
        self.redraw()


__all__ = ["EmbeddingTab", "projected"]
