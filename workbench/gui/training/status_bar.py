"""The window's status bar: where training runs, how far it is, how fast it goes, and when it ends.

It only displays: the training control tells it what happened (data loading, training began, an
iteration, pause, the end) and asks it to redraw the numbers on a timer, so a fast trainer never
redraws the labels once per iteration.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from workbench.engine import events as ev
from workbench.engine.progress import RateMeter, format_duration

#: the progress bar's range while data load: a fraction in thousandths
LOADING_RANGE = 1000


class TrainingStatusBar(QStatusBar):
    """Messages on the left; device, iteration, iterations per second, ETA and progress on the
    right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.meter = RateMeter(half_life=3.0)
        self.iteration = 0
        self.total = 0
        self.device_label = QLabel("Device: –")
        self.device_label.setToolTip(
            "Where the model trains (train.device; auto picks CUDA when a GPU is present)"
        )
        self.iteration_label = QLabel("Iteration –")
        self.rate_label = QLabel("– it/s")
        self.rate_label.setToolTip("Meta-iterations per second (smoothed)")
        self.eta_label = QLabel("ETA –")
        self.eta_label.setToolTip("Time left at the current speed")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(180)
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        for widget in (self.device_label, self.iteration_label, self.rate_label, self.eta_label):
            widget.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(widget)
        self.addPermanentWidget(self.progress)

    # -- what happened ---------------------------------------------------------------------------
    def begin_loading(self) -> None:
        """A run was asked for: the bar shows the data loading until training begins."""
        self.iteration, self.total = 0, 0
        self.meter.reset()
        self.progress.setRange(0, LOADING_RANGE)
        self.progress.setValue(0)
        self.progress.setFormat("loading %p%")

    def show_data_progress(self, fraction: float) -> None:
        self.progress.setValue(int(LOADING_RANGE * max(0.0, min(1.0, fraction))))

    def begin_training(self, device: str, iteration: int, total: int) -> None:
        """The trainer exists (``iteration`` > 0 for a resumed run)."""
        self.iteration, self.total = iteration, total
        self.meter.reset()
        self.meter.update(iteration)
        self.device_label.setText(f"Device: {device}")
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(iteration)
        self.progress.setFormat("%p%")

    def count_iteration(self, iteration: int, total: int) -> None:
        """Only numbers here: the labels change on the next `refresh`."""
        self.iteration, self.total = iteration, total
        self.meter.update(iteration)

    def set_paused(self, paused: bool) -> None:
        """The rate restarts after a pause, so the time paused does not lower it."""
        self.meter.reset()
        if not paused:
            self.meter.update(self.iteration)

    def end_training(self, run_dir: str, status: str) -> None:
        self.meter.reset()
        if self.progress.maximum() == LOADING_RANGE and not run_dir:  # ended while loading data
            self.progress.setValue(0)
        self.progress.setFormat("done" if status == ev.FINISHED else f"{status} (%p%)")

    # -- redrawing -----------------------------------------------------------------------------
    def refresh(self, phase: str, running: bool, paused: bool) -> None:
        """Redraw iteration, rate, ETA and progress for the training ``phase`` (idle, loading,
        training or stopping) and the session's state."""
        if not (phase in ("training", "stopping") or (self.total and not running)):
            return
        total = self.total
        self.iteration_label.setText(f"Iteration {self.iteration:,} / {total:,}")
        if running and not paused and self.meter.rate:
            self.rate_label.setText(f"{self.meter.rate:.1f} it/s")
            self.eta_label.setText(f"ETA {format_duration(self.meter.eta(self.iteration, total))}")
        elif paused:
            self.rate_label.setText("paused")
            self.eta_label.setText("ETA –")
        elif not running:
            self.rate_label.setText("– it/s")
            self.eta_label.setText("ETA –")
        if self.progress.maximum() == max(1, total):
            self.progress.setValue(self.iteration)
