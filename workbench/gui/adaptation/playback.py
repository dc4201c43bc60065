"""The step slider of the adaptation viewer, with Play: which inner step the curves' marker,
the table and the pictures show, and an animation through the steps to talk over in a seminar."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

PLAY_INTERVAL_MS = 450  # one inner step per tick: slow enough to talk over in a seminar
PLAY = "▶ Play"
PAUSE = "❚❚ Pause"


class StepPlayback(QWidget):
    """ "Step s of S", the slider over steps 0..S and the Play button, in one row.

    Signal: ``stepChanged(int)`` when the user (or Play) moves the slider; not when
    `show_steps` sets a new range.
    """

    stepChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setToolTip("The inner step whose predictions are shown (0 = before adaptation)")
        self.slider.valueChanged.connect(self._moved)
        self.step_label = QLabel("Step 0")
        self.step_label.setMinimumWidth(110)
        self.play_button = QPushButton(PLAY)
        self.play_button.setToolTip(
            "Animate the inner steps from 0 (before adaptation) to the last"
        )
        self.play_button.clicked.connect(self.toggle)
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._timer.timeout.connect(self._advance)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.step_label)
        row.addWidget(self.slider, 1)
        row.addWidget(self.play_button)

    def step(self) -> int:
        return self.slider.value()

    def set_step(self, step: int) -> None:
        self.slider.setValue(step)

    def show_steps(self, last: int) -> None:
        """Steps 0..``last``, the slider at the last (a new adaptation shows its result)."""
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        self.slider.setValue(last)
        self.slider.blockSignals(False)
        self._update_label()

    def toggle(self) -> None:
        """Play: step through 0..S on a timer (from 0 when at the end); again: pause."""
        if self._timer.isActive():
            self.stop()
            return
        if self.slider.value() >= self.slider.maximum():
            self.slider.setValue(0)
        self._timer.start()
        self.play_button.setText(PAUSE)

    def stop(self) -> None:
        self._timer.stop()
        self.play_button.setText(PLAY)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def _moved(self, step: int) -> None:
        self._update_label()
        self.stepChanged.emit(step)

    def _update_label(self) -> None:
        self.step_label.setText(f"Step {self.slider.value()} of {self.slider.maximum()}")

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.stop()
            return
        self.slider.setValue(self.slider.value() + 1)
        if self.slider.value() >= self.slider.maximum():
            self.stop()


__all__ = ["PLAY_INTERVAL_MS", "StepPlayback"]
