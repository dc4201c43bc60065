"""What a launch runs: ``torchrun`` itself (`torch.distributed.run.main`, the function behind the
``torchrun`` command), with one addition: when ranks fail, their failures (rank, pid, exit
status or signal, message) are written as JSON to the file named by ``WORKBENCH_FAILURES``, so
the launch can name the rank that died instead of parsing torchrun's log; and when the process
that launched it (``WORKBENCH_PARENT``) is gone (killed, crashed window), it ends as on SIGTERM,
taking its ranks with it, instead of training on unseen: the run is then interrupted.

``python -m workbench.engine.distributed.agent [torchrun options] -m MODULE [args]``
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

#: environment variable naming the JSON file where failures are written
FAILURES_ENV = "WORKBENCH_FAILURES"
#: environment variable holding the launching process's pid
PARENT_ENV = "WORKBENCH_PARENT"


def watch_parent(pid: int, interval: float = 1.0) -> None:
    """SIGTERM to this process (torchrun then ends its ranks) once ``pid`` is no longer its
    parent: the launching process died without ending the launch."""

    def watch() -> None:
        while os.getppid() == pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def failure_records(error: ChildFailedError) -> list[dict[str, object]]:
    """One plain record per failed rank, in rank order."""
    return [
        {
            "rank": rank,
            "local_rank": f.local_rank,
            "pid": f.pid,
            "exitcode": f.exitcode,
            "signal": f.signal_name() if f.exitcode < 0 else "",
            "message": _text(f.message) if f.error_file_data else "",
        }
        for rank, f in sorted(error.failures.items())
    ]


def _text(message: object) -> str:
    """A failure's message: the text itself, or the ``message`` of the error file's record."""
    if isinstance(message, dict):
        return str(message.get("message", ""))
    return str(message or "")


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.run import main as torchrun

    parent = os.environ.get(PARENT_ENV, "")
    if parent.isdigit():
        watch_parent(int(parent))
    try:
        torchrun(argv)
    except ChildFailedError as exc:
        path = os.environ.get(FAILURES_ENV)
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(failure_records(exc), fh)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
