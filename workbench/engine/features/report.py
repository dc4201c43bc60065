"""The whole features analysis as one object, and as the JSON the command writes.

`FeaturesReport.to_dict` is the single place that turns the analysis into numbers: the command's
``features.json`` is exactly it, and a view that exports its numbers exports the same keys.
Undefined figures (CKA of a constant representation) are ``null`` with a note, never NaN, so the
file is strict JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.episodes import Episode
from workbench.durable import atomic_write_text
from workbench.engine.features.change import RepresentationChange
from workbench.engine.features.probe import ProbeSet
from workbench.engine.features.snapshot import ModelFeatures

#: bumped when the meaning of a key changes
REPORT_FORMAT = 1


def _clean(value: Any) -> Any:
    """JSON-ready: arrays to lists, NaN and infinities to None, numpy scalars to Python ones."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        return _clean(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _change_dict(change: RepresentationChange) -> dict[str, Any]:
    return {
        "episodes": change.episodes,
        "steps": change.steps,
        "cka": {name: change.cka[name].to_dict() for name in change.layers},
        "cka_notes": dict(change.notes),
        "separation_before": change.separation_before.to_dict(),
        "silhouette_after": change.silhouette_after.to_dict(),
        "centroid_accuracy_after": change.centroid_accuracy_after.to_dict(),
        "query_accuracy_before": change.query_accuracy_before.to_dict(),
        "query_accuracy_after": change.query_accuracy_after.to_dict(),
    }


def _model_dict(m: ModelFeatures, change: RepresentationChange | None) -> dict[str, Any]:
    trace = m.adapted.trace
    out: dict[str, Any] = {
        "label": m.label,
        "detail": m.detail,
        "algorithm": m.algorithm,
        "architecture": m.architecture,
        "layers": list(m.layers),
        "notes": list(m.notes),
        "episode": {
            "steps": m.adapted.steps_taken,
            "query_accuracy_before": trace.query_accuracy[0] if trace else None,
            "query_accuracy_after": trace.query_accuracy[-1] if trace else None,
            "separation_before": m.separation_before.to_dict(),
            "separation_after": m.separation_after.to_dict(),
        },
        "filters": {
            "layer": m.filters.layer,
            "kind": m.filters.kind,
            "shape": m.filters.weights.shape,
        },
        "pca": {
            "explained_variance_ratio": m.pca_axes.explained_variance_ratio,
            "before": m.pca_before,
            "after": m.pca_after,
        },
        "tsne": None if m.tsne_before is None else {"before": m.tsne_before, "after": m.tsne_after},
        "extremes": {layer: [e.to_dict() for e in ex] for layer, ex in m.extremes.items()},
        "saliency": [{"query": s.index, "target": s.target} for s in m.saliency],
        "representation_change": None if change is None else _change_dict(change),
    }
    return out


@dataclass
class FeaturesReport:
    """The analysis of a run and its comparison models on one probe set and one episode (the
    pictures), and over many episodes (``changes[i]``: CKA and separation of ``models[i]``)."""

    probe: ProbeSet
    episode: Episode
    episode_index: int
    steps: int
    models: list[ModelFeatures]
    changes: list[RepresentationChange] = field(default_factory=list)
    tsne_library: str = ""
    saliency_library: str = ""

    def change_of(self, index: int) -> RepresentationChange | None:
        """The representation change of ``models[index]`` (None: not computed)."""
        return self.changes[index] if index < len(self.changes) else None

    def to_dict(self) -> dict[str, Any]:
        """Every number of the analysis, JSON-ready (see the module docstring)."""
        return _clean(
            {
                "format": REPORT_FORMAT,
                "probe": {**self.probe.describe(), "labels": self.probe.labels.tolist()},
                "episode": {
                    "split": self.probe.split,
                    "index": self.episode_index,
                    "ways": self.episode.ways,
                    "shots": self.episode.shots,
                    "classes": list(self.episode.class_names),
                    "steps": self.steps,
                },
                "libraries": {"tsne": self.tsne_library, "saliency": self.saliency_library},
                "models": [_model_dict(m, self.change_of(i)) for i, m in enumerate(self.models)],
            }
        )

    def cka_rows(self) -> list[dict[str, Any]]:
        """One row per model and layer: CKA before vs after adaptation, mean and 95% CI."""
        rows = []
        for m, change in zip(self.models, self.changes):
            for layer in change.layers:
                spread = change.cka[layer]
                rows.append(
                    {
                        "model": m.label,
                        "layer": layer,
                        "cka": spread.mean,
                        "cka_ci95": spread.ci95,
                        "episodes": len(spread.values),
                        "steps": change.steps,
                        "note": change.notes.get(layer, ""),
                    }
                )
        return _clean(rows)

    def separation_rows(self) -> list[dict[str, Any]]:
        """One row per model: separation of the penultimate features before and after
        adaptation (after: mean and 95% CI over the episodes), and query accuracy."""
        rows = []
        for m, c in zip(self.models, self.changes):
            rows.append(
                {
                    "model": m.label,
                    "silhouette_before": c.separation_before.silhouette,
                    "silhouette_after": c.silhouette_after.mean,
                    "silhouette_after_ci95": c.silhouette_after.ci95,
                    "centroid_accuracy_before": c.separation_before.centroid_accuracy,
                    "centroid_accuracy_after": c.centroid_accuracy_after.mean,
                    "centroid_accuracy_after_ci95": c.centroid_accuracy_after.ci95,
                    "query_accuracy_before": c.query_accuracy_before.mean,
                    "query_accuracy_after": c.query_accuracy_after.mean,
                    "query_accuracy_after_ci95": c.query_accuracy_after.ci95,
                    "episodes": c.episodes,
                }
            )
        return _clean(rows)

    def write_json(self, path: str | Path) -> Path:
        """``to_dict`` as a JSON file, written atomically."""
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")
        return path


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` (dicts with the same keys) as a CSV file with a header, written atomically;
    undefined values are empty cells."""
    path = Path(path)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    atomic_write_text(path, buffer.getvalue())
    return path
