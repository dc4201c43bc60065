"""Layout and painting of an `ImageGrid`: where every heading, row label and thumbnail goes for a
given thumbnail size and width, and how they are drawn (on screen or into an exported picture).

Kept apart from the widget, which holds the content, decorations and mouse handling, so each part
stays small; both sides share `GridSection`/`GridRow` from `image_grid` and the sizes below.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap

from workbench.gui.theme import Theme

if TYPE_CHECKING:
    from workbench.gui.widgets.image_grid import GridRow, GridSection

MARGIN = 12
GAP = 4  # between cells
BORDER = 3  # reserved around each image for a coloured border
LABEL_MIN, LABEL_MAX = 110, 230

CellKey = tuple[str, int]  # (section key, image index)
PixmapFn = Callable[[str, int, int], QPixmap]  # (section key, index, side) -> scaled picture


@dataclass
class GridFonts:
    """Bold row labels, larger headings and small detail lines, derived from a base font."""

    bold: QFont
    heading: QFont
    small: QFont

    @classmethod
    def of(cls, base: QFont) -> GridFonts:
        base = QFont(base)
        bold = QFont(base)
        bold.setBold(True)
        heading = QFont(bold)
        heading.setPointSizeF(base.pointSizeF() * 1.1 if base.pointSizeF() > 0 else 11)
        small = QFont(base)
        small.setPointSizeF(max(7.0, base.pointSizeF() * 0.85) if base.pointSizeF() > 0 else 8)
        return cls(bold, heading, small)


@dataclass
class GridCell:
    section: str
    index: int
    rect: QRect  # the image area (the border is drawn around it)


@dataclass
class GridLayout:
    thumb: int
    label_width: int
    width: int
    height: int
    cells: list[GridCell]
    headings: list[tuple[QRect, str]]
    labels: list[tuple[QRect, GridRow, bool]]  # rect, row, banded
    title_rect: QRect | None


@dataclass
class GridDecorations:
    """Per-image borders and captions, and (on screen only) the selected and hovered image."""

    borders: dict[CellKey, str] = field(default_factory=dict)
    captions: dict[CellKey, tuple[str, str | None]] = field(default_factory=dict)
    selected: CellKey | None = None
    hover: CellKey | None = None


def label_width(sections: Sequence[GridSection], fonts: GridFonts) -> int:
    """Width of the row-label column: the widest label or detail line, within the limits."""
    fm_b, fm_s = QFontMetrics(fonts.bold), QFontMetrics(fonts.small)
    widest = 0
    for s in sections:
        for row in s.rows:
            widest = max(
                widest, fm_b.horizontalAdvance(row.label), fm_s.horizontalAdvance(row.detail)
            )
    return int(min(LABEL_MAX, max(LABEL_MIN, widest + 16)))


def compute_layout(
    sections: Sequence[GridSection],
    title: str,
    fonts: GridFonts,
    thumb: int,
    width: int,
    captions: bool,
) -> GridLayout:
    """Where everything goes at thumbnail side ``thumb`` in ``width`` pixels; rows wrap onto
    further lines when the width runs out (``captions`` add a line under every thumbnail)."""
    heading_h = QFontMetrics(fonts.heading).height() + 12
    caption_h = QFontMetrics(fonts.small).height() + 2 if captions else 0
    label_w = label_width(sections, fonts)
    cell = thumb + 2 * BORDER
    line_h = cell + caption_h + GAP
    usable = max(cell, width - 2 * MARGIN - label_w)
    cols = max(1, (usable + GAP) // (cell + GAP))
    y = MARGIN
    title_rect = None
    if title:
        text_w = max(10, width - 2 * MARGIN)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap)
        needed = QFontMetrics(fonts.heading).boundingRect(QRect(0, 0, text_w, 10_000), flags, title)
        title_rect = QRect(MARGIN, y, text_w, needed.height() + 4)
        y += title_rect.height() + 8
    cells: list[GridCell] = []
    headings: list[tuple[QRect, str]] = []
    labels: list[tuple[QRect, GridRow, bool]] = []
    widest = 0
    for s_i, section in enumerate(sections):
        if s_i > 0:
            y += 8
        headings.append(
            (QRect(MARGIN, y, max(10, width - 2 * MARGIN), heading_h - 4), section.title)
        )
        y += heading_h
        for r_i, row in enumerate(section.rows):
            lines = max(1, math.ceil(len(row.indices) / cols))
            per_line = max(1, math.ceil(len(row.indices) / lines))  # 15 on 2 lines: 8 + 7
            row_h = lines * line_h
            labels.append((QRect(MARGIN, y, label_w - 8, row_h - GAP), row, r_i % 2 == 1))
            for j, index in enumerate(row.indices):
                line, col = divmod(j, per_line)
                x0 = MARGIN + label_w + col * (cell + GAP) + BORDER
                y0 = y + line * line_h + BORDER
                cells.append(GridCell(section.key, index, QRect(x0, y0, thumb, thumb)))
                widest = max(widest, x0 + thumb + BORDER)
            y += row_h
    height = y + MARGIN if sections else 60
    return GridLayout(
        thumb, label_w, max(width, widest + MARGIN), height, cells, headings, labels, title_rect
    )


class GridPainter:
    """Paints one laid-out grid with a `QPainter`: title, section headings, banded row labels,
    and thumbnails with their frames, coloured borders, captions and (on screen) the selected
    and hovered highlight. Only what intersects the clip rectangle is drawn."""

    def __init__(
        self,
        painter: QPainter,
        layout: GridLayout,
        theme: Theme,
        fonts: GridFonts,
        pixmap: PixmapFn,
        decorations: GridDecorations,
    ) -> None:
        self.painter, self.layout, self.fonts = painter, layout, fonts
        self.pixmap, self.decorations = pixmap, decorations
        self.fg, self.muted = QColor(theme.foreground), QColor(theme.muted)
        self.band = QColor(theme.surface)
        self.accent = QColor(theme.curve_colors[0])
        self.frame_color = QColor(theme.muted)
        self.frame_color.setAlpha(110)  # sets dark image tiles apart from a dark background
        self.fm_b, self.fm_s = QFontMetrics(fonts.bold), QFontMetrics(fonts.small)

    def paint(self, clip: QRect, title: str) -> None:
        self._title(title)
        self._headings(clip)
        self._labels(clip)
        for cell in self.layout.cells:
            frame = cell.rect.adjusted(-BORDER, -BORDER, BORDER, BORDER)
            if frame.adjusted(0, 0, 0, self.fm_s.height() + 2).intersects(clip):
                self._cell(cell, frame)

    def _title(self, title: str) -> None:
        p, lay = self.painter, self.layout
        if lay.title_rect is not None:
            p.setFont(self.fonts.heading)
            p.setPen(self.fg)
            p.drawText(
                lay.title_rect,
                Qt.AlignmentFlag.AlignLeft
                | Qt.AlignmentFlag.AlignVCenter
                | Qt.TextFlag.TextWordWrap,
                title,
            )

    def _headings(self, clip: QRect) -> None:
        p, lay = self.painter, self.layout
        p.setFont(self.fonts.heading)
        for rect, text in lay.headings:
            if rect.intersects(clip):
                p.setPen(self.fg)
                p.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, text)
                p.setPen(QPen(self.muted, 1))
                p.drawLine(rect.left(), rect.bottom() + 2, lay.width - MARGIN, rect.bottom() + 2)

    def _labels(self, clip: QRect) -> None:
        p, lay, fm_b, fm_s = self.painter, self.layout, self.fm_b, self.fm_s
        for rect, row, banded in lay.labels:
            band_rect = QRect(
                MARGIN - 4, rect.top() - 1, lay.width - 2 * MARGIN + 8, rect.height() + 2
            )
            if not band_rect.intersects(clip):
                continue
            if banded:
                p.fillRect(band_rect, self.band)
            text_h = fm_b.height() + (fm_s.height() if row.detail else 0)
            first_line = min(rect.height(), lay.thumb + 2 * BORDER)
            top = rect.top() + max(0, (first_line - text_h) // 2)
            p.setFont(self.fonts.bold)
            p.setPen(self.fg)
            p.drawText(
                QRect(rect.left(), top, rect.width(), fm_b.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                fm_b.elidedText(row.label, Qt.TextElideMode.ElideRight, rect.width()),
            )
            if row.detail:
                p.setFont(self.fonts.small)
                p.setPen(self.muted)
                p.drawText(
                    QRect(rect.left(), top + fm_b.height(), rect.width(), fm_s.height()),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    fm_s.elidedText(row.detail, Qt.TextElideMode.ElideRight, rect.width()),
                )

    def _cell(self, cell: GridCell, frame: QRect) -> None:
        p, thumb = self.painter, self.layout.thumb
        pix = self.pixmap(cell.section, cell.index, thumb)
        x = cell.rect.left() + (thumb - pix.width()) // 2
        y = cell.rect.top() + (thumb - pix.height()) // 2
        p.drawPixmap(x, y, pix)
        p.setPen(QPen(self.frame_color, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRect(x - 1, y - 1, pix.width() + 1, pix.height() + 1))
        key = (cell.section, cell.index)
        color = self.decorations.borders.get(key)
        if color is not None:
            self._border(cell.rect, color)
        if key in (self.decorations.selected, self.decorations.hover):
            self._highlight(frame, selected=key == self.decorations.selected)
        caption = self.decorations.captions.get(key)
        if caption is not None:
            self._caption(frame, *caption)

    def _border(self, rect: QRect, color: str) -> None:
        p = self.painter
        p.setPen(
            QPen(
                QColor(color),
                BORDER,
                Qt.PenStyle.SolidLine,
                Qt.PenCapStyle.SquareCap,
                Qt.PenJoinStyle.MiterJoin,
            )
        )
        p.setBrush(Qt.BrushStyle.NoBrush)
        half = BORDER / 2
        p.drawRect(
            rect.adjusted(-1, -1, 0, 0)
            .toRectF()
            .adjusted(-half + 0.5, -half + 0.5, half - 0.5, half - 0.5)
        )

    def _highlight(self, frame: QRect, selected: bool) -> None:
        pen = QPen(self.accent, 2 if selected else 1)
        pen.setStyle(Qt.PenStyle.SolidLine if selected else Qt.PenStyle.DashLine)
        self.painter.setPen(pen)
        self.painter.setBrush(Qt.BrushStyle.NoBrush)
        self.painter.drawRect(frame.adjusted(0, 0, -1, -1))

    def _caption(self, frame: QRect, text: str, color: str | None) -> None:
        """The caption under a thumbnail; one wider than the thumbnail (large presentation
        fonts, small thumbnails) is drawn smaller, down to 65% of its size, before it is
        elided: "→2 67%" must stay readable whole."""
        p, fm_s = self.painter, self.fm_s
        font = self.fonts.small
        rect = QRect(
            frame.left() - GAP // 2, frame.bottom() + 1, frame.width() + GAP, fm_s.height()
        )
        smallest = font.pointSizeF() * 0.65
        while fm_s.horizontalAdvance(text) > rect.width() and font.pointSizeF() > smallest:
            # hinted text does not shrink in proportion: step down until it fits
            font = QFont(font)
            font.setPointSizeF(max(smallest, font.pointSizeF() * 0.92))
            fm_s = QFontMetrics(font)
        p.setFont(font)
        p.setPen(QColor(color) if color else self.muted)
        p.drawText(
            rect,
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            fm_s.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()),
        )


__all__ = [
    "BORDER",
    "GAP",
    "LABEL_MAX",
    "LABEL_MIN",
    "MARGIN",
    "GridCell",
    "GridDecorations",
    "GridFonts",
    "GridLayout",
    "GridPainter",
    "compute_layout",
    "label_width",
]
