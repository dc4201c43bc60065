"""The adaptation viewer's inner steps as an animated GIF: the curves grow step by step while
the query images turn right or wrong, as Play shows them, for a slide."""

from __future__ import annotations

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from workbench.gui.adaptation.episode import EpisodeTab
from workbench.gui.adaptation.exports import ExportMenu
from workbench.gui.widgets.animation import GifRecorder, export_animation, frame_step


def render_step_frame(episode: EpisodeTab, index: int, frames: int) -> QImage:
    """Frame ``index`` of ``frames``: the episode tab at the step that frame shows, its curves
    drawn up to that step."""
    last = episode.playback.slider.maximum()
    step = frame_step(index, frames, last)
    episode.curves.set_growth(step)
    if episode.step() != step:
        episode.playback.set_step(step)
    else:
        episode.show_step(step)
    return episode.grab().toImage()


def export_steps_gif(
    parent: QWidget, episode: EpisodeTab, menu: ExportMenu, stem: str
) -> GifRecorder | None:
    """Ask for length, frame rate and file, then record steps 0..S of the episode shown; the
    view goes back to the step it showed, and ``menu`` reports the file or the failure."""
    if episode.result() is None:
        return None
    episode.playback.stop()
    before = episode.step()

    def restore() -> None:
        episode.curves.set_growth(None)
        episode.playback.set_step(before)

    theme = episode.theme()
    recorder = export_animation(
        parent,
        menu.settings,
        default_name=f"{stem}-steps.gif",
        min_frames=episode.playback.slider.maximum() + 1,
        render=lambda index, frames: render_step_frame(episode, index, frames),
        restore=restore,
        colors=(theme.background, theme.color(0)),
    )
    if recorder is not None:
        recorder.saved.connect(menu.saved)
        recorder.failed.connect(menu.failed)
    return recorder


__all__ = ["export_steps_gif", "render_step_frame"]
