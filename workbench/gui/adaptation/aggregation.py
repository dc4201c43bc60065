"""The adaptation viewer's "Over many episodes" tab: the evaluation protocol on M episodes.

`workbench.engine.adaptation.aggregate_sources` adapts every chosen model to the same test
episodes in a `BackgroundTask` (progress, cancel); this tab shows the protocol, a table of the
means with their 95% confidence intervals, the per-step curves and the histogram over episodes.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.config import ExperimentConfig
from workbench.engine import adaptation as ad
from workbench.engine.evaluate import EvaluationResult
from workbench.gui.adaptation.placeholder import PlaceholderStack
from workbench.gui.adaptation.plots import AggregatePlots
from workbench.gui.adaptation.tables import AggregateTable
from workbench.gui.theme import Theme
from workbench.gui.widgets.tasks import BackgroundTask, TaskState

PLACEHOLDER = (
    "“Over many episodes” adapts every chosen model to M test episodes with the "
    "evaluation protocol and shows the mean ± 95% confidence interval of support and "
    "query accuracy after each inner step, and a histogram of the query accuracy after "
    "adaptation.\n\nWith the run's own settings (split, eval seed, episodes, steps) the "
    "numbers are exactly those `workbench eval` prints."
)


class AggregatePane(PlaceholderStack):
    """Runs and shows aggregates. ``task`` reports progress, failure, cancellation and whether it
    runs; ``aggregated(list[Aggregate])`` once an aggregate is shown."""

    aggregated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(PLACEHOLDER, parent=parent)
        self._aggregates: list[ad.Aggregate] = []
        self._inner_lr: float | None = None
        self._config: ExperimentConfig | None = None  # the main model's, when started
        self.task = BackgroundTask(self)
        self.task.finished.connect(self._show)
        self.protocol = QLabel()
        self.protocol.setWordWrap(True)
        self.protocol.setTextFormat(Qt.TextFormat.PlainText)
        self.table = AggregateTable()
        self.plots = AggregatePlots()
        content = QWidget()
        cl = QVBoxLayout(content)
        cl.setContentsMargins(0, 6, 0, 0)
        cl.addWidget(self.protocol)
        cl.addWidget(self.table)
        cl.addWidget(self.plots, 1)
        self.addWidget(content)

    def start(
        self,
        sources: Sequence[ad.ModelSource],
        split: str,
        seed: int,
        episodes: int,
        steps: int,
        inner_lr: float | None,
        *,
        snapshot: ad.SnapshotFn | None,
        config: ExperimentConfig | None,
    ) -> None:
        """Adapt ``sources`` to ``episodes`` episodes in the background; ``config`` is the main
        model's (it says whether these are the episodes `workbench eval` uses)."""
        chosen = list(sources)

        def work(state: TaskState) -> list[ad.Aggregate]:
            return ad.aggregate_sources(
                chosen,
                split,
                seed,
                episodes,
                steps,
                inner_lr,
                snapshot=snapshot,
                progress=lambda d, t: state.progress(d, t, "episodes"),
                cancel=state.cancel_event,
            )

        self._inner_lr = inner_lr
        self._config = config
        self.task.start(work)

    def cancel(self) -> None:
        self.task.cancel()

    def aggregates(self) -> list[ad.Aggregate]:
        return list(self._aggregates)

    def _show(self, aggregates: list[ad.Aggregate]) -> None:
        self._aggregates = list(aggregates)
        self.show_content()
        config = self._config
        queries = config.data.ways * config.data.queries if config is not None else 0
        self.table.set_data(aggregates)
        self.plots.set_data(aggregates, queries)
        if aggregates:
            self.protocol.setText(self._protocol(aggregates[0].result))
        self.aggregated.emit(aggregates)

    def _protocol(self, r: EvaluationResult) -> str:
        """The protocol, and the `workbench eval` command that prints the same numbers when
        there is one (the run's own rates and its evaluation seed)."""
        lr, config = self._inner_lr, self._config
        rate = "each model's own inner LR" if lr is None else f"inner LR {lr:g} for every model"
        same = (
            " — the same episodes and numbers as `workbench eval RUN "
            f"--episodes {r.episodes} --steps {r.steps} --split {r.split}`"
            if lr is None and config is not None and r.seed == config.eval.seed
            else ""
        )
        return f"Protocol: {ad.protocol_text(r)}, {rate}{same}."

    def apply_theme(self, theme: Theme) -> None:
        self.plots.apply_theme(theme)
        self.table.apply_theme(theme)
        self.placeholder.setStyleSheet(f"color: {theme.muted};")
        self.protocol.setStyleSheet(f"color: {theme.foreground}; font-weight: bold;")


__all__ = ["AggregatePane"]
