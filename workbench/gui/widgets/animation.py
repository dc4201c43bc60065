"""Animated GIFs of what a view shows, for slides: the adaptation viewer's inner steps, a
training run's curves growing over its iterations.

Frames are painted in the GUI thread (a widget can only be painted there), one per turn of
the event loop so the window keeps answering and Cancel works; Pillow encodes them in a
`BackgroundTask` (it takes seconds for a minute of frames) and the file appears whole or not at
all (`workbench.durable`). A thin timeline under each frame shows how far the loop is, which a
seminar audience reads at a glance, and keeps two frames from being identical (Pillow merges
identical consecutive frames into one longer frame).

MP4 is not offered: the well-kept writers (imageio-ffmpeg, PyAV) ship or need FFmpeg, and GIF
plays everywhere slides do.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from workbench.durable import atomic_write_bytes
from workbench.errors import WorkbenchError
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

#: height of the timeline bar under each frame, in pixels
TIMELINE_PX = 4
#: the most frames one GIF may have (a minute at 30 fps)
MAX_FRAMES = 1800
SETTINGS_KEY = "export/animation"


@dataclass(frozen=True)
class AnimationSettings:
    """What the export dialog asks: how long the loop lasts, how smooth it is, how wide."""

    seconds: float = 6.0
    fps: int = 10
    width: int = 960
    timeline: bool = True

    @property
    def frames(self) -> int:
        return max(2, round(self.seconds * self.fps))

    @property
    def frame_ms(self) -> int:
        return max(10, round(1000 / self.fps))

    def check(self, min_frames: int = 2) -> None:
        """A clear error for settings that cannot make the animation asked for."""
        if self.frames < min_frames:
            raise WorkbenchError(
                f"{self.frames} frames cannot show all {min_frames} steps: make the animation "
                f"longer or raise the frame rate"
            )
        if self.frames > MAX_FRAMES:
            raise WorkbenchError(f"{self.frames} frames is too many (at most {MAX_FRAMES})")
        if self.timeline and self.frames > self.width:
            raise WorkbenchError(
                f"a timeline {self.width} px wide cannot advance in each of {self.frames} frames: "
                f"make the GIF wider or shorter"
            )


def frame_step(index: int, frames: int, last_step: int) -> int:
    """The step frame ``index`` of ``frames`` shows: each of steps 0..last_step held for an
    equal share of the loop, the last frame at the last step."""
    return min(last_step, index * (last_step + 1) // frames)


def frame_fraction(index: int, frames: int) -> float:
    """How far through the loop frame ``index`` is: 0 for the first frame, 1 for the last."""
    return index / max(1, frames - 1)


def compose_frame(
    view: QImage, settings: AnimationSettings, index: int, background: str, accent: str
) -> QImage:
    """The view scaled to the chosen width, with the timeline bar under it."""
    scaled = view.scaledToWidth(settings.width, Qt.TransformationMode.SmoothTransformation)
    if not settings.timeline:
        return scaled.convertToFormat(QImage.Format.Format_RGB888)
    frame = QImage(scaled.width(), scaled.height() + TIMELINE_PX, QImage.Format.Format_RGB888)
    frame.fill(QColor(background))
    painter = QPainter(frame)
    painter.drawImage(0, 0, scaled)
    done = round(scaled.width() * (index + 1) / settings.frames)
    painter.fillRect(0, scaled.height(), done, TIMELINE_PX, QColor(accent))
    painter.end()
    return frame


def to_pil(image: QImage) -> Image.Image:
    """A copy of ``image`` as a Pillow RGB image (safe to hand to another thread)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    data = bytes(rgb.constBits())
    return Image.frombuffer(
        "RGB", (rgb.width(), rgb.height()), data, "raw", "RGB", rgb.bytesPerLine(), 1
    ).copy()


def encode_gif(frames: list[Image.Image], frame_ms: int) -> bytes:
    """The frames as one looping GIF (each frame with its own palette)."""
    if not frames:
        raise WorkbenchError("no frames to write")
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=frame_ms,
        loop=0,
    )
    return buffer.getvalue()


