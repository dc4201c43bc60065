"""Light and dark themes, and presentation mode, for widgets and pyqtgraph plots alike.

Views implement ``apply_theme(theme: Theme)``; the main window calls it on every view when the
user switches theme or presentation mode, so plots follow the window instead of staying white.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    surface: str
    foreground: str
    muted: str
    grid_alpha: float
    #: one colour per curve / run / model, distinguishable in both themes
    curve_colors: tuple[str, ...]
    good: str  # correct prediction
    bad: str  # wrong prediction
    presentation: bool = False

    @property
    def line_width(self) -> float:
        return 3.5 if self.presentation else 1.8

    @property
    def font_point_size(self) -> int:
        return 15 if self.presentation else 10

    def color(self, index: int) -> str:
        return self.curve_colors[index % len(self.curve_colors)]

    def pen(self, index: int = 0, width: float | None = None, alpha: int = 255) -> pg.QtGui.QPen:
        c = QColor(self.color(index))
        c.setAlpha(alpha)
        return pg.mkPen(c, width=width if width is not None else self.line_width)


LIGHT = Theme(
    name="light",
    background="#ffffff",
    surface="#f3f4f6",
    foreground="#1f2328",
    muted="#6e7781",
    grid_alpha=0.25,
    curve_colors=("#1f6feb", "#d1242f", "#1a7f37", "#8250df", "#bc4c00", "#0a7d8c"),
    good="#1a7f37",
    bad="#cf222e",
)

DARK = Theme(
    name="dark",
    background="#16181d",
    surface="#1f232a",
    foreground="#e6edf3",
    muted="#8b949e",
    grid_alpha=0.2,
    curve_colors=("#58a6ff", "#ff7b72", "#3fb950", "#d2a8ff", "#ffa657", "#39c5cf"),
    good="#3fb950",
    bad="#f85149",
)

THEMES = {"light": LIGHT, "dark": DARK}


def get_theme(name: str, presentation: bool = False) -> Theme:
    """The named theme; presentation mode raises contrast (pure black/white text)."""
    base = THEMES.get(name, LIGHT)
    if not presentation:
        return base
    fg = "#000000" if base.name == "light" else "#ffffff"
    return replace(base, foreground=fg, muted=fg, presentation=True, grid_alpha=0.35)


def style_plot(widget: pg.PlotWidget | pg.GraphicsLayoutWidget, theme: Theme) -> None:
    """Background, axes, grid and fonts of a pyqtgraph widget for ``theme``."""
    widget.setBackground(theme.background)
    items = []
    if isinstance(widget, pg.PlotWidget):
        items = [widget.getPlotItem()]
    else:
        items = [i for i in widget.ci.items if isinstance(i, pg.PlotItem)]
    font = QFont()
    font.setPointSize(theme.font_point_size)
    for plot in items:
        for name in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(name)
            axis.setPen(pg.mkPen(theme.muted))
            axis.setTextPen(pg.mkPen(theme.foreground))
            axis.setTickFont(font)
            axis.label.setFont(font)
        plot.showGrid(x=True, y=True, alpha=theme.grid_alpha)
        # a title carries its colour inside its text: set it again to recolour it, and let the
        # plot shrink below the title's width instead of being cut off on the right
        if plot.titleLabel.text:
            plot.setTitle(
                plot.titleLabel.text, color=theme.foreground, size=f"{theme.font_point_size}pt"
            )
        plot.titleLabel.setMinimumWidth(0)
        legend = plot.legend
        if legend is not None:
            legend.setLabelTextColor(theme.foreground)
            legend.setLabelTextSize(f"{theme.font_point_size}pt")
            for _, label in legend.items:  # existing labels keep their old colour otherwise
                label.setText(label.text, color=theme.foreground, size=f"{theme.font_point_size}pt")


class ThemedStyle(QProxyStyle):
    """Fusion, with check boxes inside lists and tables that stay visible in the dark theme.

    Fusion draws an item view's check box in the view's base colour with an outline a shade
    darker than the window colour: on the dark theme's base that outline is all but invisible,
    and a list of models to tick looks like plain text. The box gets the muted text colour as
    its outline instead."""

    def __init__(self, theme: Theme) -> None:
        super().__init__(QStyleFactory.create("Fusion"))
        self._outline_source = QColor(theme.muted).lighter(140)

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802
        if element == QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck:
            option = type(option)(option)
            # Fusion's outline is the window colour darkened by 140%
            option.palette.setColor(QPalette.ColorRole.Window, self._outline_source)
        super().drawPrimitive(element, option, painter, widget)


_current: list[Theme] = []


def current_theme() -> Theme:
    """The theme the application was last given (light before any): what a widget that was not
    told its theme (a plot's own export menu) draws with."""
    return _current[-1] if _current else LIGHT


def apply_application_theme(app: QApplication, theme: Theme) -> None:
    """Qt palette and base font for the whole application (Fusion style follows the palette)."""
    _current[:] = [theme]
    app.setStyle(ThemedStyle(theme) if theme.name == "dark" else QStyleFactory.create("Fusion"))
    pal = QPalette()
    bg, surface, fg = QColor(theme.background), QColor(theme.surface), QColor(theme.foreground)
    accent = QColor(theme.curve_colors[0])
    pal.setColor(QPalette.Window, surface)
    pal.setColor(QPalette.WindowText, fg)
    pal.setColor(QPalette.Base, bg)
    pal.setColor(QPalette.AlternateBase, surface)
    pal.setColor(QPalette.Text, fg)
    pal.setColor(QPalette.Button, surface)
    pal.setColor(QPalette.ButtonText, fg)
    pal.setColor(QPalette.ToolTipBase, bg)
    pal.setColor(QPalette.ToolTipText, fg)
    # selection: a saturated blue under white text reads well in both themes (the dark
    # theme's light accent would leave white text faint)
    pal.setColor(QPalette.Highlight, QColor("#1f6feb"))
    pal.setColor(QPalette.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.PlaceholderText, QColor(theme.muted))
    pal.setColor(QPalette.Link, accent)
    # disabled text halfway between text and background: in presentation mode ``muted`` is
    # the foreground itself (high contrast), and disabled buttons must still look disabled
    disabled = QColor(
        (fg.red() + bg.red()) // 2, (fg.green() + bg.green()) // 2, (fg.blue() + bg.blue()) // 2
    )
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, disabled)
    app.setPalette(pal)
    font = app.font()
    font.setPointSize(theme.font_point_size)
    app.setFont(font)
    pg.setConfigOptions(antialias=True, foreground=theme.foreground, background=theme.background)
