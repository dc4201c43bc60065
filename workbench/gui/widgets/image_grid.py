"""A grid of labelled image thumbnails, painted in one widget: the episode browser's support and
query sets, and the adaptation viewer's query images with coloured borders and captions.

The grid is made of *sections* (e.g. "support", "query"); a section has a heading and *rows*
(one per class), each row a label and the indices of its images. Rows wrap onto further lines
when the width runs out. Painting everything in one widget keeps 20-way 5-shot episodes (400
images) fast to lay out and scroll, and makes hit-testing and exporting one picture simple.

Thumbnails of small images (glyphs, Omniglot) are scaled by whole factors with nearest-neighbour
sampling, so every source pixel becomes a crisp square; large images are scaled smoothly.
`ImageGridArea` puts a grid in a scroll area and picks the thumbnail size that fits the space.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

from workbench.data.episodes import Episode
from workbench.gui.theme import LIGHT, Theme

SUPPORT = "support"
QUERY = "query"

MARGIN = 12
GAP = 4  # between cells
BORDER = 3  # reserved around each image for a coloured border
LABEL_MIN, LABEL_MAX = 110, 230
SMALL_IMAGE = 48  # images up to this side are scaled by whole factors, nearest neighbour
MIN_THUMB, PREFERRED_THUMB, MAX_THUMB = 40, 56, 144
EXPORT_COLUMNS = 15  # images per row in an exported picture


# ----------------------------------------------------------------------------------------------
# Tensors to images
# ----------------------------------------------------------------------------------------------


def tensor_to_uint8(image: torch.Tensor) -> np.ndarray:
    """A ``[C, H, W]`` float image in [0, 1] as the ``[H, W, C]`` uint8 array that is shown."""
    return (
        (image.detach().float().clamp(0, 1) * 255)
        .round()
        .to(torch.uint8)
        .permute(1, 2, 0)
        .cpu()
        .numpy()
    )


def tensor_to_qimage(image: torch.Tensor) -> QImage:
    """The displayed picture of a ``[C, H, W]`` image (1 channel: grey, 3 channels: RGB).

    The QImage owns a copy of the pixels, so the tensor may be freed or changed afterwards.
    """
    array = np.ascontiguousarray(tensor_to_uint8(image))
    h, w, c = array.shape
    if c == 1:
        qimage = QImage(array.data, w, h, w, QImage.Format.Format_Grayscale8)
    elif c == 3:
        qimage = QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    else:
        raise ValueError(f"images must have 1 or 3 channels to be shown, got {c}")
    return qimage.copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """The pixels of a grey or RGB QImage as ``[H, W, C]`` uint8 (for tests and exports)."""
    grey = image.format() == QImage.Format.Format_Grayscale8
    if not grey:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    c = 1 if grey else 3
    h, w, bpl = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=bpl * h).reshape(h, bpl)
    return raw[:, : w * c].reshape(h, w, c).copy()


def scaled_pixmap(image: QImage, side: int) -> QPixmap:
    """`image` fitted into a ``side`` square: nearest neighbour when enlarging, smooth otherwise."""
    enlarge = side >= max(image.width(), image.height())
    mode = (
        Qt.TransformationMode.FastTransformation
        if enlarge
        else Qt.TransformationMode.SmoothTransformation
    )
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode))


def thumb_sizes(image_side: int) -> list[int]:
    """Thumbnail sides to choose from, largest first.

    Small images get whole multiples of their side (28 px: 56, 84, 112, 140) so nearest-neighbour
    scaling stays crisp; large images any multiple of 8 between the limits.
    """
    side = max(1, int(image_side))
    if side <= SMALL_IMAGE:
        sizes = [side * m for m in range(1, 16) if MIN_THUMB <= side * m <= MAX_THUMB]
        return sorted(sizes, reverse=True) or [max(MIN_THUMB, side)]
    return list(range(MAX_THUMB, MIN_THUMB - 1, -8))


# ----------------------------------------------------------------------------------------------
# Grid content
# ----------------------------------------------------------------------------------------------


@dataclass
class GridRow:
    """One labelled row: ``label`` (bold first line), ``detail`` (muted second line) and the
    indices, within the section, of the images it shows."""

    label: str
    detail: str
    indices: list[int]
    tooltip: str = ""


@dataclass
class GridSection:
    """A heading and rows of thumbnails; ``images[i]`` is image ``i`` of the section."""

    key: str
    title: str
    images: list[QImage]
    rows: list[GridRow]
    sources: list[str] = field(default_factory=list)


_ROTATION = re.compile(r"^(.*?)\s+rot(90|180|270)$")


def describe_class(name: str) -> tuple[str, str]:
    """Two display lines of a class name: ``"Latin/character03 rot90"`` gives
    ``("Latin", "character03, rotated 90°")``; names without a group keep the name first."""
    rotation = ""
    match = _ROTATION.match(name)
    if match:
        name, rotation = match.group(1), f"rotated {match.group(2)}°"
    if "/" in name:
        group, leaf = name.rsplit("/", 1)
        return group, ", ".join(p for p in (leaf, rotation) if p)
    return name, rotation


def episode_sections(episode: Episode) -> list[GridSection]:
    """The support set (one row per class, K images) and the query set (grouped by class)."""
    n, k, q = episode.ways, episode.shots, episode.queries
    sections = []
    for key, title, x, per, sources in (
        (
            SUPPORT,
            f"Support set: {n} classes × {k} image{'s' if k != 1 else ''}",
            episode.support_x,
            k,
            episode.support_sources,
        ),
        (
            QUERY,
            f"Query set: {q} image{'s' if q != 1 else ''} per class, to classify after adapting",
            episode.query_x,
            q,
            episode.query_sources,
        ),
    ):
        rows = []
        for label in range(n):
            name = episode.class_names[label]
            group, detail = describe_class(name)
            rows.append(
                GridRow(
                    f"{label} · {group}",
                    detail,
                    list(range(label * per, (label + 1) * per)),
                    tooltip=f"label {label}: {name}",
                )
            )
        images = [tensor_to_qimage(img) for img in x]
        sections.append(GridSection(key, title, images, rows, list(sources)))
    return sections


@dataclass
class _Cell:
    section: str
    index: int
    rect: QRect  # the image area (the border is drawn around it)


@dataclass
class _Layout:
    thumb: int
    label_width: int
    width: int
    height: int
    cells: list[_Cell]
    headings: list[tuple[QRect, str]]
    labels: list[tuple[QRect, GridRow, bool]]  # rect, row, banded
    title_rect: QRect | None


# ----------------------------------------------------------------------------------------------
# The widget
# ----------------------------------------------------------------------------------------------


class ImageGrid(QWidget):
    """Sections of labelled thumbnail rows, painted in one widget.

    Signals: ``imageClicked(section, index)``. Per-image decorations for other views:
    `set_border` (a coloured frame, e.g. correct/wrong) and `set_caption` (text under the image).
    """

    imageClicked = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._sections: list[GridSection] = []
        self._title = ""
        self._theme = LIGHT
        self._borders: dict[tuple[str, int], str] = {}
        self._captions: dict[tuple[str, int], tuple[str, str | None]] = {}
        self._selected: tuple[str, int] | None = None
        self._hover: tuple[str, int] | None = None
        self._pixmaps: dict[tuple[str, int, int], QPixmap] = {}
        self._thumb = PREFERRED_THUMB
        self._layout = self._compute_layout(self._thumb, 800)

    # -- content ----------------------------------------------------------------------------------
    def set_sections(self, sections: list[GridSection], title: str = "") -> None:
        """Show new content; decorations and the selection are cleared."""
        self._sections = list(sections)
        self._title = title
        self._borders.clear()
        self._captions.clear()
        self._pixmaps.clear()
        self._selected = self._hover = None
        self._relayout()

    def set_episode(self, episode: Episode, title: str = "") -> None:
        """Show an episode's support set and, below it, its query set grouped by class."""
        self.set_sections(episode_sections(episode), title)

    def set_title(self, title: str) -> None:
        self._title = title
        self._relayout()

    def clear(self) -> None:
        self.set_sections([], "")

    def sections(self) -> list[GridSection]:
        return list(self._sections)

    def section(self, key: str) -> GridSection:
        for s in self._sections:
            if s.key == key:
                return s
        raise KeyError(f"no section {key!r} in the grid")

    def images(self, key: str) -> list[QImage]:
        """The source images of a section, exactly as they are shown (before scaling)."""
        return list(self.section(key).images)

    # -- decorations --------------------------------------------------------------------------
    def set_border(self, section: str, index: int, color: str | None) -> None:
        """Frame image ``index`` of ``section`` in ``color`` (a CSS colour); None removes it."""
        if color is None:
            self._borders.pop((section, index), None)
        else:
            self._borders[(section, index)] = color
        self.update()

    def set_caption(self, section: str, index: int, text: str, color: str | None = None) -> None:
        """Text under image ``index`` (e.g. a prediction); an empty text removes it."""
        had = bool(self._captions)
        if text:
            self._captions[(section, index)] = (text, color)
        else:
            self._captions.pop((section, index), None)
        if had != bool(self._captions):
            self._relayout()  # captions add a line under every thumbnail
        else:
            self.update()

    def clear_decorations(self) -> None:
        self._borders.clear()
        self._captions.clear()
        self._relayout()

    def border(self, section: str, index: int) -> str | None:
        return self._borders.get((section, index))

    def caption(self, section: str, index: int) -> str:
        return self._captions.get((section, index), ("", None))[0]

    def set_selected(self, section: str | None, index: int = 0) -> None:
        self._selected = None if section is None else (section, index)
        self.update()

    def selected(self) -> tuple[str, int] | None:
        return self._selected

    # -- appearance and size ------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.update()

    @property
    def thumb_size(self) -> int:
        return self._thumb

    def image_side(self) -> int:
        for s in self._sections:
            if s.images:
                return max(s.images[0].width(), s.images[0].height())
        return 28

    def fit(self, width: int, height: int) -> int:
        """Pick the largest thumbnail size at which everything fits ``width`` x ``height``;
        when nothing fits, the preferred readable size (and the caller scrolls). Returns it."""
        sizes = thumb_sizes(self.image_side())
        chosen = None
        for t in sizes:
            if self._compute_layout(t, width).height <= height:
                chosen = t
                break
        if chosen is None:
            readable = [t for t in sizes if t >= PREFERRED_THUMB]
            chosen = min(readable) if readable else sizes[0]
        self._thumb = chosen
        self._relayout(width)
        return chosen

    def set_thumb_size(self, side: int, width: int | None = None) -> None:
        self._thumb = max(8, int(side))
        self._relayout(width)

    def content_height(self, width: int, thumb: int | None = None) -> int:
        return self._compute_layout(thumb or self._thumb, width).height

    def sizeHint(self) -> QSize:
        return QSize(self._layout.width, self._layout.height)

    def minimumSizeHint(self) -> QSize:
        return QSize(LABEL_MIN + MIN_THUMB + 2 * MARGIN, 60)

    def cell_rect(self, section: str, index: int) -> QRect:
        """Where image ``index`` of ``section`` is drawn (widget coordinates)."""
        for cell in self._layout.cells:
            if cell.section == section and cell.index == index:
                return QRect(cell.rect)
        raise KeyError(f"no image {index} in section {section!r}")

    def cell_at(self, pos: QPoint) -> tuple[str, int] | None:
        for cell in self._layout.cells:
            if cell.rect.adjusted(-BORDER, -BORDER, BORDER, BORDER).contains(pos):
                return cell.section, cell.index
        return None

    def export_width(self, max_columns: int = EXPORT_COLUMNS) -> int:
        """A width that gives each row up to ``max_columns`` images (or its longest row)."""
        longest = max((len(r.indices) for s in self._sections for r in s.rows), default=1)
        cols = max(1, min(longest, max_columns))
        return 2 * MARGIN + self._label_width() + cols * (self._thumb + 2 * BORDER + GAP)

    def render_image(self, width: int | None = None) -> QImage:
        """The whole grid (also the parts scrolled out of view) as one picture, for export,
        laid out ``width`` pixels wide (default `export_width`) at the current thumbnail size."""
        layout = self._compute_layout(self._thumb, width or self.export_width())
        size = QSize(max(1, layout.width), max(1, layout.height))
        image = QImage(size, QImage.Format.Format_RGB32)
        image.fill(QColor(self._theme.background))
        painter = QPainter(image)
        try:
            self._paint(painter, QRect(QPoint(0, 0), size), interactive=False, layout=layout)
        finally:
            painter.end()
        return image

    # -- layout -----------------------------------------------------------------------------------
    def _fonts(self) -> tuple[QFont, QFont, QFont]:
        base = QFont(self.font())
        bold = QFont(base)
        bold.setBold(True)
        heading = QFont(bold)
        heading.setPointSizeF(base.pointSizeF() * 1.1 if base.pointSizeF() > 0 else 11)
        small = QFont(base)
        small.setPointSizeF(max(7.0, base.pointSizeF() * 0.85) if base.pointSizeF() > 0 else 8)
        return bold, heading, small

    def _label_width(self) -> int:
        bold, _, small = self._fonts()
        fm_b, fm_s = QFontMetrics(bold), QFontMetrics(small)
        widest = 0
        for s in self._sections:
            for row in s.rows:
                widest = max(
                    widest, fm_b.horizontalAdvance(row.label), fm_s.horizontalAdvance(row.detail)
                )
        return int(min(LABEL_MAX, max(LABEL_MIN, widest + 16)))

    def _compute_layout(self, thumb: int, width: int) -> _Layout:
        bold, heading, small = self._fonts()
        heading_h = QFontMetrics(heading).height() + 12
        caption_h = QFontMetrics(small).height() + 2 if self._captions else 0
        label_w = self._label_width()
        cell = thumb + 2 * BORDER
        line_h = cell + caption_h + GAP
        usable = max(cell, width - 2 * MARGIN - label_w)
        cols = max(1, (usable + GAP) // (cell + GAP))
        y = MARGIN
        title_rect = None
        if self._title:
            text_w = max(10, width - 2 * MARGIN)
            flags = int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap)
            needed = QFontMetrics(heading).boundingRect(
                QRect(0, 0, text_w, 10_000), flags, self._title
            )
            title_rect = QRect(MARGIN, y, text_w, needed.height() + 4)
            y += title_rect.height() + 8
        cells: list[_Cell] = []
        headings: list[tuple[QRect, str]] = []
        labels: list[tuple[QRect, GridRow, bool]] = []
        widest = 0
        for s_i, section in enumerate(self._sections):
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
                    cells.append(_Cell(section.key, index, QRect(x0, y0, thumb, thumb)))
                    widest = max(widest, x0 + thumb + BORDER)
                y += row_h
        height = y + MARGIN if self._sections else 60
        return _Layout(
            thumb, label_w, max(width, widest + MARGIN), height, cells, headings, labels, title_rect
        )

    def _relayout(self, width: int | None = None) -> None:
        w = width if width is not None else max(self.width(), 200)
        self._layout = self._compute_layout(self._thumb, w)
        self.setFixedHeight(self._layout.height)
        self.setMinimumWidth(
            min(self._layout.width, LABEL_MAX + 2 * MARGIN + self._thumb + 2 * BORDER)
        )
        self.updateGeometry()
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._relayout(event.size().width())

    # -- painting ---------------------------------------------------------------------------------
    def _pixmap(self, section: GridSection, index: int, side: int) -> QPixmap:
        key = (section.key, index, side)
        pix = self._pixmaps.get(key)
        if pix is None:
            pix = scaled_pixmap(section.images[index], side)
            self._pixmaps[key] = pix
        return pix

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(self._theme.background))
            self._paint(painter, event.rect(), interactive=True)
        finally:
            painter.end()

    def _paint(
        self, painter: QPainter, clip: QRect, interactive: bool, layout: _Layout | None = None
    ) -> None:
        theme = self._theme
        lay = layout or self._layout
        bold, heading, small = self._fonts()
        fg, muted = QColor(theme.foreground), QColor(theme.muted)
        band = QColor(theme.surface)
        accent = QColor(theme.curve_colors[0])
        frame_color = QColor(theme.muted)
        frame_color.setAlpha(110)  # sets dark image tiles apart from a dark background
        by_key = {s.key: s for s in self._sections}

        if lay.title_rect is not None:
            painter.setFont(heading)
            painter.setPen(fg)
            painter.drawText(
                lay.title_rect,
                Qt.AlignmentFlag.AlignLeft
                | Qt.AlignmentFlag.AlignVCenter
                | Qt.TextFlag.TextWordWrap,
                self._title,
            )
        painter.setFont(heading)
        for rect, title in lay.headings:
            if rect.intersects(clip):
                painter.setPen(fg)
                painter.drawText(
                    rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, title
                )
                painter.setPen(QPen(muted, 1))
                painter.drawLine(
                    rect.left(), rect.bottom() + 2, lay.width - MARGIN, rect.bottom() + 2
                )

        fm_b, fm_s = QFontMetrics(bold), QFontMetrics(small)
        for rect, row, banded in lay.labels:
            band_rect = QRect(
                MARGIN - 4, rect.top() - 1, lay.width - 2 * MARGIN + 8, rect.height() + 2
            )
            if not band_rect.intersects(clip):
                continue
            if banded:
                painter.fillRect(band_rect, band)
            text_h = fm_b.height() + (fm_s.height() if row.detail else 0)
            first_line = min(rect.height(), lay.thumb + 2 * BORDER)
            top = rect.top() + max(0, (first_line - text_h) // 2)
            painter.setFont(bold)
            painter.setPen(fg)
            painter.drawText(
                QRect(rect.left(), top, rect.width(), fm_b.height()),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                fm_b.elidedText(row.label, Qt.TextElideMode.ElideRight, rect.width()),
            )
            if row.detail:
                painter.setFont(small)
                painter.setPen(muted)
                painter.drawText(
                    QRect(rect.left(), top + fm_b.height(), rect.width(), fm_s.height()),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    fm_s.elidedText(row.detail, Qt.TextElideMode.ElideRight, rect.width()),
                )

        for cell in lay.cells:
            frame = cell.rect.adjusted(-BORDER, -BORDER, BORDER, BORDER)
            if not frame.adjusted(0, 0, 0, fm_s.height() + 2).intersects(clip):
                continue
            section = by_key[cell.section]
            pix = self._pixmap(section, cell.index, lay.thumb)
            x = cell.rect.left() + (lay.thumb - pix.width()) // 2
            y = cell.rect.top() + (lay.thumb - pix.height()) // 2
            painter.drawPixmap(x, y, pix)
            painter.setPen(QPen(frame_color, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRect(x - 1, y - 1, pix.width() + 1, pix.height() + 1))
            key = (cell.section, cell.index)
            color = self._borders.get(key)
            if color is not None:
                painter.setPen(
                    QPen(
                        QColor(color),
                        BORDER,
                        Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.SquareCap,
                        Qt.PenJoinStyle.MiterJoin,
                    )
                )
                painter.setBrush(Qt.BrushStyle.NoBrush)
                half = BORDER / 2
                painter.drawRect(
                    cell.rect.adjusted(-1, -1, 0, 0)
                    .toRectF()
                    .adjusted(-half + 0.5, -half + 0.5, half - 0.5, half - 0.5)
                )
            if interactive and key in (self._selected, self._hover):
                pen = QPen(accent, 2 if key == self._selected else 1)
                pen.setStyle(
                    Qt.PenStyle.SolidLine if key == self._selected else Qt.PenStyle.DashLine
                )
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(frame.adjusted(0, 0, -1, -1))
            caption = self._captions.get(key)
            if caption is not None:
                text, ccolor = caption
                painter.setFont(small)
                painter.setPen(QColor(ccolor) if ccolor else muted)
                rect = QRect(
                    frame.left() - GAP // 2, frame.bottom() + 1, frame.width() + GAP, fm_s.height()
                )
                painter.drawText(
                    rect,
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                    fm_s.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()),
                )

    # -- mouse ------------------------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        hit = self.cell_at(event.position().toPoint())
        if hit != self._hover:
            self._hover = hit
            self.setCursor(Qt.CursorShape.PointingHandCursor if hit else Qt.CursorShape.ArrowCursor)
            if hit is not None:
                section = self.section(hit[0])
                source = section.sources[hit[1]] if hit[1] < len(section.sources) else ""
                self.setToolTip(source)
            else:
                self.setToolTip(self._row_tooltip(event.position().toPoint()))
            self.update()
        super().mouseMoveEvent(event)

    def _row_tooltip(self, pos: QPoint) -> str:
        for rect, row, _ in self._layout.labels:
            if rect.contains(pos):
                return row.tooltip
        return ""

    def leaveEvent(self, event) -> None:  # noqa: N802
        if self._hover is not None:
            self._hover = None
            self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.cell_at(event.position().toPoint())
            if hit is not None:
                self._selected = hit
                self.update()
                self.imageClicked.emit(hit[0], hit[1])
                return
        super().mousePressEvent(event)


class ImageGridArea(QScrollArea):
    """An `ImageGrid` in a scroll area that re-fits the thumbnail size whenever the space or the
    content changes (large thumbnails for few images, a scroll bar for 20-way 5-shot)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = ImageGrid()
        self.setWidget(self.grid)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def set_episode(self, episode: Episode, title: str = "") -> None:
        self.grid.set_episode(episode, title)
        self.refit()

    def set_sections(self, sections: list[GridSection], title: str = "") -> None:
        self.grid.set_sections(sections, title)
        self.refit()

    def refit(self) -> None:
        """Choose the thumbnail size for the current viewport and resize the grid to match."""
        width, height = self.viewport().width(), self.viewport().height()
        if self.verticalScrollBar().isVisible():
            width += self.verticalScrollBar().width()
        self.grid.fit(width, height)
        if self.grid.content_height(width) > height:  # a vertical scroll bar will take room
            width -= self.style().pixelMetric(self.style().PixelMetric.PM_ScrollBarExtent)
            self.grid.fit(width, height)
        self.grid.resize(max(width, self.grid.sizeHint().width()), self.grid.sizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.refit()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        # Left/Right/PageUp/PageDown belong to the browser's episode navigation, not scrolling.
        if event.key() in (
            Qt.Key.Key_Left,
            Qt.Key.Key_Right,
            Qt.Key.Key_PageUp,
            Qt.Key.Key_PageDown,
        ):
            event.ignore()
            return
        super().keyPressEvent(event)


__all__ = [
    "SUPPORT",
    "QUERY",
    "GridRow",
    "GridSection",
    "ImageGrid",
    "ImageGridArea",
    "describe_class",
    "episode_sections",
    "qimage_to_array",
    "scaled_pixmap",
    "tensor_to_qimage",
    "tensor_to_uint8",
    "thumb_sizes",
]
