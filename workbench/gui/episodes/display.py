"""Where the episode browser shows an episode: a text placeholder (choose, loading, error), the
support and query grids of a classification episode, or the plot of a sinusoid task; beside them
the panel with the clicked image large, its class and its source."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QWidget

from workbench.data.episodes import Episode
from workbench.gui.episodes.detail import ImageDetailPanel
from workbench.gui.episodes.plot import SinusoidEpisodePlot
from workbench.gui.theme import Theme
from workbench.gui.widgets.image_grid import SUPPORT, ImageGridArea
from workbench.gui.widgets.sized_export import SizedExport


class EpisodeDisplay(QWidget):
    """The placeholder, grid and plot in a stack, and the image detail panel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid_area = ImageGridArea()
        self.grid = self.grid_area.grid
        self.grid.imageClicked.connect(self.show_image)
        self.plot = SinusoidEpisodePlot()
        self.placeholder = QLabel("Choose a dataset on the left to see its episodes.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.grid_area)
        self.stack.addWidget(self.plot)
        self.detail = ImageDetailPanel()
        self.detail.setVisible(False)
        self.detail.closed.connect(lambda: self.grid.set_selected(None))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.stack, 1)
        row.addWidget(self.detail)
        self._episode: Episode | None = None

    def show_text(self, text: str, clear_grid: bool = False) -> None:
        """The placeholder with ``text`` instead of an episode."""
        self._episode = None
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)
        if clear_grid:
            self.grid.clear()
        self.detail.setVisible(False)

    def show_episode(self, episode: Episode, title: str) -> None:
        """The plot of a regression task, or the grids of a classification episode (the detail
        panel, when open, follows the same position in the new episode)."""
        self._episode = episode
        if episode.is_regression:
            self.plot.set_episode(episode)
            self.stack.setCurrentWidget(self.plot)
            self.detail.setVisible(False)
            return
        selected = self.grid.selected()
        self.grid_area.set_episode(episode, title)
        self.stack.setCurrentWidget(self.grid_area)
        if selected is not None and self.detail.isVisible():
            self.show_image(*selected)

    def show_image(self, section: str, index: int) -> None:
        """Image ``index`` of ``section`` large in the detail panel, with its class and source."""
        episode = self._episode
        if episode is None or episode.is_regression:
            return
        per = episode.shots if section == SUPPORT else episode.queries
        images = self.grid.images(section)
        sources = episode.support_sources if section == SUPPORT else episode.query_sources
        if index >= len(images):
            return
        self.grid.set_selected(section, index)
        label, position = divmod(index, per)
        image = images[index]
        channels = "grey" if image.isGrayscale() else "colour"
        kind = "Support" if section == SUPPORT else "Query"
        self.detail.show_image(
            image,
            f"{kind} image {index + 1} of {len(images)}",
            f"Class: {episode.class_names[label]}\nLabel {label}, image {position + 1} of {per} "
            f"in its row\nEpisode {episode.index}  ·  {image.width()}×{image.height()} {channels}",
            sources[index] if index < len(sources) else "",
        )

    def render_image(self, size: SizedExport | None = None) -> QImage:
        """The picture of the shown episode: the whole grid, or the plot; at ``size`` when
        given (the grid: that width and scale; the plot: that size)."""
        if self._episode is not None and self._episode.is_regression:
            return self.plot.render_image(size)
        if size is None:
            return self.grid.render_image()
        return self.grid.render_image(size.width, size.scale)

    def refit(self) -> None:
        if self.stack.currentWidget() is self.grid_area:
            self.grid_area.refit()

    def apply_theme(self, theme: Theme) -> None:
        self.grid.set_theme(theme)
        self.grid_area.setStyleSheet(f"QScrollArea {{ background: {theme.background}; }}")
        self.grid_area.viewport().setStyleSheet(f"background: {theme.background};")
        self.plot.apply_theme(theme)
        self.detail.apply_theme(theme)
        self.placeholder.setStyleSheet(f"color: {theme.muted};")


__all__ = ["EpisodeDisplay"]
