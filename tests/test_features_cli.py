"""``workbench features``: the pictures and features.json it writes are the engine's, and every
error a user can cause is one line and exit status 2."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from run_helpers import train_run

from workbench.cli import main
from workbench.engine.features import FeaturesRequest, analyse, resolve_compare, run_source

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = [
    "train.iterations=5",
    "train.eval_every=5",
    "train.val_episodes=4",
    "train.meta_batch_size=2",
    "train.checkpoint_every=5",
    "train.device=cpu",
]
SMALL = ["--classes", "4", "--images-per-class", "5", "--episodes", "3", "--steps", "2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("features-cli-runs")
    return {
        "fomaml": train_run(root, "demo", TINY),
        "finetune": train_run(root, "demo", TINY + ["algorithm.name=finetune"]),
        "mlp": train_run(root, "demo", TINY + ["model.backbone=mlp"]),
        "sinusoid": train_run(
            root,
            "sinusoid-maml",
            [
                "train.iterations=5",
                "train.eval_every=5",
                "train.val_episodes=2",
                "train.device=cpu",
            ],
        ),
    }


def test_the_commands_json_is_the_engines_analysis(runs, tmp_path, capsys):
    run = runs["fomaml"]
    out = tmp_path / "out"
    argv = ["features", str(run), "--compare", "baseline", "random", *SMALL, "--smoothgrad", "2"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    written = json.loads((out / "features.json").read_text())
    request = FeaturesRequest(
        [run_source(run), resolve_compare("baseline", run), resolve_compare("random", run)],
        classes=4,
        per_class=5,
        episodes=3,
        steps=2,
        smoothgrad=2,
    )
    expected = json.loads(json.dumps(analyse(request).to_dict()))
    assert written == expected
    models = written["models"]
    assert [m["label"].split(":")[0] for m in models] == [
        "fomaml",
        "Fine-tuning baseline",
        "Random initialisation (fomaml)",
    ]
    cka = models[0]["representation_change"]["cka"]
    assert list(cka) == ["conv1", "conv2", "conv3", "conv4", "head"]
    assert all(len(v["values"]) == 3 and v["ci95"] is not None for v in cka.values())
    assert f"# {models[0]['label']}: CKA conv1 {cka['conv1']['mean']:.3f}" in "\n".join(printed)
    pngs = sorted(p.name for p in out.glob("*.png"))
    for name in ("cka.png", "separation.png", "filters-0-fomaml-"):
        assert any(p.startswith(name) for p in pngs), name
    for prefix in ("filters-", "pca-", "tsne-", "saliency-", "top-bottom-"):
        assert sum(p.startswith(prefix) for p in pngs) >= 3, prefix
    with Image.open(out / "cka.png") as image:
        assert image.format == "PNG" and image.width > 300
    tables = {str(out / f) for f in ("features.json", "cka.csv", "separation.csv")}
    assert {str(out / p) for p in pngs} | tables == set(
        line for line in printed if not line.startswith("#")
    )
    with open(out / "cka.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 5
    for row in rows:
        model = next(m for m in models if m["label"] == row["model"])
        value = model["representation_change"]["cka"][row["layer"]]
        assert (float(row["cka"]) if row["cka"] else None) == value["mean"]
    with open(out / "separation.csv", newline="") as fh:
        first = next(csv.DictReader(fh))
    change = models[0]["representation_change"]
    assert float(first["silhouette_after"]) == change["silhouette_after"]["mean"]
    assert (
        float(first["centroid_accuracy_before"]) == change["separation_before"]["centroid_accuracy"]
    )


def _error(argv: list[str], capsys) -> str:
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in err and len(errors) == 1, err
    return errors[0]


def test_a_sinusoid_run_is_one_clear_line(runs, tmp_path, capsys):
    err = _error(["features", str(runs["sinusoid"]), "--out", str(tmp_path)], capsys)
    assert f"run {runs['sinusoid'].name} is a sinusoid regression model: it has no images" in err


def test_a_damaged_checkpoint_is_one_clear_line(runs, tmp_path, capsys):
    broken = Path(shutil.copytree(runs["fomaml"], tmp_path / "broken"))
    for kind in ("best", "last"):
        (broken / "checkpoints" / f"{kind}.pt").write_bytes(b"\x00" * 64)
    err = _error(["features", str(broken), *SMALL, "--out", str(tmp_path / "o")], capsys)
    assert "cannot be loaded safely" in err and "best.pt" in err
    shutil.rmtree(broken / "checkpoints")
    err = _error(["features", str(broken), *SMALL, "--out", str(tmp_path / "o")], capsys)
    assert "has no best checkpoint" in err


def test_another_architecture_is_one_clear_line(runs, tmp_path, capsys):
    argv = ["features", str(runs["fomaml"]), "--compare", str(runs["mlp"]), *SMALL]
    err = _error([*argv, "--out", str(tmp_path)], capsys)
    assert "has another architecture" in err and "mlp 256-128-64-64" in err


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--compare", "random", "random", "random", "random"], "at most 3 comparison models"),
        (["--episodes", "-1"], "--episodes: must be 0 or more"),
        (["--classes", "1"], "--classes: must be at least 2"),
        (["--compare", "/no/such/run"], "no run folder at /no/such/run"),
    ],
)
def test_bad_arguments_are_one_clear_line(runs, tmp_path, capsys, extra, needle):
    err = _error(["features", str(runs["fomaml"]), *extra, "--out", str(tmp_path)], capsys)
    assert needle in err
