"""Omniglot loader on the real small background subsets (skipped where they are absent)."""

from __future__ import annotations

import urllib.error
import zipfile
from pathlib import Path

import pytest
import torch

from workbench.config import DataConfig
from workbench.data import omniglot
from workbench.data.omniglot import load_omniglot
from workbench.errors import DatasetError


def cfg(path: Path | str, **kw: object) -> DataConfig:
    return DataConfig(dataset="omniglot", path=str(path), **kw)  # type: ignore[arg-type]


def alphabets(names: list[str]) -> set[str]:
    return {n.split("/", 1)[0] for n in names}


def test_all_has_242_characters_of_20_images(omniglot_dir: Path) -> None:
    images = load_omniglot(cfg(omniglot_dir), "all")
    assert images.images.shape == (242, 20, 1, 28, 28)
    assert images.images.dtype == torch.uint8
    assert images.counts.tolist() == [20] * 242
    assert len(set(images.class_names)) == 242
    assert "Balinese/character01" in images.class_names
    # Latin and Greek are in both subsets; deduplicated, they appear once.
    assert sum(n.startswith("Latin/") for n in images.class_names) == 26
    assert alphabets(images.class_names) == {
        "Balinese",
        "Early_Aramaic",
        "Greek",
        "Japanese_(katakana)",
        "Korean",
        "Latin",
        "Sanskrit",
        "Tagalog",
    }
    first = images.sources[0][0]
    assert first.endswith(".png") and "images_background_small1" in first


def test_strokes_are_the_bright_minority(omniglot_dir: Path) -> None:
    x = load_omniglot(cfg(omniglot_dir), "all").images.float() / 255
    assert 0.03 < x.mean() < 0.3  # strokes cover a small part of each image
    assert (x > 0.5).float().mean() < 0.25
    corners = x[..., 0, 0]  # the image border is background
    assert (corners < 0.1).float().mean() > 0.95
    per_image_max = x.amax(dim=(-1, -2, -3))
    assert (per_image_max > 0.5).all()  # every image has a stroke (thin ones blur when resized)


def test_splits_are_disjoint_by_alphabet_and_cover_all(omniglot_dir: Path) -> None:
    data = cfg(omniglot_dir, split_seed=3)
    parts = {s: load_omniglot(data, s) for s in ("train", "val", "test")}
    all_names = load_omniglot(data, "all").class_names
    found = {s: alphabets(p.class_names) for s, p in parts.items()}
    assert all(found.values())
    assert not (found["train"] & found["val"]) and not (found["train"] & found["test"])
    assert not (found["val"] & found["test"])
    union = [n for p in parts.values() for n in p.class_names]
    assert sorted(union) == sorted(all_names)
    note = parts["train"].meta["split_note"]
    assert "split_seed 3" in note
    for a in found["test"]:
        assert a in note.split("test:")[1]
    # 8 alphabets, 60/20/20: 4 / 2 / 2 alphabets
    assert [len(found[s]) for s in ("train", "val", "test")] == [4, 2, 2]


# Characters per alphabet in the two shared small subsets (Greek and Latin are in both).
CHARACTERS = {
    "Balinese": 24,
    "Early_Aramaic": 22,
    "Greek": 24,
    "Japanese_(katakana)": 47,
    "Korean": 40,
    "Latin": 26,
    "Sanskrit": 42,
    "Tagalog": 17,
}
# The two test alphabets that split seeds 0..3 hold out (60/20/20 of 8 alphabets).
TEST_ALPHABETS = {
    0: {"Greek", "Korean"},
    1: {"Balinese", "Latin"},
    2: {"Latin", "Sanskrit"},
    3: {"Sanskrit", "Tagalog"},
}


@pytest.mark.parametrize("seed", sorted(TEST_ALPHABETS))
def test_split_seed_chooses_the_test_alphabets(omniglot_dir: Path, seed: int) -> None:
    test = load_omniglot(cfg(omniglot_dir, split_seed=seed), "test")
    chosen = TEST_ALPHABETS[seed]
    n = sum(CHARACTERS[a] for a in chosen)
    assert alphabets(test.class_names) == chosen
    assert test.images.shape == (n, 20, 1, 28, 28)  # every character drawn by 20 people
    assert test.images.dtype == torch.uint8
    assert test.counts.tolist() == [20] * n
    assert int(test.images.min()) == 0 and int(test.images.max()) == 255
    for alphabet in chosen:  # every character of the alphabet, named Alphabet/characterNN
        names = sorted(c for c in test.class_names if c.startswith(f"{alphabet}/"))
        assert names == [f"{alphabet}/character{i:02d}" for i in range(1, CHARACTERS[alphabet] + 1)]
    assert test.sources is not None
    assert all(len(row) == 20 and row[0].endswith(".png") for row in test.sources)
    assert f"split_seed {seed}" in test.meta["split_note"]


