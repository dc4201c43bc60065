"""Folder loader on folders generated here: layouts, normalisation, and faulty data."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from workbench.config import DataConfig
from workbench.data.episodes import EpisodeSampler
from workbench.data.folder import load_folder
from workbench.data.images import decode_image_bytes, seeded_split
from workbench.errors import DatasetError


def cfg(path: Path, **kw: object) -> DataConfig:
    return DataConfig(dataset="folder", path=str(path), **kw)  # type: ignore[arg-type]


def _pil(image: torch.Tensor) -> Image.Image:
    """A PIL image of a uint8 [C, H, W] tensor: L, LA, RGB or RGBA by channel count."""
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[image.shape[0]]
    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if mode == "L" else array, mode)


def write_png(path: Path, image: torch.Tensor) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _pil(image).save(path, format="PNG")
    return path


def write_jpeg(path: Path, image: torch.Tensor) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _pil(image).save(path, format="JPEG", quality=95)
    return path


def grey(value: int, size: int = 16) -> torch.Tensor:
    return torch.full((1, size, size), value, dtype=torch.uint8)


def make_classes(root: Path, n_classes: int, per_class: int, size: int = 16) -> None:
    for c in range(n_classes):
        for i in range(per_class):
            write_png(root / f"class{c:02d}" / f"{i}.png", grey(10 * c + i, size))


def test_flat_folder_loads_and_splits(tmp_path: Path) -> None:
    make_classes(tmp_path, 10, 4)
    (tmp_path / "class00" / "notes.txt").write_text("not an image")
    (tmp_path / "class00" / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "class01" / "Thumbs.db").write_bytes(b"\x00\x01")
    data = cfg(tmp_path, image_size=8, split_seed=1)
    everything = load_folder(data, "all")
    assert everything.images.shape == (10, 4, 1, 8, 8)
    assert everything.class_names == [f"class{c:02d}" for c in range(10)]
    assert int(everything.images[3, 2].float().mean().round()) == 32  # grey kept, not inverted
    parts = {s: load_folder(data, s).class_names for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    assert sorted(sum(parts.values(), [])) == everything.class_names
    assert "split_seed 1" in load_folder(data, "val").meta["split_note"]
    other = {
        s: load_folder(cfg(tmp_path, image_size=8, split_seed=2), s).class_names for s in ("test",)
    }
    assert isinstance(other["test"], list)


def test_seeded_split_keeps_every_split_nonempty() -> None:
    for n in range(3, 30):
        for seed in range(5):
            groups = seeded_split([f"c{i}" for i in range(n)], seed)
            assert all(groups[s] for s in ("train", "val", "test"))
            assert sorted(sum(groups.values(), [])) == sorted(f"c{i}" for i in range(n))


def test_two_classes_say_which_split_is_empty(tmp_path: Path) -> None:
    make_classes(tmp_path, 2, 3)
    assert load_folder(cfg(tmp_path), "all").n_classes == 2
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "val")
    assert "only 2 class folders" in str(err.value) and "'val' empty" in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_train_val_test_folders_are_the_splits(tmp_path: Path) -> None:
    make_classes(tmp_path / "train", 4, 3)
    make_classes(tmp_path / "val", 2, 3)
    make_classes(tmp_path / "test", 3, 2)
    data = cfg(tmp_path, image_size=8)
    assert load_folder(data, "train").n_classes == 4
    assert load_folder(data, "val").n_classes == 2
    test = load_folder(data, "test")
    assert test.n_classes == 3 and test.counts.tolist() == [2, 2, 2]
    everything = load_folder(data, "all")
    assert everything.n_classes == 9
    assert "train/class00" in everything.class_names and "test/class00" in everything.class_names
    assert everything.counts.tolist() == [3] * 6 + [2] * 3


def test_missing_split_folder_is_named(tmp_path: Path) -> None:
    make_classes(tmp_path / "train", 3, 2)
    make_classes(tmp_path / "test", 3, 2)
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "val")
    assert str(tmp_path / "val") in str(err.value)


def test_class_folders_nested_one_level(tmp_path: Path) -> None:
    make_classes(tmp_path / "Latin", 3, 2)
    make_classes(tmp_path / "Greek", 2, 2)
    images = load_folder(cfg(tmp_path), "all")
    assert images.class_names == [
        "Greek/class00",
        "Greek/class01",
        "Latin/class00",
        "Latin/class01",
        "Latin/class02",
    ]


def test_ragged_classes_are_padded_with_counts(tmp_path: Path) -> None:
    for c, n in enumerate((5, 2, 3)):
        for i in range(n):
            write_png(tmp_path / f"c{c}" / f"{i}.png", grey(200))
    images = load_folder(cfg(tmp_path, image_size=8), "all")
    assert images.images.shape == (3, 5, 1, 8, 8)
    assert images.counts.tolist() == [5, 2, 3]
    assert images.images[1, 2:].max() == 0 and images.images[1, :2].min() == 200
    assert [len(s) for s in images.sources] == [5, 2, 3]


def test_mixed_sizes_and_colour_modes_become_rgb(tmp_path: Path) -> None:
    red = torch.zeros(3, 30, 50, dtype=torch.uint8)
    red[0] = 255
    write_png(tmp_path / "a" / "red.png", red)
    write_png(tmp_path / "a" / "grey.png", grey(100, 20))
    rgba = torch.zeros(4, 12, 12, dtype=torch.uint8)  # fully transparent black
    write_png(tmp_path / "b" / "transparent.png", rgba)
    pal = Image.new("P", (40, 10))
    pal.putpalette([0, 0, 255] * 256)
    pal.save(tmp_path / "b" / "palette.png")
    write_jpeg(
        tmp_path / "c" / "blue.jpg", torch.stack([grey(0, 64)[0], grey(0, 64)[0], grey(255, 64)[0]])
    )
    Image.new("RGB", (9, 7), (0, 255, 0)).save(tmp_path / "c" / "green.bmp")
    Image.new("L", (9, 7), 77).save(tmp_path / "c" / "grey.gif")
    Image.fromarray((torch.full((5, 5), 65535, dtype=torch.int32).numpy()).astype("uint16")).save(
        tmp_path / "c" / "white16.tif"
    )
    images = load_folder(cfg(tmp_path, image_size=16), "all")
    assert images.images.shape == (3, 4, 3, 16, 16)
    assert images.meta["colour"] is True
    a, b, c = images.images
    # names sort: grey.png, red.png
    assert a[0].float().mean(dim=(1, 2)).round().tolist() == [100, 100, 100]
    assert a[1].float().mean(dim=(1, 2)).round().tolist() == [255, 0, 0]
    # palette.png (blue), transparent.png (composited on white)
    assert b[0].float().mean(dim=(1, 2)).round().tolist() == [0, 0, 255]
    assert b[1].min() == 255
    # blue.jpg, green.bmp, grey.gif, white16.tif
    blue = c[0].float().mean(dim=(1, 2))
    assert blue[2] > 240 and blue[0] < 15
    assert c[1].float().mean(dim=(1, 2)).round().tolist() == [0, 255, 0]
    assert c[2].float().mean(dim=(1, 2)).round().tolist() == [77, 77, 77]
    assert c[3].min() == 255


def test_grey_images_stay_one_channel(tmp_path: Path) -> None:
    write_png(tmp_path / "a" / "1.png", grey(30, 10))
    rgb_but_grey = grey(90, 12).expand(3, 12, 12).contiguous()
    write_jpeg(tmp_path / "a" / "2.jpg", rgb_but_grey)
    write_png(
        tmp_path / "b" / "1.png", torch.stack([grey(70, 10)[0], grey(70, 10)[0]])
    )  # grey+alpha
    images = load_folder(cfg(tmp_path, image_size=10), "all")
    assert images.images.shape == (2, 2, 1, 10, 10)
    assert abs(int(images.images[0, 1].float().mean().round()) - 90) <= 2


def test_non_ascii_class_names(tmp_path: Path) -> None:
    for name in ("Ελληνικά", "日本", "café"):
        for i in range(2):
            write_png(tmp_path / name / f"画像{i}.png", grey(50))
    images = load_folder(cfg(tmp_path), "all")
    assert images.class_names == sorted(["Ελληνικά", "日本", "café"])
    assert all(Path(s).is_file() for row in images.sources for s in row)
    assert "画像0.png" in images.sources[0][0]


def test_cache_notices_changed_files(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    first = load_folder(cfg(tmp_path, image_size=8), "all")
    assert first.images[0, 0].max() == 0
    write_png(tmp_path / "class00" / "0.png", grey(250, 24))
    second = load_folder(cfg(tmp_path, image_size=8), "all")
    assert second.images[0, 0].min() == 250


def test_rotations(tmp_path: Path) -> None:
    image = torch.zeros(1, 8, 8, dtype=torch.uint8)
    image[0, 0, :] = 255
    for c in range(3):
        write_png(tmp_path / f"c{c}" / "0.png", image)
    images = load_folder(cfg(tmp_path, image_size=8, rotations=True), "all")
    assert images.n_classes == 12 and images.class_names[3] == "c0 rot90"
    assert torch.equal(images.images[3, 0], torch.rot90(images.images[0, 0], 1, dims=(-2, -1)))


# -- faults: each loads or raises a DatasetError naming the offending path ---------------------


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "does" / "not" / "exist"
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(missing), "all")
    assert str(missing) in str(err.value)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(tmp_path) in str(err.value) and "empty" in str(err.value)


def test_images_without_class_folders(tmp_path: Path) -> None:
    write_png(tmp_path / "loose.png", grey(1))
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(tmp_path) in str(err.value) and "sub-folder" in str(err.value)


def test_class_folder_without_images(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "empty_class" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(tmp_path / "empty_class") in str(err.value)


def test_class_with_one_image_loads_then_sampler_gives_numbers(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 5)
    write_png(tmp_path / "single" / "only.png", grey(9))
    images = load_folder(cfg(tmp_path), "all")
    assert images.counts.tolist() == [5, 5, 5, 1]
    with pytest.raises(DatasetError) as err:
        EpisodeSampler(images, ways=4, shots=1, queries=2)
    message = str(err.value)
    assert "only 3 classes have at least 3 images" in message
    assert "smallest class has 1 images" in message


def test_zero_byte_png(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    bad = tmp_path / "class01" / "empty.png"
    bad.write_bytes(b"")
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(bad) in str(err.value) and "empty (0 bytes)" in str(err.value)
    assert err.value.path == str(bad)


def test_truncated_png(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    good = write_png(tmp_path / "noise.png", torch.randint(0, 255, (3, 40, 40), dtype=torch.uint8))
    bad = tmp_path / "class02" / "cut.png"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(bad) in str(err.value) and "damaged or cut short" in str(err.value)
    assert ".cpp" not in str(err.value)


def test_text_file_named_png(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    bad = tmp_path / "class00" / "fake.png"
    bad.write_text("hello, I am a text file\n")
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(bad) in str(err.value) and "is not an image" in str(err.value)


def test_symlink_loops_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_classes(root, 3, 2)
    os.symlink(root, root / "class00" / "loop_to_root")
    os.symlink(root / "class01", root / "class01" / "loop_to_self")
    os.symlink(root, root / "loop_class")  # a class-level link back to the root
    outside = tmp_path / "elsewhere"
    write_png(outside / "x.png", grey(5))
    os.symlink(outside, root / "linked_class")  # links to other places are followed
    images = load_folder(cfg(root), "all")
    assert images.class_names == ["class00", "class01", "class02", "linked_class"]
    assert images.counts.tolist() == [2, 2, 2, 1]


def test_class_folder_holding_only_a_loop(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    (tmp_path / "hollow").mkdir()
    os.symlink(tmp_path, tmp_path / "hollow" / "up")
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(tmp_path / "hollow") in str(err.value) and "no images" in str(err.value)


def test_broken_link_named_like_an_image(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    link = tmp_path / "class00" / "gone.png"
    os.symlink(tmp_path / "nowhere.png", link)
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path), "all")
    assert str(link) in str(err.value) and "broken link" in str(err.value)


def test_unreadable_file(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    bad = tmp_path / "class01" / "0.png"
    bad.chmod(0)
    try:
        try:
            with open(bad, "rb"):
                pytest.skip("this user can read files without read permission (root)")
        except PermissionError:
            pass
        with pytest.raises(DatasetError) as err:
            load_folder(cfg(tmp_path), "all")
        assert str(bad) in str(err.value) and "permission denied" in str(err.value)
    finally:
        bad.chmod(0o644)


def test_unreadable_folder(tmp_path: Path) -> None:
    make_classes(tmp_path, 3, 2)
    bad = tmp_path / "class02"
    bad.chmod(0)
    try:
        try:
            os.listdir(bad)
            pytest.skip("this user can list folders without permission (root)")
        except PermissionError:
            pass
        with pytest.raises(DatasetError) as err:
            load_folder(cfg(tmp_path), "all")
        assert str(bad) in str(err.value) and "permission denied" in str(err.value)
    finally:
        bad.chmod(0o755)


def test_permission_errors_are_reported_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same two faults as above, simulated so they are checked where root reads anything."""
    from workbench.data import images as images_module

    make_classes(tmp_path, 3, 2)
    bad_file = tmp_path / "class01" / "1.png"

    def denied_open(path: object, *args: object, **kwargs: object) -> object:
        if Path(os.fspath(path)) == bad_file:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(images_module, "open", denied_open, raising=False)
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path, image_size=9), "all")
    assert str(bad_file) in str(err.value) and "permission denied" in str(err.value)
    monkeypatch.undo()

    bad_dir = tmp_path / "class02"
    real_scandir = os.scandir

    def denied_scandir(path: object) -> object:
        if Path(os.fspath(path)) == bad_dir:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(images_module.os, "scandir", denied_scandir)
    with pytest.raises(DatasetError) as err:
        load_folder(cfg(tmp_path, image_size=10), "all")
    assert str(bad_dir) in str(err.value) and "permission denied" in str(err.value)


def test_decoder_messages_are_plain() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (1, 2, 3)).save(buf, format="JPEG")
    with pytest.raises(DatasetError) as err:
        decode_image_bytes(buf.getvalue()[:100], "some/file.jpg")
    assert "some/file.jpg" in str(err.value) and "JPEG" in str(err.value)
    assert "BytesIO" not in str(err.value)
