"""The episode browser's left column: the settings form, the table of the dataset's splits, and a
short explanation of what the episode on the right shows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from workbench.gui.episodes.settings import EpisodeSettingsForm
from workbench.gui.episodes.splits import SplitSummaryTable
from workbench.gui.theme import Theme

SIDEBAR_WIDTH = 292
ABOUT_CLASSIFICATION = (
    "An N-way K-shot episode is a small classification task: K labelled support images of "
    "each of N classes, drawn afresh for every episode (labels 0..N-1 are given in random "
    "order). The learner adapts on the support set, then classifies the query images.\n\n"
    "Click an image to see it large with its source. Left/Right or Page Up/Down step "
    "through episodes."
)
ABOUT_REGRESSION = (
    "Each task is a sine wave y\u00a0=\u00a0A·sin(x\u00a0−\u00a0φ) with its own amplitude and phase. The learner "
    "sees the K support points (filled), adapts, and is scored on the query points (open).\n\n"
    "Left/Right or Page Up/Down step through tasks."
)


class EpisodesSidebar(QScrollArea):
    """``form`` (the browser's settings), ``splits`` (class balance) and ``about``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = EpisodeSettingsForm()
        settings_box = QGroupBox("Episodes")
        QVBoxLayout(settings_box).addWidget(self.form)
        self.splits = SplitSummaryTable()
        splits_box = QGroupBox("Dataset splits")
        QVBoxLayout(splits_box).addWidget(self.splits)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.about.setTextFormat(Qt.TextFormat.PlainText)
        about_box = QGroupBox("What you see")
        QVBoxLayout(about_box).addWidget(self.about)
        side = QWidget()
        column = QVBoxLayout(side)
        column.setContentsMargins(8, 8, 4, 8)
        column.addWidget(settings_box)
        column.addWidget(splits_box)
        column.addWidget(about_box)
        column.addStretch(1)
        self.setWidget(side)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedWidth(SIDEBAR_WIDTH)

    def explain(self, regression: bool) -> None:
        """The explanation for classification episodes or for regression tasks."""
        self.about.setText(ABOUT_REGRESSION if regression else ABOUT_CLASSIFICATION)

    def apply_theme(self, theme: Theme) -> None:
        # presentation fonts are half as large again: so is the column, or its fields clip
        self.setFixedWidth(round(SIDEBAR_WIDTH * theme.font_point_size / 10))
        self.splits.note.setStyleSheet(f"color: {theme.muted};")
        self.about.setStyleSheet(f"color: {theme.muted};")


__all__ = ["EpisodesSidebar"]
