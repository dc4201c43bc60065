"""``workbench features RUN [--compare RUN|baseline|random ...] --out DIR``.

What a run's network has learned, next to its comparison models, without the window: the
pictures of the Features view as PNG files and every number (CKA per layer with 95% CIs,
separation scores, projections) in ``features.json``, so a paper figure can be made from them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.errors import ConfigError

NAME = "features"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``workbench features`` to the command's subparsers."""
    p = sub.add_parser(
        NAME,
        help="pictures and numbers of what a run has learned (filters, embeddings, CKA)",
        description="Analyse what a run's network has learned, against comparison models: "
        "first-layer filters, PCA and t-SNE of the penultimate features before and after "
        "adaptation, top and bottom images per channel, saliency, and linear CKA per layer "
        "before vs after adaptation (mean and 95%% CI over episodes). Writes PNG files and "
        "features.json to --out.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN", help="the run folder to analyse")
    p.add_argument(
        "--compare",
        action="extend",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="comparison models (at most 3): a run folder, 'baseline' (the newest fine-tuning "
        "run on the same data in the runs folder) or 'random' (the run's architecture, untrained)",
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the PNG files and JSON")
    p.add_argument(
        "--episodes", type=int, default=20, help="episodes for CKA (default 20; 0: none)"
    )
    p.add_argument("--classes", type=int, default=20, help="classes of test images (default 20)")
    p.add_argument(
        "--images-per-class", type=int, default=20, help="test images per class (default 20)"
    )
    p.add_argument("--steps", type=int, default=None, help="inner steps (default eval.inner_steps)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--seed", type=int, default=0, help="seed of the images and episodes")
    p.add_argument("--episode", type=int, default=0, help="the episode the pictures show")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--runs-dir", type=Path, default=None, help="where 'baseline' is looked for")
    p.add_argument("--no-tsne", action="store_true", help="skip t-SNE")
    p.add_argument(
        "--smoothgrad", type=int, default=20, help="SmoothGrad samples (default 20; 0: none)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run)


def _progress(quiet: bool):
    """Progress lines on stderr (rewritten in place on a terminal, one per stage otherwise)."""
    last = {"text": ""}

    def report(fraction: float, text: str) -> None:
        if quiet:
            return
        stage = text.split(":")[0]
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{100 * fraction:3.0f}% {text}\x1b[K")
        elif stage != last["text"]:
            sys.stderr.write(f"{100 * fraction:3.0f}% {text}\n")
        last["text"] = stage

    return report


def run(args: argparse.Namespace) -> int:
    """Analyse, write the pictures and ``features.json``, print the files written."""
    from workbench.engine.features import FeaturesRequest, analyse, resolve_compare, run_source
    from workbench.engine.features.pictures import write_pictures
    from workbench.engine.features.report import write_csv

    if len(args.compare) > 3:
        raise ConfigError("--compare", f"at most 3 comparison models, got {len(args.compare)}")
    sources = [run_source(args.run_dir, args.checkpoint)]
    sources += [
        resolve_compare(c, args.run_dir, args.runs_dir, args.checkpoint) for c in args.compare
    ]
    request = FeaturesRequest(
        sources,
        classes=args.classes,
        per_class=args.images_per_class,
        split=args.split,
        seed=args.seed,
        episodes=args.episodes,
        steps=args.steps,
        episode_index=args.episode,
        tsne=not args.no_tsne,
        smoothgrad=args.smoothgrad,
    )
    report = analyse(request, progress=_progress(args.quiet))
    if not args.quiet and sys.stderr.isatty():
        sys.stderr.write("\n")
    written = write_pictures(report, args.out)
    written.append(report.write_json(args.out / "features.json"))
    if report.changes:
        written.append(write_csv(args.out / "cka.csv", report.cka_rows()))
        written.append(write_csv(args.out / "separation.csv", report.separation_rows()))
    for path in written:
        print(path)
    _print_summary(report)
    return 0


def _print_summary(report) -> None:
    """CKA per layer and separation per model, one line each, on stdout after the files."""
    for model, change in zip(report.models, report.changes):
        cka = "  ".join(
            f"{n} {s.mean:.3f}±{s.ci95:.3f}" if s.mean is not None else f"{n} n/a"
            for n, s in change.cka.items()
        )
        sb, sil, nc = (
            change.separation_before,
            change.silhouette_after,
            change.centroid_accuracy_after,
        )
        print(f"# {model.label}: CKA {cka}")
        print(
            f"#   separation before: silhouette {sb.silhouette:.3f}, NC acc {sb.centroid_accuracy:.3f}; "
            f"after: silhouette {sil.mean:.3f}±{sil.ci95:.3f}, NC acc {nc.mean:.3f}±{nc.ci95:.3f}"
        )
