"""mini-ImageNet with the split of Ravi & Larochelle (2017): 64 train, 16 val, 20 test classes.

Expected layout (``root`` is ``data.path``)::

    root/train.csv, root/val.csv, root/test.csv    header "filename,label", one image per row
    root/images/<filename>                         (``images/<label>/<filename>`` also works)

Images are decoded as RGB and resized to ``data.image_size`` (84 in the papers). Each split is
decoded once and cached on its own, so loading ``train`` does not pay for ``test``; ``all`` is
the three splits together.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from workbench.config import DataConfig
from workbench.data.cache import cache_key, cached_class_images
from workbench.data.class_images import ClassImages
from workbench.data.images import (
    ProgressFn,
    check_split,
    file_fingerprint,
    load_image,
    no_progress,
    stack_classes,
)
from workbench.errors import DatasetError

SPLITS = ("train", "val", "test")
CACHE_VERSION = 1


def load_miniimagenet(
    data: DataConfig, split: str, progress: ProgressFn | None = None
) -> ClassImages:
    """One split (or ``all``) of mini-ImageNet as 3 x size x size RGB images."""
    check_split(split)
    progress = progress or no_progress
    if not data.path.strip():
        raise DatasetError(
            "mini-ImageNet needs data.path: the folder holding train.csv and images/"
        )
    root = Path(data.path).expanduser().absolute()
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"mini-ImageNet folder {root} {what}", str(root))
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise DatasetError(
            f"mini-ImageNet folder {root} has no images/ sub-folder ({images_dir} is missing); "
            "it should hold the image files named in train.csv, val.csv and test.csv",
            str(images_dir),
        )
    wanted = SPLITS if split == "all" else (split,)
    parts = []
    for i, s in enumerate(wanted):

        def sub(fraction: float, message: str, i: int = i) -> None:
            progress((i + fraction) / len(wanted), message)

        parts.append(_load_split(root, s, data.image_size, sub))
    progress(1.0, "mini-ImageNet loaded")
    return parts[0] if len(parts) == 1 else _concat(parts, "mini-ImageNet all")


def read_csv(path: Path) -> list[tuple[str, str]]:
    """(filename, label) rows of a split CSV; DatasetError naming the file and line if malformed."""
    if not path.is_file():
        raise DatasetError(
            f"mini-ImageNet split file {path} is missing (expected train.csv, val.csv and test.csv "
            "with the header filename,label)",
            str(path),
        )
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}", str(path)) from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows or [c.strip().lower() for c in rows[0]] != ["filename", "label"]:
        first = ",".join(rows[0]) if rows else "(empty file)"
        raise DatasetError(
            f"{path} must start with the header filename,label; found {first!r}", str(path)
        )
    out = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            got = ",".join(row)
            raise DatasetError(
                f"{path} line {line}: expected filename,label, got {got!r}", str(path)
            )
        out.append((row[0].strip(), row[1].strip()))
    if not out:
        raise DatasetError(f"{path} lists no images", str(path))
    return out


def _locate(root: Path, rows: list[tuple[str, str]], csv_path: Path) -> dict[str, list[Path]]:
    """Image paths per label, in CSV order; DatasetError naming missing files."""
    images_dir = root / "images"
    by_label: dict[str, list[Path]] = {}
    missing: list[Path] = []
    for filename, label in rows:
        p = images_dir / filename
        if not p.is_file():
            alt = images_dir / label / filename
            if alt.is_file():
                p = alt
            else:
                missing.append(p)
        by_label.setdefault(label, []).append(p)
    if missing:
        shown = ", ".join(str(p) for p in missing[:3])
        raise DatasetError(
            f"{len(missing)} of the {len(rows)} images listed in {csv_path} are missing from "
            f"{images_dir}: {shown}{' ...' if len(missing) > 3 else ''}",
            str(missing[0]),
        )
    return by_label


def _load_split(root: Path, split: str, size: int, progress: ProgressFn) -> ClassImages:
    csv_path = root / f"{split}.csv"
    by_label = _locate(root, read_csv(csv_path), csv_path)
    st = csv_path.stat()
    key = cache_key(
        version=CACHE_VERSION,
        csv=[str(csv_path.resolve()), st.st_size, st.st_mtime_ns],
        files=[file_fingerprint(paths, root) for paths in by_label.values()],
        image_size=size,
    )

    def build() -> ClassImages:
        total = sum(len(v) for v in by_label.values())
        per_class, done = [], 0
        for paths in by_label.values():
            per_class.append([load_image(p, size, channels=3) for p in paths])
            done += len(paths)
            progress(
                0.95 * done / total, f"mini-ImageNet {split}: decoded {done} of {total} images"
            )
        tensor, counts = stack_classes(per_class)
        return ClassImages(
            images=tensor,
            class_names=list(by_label),
            counts=counts,
            sources=[[str(p) for p in paths] for paths in by_label.values()],
            name=f"mini-ImageNet {split}",
            meta={"split_note": f"Ravi & Larochelle split from {csv_path.name}"},
        )

    return cached_class_images("miniimagenet", key, build)


def _concat(parts: list[ClassImages], name: str) -> ClassImages:
    """Several splits as one ClassImages, padding to the largest class."""
    width = max(p.images.shape[1] for p in parts)
    padded = [
        torch.nn.functional.pad(p.images, (0, 0, 0, 0, 0, 0, 0, width - p.images.shape[1]))
        for p in parts
    ]
    return ClassImages(
        images=torch.cat(padded),
        class_names=[n for p in parts for n in p.class_names],
        counts=torch.cat([p.counts for p in parts]),
        sources=[row for p in parts for row in (p.sources or [])] or None,
        name=name,
        meta={"split_note": "train + val + test of the Ravi & Larochelle split"},
    )
