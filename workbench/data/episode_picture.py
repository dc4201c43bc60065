"""A labelled picture of one episode, drawn without Qt (for ``workbench episodes --out``).

Support set: one row per class, labelled with the class name, K columns. Query set below it,
grouped by class. Sinusoid episodes are drawn as the true curve with support and query points.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from workbench.data.episodes import Episode
from workbench.data.sinusoid import X_RANGE, sinusoid

BACKGROUND = (250, 250, 250)
INK = (30, 30, 30)
MUTED = (110, 110, 110)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _thumb(image: torch.Tensor, side: int) -> Image.Image:
    """A [C, H, W] float image in [0, 1] scaled crisply (nearest neighbour) to ``side``."""
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    if array.shape[2] == 1:
        pil = Image.fromarray(array[:, :, 0], mode="L").convert("RGB")
    else:
        pil = Image.fromarray(array, mode="RGB")
    return pil.resize((side, side), Image.Resampling.NEAREST)


def render_episode(episode: Episode, title: str = "", thumb: int = 64) -> Image.Image:
    if episode.is_regression:
        return _render_sinusoid(episode, title)
    n, k, q = episode.ways, episode.shots, episode.queries
    font, small = _font(16), _font(13)
    label_w = max(140, 9 * max(len(c) for c in episode.class_names) + 20)
    label_w = min(label_w, 320)
    gap, pad = 6, 16
    cols = max(k, min(q, 10))
    q_rows = math.ceil(q / cols)
    width = pad * 2 + label_w + cols * (thumb + gap)
    height = pad * 2 + 30 + 26 + n * (thumb + gap) + 26 + n * q_rows * (thumb + gap)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    y = pad
    draw.text(
        (pad, y),
        title or f"Episode {episode.index}: {n}-way {k}-shot, {q} queries per class",
        fill=INK,
        font=font,
    )
    y += 30
    draw.text((pad, y), f"Support set ({n} x {k})", fill=INK, font=font)
    y += 26
    for label in range(n):
        draw.text(
            (pad, y + thumb // 2 - 8),
            f"{label}: {episode.class_names[label]}",
            fill=INK,
            font=small,
        )
        for j in range(k):
            img = _thumb(episode.support_x[label * k + j], thumb)
            canvas.paste(img, (pad + label_w + j * (thumb + gap), y))
        y += thumb + gap
    draw.text((pad, y + 4), f"Query set ({q} per class)", fill=INK, font=font)
    y += 26
    for label in range(n):
        draw.text(
            (pad, y + thumb // 2 - 8),
            f"{label}: {episode.class_names[label]}",
            fill=MUTED,
            font=small,
        )
        for j in range(q):
            r, c = divmod(j, cols)
            img = _thumb(episode.query_x[label * q + j], thumb)
            canvas.paste(img, (pad + label_w + c * (thumb + gap), y + r * (thumb + gap)))
        y += q_rows * (thumb + gap)
    return canvas


def _render_sinusoid(episode: Episode, title: str) -> Image.Image:
    w, h, pad = 720, 420, 50
    canvas = Image.new("RGB", (w, h), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    a, ph = episode.task.get("amplitude", 1.0), episode.task.get("phase", 0.0)
    x0, x1 = X_RANGE
    y_max = 5.5

    def to_px(x: float, y: float) -> tuple[float, float]:
        return pad + (x - x0) / (x1 - x0) * (w - 2 * pad), h / 2 - y / y_max * (h / 2 - pad)

    draw.line([to_px(x0, 0), to_px(x1, 0)], fill=(200, 200, 200))
    xs = torch.linspace(x0, x1, 300)
    ys = sinusoid(xs, a, ph)
    draw.line([to_px(float(x), float(y)) for x, y in zip(xs, ys)], fill=(40, 90, 200), width=2)
    for x, y in zip(episode.query_x[:, 0].tolist(), episode.query_y[:, 0].tolist()):
        px, py = to_px(x, y)
        draw.ellipse([px - 3, py - 3, px + 3, py + 3], outline=MUTED)
    for x, y in zip(episode.support_x[:, 0].tolist(), episode.support_y[:, 0].tolist()):
        px, py = to_px(x, y)
        draw.ellipse([px - 5, py - 5, px + 5, py + 5], fill=(220, 80, 40))
    draw.text(
        (pad, 14),
        title
        or (
            f"Episode {episode.index}: y = {a:.2f} sin(x - {ph:.2f}); "
            f"{episode.shots} support (filled), {episode.queries} query (open)"
        ),
        fill=INK,
        font=_font(15),
    )
    return canvas


def save_episode_picture(episode: Episode, path: str | Path, title: str = "") -> Path:
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    render_episode(episode, title).save(path)
    return path


__all__ = ["render_episode", "save_episode_picture"]
