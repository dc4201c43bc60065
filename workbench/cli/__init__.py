"""The ``workbench`` command: the window with no arguments, the engine without one otherwise.

Every error a user can cause (a bad value, a missing dataset, a broken run folder) is printed as
one readable line and exits with status 2; a traceback only ever means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from workbench.engine import events as ev
from workbench.engine.progress import RateMeter, format_duration
from workbench.errors import ConfigError, WorkbenchError

if TYPE_CHECKING:
    from tqdm import tqdm


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbench",
        description="Meta-Learning Workbench: train, inspect and demonstrate few-shot "
        "meta-learning. With no command, opens the window.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    g = sub.add_parser("gui", help="open the window (the default)")
    g.add_argument("config", nargs="?", help="a TOML file or preset to open in the form")
    _add_train(sub.add_parser("train", help="train a new run from a config file or preset"))
    r = sub.add_parser("resume", help="continue a stopped or interrupted run")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_eval(
        sub.add_parser("eval", help="evaluate a run with the standard protocol (mean ± 95%% CI)")
    )
    _add_episodes(sub.add_parser("episodes", help="write a picture of one episode"))
    sub.add_parser("presets", help="list the presets")
    _add_screenshot(
        sub.add_parser(
            "screenshot", help="train the demo briefly offscreen and save a PNG of each view"
        )
    )
    _add_runs(sub.add_parser("runs", help="list the runs in the runs folder, or export some"))
    for name in COMMAND_MODULES:
        importlib.import_module(f"workbench.cli.{name}").register(sub)
    return p


#: commands that live in a module of their own (``workbench/cli/<name>.py``): each has
#: ``register(subparsers)``, which adds its parser and sets ``handler`` to the function that runs it
COMMAND_MODULES: tuple[str, ...] = ("sweep",)


def _add_train(t: argparse.ArgumentParser) -> None:
    t.add_argument("config", help="a TOML file, or a preset name (see `workbench presets`)")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value, e.g. --set train.iterations=500 (repeatable)",
    )
    t.add_argument(
        "--runs-dir",
        type=Path,
        default=None,
        help="folder of runs (default $WORKBENCH_RUNS_DIR or ~/workbench-runs)",
    )
    t.add_argument("--name", default=None, help="a name for the run folder")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_eval(e: argparse.ArgumentParser) -> None:
    e.add_argument("run_dir", type=Path)
    e.add_argument(
        "--episodes", type=int, default=None, help="test episodes (default eval.episodes)"
    )
    e.add_argument("--steps", type=int, default=None, help="inner steps (default eval.inner_steps)")
    e.add_argument("--split", default=None, choices=("train", "val", "test", "all"))
    e.add_argument("--checkpoint", default="best", choices=("best", "last"))
    e.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="data.KEY=VALUE",
        help="evaluate on other data: another dataset, path, ways or shots",
    )
    e.add_argument("--json", action="store_true", help="print the result as one JSON line last")


def _add_episodes(ep: argparse.ArgumentParser) -> None:
    ep.add_argument("config", nargs="?", default="demo", help="TOML file or preset (default demo)")
    ep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ep.add_argument("--split", default="train", choices=("train", "val", "test", "all"))
    ep.add_argument("--index", type=int, default=0)
    ep.add_argument("--seed", type=int, default=None, help="episode seed (default train.seed)")
    ep.add_argument("--out", type=Path, required=True, help="PNG file to write")


def _add_screenshot(sc: argparse.ArgumentParser) -> None:
    sc.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    sc.add_argument("--theme", default="light", choices=("light", "dark"))
    sc.add_argument("--size", default="1280x800", help="window size, WIDTHxHEIGHT")
    sc.add_argument("--presentation", action="store_true", help="presentation mode")
    sc.add_argument("--iterations", type=int, default=60, help="demo iterations (default 60)")


def _add_runs(ls: argparse.ArgumentParser) -> None:
    ls.add_argument("--runs-dir", type=Path, default=None)
    ls.add_argument(
        "run_dirs",
        nargs="*",
        type=Path,
        metavar="RUN",
        help="run folders to export (default: every run in the runs folder)",
    )
    ls.add_argument(
        "--export-md",
        type=Path,
        metavar="FILE",
        help="write a Markdown comparison table (hyperparameters and results)",
    )
    ls.add_argument(
        "--export-csv",
        type=Path,
        metavar="FILE",
        help="write the comparison table as CSV (full precision)",
    )
    ls.add_argument("--curves", type=Path, metavar="FILE", help="write the runs' curves as CSV")
    ls.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="write TensorBoard event files (needs the tensorboard package)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "gui"
    try:
        if command == "gui":
            from workbench.gui.app import run_app

            return run_app(getattr(args, "config", None))
        handler = {
            "train": _train,
            "resume": _resume,
            "eval": _eval,
            "episodes": _episodes,
            "presets": _presets,
            "runs": _runs,
            "screenshot": _screenshot,
        }.get(command) or args.handler
        return handler(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# -- train / resume ---------------------------------------------------------------------------


class ProgressPrinter:
    """Training progress on stderr: a tqdm bar (iteration, loss, accuracy, rate, ETA) on a
    terminal; elsewhere (a log file, a pipe) one plain line every few seconds."""

    #: seconds between two plain progress lines when stderr is not a terminal
    LOG_INTERVAL = 5.0

    def __init__(self, stream: IO[str] | None = None, quiet: bool = False) -> None:
        # sys.stderr looked up now, not at import: it may have been replaced since
        self.stream, self.quiet = stream or sys.stderr, quiet
        self._tty = self.stream.isatty()
        self._bar: tqdm | None = None
        self.meter = RateMeter()  # rate and ETA of the plain lines (tqdm has its own)
        self._last_line = 0.0

    def __call__(self, event: ev.TrainerEvent) -> None:
        if event.kind == ev.ITERATION:
            if not self.quiet:
                self._iteration(event)
            return
        if event.kind == ev.EVALUATION and not self.quiet:
            self._write(_validation_text(event))
        elif event.kind == ev.STARTED and not self.quiet:
            self._write(event.message)
        elif event.kind in (ev.FINISHED, ev.STOPPED):
            self._close()
            self._write(
                f"{event.kind} after {event.iteration} iterations "
                f"({format_duration(event.elapsed)})"
            )
        elif event.kind == ev.FAILED:
            self._close()
            self._write(f"error: {event.message}")
        self.stream.flush()

    def _iteration(self, event: ev.TrainerEvent) -> None:
        v = event.values
        postfix = f"loss {v.get('loss', 0):.4f}"
        if "accuracy" in v:
            postfix += f" acc {100 * v['accuracy']:5.1f}%"
        if self._tty:
            if self._bar is None:  # a resumed run starts part way
                from tqdm import tqdm

                self._bar = tqdm(
                    total=event.total,
                    initial=event.iteration - 1,
                    file=self.stream,
                    unit="it",
                    dynamic_ncols=True,
                )
            self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(event.iteration - self._bar.n)
            return
        self.meter.update(event.iteration)
        now = time.monotonic()
        if now - self._last_line < self.LOG_INTERVAL and event.iteration != event.total:
            return
        self._last_line = now
        filled = int(event.iteration / max(1, event.total) * 24)
        eta = format_duration(self.meter.eta(event.iteration, event.total))
        self._write(
            f"{event.iteration:>7}/{event.total} [{'#' * filled}{'-' * (24 - filled)}] "
            f"{postfix} | {self.meter.rate or 0:.1f} it/s | ETA {eta}"
        )
        self.stream.flush()

    def _write(self, text: str) -> None:
        """A line above the bar (tqdm clears and redraws it), or a plain line."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _validation_text(event: ev.TrainerEvent) -> str:
    v = event.values
    if "val_query_accuracy_post" in v:
        return (
            f"validation @ {event.iteration}: query accuracy "
            f"{100 * v['val_query_accuracy_pre']:.1f}% before -> "
            f"{100 * v['val_query_accuracy_post']:.1f}% ± {100 * v['val_ci95']:.1f}% after adaptation"
        )
    return (
        f"validation @ {event.iteration}: query MSE {v['val_query_loss_pre']:.3f} "
        f"before -> {v['val_query_loss_post']:.3f} after adaptation"
    )


