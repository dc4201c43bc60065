"""The text under the runs table: one run's details, or a comparison of the selected runs.

Everything a reader needs to trust a number is next to it: the validation protocol beside the
best validation result, the test protocol beside the test result, and what is wrong with the
run's files (never hidden in a log).
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTextBrowser, QWidget

from workbench.engine.progress import format_duration
from workbench.engine.run_export import (
    KEY_PARAMETERS,
    KEY_TITLES,
    Comparison,
    best_text,
    result_text,
)
from workbench.engine.runs import RunInfo, protocol_text
from workbench.gui.runs.model import (
    ALGORITHM_NAMES,
    DATASET_TITLES,
    shape_text,
    started_text,
    status_color,
    status_tip,
)
from workbench.gui.theme import LIGHT, Theme

HINT = (
    "Select a run to see its details here. Select several to compare their settings and "
    "results, and press <b>Overlay curves</b> to draw them together in the Training view."
)


def _e(text: object) -> str:
    return html.escape(str(text))


def _steps(n: int) -> str:
    return f"{n} inner step{'' if n == 1 else 's'}"


def _setting_rows(info: RunInfo) -> list[tuple[str, str]]:
    """(title, text) rows: what was trained, how, and how far it got."""
    rows = []
    cfg = info.config
    if cfg is not None:
        a, tr = cfg.algorithm, cfg.train
        what = (
            f"{ALGORITHM_NAMES.get(a.name, a.name)} on "
            f"{DATASET_TITLES.get(cfg.data.dataset, cfg.data.dataset)} "
            f"{shape_text(info)}, {cfg.model.backbone} backbone"
        )
        rows.append(("Experiment", what))
        inner = (
            f"inner lr {a.inner_lr:g} × {_steps(a.inner_steps)}, "
            if cfg.applies("algorithm.inner_lr")
            else ""
        )
        rows.append(
            (
                "Training",
                f"{inner}meta-batch {tr.meta_batch_size}, meta lr "
                f"{tr.meta_lr:g}, {tr.iterations:,} iterations, seed {tr.seed}",
            )
        )
    done = f"{info.iteration:,} of {info.total:,}" if info.total else f"{info.iteration:,}"
    if info.checkpoint_iteration != info.iteration:
        done += f" (checkpoint at {info.checkpoint_iteration:,})"
    rows.append(("Iterations", done))
    return rows


def _result_rows(info: RunInfo) -> list[tuple[str, str]]:
    """(title, html) rows: best validation and test result, each with its protocol."""
    cfg = info.config
    rows = []
    best = best_text(info)
    if best:
        proto = (
            f" — {cfg.train.val_episodes} validation episodes, {_steps(cfg.algorithm.inner_steps)}"
            if cfg is not None
            else ""
        )
        rows.append(("Best validation", f"<b>{_e(best)}</b><span class='muted'>{_e(proto)}</span>"))
    else:
        rows.append(("Best validation", "<span class='muted'>no validation yet</span>"))
    test = result_text(info)
    if test:
        rows.append(
            (
                "Test",
                f"<b>{_e(test)}</b> <span class='muted'>— {_e(protocol_text(info.test))}</span>",
            )
        )
    elif cfg is not None:
        rows.append(
            (
                "Test",
                "<span class='muted'>not evaluated — Evaluate runs the standard "
                f"protocol ({cfg.eval.episodes} episodes, "
                f"{_steps(cfg.eval.inner_steps)}, {cfg.eval.split} split)</span>",
            )
        )
    return rows


def _timing_text(info: RunInfo) -> str:
    timing = started_text(info.started)
    if info.elapsed:
        timing += f", {format_duration(info.elapsed)} of training"
    if info.updated:
        timing += f"; last written {time.strftime('%H:%M:%S', time.localtime(info.updated))}"
    return timing


class RunDetails(QTextBrowser):
    """Rich text describing the selection; `show_run`, `show_comparison`, `show_hint`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self._theme = LIGHT
        self._last: tuple = ("hint", None)
        self.show_hint()

    def apply_theme(self, theme: Theme) -> None:
        self._theme = theme
        self.document().setDefaultStyleSheet(
            f"body {{ color: {theme.foreground}; }} .muted {{ color: {theme.muted}; }} "
            f"td, th {{ padding: 2px 10px 2px 0; }} th {{ text-align: left; }}"
        )
        kind, payload = self._last
        if kind == "run":
            self.show_run(payload)
        elif kind == "comparison":
            self.show_comparison(payload)
        else:
            self.show_hint(payload)

    # -- contents ---------------------------------------------------------------------------
    def show_hint(self, text: str | None = None) -> None:
        self._last = ("hint", text)
        self.setHtml(f"<p class='muted'>{text or HINT}</p>")

    def show_run(self, info: RunInfo) -> None:
        self._last = ("run", info)
        rows = _setting_rows(info) + _result_rows(info) + [("Started", _timing_text(info))]
        table = "".join(
            f"<tr><th class='muted'>{_e(k)}</th><td>{v if '<' in v else _e(v)}</td></tr>"
            for k, v in rows
        )
        self.setHtml(self._run_heading(info) + f"<table>{table}</table>")

    def _run_heading(self, info: RunInfo) -> str:
        """Name, status and folder, and what is wrong with the run (never hidden in a log)."""
        t = self._theme
        color = status_color(info.status, t)
        parts = [
            f"<h3 style='margin:0'>{_e(info.name)} "
            f"<span style='color:{color}; font-weight:normal'>● {_e(info.status)}</span></h3>",
            f"<p class='muted' style='margin-top:2px'>{_e(info.path)}</p>",
        ]
        if info.status != "finished":
            parts.append(f"<p>{_e(status_tip(info))}.</p>")
        if info.problems:
            items = "".join(f"<li>{_e(p)}</li>" for p in info.problems)
            parts.append(
                f"<p style='color:{t.bad}; margin-bottom:0'><b>⚠ Problems with this "
                f"run's files</b></p><ul style='margin-top:0'>{items}</ul>"
            )
        return "".join(parts)

    def show_comparison(self, comparison: Comparison) -> None:
        """The selected runs side by side: settings that differ, then results."""
        self._last = ("comparison", comparison)
        t = self._theme
        runs = comparison.runs
        differing = [
            k for k in comparison.parameters if len({repr(v[k]) for v in comparison.values}) > 1
        ]
        shown = differing or list(KEY_PARAMETERS[:4])
        # one column per run (few), one row per setting (possibly many): stays readable
        head = "".join(
            f"<th><span style='color:{t.color(i)}'>■</span> {_e(info.name)}</th>"
            for i, info in enumerate(runs)
        )
        body = [
            f"<tr><td class='muted' style='white-space:nowrap'>{_e(_label(k))}</td>"
            + "".join(f"<td>{_e(_value(v[k]))}</td>" for v in comparison.values)
            + "</tr>"
            for k in shown
        ]
        body.append(
            "<tr><td class='muted'>status</td>"
            + "".join(
                f"<td style='color:{status_color(i.status, t)}'>{_e(i.status)}</td>" for i in runs
            )
            + "</tr>"
        )
        body.append(
            "<tr><td class='muted'>best validation</td>"
            + "".join(
                f"<td><b>{_e(best_text(i, at=False)) or '—'}</b>"
                + (
                    f"<br><span class='muted'>at iteration {i.best_iteration}</span>"
                    if i.best_iteration is not None
                    else ""
                )
                + "</td>"
                for i in runs
            )
            + "</tr>"
        )
        body.append(
            "<tr><td class='muted'>test</td>"
            + "".join(f"<td>{_e(result_text(i)) or '—'}</td>" for i in runs)
            + "</tr>"
        )
        note = (
            "Settings that differ between the selected runs, and their results; the colours "
            "are those of the curves."
            if differing
            else "The selected runs share all their settings; the colours are those of the curves."
        )
        self.setHtml(
            f"<h3 style='margin:0'>{len(runs)} runs selected</h3>"
            f"<p class='muted' style='margin-top:2px'>{note} Export writes this as a Markdown "
            f"or CSV table with the key hyperparameters and the protocols.</p>"
            f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"
        )


def _label(key: str) -> str:
    """A short row title: 'inner_lr', 'first_order'; evaluation settings keep their section."""
    if key in KEY_TITLES:
        return KEY_TITLES[key]
    return key if key.startswith("eval.") else key.split(".")[-1]


def _value(value: object) -> str:
    if value is None:
        return "?"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
