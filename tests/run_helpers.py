"""What several test modules share: a short run trained to the end, in a runs folder."""

from __future__ import annotations

from pathlib import Path

from workbench.config import parse_overrides
from workbench.engine.trainer import Trainer
from workbench.presets import load_preset


def train_run(runs_dir: Path, preset: str, overrides: list[str]) -> Path:
    """Train ``preset`` with ``overrides`` in ``runs_dir`` to the end; the run folder."""
    trainer = Trainer.create(parse_overrides(overrides, load_preset(preset)), runs_dir)
    assert trainer.run() == "finished"
    return trainer.store.path
