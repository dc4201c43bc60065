"""ExperimentConfig: TOML round trip, validation naming its field, overrides, metadata."""

from __future__ import annotations

import dataclasses

import pytest

from workbench import config as configlib
from workbench.config import ExperimentConfig, parse_overrides
from workbench.errors import ConfigError
from workbench.presets import list_presets, load_preset, resolve

REQUIRED_KEYS = [
    "data.dataset",
    "data.path",
    "data.ways",
    "data.shots",
    "data.queries",
    "data.image_size",
    "model.backbone",
    "algorithm.name",
    "algorithm.inner_lr",
    "algorithm.inner_steps",
    "algorithm.first_order",
    "train.meta_batch_size",
    "train.iterations",
    "train.meta_lr",
    "train.seed",
    "train.device",
    "train.eval_every",
    "eval.episodes",
    "eval.inner_steps",
]


def test_required_keys_exist_with_metadata():
    keys = {key: f for key, f, _ in ExperimentConfig().fields()}
    for key in REQUIRED_KEYS:
        assert key in keys, key
        meta = keys[key].metadata
        assert meta["label"] and meta["help"], key
    assert keys["data.dataset"].metadata["choices"] == (
        "glyphs",
        "sinusoid",
        "omniglot",
        "miniimagenet",
        "folder",
    )
    assert keys["train.device"].metadata["choices"] == ("auto", "cpu", "cuda")
    assert keys["model.backbone"].metadata["choices"] == ("conv4", "mlp")


def test_toml_round_trip_of_a_full_config(tmp_path):
    c = ExperimentConfig(description='quotes " and \\ backslash, ünïcode')
    c.data.dataset, c.data.path, c.data.ways = "folder", "/data/my paintings", 7
    c.algorithm.name, c.algorithm.inner_lr, c.algorithm.first_order = "mamlpp", 1e-5, True
    c.train.meta_lr, c.train.lr_schedule, c.eval.inner_steps = 3.5e-4, "cosine", 25
    path = tmp_path / "c.toml"
    configlib.save(c, path)
    back = configlib.load(path)
    assert configlib.to_dict(back) == configlib.to_dict(c)
    assert back.algorithm.inner_lr == 1e-5


@pytest.mark.parametrize(
    "key,value,reason",
    [
        ("data.ways", 1, "at least 2"),
        ("data.ways", "five", "whole number"),
        ("data.dataset", "cifar", "not one of"),
        ("algorithm.inner_lr", -0.1, "at least"),
        ("algorithm.inner_lr", "nan", "finite"),
        ("train.device", "tpu", "not one of"),
        ("algorithm.first_order", "maybe", "true or false"),
        ("train.iterations", 0, "at least 1"),
    ],
)
def test_invalid_values_name_their_field(key, value, reason):
    c = ExperimentConfig()
    with pytest.raises(ConfigError) as info:
        c.set(key, value)
    assert info.value.field == key
    assert key in str(info.value) and reason in str(info.value)


def test_validate_names_field_of_invalid_combinations():
    c = ExperimentConfig()
    c.data.dataset = "folder"
    with pytest.raises(ConfigError, match="data.path") as info:
        c.validate()
    assert info.value.field == "data.path"
    c = ExperimentConfig()
    c.data.dataset, c.model.backbone, c.algorithm.name = "sinusoid", "mlp", "protonet"
    with pytest.raises(ConfigError) as info:
        c.validate()
    assert info.value.field == "algorithm.name"
    # a value assigned directly (as the form may) is checked by validate() too
    c = ExperimentConfig()
    c.data.shots = 0
    with pytest.raises(ConfigError) as info:
        c.validate()
    assert info.value.field == "data.shots"


def test_unknown_toml_key_is_an_error_naming_it():
    with pytest.raises(ConfigError) as info:
        configlib.loads("[data]\nways = 5\nwayz = 3\n")
    assert info.value.field == "data.wayz"
    assert "unknown key" in str(info.value)
    with pytest.raises(ConfigError, match="optimiser"):
        configlib.loads("[optimiser]\nlr = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        configlib.loads("[data\n")


def test_overrides_convert_types_and_reject_bad_pairs():
    c = parse_overrides(
        ["data.ways=20", "algorithm.first_order=true", "train.meta_lr=1e-4"], ExperimentConfig()
    )
    assert (c.data.ways, c.algorithm.first_order, c.train.meta_lr) == (20, True, 1e-4)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["data.ways"], ExperimentConfig())
    with pytest.raises(ConfigError) as info:
        parse_overrides(["nosection=3"], ExperimentConfig())
    assert info.value.field == "nosection"


def test_applies_follows_algorithm_and_dataset():
    c = ExperimentConfig()
    c.algorithm.name = "protonet"
    assert not c.applies("algorithm.lslr") and not c.applies("algorithm.inner_lr")
    c.algorithm.name = "mamlpp"
    assert c.applies("algorithm.lslr")
    c.data.dataset = "glyphs"
    assert not c.applies("data.path")
    c.data.dataset = "folder"
    assert c.applies("data.path")


def test_every_preset_loads_and_has_a_description():
    presets = list_presets()
    names = [p.name for p in presets]
    assert names[0] == "demo"
    for required in (
        "maml-omniglot-5w1s",
        "maml-omniglot-5w5s",
        "maml-omniglot-20w1s",
        "maml-omniglot-20w5s",
        "maml-miniimagenet-5w1s",
        "maml-miniimagenet-5w5s",
        "fomaml-omniglot-5w1s",
        "mamlpp-omniglot-20w1s",
        "protonet-omniglot-5w1s",
        "sinusoid-maml",
    ):
        assert required in names
    for p in presets:
        assert p.description and "\n" not in p.description
        cfg = p.load()
        if cfg.data.dataset not in ("miniimagenet", "folder"):
            cfg.validate()
    mini = load_preset("maml-miniimagenet-5w1s")
    assert (
        mini.algorithm.inner_lr,
        mini.algorithm.inner_steps,
        mini.eval.inner_steps,
        mini.train.meta_batch_size,
        mini.data.queries,
    ) == (0.01, 5, 10, 4, 15)
    omni = load_preset("maml-omniglot-20w1s")
    assert (omni.algorithm.inner_lr, omni.algorithm.inner_steps, omni.train.meta_batch_size) == (
        0.1,
        5,
        16,
    )
    with pytest.raises(ConfigError, match="no preset named"):
        resolve("no-such-preset")


def test_form_metadata_covers_every_field():
    for section in ExperimentConfig.sections():
        for f in dataclasses.fields(getattr(ExperimentConfig(), section)):
            assert {"label", "help", "min", "max", "choices"} <= set(f.metadata), f.name
