"""Can Qt open a window here? Asked before the window is created, so a missing system library
or a missing display is one clear message instead of Qt's abort.

Qt 6.5 and later need X11 helper libraries (``libxcb-cursor0`` above all) that many desktop
installs lack; Qt then prints "Could not load the Qt platform plugin "xcb"" and aborts the
process, and its advice ("reinstalling the application may fix this") does not. This module
asks the dynamic loader which libraries the xcb plugin cannot find (``ldd``, and ``dlopen`` of
the ones Qt is known to need) and names the packages that provide them.

Nothing here creates a `QApplication`; importing PySide6 only locates the plugin folder.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

#: libraries the xcb plugin of Qt 6.5+ needs that desktop installs often lack (checked with
#: dlopen even where ``ldd`` is not available)
REQUIRED_XCB_LIBRARIES: tuple[str, ...] = (
    "libxcb-cursor.so.0",
    "libxcb-icccm.so.4",
    "libxcb-keysyms.so.1",
    "libxcb-image.so.0",
    "libxcb-render-util.so.0",
    "libxkbcommon-x11.so.0",
)

#: library -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

#: QT_QPA_PLATFORM values that need no display and no X11 libraries
HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def xcb_plugin_path() -> Path:
    """Where PySide6 keeps Qt's X11 platform plugin."""
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    return plugins / "platforms" / "libqxcb.so"


def not_found_by_ldd(library: Path) -> list[str]:
    """The dependencies of ``library`` the loader cannot find, as ``ldd`` reports them (empty
    when ``ldd`` is not installed or fails: the dlopen check still runs)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run(
            [ldd, str(library)], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return list(dict.fromkeys(_NOT_FOUND.findall(out.stdout)))


def not_loadable(names: Iterable[str]) -> list[str]:
    """The shared libraries among ``names`` that ``dlopen`` cannot load."""
    missing = []
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def missing_libraries(plugin: Path, required: Iterable[str] = REQUIRED_XCB_LIBRARIES) -> list[str]:
    """Libraries the xcb plugin needs and this system lacks (ldd's view, then dlopen's)."""
    found = not_found_by_ldd(plugin) + not_loadable(required)
    return list(dict.fromkeys(found))


def install_hint(libraries: Iterable[str]) -> str:
    """The commands that install ``libraries`` on Debian/Ubuntu and on Fedora."""
    debian, fedora, unknown = [], [], []
    for name in libraries:
        if name in PACKAGES:
            deb, fed = PACKAGES[name]
            debian.append(deb)
            fedora.append(fed)
        else:
            unknown.append(name)
    lines = []
    if debian:
        lines.append(f"  sudo apt-get install {' '.join(dict.fromkeys(debian))}   (Debian, Ubuntu)")
        lines.append(f"  sudo dnf install {' '.join(dict.fromkeys(fedora))}   (Fedora)")
    if unknown:
        lines.append(f"  and the package that provides {', '.join(unknown)}")
    return "\n".join(lines)


OFFSCREEN_HINT = (
    "Without a display, `QT_QPA_PLATFORM=offscreen workbench screenshot --out DIR` renders "
    "every view to PNG files, and `workbench train` trains without a window."
)


def _uses_xcb(env: Mapping[str, str]) -> bool:
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform:
        return platform == "xcb"
    # Qt prefers Wayland when a Wayland session is there and falls back to xcb otherwise
    return not env.get("WAYLAND_DISPLAY")


def platform_problem(
    env: Mapping[str, str] | None = None,
    *,
    system: str | None = None,
    plugin: Path | None = None,
    required: Iterable[str] | None = None,
) -> str | None:
    """Why Qt could not open a window here, as a message for the user; None when it can.

    Only Linux and the BSDs are checked (Windows and macOS ship what Qt needs). A platform
    chosen in ``QT_QPA_PLATFORM`` that needs no display (offscreen, minimal, vnc) is accepted
    as it is."""
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if not (system.startswith("linux") or "bsd" in system):
        return None
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in HEADLESS_PLATFORMS:
        return None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return (
            "The window cannot open: there is no display (neither DISPLAY nor WAYLAND_DISPLAY "
            "is set). Start workbench from a desktop session, or over ssh with X forwarding "
            f"(ssh -X).\n{OFFSCREEN_HINT}"
        )
    if not _uses_xcb(env):
        return None
    plugin = xcb_plugin_path() if plugin is None else plugin
    if not plugin.exists():
        return (
            f"The window cannot open: Qt's X11 platform plugin is missing ({plugin}). "
            f"Reinstall PySide6-Essentials in this environment.\n{OFFSCREEN_HINT}"
        )
    missing = missing_libraries(plugin, REQUIRED_XCB_LIBRARIES if required is None else required)
    if not missing:
        return None
    return (
        "The window cannot open: Qt's X11 platform plugin (xcb) needs system libraries that are "
        f"missing: {', '.join(missing)}.\nInstall them with:\n{install_hint(missing)}\n"
        f"{OFFSCREEN_HINT}"
    )


__all__ = [
    "PACKAGES",
    "REQUIRED_XCB_LIBRARIES",
    "install_hint",
    "missing_libraries",
    "platform_problem",
    "xcb_plugin_path",
]
