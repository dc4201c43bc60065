"""What a sweep is: a base config, the fields it searches, how many trials, where the study lives.

`SweepSpec` is the one description the command line, the window and the study share. The study
stores the parts every worker must agree on (base config, search space, metric, pruner, target
number of trials), so a worker that joins from another machine needs only the sweep's name and
its storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.pruners import BasePruner

from workbench.config import ExperimentConfig, from_dict, to_dict
from workbench.engine.runs import default_runs_dir
from workbench.engine.sweeps.params import ParamSpec, parse_param_spec
from workbench.errors import ConfigError, WorkbenchError

PRUNERS = ("median", "wilcoxon", "none")
#: the study user attribute holding `SweepSpec.stored`
STORED_KEY = "workbench_sweep"
#: format of what the study stores about the sweep (a user attribute of the study)
STORED_FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class SweepError(WorkbenchError):
    """A sweep that cannot start or continue (its storage, its name, a stored mismatch)."""


@dataclass(frozen=True)
class Metric:
    """What a trial is scored by: a value of the trainer's validation events."""

    name: str
    event_key: str
    direction: str
    needs_accuracy: bool
    label: str


METRICS = {
    "val_accuracy": Metric(
        "val_accuracy",
        "val_query_accuracy_post",
        "maximize",
        True,
        "validation query accuracy after adaptation",
    ),
    "val_loss": Metric(
        "val_loss",
        "val_query_loss_post",
        "minimize",
        False,
        "validation query loss after adaptation (MSE for regression)",
    ),
}


def default_metric(config: ExperimentConfig) -> str:
    """Accuracy for classification; the query MSE for regression (sinusoid), minimised."""
    return "val_loss" if config.data.dataset == "sinusoid" else "val_accuracy"


def default_sweep_name(label: str, params: dict[str, ParamSpec] | list[str]) -> str:
    """``demo-inner_lr-meta_lr``: the same command gives the same name, so starting a killed
    sweep again with the same command continues it."""
    names = "-".join(key.split(".")[-1] for key in params)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{Path(label).stem}-{names}").strip("-.")[:100]


@dataclass
class SweepSpec:
    """A sweep. ``storage`` None keeps the study in a journal file in ``runs_dir/.sweeps``;
    otherwise a database URL (``postgresql://...``) or the path of a journal file on a shared
    file system. ``metric`` None picks `default_metric`. ``pruner`` is a name of `PRUNERS` or,
    from Python, any Optuna pruner (it must pickle: workers are separate processes)."""

    name: str
    base: ExperimentConfig
    params: dict[str, ParamSpec]
    trials: int = 20
    workers: int = 1
    storage: str | None = None
    pruner: str | BasePruner = "median"
    metric: str | None = None
    runs_dir: Path | None = None

    @property
    def metric_info(self) -> Metric:
        return METRICS[self.metric or default_metric(self.base)]

    @property
    def direction(self) -> str:
        return self.metric_info.direction

    @property
    def pruner_name(self) -> str:
        return self.pruner if isinstance(self.pruner, str) else type(self.pruner).__name__

    def runs_folder(self) -> Path:
        return Path(self.runs_dir) if self.runs_dir is not None else default_runs_dir()

    def validate(self) -> SweepSpec:
        """Everything that can be checked before a trial starts; raises ConfigError or
        SweepError naming the cause."""
        if not _NAME.match(self.name):
            raise SweepError(
                f"sweep name {self.name!r}: use letters, digits, '.', '_' and '-' (at most 100)"
            )
        if not self.params:
            raise ConfigError("--param", "a sweep needs at least one --param KEY=SPEC")
        if self.trials < 1:
            raise ConfigError("--trials", f"must be at least 1, got {self.trials}")
        if not 1 <= self.workers <= 256:
            raise ConfigError("--workers", f"must be between 1 and 256, got {self.workers}")
        if isinstance(self.pruner, str) and self.pruner not in PRUNERS:
            raise ConfigError("--pruner", f"{self.pruner!r} is not one of: {', '.join(PRUNERS)}")
        self._check_metric()
        self.base.validate()
        if self.base.train.eval_every <= 0:
            raise ConfigError(
                "train.eval_every", "a sweep scores trials by validation; set it above 0"
            )
        for key, spec in self.params.items():
            parse_param_spec(key, spec.text(), self.base)  # the same checks as the command line
            self._check_applies(key)
        if self.pruner == "wilcoxon":
            for key in ("train.iterations", "train.eval_every"):
                if key in self.params:
                    raise ConfigError(
                        key,
                        "the wilcoxon pruner pairs trials at the same validation iterations; "
                        "do not sweep this field with it (use median)",
                    )
        for corner in ("low", "high"):
            self.trial_config(_corner(self.params, corner))
        return self

    def _check_metric(self) -> None:
        name = self.metric or default_metric(self.base)
        if name not in METRICS:
            raise ConfigError("--metric", f"{name!r} is not one of: {', '.join(METRICS)}")
        if METRICS[name].needs_accuracy and self.base.data.dataset == "sinusoid":
            raise ConfigError(
                "--metric", "sinusoid is regression and has no accuracy; use val_loss"
            )

    def _check_applies(self, key: str) -> None:
        if "algorithm.name" in self.params or "data.dataset" in self.params:
            return
        if not self.base.applies(key):
            raise ConfigError(
                key,
                f"does not apply to algorithm {self.base.algorithm.name} on "
                f"{self.base.data.dataset}; sweeping it would change nothing",
            )

    def trial_config(self, values: dict[str, Any]) -> ExperimentConfig:
        """The base config with one trial's values; raises ConfigError if they do not fit."""
        config = self.base.copy()
        for key, value in values.items():
            config.set(key, value)
        return config.validate()

    def stored(self) -> dict[str, Any]:
        """What the study keeps, so that joining workers run the very same sweep."""
        return {
            "format": STORED_FORMAT,
            "config": to_dict(self.base),
            "params": {key: spec.text() for key, spec in self.params.items()},
            "metric": self.metric_info.name,
            "pruner": self.pruner_name if self.pruner_name in PRUNERS else "none",
            "trials": self.trials,
        }

    @classmethod
    def from_stored(
        cls, name: str, stored: dict[str, Any], *, storage: str | None, runs_dir: Path | None
    ) -> SweepSpec:
        """The spec a study was created with (``--join``)."""
        if stored.get("format") != STORED_FORMAT:
            raise SweepError(f"sweep {name} was made by another version of the workbench")
        base = from_dict(stored["config"])
        params = {k: parse_param_spec(k, text, base) for k, text in stored["params"].items()}
        return cls(
            name,
            base,
            params,
            trials=int(stored["trials"]),
            storage=storage,
            pruner=stored["pruner"],
            metric=stored["metric"],
            runs_dir=runs_dir,
        )


def _corner(params: dict[str, ParamSpec], which: str) -> dict[str, Any]:
    """Every swept field at its low (or high) bound, or first (or last) choice."""
    out = {}
    for key, spec in params.items():
        if spec.kind == "choice":
            out[key] = spec.choices[0 if which == "low" else -1]
        else:
            out[key] = spec.low if which == "low" else spec.high
    return out


def stored_spec(study: optuna.Study) -> dict[str, Any]:
    """What `SweepSpec.stored` put in the study; SweepError for a study made elsewhere."""
    stored = study.user_attrs.get(STORED_KEY)
    if not isinstance(stored, dict):
        raise SweepError(f"study {study.study_name} was not made by `workbench sweep`")
    return stored
