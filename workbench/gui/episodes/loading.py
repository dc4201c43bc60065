"""The episode browser's background work: loading a split and counting its dataset's splits.

Both run in pool threads (`BackgroundTask`) and go through the shared cache of loaded splits
(`workbench.data.split_cache`), so a split the trainer or the adaptation viewer has loaded is
shown at once, and one the browser loads is theirs too. A dataset error (missing folder, broken
file) arrives as a message for the view to show; anything else as a message with a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from workbench.config import DataConfig
from workbench.data.class_images import ClassImages
from workbench.data.split_cache import SplitCache, SplitKey, shared_splits
from workbench.data.summary import SUMMARY_SPLITS, SplitSummary, summarize, summarize_splits
from workbench.errors import WorkbenchError
from workbench.gui.widgets.tasks import BackgroundTask, TaskState


@dataclass
class _Loaded:
    key: SplitKey
    images: ClassImages | None = None
    error: str = ""


def progress_adapter(state: TaskState) -> Callable[[float, str], None]:
    """The loaders' ``progress(fraction, message)`` as the task's ``progress(done, total, text)``."""

    def progress(fraction: float, message: str = "") -> None:
        state.progress(int(max(0.0, min(1.0, float(fraction))) * 1000), 1000, message)

    return progress


class SplitLoader(QObject):
    """Loads one split at a time and counts the splits of one dataset at a time.

    Signals: ``progress(done, total, text)`` and ``runningChanged(running)`` of the split load;
    ``loaded(key, images)``; ``loadFailed(message)`` for a dataset error the user can fix;
    ``crashed(message, details)`` for anything else; ``summariesReady(dataset_key, summaries)``
    and ``summariesFailed(message)``.
    """

    progress = Signal(int, int, str)
    runningChanged = Signal(bool)
    loaded = Signal(object, object)
    loadFailed = Signal(str)
    crashed = Signal(str, str)
    summariesReady = Signal(object, object)
    summariesFailed = Signal(str)

    def __init__(self, splits: SplitCache | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.splits = splits or shared_splits()
        self._loading_key: SplitKey | None = None
        self._summaries: dict[tuple, list[SplitSummary]] = {}
        self._task = BackgroundTask(self)
        self._task.progress.connect(self.progress)
        self._task.runningChanged.connect(self.runningChanged)
        self._task.finished.connect(self._on_finished)
        self._task.failed.connect(self._on_failed)
        self._summary_task = BackgroundTask(self)
        self._summary_task.finished.connect(self._on_summaries)
        self._summary_task.failed.connect(lambda message, _details: self._summaries_failed(message))

    # -- one split ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task.running

    @property
    def loading_key(self) -> SplitKey | None:
        return self._loading_key

    def cached(self, data: DataConfig, split: str) -> ClassImages | None:
        """The split if it is in memory already (then no loading is needed)."""
        return self.splits.cached(data, split)

    def load(self, data: DataConfig, split: str) -> bool:
        """Load ``split`` in the background; False when that very load is already on its way."""
        key = SplitKey.of(data, split)
        if key == self._loading_key and self._task.running:
            return False
        self._loading_key = key
        splits = self.splits

        def job(state: TaskState) -> _Loaded:
            try:
                return _Loaded(key, splits.get(data, split, progress_adapter(state)))
            except WorkbenchError as exc:  # the user's to fix: the message is the whole story
                return _Loaded(key, error=str(exc))

        self._task.start(job)
        return True

    def cancel(self) -> None:
        """Forget the load under way (it still finishes into the shared cache)."""
        self._loading_key = None
        self._task.cancel()

    def _on_finished(self, result: object) -> None:
        assert isinstance(result, _Loaded)
        if result.key != self._loading_key:
            return
        self._loading_key = None
        if result.error or result.images is None:
            self.loadFailed.emit(result.error or "the loader returned nothing")
        else:
            self.loaded.emit(result.key, result.images)

    def _on_failed(self, message: str, details: str) -> None:
        self._loading_key = None
        self.crashed.emit(message, details)

    # -- the dataset's splits ----------------------------------------------------------------------
    def count(self, data: DataConfig, dataset_key: tuple) -> bool:
        """Count the splits of ``data``'s dataset: at once (True, `summariesReady` emitted) when
        they are known or all in memory, else in the background (False)."""
        if dataset_key in self._summaries:
            self.summariesReady.emit(dataset_key, self._summaries[dataset_key])
            return True
        loaded = {s: self.splits.cached(data, s) for s in SUMMARY_SPLITS}
        if all(images is not None for images in loaded.values()):
            summaries = [summarize(images, s) for s, images in loaded.items() if images]
            self._finish(dataset_key, summaries)
            return True
        splits = self.splits

        def job(state: TaskState) -> tuple[tuple, list[SplitSummary]]:
            summaries = summarize_splits(data, SUMMARY_SPLITS, splits, lambda: state.cancelled)
            return dataset_key, summaries

        self._summary_task.start(job)
        return False

    def _on_summaries(self, result: object) -> None:
        dataset_key, summaries = result  # type: ignore[misc]
        self._finish(dataset_key, summaries)

    def _finish(self, dataset_key: tuple, summaries: list[SplitSummary]) -> None:
        self._summaries[dataset_key] = summaries
        self.summariesReady.emit(dataset_key, summaries)

    def _summaries_failed(self, message: str) -> None:
        self.summariesFailed.emit(message)

    # -- lifetime -------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._task.running or self._summary_task.running

    def shutdown(self, msecs: int) -> None:
        """Stop listening to both jobs and wait for the pool (window close, tests)."""
        self.cancel()
        self._summary_task.cancel()
        self._task.wait(msecs)


class LoadProgress(QWidget):
    """A progress bar and its text, shown while a split loads."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(260)
        self.bar.setTextVisible(False)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar)
        row.addWidget(self.label, 1)
        self.setVisible(False)

    def start(self, text: str) -> None:
        """An indeterminate bar with ``text`` until the first progress report."""
        self.bar.setRange(0, 0)
        self.label.setText(text)

    def report(self, done: int, total: int, text: str) -> None:
        if self.bar.maximum() != total:
            self.bar.setRange(0, total)
        self.bar.setValue(done)
        if text:
            self.label.setText(text)


__all__ = ["LoadProgress", "SplitLoader", "progress_adapter"]
