"""What a launch runs: ``torchrun`` itself (`torch.distributed.run.main`, the function behind the
``torchrun`` command), with one addition: when ranks fail, their failures (rank, pid, exit
status or signal, message) are written as JSON to the file named by ``WORKBENCH_FAILURES``, so
the launch can name the rank that died instead of parsing torchrun's log.

``python -m workbench.engine.distributed.agent [torchrun options] -m MODULE [args]``
"""

from __future__ import annotations

import json
import os
import sys

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

#: environment variable naming the JSON file where failures are written
FAILURES_ENV = "WORKBENCH_FAILURES"


def failure_records(error: ChildFailedError) -> list[dict[str, object]]:
    """One plain record per failed rank, in rank order."""
    return [
        {
            "rank": rank,
            "local_rank": f.local_rank,
            "pid": f.pid,
            "exitcode": f.exitcode,
            "signal": f.signal_name() if f.exitcode < 0 else "",
            "message": f.message if f.error_file_data else "",
        }
        for rank, f in sorted(error.failures.items())
    ]


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.run import main as torchrun

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
