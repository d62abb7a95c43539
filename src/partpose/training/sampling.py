"""Randomness that is a pure function of (seed, step, rank), so resumed runs repeat exactly."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
    before: resuming at step ``k`` sees the same batches as an uninterrupted run. With
    ``labelled_per_batch`` > 0, that many of each batch (its first) are drawn from the items
    ``labelled`` instead (the semi-supervised setting's labelled frames), the rest from all.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, total_steps: int, start_step: int = 0, rank: int = 0,
                 labelled: Sequence[int] | None = None, labelled_per_batch: int = 0):
        if num_items < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        if not 0 <= labelled_per_batch <= batch_size:
            raise ValueError(f"labelled_per_batch must be in [0, batch_size = {batch_size}], got {labelled_per_batch}")
        labelled = [] if labelled is None else [int(i) for i in labelled]
        if labelled_per_batch and not labelled:
            raise ValueError("labelled_per_batch > 0 needs labelled items to draw from")
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.total_steps, self.start_step, self.rank = total_steps, start_step, rank
        self.labelled = torch.as_tensor(labelled, dtype=torch.long)
        self.labelled_per_batch = labelled_per_batch

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.total_steps):
            generator = step_generator(self.seed, step, self.rank, stream=1)
            batch = torch.randint(self.num_items, (self.batch_size - self.labelled_per_batch,), generator=generator)
            if self.labelled_per_batch:
                picks = torch.randint(len(self.labelled), (self.labelled_per_batch,), generator=generator)
                batch = torch.cat((self.labelled[picks], batch))
            yield batch.tolist()