# -- the dialog ----------------------------------------------------------------------------------


class AnimationDialog(QDialog):
    """Length, frame rate, width and timeline of the GIF; OK only for settings that work."""

    def __init__(
        self, parent: QWidget | None, defaults: AnimationSettings, min_frames: int
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self.min_frames = min_frames
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(1.0, 120.0)
        self.seconds.setSingleStep(0.5)
        self.seconds.setSuffix(" s")
        self.seconds.setValue(defaults.seconds)
        self.seconds.setToolTip("How long one pass of the loop lasts")
        self.fps = QSpinBox()
        self.fps.setRange(1, 30)
        self.fps.setSuffix(" frames/s")
        self.fps.setValue(defaults.fps)
        self.fps.setToolTip("Frames per second: smoother, and a larger file")
        self.width_spin = QSpinBox()
        self.width_spin.setRange(160, 3840)
        self.width_spin.setSingleStep(80)
        self.width_spin.setSuffix(" px")
        self.width_spin.setValue(defaults.width)
        self.width_spin.setToolTip("Width of the GIF; the height follows the view's proportions")
        self.timeline = QCheckBox("Timeline bar under the frames")
        self.timeline.setChecked(defaults.timeline)
        self.timeline.setToolTip("A thin bar that fills as the loop plays")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Length", self.seconds)
        form.addRow("Frame rate", self.fps)
        form.addRow("Width", self.width_spin)
        form.addRow("", self.timeline)
        form.addRow(self.summary)
        form.addRow(self.buttons)
        for box in (self.seconds, self.fps, self.width_spin):
            box.valueChanged.connect(self._update)
        self.timeline.toggled.connect(self._update)
        self._update()

    def settings(self) -> AnimationSettings:
        return AnimationSettings(
            self.seconds.value(),
            self.fps.value(),
            self.width_spin.value(),
            self.timeline.isChecked(),
        )

    def _update(self) -> None:
        s = self.settings()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            s.check(self.min_frames)
        except WorkbenchError as exc:
            self.summary.setText(str(exc))
            ok.setEnabled(False)
            return
        ok.setEnabled(True)
        self.summary.setText(f"{s.frames} frames, {s.frame_ms} ms each")


def ask_animation_settings(
    parent: QWidget, defaults: AnimationSettings, min_frames: int
) -> AnimationSettings | None:
    """The settings the user chose, or None (a module function so tests can replace it)."""
    dialog = AnimationDialog(parent, defaults, min_frames)
    return dialog.settings() if dialog.exec() == QDialog.DialogCode.Accepted else None


def ask_gif_path(parent: QWidget, default: str) -> str:
    """The file to write, or "" (a module function so tests can replace the dialog)."""
    path, _ = QFileDialog.getSaveFileName(parent, "Export animation", default, "GIF (*.gif)")
    if path and not path.lower().endswith(".gif"):
        path += ".gif"
    return path


# -- recording -----------------------------------------------------------------------------------


class GifRecorder(QObject):
    """Paints ``render(index, frames)`` for every frame, one per event-loop turn, then encodes
    them off the GUI thread and writes ``path``; ``restore()`` puts the view back as it was.

    Signals: ``saved(path)``, ``failed(message)``, ``cancelled()``. ``progress`` is a
    `QProgressDialog` with Cancel (None in tests that drive the recorder themselves).
    """

    saved = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self,
        parent: QWidget,
        render: Callable[[int, int], QImage],
        restore: Callable[[], None],
        settings: AnimationSettings,
        path: str | Path,
        colors: tuple[str, str],
        show_progress: bool = True,
    ) -> None:
        super().__init__(parent)
        self._render, self._restore = render, restore
        self.settings, self.path = settings, Path(path)
        self._colors = colors
        self.frames: list[Image.Image] = []
        self._task = BackgroundTask(self)
        self._task.finished.connect(self._written)
        self._task.failed.connect(lambda message, _details: self._fail(message))
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._next_frame)
        self.progress: QProgressDialog | None = None
        if show_progress:
            self.progress = QProgressDialog("Drawing frames…", "Cancel", 0, settings.frames, parent)
            self.progress.setWindowTitle("Export animation")
            self.progress.setWindowModality(Qt.WindowModality.WindowModal)
            self.progress.setMinimumDuration(300)
            self.progress.canceled.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self._timer.isActive() or self._task.running

    def start(self) -> None:
        self.frames = []
        self._timer.start()

    def cancel(self) -> None:
        if not self.running:
            return
        was_drawing = self._timer.isActive()
        self._timer.stop()
        self._task.cancel()
        if was_drawing:
            self._restore()
        self.cancelled.emit()

    def _next_frame(self) -> None:
        index = len(self.frames)
        try:
            view = self._render(index, self.settings.frames)
            frame = compose_frame(view, self.settings, index, *self._colors)
            self.frames.append(to_pil(frame))
        except Exception as exc:  # a view that cannot draw: say so, restore it
            self._timer.stop()
            self._restore()
            self._fail(f"could not draw frame {index + 1}: {exc}")
            return
        if self.progress is not None:
            self.progress.setValue(len(self.frames))
        if len(self.frames) < self.settings.frames:
            return
        self._timer.stop()
        self._restore()
        if self.progress is not None:
            self.progress.setLabelText("Writing the GIF…")
            self.progress.setRange(0, 0)
        frames, frame_ms, path = self.frames, self.settings.frame_ms, self.path

        def work(state: TaskState) -> str:
            data = encode_gif(frames, frame_ms)
            if state.cancelled:
                return ""
            atomic_write_bytes(path, data)
            return str(path)

        self._task.start(work)

    def _written(self, path: str) -> None:
        self._close_progress()
        if path:
            self.saved.emit(path)

    def _fail(self, message: str) -> None:
        self._close_progress()
        self.failed.emit(f"Export failed: {message}")

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.reset()
            self.progress.hide()


