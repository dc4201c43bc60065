"""A distributed training run: the ``torchrun`` command line, and the running launch.

`Launch` starts ``torchrun`` (through `agent`, which is torchrun's own ``main``) as a child
process in a session of its own, so a terminal's Ctrl+C reaches only the launching process,
which decides what it means. It talks to the ranks through a *control folder*: a file ``stop``
or ``pause`` there is seen by every rank of this machine at its next iteration and agreed with
all others (`DistributedContext.agree`), so all ranks stop at the same iteration and rank 0
writes the checkpoint; rank 0 writes the run folder's path there (``run``), and the agent writes
the failures of ranks that died (``failures.json``). `terminate` ends the launch at once
(SIGTERM to torchrun, which passes it on to the ranks): the run is then interrupted and resumes
from its last checkpoint. The GUI's training thread and the command line both use this class.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

import workbench
from workbench import config as configlib
from workbench.config import ExperimentConfig
from workbench.engine.distributed.agent import FAILURES_ENV, PARENT_ENV
from workbench.engine.distributed.context import PAUSE_FILE, STOP_FILE
from workbench.engine.distributed.plan import LaunchPlan
from workbench.engine.distributed.worker import (
    BACKEND_ENV,
    PEER_LOST_EXIT,
    RUN_FILE,
    THREADS_ENV,
    USER_ERROR_EXIT,
)
from workbench.engine.runs import RunStore


def torchrun_arguments(plan: LaunchPlan) -> list[str]:
    """torchrun's options for ``plan``: one machine meets on a free port of the loopback
    interface; several meet at ``rdzv_endpoint`` (static: machine ``--node-rank 0`` hosts it,
    and its first process is rank 0, which writes the run folder)."""
    args = ["--nnodes", str(plan.nnodes), "--nproc-per-node", str(plan.nproc)]
    args += ["--max-restarts", "0", "--monitor-interval", "0.2"]
    if plan.nnodes == 1 and not plan.rdzv_endpoint:
        return args + [
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            "127.0.0.1:0",
            "--rdzv-id",
            plan.rdzv_id,
            "--local-addr",
            "127.0.0.1",
        ]
    args += ["--rdzv-backend", plan.rdzv_backend, "--rdzv-endpoint", plan.rdzv_endpoint]
    if plan.rdzv_backend == "static":
        return args + ["--node-rank", str(plan.node_rank)]
    return args + ["--rdzv-id", plan.rdzv_id]


def _loopback_interface() -> str:
    for name, addresses in psutil.net_if_addrs().items():
        if any(a.address == "127.0.0.1" for a in addresses):
            return name
    return ""


@dataclass(frozen=True)
class RankFailure:
    """A rank that ended badly: its exit status or the signal that killed it, and its message."""

    rank: int
    pid: int
    exitcode: int
    signal: str = ""
    message: str = ""

    @property
    def consequence(self) -> bool:
        """True when this rank only stopped because another one was lost (not a cause)."""
        return self.exitcode == PEER_LOST_EXIT

    def describe(self) -> str:
        who = f"process rank {self.rank} (pid {self.pid})"
        if self.consequence:
            return f"{who} lost contact with the other processes (one stopped elsewhere)"
        if self.signal:
            return f"{who} was killed by {self.signal}"
        if self.reason:
            return f"{who} {'stopped' if self.exitcode == USER_ERROR_EXIT else 'failed'}: " + (
                self.reason
            )
        return f"{who} failed with exit status {self.exitcode}"

    @property
    def reason(self) -> str:
        """The rank's own message, without the exception's class name."""
        first = self.message.splitlines()[0] if self.message else ""
        return re.sub(r"^\w+(Error|Exception): ", "", first)


def failure_causes(failures: list[RankFailure]) -> list[RankFailure]:
    """The failures that caused the end: not ranks torchrun ended (SIGTERM) or that only
    lost their peers, unless nothing else failed."""
    return [f for f in failures if not f.consequence and f.signal != "SIGTERM"] or failures


class Launch:
    """One distributed training: a new run from ``config`` (in ``runs_dir``, named ``name``),
    or ``resume`` of a run folder; `start`, then `poll`/`wait`; `stop`, `pause`, `unpause` and
    `terminate` at any time. ``log`` receives torchrun's and the ranks' output (default: a
    file in the control folder, `log_path`)."""

    def __init__(
        self,
        plan: LaunchPlan,
        config: ExperimentConfig | None = None,
        *,
        runs_dir: str | Path | None = None,
        name: str | None = None,
        resume: str | Path | None = None,
        log: IO[str] | None = None,
    ) -> None:
        if (config is None) == (resume is None):
            raise ValueError("give either a config (a new run) or a run folder to resume")
        self.plan, self.config, self.resume = plan, config, resume
        self.runs_dir, self.name = runs_dir, name
        self.control = Path(tempfile.mkdtemp(prefix="workbench-launch-"))
        self.log_path = self.control / "torchrun.log"
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    # -- starting ------------------------------------------------------------------------------
    def worker_arguments(self) -> list[str]:
        args = ["--control", str(self.control)]
        if self.resume is not None:
            return args + ["--resume", str(Path(self.resume).resolve())]
        assert self.config is not None
        config_file = self.control / "config.toml"
        configlib.save(self.config, config_file)
        args += ["--config", str(config_file)]
        if self.runs_dir is not None:
            args += ["--runs-dir", str(Path(self.runs_dir).resolve())]
        return args + (["--name", self.name] if self.name else [])

    def command(self) -> list[str]:
        """The whole command line: torchrun's options, then the worker module and its own."""
        agent = [sys.executable, "-m", "workbench.engine.distributed.agent"]
        worker = ["-m", "workbench.engine.distributed.worker", *self.worker_arguments()]
        return agent + torchrun_arguments(self.plan) + worker

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        source = str(Path(workbench.__file__).resolve().parents[1])  # this very workbench
        env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
        env[BACKEND_ENV] = self.plan.backend
        env[THREADS_ENV] = str(self.plan.threads)
        env[FAILURES_ENV] = str(self.control / "failures.json")
        env[PARENT_ENV] = str(os.getpid())  # torchrun ends with this process
        if self.plan.nnodes == 1 and "GLOO_SOCKET_IFNAME" not in env and _loopback_interface():
            env["GLOO_SOCKET_IFNAME"] = _loopback_interface()  # one machine: stay on loopback
        return env

    def start(self) -> None:
        command = self.command()
        out = self._log if self._log is not None else open(self.log_path, "w")  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl+C in a terminal goes to the launcher only
            )
        finally:
            if self._log is None:
                out.close()

    # -- while it runs --------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def poll(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def wait(self, timeout: float | None = None) -> int:
        assert self._process is not None, "start() first"
        return self._process.wait(timeout)

    def run_dir(self) -> Path | None:
        """The run folder rank 0 writes (None until it exists, and on machines other than
        rank 0's)."""
        try:
            return Path((self.control / RUN_FILE).read_text().strip())
        except FileNotFoundError:
            return None

    def stop(self) -> None:
        """Every rank stops after the current iteration; rank 0 saves a checkpoint."""
        (self.control / STOP_FILE).touch()

    def pause(self) -> None:
        (self.control / PAUSE_FILE).touch()

    def unpause(self) -> None:
        (self.control / PAUSE_FILE).unlink(missing_ok=True)

    def terminate(self) -> None:
        """End now: torchrun passes SIGTERM to the ranks; the run resumes from its checkpoint."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)

    # -- afterwards -----------------------------------------------------------------------------
    def failures(self) -> list[RankFailure]:
        """The ranks that failed, causes first (a rank that only lost its peers comes last)."""
        try:
            records = json.loads((self.control / "failures.json").read_text())
        except (FileNotFoundError, ValueError):
            return []
        found = [
            RankFailure(
                int(r["rank"]), int(r["pid"]), int(r["exitcode"]), r["signal"], r["message"]
            )
            for r in records
        ]
        return sorted(found, key=lambda f: (f.consequence, f.rank))

    def status(self) -> str:
        """How the run ended, as its summary says (``interrupted`` when a rank died)."""
        run = self.run_dir()
        if run is None:
            return "failed"
        return RunStore(run).status()

    def close(self) -> None:
        """Remove the control folder (keep it after a failure: it holds torchrun's log)."""
        shutil.rmtree(self.control, ignore_errors=True)
