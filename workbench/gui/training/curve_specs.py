"""Which curves the Training view draws, in which plot and style, for the runs it shows.

One run is shown in detail (before and after adaptation, support and query); several runs are
compared with one curve per run and metric. This module only decides; `PlotGrid` draws.
"""

from __future__ import annotations

from typing import NamedTuple

from workbench.gui.training.series import RunSeries

PLOTS = ("loss", "accuracy", "validation", "meta_lr")


class CurveSpec(NamedTuple):
    """How one metric is drawn."""

    group: str  # "it" (per iteration) or "val" (per validation)
    key: str  # the metric in that group
    name: str  # legend name
    color: int  # index into the theme's palette
    dashed: bool
    smoothed: bool  # drawn smoothed, with the raw values faint behind
    scale: float  # 100 for fractions drawn as percent


class WantedCurve(NamedTuple):
    plot: str
    run: RunSeries
    spec: CurveSpec
    in_legend: bool


_DETAIL_CLASSIFICATION = {
    "loss": [
        CurveSpec("it", "loss", "after adaptation", 0, False, True, 1.0),
        CurveSpec("it", "pre_loss", "before adaptation (sampled tasks)", 1, True, True, 1.0),
    ],
    "accuracy": [
        CurveSpec("it", "accuracy", "after adaptation", 0, False, True, 100.0),
        CurveSpec("it", "pre_accuracy", "before adaptation (sampled tasks)", 1, True, True, 100.0),
    ],
    "validation": [
        CurveSpec("val", "val_query_accuracy_post", "query, after", 0, False, False, 100.0),
        CurveSpec("val", "val_query_accuracy_pre", "query, before", 0, True, False, 100.0),
        CurveSpec("val", "val_support_accuracy_post", "support, after", 2, False, False, 100.0),
        CurveSpec("val", "val_support_accuracy_pre", "support, before", 2, True, False, 100.0),
    ],
    "meta_lr": [CurveSpec("it", "meta_lr", "meta learning rate", 3, False, False, 1.0)],
}
_DETAIL_REGRESSION = {
    "loss": _DETAIL_CLASSIFICATION["loss"],
    "accuracy": [],
    "validation": [
        CurveSpec("val", "val_query_loss_post", "query, after", 0, False, False, 1.0),
        CurveSpec("val", "val_query_loss_pre", "query, before", 0, True, False, 1.0),
        CurveSpec("val", "val_support_loss_post", "support, after", 2, False, False, 1.0),
        CurveSpec("val", "val_support_loss_pre", "support, before", 2, True, False, 1.0),
    ],
    "meta_lr": _DETAIL_CLASSIFICATION["meta_lr"],
}
_TITLES = {
    False: {
        "loss": ("Meta-training loss (query)", "loss"),
        "accuracy": ("Meta-training accuracy (query)", "accuracy (%)"),
        "validation": ("Validation accuracy, before and after adaptation", "accuracy (%)"),
        "meta_lr": ("Meta learning rate", "learning rate"),
    },
    True: {
        "loss": ("Meta-training loss (query MSE)", "MSE"),
        "accuracy": ("Meta-training accuracy", "accuracy (%)"),
        "validation": ("Validation MSE, before and after adaptation", "MSE"),
        "meta_lr": ("Meta learning rate", "learning rate"),
    },
}


def is_regression(runs: list[RunSeries]) -> bool:
    """True when every run that says so is a regression run (and at least one says so)."""
    flags = [r.regression for r in runs if r.regression is not None]
    return bool(flags) and all(flags)


def plot_titles(regression: bool, comparing: bool) -> dict[str, tuple[str, str]]:
    """(title, y label) of each plot."""
    titles = dict(_TITLES[regression])
    if comparing:
        titles["validation"] = (
            "Validation MSE after adaptation (query)"
            if regression
            else "Validation accuracy after adaptation (query)",
            titles["validation"][1],
        )
    return titles


def wanted_curves(live: RunSeries | None, overlays: list[RunSeries]) -> list[WantedCurve]:
    """Every curve the runs need: ``live`` in detail, or one curve per run and metric when
    runs are overlaid (the live run, if any, first)."""
    runs = ([live] if live is not None else []) + overlays
    regression = is_regression(runs)
    if overlays:
        return [
            curve for index, run in enumerate(runs) for curve in _compared(run, index, regression)
        ]
    if live is None:
        return []
    spec = _DETAIL_REGRESSION if regression else _DETAIL_CLASSIFICATION
    # a single curve is named by the plot's title
    return [
        WantedCurve(plot, live, c, len(curves) > 1) for plot, curves in spec.items() for c in curves
    ]


def _compared(run: RunSeries, index: int, regression: bool) -> list[WantedCurve]:
    """One run's curves among others, in the run's colour and named by the run."""
    label = run.name
    val_key = "val_query_loss_post" if regression else "val_query_accuracy_post"
    val_scale = 1.0 if regression else 100.0
    curves = [
        WantedCurve("loss", run, CurveSpec("it", "loss", label, index, False, True, 1.0), True)
    ]
    if not regression:
        accuracy = CurveSpec("it", "accuracy", label, index, False, True, 100.0)
        curves.append(WantedCurve("accuracy", run, accuracy, False))
    validation = CurveSpec("val", val_key, label, index, False, False, val_scale)
    curves.append(WantedCurve("validation", run, validation, True))
    meta_lr = CurveSpec("it", "meta_lr", label, index, False, False, 1.0)
    curves.append(WantedCurve("meta_lr", run, meta_lr, False))
    return curves
