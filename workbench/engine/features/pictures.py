"""The PNG pictures of a features report, as ``workbench features --out DIR`` writes them.

One file per picture, named by what it shows and by model (``<n>-<model>``: 0 is the run,
1.. its comparison models, in the order given): the first layer's filters, the PCA and t-SNE
embeddings before and after adaptation (one colour per class, both panels on the same axes),
the top and bottom images of the first channels of each layer, saliency maps of query images,
and for all models together the CKA per layer and the separation scores with 95% CIs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from workbench.durable import atomic_open
from workbench.engine.features.filters import normalise
from workbench.engine.features.plots import BarSeries, Panel, bar_picture, scatter_picture
from workbench.engine.features.render import grey_tile, heat_overlay, image_tile, tile_grid
from workbench.engine.features.report import FeaturesReport
from workbench.engine.features.snapshot import ModelFeatures

#: channels per layer shown in a top/bottom picture
CHANNELS_SHOWN = 8


def slug(index: int, label: str) -> str:
    """``0-fomaml-demo`` from a model's position and label: safe in any file system."""
    words = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()
    return f"{index}-{words[:40].rstrip('-') or 'model'}"


def save_png(image: Image.Image, path: Path) -> Path:
    """Write ``image`` atomically (a crash never leaves half a PNG)."""
    with atomic_open(path) as fh:
        image.save(fh, format="PNG")
    return path


