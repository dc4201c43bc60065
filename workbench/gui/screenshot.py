"""``workbench screenshot``: pictures of every view after a short demo run, for the README.

Runs offscreen: a temporary settings file and runs folder, the demo preset shortened to a few
dozen iterations, then each tab is shown (a view that offers ``prepare_screenshot()`` is asked
to put itself in a representative state) and grabbed at the requested size.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from workbench.errors import ConfigError, TrainingError


def parse_size(text: str) -> tuple[int, int]:
    """``1280x800`` -> (1280, 800)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise ConfigError(
            "--size", f"expected WIDTHxHEIGHT such as 1280x800, got {text!r}"
        ) from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise ConfigError("--size", f"{width}x{height} is outside 320x240 .. 7680x4320")
    return width, height


def _settle(app, seconds: float) -> None:
    """Process events for a while (redraw timers, queued results) and until background jobs of
    the views (dataset loading, adaptation) are done, at most 60 s more."""
    from PySide6.QtCore import QThreadPool

    end = time.monotonic() + seconds
    deadline = end + 60.0
    pool = QThreadPool.globalInstance()
    while time.monotonic() < end or (pool.activeThreadCount() and time.monotonic() < deadline):
        app.processEvents()
        time.sleep(0.02)
    app.processEvents()


def take_screenshots(
    out_dir: str | Path,
    theme: str = "light",
    size: tuple[int, int] = (1280, 800),
    presentation: bool = False,
    iterations: int = 60,
    eval_every: int = 20,
    preset: str = "demo",
) -> list[Path]:
    """Train ``preset`` briefly in the window and save ``<view>-<theme>.png`` for every view."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from workbench.gui.app import configure_torch_threads, make_application
    from workbench.gui.main_window import MainWindow

    app = make_application()
    configure_torch_threads()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"{theme}{'-presentation' if presentation else ''}"
    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="workbench-screenshot-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings)
        window.context.set_runs_dir(Path(tmp) / "runs")
        window.set_theme(theme, presentation)
        window.form.select_preset(preset)
        for key, value in (
            ("train.iterations", iterations),
            ("train.eval_every", eval_every),
            ("train.checkpoint_every", max(1, iterations)),
        ):
            window.form.set_value(key, value)
        window.resize(*size)
        window.show()
        _settle(app, 0.5)

        loop = QEventLoop()
        result: dict[str, str] = {}

        def done(run_dir: str, status: str) -> None:
            result.update(run_dir=run_dir, status=status)
            loop.quit()

        window.session.finished.connect(done)
        window.training_control.start_training()
        QTimer.singleShot(30 * 60 * 1000, loop.quit)  # a hard limit, far above a normal run
        loop.exec()
        if result.get("status") != "finished":
            window.session.shutdown()
            raise TrainingError(
                f"the demo run did not finish ({result.get('status', 'timeout')}); "
                f"{(window.session.last_error or ('', ''))[0]}"
            )
        _settle(app, 0.5)
        for name, view in window.views.items():
            window.show_view(name)
            view.prepare_screenshot()
            _settle(app, 1.5)
            path = out / f"{name}-{suffix}.png"
            if not window.grab().save(str(path)):
                raise OSError(f"could not write {path}")
            saved.append(path)
        window.close()
        _settle(app, 0.2)
    return saved
