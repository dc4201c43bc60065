"""Progress and cancel for the long computations of the features analysis.

The contract is two plain callables, so the engine never knows who listens: ``progress(fraction,
text)`` with ``fraction`` in [0, 1], and ``cancelled() -> bool``, asked between stages and, where
the library allows, between iterations (openTSNE calls back every few iterations; CKA is checked
between episodes). A GUI wraps its ``BackgroundTask`` state::

    analyse(request, progress=lambda f, t: state.progress(int(1000 * f), 1000, t),
            cancelled=lambda: state.cancelled)

A cancelled computation raises `Cancelled`; nothing half-made is returned.
"""

from __future__ import annotations

from collections.abc import Callable

from workbench.errors import WorkbenchError

#: ``progress(fraction, text)``: how far a computation is, and what it does now
ProgressFn = Callable[[float, str], None]
#: ``cancelled()``: whether the caller asked the computation to stop
CancelledFn = Callable[[], bool]


class Cancelled(WorkbenchError):
    """The computation stopped because its caller asked it to (not a failure)."""

    def __init__(self, what: str = "the analysis") -> None:
        super().__init__(f"{what} was cancelled")


def no_progress(fraction: float, text: str) -> None:  # noqa: ARG001 - the default listener
    """A listener that ignores progress."""


def never_cancelled() -> bool:
    """A cancel flag that is never set."""
    return False


def check(cancelled: CancelledFn | None, what: str = "the analysis") -> None:
    """Raise `Cancelled` when ``cancelled()`` says so (a no-op for ``None``)."""
    if cancelled is not None and cancelled():
        raise Cancelled(what)


def part(progress: ProgressFn | None, start: float, end: float) -> ProgressFn:
    """A listener for one stage of a larger computation: its 0..1 is the caller's
    ``start``..``end``, so stages can report without knowing where they sit in the whole."""
    report = progress or no_progress
    width = end - start

    def forward(fraction: float, text: str) -> None:
        report(start + width * min(1.0, max(0.0, fraction)), text)

    return forward
