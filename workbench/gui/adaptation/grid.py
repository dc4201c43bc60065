"""The query images of an episode with a model's predictions at one inner step.

One row per class: the class's support image(s) first (muted frame, caption "support"), then
its query images framed green when predicted right and red when wrong, captioned with the
predicted label and its confidence (`workbench.engine.predictions` says which are right).
Built on the shared `ImageGrid`.
"""

from __future__ import annotations

from workbench.data.episodes import Episode
from workbench.engine.predictions import StepPredictions
from workbench.gui.theme import Theme
from workbench.gui.widgets.image_grid import (
    GridRow,
    GridSection,
    ImageGrid,
    describe_class,
    tensor_to_qimage,
)

SECTION = "adapted"


def episode_section(episode: Episode) -> GridSection:
    """Support images (indices 0..N*K-1) then query images (N*K..), one row per class."""
    n, k, q = episode.ways, episode.shots, episode.queries
    images = [tensor_to_qimage(x) for x in episode.support_x] + [
        tensor_to_qimage(x) for x in episode.query_x
    ]
    sources = list(episode.support_sources) + list(episode.query_sources)
    rows = []
    for label in range(n):
        name = episode.class_names[label] if label < len(episode.class_names) else str(label)
        group, detail = describe_class(name)
        indices = list(range(label * k, (label + 1) * k)) + [
            n * k + label * q + j for j in range(q)
        ]
        rows.append(
            GridRow(f"{label} · {group}", detail, indices, tooltip=f"label {label}: {name}")
        )
    return GridSection(
        SECTION,
        "Per class: support, then queries (predicted label, confidence)",
        images,
        rows,
        sources,
    )


def decorate(grid: ImageGrid, episode: Episode, shown: StepPredictions, theme: Theme) -> None:
    """Frames and captions of the support and query images for ``shown``."""
    support = episode.ways * episode.shots
    for i in range(support):
        grid.set_border(SECTION, i, theme.muted)
        grid.set_caption(SECTION, i, "support", theme.muted)
    for j, (label, conf, ok) in enumerate(zip(shown.labels, shown.confidences, shown.correct)):
        color = theme.good if ok else theme.bad
        grid.set_border(SECTION, support + j, color)
        grid.set_caption(SECTION, support + j, f"→{label} {100 * conf:.0f}%", color)


def section_title(model: str, shown: StepPredictions, total: int) -> str:
    right = sum(shown.correct)
    return (
        f"{model} after {shown.step} step{'s' if shown.step != 1 else ''}: {right} of {total} "
        f"query images right ({100 * shown.accuracy:.0f}%)"
    )
