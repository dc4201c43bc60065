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

import re
from dataclasses import dataclass, field

import numpy as np
import torch
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

from workbench.data.episodes import Episode
from workbench.gui.theme import LIGHT, Theme
from workbench.gui.widgets.grid_painter import (
    BORDER,
    GAP,
    LABEL_MAX,
    LABEL_MIN,
    MARGIN,
    GridDecorations,
    GridFonts,
    GridLayout,
    GridPainter,
    compute_layout,
    label_width,
)

SUPPORT = "support"
QUERY = "query"

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
        self._decor = GridDecorations()
        self._pixmaps: dict[tuple[str, int, int], QPixmap] = {}
        self._thumb = PREFERRED_THUMB
        self._layout = self._compute_layout(self._thumb, 800)

    # -- content ----------------------------------------------------------------------------------
    def set_sections(self, sections: list[GridSection], title: str = "") -> None:
        """Show new content; decorations and the selection are cleared."""
        self._sections = list(sections)
        self._title = title
        self._decor = GridDecorations()
        self._pixmaps.clear()
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
            self._decor.borders.pop((section, index), None)
        else:
            self._decor.borders[(section, index)] = color
        self.update()

    def set_caption(self, section: str, index: int, text: str, color: str | None = None) -> None:
        """Text under image ``index`` (e.g. a prediction); an empty text removes it."""
        captions = self._decor.captions
        had = bool(captions)
        if text:
            captions[(section, index)] = (text, color)
        else:
            captions.pop((section, index), None)
        if had != bool(captions):
            self._relayout()  # captions add a line under every thumbnail
        else:
            self.update()

    def clear_decorations(self) -> None:
        self._decor.borders.clear()
        self._decor.captions.clear()
        self._relayout()

    def border(self, section: str, index: int) -> str | None:
        return self._decor.borders.get((section, index))

    def caption(self, section: str, index: int) -> str:
        return self._decor.captions.get((section, index), ("", None))[0]

    def set_selected(self, section: str | None, index: int = 0) -> None:
        self._decor.selected = None if section is None else (section, index)
        self.update()

    def selected(self) -> tuple[str, int] | None:
        return self._decor.selected

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

    def render_image(self, width: int | None = None, scale: float = 1.0) -> QImage:
        """The whole grid (also the parts scrolled out of view) as one picture, for export,
        laid out ``width / scale`` pixels wide (default `export_width`) at the current thumbnail
        size and drawn ``scale`` times larger (``width`` pixels wide: sharp on a slide)."""
        layout_width = round(width / scale) if width else self.export_width()
        layout = self._compute_layout(self._thumb, layout_width)
        size = QSize(max(1, layout.width), max(1, layout.height))
        image = QImage(size * scale, QImage.Format.Format_RGB32)
        image.fill(QColor(self._theme.background))
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.scale(scale, scale)
            self._paint(painter, QRect(QPoint(0, 0), size), interactive=False, layout=layout)
        finally:
            painter.end()
        return image

    # -- layout -----------------------------------------------------------------------------------
    def _fonts(self) -> GridFonts:
        return GridFonts.of(self.font())

    def _label_width(self) -> int:
        return label_width(self._sections, self._fonts())

    def _compute_layout(self, thumb: int, width: int) -> GridLayout:
        captions = bool(self._decor.captions)
        return compute_layout(self._sections, self._title, self._fonts(), thumb, width, captions)

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
    def _pixmap(self, key: str, index: int, side: int) -> QPixmap:
        cache_key = (key, index, side)
        pix = self._pixmaps.get(cache_key)
        if pix is None:
            pix = scaled_pixmap(self.section(key).images[index], side)
            self._pixmaps[cache_key] = pix
        return pix

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(self._theme.background))
            self._paint(painter, event.rect(), interactive=True)
        finally:
            painter.end()

    def _paint(
        self, painter: QPainter, clip: QRect, interactive: bool, layout: GridLayout | None = None
    ) -> None:
        """Draw the grid (with the selection and hover highlight only when ``interactive``)."""
        decor = self._decor
        if not interactive:
            decor = GridDecorations(decor.borders, decor.captions)
        lay = layout or self._layout
        GridPainter(painter, lay, self._theme, self._fonts(), self._pixmap, decor).paint(
            clip, self._title
        )

    # -- mouse ------------------------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        hit = self.cell_at(event.position().toPoint())
        if hit != self._decor.hover:
            self._decor.hover = hit
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
        if self._decor.hover is not None:
            self._decor.hover = None
            self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            hit = self.cell_at(event.position().toPoint())
            if hit is not None:
                self._decor.selected = hit
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