def remembered_settings(settings: QSettings, width: int) -> AnimationSettings:
    """The settings last used (the width follows the view's unless the user chose one)."""
    defaults = AnimationSettings(width=width)
    seconds = settings.value(f"{SETTINGS_KEY}/seconds", defaults.seconds, type=float)
    fps = settings.value(f"{SETTINGS_KEY}/fps", defaults.fps, type=int)
    timeline = settings.value(f"{SETTINGS_KEY}/timeline", defaults.timeline, type=bool)
    return replace(defaults, seconds=float(seconds), fps=int(fps), timeline=bool(timeline))


def remember_settings(settings: QSettings, chosen: AnimationSettings) -> None:
    settings.setValue(f"{SETTINGS_KEY}/seconds", chosen.seconds)
    settings.setValue(f"{SETTINGS_KEY}/fps", chosen.fps)
    settings.setValue(f"{SETTINGS_KEY}/timeline", chosen.timeline)


def export_animation(
    parent: QWidget,
    settings_store: QSettings,
    *,
    default_name: str,
    min_frames: int,
    render: Callable[[int, int], QImage],
    restore: Callable[[], None],
    colors: tuple[str, str],
) -> GifRecorder | None:
    """Ask for the settings and the file, then start recording; the recorder (or None when
    the user cancelled a dialog). Connect to its ``saved`` and ``failed`` signals."""
    chosen = ask_animation_settings(
        parent, remembered_settings(settings_store, parent.width()), min_frames
    )
    if chosen is None:
        return None
    remember_settings(settings_store, chosen)
    folder = str(settings_store.value("export/animation_dir", str(Path.home())))
    path = ask_gif_path(parent, str(Path(folder) / default_name))
    if not path:
        return None
    settings_store.setValue("export/animation_dir", str(Path(path).parent))
    recorder = GifRecorder(parent, render, restore, chosen, path, colors)
    recorder.start()
    return recorder


__all__ = [
    "AnimationDialog",
    "AnimationSettings",
    "GifRecorder",
    "TIMELINE_PX",
    "ask_animation_settings",
    "ask_gif_path",
    "compose_frame",
    "encode_gif",
    "export_animation",
    "frame_fraction",
    "frame_step",
    "to_pil",
]
