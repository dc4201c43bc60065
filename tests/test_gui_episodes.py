"""The episode browser: what it shows is exactly the sampler's episode, navigation, errors shown
in the view, loading off the GUI thread, the class-balance table, and its actions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QImage

from workbench.config import DataConfig, ExperimentConfig
from workbench.data import registry, split_cache
from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeSampler
from workbench.data.sinusoid import SinusoidSampler
from workbench.data.split_cache import SplitCache
from workbench.engine.episode_seeds import VAL_SEED_OFFSET
from workbench.gui.context import GuiContext
from workbench.gui.episodes.view import EpisodesView
from workbench.gui.theme import DARK
from workbench.gui.widgets.image_grid import QUERY, SUPPORT, ImageGrid, describe_class, thumb_sizes

SPLIT_CLASSES = {"train": 12, "val": 7, "test": 9, "all": 28}
SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3, "all": 4}


def fake_images(split: str, channels: int = 1, side: int = 10) -> ClassImages:
    """A small split with distinct random pixels per image and uneven class sizes."""
    n = SPLIT_CLASSES[split]
    g = torch.Generator().manual_seed(SPLIT_SEEDS[split] * 10 + channels)
    images = torch.randint(0, 256, (n, 8, channels, side, side), generator=g, dtype=torch.uint8)
    counts = torch.tensor([8 if c % 3 else 6 for c in range(n)])
    names = [f"Alpha{c // 4}/char{c:02d}" + (" rot90" if c % 5 == 0 else "") for c in range(n)]
    sources = [[f"{split}/class{c}/img{i}.png" for i in range(8)] for c in range(n)]
    return ClassImages(images, names, counts, sources, name=f"fake {split}")


class FakeLoader:
    """Stands in for `registry.load_split`: records calls, optionally sleeps (a slow disk)."""

    def __init__(
        self, delay: float = 0.0, channels: int = 1, slow: tuple[str, ...] = ("train",)
    ) -> None:
        self.delay, self.channels, self.slow = delay, channels, slow
        self.calls: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, data: DataConfig, split: str, progress=None) -> ClassImages:
        with self.lock:
            self.calls.append((data.dataset, split))
            self.threads.add(threading.get_ident())
        steps = 10
        for i in range(steps):
            if progress is not None:
                progress(i / steps, f"reading {split} {i}/{steps}")
            if split in self.slow:
                time.sleep(self.delay / steps)
        return fake_images(split, self.channels)


def as_uint8(image: torch.Tensor) -> np.ndarray:
    """The expected displayed pixels of a [C, H, W] float tensor, computed independently."""
    return (image * 255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def shown_pixels(image: QImage) -> np.ndarray:
    """The pixels of a shown QImage, read back through Qt's own conversion."""
    grey = image.format() == QImage.Format.Format_Grayscale8
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    out = np.empty((image.height(), image.width(), 1 if grey else 3), dtype=np.uint8)
    for y in range(image.height()):
        for x in range(image.width()):
            c = rgb.pixelColor(x, y)
            out[y, x] = [c.red()] if grey else [c.red(), c.green(), c.blue()]
    return out


@pytest.fixture(autouse=True)
def fresh_splits(monkeypatch) -> SplitCache:
    """A new shared cache of loaded splits per test: fake splits never reach other tests, and
    load counts start at zero."""
    cache = SplitCache()
    monkeypatch.setattr(split_cache, "_shared", cache)
    return cache


@pytest.fixture
def context(tmp_path: Path) -> GuiContext:
    return GuiContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_view(qtbot, context):
    views: list[EpisodesView] = []

    def make(
        data: DataConfig,
        split: str = "train",
        seed: int = 0,
        index: int = 0,
        ctx: GuiContext | None = None,
    ) -> EpisodesView:
        view = EpisodesView(ctx or context)
        qtbot.addWidget(view)
        views.append(view)
        view.resize(1280, 800)
        view.set_data(data, split, seed, index)
        view.show()
        qtbot.waitExposed(view)
        return view

    yield make
    for v in views:
        v.shutdown()


