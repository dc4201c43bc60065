"""Does the window stay responsive while training at full speed, and does training keep its speed?

Measures, for one config (default: the demo preset cut to 300 iterations):

* the GUI event loop's largest delay: a 10 ms QTimer probe runs during training through the
  main window (worker thread, live plots redrawn at 15 Hz); its largest lateness is the longest
  time the window could not react (target: under 100 ms);
* training speed in iterations per second through the window versus a headless
  ``Trainer.run`` of the same config (target: at least 90 %). Speed is measured from the
  trainer's STARTED to its FINISHED event, so data loading is excluded and validation and
  checkpoints are included, the same way in both.

Headless runs come before and after each GUI run and are averaged, since other processes on a
shared machine change the speed over minutes; with ``--rounds N`` the median of N such ratios
is reported. The same probe is also run for 10 s with the window idle, to show what the
machine alone costs.

Usage: python benchmarks/gui_responsiveness.py [--iterations 300] [--preset demo] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from workbench.config import parse_overrides  # noqa: E402
from workbench.engine import events as ev  # noqa: E402
from workbench.engine.trainer import Trainer  # noqa: E402
from workbench.presets import load_preset  # noqa: E402


def make_config(preset: str, iterations: int):
    config = load_preset(preset)
    return parse_overrides([f"train.iterations={iterations}"], config).validate()


def prepare(preset: str, iterations: int):
    """Torch threads as the app sets them, and the config; returns (config, threads)."""
    from workbench.gui.app import configure_torch_threads

    threads = configure_torch_threads()
    return make_config(preset, iterations), threads


class RunClock:
    """Times a run from its STARTED event to its end, and counts its iterations."""

    def __init__(self) -> None:
        self.started = self.ended = None
        self.iterations = 0

    def __call__(self, event: ev.TrainerEvent) -> None:
        if event.kind == ev.STARTED:
            self.started = time.perf_counter()
        elif event.kind == ev.ITERATION:
            self.iterations += 1
        elif event.kind in (ev.FINISHED, ev.STOPPED, ev.FAILED):
            self.ended = time.perf_counter()

    @property
    def rate(self) -> float:
        return self.iterations / (self.ended - self.started)


def headless(config, runs_dir: Path) -> float:
    trainer = Trainer.create(config.copy(), runs_dir)
    clock = RunClock()
    trainer.subscribe(clock)
    status = trainer.run()
    if status != ev.FINISHED:
        raise SystemExit(f"headless run {status}")
    return clock.rate


def open_window(config, runs_dir: Path, settings_path: Path):
    """The main window at 1280x800 with ``config`` in its form, as a user would have it
    (settings in a file of its own, so the user's real settings are never touched)."""
    from PySide6.QtCore import QSettings

    from workbench.gui.app import make_application
    from workbench.gui.main_window import MainWindow

    app = make_application()
    window = MainWindow(QSettings(str(settings_path), QSettings.IniFormat))
    window.context.set_runs_dir(runs_dir)
    window.form.set_config(config)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    return app, window


def through_window(config, runs_dir: Path, settings_path: Path) -> dict[str, float]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    app, window = open_window(config, runs_dir, settings_path)

    idle_max = idle_probe(app, seconds=10.0)
    clock = RunClock()
    delays: list[float] = []
    probe_timer = QTimer()
    probe_timer.setTimerType(_precise())
    probe_timer.setInterval(10)
    elapsed = QElapsedTimer()
    state = {"training": False, "last": 0, "event": "", "cpu": 0.0}

    worst: list[tuple[float, float, str]] = []  # (delay ms, at s, last event before it)

    def probe() -> None:
        now = elapsed.nsecsElapsed()
        cpu = time.thread_time()
        if state["training"]:
            delay = (now - state["last"]) / 1e6 - 10.0
            delays.append(delay)
            busy = 1000 * (cpu - state["cpu"])
            worst.append((delay, now / 1e9, f"{state['event']}, GUI thread busy {busy:.0f} ms"))
            worst.sort(reverse=True)
            del worst[5:]
        state["last"] = now
        state["cpu"] = cpu

    def on_event(event: ev.TrainerEvent) -> None:
        # timed on arrival in the GUI thread: late by at most the event-loop delay measured
        # here (milliseconds), against runs of minutes
        clock(event)
        state["event"] = f"{event.kind}@{event.iteration}"
        if event.kind == ev.STARTED:
            state["training"] = True
        elif event.kind in (ev.FINISHED, ev.STOPPED, ev.FAILED):
            state["training"] = False  # what follows (views refreshing) is not training

    loop = QEventLoop()
    window.session.event.connect(on_event)
    window.session.finished.connect(lambda *_: loop.quit())
    probe_timer.timeout.connect(probe)
    elapsed.start()
    probe_timer.start()
    window.start_training()
    loop.exec()
    state["training"] = False
    probe_timer.stop()
    window.close()
    app.processEvents()
    if clock.ended is None:
        raise SystemExit(f"GUI run did not finish: {window.session.last_error}")
    delays.sort()
    return {
        "rate": clock.rate,
        "max_delay_ms": max(delays) if delays else float("nan"),
        "p99_delay_ms": delays[int(0.99 * (len(delays) - 1))] if delays else float("nan"),
        "median_delay_ms": statistics.median(delays) if delays else float("nan"),
        "probes": len(delays),
        "worst": worst,
        "idle_max_delay_ms": idle_max,
    }


def idle_probe(app, seconds: float) -> float:
    """The same probe with the window open and nothing training: what the machine alone costs
    (on a shared, loaded machine the operating system's scheduling delays show here)."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    delays: list[float] = []
    elapsed = QElapsedTimer()
    last = [0]

    def probe() -> None:
        now = elapsed.nsecsElapsed()
        if last[0]:
            delays.append((now - last[0]) / 1e6 - 10.0)
        last[0] = now

    timer = QTimer()
    timer.setTimerType(_precise())
    timer.setInterval(10)
    timer.timeout.connect(probe)
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    elapsed.start()
    timer.start()
    loop.exec()
    timer.stop()
    return max(delays) if delays else float("nan")


def _precise():
    from PySide6.QtCore import Qt

    return Qt.PreciseTimer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--preset", default="demo")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="GUI runs, each between two headless runs (the median ratio is "
        "reported: on a shared machine speed drifts over minutes)",
    )
    args = parser.parse_args(argv)

    config, threads = prepare(args.preset, args.iterations)
    print(
        f"config: preset {args.preset}, {args.iterations} iterations, meta-batch "
        f"{config.train.meta_batch_size}, validation every {config.train.eval_every} "
        f"({config.train.val_episodes} episodes); torch threads {threads}; "
        f"cpu cores {os.cpu_count()}",
        flush=True,
    )
    headless_rates: list[float] = []
    gui_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as tmp:
        tmp_path = Path(tmp)
        headless_rates.append(headless(config, tmp_path / "runs"))
        print(f"headless run 1: {headless_rates[-1]:.2f} it/s", flush=True)
        for round_ in range(1, args.rounds + 1):
            gui = through_window(config, tmp_path / "runs", tmp_path / f"settings{round_}.ini")
            gui_runs.append(gui)
            print(
                f"GUI run {round_}:      {gui['rate']:.2f} it/s; event-loop delay of a 10 ms "
                f"probe: largest {gui['max_delay_ms']:.1f} ms, 99th percentile "
                f"{gui['p99_delay_ms']:.1f} ms, median {gui['median_delay_ms']:.1f} ms "
                f"({gui['probes']} probes)",
                flush=True,
            )
            print(
                f"  same probe, window idle for 10 s before training: largest "
                f"{gui['idle_max_delay_ms']:.1f} ms",
                flush=True,
            )
            print(
                "  largest delays (ms, at s, last trainer event before): "
                + ", ".join(f"{d:.0f} @ {t:.1f}s after {e}" for d, t, e in gui["worst"]),
                flush=True,
            )
            headless_rates.append(headless(config, tmp_path / "runs"))
            print(f"headless run {round_ + 1}: {headless_rates[-1]:.2f} it/s", flush=True)
    # each GUI run against the mean of the headless runs just before and after it
    ratios = [
        g["rate"] / ((headless_rates[i] + headless_rates[i + 1]) / 2)
        for i, g in enumerate(gui_runs)
    ]
    ratio = statistics.median(ratios)
    largest = max(g["max_delay_ms"] for g in gui_runs)
    delay_ok = largest < 100.0
    speed_ok = ratio >= 0.90
    print()
    print(
        f"largest GUI delay: {largest:.1f} ms (target < 100 ms): {'PASS' if delay_ok else 'FAIL'}"
    )
    print(
        "GUI speed / headless speed: "
        + ", ".join(f"{100 * r:.1f}%" for r in ratios)
        + f"; median {100 * ratio:.1f}% (target >= 90%): {'PASS' if speed_ok else 'FAIL'}"
    )
    return 0 if delay_ok and speed_ok else 1


if __name__ == "__main__":
    sys.exit(main())
