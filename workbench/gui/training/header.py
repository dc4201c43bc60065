"""The Training view's header: what is shown, the latest numbers, and the plot controls."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.theme import Theme
from workbench.gui.training.series import RunSeries
from workbench.gui.training.texts import stats_text
from workbench.gui.widgets.elided_label import ElidedLabel

SMOOTHING_SETTLE_MS = 120  # the slider is applied once it rests this long


class TrainingHeader(QWidget):
    """Title and numbers on the left; "Clear comparison", the x axis and smoothing on the right.

    The controls only report what the user chose (``xAxisChosen``, ``smoothingChosen``,
    ``clearRequested``); the view applies it and shows it back with `show_x_axis` and
    `show_smoothing`.
    """

    xAxisChosen = Signal(str)  # "iteration" or "elapsed"
    smoothingChosen = Signal(float)
    clearRequested = Signal()
    animateRequested = Signal()

    def __init__(self, x_key: str, smoothing: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title_label = ElidedLabel()
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)
        # asks for no width: new numbers at every redraw must not re-lay out the view (that
        # would repaint the plots)
        self.stats_label = ElidedLabel()
        self.clear_button = QPushButton("Clear comparison")
        self.clear_button.setToolTip("Stop overlaying runs and show the current run in detail")
        self.clear_button.clicked.connect(self.clearRequested)
        self.clear_button.hide()
        self.animate_button = QPushButton("Animate…")
        self.animate_button.setToolTip(
            "Save the curves growing over the run as an animated GIF, for a slide"
        )
        self.animate_button.clicked.connect(self.animateRequested)
        self._build_x_axis(x_key)
        self._build_smoothing(smoothing)

        controls = QHBoxLayout()
        controls.addWidget(self.clear_button)
        controls.addStretch(1)
        controls.addWidget(QLabel("X axis"))
        controls.addWidget(self.x_axis)
        controls.addSpacing(16)
        smoothing_label = QLabel("Smoothing")
        smoothing_label.setToolTip(self.smoothing_slider.toolTip())
        controls.addWidget(smoothing_label)
        controls.addWidget(self.smoothing_slider)
        controls.addWidget(self.smoothing_value)
        controls.addSpacing(16)
        controls.addWidget(self.animate_button)
        top = QHBoxLayout()
        top.addWidget(self.title_label, 1)
        top.addLayout(controls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.stats_label)

    def _build_x_axis(self, x_key: str) -> None:
        self.x_axis = QComboBox()
        self.x_axis.addItem("Iteration", "iteration")
        self.x_axis.addItem("Training time", "elapsed")
        self.x_axis.setCurrentIndex(max(0, self.x_axis.findData(x_key)))
        self.x_axis.setToolTip(
            "Horizontal axis of all plots: meta-iterations, or seconds of "
            "training (pauses and validation excluded)"
        )
        self.x_axis.currentIndexChanged.connect(
            lambda _i: self.xAxisChosen.emit(self.x_axis.currentData())
        )

    def _build_smoothing(self, smoothing: float) -> None:
        self.smoothing_slider = QSlider(Qt.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setValue(int(round(smoothing * 100)))
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip(
            "Exponential moving average of the per-iteration curves (bias-corrected); the raw "
            "values stay visible as a faint curve behind"
        )
        # dragging recomputes every average of a long run: apply once the slider rests
        self._smoothing_timer = QTimer(self)
        self._smoothing_timer.setSingleShot(True)
        self._smoothing_timer.setInterval(SMOOTHING_SETTLE_MS)
        self._smoothing_timer.timeout.connect(
            lambda: self.smoothingChosen.emit(self.smoothing_slider.value() / 100.0)
        )
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_slider)
        self.smoothing_value = QLabel(f"{smoothing:.2f}")
        self.smoothing_value.setMinimumWidth(32)

    # -- showing ----------------------------------------------------------------------------------
    def show_x_axis(self, x_key: str) -> None:
        index = self.x_axis.findData(x_key)
        if self.x_axis.currentIndex() != index:
            self.x_axis.blockSignals(True)
            self.x_axis.setCurrentIndex(index)
            self.x_axis.blockSignals(False)

    def show_smoothing(self, smoothing: float) -> None:
        if self.smoothing_slider.value() != int(round(smoothing * 100)):
            self.smoothing_slider.blockSignals(True)
            self.smoothing_slider.setValue(int(round(smoothing * 100)))
            self.smoothing_slider.blockSignals(False)
        self.smoothing_value.setText(f"{smoothing:.2f}")

    def describe(self, live: RunSeries | None, overlays: list[RunSeries], loading: str) -> None:
        """The title and the line under it, for the runs shown."""
        if overlays:
            runs = ([live] if live is not None else []) + overlays
            self.title_label.setText(f"Comparing {len(runs)} runs")
            self.title_label.setToolTip(", ".join(r.name for r in runs))
            self.stats_label.setText(
                "Smoothing and the x axis apply to all runs. "
                "Right-click a plot to export it (PNG, CSV)."
            )
        elif live is None:
            self.title_label.setText("No run yet")
            self.stats_label.setText(
                loading
                or "Choose a preset in the Experiment panel "
                "and press Start (Ctrl+Return), or open a run folder."
            )
        else:
            self.title_label.setText(live.name)
            self.title_label.setToolTip(live.path)
            self.stats_label.setText(loading or stats_text(live))

    def apply_theme(self, theme: Theme) -> None:
        self.stats_label.setStyleSheet(f"color: {theme.muted};" if not theme.presentation else "")
        metrics = self.smoothing_value.fontMetrics()
        self.smoothing_value.setMinimumWidth(metrics.horizontalAdvance("0.00") + 6)

    def _on_smoothing_slider(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        self._smoothing_timer.start()