def wait_shown(qtbot, view: EpisodesView, index: int | None = None, timeout: int = 15000) -> None:
    def ready() -> bool:
        ep = view.episode()
        return not view.is_busy() and ep is not None and (index is None or ep.index == index)

    qtbot.waitUntil(ready, timeout=timeout)


def assert_shows(view: EpisodesView, expected) -> None:
    """The grid's images are exactly the sampler's episode tensors, laid out N x K and N x Q."""
    shown = view.episode()
    assert shown.index == expected.index
    n, k, q = expected.ways, expected.shots, expected.queries
    support, query = view.grid.section(SUPPORT), view.grid.section(QUERY)
    assert [len(r.indices) for r in support.rows] == [k] * n
    assert [len(r.indices) for r in query.rows] == [q] * n
    assert len(support.images) == n * k and len(query.images) == n * q
    for images, tensors in ((support.images, expected.support_x), (query.images, expected.query_x)):
        for img, tensor in zip(images, tensors):
            np.testing.assert_array_equal(shown_pixels(img), as_uint8(tensor))
    for row, name in zip(support.rows, expected.class_names):
        assert describe_class(name)[0] in row.label


@pytest.mark.parametrize("channels", [1, 3])
def test_shown_images_are_the_sampler_episode(make_view, qtbot, monkeypatch, channels):
    loader = FakeLoader(channels=channels)
    monkeypatch.setattr(registry, "load_split", loader)
    data = DataConfig(dataset="glyphs", ways=4, shots=2, queries=3)
    view = make_view(data, "train", seed=11, index=3)
    wait_shown(qtbot, view, 3)
    sampler = EpisodeSampler(fake_images("train", channels), 4, 2, 3, seed=11)
    assert_shows(view, sampler[3])
    assert view.grid.thumb_size in thumb_sizes(10)  # whole multiples of the 10-px side: crisp


