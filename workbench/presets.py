"""Named experiment settings shipped in ``resources/presets/*.toml`` (the papers' settings and
the ``demo``), so "cannot reproduce the paper" starts from the paper's numbers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workbench import config as configlib
from workbench.config import ExperimentConfig
from workbench.errors import ConfigError

DEFAULT_PRESET = "demo"


def presets_dir() -> Path:
    """``$WORKBENCH_PRESETS_DIR`` or the project's ``resources/presets``."""
    override = os.environ.get("WORKBENCH_PRESETS_DIR")
    return (
        Path(override)
        if override
        else Path(__file__).resolve().parents[1] / "resources" / "presets"
    )


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    path: Path

    def load(self) -> ExperimentConfig:
        return configlib.load(self.path)


def list_presets() -> list[Preset]:
    out = []
    for path in sorted(presets_dir().glob("*.toml")):
        try:
            description = configlib.load(path).description
        except ConfigError as exc:
            description = f"(unreadable: {exc})"
        out.append(Preset(path.stem, description, path))
    # the demo first: it is what a new user should try
    return sorted(out, key=lambda p: (p.name != DEFAULT_PRESET, p.name))


def load_preset(name: str) -> ExperimentConfig:
    path = presets_dir() / f"{name}.toml"
    if not path.exists():
        known = ", ".join(p.name for p in list_presets())
        raise ConfigError("", f"no preset named {name!r}; presets: {known}")
    return configlib.load(path)


def resolve(config_or_preset: str) -> ExperimentConfig:
    """A TOML file path, or the name of a preset."""
    path = Path(config_or_preset)
    if path.suffix == ".toml" or path.exists():
        return configlib.load(path)
    return load_preset(config_or_preset)
