"""The embedded glyphs dataset: deterministic, big enough, split by alphabet, cached, and hard
enough for raw pixels that meta-learning has something to show."""

from __future__ import annotations

import re

import pytest
import torch

from workbench.config import DataConfig
from workbench.data import glyphs
from workbench.data.baselines import pixel_nearest_neighbour_accuracy
from workbench.data.cache import cache_dir
from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeSampler
from workbench.data.glyphs import N_DRAWERS, generate_glyphs, load_glyphs, split_alphabets
from workbench.errors import ConfigError


@pytest.fixture(scope="module")
def everything() -> ClassImages:
    """All classes at 28x28, through the loader so later tests find them in the cache."""
    return load_glyphs(DataConfig(), "all")


def alphabet_of(name: str) -> str:
    return name.split("/")[0]


def test_same_seed_gives_identical_bytes_and_another_seed_differs(everything: ClassImages) -> None:
    again = generate_glyphs(glyphs.GLYPHS_SEED, 28)
    assert torch.equal(everything.images, again.images)
    assert everything.class_names == again.class_names
    assert everything.sources == again.sources
    other = generate_glyphs(1, 28)
    same_shape = min(other.n_classes, everything.n_classes)
    assert not torch.equal(other.images[:same_shape], everything.images[:same_shape])


def test_size_shape_and_dtype(everything: ClassImages) -> None:
    images = everything.images
    assert images.dtype == torch.uint8
    assert images.shape[1:] == (N_DRAWERS, 1, 28, 28) == (20, 1, 28, 28)
    assert everything.n_classes >= 1000
    assert len({alphabet_of(n) for n in everything.class_names}) >= 30
    assert torch.equal(everything.counts, torch.full((everything.n_classes,), 20))
    # White strokes on black: every drawing has (nearly) full-intensity ink, the background is 0
    # and strokes cover a plausible share of the image (not blank, not a blob).
    flat = images.flatten(2).float()
    assert int(images.max()) == 255
    assert int(images.flatten(2).amax(dim=2).min()) > 200  # thin strokes may miss a full pixel
    assert float((images == 0).float().mean()) > 0.6
    assert float((images[..., 0, :] > 0).float().mean()) < 0.01  # drawings stay inside the frame
    ink = (flat > 127).float().mean(dim=2)  # share of each drawing that is stroke
    assert 0.01 < float(ink.min()) and float(ink.max()) < 0.45
    assert 0.08 < float(ink.mean()) < 0.25


def test_names_and_sources(everything: ClassImages) -> None:
    assert everything.class_names[0] == "Alphabet01/character01"
    assert all(re.fullmatch(r"Alphabet\d\d/character\d\d", n) for n in everything.class_names)
    assert len(set(everything.class_names)) == everything.n_classes
    name = everything.class_names[37]
    a, c = (int(x) for x in re.findall(r"\d+", name))
    assert everything.source(37, 4) == f"glyphs seed=0 alphabet={a} character={c} drawer=5"
    assert len(everything.sources) == everything.n_classes
    assert all(len(row) == 20 for row in everything.sources)


def test_drawers_differ_but_stay_close(everything: ClassImages) -> None:
    """Drawers jitter a lot, yet a drawing is nearer its own character than a random other."""
    x = everything.images[:200].flatten(2).float()
    assert all(not torch.equal(x[c, 0], x[c, 1]) for c in range(200))
    within = (x[:, 0] - x[:, 1]).norm(dim=1).mean()
    between = (x[:, 0] - x.roll(1, dims=0)[:, 1]).norm(dim=1).mean()
    assert within < 0.9 * between


