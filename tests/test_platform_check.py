"""The check that runs before the window: a missing X11 library or a missing display is one clear
message naming the cause and the fix, and exit status 1, never Qt's abort or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import cli
from workbench.gui import app as gui_app
from workbench.gui import platform_check as pc

ABSENT = "libworkbench-absent-for-test.so.7"


@pytest.fixture
def plugin() -> Path:
    path = pc.xcb_plugin_path()
    if not path.exists():
        pytest.skip(f"this PySide6 has no xcb plugin at {path}")
    return path


def test_a_missing_library_is_named_with_the_packages_to_install(plugin: Path) -> None:
    message = pc.platform_problem(
        {"DISPLAY": ":0"},
        system="linux",
        plugin=plugin,
        required=(ABSENT, "libxcb-cursor.so.0"),
    )
    assert message is not None and ABSENT in message
    assert "and the package that provides " + ABSENT in message
    assert "QT_QPA_PLATFORM=offscreen workbench screenshot" in message


def test_install_hint_names_debian_and_fedora_packages() -> None:
    hint = pc.install_hint(["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in hint
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in hint


def test_ldd_not_found_lines_are_read(monkeypatch, plugin: Path) -> None:
    class Done:
        stdout = (
            "\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x1)\n"
            "\tlibxcb-icccm.so.4 => not found\n"
            "\tlibxcb-keysyms.so.1 => not found\n"
            "\tlibxcb-icccm.so.4 => not found\n"
        )

    monkeypatch.setattr(pc.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(pc.subprocess, "run", lambda *a, **k: Done())
    assert pc.not_found_by_ldd(plugin) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_no_display_is_said_plainly() -> None:
    message = pc.platform_problem({}, system="linux")
    assert message is not None and "there is no display" in message
    assert "DISPLAY" in message and "WAYLAND_DISPLAY" in message


def test_headless_platforms_and_other_systems_need_nothing() -> None:
    assert pc.platform_problem({"QT_QPA_PLATFORM": "offscreen"}, system="linux") is None
    assert pc.platform_problem({"QT_QPA_PLATFORM": "minimal"}, system="linux") is None
    assert pc.platform_problem({}, system="win32") is None
    assert pc.platform_problem({}, system="darwin") is None


def test_a_wayland_session_is_not_checked_for_x11_libraries(tmp_path: Path) -> None:
    absent_plugin = tmp_path / "libqxcb.so"
    assert (
        pc.platform_problem({"WAYLAND_DISPLAY": "wayland-0"}, system="linux", plugin=absent_plugin)
        is None
    )
    forced = pc.platform_problem(
        {"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"},
        system="linux",
        plugin=absent_plugin,
    )
    assert forced is not None and str(absent_plugin) in forced


def test_workbench_exits_1_naming_the_absent_library(monkeypatch, capsys, plugin: Path) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(pc.sys, "platform", "linux")
    monkeypatch.setattr(pc, "REQUIRED_XCB_LIBRARIES", (ABSENT,))
    started = []
    monkeypatch.setattr(gui_app, "make_application", lambda *a: started.append(a))
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert ABSENT in err and "Traceback" not in err
    assert not started, "the QApplication must not be created when the check fails"


def test_workbench_starts_as_today_when_everything_is_there(monkeypatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(pc, "missing_libraries", lambda plugin, required=(): [])
    opened = []
    monkeypatch.setattr(gui_app, "open_main_window", lambda config: opened.append(config) or 0)
    assert cli.main(["gui", "demo"]) == 0
    assert opened == ["demo"]
