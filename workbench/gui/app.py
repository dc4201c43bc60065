"""Start the window: ``workbench`` with no arguments, or ``workbench gui CONFIG``."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication

from workbench.errors import WorkbenchError
from workbench.gui import APP_NAME, platform_check


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (the existing one when there is one, as in tests)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("MetaLearningWorkbench")
    app.setApplicationName("workbench")
    app.setApplicationDisplayName(APP_NAME)
    return app  # type: ignore[return-value]


def configure_torch_threads() -> int:
    """Leave one core to the window: torch's worker threads spin while they wait for each
    other, and with as many of them as cores they starve the GUI thread (and themselves) on a
    small or busy machine. ``OMP_NUM_THREADS`` or ``WORKBENCH_THREADS`` overrides the choice.
    Returns the number of threads set."""
    import torch

    wanted = os.environ.get("WORKBENCH_THREADS") or os.environ.get("OMP_NUM_THREADS") or ""
    threads = max(1, (os.cpu_count() or 2) - 1)
    if wanted.strip().isdigit():
        threads = max(1, int(wanted))
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def run_app(config_path_or_preset: str | None = None) -> int:
    """Open the main window, unless Qt cannot open one here: then say why (which system
    library is missing, which package has it) on stderr and return 1, before Qt aborts the
    process with a message that names neither."""
    problem = platform_check.platform_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    return open_main_window(config_path_or_preset)


def open_main_window(config_path_or_preset: str | None = None) -> int:
    """Open the main window (with a TOML file or preset in the form) and run until it closes."""
    app = make_application()
    configure_torch_threads()
    from workbench.gui.main_window import MainWindow

    window = MainWindow()
    if config_path_or_preset:
        try:
            window.load_config_argument(config_path_or_preset)
        except WorkbenchError as exc:
            window.statusBar().showMessage(f"Could not open {config_path_or_preset}: {exc}", 20000)
    window.show()
    status = app.exec()
    # views' background jobs (dataset loading, evaluation) were cancelled on close; let them end
    QThreadPool.globalInstance().waitForDone(5000)
    return int(status)
