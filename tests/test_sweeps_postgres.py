"""The sweep of test_sweeps against a real PostgreSQL server, started by the test in a
temporary folder (Debian's ``postgresql`` package: ``.ci/run`` installs it when missing).
Skipped, with the reason, where no server can be started."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sweep_helpers import check_completed_sweep, sweep_argv

from workbench.cli import main
from workbench.engine.sweeps import best_trial_config, load_trials

NAME = "demo-inner_lr-meta_lr"


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> tuple[list[str], int | None]:
    """The command prefix that runs the server as a non-root user (initdb refuses root)."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root and runuser is missing: cannot start PostgreSQL as non-root")
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("running as root and there is no user 'nobody' to run PostgreSQL as")
    return [runuser, "-u", "nobody", "--"], uid


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        pytest.skip(f"cannot start PostgreSQL ({what} failed): {' | '.join(tail)}")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl not found (install Debian's postgresql package)")
    prefix, uid = _as_user()
    # not under pytest's tmp folder: the server's user must be able to reach it
    folder = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    data = folder / "data"
    if uid is not None:
        os.chown(folder, uid, -1)
    port = _free_port()
    try:
        _run([*prefix, initdb, "-D", str(data), "-U", "postgres", "-A", "trust"], "initdb")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(folder / "server.log")
        _run([*prefix, pg_ctl, "-D", str(data), "-o", options, "-l", log, "-w", "start"], "pg_ctl")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(folder, ignore_errors=True)


def test_sweep_on_postgresql(postgres_url, tmp_path, capsys) -> None:
    assert main(sweep_argv(tmp_path, "--storage", postgres_url, trials=4, workers=2)) == 0
    out = capsys.readouterr().out
    assert "study in postgresql" in out and f"--join {NAME} --storage" in out
    assert not (tmp_path / ".sweeps").exists()  # the study is in the database, not a journal
    rows = load_trials(NAME, postgres_url)
    best = check_completed_sweep(rows, NAME, 4)
    assert len({r.worker for r in rows}) == 2
    assert (
        best_trial_config(NAME, postgres_url).algorithm.inner_lr
        == best.params["algorithm.inner_lr"]
    )
    # a worker joining the finished sweep finds nothing left to do
    assert (
        main(["sweep", "--join", NAME, "--storage", postgres_url, "--runs-dir", str(tmp_path)]) == 0
    )
    assert len(load_trials(NAME, postgres_url)) == 4