def _run_trainer(trainer, quiet: bool) -> int:
    """Run with Ctrl+C handling: the first stops after the current iteration and saves a
    checkpoint; a second exits at once (checkpoints are written atomically, so nothing on disk
    is left half-written)."""
    trainer.subscribe(ProgressPrinter(quiet=quiet))
    presses = {"n": 0}

    def on_sigint(signum, frame):  # noqa: ARG001
        presses["n"] += 1
        if presses["n"] == 1:
            sys.stderr.write(
                "\nstopping after this iteration and saving a checkpoint "
                "(Ctrl+C again to quit at once)\n"
            )
            trainer.stop()
        else:
            sys.stderr.write("\nquitting now; the last checkpoint on disk is intact\n")
            os._exit(130)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        status = trainer.run()
    finally:
        signal.signal(signal.SIGINT, previous)
    if trainer.store is not None:
        print(trainer.store.path)
    return {ev.FINISHED: 0, ev.STOPPED: 130}.get(status, 1)


def _train(args) -> int:
    from workbench.config import parse_overrides
    from workbench.engine.runs import default_runs_dir
    from workbench.engine.trainer import Trainer
    from workbench.presets import resolve

    config = parse_overrides(args.set, resolve(args.config)).validate()
    runs_dir = args.runs_dir or default_runs_dir()
    trainer = Trainer.create(config, runs_dir, args.name, progress=_data_progress(args.quiet))
    return _run_trainer(trainer, args.quiet)


