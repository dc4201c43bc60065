"""A training run's curves growing over its iterations, as an animated GIF for a slide."""

from __future__ import annotations

from PySide6.QtGui import QImage

from workbench.gui.training.plot_grid import PlotGrid
from workbench.gui.widgets.animation import frame_fraction


def render_growth_frame(
    grid: PlotGrid, extent: tuple[float, float], index: int, frames: int
) -> QImage:
    """Frame ``index`` of ``frames``: the plots with every curve drawn up to the same share
    of the x axis (iterations or seconds, as the view shows them)."""
    first, last = extent
    grid.draw_until(first + (last - first) * frame_fraction(index, frames))
    return grid.grab().toImage()


__all__ = ["render_growth_frame"]
