"""Image decoding and folder walking shared by the dataset loaders.

Everything here turns user files into uint8 tensors ``[C, H, W]`` (C = 1 or 3) or into a
`DatasetError` that names the file and says what is wrong with it in plain words, so a bad file
in a folder of thousands is reported, not a traceback from a decoder.

Pillow identifies every file from its header (format, palette, transparency key). Decoding uses
``torchvision.io`` for the formats and colour types it handles correctly (PNG without a palette or
transparency key, JPEG, WebP) because it is fast, and Pillow for the rest (GIF, BMP, TIFF, palette
PNGs, and as a second opinion when torchvision refuses a file).

The module also holds the few class-level helpers more than one loader needs: padding ragged
classes into one tensor, rotated copies as new classes, and the seeded class split.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from workbench.data.class_images import ClassImages
from workbench.errors import DatasetError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Files operating systems leave behind; never data.
_JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx", "$recycle.bin"})
# Channels of a 3-channel image may differ by this much and still count as grey, because
# JPEG encoders round chroma; real colour differs by far more somewhere in the image.
GREY_TOLERANCE = 4

ProgressFn = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The progress callback used when the caller passes none."""


# -- names -------------------------------------------------------------------------------------


def is_hidden(name: str) -> bool:
    """Dot files (``.DS_Store``, ``._x.png`` AppleDouble files) and OS junk such as Thumbs.db."""
    return name.startswith(".") or name.lower() in _JUNK_NAMES


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the image extensions the loaders read."""
    return not is_hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


# -- decoding ----------------------------------------------------------------------------------


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file, or a DatasetError saying in words why it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist (was it moved or deleted?)", str(path)) from None
    except PermissionError:
        raise DatasetError(
            f"cannot read {path}: permission denied (check the file's permissions)", str(path)
        ) from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder, not an image file", str(path)) from None
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}", str(path)) from None


@dataclass(frozen=True)
class ImageProbe:
    """What Pillow reads from an image's header: its format (Pillow's name: ``PNG``, ``JPEG``,
    ``GIF``, ``BMP``, ``WEBP``, ``TIFF``...; None when no decoder recognises the data) and whether
    it has a palette or a transparency key (PNGs torchvision would decode wrongly)."""

    format: str | None
    palette_or_key: bool = False


def _readable_formats() -> dict[str, Callable[[bytes], object]]:
    """Pillow's signature tests of the formats behind `IMAGE_EXTENSIONS`, by format name."""
    Image.init()
    names = {f for ext, f in Image.registered_extensions().items() if ext in IMAGE_EXTENSIONS}
    return {f: accept for f, (_, accept) in Image.OPEN.items() if f in names and accept}