def _resume(args) -> int:
    from workbench.engine.trainer import Trainer

    trainer = Trainer.resume(args.run_dir, progress=_data_progress(args.quiet))
    sys.stderr.write(f"resuming {args.run_dir} at iteration {trainer.iteration}\n")
    return _run_trainer(trainer, args.quiet)


def _data_progress(quiet: bool):
    def report(fraction: float, message: str) -> None:
        if not quiet:
            sys.stderr.write(
                f"\r{message} ({100 * fraction:.0f}%)\x1b[K" if sys.stderr.isatty() else ""
            )

    return report


# -- eval ---------------------------------------------------------------------------------------


def _eval(args) -> int:
    from workbench.engine.evaluation_run import evaluate_run

    for pair in args.set:
        if not pair.startswith("data."):
            raise ConfigError(pair.split("=")[0], "eval only accepts data.* overrides")
    with EpisodeBar(enabled=not args.json and sys.stderr.isatty()) as progress:
        result = evaluate_run(
            args.run_dir,
            episodes=args.episodes,
            steps=args.steps,
            split=args.split,
            checkpoint=args.checkpoint,
            overrides=args.set,
            progress=progress,
        )
    print(format_result_table(result))
    if args.json:
        print(json.dumps(result.to_json()))
    return 0


class EpisodeBar:
    """A tqdm bar of evaluation episodes on stderr (off when disabled: ``--json`` or not a
    terminal); a context manager, so an evaluation that fails still ends the bar's line."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, desc="evaluating", unit="episode", file=sys.stderr, dynamic_ncols=True
            )
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> EpisodeBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def format_result_table(result) -> str:
    lines = [
        f"Evaluation: {result.episodes} episodes of the {result.split or '?'} split "
        f"(seed {result.seed}), {result.steps} inner steps",
        "",
        f"{'step':>4}  {'support acc':>12}  {'query acc':>18}  {'query loss':>10}",
    ]
    for s in range(result.steps + 1):
        if result.query_accuracy_per_step:
            sup = f"{100 * result.support_accuracy_per_step[s]:11.2f}%"
            qry = (
                f"{100 * result.query_accuracy_per_step[s]:8.2f}% ± "
                f"{100 * result.query_accuracy_ci95_per_step[s]:5.2f}%"
            )
        else:
            sup, qry = f"{'-':>12}", f"{'-':>18}"
        lines.append(f"{s:>4}  {sup}  {qry}  {result.query_loss_per_step[s]:10.4f}")
    lines += ["", "Result: " + result.headline()]
    return "\n".join(lines)


# -- episodes / presets / runs ------------------------------------------------------------------


def _episodes(args) -> int:
    from workbench.config import parse_overrides
    from workbench.data.episode_picture import save_episode_picture
    from workbench.data.registry import make_sampler
    from workbench.presets import resolve

    config = parse_overrides(args.set, resolve(args.config)).validate()
    seed = config.train.seed if args.seed is None else args.seed
    if args.index < 0:
        raise ConfigError("--index", f"must be 0 or more, got {args.index}")
    sampler = make_sampler(config.data, args.split, seed)
    episode = sampler[args.index]
    path = save_episode_picture(episode, args.out)
    print(path)
    return 0


def _presets(args) -> int:  # noqa: ARG001
    from workbench.presets import list_presets

    presets = list_presets()
    width = max(len(p.name) for p in presets)
    for p in presets:
        print(f"{p.name:<{width}}  {p.description}")
    return 0


def _runs(args) -> int:
    from workbench.engine.runs import default_runs_dir, list_runs

    runs_dir = args.runs_dir or default_runs_dir()
    if args.export_md or args.export_csv or args.curves or args.tensorboard:
        return _runs_export(args, runs_dir)
    rows = list_runs(runs_dir)
    if not rows:
        print(f"no runs in {runs_dir}")
        return 0
    for r in rows:
        from workbench.engine.run_export import best_text

        best = best_text(r) or "-"
        problems = f"  [{'; '.join(r.problems)}]" if r.problems else ""
        print(
            f"{r.name:<40} {r.status:<11} {r.algorithm:<9} {r.dataset:<12} "
            f"{r.iteration:>7}/{r.total:<7} best {best}{problems}"
        )
    return 0


def _runs_export(args, runs_dir: Path) -> int:
    """``workbench runs --export-md/--export-csv/--curves/--tensorboard [RUN...]``."""
    from workbench.engine import run_export
    from workbench.engine.runs import list_runs

    paths = list(args.run_dirs) or [r.path for r in list_runs(runs_dir)]
    if not paths:
        raise WorkbenchError(f"no runs to export in {runs_dir}")
    written = []
    if args.export_md:
        written.append(
            run_export.write_text(
                args.export_md, run_export.comparison_markdown(run_export.compare_runs(paths))
            )
        )
    if args.export_csv:
        written.append(
            run_export.write_text(
                args.export_csv, run_export.comparison_csv(run_export.compare_runs(paths))
            )
        )
    if args.curves:
        written.append(run_export.export_curves(paths, args.curves))
    if args.tensorboard:
        written += [run_export.export_tensorboard(p, args.tensorboard) for p in paths]
    for path in written:
        print(path)
    return 0


def _screenshot(args) -> int:
    from workbench.gui.screenshot import parse_size, take_screenshots

    if args.iterations < 1:
        raise ConfigError("--iterations", f"must be at least 1, got {args.iterations}")
    paths = take_screenshots(
        args.out,
        theme=args.theme,
        size=parse_size(args.size),
        presentation=args.presentation,
        iterations=args.iterations,
        eval_every=max(1, args.iterations // 3),
    )
    for path in paths:
        print(path)
    return 0
