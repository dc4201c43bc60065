"""Run folders: everything a run leaves on disk, written so that a crash loses nothing saved.

A run is a folder::

    config.toml            the experiment, as TOML (the form can load it again: "clone")
    metrics.jsonl          one JSON object per trainer event, appended and flushed as written
    checkpoints/last.pt    the latest state (written atomically: `workbench.durable`)
    checkpoints/best.pt    the state with the best validation result so far
    summary.json           status, iterations, best and test results, times (rewritten atomically
                           under a file lock, ``.summary.lock``)

A run whose summary says ``running`` but whose process is gone was interrupted (killed, power
cut); it can be resumed from ``last.pt``.

``store`` is one run folder, ``listing`` the runs list, ``metrics`` the incremental scan of the
log behind it, ``liveness`` whether a run's process still lives.
"""

from workbench.engine.runs.listing import (
    RunInfo,
    delete_run,
    is_run_folder,
    list_runs,
    protocol_text,
    run_info,
)
from workbench.engine.runs.liveness import process_alive, process_identity
from workbench.engine.runs.metrics import MetricsScan, scan_metrics
from workbench.engine.runs.store import (
    CHECKPOINT_FORMAT,
    STATUSES,
    RunStore,
    check_writable,
    default_runs_dir,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "STATUSES",
    "MetricsScan",
    "RunInfo",
    "RunStore",
    "check_writable",
    "default_runs_dir",
    "delete_run",
    "is_run_folder",
    "list_runs",
    "process_alive",
    "process_identity",
    "protocol_text",
    "run_info",
    "scan_metrics",
]
