"""Long-run soak: the window trains the demo for 20,000 iterations offscreen.

What an overnight run through the GUI costs, measured instead of hoped for:

* memory (resident set size) when training starts, after warming up, every ``--report``
  iterations and at the end, with the number of live Python objects next to it, so a leak in
  the live plots, the log or the event queue shows as growth;
* the GUI event loop's largest delay (a 10 ms ``QTimer`` probe, as in
  ``gui_responsiveness.py``) over the whole run and per reporting window, so a window that gets
  slower as its curves grow shows as rising figures;
* the training speed per reporting window, so a run that slows down over time shows too.

Nothing here is timed against a target inside the test suite: this is a benchmark, its figures
go in the notes. Usage::

    python benchmarks/gui_soak.py                     # the demo, 20,000 iterations (about 2 h)
    python benchmarks/gui_soak.py --iterations 2000   # a shorter look
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gui_responsiveness import _precise, open_window, prepare  # noqa: E402

from workbench.engine import events as ev  # noqa: E402
from workbench.engine.progress import format_duration  # noqa: E402


def rss_mb() -> float:
    """Current resident memory of this process, in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Window:
    """Figures of one reporting window: largest probe delay and iterations done."""

    def __init__(self, start_iteration: int, now: float) -> None:
        self.start_iteration = start_iteration
        self.start_time = now
        self.max_delay_ms = 0.0


def soak(config, runs_dir: Path, settings_path: Path, report_every: int, warmup: int) -> dict:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    app, window = open_window(config, runs_dir, settings_path)

    figures: dict = {"rows": [], "max_delay_ms": 0.0, "delays_over_50ms": 0, "probes": 0}
    state = {"training": False, "last": 0, "iteration": 0, "status": ""}
    elapsed = QElapsedTimer()
    current = Window(0, time.perf_counter())

    def probe() -> None:
        now = elapsed.nsecsElapsed()
        if state["training"] and state["last"]:
            delay = (now - state["last"]) / 1e6 - 10.0
            figures["probes"] += 1
            figures["max_delay_ms"] = max(figures["max_delay_ms"], delay)
            current.max_delay_ms = max(current.max_delay_ms, delay)
            if delay > 50.0:
                figures["delays_over_50ms"] += 1
        state["last"] = now

    def row(iteration: int) -> None:
        nonlocal current
        now = time.perf_counter()
        done = iteration - current.start_iteration
        rate = done / (now - current.start_time) if now > current.start_time else 0.0
        objects = len(gc.get_objects())
        figures["rows"].append((iteration, rss_mb(), objects, current.max_delay_ms, rate))
        total = config.train.iterations
        eta = (total - iteration) / rate if rate > 0 else float("nan")
        print(
            f"iteration {iteration:6d}: RSS {rss_mb():7.1f} MB, {objects:8d} Python objects, "
            f"largest delay {current.max_delay_ms:6.1f} ms, {rate:5.2f} it/s"
            + (f", about {format_duration(eta)} left" if iteration < total else ""),
            flush=True,
        )
        current = Window(iteration, now)

    def on_event(event: ev.TrainerEvent) -> None:
        if event.kind == ev.STARTED:
            state["training"] = True
            figures["rss_started"] = rss_mb()
            figures["objects_started"] = len(gc.get_objects())
            figures["t_started"] = time.perf_counter()
            row(0)
        elif event.kind == ev.ITERATION:
            state["iteration"] = event.iteration
            if event.iteration == warmup:
                figures["rss_warm"] = rss_mb()
                figures["objects_warm"] = len(gc.get_objects())
            if event.iteration % report_every == 0:
                row(event.iteration)
        elif event.kind in (ev.FINISHED, ev.STOPPED, ev.FAILED):
            state["training"] = False
            state["status"] = event.kind
            figures["t_ended"] = time.perf_counter()

    loop = QEventLoop()
    window.session.event.connect(on_event)
    window.session.finished.connect(lambda *_: loop.quit())
    probe_timer = QTimer()
    probe_timer.setTimerType(_precise())
    probe_timer.setInterval(10)
    probe_timer.timeout.connect(probe)
    elapsed.start()
    probe_timer.start()
    window.start_training()
    loop.exec()
    probe_timer.stop()
    app.processEvents()
    gc.collect()
    figures["rss_end"] = rss_mb()
    figures["objects_end"] = len(gc.get_objects())
    figures["status"] = state["status"]
    figures["iterations"] = state["iteration"]
    figures["error"] = window.session.last_error
    window.close()
    app.processEvents()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--preset", default="demo")
    parser.add_argument(
        "--report",
        type=int,
        default=1000,
        help="print memory, delay and speed every this many iterations",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="iteration after which memory counts as warmed up (caches, "
        "allocator pools and the first validation are in place)",
    )
    args = parser.parse_args(argv)

    config, threads = prepare(args.preset, args.iterations)
    print(
        f"soak: preset {args.preset}, {args.iterations} iterations through the main window "
        f"(offscreen, 1280x800), validation every {config.train.eval_every} "
        f"({config.train.val_episodes} episodes); torch threads {threads}; "
        f"cpu cores {os.cpu_count()}; RSS before the window {rss_mb():.1f} MB",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="workbench-soak-") as tmp:
        tmp_path = Path(tmp)
        f = soak(
            config,
            tmp_path / "runs",
            tmp_path / "settings.ini",
            args.report,
            min(args.warmup, args.iterations),
        )
    print()
    if f["status"] != ev.FINISHED:
        print(f"the run did not finish: {f['status']} {f['error']}")
        return 1
    seconds = f["t_ended"] - f["t_started"]
    warm = f.get("rss_warm", f["rss_started"])
    growth = f["rss_end"] - warm
    print(
        f"finished {f['iterations']} iterations in {format_duration(seconds)} "
        f"({f['iterations'] / seconds:.2f} it/s including validation and checkpoints)"
    )
    print(
        f"memory: {f['rss_started']:.1f} MB when training started, {warm:.1f} MB after "
        f"iteration {args.warmup}, {f['rss_end']:.1f} MB at the end "
        f"({growth:+.1f} MB, {100 * growth / warm:+.1f}% since warm-up)"
    )
    print(
        f"Python objects: {f['objects_started']} at start, "
        f"{f.get('objects_warm', f['objects_started'])} after warm-up, {f['objects_end']} "
        "at the end"
    )
    print(
        f"event loop: largest delay {f['max_delay_ms']:.1f} ms over {f['probes']} probes "
        f"of 10 ms; {f['delays_over_50ms']} delays over 50 ms"
    )
    rows = f["rows"][1:]
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print(
            f"speed: {first[4]:.2f} it/s in the first {args.report} iterations, "
            f"{last[4]:.2f} it/s in the last; largest delay {first[3]:.1f} ms then "
            f"{last[3]:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
