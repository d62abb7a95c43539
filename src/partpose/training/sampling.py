"""Randomness that is a pure function of (seed, step, rank), so resumed runs repeat exactly."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def step_generator(seed: int, step: int, rank: int = 0, stream: int = 0) -> torch.Generator:
    """A CPU generator for one (step, process, purpose); independent of everything before it."""
    generator = torch.Generator()
    generator.manual_seed(((seed * 1_000_003 + step) * 257 + rank) * 31 + stream)
    return generator


class StepBatchSampler(Sampler[list[int]]):
    """Yields the batch indices of steps ``start_step .. total_steps - 1``.

    The indices of step ``k`` on process ``rank`` are drawn (uniformly, with replacement across
    steps) from ``step_generator(seed, k, rank)``, so they do not depend on how many steps ran
    before: resuming at step ``k`` sees the same batches as an uninterrupted run.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, total_steps: int, start_step: int = 0, rank: int = 0):
        if num_items < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.total_steps, self.start_step, self.rank = total_steps, start_step, rank

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.total_steps):
            generator = step_generator(self.seed, step, self.rank, stream=1)
            yield torch.randint(self.num_items, (self.batch_size,), generator=generator).tolist()
