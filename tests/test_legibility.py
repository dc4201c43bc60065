"""Every view legible at 1280x800 and 1920x1080, in both themes and in presentation mode: no two
tick labels of any visible plot overlap, and no header wraps.

One short demo run is trained in the window once; each case then resizes and re-themes the same
window and looks at every view. The labels' positions come from each axis's own draw specs; their
extents are measured again here with the axis's tick font, so a label the axis kept must really
have the room it claims.
"""

from __future__ import annotations

import time

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEventLoop, QRectF, QSettings, QThreadPool
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QApplication

from workbench.gui.main_window import MainWindow
from workbench.gui.widgets.axes import LegibleAxis, log_tick_levels
from workbench.gui.widgets.elided_label import ElidedLabel

CASES = [
    ((1280, 800), "light", False),
    ((1280, 800), "dark", False),
    ((1920, 1080), "light", False),
    ((1920, 1080), "dark", True),
]


def _settle(seconds: float) -> None:
    app = QApplication.instance()
    end = time.monotonic() + seconds
    deadline = end + 60
    pool = QThreadPool.globalInstance()
    while time.monotonic() < end or (pool.activeThreadCount() and time.monotonic() < deadline):
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.01)


@pytest.fixture(scope="module")
def trained_window(qapp, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("legibility")
    settings = QSettings(str(tmp / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings)
    window.context.set_runs_dir(tmp / "runs")
    window.form.select_preset("demo")
    for key, value in (
        ("train.iterations", 20),
        ("train.eval_every", 10),
        ("train.checkpoint_every", 20),
    ):
        window.form.set_value(key, value)
    window.resize(1280, 800)
    window.show()
    loop = QEventLoop()
    statuses = []
    window.session.finished.connect(lambda _d, status: (statuses.append(status), loop.quit()))
    window.training_control.start_training()
    loop.exec()
    assert statuses == ["finished"]
    yield window
    window.close()
    _settle(0.2)


def _label_extents(axis: LegibleAxis) -> list[tuple[float, float]]:
    """Where each drawn label lies along the axis: centred where the axis put it, as long as the
    tick font says the text is."""
    metrics = QFontMetricsF(axis.style["tickFont"] or axis.font())
    vertical = axis.orientation in ("left", "right")
    extents = []
    for rect, text in zip(axis.text_rects, axis.text_strings, strict=True):
        size = metrics.boundingRect(text)
        centre = rect.center().y() if vertical else rect.center().x()
        half = (size.height() * 0.8 if vertical else size.width()) / 2
        extents.append((centre - half, centre + half))
    return sorted(extents)


def _visible_axes(view) -> list[tuple[str, pg.AxisItem]]:
    axes = []
    for widget in view.findChildren(pg.PlotWidget):
        if not widget.isVisible() or widget.width() < 10:
            continue
        title = widget.getPlotItem().titleLabel.text or type(widget.parent()).__name__
        for name in ("left", "bottom"):
            axis = widget.getPlotItem().getAxis(name)
            if axis.isVisible():
                axes.append((f"{title} ({name})", axis))
    return axes


@pytest.mark.parametrize(("size", "theme", "presentation"), CASES)
def test_no_tick_labels_overlap_and_no_header_wraps(trained_window, size, theme, presentation):
    window = trained_window
    window.set_theme(theme, presentation)
    window.resize(*size)
    checked = 0
    for name, view in window.views.items():
        window.show_view(name)
        view.prepare_screenshot()
        _settle(0.3)
        window.grab()  # paints every plot at this size, which lays out its tick labels
        for where, axis in _visible_axes(view):
            assert isinstance(axis, LegibleAxis), f"{name}: {where} is a plain pyqtgraph axis"
            extents = _label_extents(axis)
            assert axis.text_strings, f"{name}: {where} shows no tick labels"
            for (_a0, a1), (b0, _b1) in zip(extents, extents[1:]):
                assert a1 <= b0, f"{name} at {size}: labels overlap on {where}: {axis.text_strings}"
            checked += 1
        for header in view.findChildren(ElidedLabel):
            if header.isVisible():
                one_line = header.fontMetrics().lineSpacing() * 1.6
                assert header.height() <= one_line, f"{name}: header {header.text()!r} wraps"
    assert checked >= 6  # training (4 plots) and adaptation and runs plots, both axes


def test_log_axis_labels_decades_then_two_and_five():
    levels = log_tick_levels(-2.3, 0.4)  # 0.005 .. 2.5
    decades, preferred, others = (values for _spacing, values in levels)
    assert [round(10**v, 6) for v in decades] == [0.01, 0.1, 1]
    assert [round(10**v, 6) for v in preferred] == [0.02, 0.05, 0.2, 0.5, 2]
    assert 0.3 in [round(10**v, 6) for v in others]
    # less than a decade: every multiple is a candidate, so the axis still gets labels
    narrow = log_tick_levels(-0.9, -0.4)  # 0.126 .. 0.398
    assert narrow[0][1] == [] and [round(10**v, 6) for v in narrow[1][1]] == [0.2, 0.3]


def test_crowded_log_axis_keeps_only_labels_that_fit(qtbot):
    widget = pg.PlotWidget(axisItems={"left": LegibleAxis("left")})
    qtbot.addWidget(widget)
    item = widget.getPlotItem()
    item.setLogMode(y=True)
    item.plot([0, 1, 2, 3], [3.0, 0.5, 0.02, 0.004])
    widget.resize(300, 90)  # a short plot: pyqtgraph alone prints all of 1..9 per decade
    widget.show()
    qtbot.waitExposed(widget)
    widget.grab()
    axis = item.getAxis("left")
    extents = sorted((r.top(), r.bottom()) for r in axis.text_rects)
    assert axis.text_strings and all(a[1] <= b[0] for a, b in zip(extents, extents[1:]))
    assert set(axis.text_strings) <= {
        "10⁻³",
        "0.001",
        "0.01",
        "0.1",
        "1",
        "2",
        "5",
        "0.2",
        "0.5",
        "0.02",
        "0.05",
        "0.002",
        "0.005",
        "10",
    }
    assert not any(QRectF(r).isEmpty() for r in axis.text_rects)
