"""EpisodeSampler: determinism and the episode invariants; sinusoid tasks."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.data.class_images import ClassImages
from workbench.data.episodes import EpisodeBatch, EpisodeSampler
from workbench.data.sinusoid import SinusoidSampler
from workbench.errors import DatasetError


def toy_images(classes: int = 12, per_class: int = 10) -> ClassImages:
    """Each image encodes its class and index in its pixels, so episodes can be traced back."""
    images = torch.zeros(classes, per_class, 1, 4, 4, dtype=torch.uint8)
    for c in range(classes):
        for i in range(per_class):
            images[c, i, 0, 0, 0] = c
            images[c, i, 0, 0, 1] = i
    names = [f"class{c}" for c in range(classes)]
    return ClassImages(images, names, name="toy")


def decode(x: torch.Tensor) -> list[tuple[int, int]]:
    raw = (x[:, 0, 0, :2] * 255).round().long()
    return [(int(c), int(i)) for c, i in raw]


def test_same_index_same_episode_and_different_index_differs():
    s1, s2 = (
        EpisodeSampler(toy_images(), 5, 2, 3, seed=7),
        EpisodeSampler(toy_images(), 5, 2, 3, seed=7),
    )
    for i in (0, 1, 99, 12345):
        a, b = s1[i], s2[i]
        assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_x, b.query_x)
        assert a.class_names == b.class_names
    assert decode(s1[0].support_x) != decode(s1[1].support_x)
    assert decode(EpisodeSampler(toy_images(), 5, 2, 3, seed=8)[0].support_x) != decode(
        s1[0].support_x
    )
    # random access: asking for 3 before 2 gives the same episodes
    assert decode(s1[3].query_x) == decode(s2[3].query_x)


def test_episode_invariants():
    sampler = EpisodeSampler(toy_images(), ways=5, shots=2, queries=3, seed=0)
    label_orders = set()
    for i in range(40):
        e = sampler[i]
        assert e.support_x.shape == (10, 1, 4, 4) and e.query_x.shape == (15, 1, 4, 4)
        assert e.support_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
        assert e.query_y.tolist() == sum([[k] * 3 for k in range(5)], [])
        support, query = decode(e.support_x), decode(e.query_x)
        classes = [c for c, _ in support]
        assert len(set(classes)) == 5  # classes within an episode distinct
        assert not set(support) & set(query)  # support and query disjoint
        for label in range(5):  # each label is one class, named after it
            cls = {
                c
                for (c, _), y in zip(support + query, e.support_y.tolist() + e.query_y.tolist())
                if y == label
            }
            assert cls == {int(e.class_names[label][5:])}
        assert len(e.support_sources) == 10 and len(e.query_sources) == 15
        label_orders.add(tuple(classes[::2]))
    # labels 0..N-1 are given to classes in a shuffled order, not sorted by class
    assert any(list(order) != sorted(order) for order in label_orders)


def test_batch_stacks_episodes_on_a_task_axis():
    sampler = EpisodeSampler(toy_images(), 3, 1, 2, seed=1)
    batch = sampler.batch(10, 4)
    assert isinstance(batch, EpisodeBatch) and len(batch) == 4
    assert batch.support_x.shape == (4, 3, 1, 4, 4)
    assert torch.equal(batch[2].query_x, sampler[12].query_x)


def test_too_few_classes_or_images_name_the_numbers():
    with pytest.raises(DatasetError, match="12 classes.*20-way"):
        EpisodeSampler(toy_images(), 20, 1, 1)
    with pytest.raises(DatasetError, match=r"at least 11 images.*shots 5 \+ queries 6"):
        EpisodeSampler(toy_images(), 5, 5, 6)


def test_ragged_classes_only_sample_real_images():
    images = toy_images(6, 10)
    counts = torch.tensor([10, 10, 3, 10, 10, 10])
    sampler = EpisodeSampler(
        ClassImages(images.images, images.class_names, counts), 5, 1, 3, seed=0
    )
    for i in range(20):
        assert 2 not in {c for c, _ in decode(sampler[i].support_x)}  # class 2 has too few


def test_sinusoid_tasks_follow_the_maml_paper():
    sampler = SinusoidSampler(shots=5, queries=10, seed=3)
    amplitudes, phases = [], []
    for i in range(200):
        e = sampler[i]
        a, p = e.task["amplitude"], e.task["phase"]
        amplitudes.append(a)
        phases.append(p)
        assert e.support_x.shape == (5, 1) and e.query_x.shape == (10, 1)
        assert e.is_regression
        x = torch.cat([e.support_x, e.query_x])
        y = torch.cat([e.support_y, e.query_y])
        assert x.min() >= -5 and x.max() <= 5
        assert torch.allclose(y, a * torch.sin(x - p), atol=1e-5)
    assert 0.1 <= min(amplitudes) and max(amplitudes) <= 5.0 and max(amplitudes) > 4
    assert 0 <= min(phases) and max(phases) <= math.pi
    assert torch.equal(sampler[5].support_x, SinusoidSampler(5, 10, 3)[5].support_x)
    assert not torch.equal(SinusoidSampler(5, 10, 3, "val")[5].support_x, sampler[5].support_x)
