"""Is the process that wrote a ``running`` summary still alive?

A run whose summary says ``running`` but whose process is gone was interrupted (killed, power
cut) and can be resumed. A pid alone cannot say so: after a reboot, or once pids wrap around, the
recorded pid may belong to an unrelated process. The summary therefore records the process's
identity as psutil sees it, its pid *and* its creation time; the run is alive only while a
process with that pid and that creation time exists.
"""

from __future__ import annotations

import functools
import os
import socket
from typing import Any

import psutil

#: how far two readings of one process's creation time may differ. psutil derives it from the
#: boot time in whole seconds, which a step of the system clock (NTP, a manual fix) moves; a pid
#: reused by a process created within this margin of the first is not a realistic case.
CREATED_TOLERANCE = 1.0

#: the summary keys an older version wrote (boot id and /proc start ticks), dropped on rewrite
LEGACY_KEYS = ("boot_id", "pid_start")


@functools.cache
def process_identity() -> dict[str, Any]:
    """What a ``running`` summary records so others can tell whether this process still lives."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "pid_created": psutil.Process().create_time(),
    }


def process_alive(summary: dict[str, Any]) -> bool:
    """Whether the process recorded in a ``running`` summary still runs.

    A run of another machine (shared folder) is assumed alive, since its processes cannot be
    seen from here. On this machine, a missing pid, a zombie, a pid now owned by a process
    created at another time, or a summary without a creation time (an older format, or a
    damaged file) all mean the run's process is gone.
    """
    try:
        pid = int(summary.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    host = summary.get("host", "")
    if host and host != socket.gethostname():
        return True
    recorded = summary.get("pid_created")
    if not isinstance(recorded, (int, float)) or isinstance(recorded, bool):
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped
            return False
        created = process.create_time()
    except psutil.NoSuchProcess:  # includes ZombieProcess
        return False
    except psutil.AccessDenied:  # exists, owned by someone who hides it from us: trust it
        return True
    return abs(created - recorded) <= CREATED_TOLERANCE
