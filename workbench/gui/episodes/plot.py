"""A sinusoid episode as a plot: the task's true curve, the K support points the learner adapts
on and the query points it is scored on. The axes stay fixed (x in [-5, 5], |y| up to 5.5) so
stepping through tasks shows how amplitude and phase vary."""

from __future__ import annotations

import pyqtgraph as pg
import torch
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QVBoxLayout, QWidget

from workbench.data.episodes import Episode
from workbench.data.sinusoid import AMPLITUDE, X_RANGE, sinusoid
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.widgets.axes import legible_axes
from workbench.gui.widgets.sized_export import SizedExport, render_plot

CURVE_POINTS = 400


class SinusoidEpisodePlot(QWidget):
    """Plot of one regression episode; `set_episode`, `apply_theme`, `export_png`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(axisItems=legible_axes())
        self.plot.setMenuEnabled(False)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "x")
        item.setLabel("left", "y")
        item.setXRange(*X_RANGE, padding=0.02)
        y = AMPLITUDE[1] * 1.1
        item.setYRange(-y, y, padding=0.02)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.legend = item.addLegend(offset=(10, 10))
        self.curve = item.plot([], [], name="true function")
        self.support = pg.ScatterPlotItem(name="support (adapt on)")
        self.query = pg.ScatterPlotItem(name="query (score on)")
        item.addItem(self.query)
        item.addItem(self.support)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._theme = LIGHT
        self._episode: Episode | None = None
        self.apply_theme(LIGHT)

    def set_episode(self, episode: Episode) -> None:
        self._episode = episode
        amplitude = float(episode.task.get("amplitude", 1.0))
        phase = float(episode.task.get("phase", 0.0))
        xs = torch.linspace(X_RANGE[0], X_RANGE[1], CURVE_POINTS)
        self.curve.setData(xs.numpy(), sinusoid(xs, amplitude, phase).numpy())
        self.support.setData(episode.support_x[:, 0].tolist(), episode.support_y[:, 0].tolist())
        self.query.setData(episode.query_x[:, 0].tolist(), episode.query_y[:, 0].tolist())
        self.plot.getPlotItem().setTitle(
            f"Task {episode.index}:  y = {amplitude:.2f} · sin(x − {phase:.2f});  "
            f"{episode.shots} support, {episode.queries} query points"
        )
        self._style_points()

    def episode(self) -> Episode | None:
        return self._episode

    def apply_theme(self, theme: Theme) -> None:
        from workbench.gui.theme import style_plot

        self._theme = theme
        style_plot(self.plot, theme)
        self.curve.setPen(theme.pen(0))
        backdrop = QColor(theme.background)
        backdrop.setAlpha(210)  # the legend stays readable where a tall curve passes under it
        self.legend.setBrush(pg.mkBrush(backdrop))
        self.legend.setPen(pg.mkPen(theme.muted))
        self._style_points()

    def _style_points(self) -> None:
        theme = self._theme
        size = 16 if theme.presentation else 12
        self.support.setSize(size)
        self.support.setBrush(pg.mkBrush(theme.color(1)))
        self.support.setPen(pg.mkPen(theme.foreground, width=1))
        query_color = QColor(theme.color(2))
        self.query.setSize(size - 3)
        self.query.setBrush(pg.mkBrush(None))
        self.query.setPen(pg.mkPen(query_color, width=2))

    def render_image(self, size: SizedExport | None = None) -> QImage:
        """The plot as a QImage (for export), as shown or at ``size``."""
        if size is not None:
            return render_plot(self.plot, size)
        return self.plot.grab().toImage()


__all__ = ["SinusoidEpisodePlot"]
