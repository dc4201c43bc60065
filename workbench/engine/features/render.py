"""Small Pillow drawings for the features pictures: tiles, scatter plots, bars with error bars.

The command line writes its pictures without a window and without matplotlib (not a
dependency), so the few kinds of plot it needs are drawn here with ``PIL.ImageDraw``: enough
for a paper draft or a slide, not a plotting library. Colours come from one fixed palette so a
class or a model has the same colour in every picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: a categorical palette (Tableau 20 order: strong colours first, then their light twins)
PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (199, 199, 199),
    (219, 219, 141),
    (158, 218, 229),
]
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
GRID = (220, 220, 220)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def font(size: int = 13) -> Font:
    """Pillow's built-in scalable font (a bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # old Pillow or no FreeType
        return ImageFont.load_default()


def text_width(draw: ImageDraw.ImageDraw, text: str, face: Font) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=face)
    return int(right - left)


def canvas(width: int, height: int, title: str = "") -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A white picture with ``title`` at the top (the caller leaves 28 px for it)."""
    image = Image.new("RGB", (max(1, width), max(1, height)), BACKGROUND)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((8, 6), title, fill=INK, font=font(15))
    return image, draw


def grey_tile(values: np.ndarray, scale: int) -> Image.Image:
    """``values [H, W]`` in [0, 1] as a grey image, each value ``scale`` x ``scale`` pixels."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    tile = Image.fromarray((v * 255).round().astype(np.uint8), mode="L")
    return tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)


def image_tile(image: np.ndarray, scale: int) -> Image.Image:
    """An image ``[C, H, W]`` in [0, 1] (1 or 3 channels) as RGB, enlarged ``scale`` times."""
    a = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    a = np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a[:3]
    rgb = Image.fromarray((a.transpose(1, 2, 0) * 255).round().astype(np.uint8), mode="RGB")
    return rgb.resize((rgb.width * scale, rgb.height * scale), Image.Resampling.NEAREST)


def heat_overlay(image: np.ndarray, heat: np.ndarray, scale: int) -> Image.Image:
    """``image [C, H, W]`` with ``heat [H, W]`` in [0, 1] laid over it in red (opaque where
    the heat is highest)."""
    base = image_tile(image, scale).convert("RGBA")
    h = np.clip(np.asarray(heat, dtype=np.float64), 0.0, 1.0)
    rgba = np.zeros((*h.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 230
    rgba[..., 1] = (60 * (1 - h)).astype(np.uint8)
    rgba[..., 3] = (220 * h).round().astype(np.uint8)
    layer = Image.fromarray(rgba, mode="RGBA").resize(base.size, Image.Resampling.NEAREST)
    return Image.alpha_composite(base, layer).convert("RGB")


def tile_grid(
    tiles: Sequence[Image.Image], columns: int, gap: int = 2, title: str = ""
) -> Image.Image:
    """``tiles`` (all one size) in rows of ``columns``, under ``title``."""
    if not tiles:
        return canvas(200, 40, title)[0]
    w, h = tiles[0].size
    rows = (len(tiles) + columns - 1) // columns
    top = 30 if title else gap
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(columns * (w + gap) + gap + 16, text_width(probe, title, font(15)) + 20)
    image, _ = canvas(width, top + rows * (h + gap) + gap + 8, title)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        image.paste(tile, (8 + gap + c * (w + gap), top + gap + r * (h + gap)))
    return image


def ticks(low: float, high: float) -> list[float]:
    """About five round tick values between ``low`` and ``high``."""
    span = max(high - low, 1e-12)
    step = 10 ** np.floor(np.log10(span / 5))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= 6:
            step *= factor
            break
    return list(np.arange(np.ceil(low / step) * step, high + step * 1e-9, step))
