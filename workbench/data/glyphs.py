"""`glyphs`: the embedded default dataset, procedurally drawn alphabets in the spirit of Omniglot.

Why it exists: the application must run a meaningful few-shot experiment out of the box, without a
download. Omniglot's structure is what makes it a good meta-learning benchmark (many classes, few
images per class, classes grouped into alphabets that share a style, large drawer-to-drawer
variation), so the generator reproduces that structure:

* each **alphabet** has its own stroke style: which stroke kinds it prefers (smooth curves,
  sharp-cornered polylines, open arcs, closed loops), how curved its strokes are, whether stroke
  directions snap to multiples of 45 degrees (angular scripts), how many strokes a character
  has, how often strokes start on an earlier stroke, diacritic dots, stroke width, slant and
  aspect ratio;
* each **character** is a few strokes, every stroke two cubic Bezier segments (7 control points);
* each of the 20 **drawers** renders every character with their own habits (slant, size, pen
  width, shakiness) plus per-drawing jitter: a random affine transform (rotation, scale, shear,
  translation of a few pixels), stroke-width change and control-point noise. The stroke
  structure never changes between drawers, so a person (or a learned model) recognises the
  character while raw pixels differ a lot: on the test split a 1-nearest-neighbour classifier on
  pixels scores clearly below a meta-learned network (see `workbench.data.baselines`).

Rendering is vectorised (numpy): the Bezier curves of all strokes of all drawings are sampled
densely (about two points per pixel of length) in one batch, and every sample point writes a soft
disc (anti-aliased distance falloff) into a small window with a scatter-maximum, so the 28x28
dataset of about 24,000 images is drawn in about a second with no per-pixel Python loop.

Everything is deterministic from `GLYPHS_SEED` (same seed: byte-identical tensors), the whole set
is cached on disk once per image size, and ``data.split_seed`` only decides which alphabets are
train, validation or test.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from workbench.config import DataConfig
from workbench.data.cache import cache_key, cached_class_images
from workbench.data.class_images import ClassImages
from workbench.data.images import select_classes, with_rotations
from workbench.errors import ConfigError

ProgressFn = Callable[[float, str], None]

GLYPHS_SEED = 0
"""Generation seed of the embedded dataset: fixed, so every installation has the same glyphs."""

GENERATOR_VERSION = 2
"""Part of the cache key: bump it whenever a change to this module changes the images."""

N_ALPHABETS = 40
CHARACTERS_PER_ALPHABET = (25, 35)  # inclusive; 40 alphabets give 1,000..1,400 characters
N_DRAWERS = 20
MAX_STROKES = 5  # up to 4 strokes plus one diacritic dot
SPLIT_ALPHABETS = {"train": 26, "val": 6, "test": 8}
SPLITS = ("train", "val", "test", "all")

# A character fills a box of half-side _BOX * image side around the centre before jitter, so a
# drawing that is rotated, enlarged and shifted by the drawer still stays inside the image.
_BOX = 0.30
# Larger images are rendered at this size and resized: rendering cost grows with the cube of
# the side, and glyphs carry no detail finer than this.
_RENDER_MAX = 64
# Distance between sample points along a curve, in pixels: small enough that the union of the
# discs is a smooth stroke (edge ripple below 0.1 of full intensity even for the thinnest pen).
_SPACING = 0.6
_IMAGES_PER_CHUNK = 4096
_POINTS_PER_CHUNK = 65536


# --------------------------------------------------------------------------------------------
# Structure: alphabets and their characters
# --------------------------------------------------------------------------------------------


def _unit(angle: np.ndarray) -> np.ndarray:
    """Unit vectors ``[..., 2]`` pointing at ``angle`` (radians)."""
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def _hermite(
    a: np.ndarray,
    m: np.ndarray,
    b: np.ndarray,
    ta: np.ndarray,
    tm1: np.ndarray,
    tm2: np.ndarray,
    tb: np.ndarray,
    h1: np.ndarray,
    h2: np.ndarray,
) -> np.ndarray:
    """Seven control points of two cubic segments a->m->b with the given unit tangents.

    ``tm1``/``tm2`` are the tangents arriving at and leaving ``m``: equal for a smooth join,
    different for a corner. ``h1``/``h2`` are the handle lengths of the two segments.
    """
    h1, h2 = h1[..., None], h2[..., None]
    return np.stack([a, a + ta * h1, m - tm1 * h1, m, m + tm2 * h2, b - tb * h2, b], axis=-2)


def _alphabet_styles(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Per-alphabet style parameters, each an array with one entry per alphabet."""
    kind_weights = rng.dirichlet(np.full(4, 0.9), size=n)
    kind_weights = 0.05 + kind_weights  # every kind stays possible, just rare
    kind_weights /= kind_weights.sum(axis=1, keepdims=True)
    low = rng.integers(1, 3, size=n)  # 1 or 2 strokes at least
    return {
        "kinds": kind_weights,
        "curvature": rng.uniform(0.05, 0.55, size=n),
        "snap": rng.choice([0.0, 0.0, 0.5, 0.9], size=n),  # chance a direction is snapped to 45 deg
        "low": low,
        "high": np.minimum(low + rng.integers(1, 3, size=n), MAX_STROKES - 1),
        "connect": rng.uniform(0.3, 0.9, size=n),
        "dot": rng.choice([0.0, 0.0, 0.25, 0.5], size=n),
        "width": rng.uniform(0.070, 0.095, size=n),  # full stroke width as a fraction of the side
        "slant": rng.uniform(-0.25, 0.25, size=n),
        "aspect": np.exp(rng.uniform(-0.2, 0.2, size=n)),  # width / height of the character box
        "length": rng.uniform(0.8, 1.3, size=n),
    }


