"""``partpose train``: Algorithm 1 on a dataset, ending with an evaluation table."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from partpose.training.config import load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (default: the CPU configuration on the synthetic benchmark)",
        description="Train with Algorithm 1. With no arguments: the CPU default configuration on the "
        "synthetic benchmark, written to runs/default. A run folder that already holds a checkpoint "
        "is resumed.",
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted config overrides, e.g. run.steps=500 objective.setting=weak")
    parser.add_argument("--config", type=Path, help="YAML configuration (see configs/)")
    parser.add_argument("--out", type=str, help="run folder (same as run.out_dir=...)")
    parser.add_argument("--fresh", action="store_true", help="delete the run folder's checkpoints and start over")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from partpose.training.trainer import format_metrics_table, train

    overrides = list(args.overrides)
    if args.out:
        overrides.append(f"run.out_dir={args.out}")
    config = load_config(args.config, overrides)
    out_dir = Path(config.run.out_dir)
    if args.fresh and (out_dir / "checkpoints").exists():
        shutil.rmtree(out_dir / "checkpoints")
    result = train(config, resume=not args.fresh)
    if result is None:  # non-zero ranks of a distributed run
        return 0
    print()
    if result.initial_metrics:
        print(format_metrics_table(result.initial_metrics, "untrained model"))
        print()
    minutes = f"{result.seconds / 60:.1f} min"
    if result.total_seconds is not None and result.total_seconds - result.seconds >= 1.0:  # a resumed run
        minutes += f", {result.total_seconds / 60:.1f} min over every session of the run"
    if result.metrics:
        print(format_metrics_table(result.metrics, f"after {result.step} steps ({minutes})"))
    else:
        print(f"trained {result.step} steps in {minutes} (the dataset has no test split to evaluate)")
    print(f"\nrun folder: {result.out_dir}  (tensorboard --logdir {result.out_dir / 'tensorboard'})")
    return 0
