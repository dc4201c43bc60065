"""Where a sweep's study lives, and opening it: a journal file (one machine, or a shared file
system) or a database (PostgreSQL) that workers on several machines share.

Optuna assigns the trials; this module only says where the study is, checks that a sweep
started again is the same sweep, and keeps the stored description in the study's user
attributes (`SweepSpec.stored`).
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage

from workbench.engine.sweeps.bookkeeping import requeue
from workbench.engine.sweeps.spec import STORED_KEY, SweepError, SweepSpec, stored_spec

#: the folder of journal files inside the runs folder (hidden: the runs list skips it)
JOURNAL_DIR = ".sweeps"
#: a database worker proves it is alive this often (seconds); silent for GRACE, its trial fails
HEARTBEAT = 20
GRACE = 90
_DATABASE = re.compile(r"^(postgresql|postgres|mysql|sqlite)(\+[a-z0-9_]+)?://", re.IGNORECASE)


def is_database_url(text: str) -> bool:
    return bool(_DATABASE.match(text))


def storage_location(storage: str | None, name: str, runs_dir: Path) -> str:
    """The study's storage as text: a database URL, or the path of a journal file (None: in
    the runs folder; an existing folder: a journal named after the sweep inside it)."""
    if not storage:
        return str(Path(runs_dir) / JOURNAL_DIR / f"{name}.journal")
    if is_database_url(storage):
        return storage
    if "://" in storage:
        raise SweepError(
            f"--storage {storage.split('://')[0]}://...: use a postgresql:// URL or the path of "
            "a journal file on a shared file system"
        )
    path = Path(storage).expanduser()
    return str(path / f"{name}.journal" if path.is_dir() else path)


def display_location(location: str) -> str:
    """The location without a database password (for messages and logs)."""
    if not is_database_url(location):
        return location
    from sqlalchemy.engine import make_url

    try:
        return make_url(location).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: show only its scheme
        return location.split("://")[0] + "://..."


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; use psycopg 3 when only it is installed."""
    scheme, rest = url.split("://", 1)
    if scheme.lower() in ("postgresql", "postgres") and not importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg://" + rest
    return url


def open_storage(location: str) -> BaseStorage:
    """The Optuna storage at ``location`` (see `storage_location`); SweepError if unreachable."""
    if is_database_url(location):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    _with_driver(location),
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=HEARTBEAT,
                    grace_period=GRACE,
                    heartbeat_stale_trial_callback=requeue,
                )
        except Exception as exc:  # driver missing, server down, bad credentials
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SweepError(
                f"cannot open the sweep database {display_location(location)}: {first}"
            ) from None
    path = Path(location)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise SweepError(f"cannot open the sweep journal {path}: {exc.strerror or exc}") from None


def open_study(spec: SweepSpec, location: str) -> optuna.Study:
    """Create the sweep's study, or load it if it exists (a sweep started again continues);
    refuses a study of the same name that searches something else."""
    storage = open_storage(location)
    study = optuna.create_study(
        storage=storage,
        study_name=spec.name,
        direction=spec.direction,
        load_if_exists=True,
    )
    wanted = spec.stored()
    stored = study.user_attrs.get(STORED_KEY)
    if stored is None:
        study.set_user_attr(STORED_KEY, wanted)
        return study
    differences = [
        what
        for what, key in (("base config", "config"), ("parameters", "params"), ("metric", "metric"))
        if stored.get(key) != wanted[key]
    ]
    if differences:
        raise SweepError(
            f"a sweep named {spec.name} already exists in {display_location(location)} with "
            f"another {' and '.join(differences)}; give this one another --name, or repeat "
            "the first sweep's command to continue it"
        )
    if stored.get("trials") != wanted["trials"] or stored.get("pruner") != wanted["pruner"]:
        study.set_user_attr(STORED_KEY, {**stored, **wanted})
    return study


def load_study(name: str, location: str) -> optuna.Study:
    """An existing sweep's study (for ``--join`` and for reading results)."""
    if not is_database_url(location) and not Path(location).is_file():
        raise SweepError(f"no sweep journal at {location}")
    storage = open_storage(location)
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = optuna.study.get_all_study_names(storage)
        known = f"; sweeps there: {', '.join(names)}" if names else "; it holds no sweeps"
        raise SweepError(f"no sweep named {name} in {display_location(location)}{known}") from None
    stored_spec(study)  # a study some other program made is refused here
    return study