def test_rotations_quadruple_the_classes(omniglot_dir: Path) -> None:
    plain = load_omniglot(cfg(omniglot_dir), "all")
    rotated = load_omniglot(cfg(omniglot_dir, rotations=True), "all")
    assert rotated.images.shape == (4 * 242, 20, 1, 28, 28)
    assert rotated.class_names[242] == f"{plain.class_names[0]} rot90"
    assert len(set(rotated.class_names)) == 4 * 242
    assert torch.equal(rotated.images[242 * 2 + 5], torch.rot90(plain.images[5], 2, dims=(-2, -1)))
    assert torch.equal(rotated.images[:242], plain.images)


def test_zip_and_extracted_folder_give_identical_tensors(
    omniglot_dir: Path, tmp_path: Path
) -> None:
    archive = omniglot_dir / "images_background_small1.zip"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    (tmp_path / "images_background_small1" / ".DS_Store").write_bytes(b"junk")
    from_zip = load_omniglot(cfg(archive), "all")
    from_folder = load_omniglot(cfg(tmp_path / "images_background_small1"), "all")
    from_parent = load_omniglot(cfg(tmp_path), "all")
    assert from_zip.images.shape == (136, 20, 1, 28, 28)
    assert torch.equal(from_zip.images, from_folder.images)
    assert torch.equal(from_zip.images, from_parent.images)
    assert from_zip.class_names == from_folder.class_names
    assert Path(from_folder.sources[0][0]).is_file()


def test_image_size_and_progress(omniglot_dir: Path) -> None:
    calls: list[tuple[float, str]] = []
    images = load_omniglot(
        cfg(omniglot_dir / "images_background_small2.zip", image_size=20),
        "all",
        lambda f, m: calls.append((f, m)),
    )
    assert images.images.shape == (156, 20, 1, 20, 20)
    fractions = [f for f, _ in calls]
    assert fractions and all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_missing_path_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "omniglot"
    with pytest.raises(DatasetError) as err:
        load_omniglot(cfg(missing), "train")
    assert str(missing) in str(err.value)


def test_folder_without_omniglot_says_what_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("not omniglot")
    with pytest.raises(DatasetError) as err:
        load_omniglot(cfg(tmp_path), "train")
    message = str(err.value)
    assert str(tmp_path) in message
    assert "images_background.zip" in message and "images_evaluation.zip" in message
    assert "github.com/brendenlake/omniglot" in message


def test_not_a_zip_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "images_background.zip"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(DatasetError) as err:
        load_omniglot(cfg(bad), "all")
    assert str(bad) in str(err.value)


def test_default_folder_empty_and_offline_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    with pytest.raises(DatasetError) as err:
        load_omniglot(cfg(""), "train", download=False)
    assert str(tmp_path / "omniglot") in str(err.value)
    assert "brendenlake/omniglot" in str(err.value)

    import torchvision.datasets

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "Omniglot", offline)
    with pytest.raises(DatasetError) as err:
        load_omniglot(cfg(""), "train", download=True)
    message = str(err.value)
    assert "could not download" in message and str(tmp_path / "omniglot") in message
    assert "images_background.zip" in message
    with pytest.raises(DatasetError):
        omniglot.download_omniglot(tmp_path / "elsewhere")


