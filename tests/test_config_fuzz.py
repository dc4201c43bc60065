"""Config fuzzing: any TOML document, any --set pair, any typed value gives a valid config or a
ConfigError naming the field; never another exception."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import config as configlib
from workbench.config import ExperimentConfig, parse_overrides
from workbench.errors import ConfigError

KEYS = [key for key, _, _ in ExperimentConfig().fields()]
scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from(["glyphs", "maml", "cpu", "cosine"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.one_of(
    st.sampled_from(KEYS + ["data", "train.", ".x", "a.b.c", "description"]), st.text(max_size=15)
)


def _check(fn) -> None:
    try:
        config = fn()
    except ConfigError as exc:
        assert str(exc)  # a message, and the field it names is a real place or the document
        return
    assert isinstance(config, ExperimentConfig)


def _toml_of(tables: dict) -> str:
    lines = []
    for section, body in tables.items():
        lines.append(f'["{section}"]')
        for k, v in body.items():
            lines.append(f'"{k}" = {v}')
    return "\n".join(lines)


toml_values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "nan", "inf", "-inf", "[1, 2]", "{a = 1}", '"x"']),
    st.text(alphabet=string.printable, max_size=10).map(
        lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(ExperimentConfig.sections()) + ["extra"]),
        st.dictionaries(
            st.sampled_from([k.split(".")[1] for k in KEYS] + ["zzz"]), toml_values, max_size=6
        ),
        max_size=5,
    )
)
def test_any_toml_document_gives_a_config_or_a_config_error(tables):
    _check(lambda: configlib.loads(_toml_of(tables)).validate())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_as_toml(text):
    _check(lambda: configlib.loads(text).validate())


@settings(max_examples=500, deadline=None)
@given(names, st.text(max_size=30))
def test_any_set_pair(key, value):
    _check(lambda: parse_overrides([f"{key}={value}"], ExperimentConfig()).validate())


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(KEYS), values)
def test_any_value_assigned_to_any_field(key, value):
    def assign():
        c = ExperimentConfig()
        c.set(key, value)
        return c.validate()

    _check(assign)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KEYS), values)
def test_any_value_stored_directly_is_caught_by_validate(key, value):
    # what a form might do: store the raw value, then validate before use
    def assign():
        c = ExperimentConfig()
        section, name = key.split(".")
        setattr(getattr(c, section), name, value)
        return c.validate()

    try:
        assign()
    except ConfigError as exc:
        assert exc.field  # names a field