def probe_image(data: bytes) -> ImageProbe:
    """Identify `data` through Pillow, reading only its header.

    When the header itself is cut short Pillow cannot open the file, yet its signature tests
    (the ones `Image.open` runs first) still name the format, so a damaged PNG is reported as a
    damaged PNG and a text file as not an image.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = "JPEG" if im.format == "MPO" else im.format  # MPO: a camera's multi-JPEG
            return ImageProbe(fmt, im.mode in ("P", "PA") or "transparency" in im.info)
    except Exception:  # UnidentifiedImageError, or a header too short to parse
        prefix = data[:16]
        for fmt, accept in _readable_formats().items():
            if accept(prefix):
                return ImageProbe(fmt)
        return ImageProbe(None)


def decode_image_bytes(data: bytes, source: str) -> torch.Tensor:
    """Decode one image to uint8 ``[1, H, W]`` (grey) or ``[3, H, W]`` (colour).

    Transparency is composited on white (so a transparent background looks like paper, not
    ink), palettes are expanded and 16-bit samples scaled to 8 bits. `source` names the file
    in the DatasetError raised when the bytes are not a readable image.
    """
    if not data:
        raise DatasetError(f"{source} is empty (0 bytes); it is not a readable image", source)
    probe = probe_image(data)
    fmt = probe.format
    image: torch.Tensor | None = None
    tv_error = ""
    if fmt in ("PNG", "JPEG", "WEBP") and not probe.palette_or_key:
        try:
            image = _decode_torchvision(data, fmt)
        except Exception as exc:  # torchvision raises RuntimeError/ValueError with C++ detail
            tv_error = _plain(str(exc))
    if image is None:
        try:
            image = _decode_pil(data)
        except Exception as exc:
            if isinstance(exc, Image.DecompressionBombError):
                raise DatasetError(
                    f"{source} is too large to decode safely ({exc})", source
                ) from None
            if fmt is None:
                raise DatasetError(
                    f"{source} is not an image: its contents are not PNG, JPEG, GIF, BMP, WebP "
                    f"or TIFF data (it starts with {data[:8]!r})",
                    source,
                ) from None
            detail = tv_error or _plain(str(exc))
            raise DatasetError(
                f"cannot decode {source}: the {fmt} data is damaged or cut short"
                + (f" ({detail})" if detail else ""),
                source,
            ) from None
    return _normalise(image)


def _decode_torchvision(data: bytes, fmt: str) -> torch.Tensor:
    """Decode with torchvision. Its decoders warn that they are deprecated in favour of
    TorchCodec; the warning is silenced here (it would repeat per image), and if a future
    torchvision drops them, the ImportError sends every file to Pillow instead."""
    from torchvision.io import ImageReadMode, decode_image

    buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        image = decode_image(buf, mode=ImageReadMode.UNCHANGED)
        if fmt == "JPEG" and image.shape[0] == 4:  # CMYK: let libjpeg convert to RGB
            image = decode_image(buf, mode=ImageReadMode.RGB)
    if image.dtype != torch.uint8:  # 16-bit PNG
        image = (image.to(torch.int32) // 257).to(torch.uint8)
    return image


def _decode_pil(data: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(data)) as im:
        im.seek(0)  # first frame of an animated GIF
        im.load()
        mode = im.mode
        alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
        if mode in ("1", "L", "LA", "La"):
            arr = np.asarray(im.convert("LA" if alpha else "L"))
        elif mode.startswith("I") or mode == "F":  # 16/32-bit integer or float grey
            arr = np.asarray(im, dtype=np.float64)
            scale = 1 / 257 if mode.startswith("I;16") or arr.max() > 255 else 1.0
            if mode == "F" and arr.max() <= 1.0:
                scale = 255.0
            arr = np.clip(np.rint(arr * scale), 0, 255).astype(np.uint8)
        else:
            arr = np.asarray(im.convert("RGBA" if alpha else "RGB"))
    t = torch.from_numpy(np.array(arr, dtype=np.uint8, copy=True))
    return t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1).contiguous()


def _normalise(image: torch.Tensor) -> torch.Tensor:
    """Drop alpha by compositing on white: 1/2 channels -> 1, 3/4 channels -> 3."""
    if image.dim() == 4:  # an animated GIF from torchvision: first frame
        image = image[0]
    c = image.shape[0]
    if c in (2, 4):
        colour = image[:-1].to(torch.int32)
        alpha = image[-1:].to(torch.int32)
        image = ((colour * alpha + 255 * (255 - alpha) + 127) // 255).to(torch.uint8)
    return image.contiguous()


def _plain(message: str) -> str:
    """A decoder message without C++ source locations or object reprs."""
    message = message.strip().splitlines()[0] if message.strip() else ""
    m = re.search(r"\.cpp:\d+, (.*)$", message)
    if m:
        message = m.group(1)
    return re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "the data", message).strip()


def is_colour(image: torch.Tensor) -> bool:
    """Whether an image has colour: 3 channels that differ by more than GREY_TOLERANCE."""
    if image.shape[0] < 3:
        return False
    c = image.to(torch.int16)
    spread = torch.maximum((c[0] - c[1]).abs().max(), (c[1] - c[2]).abs().max())
    return bool(spread > GREY_TOLERANCE)


def to_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey (1) or RGB (3) copy of a ``[1|3, H, W]`` uint8 image; grey uses ITU-R 601 luma."""
    c = image.shape[0]
    if c == channels:
        return image
    if channels == 3:
        return image.expand(3, *image.shape[1:]).contiguous()
    weights = torch.tensor([299, 587, 114], dtype=torch.int32).view(3, 1, 1)
    luma = (image.to(torch.int32) * weights).sum(0, keepdim=True) + 500
    return luma.div(1000, rounding_mode="floor").to(torch.uint8)


