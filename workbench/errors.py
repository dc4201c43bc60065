"""Errors a user can act on.

Every failure that comes from the user's input (a config value, a dataset on disk, a run folder)
is one of these, with a message that names the field, file or numbers involved, so the command
line and the window can show it as it is instead of a traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for errors whose message is meant for the user."""


class ConfigError(WorkbenchError):
    """An invalid configuration value; `field` is the dotted key, e.g. ``data.ways``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)


class DatasetError(WorkbenchError):
    """A dataset that cannot be loaded or sampled; `path` names the file or folder at fault."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class RunError(WorkbenchError):
    """A run folder or checkpoint that cannot be used."""


class TrainingError(WorkbenchError):
    """Training stopped for a reason the user can fix (NaN loss, out of memory, disk full)."""