def _sample_bezier(ctrl: np.ndarray, steps: int) -> np.ndarray:
    """Points ``[..., 2 * steps, 2]`` on both cubic segments of strokes ``[..., 7, 2]``."""
    t = np.linspace(0.0, 1.0, steps)
    basis = np.stack([(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3], axis=1)
    first = np.einsum("tk,...kd->...td", basis, ctrl[..., 0:4, :])
    second = np.einsum("tk,...kd->...td", basis, ctrl[..., 3:7, :])
    return np.concatenate([first, second], axis=-2)


def _noise(rng: np.random.Generator, scale: np.ndarray) -> np.ndarray:
    """Normal noise with a per-character standard deviation ``scale [C]``."""
    return rng.normal(0, 1, size=scale.shape[0]) * scale


def _smooth_stroke(
    rng: np.random.Generator, a: np.ndarray, theta: np.ndarray, length: np.ndarray, curv: np.ndarray
) -> np.ndarray:
    """A line when curvature is low, a C or S curve otherwise: ``[C, 7, 2]`` from ``a``."""
    b = a + length[:, None] * _unit(theta)
    perp = _unit(theta + np.pi / 2)
    m = (a + b) / 2 + perp * (_noise(rng, curv) * length)[:, None]
    ang_am = np.arctan2(m[:, 1] - a[:, 1], m[:, 0] - a[:, 0])
    ang_mb = np.arctan2(b[:, 1] - m[:, 1], b[:, 0] - m[:, 0])
    t_mid = _unit(theta + _noise(rng, curv * 0.8))
    half = np.linalg.norm(m - a, axis=1) / 3, np.linalg.norm(b - m, axis=1) / 3
    t_a = _unit(ang_am + _noise(rng, curv))
    t_b = _unit(ang_mb + _noise(rng, curv))
    return _hermite(a, m, b, t_a, t_mid, t_mid, t_b, *half)


def _corner_stroke(
    rng: np.random.Generator,
    a: np.ndarray,
    theta: np.ndarray,
    length: np.ndarray,
    curv: np.ndarray,
    snap: np.ndarray,
) -> np.ndarray:
    """Two nearly straight legs meeting at a sharp turn: ``[C, 7, 2]`` from ``a``."""
    c = int(a.shape[0])
    turn = rng.uniform(0.45 * np.pi, 0.85 * np.pi, size=c) * rng.choice([-1, 1], size=c)
    snapped_turn = np.round(turn / (np.pi / 4)) * (np.pi / 4)
    turn = np.where(rng.uniform(size=c) < snap, snapped_turn, turn)
    leg1 = length * rng.uniform(0.4, 0.7, size=c)
    leg2 = length * rng.uniform(0.4, 0.7, size=c)
    cm = a + leg1[:, None] * _unit(theta)
    cb = cm + leg2[:, None] * _unit(theta + turn)
    d1 = _unit(theta + _noise(rng, curv * 0.3))
    d2 = _unit(theta + turn + _noise(rng, curv * 0.3))
    return _hermite(a, cm, cb, d1, _unit(theta), _unit(theta + turn), d2, leg1 / 3, leg2 / 3)


def _circular_stroke(
    rng: np.random.Generator,
    a: np.ndarray,
    theta: np.ndarray,
    radius: np.ndarray,
    sweep: np.ndarray,
) -> np.ndarray:
    """An arc (open) or loop (closed, ``sweep`` 2 pi) leaving ``a`` at ``theta``: two circular
    segments, slightly elliptical, ``[C, 7, 2]``."""
    c = int(a.shape[0])
    centre = a - radius[:, None] * _unit(theta)
    angles = theta[:, None] + sweep[:, None] * np.array([0.0, 0.5, 1.0])
    pts = centre[:, None] + radius[:, None, None] * _unit(angles)
    tangents = _unit(angles + np.sign(sweep)[:, None] * np.pi / 2)
    handle = 4 / 3 * np.tan(np.abs(sweep) / 8) * radius
    out = _hermite(
        pts[:, 0],
        pts[:, 1],
        pts[:, 2],
        tangents[:, 0],
        tangents[:, 1],
        tangents[:, 1],
        tangents[:, 2],
        handle,
        handle,
    )
    squash = rng.uniform(0.7, 1.3, size=c)  # ellipse along the start direction
    rel = out - centre[:, None]
    u, v = _unit(theta)[:, None], _unit(theta + np.pi / 2)[:, None]
    along, across = (rel * u).sum(-1, keepdims=True), (rel * v).sum(-1, keepdims=True)
    return centre[:, None] + along * u + across * v * squash[:, None, None]


def _stroke(
    rng: np.random.Generator, st: dict[str, np.ndarray], ctrl: np.ndarray, s: int
) -> np.ndarray:
    """Stroke slot ``s`` of every character ``[C, 7, 2]``: its start (on an earlier stroke of
    ``ctrl`` or anywhere), direction and length, and a kind (smooth, corner, arc, loop) drawn
    from the alphabet's preferences."""
    c = int(ctrl.shape[0])
    # Start: on an earlier stroke (an end or its middle) or anywhere.
    start = rng.uniform(-0.7, 0.7, size=(c, 2))
    if s > 0:
        attach = rng.uniform(size=c) < st["connect"]
        prev = np.minimum((rng.uniform(size=c) * s).astype(int), s - 1)
        where = rng.choice([0, 3, 6], size=c)
        on_prev = ctrl[np.arange(c), prev, where]
        start = np.where(attach[:, None], on_prev, start)

    theta = rng.uniform(0, 2 * np.pi, size=c)
    snapped = np.round(theta / (np.pi / 4)) * (np.pi / 4) + rng.normal(0, 0.04, size=c)
    theta = np.where(rng.uniform(size=c) < st["snap"], snapped, theta)
    length = rng.uniform(0.7, 1.5, size=c) * st["length"]
    curv = st["curvature"]

    smooth = _smooth_stroke(rng, start, theta, length, curv)
    corner = _corner_stroke(rng, start, theta, length, curv, st["snap"])
    direction = rng.choice([-1.0, 1.0], size=c)
    arc = _circular_stroke(
        rng,
        start,
        theta,
        length * rng.uniform(0.3, 0.5, size=c),
        direction * rng.uniform(0.6 * np.pi, 1.4 * np.pi, size=c),
    )
    loop_radius = length * rng.uniform(0.22, 0.35, size=c)
    loop = _circular_stroke(rng, start, theta, loop_radius, direction * 2 * np.pi)

    # Kind 0..3 (smooth, corner, arc, loop) drawn from the alphabet's preferences.
    cum_kinds = np.cumsum(st["kinds"], axis=1)
    kind = (rng.uniform(size=c)[:, None] > cum_kinds).sum(axis=1).clip(0, 3)
    options = np.stack([smooth, corner, arc, loop], axis=1)  # [C, 4, 7, 2]
    return options[np.arange(c), kind]


def _fit_into_box(ctrl: np.ndarray, valid: np.ndarray, st: dict[str, np.ndarray]) -> np.ndarray:
    """Every character's real curve extent (not the control hull) fitted into its alphabet's
    box, then slanted."""
    c = int(ctrl.shape[0])
    pts = _sample_bezier(ctrl, 9).reshape(c, -1, 2)
    mask = np.repeat(valid, 18, axis=1)[:, :, None]
    lo = np.where(mask, pts, np.inf).min(axis=1)
    hi = np.where(mask, pts, -np.inf).max(axis=1)
    centre, extent = (lo + hi) / 2, np.maximum(hi - lo, 1e-3)
    box = np.stack([np.minimum(1.0, st["aspect"]), np.minimum(1.0, 1.0 / st["aspect"])], axis=1)
    scale = np.minimum((2 * box / extent).min(axis=1), 4.0)
    ctrl = (ctrl - centre[:, None, None]) * scale[:, None, None, None]
    slant = st["slant"][:, None, None]
    ctrl[..., 0] = (ctrl[..., 0] - slant * ctrl[..., 1]) / (1 + np.abs(slant))
    return ctrl


def _add_dots(
    rng: np.random.Generator,
    ctrl: np.ndarray,
    valid: np.ndarray,
    n_strokes: np.ndarray,
    dot_chance: np.ndarray,
) -> np.ndarray:
    """Diacritic dots, in place: in the slot after the last stroke, at the candidate spot
    farthest from ink. Returns the stroke-width multipliers ``[C, S]`` (dots are thicker)."""
    c = int(ctrl.shape[0])
    mask = np.repeat(valid, 18, axis=1)
    has_dot = rng.uniform(size=c) < dot_chance
    candidates = rng.uniform(-0.85, 0.85, size=(c, 12, 2))
    ink = _sample_bezier(ctrl, 9).reshape(c, -1, 2)
    gap = np.linalg.norm(candidates[:, :, None] - ink[:, None], axis=-1)
    gap = np.where(mask[:, None, :], gap, np.inf).min(axis=2)
    spot = candidates[np.arange(c), gap.argmax(axis=1)]
    rows = np.nonzero(has_dot)[0]
    ctrl[rows, n_strokes[rows]] = spot[rows, None]
    valid[rows, n_strokes[rows]] = True
    width = np.ones((c, MAX_STROKES))
    width[rows, n_strokes[rows]] = 1.5
    return width


def _characters(
    rng: np.random.Generator, styles: dict[str, np.ndarray], alphabet: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strokes of every character, vectorised over characters (one loop over stroke slots).

    Returns control points ``[C, S, 7, 2]`` in a box of about [-1, 1]^2, a validity mask
    ``[C, S]`` and a stroke-width multiplier ``[C, S]`` (dots are drawn thicker).
    """
    c = int(alphabet.shape[0])
    st = {k: v[alphabet] for k, v in styles.items()}
    n_strokes = rng.integers(st["low"], st["high"] + 1)
    valid = np.arange(MAX_STROKES)[None, :] < n_strokes[:, None]
    ctrl = np.zeros((c, MAX_STROKES, 7, 2))
    for s in range(MAX_STROKES - 1):
        ctrl[:, s] = _stroke(rng, st, ctrl, s)
    ctrl = _fit_into_box(ctrl, valid, st)
    width = _add_dots(rng, ctrl, valid, n_strokes, st["dot"])
    return ctrl, valid, width


# --------------------------------------------------------------------------------------------
# Drawers: per-drawing jitter
# --------------------------------------------------------------------------------------------


def _drawings(
    rng: np.random.Generator,
    ctrl: np.ndarray,
    width: np.ndarray,
    base_width: np.ndarray,
    image_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Every drawer's version of every character: control points in pixels ``[C, D, S, 7, 2]``
    and stroke half-widths in pixels ``[C, D, S]``.

    The jitter is what makes the dataset a few-shot problem rather than template matching:
    drawer habits (slant, size, pen, shakiness) plus per-drawing affine transform and noise.
    """
    c, s = ctrl.shape[:2]
    d = N_DRAWERS
    # Habits of each drawer, shared by everything they draw.
    habit_slant = rng.normal(0, 0.08, size=d)
    habit_size = np.exp(rng.normal(0, 0.05, size=d))
    habit_pen = np.exp(rng.normal(0, 0.15, size=d))
    habit_shake = rng.uniform(0.7, 1.3, size=d)

    shake = habit_shake[None, :, None, None, None]
    # Anchor points (segment ends) move, and the handles move with their anchor so smooth joins
    # stay smooth and corners stay corners; handles get a little noise of their own.
    anchor = rng.normal(0, 0.07, size=(c, d, s, 3, 2)) * shake
    handle = rng.normal(0, 0.04, size=(c, d, s, 7, 2)) * shake
    owner = np.array([0, 0, 1, 1, 1, 2, 2])  # the anchor each control point belongs to
    is_handle = np.array([0.0, 1, 1, 0, 1, 1, 0])[:, None]
    moved = ctrl[:, None] + anchor[:, :, :, owner] + handle * is_handle
    moved = moved + rng.normal(0, 0.06, size=(c, d, s, 1, 2)) * shake  # whole stroke shifts

    # Affine transform of the drawing: rotation, scale, aspect, shear, translation.
    rot = np.clip(rng.normal(0, np.radians(8), size=(c, d)), -np.radians(15), np.radians(15))
    scale = np.clip(np.exp(rng.normal(0, 0.08, size=(c, d))), 0.85, 1.15) * habit_size
    aspect = np.exp(rng.normal(0, 0.05, size=(c, d)))
    shear = rng.normal(0, 0.06, size=(c, d)) + habit_slant
    cos, sin = np.cos(rot), np.sin(rot)
    sx, sy = scale * aspect, scale / aspect
    # M = R(rot) @ [[1, shear], [0, 1]] @ diag(sx, sy)
    m = np.empty((c, d, 2, 2))
    m[..., 0, 0], m[..., 0, 1] = cos * sx, (cos * shear - sin) * sy
    m[..., 1, 0], m[..., 1, 1] = sin * sx, (sin * shear + cos) * sy
    shift_px = np.clip(rng.normal(0, 1.2, size=(c, d, 2)), -3.0, 3.0) * (image_size / 28)
    unit_px = _BOX * image_size
    pts = np.einsum("cdij,cdskj->cdski", m, moved) * unit_px
    pts = pts + (image_size / 2 + shift_px)[:, :, None, None]

    half = 0.5 * base_width[:, None, None] * image_size * width[:, None]
    half = half * habit_pen[None, :, None] * np.exp(rng.normal(0, 0.10, size=(c, d, 1)))
    half = half * np.exp(rng.normal(0, 0.05, size=(c, d, s)))
    half = np.clip(half, 0.022 * image_size, 0.064 * image_size)
    return pts, half


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _render(ctrl: np.ndarray, half: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """Draw strokes into ``[N, size, size]`` float32 images in [0, 1].

    ``ctrl [N, S, 7, 2]`` are control points in pixels (x, y; pixel (i, j) has its centre at
    (j + 0.5, i + 0.5)), ``half [N, S]`` half stroke widths in pixels, ``valid [N, S]`` which
    strokes exist. Each Bezier segment is sampled every `_SPACING` pixels; a sample point gives
    the pixels around it ``clip(half + 0.5 - distance, 0, 1)`` (a disc with a one-pixel
    anti-aliased edge), and a pixel keeps the largest value any point gives it, so the union of
    discs is a stroke with exact width and soft edges.

    Numpy, single-threaded, on purpose: the work is a few large elementwise passes that are
    memory-bound, and torch's intra-op threads made it several times slower whenever the
    cores were busy (a training run in the window, other processes), while one thread costs
    about a second of CPU for the whole 28x28 dataset, loaded machine or not.
    """
    n, strokes = ctrl.shape[:2]
    radius = int(math.ceil(float(half.max()) + 1.0)) if half.size else 1
    pad = 2 * radius + 1  # a clamped point's window stays inside the canvas
    side = size + 2 * pad
    canvas = np.zeros(n * side * side, dtype=np.float32)

    segments = np.stack([ctrl[:, :, 0:4], ctrl[:, :, 3:7]], axis=2)  # [N, S, 2, 4, 2]
    polygon = np.linalg.norm(np.diff(segments, axis=-2), axis=-1).sum(-1)  # >= arc length
    count = (np.ceil(polygon / _SPACING).astype(np.int64) + 1) * valid[:, :, None]
    count = count.reshape(-1)
    keep = count > 0
    segments = segments.reshape(-1, 4, 2)[keep]
    seg_half = np.repeat(half, 2, axis=1).reshape(-1)[keep]
    seg_image = np.repeat(np.arange(n), 2 * strokes)[keep]
    count = count[keep]

    owner = np.repeat(np.arange(count.size), count)
    first = np.cumsum(count) - count
    t = ((np.arange(owner.size) - first[owner]) / np.maximum(count[owner] - 1, 1))[:, None]
    u = 1.0 - t
    p = segments[owner]
    points = u**3 * p[:, 0] + 3 * u * u * t * p[:, 1] + 3 * u * t * t * p[:, 2] + t**3 * p[:, 3]
    points = np.clip(points, -radius - 0.5, size + radius + 0.5).astype(np.float32)
    point_level = (seg_half[owner] + 0.5).astype(np.float32)[:, None, None]
    point_image = seg_image[owner]

    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    window = (offsets[:, None] * side + offsets[None, :]).astype(np.int64).reshape(-1)
    for start in range(0, points.shape[0], _POINTS_PER_CHUNK):
        chunk = slice(start, start + _POINTS_PER_CHUNK)
        xy = points[chunk]
        base = np.floor(xy)
        frac = xy - base - 0.5
        dy = np.square(offsets - frac[:, 1:2])
        dx = np.square(offsets - frac[:, 0:1])
        value = np.sqrt(dy[:, :, None] + dx[:, None, :])
        np.subtract(point_level[chunk], value, out=value)
        np.clip(value, 0.0, 1.0, out=value)
        base = base.astype(np.int64) + pad
        centre = point_image[chunk] * (side * side) + base[:, 1] * side + base[:, 0]
        index = centre[:, None] + window
        np.maximum.at(canvas, index.reshape(-1), value.reshape(-1))
    return canvas.reshape(n, side, side)[:, pad : pad + size, pad : pad + size]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def alphabet_name(index: int) -> str:
    """``"Alphabet07"`` for alphabet index 6 (names and sources count from 1, like Omniglot)."""
    return f"Alphabet{index + 1:02d}"


def generate_glyphs(seed: int, image_size: int, progress: ProgressFn | None = None) -> ClassImages:
    """Every class of the glyphs dataset: ``[n_characters, 20, 1, image_size, image_size]`` uint8.

    Deterministic in ``seed`` (the same seed gives byte-identical tensors); classes are ordered
    by alphabet, then character. ``meta["class_alphabet"]`` gives each class's alphabet index.
    """
    if image_size < 8:
        raise ConfigError(
            "data.image_size", f"glyphs need images of at least 8 pixels, got {image_size}"
        )
    render_size = min(int(image_size), _RENDER_MAX)
    rng = np.random.default_rng([int(seed), 0x676C79])
    styles = _alphabet_styles(rng, N_ALPHABETS)
    per_alphabet = rng.integers(
        CHARACTERS_PER_ALPHABET[0], CHARACTERS_PER_ALPHABET[1] + 1, size=N_ALPHABETS
    )
    alphabet = np.repeat(np.arange(N_ALPHABETS), per_alphabet)
    ctrl, valid, width = _characters(rng, styles, alphabet)
    pts, half = _drawings(rng, ctrl, width, styles["width"][alphabet], render_size)

    c = int(ctrl.shape[0])
    total = c * N_DRAWERS
    flat_ctrl = pts.reshape(total, MAX_STROKES, 7, 2)
    flat_half = half.reshape(total, MAX_STROKES)
    flat_valid = np.repeat(valid, N_DRAWERS, axis=0)
    images = torch.empty(total, image_size, image_size, dtype=torch.uint8)
    for start in range(0, total, _IMAGES_PER_CHUNK):
        stop = min(start + _IMAGES_PER_CHUNK, total)
        part = slice(start, stop)
        drawn = _render(flat_ctrl[part], flat_half[part], flat_valid[part], render_size)
        ink = torch.from_numpy(drawn)
        if render_size != image_size:
            ink = F.interpolate(
                ink[:, None], size=(image_size, image_size), mode="bilinear", align_corners=False
            )[:, 0].clamp_(0.0, 1.0)
        images[start:stop] = ink.mul(255.0).round_().to(torch.uint8)
        if progress is not None:
            progress(0.05 + 0.9 * stop / total, f"drawing glyphs: {stop}/{total} images")

    counters = np.concatenate([np.arange(k) for k in per_alphabet])
    class_names = [
        f"{alphabet_name(int(a))}/character{i + 1:02d}" for a, i in zip(alphabet, counters)
    ]
    sources = [
        [
            f"glyphs seed={seed} alphabet={a + 1} character={i + 1} drawer={d + 1}"
            for d in range(N_DRAWERS)
        ]
        for a, i in zip(alphabet, counters)
    ]
    return ClassImages(
        images=images.view(c, N_DRAWERS, 1, image_size, image_size),
        class_names=class_names,
        sources=sources,
        name=f"glyphs (seed {seed})",
        meta={
            "seed": int(seed),
            "alphabets": [alphabet_name(a) for a in range(N_ALPHABETS)],
            "class_alphabet": [int(a) for a in alphabet],
        },
    )


def split_alphabets(split_seed: int) -> dict[str, list[int]]:
    """Alphabet indices of each split (``train``/``val``/``test``/``all``), sorted.

    Splitting by alphabet, not by character, is what Omniglot does: test characters come from
    scripts the learner has never seen, so a model must learn to learn rather than memorise a
    style.
    """
    order = np.random.default_rng([int(split_seed), 0x73706C]).permutation(N_ALPHABETS)
    n_train, n_val = SPLIT_ALPHABETS["train"], SPLIT_ALPHABETS["val"]
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
        "all": order,
    }
    return {k: sorted(int(a) for a in v) for k, v in parts.items()}


def load_glyphs(data: DataConfig, split: str, progress: ProgressFn | None = None) -> ClassImages:
    """One split of the embedded glyphs dataset, at ``data.image_size``.

    The whole dataset is generated once per image size (a second or two) and cached; a split is
    then a selection of alphabets decided by ``data.split_seed``. ``data.rotations`` adds the
    split's classes rotated by 90, 180 and 270 degrees as new classes (``"<name> rot90"``...):
    a rotated character is a different character to a reader.
    """
    if split not in SPLITS:
        raise ConfigError("split", f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    size = int(data.image_size)
    if progress is not None:
        progress(0.0, "loading glyphs")
    key = cache_key(version=GENERATOR_VERSION, seed=GLYPHS_SEED, image_size=size)
    full = cached_class_images("glyphs", key, lambda: generate_glyphs(GLYPHS_SEED, size, progress))

    chosen = split_alphabets(data.split_seed)[split]
    wanted = set(chosen)
    rows = [i for i, a in enumerate(full.meta["class_alphabet"]) if a in wanted]
    meta = {
        "seed": GLYPHS_SEED,
        "split": split,
        "split_seed": int(data.split_seed),
        "alphabets": [alphabet_name(a) for a in chosen],
    }
    subset = select_classes(full, rows, f"glyphs ({split} split)", meta)
    if data.rotations:
        subset = with_rotations(subset)
    if progress is not None:
        progress(1.0, f"glyphs ({split} split): {subset.summary()}")
    return subset
