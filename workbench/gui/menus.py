"""The window's menu bar: File, Training, View and Help, with their shortcuts.

Menus only lay out commands: each runs a method of the window, its form or its training control,
so a command reached by a shortcut, a button or a menu does the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMenu

from workbench.gui import dialogs
from workbench.gui.actions import make_action
from workbench.gui.experiment.dock import TOGGLE_SHORTCUT

if TYPE_CHECKING:
    from workbench.gui.main_window import MainWindow

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass(frozen=True)
class ThemeActions:
    """The View menu's checkable theme commands, which the window checks when the theme
    changes."""

    light: QAction
    dark: QAction
    presentation: QAction


def build_menus(window: MainWindow) -> ThemeActions:
    """Fill ``window``'s menu bar; the theme commands are returned to be kept in step."""
    bar = window.menuBar()
    _fill_file_menu(bar.addMenu("&File"), window)
    training = bar.addMenu("&Training")
    for action in window.training_control.actions():
        training.addAction(action)
    themes = _fill_view_menu(bar.addMenu("&View"), window)
    _fill_help_menu(bar.addMenu("&Help"), window)
    return themes


def _fill_file_menu(menu: QMenu, window: MainWindow) -> None:
    form = window.form
    for action in (
        make_action(
            window,
            "&Open config…",
            form.open_toml_dialog,
            ["Ctrl+O"],
            "Load an experiment from a TOML file into the form",
        ),
        make_action(
            window,
            "&Save config…",
            form.save_toml_dialog,
            ["Ctrl+S"],
            "Save the form as a TOML file",
        ),
        make_action(
            window,
            "Open &run folder…",
            window.open_run_dialog,
            ["Ctrl+Shift+O"],
            "Load a run's config.toml into the form and show its curves",
        ),
    ):
        menu.addAction(action)
    menu.addSeparator()
    menu.addAction(
        make_action(window, "&Quit", window.close, [QKeySequence.Quit], "Close the window")
    )


def _fill_view_menu(menu: QMenu, window: MainWindow) -> ThemeActions:
    """Themes and presentation mode, one command per view, and the Experiment panel's toggle."""
    themes = ThemeActions(
        light=make_action(
            window,
            "&Light theme",
            lambda _c=False: window.set_theme("light", window.context.theme.presentation),
            checkable=True,
            tip="Dark text on light backgrounds",
        ),
        dark=make_action(
            window,
            "&Dark theme",
            lambda _c=False: window.set_theme("dark", window.context.theme.presentation),
            checkable=True,
            tip="Light text on dark backgrounds",
        ),
        presentation=make_action(
            window,
            "&Presentation mode",
            lambda on: window.set_theme(window.context.theme.name, on),
            ["F5", "Ctrl+Shift+P"],
            "Larger fonts, thicker lines, high contrast (for a seminar)",
            checkable=True,
        ),
    )
    group = QActionGroup(window)
    for action in (themes.light, themes.dark, themes.presentation):
        menu.addAction(action)
    group.addAction(themes.light)
    group.addAction(themes.dark)
    menu.addSeparator()
    for view in window.views.values():
        menu.addAction(
            make_action(
                window,
                f"{view.title} view",
                lambda _c=False, n=view.name: window.show_view(n),
                [view.shortcut],
                f"Show the {view.title} view",
            )
        )
    menu.addSeparator()
    toggle = window.dock.toggleViewAction()
    toggle.setText("Experiment panel")
    menu.addAction(toggle)
    narrow = make_action(
        window,
        "&Narrow Experiment panel",
        lambda _c=False: window.dock.toggle(),
        [TOGGLE_SHORTCUT],
        "Narrow the Experiment panel to a strip on views that do not edit the experiment, "
        "or open it again",
        checkable=True,
    )
    window.dock.narrowChanged.connect(narrow.setChecked)
    menu.addAction(narrow)
    return themes


def _fill_help_menu(menu: QMenu, window: MainWindow) -> None:
    menu.addAction(
        make_action(
            window,
            "&User guide",
            lambda _c=False: open_user_guide(window),
            ["F1"],
            "Open the README: the user guide",
        )
    )
    menu.addAction(
        make_action(
            window, "&About", lambda _c=False: dialogs.show_about(window), tip="Version and license"
        )
    )


def open_user_guide(window: MainWindow) -> None:
    """The README is the user guide; a status bar message says where it was expected if it is
    missing (an installed package without the source tree)."""
    if README.exists():
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(README)))
    else:
        window.statusBar().showMessage(
            f"The user guide is the README.md of the project (not found at {README})", 10000
        )