def test_splits_are_disjoint_by_alphabet_and_cover_everything() -> None:
    data = DataConfig()
    parts = {s: load_glyphs(data, s) for s in ("train", "val", "test", "all")}
    alphabets = {s: {alphabet_of(n) for n in p.class_names} for s, p in parts.items()}
    assert not alphabets["train"] & alphabets["val"]
    assert not alphabets["train"] & alphabets["test"]
    assert not alphabets["val"] & alphabets["test"]
    assert alphabets["train"] | alphabets["val"] | alphabets["test"] == alphabets["all"]
    assert len(alphabets["all"]) >= 30
    assert [len(alphabets[s]) for s in ("train", "val", "test")] == [26, 6, 8]
    names = [n for s in ("train", "val", "test") for n in parts[s].class_names]
    assert sorted(names) == sorted(parts["all"].class_names)
    assert parts["test"].name == "glyphs (test split)"
    assert sorted(parts["test"].meta["alphabets"]) == sorted(alphabets["test"])
    # The split seed moves alphabets between splits, never the characters themselves.
    assert split_alphabets(1)["test"] != split_alphabets(0)["test"]
    assert split_alphabets(0) == split_alphabets(0)
    other = load_glyphs(DataConfig(split_seed=1), "all")
    assert torch.equal(other.images, parts["all"].images)


def test_rotations_quadruple_the_classes() -> None:
    plain = load_glyphs(DataConfig(), "val")
    rotated = load_glyphs(DataConfig(rotations=True), "val")
    n = plain.n_classes
    assert rotated.n_classes == 4 * n
    assert rotated.class_names[:n] == plain.class_names
    assert rotated.class_names[n] == f"{plain.class_names[0]} rot90"
    assert rotated.class_names[3 * n] == f"{plain.class_names[0]} rot270"
    assert torch.equal(rotated.images[n + 5], torch.rot90(plain.images[5], 1, dims=(-2, -1)))
    assert torch.equal(rotated.images[2 * n + 5], torch.rot90(plain.images[5], 2, dims=(-2, -1)))


def test_image_size_is_respected() -> None:
    test = load_glyphs(DataConfig(image_size=32), "test")
    assert test.images.shape[1:] == (20, 1, 32, 32)
    assert test.images.dtype == torch.uint8


def test_second_load_comes_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_glyphs(DataConfig(), "train")
    assert list(cache_dir().glob("glyphs-*.pt"))

    def must_not_run(*args: object, **kwargs: object) -> ClassImages:
        raise AssertionError("glyphs were generated again instead of read from the cache")

    monkeypatch.setattr(glyphs, "generate_glyphs", must_not_run)
    second = load_glyphs(DataConfig(), "train")
    assert torch.equal(first.images, second.images)
    assert first.class_names == second.class_names
    assert first.sources == second.sources


def test_progress_is_reported() -> None:
    calls: list[tuple[float, str]] = []
    load_glyphs(DataConfig(), "test", lambda f, m: calls.append((f, m)))
    assert calls and calls[-1][0] == 1.0
    assert all(0.0 <= f <= 1.0 for f, _ in calls)


def test_unknown_split_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_glyphs(DataConfig(), "training")
    assert info.value.field == "split"
    assert "training" in str(info.value)


def test_raw_pixel_nearest_neighbour_is_far_from_solving_the_test_split() -> None:
    """5-way 1-shot on the test split: 1-NN on pixels must stay well below what a meta-learned
    conv net reaches (>= 85%), while the characters stay recognisable (well above chance 20%)."""
    sampler = EpisodeSampler(load_glyphs(DataConfig(), "test"), ways=5, shots=1, queries=15, seed=0)
    accuracy = pixel_nearest_neighbour_accuracy(sampler, 200)
    assert 0.25 < accuracy < 0.75


def test_pixel_nearest_neighbour_is_perfect_when_queries_copy_the_support() -> None:
    """The baseline itself: identical drawings are always matched to their own class."""
    images = load_glyphs(DataConfig(), "val")
    copies = ClassImages(
        images=images.images[:, :1].expand(-1, 2, -1, -1, -1).contiguous(),
        class_names=images.class_names,
    )
    sampler = EpisodeSampler(copies, ways=5, shots=1, queries=1, seed=0)
    assert pixel_nearest_neighbour_accuracy(sampler, 20) == 1.0
