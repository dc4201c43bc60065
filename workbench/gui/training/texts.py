"""The words of the Training view: the header's line of latest numbers and the log's entries."""

from __future__ import annotations

from workbench.engine import events as ev
from workbench.engine.progress import format_duration
from workbench.gui.training.series import RunSeries


def percent(value: float | None) -> str:
    return "–" if value is None or value != value else f"{100 * value:.1f}%"


def stats_text(run: RunSeries) -> str:
    """The header line: iteration, latest loss and accuracy, latest validation result."""
    parts = [
        f"Iteration {run.iteration:,} / {run.total:,}"
        if run.total
        else f"Iteration {run.iteration:,}"
    ]
    last = run.last
    if "loss" in last:
        parts.append(f"loss {last['loss']:.3f}")
    if "accuracy" in last:
        parts.append(f"accuracy {percent(last['accuracy'])}")
    v = run.last_val
    if "val_query_accuracy_post" in v:
        parts.append(
            f"validation {percent(v['val_query_accuracy_post'])} ± {percent(v.get('val_ci95'))}"
            f" (before: {percent(v.get('val_query_accuracy_pre'))})"
        )
    elif "val_query_loss_post" in v:
        parts.append(
            f"validation MSE {v['val_query_loss_post']:.3f} "
            f"(before: {v.get('val_query_loss_pre', float('nan')):.3f})"
        )
    return "   ·   ".join(parts)


def evaluation_text(event: ev.TrainerEvent) -> str:
    v = event.values
    if "val_query_accuracy_post" in v:
        return (
            f"Validation @ {event.iteration}: query accuracy "
            f"{percent(v['val_query_accuracy_pre'])} before → "
            f"{percent(v['val_query_accuracy_post'])} ± {percent(v.get('val_ci95'))} after "
            f"adaptation (support {percent(v.get('val_support_accuracy_pre'))} → "
            f"{percent(v.get('val_support_accuracy_post'))})"
        )
    return (
        f"Validation @ {event.iteration}: query MSE "
        f"{v.get('val_query_loss_pre', float('nan')):.4f} before → "
        f"{v.get('val_query_loss_post', float('nan')):.4f} after adaptation"
    )


def log_text(event: ev.TrainerEvent) -> str | None:
    """The log's line for an event that is not a point of a curve (None: nothing to log)."""
    if event.kind == ev.STARTED:
        return f"Started: {event.message}"
    if event.kind == ev.CHECKPOINT:
        return f"Checkpoint saved at iteration {event.iteration}"
    if event.kind in (ev.FINISHED, ev.STOPPED):
        return (
            f"{event.kind.capitalize()} after {event.iteration} iterations "
            f"({format_duration(event.elapsed)} of training)"
        )
    if event.kind == ev.FAILED:
        return f"Failed: {event.message}"
    return None
