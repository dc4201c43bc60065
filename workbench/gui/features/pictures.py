"""Arrays the engine computed, as images to paint: grey images, filters in a grid, a saliency
heat map over its image. Display only: scaling to 0..255 and colouring, no analysis."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter

from workbench.engine.features.filters import FilterBank, normalise


def grey_image(array: np.ndarray) -> QImage:
    """``[H, W]`` or ``[C, H, W]`` values in [0, 1] as an 8-bit image (RGB for 3 channels)."""
    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] == 3:
        rgb = np.ascontiguousarray((np.clip(a.transpose(1, 2, 0), 0, 1) * 255).astype(np.uint8))
        h, w = rgb.shape[:2]
        return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    if a.ndim == 3:
        a = a[0]
    g = np.ascontiguousarray((np.clip(a, 0, 1) * 255).astype(np.uint8))
    h, w = g.shape
    return QImage(g.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def filter_grid(bank: FilterBank, columns: int, cell: int, background: str) -> QImage:
    """Every unit's filter (first input channel; RGB when the input has 3) as a tile of
    ``cell`` pixels, ``columns`` per row, each on its own scale (0.5 grey is a zero weight)."""
    shown = normalise(bank.weights)  # [units, C, h, w] in [0, 1], each filter its own scale
    units = bank.units
    rows = (units + columns - 1) // columns
    gap = 2
    image = QImage(
        columns * (cell + gap) + gap, rows * (cell + gap) + gap, QImage.Format.Format_RGB32
    )
    image.fill(QColor(background))
    painter = QPainter(image)
    for u in range(units):
        tile = shown[u] if shown.shape[1] == 3 else shown[u, 0]
        r, c = divmod(u, columns)
        painter.drawImage(
            gap + c * (cell + gap),
            gap + r * (cell + gap),
            grey_image(tile).scaled(
                cell,
                cell,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.FastTransformation,
            ),
        )
    painter.end()
    return image


def heat_overlay(image: np.ndarray, heat: np.ndarray, size: int) -> QImage:
    """``image`` in grey with ``heat`` ([H, W] in [0, 1]) laid over it in red-yellow, the
    strength as opacity: where the class score is most sensitive to the pixels."""
    base = grey_image(image).convertToFormat(QImage.Format.Format_ARGB32)
    h = np.clip(np.asarray(heat, dtype=np.float32), 0, 1)
    rgba = np.zeros((*h.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (h * 220).astype(np.uint8)
    rgba[..., 3] = (np.sqrt(h) * 210).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba)
    overlay = QImage(
        rgba.data, h.shape[1], h.shape[0], 4 * h.shape[1], QImage.Format.Format_RGBA8888
    ).copy()
    out = base.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio)
    painter = QPainter(out)
    painter.drawImage(out.rect(), overlay)
    painter.end()
    return out


def image_strip(
    rows: list[tuple[str, list[QImage], list[str]]],
    cell: int,
    background: str,
    foreground: str,
    label_width: int = 120,
) -> QImage:
    """Rows of thumbnails with a caption under each and a label before each row (the top and
    bottom images of a channel; query images and their saliency)."""
    from PySide6.QtGui import QFont, QFontMetrics

    font = QFont()
    fm = QFontMetrics(font)
    line = fm.height() + 2
    gap = 6
    columns = max((len(images) for _, images, _ in rows), default=0)
    width = label_width + columns * (cell + gap) + gap
    height = len(rows) * (cell + line + gap) + gap
    out = QImage(max(1, width), max(1, height), QImage.Format.Format_RGB32)
    out.fill(QColor(background))
    painter = QPainter(out)
    painter.setFont(font)
    painter.setPen(QColor(foreground))
    for r, (label, images, captions) in enumerate(rows):
        y = gap + r * (cell + line + gap)
        painter.drawText(
            0,
            y,
            label_width - gap,
            cell,
            Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap,
            label,
        )
        for c, img in enumerate(images):
            x = label_width + c * (cell + gap)
            painter.drawImage(
                x,
                y,
                img.scaled(
                    cell,
                    cell,
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.FastTransformation,
                ),
            )
            if c < len(captions):
                painter.drawText(
                    x - gap // 2,
                    y + cell + 1,
                    cell + gap,
                    line,
                    Qt.AlignmentFlag.AlignHCenter,
                    fm.elidedText(captions[c], Qt.TextElideMode.ElideRight, cell + gap),
                )
    painter.end()
    return out


__all__ = ["clear_layout", "filter_grid", "grey_image", "heat_overlay", "image_strip"]


def clear_layout(layout) -> None:
    """Remove and delete every widget of ``layout`` (a result replaced by a new one)."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()
