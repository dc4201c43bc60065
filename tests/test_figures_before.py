"""The query figures before adaptation: measured on a sample of each meta-batch's tasks.

They are a diagnostic, and measuring them on every task cost a query forward per task (8-17%
of a 1-shot MAML step), so the meta-step measures about `PRE_ADAPTATION_TASKS` of them, chosen
by episode index. What must hold: every meta-batch has at least one measured task, the figure
is exactly the mean of the measured tasks' own figures on every inner-loop path, and measuring
changes nothing (BatchNorm running statistics included).
"""

from __future__ import annotations

import pytest
import torch
from test_folded import IMAGES, make_learner

from workbench.algorithms.base import PRE_ADAPTATION_TASKS, measured_before, measured_count
from workbench.data.episodes import EpisodeSampler

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("size", [1, 2, 5, 7, 8, 10, 16, 31, 32, 64])
def test_each_meta_batch_has_a_few_measured_tasks(size: int) -> None:
    counts = {measured_count(i * size, size, size) for i in range(50)}
    if size < 2 * PRE_ADAPTATION_TASKS:
        assert counts == {size}  # small meta-batches: every task, as before
    else:
        assert min(counts) >= PRE_ADAPTATION_TASKS and max(counts) < 2 * PRE_ADAPTATION_TASKS


def test_shares_of_a_meta_batch_measure_what_the_whole_measures() -> None:
    """Two processes with 13 and 19 of 32 tasks measure the tasks one process measures."""
    whole = [i for i in range(320, 352) if measured_before(i, 32)]
    parts = [i for i in range(320, 333) if measured_before(i, 32)]
    parts += [i for i in range(333, 352) if measured_before(i, 32)]
    assert parts == whole and len(whole) == PRE_ADAPTATION_TASKS


def figures_of_each(learner, batch) -> torch.Tensor:
    """Each task's query [loss, accuracy] at the meta-parameters, task by task."""
    rows = []
    with torch.no_grad():
        for t in range(len(batch)):
            e = batch[t]
            fast = learner.initial_params(e.support_x, e.support_y, e.ways)
            out = learner.forward(fast, e.query_x, 0)
            rows.append(
                torch.stack([learner.loss(out, e.query_y), learner.correct(out, e.query_y)])
            )
    return torch.stack(rows)


@pytest.mark.parametrize(
    ("name", "options", "path"),
    [
        ("maml", {}, "folded"),
        ("maml", {"batchnorm": "running"}, "per-task"),
        ("protomaml", {}, "vmap"),
        ("reptile", {}, None),  # its own task loop
    ],
)
def test_the_figure_is_the_mean_of_the_measured_tasks(name, options, path) -> None:
    learner = make_learner(name, torch.float64, **options)
    learner.meta_batch_size = 16  # every 4th episode
    batch = EpisodeSampler(IMAGES, 3, 2, 2, seed=1).batch(16, 16)
    batch.support_x, batch.query_x = batch.support_x.double(), batch.query_x.double()
    if path is not None:
        assert learner.folded == (path == "folded")
        assert learner.batched == (path != "per-task")
    expected = figures_of_each(learner, batch)[[0, 4, 8, 12]].mean(0)
    before = learner.figures_before(batch)
    assert before is not None
    torch.testing.assert_close(before, expected, atol=1e-9, rtol=1e-9)

    metrics = learner.meta_step(batch, 1)  # measured before the update it makes
    assert metrics.pre_loss == pytest.approx(expected[0].item(), abs=1e-9)
    assert metrics.pre_accuracy == pytest.approx(expected[1].item(), abs=1e-9)
    assert metrics.loss is not None and metrics.accuracy is not None


def test_a_share_without_measured_tasks_reports_none_before() -> None:
    learner = make_learner("maml", torch.float32)
    learner.meta_batch_size = 16
    batch = EpisodeSampler(IMAGES, 3, 2, 2, seed=1).batch(17, 3)  # episodes 17, 18, 19
    metrics = learner.meta_step(batch, 1)
    assert metrics.pre_loss is None and metrics.pre_accuracy is None
    assert metrics.loss > 0 and 0 <= metrics.accuracy <= 1


def test_measuring_keeps_the_running_statistics() -> None:
    learner = make_learner("maml", torch.float32, batchnorm="running")
    batch = EpisodeSampler(IMAGES, 3, 2, 2, seed=1).batch(0, 4)
    state = {k: v.clone() for k, v in learner.model.state_dict().items()}
    assert learner.figures_before(batch) is not None
    for key, value in learner.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    learner.meta_step(batch, 0)  # while adapting, training mode updates them
    changed = [k for k, v in learner.model.state_dict().items() if "running" in k]
    assert changed and any(
        not torch.equal(learner.model.state_dict()[k], state[k]) for k in changed
    )
