"""The probe images' features for TensorBoard's embedding projector: one embedding per model
and moment (before and after adaptation), each with its class labels and the images as a
sprite, written by TensorBoard's own writer so TensorBoard reads them as it reads its own."""

from __future__ import annotations

import re
from pathlib import Path

from workbench.engine.features.report import FeaturesReport
from workbench.errors import WorkbenchError


def _tag(label: str, moment: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label}-{moment}").strip("_")


def write_projector(report: FeaturesReport, folder: str | Path) -> Path:
    """Write the penultimate features of every model, before and after adaptation, to
    ``folder`` (open it with ``tensorboard --logdir FOLDER``, Projector tab)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise WorkbenchError(
            "the TensorBoard projector export needs the tensorboard package: "
            "pip install 'workbench[tensorboard]'"
        ) from None
    folder = Path(folder)
    probe = report.probe
    labels = [probe.class_names[int(c)] for c in probe.labels]
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for m in report.models:
            for moment, features in (("before", m.features_before), ("after", m.features_after)):
                writer.add_embedding(
                    features.detach().cpu().float(),
                    metadata=labels,
                    label_img=probe.images.float(),
                    tag=_tag(m.label, moment),
                )
    finally:
        writer.close()
    return folder


__all__ = ["write_projector"]
