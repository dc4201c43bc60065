"""mini-ImageNet loader on a small folder generated in the official (Ravi & Larochelle) layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.config import DataConfig
from workbench.data.miniimagenet import load_miniimagenet
from workbench.errors import DatasetError

# wnid -> colour; 4 train, 2 val, 2 test classes
CLASSES = {
    "train": ["n01532829", "n01558993", "n01704323", "n01749939"],
    "val": ["n01855672", "n02091244"],
    "test": ["n01930112", "n01981276"],
}
COLOURS = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (0, 255, 255),
    (255, 0, 255),
    (128, 128, 128),
    (255, 128, 0),
]
PER_CLASS = 3


def make_miniimagenet(root: Path, per_label_folders: bool = False) -> Path:
    """CSV files ``filename,label`` and JPEGs in images/, as the usual download has them."""
    images = root / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    k = 0
    for split, wnids in CLASSES.items():
        lines = ["filename,label"]
        for wnid in wnids:
            for i in range(PER_CLASS):
                name = f"{wnid}{i + 1:08d}.jpg"
                pixels = np.empty((80 + 10 * i, 100, 3), dtype=np.uint8)
                pixels[:] = COLOURS[k]
                noise = rng.integers(-3, 4, pixels.shape)
                pixels = np.clip(pixels.astype(int) + noise, 0, 255).astype(np.uint8)
                folder = images / wnid if per_label_folders else images
                folder.mkdir(exist_ok=True)
                Image.fromarray(pixels).save(folder / name, quality=95)
                lines.append(f"{name},{wnid}")
            k += 1
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    return root


def cfg(path: Path, **kw: object) -> DataConfig:
    return DataConfig(dataset="miniimagenet", path=str(path), **kw)  # type: ignore[arg-type]


def test_splits_shapes_and_names(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    data = cfg(root, image_size=84)
    train = load_miniimagenet(data, "train")
    assert train.images.shape == (4, PER_CLASS, 3, 84, 84)
    assert train.class_names == CLASSES["train"]
    assert train.sources[0][0] == str(root / "images" / "n0153282900000001.jpg")
    assert load_miniimagenet(data, "val").class_names == CLASSES["val"]
    assert load_miniimagenet(data, "test").class_names == CLASSES["test"]
    everything = load_miniimagenet(data, "all")
    assert everything.images.shape == (8, PER_CLASS, 3, 84, 84)
    assert everything.class_names == sum(CLASSES.values(), [])
    assert torch.equal(everything.images[:4], train.images)


def test_colours_survive_decoding(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    images = load_miniimagenet(cfg(root, image_size=28), "all")
    means = images.images.float().mean(dim=(1, 3, 4))  # [class, channel]
    expected = torch.tensor(COLOURS, dtype=torch.float32)
    assert (means - expected).abs().max() < 6


def test_images_in_label_folders(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini", per_label_folders=True)
    test = load_miniimagenet(cfg(root, image_size=32), "test")
    assert test.images.shape == (2, PER_CLASS, 3, 32, 32)
    assert "/images/n01930112/" in test.sources[0][0]


def test_progress_reaches_one(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    calls: list[float] = []
    load_miniimagenet(cfg(root, image_size=20), "all", lambda f, m: calls.append(f))
    assert calls == sorted(calls) and calls[-1] == 1.0 and all(0 <= f <= 1 for f in calls)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    with pytest.raises(DatasetError) as err:
        load_miniimagenet(cfg(missing), "train")
    assert str(missing) in str(err.value)


def test_missing_csv_is_named(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    (root / "val.csv").unlink()
    assert load_miniimagenet(cfg(root), "train").n_classes == 4
    for split in ("val", "all"):
        with pytest.raises(DatasetError) as err:
            load_miniimagenet(cfg(root), split)
        assert str(root / "val.csv") in str(err.value)


def test_missing_image_is_named(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    gone = root / "images" / "n0170432300000002.jpg"
    gone.unlink()
    with pytest.raises(DatasetError) as err:
        load_miniimagenet(cfg(root), "train")
    assert str(gone) in str(err.value) and "1 of the 12 images" in str(err.value)
    assert err.value.path == str(gone)


def test_missing_images_folder(tmp_path: Path) -> None:
    root = tmp_path / "mini"
    root.mkdir()
    (root / "train.csv").write_text("filename,label\n")
    with pytest.raises(DatasetError) as err:
        load_miniimagenet(cfg(root), "train")
    assert str(root / "images") in str(err.value)


def test_bad_csv_header_and_rows(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    (root / "test.csv").write_text("file;wnid\nx.jpg;n0\n")
    with pytest.raises(DatasetError) as err:
        load_miniimagenet(cfg(root), "test")
    assert str(root / "test.csv") in str(err.value) and "filename,label" in str(err.value)
    (root / "test.csv").write_text("filename,label\nn0193011200000001.jpg\n")
    with pytest.raises(DatasetError) as err:
        load_miniimagenet(cfg(root), "test")
    assert "line 2" in str(err.value)


def test_damaged_image_is_named(tmp_path: Path) -> None:
    root = make_miniimagenet(tmp_path / "mini")
    bad = root / "images" / "n0185567200000003.jpg"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(DatasetError) as err:
        load_miniimagenet(cfg(root), "val")
    assert str(bad) in str(err.value)