def test_navigation_by_buttons_spin_box_and_keys(make_view, qtbot, monkeypatch):
    loader = FakeLoader()
    monkeypatch.setattr(registry, "load_split", loader)
    view = make_view(DataConfig(dataset="glyphs", ways=3, shots=1, queries=2), seed=5)
    wait_shown(qtbot, view, 0)
    sampler = EpisodeSampler(fake_images("train"), 3, 1, 2, seed=5)
    assert not view.nav.prev_button.isEnabled()

    qtbot.mouseClick(view.nav.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.nav.next_button, Qt.MouseButton.LeftButton)
    assert view.episode().index == 2
    assert_shows(view, sampler[2])
    qtbot.mouseClick(view.nav.prev_button, Qt.MouseButton.LeftButton)
    assert view.episode().index == 1

    view.nav.index_spin.setValue(40)
    assert_shows(view, sampler[40])

    view.activateWindow()
    view.grid_area.setFocus()
    for key, expected in (
        (Qt.Key.Key_Right, 41),
        (Qt.Key.Key_PageDown, 42),
        (Qt.Key.Key_Left, 41),
        (Qt.Key.Key_PageUp, 40),
    ):
        qtbot.keyClick(view.grid_area, key)
        assert view.episode().index == expected, key
    assert_shows(view, sampler[40])
    # back and forth gives the same episode again; only one split load for all of it
    view.set_index(7)
    first = [shown_pixels(i) for i in view.grid.images(QUERY)]
    view.next_episode()
    view.previous_episode()
    again = [shown_pixels(i) for i in view.grid.images(QUERY)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert loader.calls.count(("glyphs", "train")) == 1


def test_settings_change_resamples_from_the_cache(make_view, qtbot, monkeypatch):
    loader = FakeLoader()
    monkeypatch.setattr(registry, "load_split", loader)
    view = make_view(DataConfig(dataset="glyphs", ways=3, shots=1, queries=2))
    wait_shown(qtbot, view)
    view.form.ways.setValue(5)
    view.form.shots.setValue(2)
    qtbot.waitUntil(lambda: view.episode() is not None and view.episode().ways == 5, timeout=5000)
    assert_shows(view, EpisodeSampler(fake_images("train"), 5, 2, 2, seed=0)[0])
    assert loader.calls.count(("glyphs", "train")) == 1
    # an impossible shape is explained in the view, without reloading
    view.form.ways.setValue(20)
    qtbot.waitUntil(lambda: "20" in view.message.text(), timeout=5000)
    assert "12 classes" in view.message.text()
    assert view.episode() is None and not view.nav.adapt_button.isEnabled()
    assert loader.calls.count(("glyphs", "train")) == 1


def _broken_folder(root: Path, kind: str) -> Path:
    from PIL import Image

    for c in "abcd":
        (root / c).mkdir(parents=True)
        if kind == "empty" and c == "c":
            continue
        for i in range(3):
            Image.new("L", (12, 12), 40 * i).save(root / c / f"{i}.png")
    if kind == "corrupt":
        (root / "b" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


@pytest.mark.parametrize("kind,needle", [("corrupt", "bad.png"), ("empty", "holds no images")])
def test_broken_folder_shows_its_error_in_the_view(make_view, qtbot, tmp_path, kind, needle):
    root = _broken_folder(tmp_path / "data", kind)
    view = make_view(DataConfig(dataset="folder", path=str(root), ways=2, shots=1, queries=1))
    qtbot.waitUntil(lambda: bool(view.message.text()) and not view.is_busy(), timeout=15000)
    assert needle in view.message.text()
    assert view.message.isVisible() and view.message.kind == "error"
    assert view.stack.currentWidget() is view.placeholder
    assert view.episode() is None
    assert not view.message.toggle.isVisible()  # a DatasetError is the whole story: no traceback


def test_loading_runs_in_the_background(make_view, qtbot, monkeypatch):
    loader = FakeLoader(delay=1.2)
    monkeypatch.setattr(registry, "load_split", loader)
    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    view = make_view(DataConfig(dataset="glyphs", ways=3, shots=1, queries=2))
    qtbot.waitUntil(lambda: view.load_progress.isVisible(), timeout=3000)
    qtbot.waitUntil(lambda: view.load_progress.bar.value() > 0, timeout=3000)  # progress arrives
    assert view.episode() is None
    with qtbot.waitSignal(view.loader.loaded, timeout=10000):
        pass
    timer.stop()
    wait_shown(qtbot, view)
    assert len(ticks) >= 20  # the event loop kept running while the loader slept
    assert threading.get_ident() not in loader.threads
    assert not view.load_progress.isVisible()
    assert_shows(view, EpisodeSampler(fake_images("train"), 3, 1, 2, seed=0)[0])


def test_two_views_and_the_adaptation_engine_load_a_split_once(
    make_view, qtbot, monkeypatch, fresh_splits
):
    from workbench.engine import adaptation

    loader = FakeLoader(delay=0.6)
    monkeypatch.setattr(registry, "load_split", loader)
    data = DataConfig(dataset="glyphs", ways=3, shots=1, queries=2)
    first = make_view(data, "train", seed=4, index=1)
    second = make_view(data, "train", seed=4, index=1)  # asks while the first is loading
    wait_shown(qtbot, first, 1)
    wait_shown(qtbot, second, 1)
    episode = adaptation.sample_episode(data, "train", 4, 1)
    assert loader.calls.count(("glyphs", "train")) == 1
    assert first.sampler().images is second.sampler().images
    assert first.sampler().images is fresh_splits.cached(data, "train")
    assert torch.equal(episode.query_x, first.episode().query_x)
    assert fresh_splits.keys() == [split_cache.SplitKey.of(data, "train")]  # counting keeps none


def test_split_summary_counts_every_split(make_view, qtbot, monkeypatch):
    monkeypatch.setattr(registry, "load_split", FakeLoader())
    view = make_view(DataConfig(dataset="glyphs", ways=3, shots=1, queries=2))
    wait_shown(qtbot, view)
    qtbot.waitUntil(lambda: len(view.splits.summaries()) == 3, timeout=10000)
    for split, n in (("train", 12), ("val", 7), ("test", 9)):
        per_class = [8 if c % 3 else 6 for c in range(n)]
        assert view.splits.cell_text(split, "Classes") == str(n)
        assert view.splits.cell_text(split, "Images") == f"{sum(per_class):,}"
        assert view.splits.cell_text(split, "Per class") == "6–8"


def test_sinusoid_plot_shows_the_task(make_view, qtbot):
    view = make_view(DataConfig(dataset="sinusoid", shots=5, queries=7), "val", seed=3, index=4)
    wait_shown(qtbot, view, 4)
    expected = SinusoidSampler(5, 7, 3, "val")[4]
    assert view.stack.currentWidget() is view.plot
    xs, ys = view.plot.support.getData()
    np.testing.assert_allclose(xs, expected.support_x[:, 0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(ys, expected.support_y[:, 0].numpy(), rtol=1e-6)
    assert len(view.plot.query.getData()[0]) == 7
    cx, cy = view.plot.curve.getData()
    a, ph = expected.task["amplitude"], expected.task["phase"]
    np.testing.assert_allclose(cy, a * np.sin(cx - ph), atol=1e-5)
    assert not view.form.ways.isEnabled()


def test_click_shows_image_large_with_its_source(make_view, qtbot, monkeypatch):
    monkeypatch.setattr(registry, "load_split", FakeLoader())
    view = make_view(DataConfig(dataset="glyphs", ways=3, shots=2, queries=2), index=1)
    wait_shown(qtbot, view, 1)
    rect = view.grid.cell_rect(QUERY, 3)
    qtbot.mouseClick(view.grid, Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.detail.isVisible()
    assert view.detail.source.text() == view.episode().query_sources[3]
    assert view.episode().class_names[1] in view.detail.details.text()
    np.testing.assert_array_equal(
        shown_pixels(view.detail.image()), as_uint8(view.episode().query_x[3])
    )
    view.next_episode()  # the panel follows the same position in the next episode
    assert view.detail.source.text() == view.episode().query_sources[3]


def test_open_in_adaptation_and_export(make_view, qtbot, monkeypatch, context, tmp_path):
    monkeypatch.setattr(registry, "load_split", FakeLoader())
    config = ExperimentConfig()
    config.algorithm.name = "protonet"
    context.set_config_provider(lambda: config)
    view = make_view(
        DataConfig(dataset="glyphs", ways=3, shots=2, queries=2, rotations=True),
        "test",
        seed=9,
        index=6,
    )
    wait_shown(qtbot, view, 6)
    payloads, shown = [], []
    context.openEpisodeInAdaptation.connect(payloads.append)
    context.showView.connect(shown.append)
    qtbot.mouseClick(view.nav.adapt_button, Qt.MouseButton.LeftButton)
    assert shown == ["adaptation"]
    (p,) = payloads
    assert (p["split"], p["seed"], p["index"]) == ("test", 9, 6)
    assert p["config"].algorithm.name == "protonet"
    assert (p["config"].data.ways, p["config"].data.shots, p["config"].data.rotations) == (
        3,
        2,
        True,
    )
    assert torch.equal(
        p["episode"].support_x, EpisodeSampler(fake_images("test"), 3, 2, 2, 9)[6].support_x
    )

    out = view.export_png(tmp_path / "ep.png")
    picture = QImage(str(out))
    assert not picture.isNull() and picture.size() == view.grid.render_image().size()
    assert picture.height() > view.grid.thumb_size * 4
    from workbench.gui.widgets.sized_export import SizedExport

    sized = QImage(str(view.export_png(tmp_path / "big.png", SizedExport(1800, 900, 2.0))))
    assert sized.width() == 1800  # the grid laid out 900 px wide, drawn twice as finely

    view.set_data(DataConfig(dataset="sinusoid", shots=5, queries=5), "train", 0, 2)
    wait_shown(qtbot, view, 2)
    assert not QImage(str(view.export_png(tmp_path / "sin.png"))).isNull()
    slide = QImage(str(view.export_png(tmp_path / "sin-big.png", SizedExport(1600, 900, 2.0))))
    assert (slide.width(), slide.height()) == (1600, 900)


def test_copy_from_experiment_takes_data_settings_and_split_seed(make_view, qtbot, context):
    config = ExperimentConfig()
    config.data = DataConfig(dataset="sinusoid", shots=7, queries=9)
    config.train.seed = 21
    context.set_config_provider(lambda: config)
    view = make_view(DataConfig(dataset="sinusoid", shots=2, queries=2), "val", seed=0)
    wait_shown(qtbot, view)
    qtbot.mouseClick(view.form.copy_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.is_busy() and view.episode().shots == 7, timeout=5000)
    assert view.form.current_seed() == 21 + VAL_SEED_OFFSET  # the trainer's validation episodes
    assert view.episode().queries == 9 and view.form.current_split() == "val"


def test_settings_survive_a_new_view(make_view, qtbot, context):
    view = make_view(DataConfig(dataset="sinusoid", shots=4, queries=6), "test", seed=13, index=8)
    wait_shown(qtbot, view, 8)
    again = EpisodesView(context)
    qtbot.addWidget(again)
    assert again.form.data_config() == view.form.data_config()
    assert (again.form.current_split(), again.form.current_seed(), again.index()) == ("test", 13, 8)


def test_real_omniglot(make_view, qtbot, omniglot_dir):
    data = DataConfig(
        dataset="omniglot", path=str(omniglot_dir), ways=5, shots=1, queries=2, rotations=True
    )
    view = make_view(data, "train", seed=0, index=2)
    wait_shown(qtbot, view, 2, timeout=60000)
    expected = registry.make_sampler(data, "train", 0)[2]
    assert_shows(view, expected)
    assert all(s.endswith(".png") or ".png rot" in s for s in view.episode().support_sources)


def test_grid_decorations_and_thumbnail_fit(qtbot):
    grid = ImageGrid()
    qtbot.addWidget(grid)
    sampler = EpisodeSampler(fake_images("train", side=28), 5, 1, 2, seed=0)
    grid.set_episode(sampler[0], "title")
    assert grid.fit(1000, 2000) == 140  # few images and lots of room: large, still 5 x 28
    many = EpisodeSampler(fake_images("all", side=28), 20, 5, 1, seed=0)
    grid.set_episode(many[0])
    assert grid.fit(900, 700) == 56  # cannot fit: readable size and a scroll bar
    assert grid.content_height(900) > 700
    grid.set_border(QUERY, 4, DARK.good)
    grid.set_caption(QUERY, 4, "3 (0.92)", DARK.bad)
    assert grid.border(QUERY, 4) == DARK.good and grid.caption(QUERY, 4) == "3 (0.92)"
    clicked = []
    grid.imageClicked.connect(lambda s, i: clicked.append((s, i)))
    grid.resize(900, grid.sizeHint().height())
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=grid.cell_rect(SUPPORT, 7).center())
    assert clicked == [(SUPPORT, 7)]
    assert describe_class("Latin/character03 rot90") == ("Latin", "character03, rotated 90°")
    assert thumb_sizes(28)[-1] == 56 and all(t % 28 == 0 for t in thumb_sizes(28))
