"""Schedules as pure functions of the step (no hidden counters)."""

from __future__ import annotations

import math


def saliency_beta(step: int, total_steps: int, beta_start: float, beta_end: float, drop_fraction: float) -> float:
    """Weight β of the saliency map in L_I^u at ``step`` (0-based).

    β stays at ``beta_start`` for the first ``drop_fraction`` of training and is ``beta_end``
    afterwards (the paper drops it after 200k of 1.6M iterations, i.e. one eighth).
    """
    return beta_start if step < drop_fraction * total_steps else beta_end


def is_encoder_energy_step(step: int) -> bool:
    """Algorithm 1: on odd iterations the energies update the encoder (decoder frozen); on even
    iterations they update the decoder (encoder frozen). Steps are counted from 1 as in the paper,
    so ``step`` here (0-based) is odd-in-the-paper when ``step + 1`` is odd."""
    return (step + 1) % 2 == 1


def learning_rate(step: int, total_steps: int, lr: float, schedule: str, cooldown_steps: int = 0) -> float:
    """Learning rate of every optimiser at ``step`` (0-based) of ``total_steps``.

    ``"constant"``: ``lr`` throughout (the paper's Adagrad decays its own steps). ``"cosine"``:
    ``lr * (1 + cos(pi * step / total_steps)) / 2``, from ``lr`` at the first step to nearly 0 at
    the last, so that the weights a run ends with are not those of one noisy late step.

    ``cooldown_steps`` N > 0 then scales the last N steps' rate by ``(total_steps - step) / N``:
    1 at step ``total_steps - N``, ``1 / N`` at the last (``run.cooldown_steps``).
    """
    if schedule == "constant":
        rate = lr
    elif schedule == "cosine":
        rate = lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    else:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}")
    if cooldown_steps > 0 and step >= total_steps - cooldown_steps:
        rate *= (total_steps - step) / cooldown_steps
    return rate
