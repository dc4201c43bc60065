"""What the trainer tells its subscribers (the command line's progress bar, the GUI, the run log).

Events carry plain Python numbers only, never tensors: a subscriber in another thread must not
touch the training graph, and an event must be cheap to copy into a Qt signal or a JSON line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

#: kinds of event, in the order a run produces them
STARTED = "started"  # once, values: {} ; message: device and run folder
ITERATION = (
    "iteration"  # every meta-iteration, values: loss, accuracy, pre_loss, pre_accuracy, meta_lr
)
EVALUATION = "evaluation"  # every train.eval_every, values: see Trainer.evaluate_validation
CHECKPOINT = "checkpoint"  # after a checkpoint is written, message: its path
FINISHED = "finished"  # all iterations done
STOPPED = "stopped"  # stopped by the user (a checkpoint was written first)
FAILED = "failed"  # message: readable cause; values may hold "details" text in `details`


@dataclass(frozen=True)
class TrainerEvent:
    """One thing that happened in training.

    Attributes:
        kind: one of the module constants above.
        iteration: meta-iterations completed when the event was sent (1-based after the first).
        total: the run's target number of iterations.
        elapsed: seconds of training so far in this run (resumes continue the count).
        values: named figures, e.g. ``{"loss": 0.71, "accuracy": 0.62, "meta_lr": 0.001}``.
        message: text for people (the failure's cause, a checkpoint's path).
        details: longer text (a traceback) shown only on request.
    """

    kind: str
    iteration: int
    total: int
    elapsed: float
    values: dict[str, float] = field(default_factory=dict)
    message: str = ""
    details: str = ""

    def to_json(self) -> dict:
        return asdict(self)


Subscriber = Callable[[TrainerEvent], None]
