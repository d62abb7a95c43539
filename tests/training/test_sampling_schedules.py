import torch

from partpose.training.sampling import StepBatchSampler, step_generator
import math

import pytest

from partpose.training.optimizers import set_learning_rate
from partpose.training.schedules import is_encoder_energy_step, learning_rate, saliency_beta


def test_batches_depend_only_on_the_step():
    full = list(StepBatchSampler(100, 4, seed=3, total_steps=10))
    resumed = list(StepBatchSampler(100, 4, seed=3, total_steps=10, start_step=6))
    assert len(full) == 10 and resumed == full[6:]
    assert list(StepBatchSampler(100, 4, seed=3, total_steps=10, rank=1)) != full
    assert all(0 <= i < 100 for batch in full for i in batch)


def test_labelled_items_fill_their_share_of_every_batch():
    labelled = [7, 11, 42]
    batches = list(StepBatchSampler(100, 8, seed=3, total_steps=20, labelled=labelled, labelled_per_batch=3))
    assert all(len(b) == 8 and set(b[:3]) <= set(labelled) for b in batches)
    assert len({i for b in batches for i in b[3:]}) > 20  # the rest from every item
    resumed = list(StepBatchSampler(100, 8, seed=3, total_steps=20, start_step=5, labelled=labelled, labelled_per_batch=3))
    assert resumed == batches[5:]
    # no share: the batches of the plain sampler, item for item
    assert list(StepBatchSampler(100, 8, seed=3, total_steps=20, labelled=labelled)) == \
        list(StepBatchSampler(100, 8, seed=3, total_steps=20))
    with pytest.raises(ValueError, match="labelled_per_batch must be in"):
        StepBatchSampler(100, 8, seed=3, total_steps=20, labelled=labelled, labelled_per_batch=9)
    with pytest.raises(ValueError, match="needs labelled items"):
        StepBatchSampler(100, 8, seed=3, total_steps=20, labelled=[], labelled_per_batch=1)


def test_step_generator_streams_differ():
    a = torch.rand(4, generator=step_generator(0, 5, 0, 1))
    b = torch.rand(4, generator=step_generator(0, 5, 0, 2))
    c = torch.rand(4, generator=step_generator(0, 5, 0, 1))
    assert not torch.equal(a, b) and torch.equal(a, c)


def test_beta_drops_after_the_fraction():
    values = [saliency_beta(s, 80, 1.0, 0.1, 0.125) for s in range(80)]
    assert values[:10] == [1.0] * 10 and values[10:] == [0.1] * 70


def test_energy_alternation_starts_with_the_encoder():
    # Algorithm 1 counts iterations from 1: iteration 1 (step 0) is odd -> encoder update.
    assert [is_encoder_energy_step(s) for s in range(4)] == [True, False, True, False]


def test_cosine_learning_rate_by_hand():
    assert learning_rate(0, 1000, 1e-3, "cosine") == pytest.approx(1e-3)
    assert learning_rate(500, 1000, 1e-3, "cosine") == pytest.approx(0.5e-3)
    assert learning_rate(250, 1000, 1e-3, "cosine") == pytest.approx(1e-3 * (1 + math.sqrt(0.5)) / 2)
    assert learning_rate(999, 1000, 1e-3, "cosine") < 1e-8
    assert all(learning_rate(s, 1000, 2e-3, "constant") == 2e-3 for s in (0, 500, 999))
    with pytest.raises(ValueError, match="schedule"):
        learning_rate(0, 10, 1e-3, "step")


def test_cooldown_by_hand():
    # the last 4 of 10 steps: 4/4, 3/4, 2/4, 1/4 of the schedule's rate
    rates = [learning_rate(s, 10, 1e-3, "constant", cooldown_steps=4) for s in range(10)]
    assert rates == pytest.approx([1e-3] * 6 + [1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
    assert learning_rate(7, 10, 1e-3, "cosine", 4) == pytest.approx(learning_rate(7, 10, 1e-3, "cosine") * 0.75)
    assert [learning_rate(s, 3, 1e-3, "constant", 3) for s in range(3)] == pytest.approx([1e-3, 2e-3 / 3, 1e-3 / 3])
    assert all(learning_rate(s, 10, 1e-3, "constant", 0) == 1e-3 for s in range(10))


def test_set_learning_rate_reaches_every_group():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    optimizers = {"x": torch.optim.Adam([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0),
                  "y": torch.optim.Adagrad([b], lr=1.0)}
    set_learning_rate(optimizers, 0.25)
    assert [g["lr"] for o in optimizers.values() for g in o.param_groups] == [0.25, 0.25, 0.25]
