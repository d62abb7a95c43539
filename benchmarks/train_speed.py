"""Seconds per Algorithm-1 iteration and training images/s.

    python benchmarks/train_speed.py [--steps 20] [--batch 16] [--threads 2] [KEY=VALUE ...]

Times whole iterations (forward of every objective, per-loss gradients, optimiser steps) on
random batches drawn from the synthetic training pairs, after a few warm-up iterations. Prints a
Markdown table of medians; on CUDA the timings synchronise the device.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import default_collate

from partpose.training.algorithm import training_losses
from partpose.training.config import load_config
from partpose.training.data_setup import build_training_data
from partpose.training.optimizers import LOSS_PARAMETERS, apply_gradients, build_optimizers, compute_gradients, parameter_groups
from partpose.training.sampling import step_generator
from partpose.training.trainer import build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--config")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = load_config(args.config, args.overrides + [f"run.batch_size={args.batch}"])
    data = build_training_data(config)
    config, model = build_model(config, data)
    model.to(device).train()
    optimizers = build_optimizers(model, config.optim.lr)
    groups = parameter_groups(model)
    params_of = {name: groups[which] for name, which in LOSS_PARAMETERS.items()}

    rows = []
    for name, objective in [("unsup (full Algorithm 1)", config.objective)]:
        times = []
        for step in range(args.warmup + args.steps):
            generator = step_generator(0, step)
            indices = torch.randint(len(data.pairs), (args.batch,), generator=generator).tolist()
            batch = {k: v.to(device) for k, v in default_collate([data.pairs[i] for i in indices]).items()}
            prior, up = (x.to(device) for x in data.prior.sample(args.batch, generator, with_up=True))
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            out = training_losses(model, batch, prior, step, 1.0, objective, generator, prior_up=up)
            apply_gradients(compute_gradients(out.losses, params_of), params_of, optimizers)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= args.warmup:
                times.append(time.perf_counter() - start)
        median = statistics.median(times)
        rows.append((name, median, args.batch / median))

    print(f"device: {device}, threads: {torch.get_num_threads()}, batch: {args.batch}, "
          f"resolution: {config.model.resolution}, iterations timed: {args.steps}")
    print("| iteration | s/iteration (median) | images/s |")
    print("|---|---|---|")
    for name, seconds, rate in rows:
        print(f"| {name} | {seconds:.3f} | {rate:.1f} |")


if __name__ == "__main__":
    main()