def resize_square(image: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """Resize ``[C, H, W]`` or ``[N, C, H, W]`` uint8 to ``size x size``.

    ``bilinear`` (antialiased) suits photographs; ``area`` makes each output pixel the mean of
    the input pixels it covers, computed in floating point and rounded once, which is how the
    meta-learning literature shrinks Omniglot's 105x105 strokes (learn2learn's scripts). Images
    are squashed, not cropped: few-shot classes are often small objects or glyphs that a crop
    could cut off.
    """
    if image.shape[-2:] == (size, size):
        return image
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    if mode == "area":
        area = F.interpolate(batch.float(), size=(size, size), mode="area")
        out = area.round_().clamp_(0, 255).to(torch.uint8)
    else:
        out = F.interpolate(
            batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return out if image.dim() == 4 else out[0]


def load_image(
    path: str | os.PathLike[str], size: int | None = None, channels: int | None = None
) -> torch.Tensor:
    """Read, decode, and optionally convert (1 or 3 `channels`) and resize one image file."""
    image = decode_image_bytes(read_file(path), str(path))
    if channels is not None:
        image = to_channels(image, channels)
    if size is not None:
        image = resize_square(image, size)
    return image


# -- walking folders ---------------------------------------------------------------------------


def real(path: str | os.PathLike[str]) -> str:
    """The resolved path (symlinks followed) used to recognise a folder reached twice."""
    return os.path.realpath(path)


def list_dir(directory: str | os.PathLike[str]) -> tuple[list[os.DirEntry], list[os.DirEntry]]:
    """(sub-folders, files) of a folder, sorted by name, hidden and junk entries skipped.

    A broken symbolic link named like an image is reported, since it is an image the user meant
    to include; other entries that are neither files nor folders (sockets, FIFOs) are ignored.
    """
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        raise DatasetError(f"folder {directory} does not exist", str(directory)) from None
    except NotADirectoryError:
        raise DatasetError(f"{directory} is not a folder", str(directory)) from None
    except PermissionError:
        raise DatasetError(
            f"cannot list folder {directory}: permission denied (check its permissions)",
            str(directory),
        ) from None
    except OSError as exc:
        raise DatasetError(
            f"cannot list folder {directory}: {exc.strerror or exc}", str(directory)
        ) from None
    dirs: list[os.DirEntry] = []
    files: list[os.DirEntry] = []
    for e in entries:
        if is_hidden(e.name):
            continue
        try:
            if e.is_dir():
                dirs.append(e)
            elif e.is_file():
                files.append(e)
            elif e.is_symlink() and is_image_name(e.name):
                raise DatasetError(
                    f"{e.path} is a broken link: it points to {os.readlink(e.path)}, which does "
                    "not exist",
                    e.path,
                )
        except OSError:
            continue  # vanished between listing and stat, or unreadable metadata: skip it
    return dirs, files


def follow(entry: os.DirEntry, ancestors: frozenset[str]) -> str | None:
    """The resolved path of a sub-folder to descend into, or None for a symlink loop.

    A folder whose real path is the current folder or one of its ancestors (a link back up the
    tree) would be walked forever; every other link, including links to folders elsewhere, is
    followed, so datasets assembled from symlinks work.
    """
    target = real(entry.path)
    return None if target in ancestors else target


def walk_images(
    directory: str | os.PathLike[str], ancestors: frozenset[str] = frozenset()
) -> list[Path]:
    """Every image file under `directory`, recursively, sorted, surviving symlink loops.

    `ancestors` are the real paths of the folders above `directory` (from the dataset root),
    so a link from deep inside back to the root is not followed either. A real folder reached
    twice through different links is read once.
    """
    out: list[Path] = []
    seen: set[str] = set()

    def visit(d: str, chain: frozenset[str]) -> None:
        dirs, files = list_dir(d)
        out.extend(Path(f.path) for f in files if is_image_name(f.name))
        for sub in dirs:
            target = follow(sub, chain)
            if target is None or target in seen:
                continue
            seen.add(target)
            visit(sub.path, chain | {target})

    start = real(directory)
    seen.add(start)
    visit(os.fspath(directory), ancestors | {start})
    return out


def file_fingerprint(paths: Iterable[Path], root: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime in ns) per file: what a cache key needs to notice changes."""
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((os.path.relpath(p, root), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((os.path.relpath(p, root), -1, -1))  # reading it will report the error
    return out


# -- classes -----------------------------------------------------------------------------------


def stack_classes(per_class: Sequence[Sequence[torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-class lists of equal-shaped images into ``[classes, max_count, C, H, W]``.

    Ragged classes are padded with zero images; the returned counts say how many are real.
    """
    counts = torch.tensor([len(c) for c in per_class], dtype=torch.long)
    shape = next(img.shape for c in per_class for img in c)
    out = torch.zeros((len(per_class), int(counts.max()), *shape), dtype=torch.uint8)
    for i, images in enumerate(per_class):
        if images:
            out[i, : len(images)] = torch.stack(list(images))
    return out, counts


def select_classes(
    images: ClassImages, indices: Sequence[int], name: str, meta: dict | None = None
) -> ClassImages:
    """A ClassImages holding only `indices` of `images` (in that order), trimmed of padding."""
    idx = torch.as_tensor(list(indices), dtype=torch.long)
    counts = images.counts[idx] if len(idx) else torch.zeros(0, dtype=torch.long)
    width = int(counts.max()) if len(idx) else 0
    return ClassImages(
        images=images.images[idx, :width].clone(),
        class_names=[images.class_names[i] for i in indices],
        counts=counts.clone(),
        sources=[images.sources[i] for i in indices] if images.sources is not None else None,
        name=name,
        meta=dict(images.meta if meta is None else meta),
    )


def with_rotations(images: ClassImages) -> ClassImages:
    """Add copies rotated by 90, 180 and 270 degrees as new classes ``"<name> rot90"`` etc.

    This is the standard Omniglot augmentation (Santoro et al. 2016): a rotated character is
    treated as a different character, quadrupling the classes.
    """
    parts = [images.images] + [torch.rot90(images.images, k, dims=(-2, -1)) for k in (1, 2, 3)]
    names = list(images.class_names)
    sources = list(images.sources) if images.sources is not None else None
    for k in (1, 2, 3):
        names += [f"{n} rot{90 * k}" for n in images.class_names]
        if sources is not None and images.sources is not None:
            sources += [[f"{s} rot{90 * k}" for s in row] for row in images.sources]
    return ClassImages(
        images=torch.cat(parts),
        class_names=names,
        counts=images.counts.repeat(4),
        sources=sources,
        name=f"{images.name} +rotations" if images.name else "",
        meta=dict(images.meta),
    )


SPLIT_FRACTIONS = (0.6, 0.2, 0.2)


def seeded_split(names: Sequence[str], seed: int) -> dict[str, list[str]]:
    """Split `names` (classes or alphabets) 60/20/20 into train/val/test with `seed`.

    Val and test each get at least one name when there are three or more, so every split
    exists; with two names val is empty, with one only train has any. The order inside a split
    follows `names`, so the result does not depend on the order of the random draw.
    """
    ordered = sorted(names)
    n = len(ordered)
    perm = np.random.default_rng(seed).permutation(n)
    if n >= 3:
        n_val = max(1, round(SPLIT_FRACTIONS[1] * n))
        n_test = max(1, round(SPLIT_FRACTIONS[2] * n))
    else:
        n_val, n_test = 0, n - 1
    test = {ordered[i] for i in perm[:n_test]}
    val = {ordered[i] for i in perm[n_test : n_test + n_val]}
    return {
        "train": [x for x in names if x not in test and x not in val],
        "val": [x for x in names if x in val],
        "test": [x for x in names if x in test],
    }


def check_split(split: str) -> None:
    """Raise a DatasetError for a split name the loaders do not know."""
    if split not in ("train", "val", "test", "all"):
        raise DatasetError(f"unknown split {split!r}; use train, val, test or all")
