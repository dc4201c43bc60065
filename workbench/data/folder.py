"""Any folder of images, one sub-folder per class: the user's own few-shot dataset.

Layouts understood (``root`` is ``data.path``)::

    root/<class>/<images>                      classes split 60/20/20 by data.split_seed
    root/<group>/<class>/<images>              class folders nested one level (name "group/class")
    root/train|val|test/<class>/<images>       the folders are the splits (nesting allowed below)

A folder is a class when it holds image files itself; a folder holding only sub-folders is a
group whose sub-folders are the classes. A class takes every image below its folder, so
``class/2019/*.jpg`` works too. Every class of every split is decoded together and cached, so
the colour decision (RGB if any image has colour, else one grey channel) is the same for every
split and a model trained on one split accepts the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from workbench.config import DataConfig
from workbench.data.cache import cache_key, cached_class_images
from workbench.data.class_images import ClassImages
from workbench.data.images import (
    IMAGE_EXTENSIONS,
    ProgressFn,
    check_split,
    file_fingerprint,
    follow,
    is_colour,
    is_image_name,
    list_dir,
    load_image,
    no_progress,
    real,
    seeded_split,
    select_classes,
    stack_classes,
    to_channels,
    walk_images,
    with_rotations,
)
from workbench.errors import DatasetError

SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
CACHE_VERSION = 1
_EXTS = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))


@dataclass
class _Class:
    name: str
    split: str | None  # the train/val/test folder it is in, None without split folders
    files: list[Path]


def load_folder(data: DataConfig, split: str, progress: ProgressFn | None = None) -> ClassImages:
    """The classes of one split of a folder dataset, resized to ``data.image_size``."""
    check_split(split)
    progress = progress or no_progress
    if not data.path.strip():
        raise DatasetError("the folder dataset needs data.path: a folder of class sub-folders")
    root = Path(data.path).expanduser().absolute()
    if not root.exists():
        raise DatasetError(f"dataset folder {root} does not exist", str(root))
    if not root.is_dir():
        raise DatasetError(
            f"{root} is a file; the folder dataset needs a folder of class sub-folders", str(root)
        )

    progress(0.0, f"Scanning {root}")
    classes, notes = scan(root)
    key = cache_key(
        version=CACHE_VERSION,
        root=str(root.resolve()),
        classes=[(c.name, c.split, file_fingerprint(c.files, root)) for c in classes],
        image_size=data.image_size,
    )
    everything = cached_class_images(
        "folder", key, lambda: _decode(classes, root, data.image_size, progress)
    )
    progress(1.0, f"{root.name}: {everything.n_classes} classes")
    chosen = _choose(everything, classes, split, data.split_seed, root, notes)
    return with_rotations(chosen) if data.rotations else chosen


def scan(root: Path) -> tuple[list[_Class], list[str]]:
    """The classes under `root` and notes on anything ignored; DatasetError if there are none."""
    top = real(root)
    dirs, files = list_dir(root)
    order = ("train", "val", "test")
    split_dirs = sorted(
        (d for d in dirs if d.name.lower() in SPLIT_DIRS),
        key=lambda d: order.index(SPLIT_DIRS[d.name.lower()]),
    )
    notes: list[str] = []
    loose = sum(is_image_name(f.name) for f in files)
    if loose and dirs:
        notes.append(
            f"ignored {loose} image files directly in {root} (images belong in class folders)"
        )
    if split_dirs:
        others = [d.name for d in dirs if d.name.lower() not in SPLIT_DIRS]
        if others:
            notes.append(f"ignored folders beside the split folders: {', '.join(others)}")
        classes: list[_Class] = []
        for d in split_dirs:
            target = follow(d, frozenset({top}))
            if target is None:
                continue
            found = _classes_in(Path(d.path), frozenset({top, target}), SPLIT_DIRS[d.name.lower()])
            classes += found
        return classes, notes
    if not dirs:
        if any(is_image_name(f.name) for f in files):
            raise DatasetError(
                f"{root} holds images but no class sub-folders; put each class's images in its "
                "own sub-folder (the sub-folder name is the class name)",
                str(root),
            )
        what = "is empty" if not files else f"has no sub-folders (and no {_EXTS} images)"
        raise DatasetError(
            f"dataset folder {root} {what}; it needs one sub-folder per class", str(root)
        )
    return _classes_in(root, frozenset({top}), None), notes


def _classes_in(folder: Path, ancestors: frozenset[str], split: str | None) -> list[_Class]:
    """Class folders directly in `folder`, or one level further down inside group folders."""
    dirs, _ = list_dir(folder)
    if not dirs:
        raise DatasetError(f"{folder} has no class sub-folders", str(folder))
    out: list[_Class] = []
    for d in dirs:
        target = follow(d, ancestors)
        if target is None:
            continue  # a link back up the tree
        chain = ancestors | {target}
        subdirs, files = list_dir(d.path)
        if any(is_image_name(f.name) for f in files) or not subdirs:
            out.append(_Class(d.name, split, _images_of(Path(d.path), chain)))
            continue
        before = len(out)
        for s in subdirs:  # a group folder: its sub-folders are the classes
            t = follow(s, chain)
            if t is not None:
                images = _images_of(Path(s.path), chain | {t})
                out.append(_Class(f"{d.name}/{s.name}", split, images))
        if len(out) == before:  # only links back up the tree below it
            _images_of(Path(d.path), chain)  # raises: no images
    if not out:
        raise DatasetError(
            f"{folder} has no class sub-folders (only links back up the tree)", str(folder)
        )
    return out


def _images_of(folder: Path, ancestors: frozenset[str]) -> list[Path]:
    images = walk_images(folder, ancestors)
    if not images:
        raise DatasetError(
            f"class folder {folder} holds no images (looked for {_EXTS} files); add images or "
            "remove the folder",
            str(folder),
        )
    return images


def _decode(classes: list[_Class], root: Path, size: int, progress: ProgressFn) -> ClassImages:
    """Decode every image; RGB if any image has colour, else one grey channel."""
    total = sum(len(c.files) for c in classes)
    decoded: list[list[torch.Tensor]] = []
    done, colour = 0, False
    for c in classes:
        images = [load_image(p, size) for p in c.files]
        colour = colour or any(is_colour(im) for im in images)
        decoded.append(images)
        done += len(images)
        progress(0.95 * done / total, f"{root.name}: decoded {done} of {total} images")
    channels = 3 if colour else 1
    tensor, counts = stack_classes([[to_channels(im, channels) for im in imgs] for imgs in decoded])
    return ClassImages(
        images=tensor,
        class_names=[c.name for c in classes],
        counts=counts,
        sources=[[str(p) for p in c.files] for c in classes],
        name=root.name,
        meta={"colour": colour},
    )


def _choose(
    everything: ClassImages,
    classes: list[_Class],
    split: str,
    seed: int,
    root: Path,
    notes: list[str],
) -> ClassImages:
    """The classes of `split`: from the split folders, else a seeded 60/20/20 class split."""
    has_split_dirs = any(c.split is not None for c in classes)
    meta = dict(everything.meta)
    if has_split_dirs:
        meta["split_note"] = "; ".join(["splits from the train/val/test folders", *notes])
        if split == "all":
            idx = list(range(len(classes)))
            out = select_classes(everything, idx, f"{root.name} all", meta)
            out.class_names = [f"{c.split}/{c.name}" for c in classes]  # unique across splits
            return out
        idx = [i for i, c in enumerate(classes) if c.split == split]
        if not idx:
            present = sorted({c.split for c in classes if c.split})
            raise DatasetError(
                f"{root} has split folders ({', '.join(present)}) but no {split!r} folder with "
                f"classes; add {root / split} or choose another split",
                str(root / split),
            )
        return select_classes(everything, idx, f"{root.name} {split}", meta)

    names = [c.name for c in classes]
    groups = seeded_split(names, seed)
    meta["split_note"] = "; ".join(
        [f"classes split 60/20/20 with split_seed {seed}"]
        + [f"{s}: {len(groups[s])} classes" for s in ("train", "val", "test")]
        + notes
    )
    meta["split_classes"] = groups
    if split == "all":
        return select_classes(everything, range(len(classes)), f"{root.name} all", meta)
    if not groups[split]:
        raise DatasetError(
            f"{root} has only {len(classes)} class folder{'s' if len(classes) != 1 else ''}, so "
            f"the 60/20/20 class split leaves {split!r} empty; add classes (3 or more), use "
            "split 'all', or make train/val/test sub-folders",
            str(root),
        )
    wanted = set(groups[split])
    idx = [i for i, n in enumerate(names) if n in wanted]
    return select_classes(everything, idx, f"{root.name} {split}", meta)


__all__ = ["load_folder", "scan"]
