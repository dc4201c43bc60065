"""A glance at the selected runs' curves beside their details: training loss and validation.

Only a preview: the Training view overlays runs with every curve, smoothing and export. The
metrics are read off the GUI thread (`load_preview` is a plain function for a BackgroundTask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QWidget

from workbench.engine.runs import RunStore
from workbench.engine.series import ema
from workbench.gui.theme import LIGHT, Theme, style_plot
from workbench.gui.widgets.plots import make_plot

MAX_PREVIEW_RUNS = 6
LOSS_SMOOTHING = 0.9
TWO_PLOTS_WIDTH = 560  # below this width only the validation plot is shown


@dataclass
class PreviewCurves:
    """One run's curves, as plain lists (made in a worker thread)."""

    name: str
    path: str
    regression: bool = False
    iterations: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    smoothed_loss: list[float] = field(default_factory=list)  # what the preview draws
    val_iterations: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)  # accuracy (%) or query MSE


def load_preview(paths: Sequence[str | Path], names: Sequence[str]) -> list[PreviewCurves]:
    """Read the curves of up to `MAX_PREVIEW_RUNS` runs; damaged lines are skipped."""
    out = []
    for path, name in list(zip(paths, names))[:MAX_PREVIEW_RUNS]:
        records, _ = RunStore(path).read_metrics()
        curves = PreviewCurves(name, str(path))
        for r in records:
            values = r.get("values")
            if not isinstance(values, dict):
                continue
            try:
                if r.get("kind") == "iteration" and "loss" in values:
                    curves.iterations.append(float(r["iteration"]))
                    curves.loss.append(float(values["loss"]))
                elif r.get("kind") == "evaluation":
                    if "val_query_accuracy_post" in values:
                        curves.val.append(100.0 * float(values["val_query_accuracy_post"]))
                    elif "val_query_loss_post" in values:
                        curves.regression = True
                        curves.val.append(float(values["val_query_loss_post"]))
                    else:
                        continue
                    curves.val_iterations.append(float(r["iteration"]))
            except (KeyError, TypeError, ValueError):
                continue
        curves.smoothed_loss = ema(curves.loss, LOSS_SMOOTHING).tolist()
        out.append(curves)
    return out


class RunsPreview(QWidget):
    """Two small plots: smoothed training loss, and validation accuracy (or MSE) per run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = make_plot("Training loss (smoothed)", "loss", legend=False)
        # no legend: the comparison beside the plots shows each run's colour
        self.val_plot = make_plot(
            "Validation accuracy", "query accuracy after adaptation (%)", legend=False
        )
        for plot in (self.loss_plot, self.val_plot):
            plot.getPlotItem().setLabel("bottom", "iteration")
            plot.setMinimumSize(240, 180)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.val_plot)
        self._theme = LIGHT
        self._curves: list[PreviewCurves] = []

    def resizeEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        """Too narrow for two readable plots: keep the validation one (what runs are compared on)."""
        super().resizeEvent(event)
        self.loss_plot.setVisible(event.size().width() >= TWO_PLOTS_WIDTH)

    def set_curves(self, curves: list[PreviewCurves]) -> None:
        self._curves = curves
        self._draw()

    def curve_count(self) -> int:
        """Curves drawn in the validation plot (what tests check)."""
        return len(self.val_plot.getPlotItem().listDataItems())

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        for plot in (self.loss_plot, self.val_plot):
            style_plot(plot, theme)
        self._draw()

    def _draw(self) -> None:
        theme = self._theme
        with_val = [c for c in self._curves if c.val]
        regression = bool(with_val) and all(c.regression for c in with_val)
        mixed = not regression and any(c.regression for c in with_val)
        val = self.val_plot.getPlotItem()
        val.setTitle(
            ("Validation MSE" if regression else "Validation accuracy")
            + (" (regression runs not shown)" if mixed else "")
        )
        val.setLabel(
            "left",
            "query MSE after adaptation" if regression else "query accuracy after adaptation (%)",
        )
        for plot in (self.loss_plot, self.val_plot):
            plot.getPlotItem().clear()
        width = max(1.5, theme.line_width)
        for i, c in enumerate(self._curves):
            pen = theme.pen(i, width=width)
            if c.smoothed_loss:
                self.loss_plot.getPlotItem().plot(c.iterations, c.smoothed_loss, pen=pen)
            if c.val and c.regression == regression:  # never MSE on a percent axis
                val.plot(
                    c.val_iterations,
                    c.val,
                    pen=pen,
                    name=c.name,
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=theme.color(i),
                    symbolPen=None,
                )
        for plot in (self.loss_plot, self.val_plot):
            plot.getPlotItem().enableAutoRange()
        style_plot(self.val_plot, theme)

    def has_data(self) -> bool:
        return any(c.loss or c.val for c in self._curves)


__all__ = ["PreviewCurves", "RunsPreview", "load_preview"]
