"""The penultimate features of the probe images projected to 2-D, one plot per model, coloured
by class; before or after adapting to the episode, on the same axes, so the toggle shows what
adaptation moves. A click on a point shows its image and class."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.features import FeaturesReport
from workbench.engine.features.snapshot import ModelFeatures
from workbench.gui.features.pictures import clear_layout, grey_image
from workbench.gui.theme import LIGHT, Theme, style_plot
from workbench.gui.widgets.plots import make_plot

PCA, TSNE = "pca", "tsne"


def projected(model: ModelFeatures, method: str, after: bool) -> np.ndarray | None:
    """The ``[N, 2]`` points a plot shows (None: that projection was not computed)."""
    if method == PCA:
        return model.pca_after if after else model.pca_before
    return model.tsne_after if after else model.tsne_before


def short_label(label: str, limit: int = 26) -> str:
    """``fomaml: run-name`` -> ``fomaml``; anything longer than ``limit`` cut with an ellipsis."""
    head = label.split(":")[0].strip()
    return head if len(head) <= limit else head[: limit - 1] + "…"


class EmbeddingTab(QWidget):
    """Signal: ``pointChosen(model, index)`` when a point is clicked."""

    pointChosen = Signal(int, int)

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
        self.before_button = QRadioButton("Before adaptation")
        self.after_button = QRadioButton("After adaptation")
        self.moment = QButtonGroup(self)
        for i, b in enumerate((self.before_button, self.after_button)):
            self.moment.addButton(b, i)
        self.after_button.setChecked(True)
        self.moment.idClicked.connect(lambda _i: self.redraw())
        self.before_button.setToolTip("The features of the meta-learned initialisation (step 0)")
        self.after_button.setToolTip("The features after adapting to the episode's support set")
        top = QHBoxLayout()
        top.addWidget(QLabel("Projection"))
        top.addWidget(self.method)
        top.addSpacing(12)
        top.addWidget(self.before_button)
        top.addWidget(self.after_button)
        top.addStretch(1)
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

    def after(self) -> bool:
        return self.after_button.isChecked()

    def set_report(self, report: FeaturesReport) -> None:
        self.report = report
        tsne = any(m.tsne_before is not None for m in report.models)
        self.method.model().item(1).setEnabled(tsne)  # type: ignore[attr-defined]
        if not tsne:
            self.method.setCurrentIndex(0)
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
        method, after = str(self.method.currentData()), self.after()
        labels = report.probe.labels.numpy()
        classes = len(report.probe.class_names)
        brushes = [pg.mkBrush(pg.intColor(int(c), hues=max(classes, 2), alpha=220)) for c in labels]
        for i, m in enumerate(report.models):
            points = projected(m, method, after)
            both = [
                p
                for p in (projected(m, method, False), projected(m, method, True))
                if p is not None
            ]
            scatter, plot = self.scatters[i], self.plots[i].getPlotItem()
            if points is None:
                scatter.setData([], [])
                continue
            scatter.setData(
                x=points[:, 0], y=points[:, 1], brush=brushes, data=np.arange(len(points))
            )
            allp = np.concatenate(both)  # the same axes before and after adaptation
            plot.getViewBox().setRange(
                xRange=(float(allp[:, 0].min()), float(allp[:, 0].max())),
                yRange=(float(allp[:, 1].min()), float(allp[:, 1].max())),
                padding=0.05,
                disableAutoRange=True,
            )
            s = m.separation_after if after else m.separation_before
            self.scores[i].setText(
                f"{m.label}\nsilhouette {s.silhouette:.3f} · nearest-centroid accuracy "
                f"{100 * s.centroid_accuracy:.1f}% ({'after' if after else 'before'})"
            )
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
