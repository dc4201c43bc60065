"""The Features view (Ctrl+5): what a meta-learned network has learned, against standard
training and an untrained network. Pick a run and up to three comparison models, press
Analyse; the engine (`workbench.engine.features.analyse`) runs in the background with progress
and Cancel, and five tabs show the result: first-layer filters, the probe images' features
projected to 2-D (before or after adaptation), the images that drive each channel, saliency of
query images, and how much each layer's representation changes when the model adapts (CKA).
Everything exports: the tab as PNG, the numbers as CSV and JSON (the same JSON as
``workbench features``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMenu,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.engine.features import (
    FeaturesReport,
    FeaturesRequest,
    analyse,
    resolve_compare,
    run_source,
)
from workbench.engine.features.projector import write_projector
from workbench.engine.features.report import write_csv
from workbench.engine.runs import RunInfo, list_runs
from workbench.errors import WorkbenchError
from workbench.gui.context import GuiContext
from workbench.gui.features.change import ChangeTab
from workbench.gui.features.embedding import EmbeddingTab
from workbench.gui.features.panel import FeaturesPanel
from workbench.gui.features.tabs import ActivationsTab, FiltersTab, SaliencyTab
from workbench.gui.theme import Theme
from workbench.gui.view import View
from workbench.gui.widgets.animation import GifRecorder, export_animation, frame_step
from workbench.gui.widgets.elided_label import ElidedLabel
from workbench.gui.widgets.inline_message import InlineMessage
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

PANEL_WIDTH = 320
STEPS = 1000  # progress resolution


class FeaturesView(View):
    name = "features"
    title = "Features"
    shortcut = "Ctrl+5"
    tooltip = "What a meta-learned network has learned, against standard training (Ctrl+5)"

    def __init__(self, context: GuiContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.report: FeaturesReport | None = None
        self.panel = FeaturesPanel()
        self.panel.analyseRequested.connect(self.analyse)
        self.panel.cancelRequested.connect(self.cancel)
        self.task = BackgroundTask(self)
        self.task.progress.connect(lambda d, t, text: self.panel.show_progress(d / max(1, t), text))
        self.task.finished.connect(self._analysed)
        self.task.failed.connect(self._failed)
        self.task.cancelled.connect(lambda: self._stopped("Cancelled"))
        self.listing = BackgroundTask(self)
        self.listing.finished.connect(self._listed)
        self.listing.failed.connect(lambda m, _d: self.message.show_error(m))
        self._build()
        self.apply_theme(context.theme)
        context.runsDirChanged.connect(lambda _p: self.refresh_runs())
        context.trainingFinished.connect(lambda _p, _s: self.refresh_runs())
        self.refresh_runs()

    def _build(self) -> None:
        side = QScrollArea()
        side.setWidget(self.panel)
        side.setWidgetResizable(True)
        side.setFrameShape(QScrollArea.Shape.NoFrame)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side = side
        self.message = InlineMessage()
        self.heading = ElidedLabel("Choose a run and press Analyse")
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.filters = FiltersTab()
        self.embedding = EmbeddingTab()
        self.embedding.animateRequested.connect(self.export_embedding_gif)
        self.activations = ActivationsTab()
        self.saliency = SaliencyTab()
        self.change = ChangeTab()
        self.tabs = QTabWidget()
        for widget, title in (
            (self.embedding, "Embedding"),
            (self.change, "Representation change"),
            (self.filters, "Filters"),
            (self.activations, "Activations"),
            (self.saliency, "Saliency"),
        ):
            self.tabs.addTab(widget, title)
        self.export_button = QToolButton()
        self.export_button.setText("Export ")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        self.export_actions = {
            "tab_png": menu.addAction(
                "This tab as PNG…", lambda: self._ask("png", self.export_tab_png)
            ),
            "cka_csv": menu.addAction(
                "CKA per layer as CSV…", lambda: self._ask("csv", self.export_cka_csv)
            ),
            "separation_csv": menu.addAction(
                "Separation scores as CSV…", lambda: self._ask("csv", self.export_separation_csv)
            ),
            "projector": menu.addAction(
                "Embeddings for TensorBoard's projector…", self._ask_projector
            ),
            "json": menu.addAction(
                "All numbers as JSON…", lambda: self._ask("json", self.export_json)
            ),
        }
        self.export_button.setMenu(menu)
        header = QHBoxLayout()
        header.addWidget(self.heading, 1)
        header.addWidget(self.export_button)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 8, 8, 8)
        rl.addWidget(self.message)
        rl.addLayout(header)
        rl.addWidget(self.tabs, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(side)
        layout.addWidget(right, 1)
        self._update_enabled()

    # -- runs ---------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        folder = self.context.runs_dir()
        self.listing.start(lambda _s: list_runs(folder))

    def _listed(self, runs: list[RunInfo]) -> None:
        self.panel.set_runs(runs)
        self._update_enabled()

    # -- analysing ----------------------------------------------------------------------------------
    def build_request(self) -> FeaturesRequest:
        run = self.panel.run_path()
        if not run:
            raise WorkbenchError("no run to analyse: train a run on an image dataset first")
        runs_dir = self.context.runs_dir()
        sources = [run_source(run)] + [
            resolve_compare(k, run, runs_dir) for k in self.panel.compared()
        ]
        p = self.panel
        return FeaturesRequest(
            sources,
            classes=p.classes.value(),
            per_class=p.per_class.value(),
            episodes=p.episodes.value(),
            steps=None if p.steps.value() < 0 else p.steps.value(),
            episode_index=p.episode_index.value(),
        )

    def analyse(self) -> None:
        try:
            request = self.build_request()
            request.check()
        except WorkbenchError as exc:
            self.message.show_error(f"Cannot analyse: {exc}")
            return
        self.message.clear()

        def work(state: TaskState) -> FeaturesReport:
            return analyse(
                request,
                progress=lambda f, text: state.progress(round(STEPS * f), STEPS, text),
                cancelled=lambda: state.cancelled,
            )

        self.panel.set_running(True)
        self.panel.show_progress(0.0, "starting")
        self.task.start(work)

    def cancel(self) -> None:
        self.task.cancel()

    def _analysed(self, report: FeaturesReport) -> None:
        self.panel.set_running(False)
        self.panel.show_progress(1.0, "")
        self.show_report(report)

    def show_report(self, report: FeaturesReport) -> None:
        self.report = report
        for tab in (self.filters, self.embedding, self.activations, self.saliency, self.change):
            tab.set_report(report)
        labels = ", ".join(m.label for m in report.models)
        self.heading.setText(
            f"{labels} · {len(report.probe.class_names)} classes x {report.probe.per_class} "
            f"{report.probe.split} images · episode {report.episode_index}, {report.steps} steps"
        )
        self.heading.setToolTip(self.heading.text())
        self._update_enabled()

    def _failed(self, message: str, _details: str) -> None:
        self._stopped("")
        self.message.show_error(f"The analysis stopped: {message}")

    def _stopped(self, text: str) -> None:
        self.panel.set_running(False)
        self.panel.show_progress(0.0, text)
        self._update_enabled()

    def _update_enabled(self) -> None:
        has = self.report is not None
        for key, action in self.export_actions.items():
            action.setEnabled(
                has
                and (key == "tab_png" or key == "json" or bool(self.report and self.report.changes))
            )
        self.panel.set_running(self.task.running)

    # -- exports ------------------------------------------------------------------------------------
    def _ask(self, kind: str, write: Callable[[Path], Path]) -> None:
        folder = str(self.context.settings.value("features/export_dir", str(Path.home())))
        names = {
            "png": f"features-{self.tabs.tabText(self.tabs.currentIndex()).lower().replace(' ', '-')}.png",
            "csv": "features.csv",
            "json": "features.json",
        }
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(Path(folder) / names[kind]))
        if not path:
            return
        try:
            saved = write(Path(path))
        except (WorkbenchError, OSError) as exc:
            self.message.show_error(f"Export failed: {exc}")
            return
        self.context.settings.setValue("features/export_dir", str(saved.parent))
        self.context.statusMessage.emit(f"Saved {saved}")

    def _ask_projector(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder for TensorBoard", str(self.context.runs_dir())
        )
        if not folder:
            return
        try:
            saved = self.export_projector(Path(folder))
        except (WorkbenchError, OSError) as exc:
            self.message.show_error(f"Export failed: {exc}")
            return
        self.context.statusMessage.emit(f"Saved; open with: tensorboard --logdir {saved}")

    def export_embedding_gif(self) -> GifRecorder | None:
        """The PCA embedding over the inner steps 0..S as an animated GIF (asks length, frame
        rate and file); the tab shows what it showed before afterwards."""
        emb = self.embedding
        if self.report is None:
            return None
        before = (emb.method.currentIndex(), emb.step())
        last = emb.last_step()

        def render(index: int, frames: int) -> QImage:
            if emb.method.currentData() != "pca":
                emb.method.setCurrentIndex(emb.method.findData("pca"))
            emb.set_step(frame_step(index, frames, last))
            return emb.grab().toImage()

        def restore() -> None:
            emb.method.setCurrentIndex(before[0])
            emb.set_step(before[1])

        theme = self.context.theme
        recorder = export_animation(
            self,
            self.context.settings,
            default_name="features-embedding-steps.gif",
            min_frames=last + 1,
            render=render,
            restore=restore,
            colors=(theme.background, theme.color(0)),
        )
        if recorder is not None:
            recorder.saved.connect(lambda path: self.context.statusMessage.emit(f"Saved {path}"))
            recorder.failed.connect(self.message.show_error)
        return recorder

    def export_projector(self, folder: Path) -> Path:
        """Every model's probe features, before and after adaptation, with class labels and
        the images as a sprite, for TensorBoard's embedding projector."""
        return write_projector(self._report(), folder)

    def _report(self) -> FeaturesReport:
        if self.report is None:
            raise WorkbenchError("nothing to export yet: press Analyse first")
        return self.report

    def export_tab_png(self, path: Path) -> Path:
        self._report()
        if not self.tabs.currentWidget().grab().save(str(path)):
            raise OSError(f"could not write {path}")
        return path

    def export_cka_csv(self, path: Path) -> Path:
        return write_csv(path, self._report().cka_rows())

    def export_separation_csv(self, path: Path) -> Path:
        return write_csv(path, self._report().separation_rows())

    def export_json(self, path: Path) -> Path:
        return self._report().write_json(path)

    # -- the view contract --------------------------------------------------------------------------
    def apply_theme(self, theme: Theme) -> None:
        self.side.setFixedWidth(round(PANEL_WIDTH * theme.font_point_size / 10))
        self.message.apply_theme(theme)
        for tab in (self.filters, self.embedding, self.activations, self.saliency, self.change):
            tab.apply_theme(theme)

    def is_busy(self) -> bool:
        return self.task.running or self.listing.running

    def prepare_screenshot(self) -> None:
        """The newest run against an untrained network, on a small probe set."""
        self.wait_until_idle()
        if self.report is None and self.panel.run_path():
            self.panel.set_compared(["random"])
            self.panel.classes.setValue(10)
            self.panel.per_class.setValue(10)
            self.panel.episodes.setValue(5)
            self.analyse()
            self.wait_until_idle(300)
        self.tabs.setCurrentWidget(self.embedding)

    def shutdown(self) -> None:
        for task in (self.task, self.listing):
            task.cancel()
            task.wait(30_000)


__all__ = ["FeaturesView"]
