"""Search-space specs such as ``log(0.01,1)``, checked against the config's field metadata.

A spec names how Optuna samples one config field: ``float(a,b)`` uniformly, ``log(a,b)``
log-uniformly (learning rates), ``int(a,b)`` whole numbers, ``choice(x,y,...)`` one of a list.
Every bound and choice goes through the same conversion and range check as ``--set``, so a range
outside a field's limits is refused before a sweep starts, not discovered in trial 7.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import BaseTrial

from workbench.config import ExperimentConfig, field_type
from workbench.errors import ConfigError

KINDS = ("float", "log", "int", "choice")
_SPEC = re.compile(r"^\s*(?P<kind>[a-z]+)\s*\((?P<args>.*)\)\s*$", re.DOTALL)
EXAMPLES = "log(0.01,1), float(0.001,0.01), int(1,5) or choice(maml,fomaml,anil)"


@dataclass(frozen=True)
class ParamSpec:
    """How one config field is sampled. ``low``/``high`` for ranges, ``choices`` for lists;
    ``log`` is True for ``log(a,b)`` (a float field, or an int field sampled on a log scale)."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple[Any, ...] = ()

    @property
    def log(self) -> bool:
        return self.kind == "log"

    def text(self) -> str:
        """The spec as a user writes it (what the study stores and a form shows)."""
        if self.kind == "choice":
            return "choice(" + ",".join(_choice_text(c) for c in self.choices) + ")"
        return f"{self.kind}({_number_text(self.low)},{_number_text(self.high)})"

    def distribution(self) -> BaseDistribution:
        """The Optuna distribution the spec samples from."""
        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        if isinstance(self.low, int) and isinstance(self.high, int):
            return IntDistribution(self.low, self.high, log=self.log)
        return FloatDistribution(float(self.low or 0), float(self.high or 0), log=self.log)

    def suggest(self, trial: BaseTrial) -> Any:
        """The trial's value of this field (Optuna records it as the parameter ``key``)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(self.key, self.low, self.high, log=self.log)
        return trial.suggest_float(
            self.key, float(self.low or 0), float(self.high or 0), log=self.log
        )


def _number_text(value: float | int | None) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _choice_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_param_spec(key: str, text: str, config: ExperimentConfig) -> ParamSpec:
    """Parse ``text`` as the search space of ``key`` and check it against the field's type and
    limits in ``config``; raises ConfigError naming the key and what is wrong."""
    f = _find_field(key, config)
    kind_of_field = field_type(f)
    match = _SPEC.match(text)
    if match is None or match["kind"] not in KINDS:
        raise ConfigError(key, f"cannot read the search space {text!r}; write e.g. {EXAMPLES}")
    kind = match["kind"]
    args = [a.strip() for a in match["args"].split(",")]
    if any(not a for a in args):
        raise ConfigError(key, f"{text!r} has an empty value")
    if kind == "choice":
        return _choice(key, text, args, config)
    if kind_of_field not in (int, float):
        choices = ", ".join(f.metadata.get("choices") or ("true", "false"))
        raise ConfigError(
            key, f"{kind}(...) needs a numeric field; sweep this one with choice(...) of {choices}"
        )
    if kind == "int" and kind_of_field is float:
        raise ConfigError(key, "int(...) is for whole-number fields; use float(a,b) or log(a,b)")
    if kind == "float" and kind_of_field is int:
        raise ConfigError(key, "float(...) is for decimal fields; use int(a,b) or log(a,b)")
    if len(args) != 2:
        raise ConfigError(key, f"{kind}(...) takes two bounds, low and high; got {text!r}")
    low, high = (_bound(key, text, a, config) for a in args)
    if not low < high:
        raise ConfigError(key, f"{text}: the low bound must be below the high bound")
    if kind == "log" and low <= 0:
        raise ConfigError(key, f"{text}: a log range needs a low bound above 0")
    return ParamSpec(key, kind, low, high)


def _find_field(key: str, config: ExperimentConfig) -> dataclasses.Field:
    for name, f, _ in config.fields():
        if name == key:
            return f
    config.copy().set(key, None)  # raises the same "unknown key" error as --set
    raise ConfigError(key, "unknown key")  # pragma: no cover - set() always raised above


def _bound(key: str, text: str, value: str, config: ExperimentConfig) -> float | int:
    probe = config.copy()
    try:
        probe.set(key, value)
    except ConfigError as exc:
        raise ConfigError(
            key, f"{text}: {value} is outside the field's limits ({exc.reason})"
        ) from None
    return probe.get(key)


def _choice(key: str, text: str, args: list[str], config: ExperimentConfig) -> ParamSpec:
    probe = config.copy()
    values: list[Any] = []
    for a in args:
        try:
            probe.set(key, a)
        except ConfigError as exc:
            raise ConfigError(key, f"{text}: {a} is not a valid value ({exc.reason})") from None
        if probe.get(key) not in values:
            values.append(probe.get(key))
    if len(values) < 2:
        raise ConfigError(
            key, f"{text} offers one value; give two or more, or fix it with --set {key}=..."
        )
    return ParamSpec(key, "choice", choices=tuple(values))


def parse_param_specs(pairs: list[str], config: ExperimentConfig) -> dict[str, ParamSpec]:
    """``KEY=SPEC`` strings (the command line's ``--param``) to specs, in the order given."""
    specs: dict[str, ParamSpec] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(pair, "expected KEY=SPEC, e.g. algorithm.inner_lr=log(0.01,1)")
        key, text = (part.strip() for part in pair.split("=", 1))
        if key in specs:
            raise ConfigError(key, "is swept twice; give one --param per key")
        specs[key] = parse_param_spec(key, text, config)
    return specs
