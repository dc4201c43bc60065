"""The signals a training worker emits, shared by the in-process and the launched kind."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class TrainingSignals(QObject):
    """What a training worker tells the window, whether it trains in this process
    (`TrainingWorker`) or follows ranks it launched (`LaunchWorker`).

    Signals (emitted from the worker thread; connect them to GUI-thread slots only):
        ready(trainer, run_dir, device, iteration, total, history): the trainer exists,
            training begins; ``history`` is a resumed run's metrics log records (read here,
            before the first new iteration is written, so they never overlap the events).
        dataProgress(fraction, message): data loading progress while the trainer is built.
        event(TrainerEvent): every trainer event, as a plain copy.
        failed(message, details): the trainer could not be built (bad data, broken run folder).
        done(run_dir, status): `run` returned; status is finished, stopped or failed.
    """

    ready = Signal(object, str, str, int, int, object)
    dataProgress = Signal(float, str)
    event = Signal(object)
    failed = Signal(str, str)
    done = Signal(str, str)
