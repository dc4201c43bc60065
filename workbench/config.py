"""Experiment configuration: one source of truth for the command line, TOML files and the form.

Each section is a dataclass; every field carries its label, help text, range or choices in
``dataclasses.field(metadata=...)``, so the GUI generates its form from the same description
that validates a TOML file or a ``--set key=value`` argument, and the three cannot disagree.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from workbench.durable import atomic_write_text
from workbench.errors import ConfigError

DATASETS = ("glyphs", "sinusoid", "omniglot", "miniimagenet", "folder")
BACKBONES = ("conv4", "mlp")
POOLINGS = ("max", "stride")
INITS = ("maml", "torch")
ALGORITHMS = (
    "maml",
    "fomaml",
    "mamlpp",
    "metasgd",
    "anil",
    "protonet",
    "protomaml",
    "reptile",
    "finetune",
)
GRADIENT_BASED = ("maml", "fomaml", "mamlpp", "metasgd", "anil", "protomaml")
MAMLPP_ONLY = ("mamlpp",)
SPLITS = ("train", "val", "test", "all")
DATA_SPLITS = ("standard", "all-but-val")


def _f(
    default: Any,
    label: str,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    algorithms: tuple[str, ...] | None = None,
    datasets: tuple[str, ...] | None = None,
    log: bool = False,
    zero: str | None = None,
    pattern: str | None = None,
) -> Any:
    """A dataclass field with the metadata the form and the validator read.

    ``algorithms``/``datasets`` name where the field applies (None: everywhere), so the form can
    disable fields that do not apply; ``log`` asks for a logarithmic spin step (learning rates);
    ``zero`` says in a word what 0 means for a field where 0 is not a count (the form shows that
    word instead of a bare 0, which reads as "no filters" or "no batch"); ``pattern`` is a
    regular expression for values accepted besides the ``choices`` (one GPU: ``cuda:1``).
    """
    meta = {
        "label": label,
        "help": help,
        "min": min,
        "max": max,
        "choices": choices,
        "algorithms": algorithms,
        "datasets": datasets,
        "log": log,
        "zero": zero,
        "pattern": pattern,
    }
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    dataset: str = _f(
        "glyphs",
        "Dataset",
        "Where episodes come from: glyphs (embedded procedurally generated alphabets), sinusoid "
        "(regression, MAML paper 5.1), omniglot, miniimagenet, or a folder of class sub-folders.",
        choices=DATASETS,
    )
    path: str = _f(
        "",
        "Path",
        "Folder or archive of the dataset (omniglot, miniimagenet, folder). Empty for glyphs "
        "and sinusoid; for omniglot, empty means the default download folder.",
        datasets=("omniglot", "miniimagenet", "folder"),
    )
    ways: int = _f(5, "N-way", "Classes per episode.", min=2, max=100)
    shots: int = _f(
        1, "K-shot", "Labelled support examples per class in an episode.", min=1, max=100
    )
    queries: int = _f(
        15, "Queries", "Query examples per class, classified after adaptation.", min=1, max=500
    )
    image_size: int = _f(
        28,
        "Image size",
        "Side in pixels images are resized to (28 for Omniglot/glyphs, 84 for mini-ImageNet).",
        min=8,
        max=256,
        datasets=("glyphs", "omniglot", "miniimagenet", "folder"),
    )
    rotations: bool = _f(
        False,
        "Rotations as classes",
        "Add each class rotated by 90, 180 and 270 degrees as three new classes (the standard "
        "Omniglot augmentation).",
        datasets=("glyphs", "omniglot", "folder"),
    )
    split: str = _f(
        "standard",
        "Class split",
        "standard: the dataset's official split where it has one (Omniglot: images_evaluation is "
        "the test set), else alphabets split 60/20/20 into train/val/test. all-but-val: no test "
        "set is held out; train on every background alphabet except a validation share "
        "(data.val_share), and test on the evaluation alphabets if present, else on the "
        "validation alphabets (the split note says which).",
        choices=DATA_SPLITS,
        datasets=("omniglot",),
    )
    val_share: float = _f(
        0.15,
        "Validation share",
        "With split all-but-val: the share of background alphabets held out for validation "
        "(at least one).",
        min=0.01,
        max=0.5,
        datasets=("omniglot",),
    )
    split_seed: int = _f(
        0,
        "Split seed",
        "Seed of the class split when the dataset has no official one (glyph alphabets, "
        "Omniglot subsets, folders without train/val/test).",
        min=0,
        max=2**31 - 1,
    )


@dataclass
class ModelConfig:
    backbone: str = _f(
        "conv4",
        "Backbone",
        "conv4: four 3x3 conv blocks (64 filters for 28x28 grayscale, 32 for 84x84 RGB); "
        "mlp: the 256-128-64-64 network of the MAML paper (used for sinusoid).",
        choices=BACKBONES,
    )
    hidden: int = _f(
        0,
        "Conv filters",
        "Filters per conv block; 0 picks the paper's value (64 for 28x28, 32 for 84x84).",
        min=0,
        max=512,
        zero="paper's value",
    )
    pooling: str = _f(
        "max",
        "Conv4 downsampling",
        "How each conv4 block halves the image: max (3x3 convolution, then 2x2 max-pooling, the "
        "MAML paper's mini-ImageNet network) or stride (3x3 convolution with stride 2 and no "
        "pooling, then the mean over the last feature map: the MAML paper's Omniglot network, "
        "learn2learn's OmniglotCNN, about 4x less arithmetic on 28x28 images).",
        choices=POOLINGS,
        datasets=("glyphs", "omniglot", "miniimagenet", "folder"),
    )
    init: str = _f(
        "torch",
        "Initialisation",
        "How conv4's weights start. maml: the MAML reference code's scheme, as learn2learn uses "
        "it (Xavier-uniform convolutions with zero biases, BatchNorm scales from U(0, 1), the "
        "head N(0, 1) after the strided network, Xavier-uniform after max-pooling); torch: "
        "PyTorch's layer defaults.",
        choices=INITS,
        datasets=("glyphs", "omniglot", "miniimagenet", "folder"),
    )
    batchnorm: str = _f(
        "batch",
        "BatchNorm statistics",
        "batch: normalise with the statistics of the batch being processed, in training and at "
        "test time (as the MAML papers do); running: keep running averages and use them at test "
        "time (classic supervised behaviour; can give chance accuracy on small support sets).",
        choices=("batch", "running"),
    )


@dataclass
class AlgorithmConfig:
    name: str = _f(
        "maml",
        "Algorithm",
        "maml (second order), fomaml (first order), mamlpp (MAML++ options), metasgd (learned "
        "inner rates), anil (adapt head only), protonet, protomaml, reptile, finetune "
        "(transfer-learning baseline).",
        choices=ALGORITHMS,
    )
    inner_lr: float = _f(
        0.4,
        "Inner learning rate",
        "Step size of each gradient step on the support set (initial value for metasgd and LSLR).",
        min=1e-6,
        max=100.0,
        log=True,
        algorithms=GRADIENT_BASED + ("reptile", "finetune"),
    )
    inner_steps: int = _f(
        1,
        "Inner steps",
        "Gradient steps on the support set during meta-training.",
        min=1,
        max=100,
        algorithms=GRADIENT_BASED + ("reptile",),
    )
    first_order: bool = _f(
        False,
        "First order",
        "Drop second-order terms of the meta-gradient (cheaper, as in first-order MAML). "
        "fomaml is always first order.",
        algorithms=("maml", "mamlpp", "metasgd", "anil", "protomaml"),
    )
    msl: bool = _f(
        True,
        "Multi-step loss (MSL)",
        "MAML++: meta-loss is a weighted sum of query losses after every inner step, the "
        "weights annealed towards the last step over msl_iterations.",
        algorithms=MAMLPP_ONLY,
    )
    msl_iterations: int = _f(
        2000,
        "MSL annealing iterations",
        "Iterations over which the multi-step loss weights move to the final step only.",
        min=1,
        max=10_000_000,
        algorithms=MAMLPP_ONLY,
    )
    da_iterations: int = _f(
        0,
        "First-order iterations (DA)",
        "MAML++ derivative-order annealing: train first order for this many iterations, then "
        "second order. 0 switches it off.",
        min=0,
        max=10_000_000,
        algorithms=MAMLPP_ONLY,
    )
    lslr: bool = _f(
        True,
        "Per-layer per-step rates (LSLR)",
        "MAML++: learn one inner learning rate per layer and per step.",
        algorithms=MAMLPP_ONLY,
    )
    bnwb: bool = _f(
        True,
        "Per-step BN weights (BNWB)",
        "MAML++: a separate BatchNorm scale and shift for each inner step.",
        algorithms=MAMLPP_ONLY,
    )
    bnrs: bool = _f(
        True,
        "Per-step BN statistics (BNRS)",
        "MAML++: separate BatchNorm running statistics for each inner step (with running "
        "BatchNorm statistics).",
        algorithms=MAMLPP_ONLY,
    )
    reptile_batch: int = _f(
        10,
        "Reptile inner batch",
        "Examples per inner SGD step in Reptile (0: the whole support set).",
        min=0,
        max=10_000,
        zero="whole support set",
        algorithms=("reptile",),
    )


@dataclass
class TrainConfig:
    meta_batch_size: int = _f(
        4, "Meta-batch size", "Episodes (tasks) per meta-update.", min=1, max=1024
    )
    iterations: int = _f(1000, "Iterations", "Meta-updates to train for.", min=1, max=100_000_000)
    meta_lr: float = _f(
        1e-3,
        "Meta learning rate",
        "Adam learning rate of the outer loop.",
        min=1e-8,
        max=10.0,
        log=True,
    )
    lr_schedule: str = _f(
        "constant",
        "Meta-LR schedule",
        "constant, or cosine annealing to zero over the run (MAML++ CA).",
        choices=("constant", "cosine"),
    )
    seed: int = _f(
        0, "Seed", "Seed of model initialisation and episode sampling.", min=0, max=2**31 - 1
    )
    device: str = _f(
        "auto",
        "Device",
        "auto uses CUDA when a GPU is present, else the CPU; cuda:1 picks one GPU (with several "
        "processes, each takes the GPU of its local rank).",
        choices=("auto", "cpu", "cuda"),
        pattern=r"cuda:\d+",
    )
    processes: int = _f(
        1,
        "Processes",
        "Processes that share each meta-batch (torch.distributed, started by torchrun): one "
        "per GPU, or several on the CPU. The meta-batch must be a multiple of it; the results "
        "are those of one process with the same seed.",
        min=1,
        max=1024,
    )
    batched: bool = _f(
        True,
        "Task-batched inner loop",
        "Run the inner loop of many tasks of a meta-batch at once (conv4: the tasks folded into "
        "the channels of one network with grouped convolutions; otherwise torch.func.vmap; in "
        "chunks sized to the CPU cache or GPU memory) instead of one task after another; the "
        "same meta-gradients. Falls back to the per-task loop where it cannot apply (BatchNorm "
        "with running statistics) or cannot help (one task fills a chunk).",
        algorithms=GRADIENT_BASED,
    )
    eval_every: int = _f(
        100,
        "Validate every",
        "Iterations between evaluations on the fixed validation episodes (0: never).",
        min=0,
        max=100_000_000,
        zero="never",
    )
    val_episodes: int = _f(
        100, "Validation episodes", "Fixed validation episodes per evaluation.", min=1, max=100_000
    )
    checkpoint_every: int = _f(
        100,
        "Checkpoint every",
        "Iterations between saving checkpoints/last.pt (a crash loses at most this many).",
        min=1,
        max=100_000_000,
    )


@dataclass
class EvalConfig:
    episodes: int = _f(
        600,
        "Test episodes",
        "Episodes of the evaluation protocol (mean and 95% CI).",
        min=1,
        max=1_000_000,
    )
    inner_steps: int = _f(
        10,
        "Test inner steps",
        "Inner steps at evaluation time (may exceed the training steps).",
        min=0,
        max=1000,
    )
    split: str = _f("test", "Split", "Split evaluated by `workbench eval`.", choices=SPLITS)
    seed: int = _f(
        1234,
        "Episode seed",
        "Seed of the test episodes, fixed so results are comparable.",
        min=0,
        max=2**31 - 1,
    )


@dataclass
class ExperimentConfig:
    """A whole experiment. ``description`` is the one line a preset shows in lists."""

    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # -- introspection -------------------------------------------------------------------
    @staticmethod
    def sections() -> tuple[str, ...]:
        return ("data", "model", "algorithm", "train", "eval")

    def fields(self) -> Iterator[tuple[str, dataclasses.Field, Any]]:
        """(dotted key, field, current value) for every configurable value, in form order."""
        for section in self.sections():
            part = getattr(self, section)
            for f in dataclasses.fields(part):
                yield f"{section}.{f.name}", f, getattr(part, f.name)

    def get(self, key: str) -> Any:
        section, name = _split_key(key)
        return getattr(getattr(self, section), name)

    def set(self, key: str, value: Any) -> None:
        """Set one value, converting and range-checking it; raises ConfigError naming `key`."""
        section, name = _split_key(key)
        f = _field(section, name)
        setattr(getattr(self, section), name, _coerce(key, f, value))

    def copy(self) -> ExperimentConfig:
        return from_dict(to_dict(self))

    # -- validation ----------------------------------------------------------------------
    def applies(self, key: str) -> bool:
        """Whether a field matters for the chosen algorithm and dataset (the form greys others)."""
        section, name = _split_key(key)
        meta = _field(section, name).metadata
        if meta["algorithms"] is not None and self.algorithm.name not in meta["algorithms"]:
            return False
        if meta["datasets"] is not None and self.data.dataset not in meta["datasets"]:
            return False
        return True

    def validate(self) -> ExperimentConfig:
        """Check every field and the combinations between them; raise the first ConfigError."""
        for key, f, value in self.fields():
            _coerce(key, f, value)
        d = self.data
        if d.dataset in ("miniimagenet", "folder") and not d.path.strip():
            raise ConfigError(
                "data.path",
                (
                    "mini-ImageNet needs the folder holding train.csv, val.csv, test.csv and images/"
                    if d.dataset == "miniimagenet"
                    else "choose the folder that holds one sub-folder of images per class"
                ),
            )
        if d.dataset == "sinusoid":
            if self.algorithm.name in ("protonet", "protomaml"):
                raise ConfigError(
                    "algorithm.name",
                    f"{self.algorithm.name} classifies; sinusoid is a regression task "
                    "(use maml, fomaml, mamlpp, metasgd, anil, reptile or finetune)",
                )
            if self.model.backbone != "mlp":
                raise ConfigError("model.backbone", "sinusoid regression needs the mlp backbone")
        if self.model.backbone == "mlp" and d.dataset != "sinusoid" and d.image_size > 64:
            raise ConfigError(
                "model.backbone",
                f"the mlp backbone on {d.image_size}x{d.image_size} images is too large; use conv4",
            )
        problem = meta_batch_split_problem(self.train.meta_batch_size, self.train.processes)
        if problem:
            raise ConfigError("train.processes", problem)
        if self.model.backbone == "conv4" and d.dataset != "sinusoid" and d.image_size < 16:
            raise ConfigError(
                "data.image_size", "conv4 needs images of at least 16x16 (four 2x2 poolings)"
            )
        return self


def meta_batch_split_problem(meta_batch: int, processes: int) -> str:
    """Why ``processes`` cannot share meta-batches of ``meta_batch`` tasks evenly, and what to
    do instead ('' when they can): every process must take the same number of tasks."""
    if processes <= 1 or meta_batch % processes == 0:
        return ""
    divisors = [d for d in range(2, min(meta_batch, processes) + 1) if meta_batch % d == 0]
    fewer = f", or {divisors[-1]} processes" if divisors else ", or one process"
    multiple = processes * max(1, round(meta_batch / processes))
    if meta_batch < processes:
        return (
            f"a meta-batch of {meta_batch} tasks cannot be shared by {processes} processes "
            f"(each needs at least one task): use a meta-batch of {multiple}{fewer}"
        )
    return (
        f"{processes} processes cannot share a meta-batch of {meta_batch} tasks evenly: use a "
        f"meta-batch that is a multiple of {processes} (e.g. {multiple}){fewer}"
    )


def _split_key(key: str) -> tuple[str, str]:
    parts = key.split(".")
    if len(parts) != 2 or parts[0] not in ExperimentConfig.sections():
        raise ConfigError(
            key,
            "unknown key; keys are section.name with section one of "
            + ", ".join(ExperimentConfig.sections()),
        )
    return parts[0], parts[1]


_SECTION_TYPES = {
    "data": DataConfig,
    "model": ModelConfig,
    "algorithm": AlgorithmConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}


def _field(section: str, name: str) -> dataclasses.Field:
    for f in dataclasses.fields(_SECTION_TYPES[section]):
        if f.name == name:
            return f
    known = ", ".join(f.name for f in dataclasses.fields(_SECTION_TYPES[section]))
    raise ConfigError(f"{section}.{name}", f"unknown key (known in [{section}]: {known})")


def field_type(f: dataclasses.Field) -> type:
    """The Python type of a config field (annotations are strings under __future__)."""
    return {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]


def _coerce(key: str, f: dataclasses.Field, value: Any) -> Any:
    """Convert `value` to the field's type and check its range or choices."""
    kind = field_type(f)
    meta = f.metadata
    if kind is bool:
        if isinstance(value, bool):
            out: Any = value
        elif isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            out = True
        elif isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            out = False
        else:
            raise ConfigError(key, f"expected true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            out = value
        elif isinstance(value, float) and value.is_integer():
            out = int(value)
        elif isinstance(value, str):
            try:
                out = int(value.strip().replace("_", ""), 10)
            except ValueError:
                raise ConfigError(key, f"expected a whole number, got {value!r}") from None
        else:
            raise ConfigError(key, f"expected a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool):
            raise ConfigError(key, f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            out = float(value)
        elif isinstance(value, str):
            try:
                out = float(value.strip())
            except ValueError:
                raise ConfigError(key, f"expected a number, got {value!r}") from None
        else:
            raise ConfigError(key, f"expected a number, got {value!r}")
        if not math.isfinite(out):
            raise ConfigError(key, f"expected a finite number, got {value!r}")
    else:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected text, got {value!r}")
        out = value
        if "\x00" in out:
            raise ConfigError(key, "text may not contain NUL characters")
    extra = meta.get("pattern")
    if meta.get("choices") and out not in meta["choices"]:
        if not (extra and re.fullmatch(extra, out)):
            also = f" (or {extra.replace(chr(92) + 'd+', 'N')})" if extra else ""
            raise ConfigError(key, f"{out!r} is not one of: {', '.join(meta['choices'])}{also}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and out < lo:
        raise ConfigError(key, f"must be at least {lo:g}, got {out!r}")
    if hi is not None and out > hi:
        raise ConfigError(key, f"must be at most {hi:g}, got {out!r}")
    return out


# -- dict and TOML ---------------------------------------------------------------------------


def to_dict(config: ExperimentConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"description": config.description}
    for section in config.sections():
        out[section] = dataclasses.asdict(getattr(config, section))
    return out


def from_dict(data: dict[str, Any], *, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Build a config from nested dicts; unknown sections or keys are errors that name them."""
    config = base.copy() if base is not None else ExperimentConfig()
    if not isinstance(data, dict):
        raise ConfigError("", "a configuration must be a table of sections")
    for section, values in data.items():
        if section == "description":
            if not isinstance(values, str):
                raise ConfigError("description", f"expected text, got {values!r}")
            config.description = values
            continue
        if section not in config.sections():
            raise ConfigError(
                str(section),
                "unknown section; sections are " + ", ".join(config.sections()),
            )
        if not isinstance(values, dict):
            raise ConfigError(str(section), f"expected a [{section}] table, got {values!r}")
        for name, value in values.items():
            config.set(f"{section}.{name}", value)
    return config


def loads(text: str, *, source: str = "<string>") -> ExperimentConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{source} is not valid TOML: {exc}") from None
    return from_dict(data)


def load(path: str | Path) -> ExperimentConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("", f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("", f"cannot read config file {path}: {exc}") from None
    return loads(text, source=str(path))


def dumps(config: ExperimentConfig) -> str:
    """TOML text of the config: the description, then one table per section."""
    return tomli_w.dumps(to_dict(config))


def save(config: ExperimentConfig, path: str | Path) -> None:
    """Write the config as TOML, atomically (an interrupted save keeps the previous file)."""
    atomic_write_text(path, dumps(config))


def parse_overrides(pairs: list[str], config: ExperimentConfig) -> ExperimentConfig:
    """Apply ``KEY=VALUE`` strings from the command line."""
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(pair, "expected KEY=VALUE, for example data.ways=5")
        key, value = pair.split("=", 1)
        config.set(key.strip(), value.strip())
    return config
