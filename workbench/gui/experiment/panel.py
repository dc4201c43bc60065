"""The Experiment panel: the config form above Start / Pause / Stop, in a dock of the window.

The panel only shows; the training control connects the buttons and says which of them apply.
When the form is invalid a line under it says why Start is disabled, so a greyed button is never
left unexplained.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.gui.experiment.form import ConfigForm
from workbench.gui.theme import Theme


class ExperimentPanel(QWidget):
    """The form, the reason Start is disabled (when it is), and the three training buttons."""

    def __init__(self, form: ConfigForm, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = form
        style = self.style()
        self.start_button = QPushButton(style.standardIcon(QStyle.SP_MediaPlay), "Start")
        self.start_button.setToolTip(
            "Start training this experiment in a new run folder "
            "(Ctrl+Return, or Space outside the form)"
        )
        self.pause_button = QPushButton(style.standardIcon(QStyle.SP_MediaPause), "Pause")
        self.pause_button.setToolTip(
            "Pause training after the current iteration; press again "
            "to resume (Space outside the form)"
        )
        self.stop_button = QPushButton(style.standardIcon(QStyle.SP_MediaStop), "Stop")
        self.stop_button.setToolTip(
            "Stop after the current iteration and save a checkpoint; "
            "the run can be resumed later (Ctrl+. or Esc)"
        )
        self.collapse_button = QToolButton()
        self.collapse_button.setText("«")
        self.collapse_button.setToolTip(
            "Narrow this panel to a strip on the views that do not edit the experiment, "
            "so their plots get the room (Ctrl+Shift+E)"
        )
        self.collapse_button.setAccessibleName("Narrow the Experiment panel")
        for button in (*self.buttons(), self.collapse_button):
            button.setMinimumHeight(30)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.pause_button, 1)
        buttons.addWidget(self.stop_button, 1)
        buttons.addWidget(self.collapse_button)
        self.invalid_label = QLabel()
        self.invalid_label.setWordWrap(True)
        self.invalid_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.form, 1)
        layout.addWidget(self.invalid_label)
        layout.addLayout(buttons)

    def buttons(self) -> tuple[QPushButton, QPushButton, QPushButton]:
        """Start, Pause and Stop."""
        return self.start_button, self.pause_button, self.stop_button

    def enable_buttons(self, can_start: bool, can_interrupt: bool) -> None:
        """Start for a valid form and no run; Pause and Stop for a run not already stopping."""
        self.start_button.setEnabled(can_start)
        self.pause_button.setEnabled(can_interrupt)
        self.stop_button.setEnabled(can_interrupt)

    def explain_invalid_form(self, show: bool) -> None:
        """Say under the form how many fields block Start (or hide the line)."""
        if not show:
            self.invalid_label.hide()
            return
        count = len(self.form.errors())
        self.invalid_label.setText(
            "Start is disabled: the field marked in red above needs a valid value."
            if count == 1
            else f"Start is disabled: {count} fields marked in red above need valid values."
        )
        self.invalid_label.show()

    def show_paused(self, paused: bool) -> None:
        """While paused the Pause button resumes."""
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(
            self.style().standardIcon(QStyle.SP_MediaPlay if paused else QStyle.SP_MediaPause)
        )

    def apply_theme(self, theme: Theme) -> None:
        self.form.apply_theme(theme)
        self.invalid_label.setStyleSheet(f"color: {theme.bad};")
