"""Images/s of the pose path (E + T_fk + T_c): eager PyTorch vs the exported TorchScript file.

    python benchmarks/inference.py [--threads 2] [--repeats 20] [--checkpoint C] [--device cpu]

For every resolution (64 and 128 px: the default CPU model and the same architecture at 128 px,
randomly initialised, unless ``--checkpoint`` gives a trained model at its own resolution) and
every batch size (1 and 64), times ``--repeats`` forward passes after warm-up, under
``torch.inference_mode``, of (a) the eager ``PosePath`` module and (b) the TorchScript file
``partpose export`` writes, reloaded from disk. Prints a Markdown table of medians with the
machine's load average, since the timings of a shared machine depend on it; the fastest call
is shown too, as the figure least disturbed by other processes.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from partpose.inference.export import PosePath, export_pose_path, load_exported
from partpose.models.decoder import DecoderConfig
from partpose.models.partpose_model import ModelConfig, PartPoseModel


def model_at(resolution: int) -> PartPoseModel:
    """The default encoder at ``resolution`` (random weights, fixed seed). The decoder, which the
    pose path does not use, gets the default widths with its first width repeated for every
    extra stage."""
    torch.manual_seed(0)
    default = DecoderConfig()
    stages = int(math.log2(resolution // default.base_size)) + 1
    widths = (default.widths[0],) * max(0, stages - len(default.widths)) + default.widths[-stages:]
    config = ModelConfig(resolution=resolution, decoder=replace(default, resolution=resolution, widths=widths))
    return PartPoseModel(config).eval()


def seconds_per_call(fn, image: torch.Tensor, repeats: int, warmup: int) -> tuple[float, float]:
    """Median and fastest wall time of ``fn(image)`` over ``repeats`` calls (CUDA is
    synchronised)."""
    sync = torch.cuda.synchronize if image.device.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            sync()
            start = time.perf_counter()
            fn(image)
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per row (default: 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--checkpoint", type=Path, default=None, help="benchmark this trained model instead")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.checkpoint is not None:
        from partpose.inference.loading import load_model

        loaded = load_model(args.checkpoint, device)
        models = {loaded.resolution: loaded.model}
    else:
        models = {r: model_at(r).to(device) for r in args.resolutions}

    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for resolution, model in models.items():
            path = export_pose_path(model, Path(tmp) / f"pose_{resolution}.pt", device=device)
            exported, _ = load_exported(path, device)
            eager = PosePath(model).eval()
            for batch in args.batches:
                image = torch.rand(batch, 3, resolution, resolution, generator=torch.Generator().manual_seed(1)).to(device)
                for name, fn in (("eager", eager), ("TorchScript", exported)):
                    median, best = seconds_per_call(fn, image, args.repeats, args.warmup)
                    rows.append((resolution, batch, name, median, batch / median, batch / best))
    load_after = os.getloadavg()

    parameters = {r: sum(p.numel() for p in m.encoder.parameters()) for r, m in models.items()}
    print(f"device: {device}, torch threads: {torch.get_num_threads()}, CPU cores: {os.cpu_count()}, "
          f"load average (1 min) before/after: {load_before[0]:.2f}/{load_after[0]:.2f}, "
          f"repeats: {args.repeats} (median)")
    print("encoder parameters: " + ", ".join(f"{r} px: {n / 1e6:.2f} M" for r, n in parameters.items()))
    print()
    print("| resolution | batch | pose path | ms / batch (median) | images/s (median) | images/s (fastest call) |")
    print("|---|---|---|---|---|---|")
    for resolution, batch, name, seconds, rate, best_rate in rows:
        print(f"| {resolution}² | {batch} | {name} | {1000 * seconds:.2f} | {rate:.0f} | {best_rate:.0f} |")


if __name__ == "__main__":
    main()