def test_empty_path_downloads_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the data.path help promises: empty means the cache folder, fetched when empty."""
    from workbench.data.registry import load_split

    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    fetched, said = [], []

    def fake_download(root):
        fetched.append(Path(root))
        raise DatasetError("offline in this test", str(root))

    monkeypatch.setattr(omniglot, "download_omniglot", fake_download)
    with pytest.raises(DatasetError, match="offline in this test"):
        load_split(cfg(""), "train", lambda fraction, text: said.append(text))
    assert fetched == [tmp_path / "omniglot"]
    assert said == [f"downloading Omniglot into {tmp_path / 'omniglot'}"]
    with pytest.raises(DatasetError, match="does not exist. Point data.path"):
        load_split(cfg(str(tmp_path / "missing")), "train")  # a given path never downloads
    assert len(fetched) == 1


def test_standard_split_with_full_sets(tmp_path: Path) -> None:
    """With images_background + images_evaluation: evaluation is test, val from background."""
    import io

    from PIL import Image

    def png() -> bytes:
        buf = io.BytesIO()
        Image.new("1", (105, 105), 1).save(buf, format="PNG")
        return buf.getvalue()

    data = png()
    for name, alphas in (("images_background", 12), ("images_evaluation", 4)):
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as zf:
            for a in range(alphas):
                for c in range(2):
                    for d in range(3):
                        zf.writestr(f"{name}/{name[7:]}{a:02d}/character{c + 1:02d}/{d}.png", data)
    parts = {s: load_omniglot(cfg(tmp_path), s) for s in ("train", "val", "test", "all")}
    assert alphabets(parts["test"].class_names) == {f"evaluation{a:02d}" for a in range(4)}
    assert len(alphabets(parts["val"].class_names)) == 2  # 12 / 6
    assert len(alphabets(parts["train"].class_names)) == 10
    assert parts["all"].n_classes == 16 * 2
    assert "standard split" in parts["train"].meta["split_note"]
    assert parts["all"].images.max() == 0  # blank white pages invert to all background


def test_all_but_val_trains_on_every_background_alphabet_but_the_validation_share(
    omniglot_dir: Path,
) -> None:
    """Only the background subsets: 7 of the 8 alphabets train (val_share 0.15 of 8 rounds to
    one), and with no test set the test split is the validation alphabets, as the note says."""
    data = cfg(omniglot_dir, split="all-but-val", split_seed=2)
    parts = {s: load_omniglot(data, s) for s in ("train", "val", "test")}
    found = {s: alphabets(p.class_names) for s, p in parts.items()}
    assert len(found["train"]) == 7 and len(found["val"]) == 1
    assert not found["train"] & found["val"]
    assert found["train"] | found["val"] == set(CHARACTERS)
    assert found["test"] == found["val"]
    assert parts["train"].n_classes == 242 - sum(CHARACTERS[a] for a in found["val"])
    note = parts["train"].meta["split_note"]
    assert "all-but-val split: train = 7 of 8 background alphabets" in note
    assert "no test set: test = the validation alphabets" in note
    assert "split_seed 2" in note
    assert note.split("val: ")[1].split(";")[0] == next(iter(found["val"]))


@pytest.mark.parametrize(("share", "held"), [(0.15, 1), (0.25, 2), (0.5, 4), (0.01, 1)])
def test_val_share_sets_how_many_alphabets_are_held_out(
    omniglot_dir: Path, share: float, held: int
) -> None:
    data = cfg(omniglot_dir, split="all-but-val", val_share=share)
    val = alphabets(load_omniglot(data, "val").class_names)
    train = alphabets(load_omniglot(data, "train").class_names)
    assert len(val) == held and len(train) == 8 - held
    assert f"val_share {share:g}" in load_omniglot(data, "train").meta["split_note"]


def test_all_but_val_with_full_sets_keeps_the_evaluation_alphabets_as_test(
    tmp_path: Path,
) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (105, 105), 1).save(buf, format="PNG")
    for name, alphas in (("images_background", 10), ("images_evaluation", 3)):
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as zf:
            for a in range(alphas):
                for d in range(2):
                    zf.writestr(f"{name}/{name[7:]}{a:02d}/character01/{d}.png", buf.getvalue())
    data = cfg(tmp_path, split="all-but-val", val_share=0.1)
    parts = {s: load_omniglot(data, s) for s in ("train", "val", "test")}
    assert alphabets(parts["test"].class_names) == {f"evaluation{a:02d}" for a in range(3)}
    assert len(alphabets(parts["val"].class_names)) == 1
    assert len(alphabets(parts["train"].class_names)) == 9
    assert "test = the 3 images_evaluation alphabets" in parts["train"].meta["split_note"]


def test_a_runs_summary_keeps_its_split_note(omniglot_dir: Path, tmp_path: Path) -> None:
    import json

    from workbench.config import ExperimentConfig
    from workbench.engine.trainer import Trainer

    config = ExperimentConfig()
    config.data = cfg(omniglot_dir, split="all-but-val", queries=1)
    config.model.hidden, config.model.pooling = 8, "stride"
    config.train.iterations, config.train.meta_batch_size, config.train.eval_every = 1, 2, 0
    trainer = Trainer.create(config, tmp_path / "runs")
    assert trainer.run() == "finished"
    summary = json.loads((trainer.store.path / "summary.json").read_text())
    assert summary["split_note"].startswith("all-but-val split: train = 7 of 8")


def test_images_are_learn2learns_preprocessing(omniglot_dir: Path) -> None:
    """The peer's recipe (../shared/peer/l2l_omniglot.py ``to28``): grey in [0, 1], inverted so
    strokes are 1.0, 105 -> 28 by area interpolation. Ours stores it as uint8: equal within
    half a grey level."""
    import io

    import numpy as np
    import torch.nn.functional as F
    from PIL import Image

    images = load_omniglot(cfg(omniglot_dir), "all")
    for cls, index in ((0, 0), (57, 13), (241, 19)):
        source = images.sources[cls][index]
        archive, member = source.split(".zip/", 1)
        with zipfile.ZipFile(archive + ".zip") as zf:
            grey = Image.open(io.BytesIO(zf.read(member))).convert("L")
        x = 1.0 - torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0)
        peer = F.interpolate(x[None, None], size=(28, 28), mode="area")[0, 0]
        ours = images.images[cls, index, 0].float() / 255.0
        assert float((ours - peer).abs().max()) <= 0.5 / 255 + 1e-6
        assert float(peer.max()) > 0.5  # a real stroke, not an empty page
