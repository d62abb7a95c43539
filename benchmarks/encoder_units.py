"""What a trained encoder reads from the images: the spread of its trunk features and its live units.

    python benchmarks/encoder_units.py CHECKPOINT_OR_RUN [...] [--frames 512] [--threads 2] [--out FILE.md]

A run that predicts one pose for every image (``pose spread`` ≈ 0 in ``partpose evaluate``) can
get there two ways: its trunk stops telling the images apart, or its heads stop listening to the
trunk. For every checkpoint, on ``--frames`` test frames of its own data (evenly spread), this
prints:

- **trunk spread**: the standard deviation over the images of each pooled trunk feature
  (``Encoder.features``), averaged over the features, and the same divided by the features' mean
  absolute value (0: the trunk gives every image the same features);
- **pose units live**: the fraction of the pose MLP's hidden units that fire (> 0 after the
  ReLU) for at least one of the images, and the mean fraction that fire per image;
- **appearance units live**: the same for the appearance MLP.

The figures of docs/learning.md ("Dead units in the encoder's heads") came from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, use_threads, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@torch.no_grad()
def unit_activity(encoder, images: torch.Tensor, batch_size: int = 64) -> dict[str, float]:
    """Trunk spread and live hidden units of ``encoder`` on ``images`` ``(N, 3, H, W)`` (module docstring).

    Returns:
        ``trunk_spread``, ``trunk_spread_relative``, ``pose_units_live``,
        ``pose_units_per_image``, ``appearance_units_live``, ``appearance_units_per_image``.
    """
    was_training = encoder.training
    encoder.eval()
    features, pose, appearance = [], [], []
    for chunk in images.split(batch_size):
        f = encoder.features(chunk)
        features.append(f)
        pose.append(encoder.pose_mlp(f) > 0)
        appearance.append(encoder.appearance_mlp(f) > 0)
    encoder.train(was_training)
    f = torch.cat(features).double()
    spread = f.std(dim=0, unbiased=False).mean()
    result = {"trunk_spread": float(spread), "trunk_spread_relative": float(spread / f.abs().mean().clamp_min(1e-12))}
    for name, fired in (("pose", torch.cat(pose)), ("appearance", torch.cat(appearance))):
        fired = fired.double()
        result[f"{name}_units_live"] = float((fired.amax(dim=0) > 0).double().mean())
        result[f"{name}_units_per_image"] = float(fired.mean())
    return result


def test_images(config, frames: int) -> torch.Tensor:
    """``frames`` test frames of ``config``'s data, evenly spread, ``(N, 3, H, W)`` in [0, 1]."""
    from partpose.data.pairs import FrameDataset
    from partpose.evaluation.evaluate import thin_frames
    from partpose.training.data_setup import load_videos

    dataset = thin_frames(FrameDataset(load_videos(config)[1]), frames)
    return torch.cat([batch["image"] for batch in DataLoader(dataset, batch_size=256)])


def main(argv: list[str] | None = None) -> int:
    from partpose.inference.loading import load_model

    parser = checkpoints_parser(__doc__)
    parser.add_argument("--frames", type=int, default=512, help="test frames per checkpoint")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    lines = [
        f"Encoder units on {args.frames} test frames per checkpoint (`python benchmarks/encoder_units.py`).",
        "",
        "| checkpoint | head norm | trunk spread (relative) | pose units live (per image) | appearance units live (per image) |",
        "|---|---|---|---|---|",
    ]
    images: dict[str, torch.Tensor] = {}  # rendered once per data configuration

    def rows():
        for path in args.checkpoints:
            loaded = load_model(path)
            key = repr(loaded.config.data)
            if key not in images:
                images[key] = test_images(loaded.config, args.frames)
            a = unit_activity(loaded.model.encoder, images[key])
            yield (
                f"| {path} | {loaded.config.model.encoder.head_norm} | {a['trunk_spread']:.4f} "
                f"({a['trunk_spread_relative']:.3f}) | {a['pose_units_live']:.2f} ({a['pose_units_per_image']:.2f}) "
                f"| {a['appearance_units_live']:.2f} ({a['appearance_units_per_image']:.2f}) |"
            )
    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
