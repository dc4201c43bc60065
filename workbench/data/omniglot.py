"""Omniglot (Lake et al. 2015) from the official archives or their extracted folders.

Layout inside every archive or folder: ``<Alphabet>/<characterNN>/<drawer>.png``, 105x105
1-bit images with black strokes on white. The loader reads zips in place (no extraction),
inverts the images so strokes are bright (255) on a black (0) background, as the
meta-learning literature feeds them to networks, and resizes them to ``data.image_size`` with
area interpolation (each pixel the mean of the 105x105 pixels it covers, as learn2learn's
scripts do; bilinear resizing blurred the strokes a little more).

Splits: with both full sets (``images_background`` and ``images_evaluation``) the standard
split is used: evaluation alphabets are the test set, and one sixth of the background
alphabets (5 of 30, as Meta-Dataset does), chosen by ``data.split_seed``, are held out for
validation. With only part of Omniglot (e.g. the two small background subsets), alphabets are
split 60/20/20 by ``data.split_seed``. Splitting by alphabet, never by character, keeps test
characters from scripts the model has not seen. ``data.split = "all-but-val"`` holds out no
test set: it trains on every background alphabet except ``data.val_share`` of them (at least
one) kept for validation, so a user with only the background set trains on nearly all of it;
the test split is then the evaluation alphabets if present, else the validation alphabets.
``ClassImages.meta["split_note"]`` says which alphabets went where.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.config import DataConfig
from workbench.data.cache import cache_dir, cache_key, cached_class_images
from workbench.data.class_images import ClassImages
from workbench.data.images import (
    ProgressFn,
    check_split,
    decode_image_bytes,
    is_hidden,
    is_image_name,
    list_dir,
    no_progress,
    read_file,
    resize_square,
    seeded_split,
    select_classes,
    stack_classes,
    to_channels,
    with_rotations,
)
from workbench.errors import DatasetError

BACKGROUND = "images_background"
EVALUATION = "images_evaluation"
SMALL = ("images_background_small1", "images_background_small2")
ARCHIVES = (BACKGROUND, EVALUATION) + SMALL  # also the order in which duplicates are resolved
OFFICIAL = "https://github.com/brendenlake/omniglot (folder python/)"
CACHE_VERSION = 2  # 2: area resizing


@dataclass
class _Source:
    """One archive or extracted folder of Omniglot images."""

    name: str  # images_background, images_background_small1, or a custom folder's name
    path: Path
    is_zip: bool

    def members(self) -> list[tuple[str, str, str]]:
        """(alphabet, character, member) for every image, member relative to `path`."""
        if self.is_zip:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    names = zf.namelist()
            except (zipfile.BadZipFile, OSError) as exc:
                raise DatasetError(
                    f"{self.path} is not a readable zip archive ({exc}); download it again from "
                    f"{OFFICIAL}",
                    str(self.path),
                ) from None
            out = []
            for m in names:
                parts = m.split("/")
                if len(parts) < 3 or m.endswith("/") or any(is_hidden(p) for p in parts):
                    continue
                if is_image_name(parts[-1]):
                    out.append((parts[-3], parts[-2], m))
            return sorted(out)
        out = []
        for alphabet in list_dir(self.path)[0]:
            for character in list_dir(alphabet.path)[0]:
                for f in list_dir(character.path)[1]:
                    if is_image_name(f.name):
                        member = f"{alphabet.name}/{character.name}/{f.name}"
                        out.append((alphabet.name, character.name, member))
        return sorted(out)

    def fingerprint(self, members: list[tuple[str, str, str]]) -> list:
        """What the cache key needs: the archive's size and time, or every file's."""

        def stamp(p: Path) -> tuple[int, int]:
            st = p.stat()
            return st.st_size, st.st_mtime_ns

        if self.is_zip:
            return [str(self.path), *stamp(self.path)]
        return [str(self.path)] + [[m, *stamp(self.path / m)] for _, _, m in members]


def download_omniglot(root: str | os.PathLike[str]) -> Path:
    """Download the two full Omniglot sets with torchvision into `root`; return the folder.

    torchvision fetches ``images_background.zip`` and ``images_evaluation.zip`` from the
    official repository into ``root/omniglot-py`` and extracts them. Any failure (offline,
    proxy, disk full) becomes a DatasetError telling the user how to fetch the files by hand.
    """
    root = Path(root)
    try:
        from torchvision.datasets import Omniglot

        root.mkdir(parents=True, exist_ok=True)
        for background in (True, False):
            Omniglot(str(root), background=background, download=True)
    except Exception as exc:  # URLError, HTTPError, OSError, RuntimeError (checksum)...
        raise DatasetError(
            f"could not download Omniglot into {root} ({type(exc).__name__}: {exc}). "
            f"Without a network connection, download images_background.zip and "
            f"images_evaluation.zip from {OFFICIAL} on another computer and put them in {root}",
            str(root),
        ) from None
    return root / "omniglot-py"


def find_sources(path: Path) -> list[_Source]:
    """The Omniglot archives/folders at `path` (see the module docstring); [] if none.

    Looks in `path` itself and in the sub-folders torchvision (``omniglot-py``) and a clone of
    the official repository (``python``) create. For each set an archive is preferred to a
    folder of the same name: a zip is complete or unreadable, a folder may be half-extracted.
    """
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DatasetError(f"{path} is not a zip archive of Omniglot images", str(path))
        return [_Source(path.stem, path, True)]
    places = [path, path / "omniglot-py", path / "python"]
    found: list[_Source] = []
    for name in ARCHIVES:
        for place in places:
            if (place / f"{name}.zip").is_file():
                found.append(_Source(name, place / f"{name}.zip", True))
                break
            if (place / name).is_dir():
                found.append(_Source(name, place / name, False))
                break
    if not found and _looks_extracted(path):
        found.append(_Source(path.name, path, False))
    return found


def _looks_extracted(path: Path) -> bool:
    """Whether `path` is itself an extracted set: Alphabet/character/*.png under it."""
    for alphabet in list_dir(path)[0]:
        for character in list_dir(alphabet.path)[0]:
            return any(is_image_name(f.name) for f in list_dir(character.path)[1])
    return False


def _not_found(path: Path, default: bool) -> DatasetError:
    looked = ", ".join(f"{n}.zip" for n in ARCHIVES)
    places = ", ".join(str(p) for p in (path, path / "omniglot-py", path / "python"))
    hint = " (the default folder; set data.path to where Omniglot is)" if default else ""
    return DatasetError(
        f"no Omniglot found at {path}{hint}. Looked for {looked} or extracted folders of those "
        f"names in {places}, and for Alphabet/character/*.png folders in {path}. Get Omniglot "
        f"from {OFFICIAL}: download images_background.zip and images_evaluation.zip (or the "
        "small subsets) and point data.path at the folder holding them",
        str(path),
    )


def load_omniglot(
    data: DataConfig, split: str, progress: ProgressFn | None = None, *, download: bool = True
) -> ClassImages:
    """The characters of one split of Omniglot as 1 x size x size images (strokes = 255).

    Empty ``data.path`` means ``cache_dir()/omniglot``; `download` fetches the full sets
    there when nothing is found. The decoded characters are cached, so only the first load
    decodes PNGs.
    """
    check_split(split)
    progress = progress or no_progress
    default = not data.path.strip()
    path = cache_dir() / "omniglot" if default else Path(data.path).expanduser().absolute()
    if not default and not path.exists():
        raise DatasetError(
            f"Omniglot path {path} does not exist. Point data.path at the folder holding "
            f"images_background.zip and images_evaluation.zip (from {OFFICIAL}), "
            "or leave it empty to download Omniglot into the cache",
            str(path),
        )
    sources = find_sources(path) if path.exists() else []
    if not sources and default and download:
        progress(0.0, f"downloading Omniglot into {path}")
        download_omniglot(path)
        sources = find_sources(path)
    if not sources:
        raise _not_found(path, default)

    listing = [(s, s.members()) for s in sources]
    key = cache_key(
        version=CACHE_VERSION,
        sources=[s.fingerprint(m) for s, m in listing],
        image_size=data.image_size,
    )
    everything = cached_class_images(
        "omniglot", key, lambda: _decode_all(listing, data.image_size, progress)
    )
    progress(1.0, f"Omniglot: {everything.n_classes} characters")
    chosen = _choose(everything, split, data)
    return with_rotations(chosen) if data.rotations else chosen


def _decode_all(
    listing: list[tuple[_Source, list[tuple[str, str, str]]]], size: int, progress: ProgressFn
) -> ClassImages:
    """Decode every character of every source once; duplicates keep the first source's copy."""
    chars: dict[tuple[str, str], tuple[_Source, list[str]]] = {}
    for source, members in listing:
        here: dict[tuple[str, str], list[str]] = {}
        for alphabet, character, member in members:
            here.setdefault((alphabet, character), []).append(member)
        for k, ms in here.items():
            chars.setdefault(k, (source, ms))
    if not chars:
        where = ", ".join(str(s.path) for s, _ in listing)
        raise DatasetError(f"no Omniglot images (Alphabet/character/*.png) in {where}", where)

    keys = sorted(chars)
    total = sum(len(chars[k][1]) for k in keys)
    per_class: list[list[torch.Tensor]] = []
    sources: list[list[str]] = []
    alphabet_set: dict[str, str] = {}
    zips: dict[Path, zipfile.ZipFile] = {}
    done = 0
    try:
        for key in keys:
            source, files = chars[key]
            alphabet_set.setdefault(key[0], source.name)
            images, names = [], []
            for m in files:
                where = f"{source.path}/{m}"
                if source.is_zip:
                    if source.path not in zips:
                        zips[source.path] = zipfile.ZipFile(source.path)
                    zf = zips[source.path]
                    try:
                        raw = zf.read(m)
                    except (zipfile.BadZipFile, OSError, EOFError) as exc:
                        raise DatasetError(
                            f"cannot read {where}: the archive is damaged ({exc})", where
                        ) from None
                else:
                    raw = read_file(source.path / m)
                image = to_channels(decode_image_bytes(raw, where), 1)
                images.append(resize_square(255 - image, size, "area"))  # strokes bright
                names.append(where)
            per_class.append(images)
            sources.append(names)
            done += len(files)
            if len(per_class) % 20 == 0:
                progress(0.95 * done / total, f"Omniglot: decoded {done} of {total} images")
    finally:
        for zf in zips.values():
            zf.close()
    tensor, counts = stack_classes(per_class)
    return ClassImages(
        images=tensor,
        class_names=[f"{a}/{c}" for a, c in keys],
        counts=counts,
        sources=sources,
        name="Omniglot",
        meta={"alphabet_set": alphabet_set, "sets": [s.name for s, _ in listing]},
    )


def _held_out(names: list[str], share: float, seed: int) -> list[str]:
    """``round(share * len(names))`` of `names` (at least one), drawn with `seed`, sorted."""
    n_val = min(len(names), max(1, round(share * len(names))))
    perm = np.random.default_rng(seed).permutation(len(names))
    return sorted(names[i] for i in perm[:n_val])


def _groups(
    alphabet_set: dict[str, str], sets: set[str], data: DataConfig
) -> tuple[dict[str, list[str]], str]:
    """Alphabets of train, val and test, and a sentence saying how they were chosen."""
    alphabets = sorted(alphabet_set)
    seed = data.split_seed
    full = BACKGROUND in sets and EVALUATION in sets
    evaluation = [a for a in alphabets if alphabet_set[a] == EVALUATION] if full else []
    background = [a for a in alphabets if a not in evaluation]
    if data.split == "all-but-val":
        val = _held_out(background, data.val_share, seed)
        test = evaluation or val
        where = (
            f"test = the {len(test)} images_evaluation alphabets"
            if evaluation
            else "no test set: test = the validation alphabets (a test figure is a "
            "validation figure)"
        )
        how = (
            f"all-but-val split: train = {len(background) - len(val)} of {len(background)} "
            f"background alphabets; val = {len(val)} held out (val_share {data.val_share:g}) "
            f"with split_seed {seed}; {where}"
        )
        return {"train": [a for a in background if a not in val], "val": val, "test": test}, how
    if full:
        val = _held_out(background, 1 / 6, seed)
        how = (
            f"standard split: test = the {len(evaluation)} images_evaluation alphabets; "
            f"val = {len(val)} images_background alphabets held out with split_seed {seed}"
        )
        return {
            "train": [a for a in background if a not in val],
            "val": val,
            "test": evaluation,
        }, how
    how = f"alphabets split 60/20/20 with split_seed {seed} (no full background+evaluation pair)"
    return seeded_split(alphabets, seed), how


def _choose(everything: ClassImages, split: str, data: DataConfig) -> ClassImages:
    """The classes of `split`, by alphabet, with a note saying which alphabets went where."""
    alphabet_set: dict[str, str] = everything.meta["alphabet_set"]
    alphabets = sorted(alphabet_set)
    sets = set(everything.meta["sets"])
    groups, how = _groups(alphabet_set, sets, data)
    lists = [f"{s}: {', '.join(groups[s]) or '(none)'}" for s in ("train", "val", "test")]
    note = "; ".join([how, *lists])
    meta = {"split_note": note, "split_alphabets": groups, "sets": sorted(sets)}
    if split == "all":
        return select_classes(everything, range(everything.n_classes), "Omniglot all", meta)
    if not groups[split]:
        raise DatasetError(
            f"Omniglot split {split!r} is empty: only {len(alphabets)} alphabets "
            f"({', '.join(alphabets)}) were found, too few to split by alphabet; use split "
            "'all' or add more of Omniglot",
        )
    wanted = set(groups[split])
    idx = [i for i, n in enumerate(everything.class_names) if n.split("/", 1)[0] in wanted]
    return select_classes(everything, idx, f"Omniglot {split}", meta)
