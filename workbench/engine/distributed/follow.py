"""A run's metrics log followed as it grows: the progress of a training that runs elsewhere (in
the ranks of a launch), read as the `TrainerEvent`s the trainer wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

from workbench.engine import events as ev


class MetricsFollower:
    """`poll` returns the events appended to ``run_dir/metrics.jsonl`` since the last call
    (complete lines only). Started on a resumed run, it skips what is already there."""

    def __init__(self, run_dir: str | Path, *, from_end: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self._offset = 0
        self._inode = -1
        if from_end:
            try:
                st = os.stat(self.path)
                self._offset, self._inode = st.st_size, st.st_ino
            except FileNotFoundError:
                pass

    def poll(self) -> list[ev.TrainerEvent]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if st.st_ino != self._inode or st.st_size < self._offset:  # rewritten: start over
            self._offset, self._inode = 0, st.st_ino
        if st.st_size == self._offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read(st.st_size - self._offset)
        end = data.rfind(b"\n") + 1
        self._offset += end
        events = []
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
                events.append(
                    ev.TrainerEvent(
                        str(record["kind"]),
                        int(record["iteration"]),
                        int(record["total"]),
                        float(record["elapsed"]),
                        dict(record.get("values") or {}),
                        str(record.get("message", "")),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue
        return events