def filters_picture(m: ModelFeatures) -> Image.Image:
    """Every first-layer unit's weights on every input channel, 0.5 grey = zero weight."""
    bank = m.filters
    grey = normalise(bank.weights)
    side = bank.weights.shape[-1]
    scale = max(2, 32 // side)
    tiles = [
        grey_tile(grey[u, c], scale) for u in range(bank.units) for c in range(bank.in_channels)
    ]
    columns = bank.in_channels * max(1, 16 // bank.in_channels) if side >= 16 else 8
    kind = f"{side}x{side} kernels" if bank.kind == "conv" else f"{side}x{side} input weights"
    return tile_grid(tiles, columns, 3, f"{m.label}: first layer ({bank.units} units, {kind})")


def embedding_picture(m: ModelFeatures, report: FeaturesReport, method: str) -> Image.Image:
    """Before/after panels of one projection on shared axes."""
    labels = report.probe.labels.tolist()
    if method == "pca":
        ratio = m.pca_axes.explained_variance_ratio
        pts = (m.pca_before, m.pca_after)
        what = f"PCA (axes fitted before adaptation, {100 * ratio[:2].sum():.0f}% of variance)"
    else:
        assert m.tsne_before is not None and m.tsne_after is not None
        pts, what = (m.tsne_before, m.tsne_after), "t-SNE (openTSNE)"
    sb, sa = m.separation_before, m.separation_after
    panels = [
        Panel(
            f"before: silhouette {sb.silhouette:.2f}, NC acc {sb.centroid_accuracy:.0%}",
            pts[0],
            labels,
        ),
        Panel(
            f"after {report.steps} steps: silhouette {sa.silhouette:.2f}, "
            f"NC acc {sa.centroid_accuracy:.0%}",
            pts[1],
            labels,
        ),
    ]
    return scatter_picture(panels, report.probe.class_names, f"{m.label}: {what}")


def extremes_picture(m: ModelFeatures, report: FeaturesReport, layer: str) -> Image.Image:
    """For the first channels of ``layer``: its top images, then its bottom images."""
    images = report.probe.images.numpy()
    rows = m.extremes[layer][:CHANNELS_SHOWN]
    k = len(rows[0].top) if rows else 0
    scale = max(1, 40 // images.shape[-1])
    blank = Image.new("RGB", (images.shape[-1] * scale, images.shape[-2] * scale), (255, 255, 255))
    tiles = []
    for ex in rows:
        tiles += [image_tile(images[i], scale) for i in ex.top]
        tiles += [blank] + [image_tile(images[i], scale) for i in ex.bottom]
    title = f"{m.label}: {layer}, channels 0-{len(rows) - 1}: top {k} | bottom {k} images"
    return tile_grid(tiles, 2 * k + 1, 3, title)


def saliency_picture(m: ModelFeatures, report: FeaturesReport) -> Image.Image:
    """Per class one query image, its saliency and (if computed) its SmoothGrad saliency."""
    queries = report.episode.query_x.numpy()
    scale = max(1, 84 // queries.shape[-1])
    rows = [[image_tile(queries[s.index], scale) for s in m.saliency]]
    rows.append([heat_overlay(queries[s.index], s.heat(), scale) for s in m.saliency])
    if m.smoothgrad:
        rows.append([heat_overlay(queries[s.index], s.heat(), scale) for s in m.smoothgrad])
    tiles = [t for row in rows for t in row]
    what = "image / gradient" + (
        f" / SmoothGrad ({m.smoothgrad[0].samples} samples)" if m.smoothgrad else ""
    )
    return tile_grid(tiles, len(m.saliency), 4, f"{m.label}: saliency after adaptation ({what})")


def cka_picture(report: FeaturesReport) -> Image.Image | None:
    """CKA per layer before vs after adaptation, one colour per model, 95% CI error bars."""
    changes = [(m, c) for m, c in zip(report.models, report.changes) if c is not None]
    if not changes:
        return None
    layers = max((c.layers for _, c in changes), key=len)
    series = [
        BarSeries(
            m.label,
            [c.cka[n].mean if n in c.cka else None for n in layers],
            [c.cka[n].ci95 if n in c.cka else None for n in layers],
        )
        for m, c in changes
    ]
    n = changes[0][1].episodes
    title = f"Linear CKA before vs after adaptation (mean, 95% CI over {n} episodes)"
    return bar_picture(layers, series, title, "CKA")


def separation_picture(report: FeaturesReport) -> Image.Image | None:
    """Silhouette and nearest-centroid accuracy before and after adaptation, per model."""
    changes = [(m, c) for m, c in zip(report.models, report.changes) if c is not None]
    if not changes:
        return None
    groups = ["silhouette before", "silhouette after", "NC acc before", "NC acc after"]
    series = [
        BarSeries(
            m.label,
            [
                c.separation_before.silhouette,
                c.silhouette_after.mean,
                c.separation_before.centroid_accuracy,
                c.centroid_accuracy_after.mean,
            ],
            [0.0, c.silhouette_after.ci95, 0.0, c.centroid_accuracy_after.ci95],
        )
        for m, c in changes
    ]
    low = min(0.0, *(v for s in series for v in s.values if v is not None))
    title = f"Class separation of the penultimate features ({changes[0][1].episodes} episodes)"
    return bar_picture(groups, series, title, "score", (float(np.floor(low * 10) / 10), 1.0))


def write_pictures(report: FeaturesReport, out: str | Path) -> list[Path]:
    """Every picture of ``report`` as a PNG in ``out`` (created); returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, m in enumerate(report.models):
        name = slug(i, m.label)
        written.append(save_png(filters_picture(m), out / f"filters-{name}.png"))
        written.append(save_png(embedding_picture(m, report, "pca"), out / f"pca-{name}.png"))
        if m.tsne_before is not None:
            written.append(save_png(embedding_picture(m, report, "tsne"), out / f"tsne-{name}.png"))
        for layer in m.extremes:
            path = out / f"top-bottom-{name}-{layer}.png"
            written.append(save_png(extremes_picture(m, report, layer), path))
        written.append(save_png(saliency_picture(m, report), out / f"saliency-{name}.png"))
    for picture, file in (
        (cka_picture(report), "cka.png"),
        (separation_picture(report), "separation.png"),
    ):
        if picture is not None:
            written.append(save_png(picture, out / file))
    return written
