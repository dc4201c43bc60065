"""Two plots drawn with Pillow: scatter panels coloured by class, and grouped bars with error
bars. See `workbench.engine.features.render` for why Pillow."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from workbench.engine.features.render import (
    GRID,
    INK,
    canvas,
    colour,
    font,
    text_width,
    ticks,
)

Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass
class Panel:
    """One scatter panel: ``points [N, 2]`` coloured by ``labels [N]``."""

    title: str
    points: np.ndarray
    labels: Sequence[int]


def _limits(points: Sequence[np.ndarray]) -> tuple[float, float, float, float]:
    allp = np.concatenate([np.asarray(p, dtype=np.float64) for p in points])
    lo, hi = allp.min(0), allp.max(0)
    pad = np.maximum((hi - lo) * 0.05, 1e-9)
    return (
        float(lo[0] - pad[0]),
        float(hi[0] + pad[0]),
        float(lo[1] - pad[1]),
        float(hi[1] + pad[1]),
    )


def _scatter(draw: ImageDraw.ImageDraw, box: Box, panel: Panel, limits: tuple) -> None:
    left, top, right, bottom = box
    x0, x1, y0, y1 = limits
    draw.rectangle(box, outline=GRID)
    draw.text((left, top - 18), panel.title, fill=INK, font=font(13))
    small = font(10)
    for t in ticks(x0, x1):
        x = left + (t - x0) / (x1 - x0) * (right - left)
        draw.line([(x, bottom), (x, bottom + 4)], fill=INK)
        draw.text((x - 10, bottom + 6), f"{t:g}", fill=INK, font=small)
    for t in ticks(y0, y1):
        y = bottom - (t - y0) / (y1 - y0) * (bottom - top)
        draw.line([(left - 4, y), (left, y)], fill=INK)
        draw.text(
            (left - 8 - text_width(draw, f"{t:g}", small), y - 6), f"{t:g}", fill=INK, font=small
        )
    pts = np.asarray(panel.points, dtype=np.float64)
    for (px, py), label in zip(pts, panel.labels):
        x = left + (px - x0) / (x1 - x0) * (right - left)
        y = bottom - (py - y0) / (y1 - y0) * (bottom - top)
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour(int(label)))


def scatter_picture(
    panels: Sequence[Panel], class_names: Sequence[str], title: str, shared: bool = True
) -> Image.Image:
    """Panels side by side (``shared``: on the same axes), a legend of classes on the right."""
    size, gap, legend = 360, 70, 200
    width = 60 + len(panels) * (size + gap) + legend
    image, draw = canvas(width, size + 110, title)
    common = _limits([p.points for p in panels]) if shared else None
    for i, panel in enumerate(panels):
        left = 60 + i * (size + gap)
        box = (left, 60, left + size, 60 + size)
        _scatter(draw, box, panel, common or _limits([panel.points]))
    lx, face = 60 + len(panels) * (size + gap), font(11)
    for c, name in enumerate(class_names[: (size + 40) // 14]):
        y = 60 + c * 14
        draw.ellipse([lx, y + 3, lx + 8, y + 11], fill=colour(c))
        draw.text((lx + 12, y), name[:28], fill=INK, font=face)
    return image


@dataclass
class BarSeries:
    """One model's bars: a value and a 95% CI half-width per group (None: no value)."""

    label: str
    values: Sequence[float | None]
    errors: Sequence[float | None]


def _bar(draw: ImageDraw.ImageDraw, x: float, width: float, value, error, scale, c) -> None:
    """One bar from 0 to ``value`` with an error bar of ``error``; 'n/a' where undefined."""
    zero = scale(0.0)
    if value is None or not math.isfinite(value):
        draw.text((x, zero - 14), "n/a", fill=INK, font=font(9))
        return
    draw.rectangle([x, min(scale(value), zero), x + width, max(scale(value), zero)], fill=c)
    if error:
        mid = x + width / 2
        lo, hi = scale(value - error), scale(value + error)
        draw.line([(mid, lo), (mid, hi)], fill=INK, width=1)
        draw.line([(mid - 3, lo), (mid + 3, lo)], fill=INK)
        draw.line([(mid - 3, hi), (mid + 3, hi)], fill=INK)


def bar_picture(
    groups: Sequence[str],
    series: Sequence[BarSeries],
    title: str,
    y_label: str,
    y_range: tuple[float, float] = (0.0, 1.0),
) -> Image.Image:
    """Grouped bars (one group per layer, one bar per model) with error bars and a legend."""
    group_w, height, left, top = max(70, 26 * len(series) + 20), 300, 70, 50
    width = left + group_w * len(groups) + 40
    image, draw = canvas(width, top + height + 60 + 16 * len(series), title)
    y0, y1 = y_range
    bottom = top + height

    def scale(v: float) -> float:
        return bottom - (min(max(v, y0), y1) - y0) / (y1 - y0) * height

    small = font(10)
    for t in ticks(y0, y1):
        y = scale(t)
        draw.line([(left, y), (width - 30, y)], fill=GRID)
        draw.text(
            (left - 8 - text_width(draw, f"{t:g}", small), y - 6), f"{t:g}", fill=INK, font=small
        )
    draw.text((8, top - 20), y_label, fill=INK, font=small)
    bar_w = (group_w - 20) / max(1, len(series))
    for g, name in enumerate(groups):
        gx = left + g * group_w + 10
        for s, ser in enumerate(series):
            _bar(draw, gx + s * bar_w, bar_w - 3, ser.values[g], ser.errors[g], scale, colour(s))
        draw.text((gx, bottom + 6), name, fill=INK, font=font(11))
    for s, ser in enumerate(series):
        y = bottom + 30 + 16 * s
        draw.rectangle([left, y + 2, left + 10, y + 12], fill=colour(s))
        draw.text((left + 16, y), ser.label, fill=INK, font=font(11))
    return image
