"""Where a checkpoint's poses go wrong: in the image or in depth.

For every checkpoint, on the frames of its benchmark's test split (evenly thinned to
``--max-frames``, the learning table's 1,024 by default):

- the 2D error: the mean distance of the encoder's 2D pose q from the 2D labels, in normalised
  crop coordinates (the crop spans −1 to 1, so 0.1 is 5 % of its width);
- the camera-frame error of the root-relative 3D joints, split into its part across the image
  (x and y, mm) and along the depth (|z|, mm), and MPJPE.

A row trained with 2D labels whose 2D error on the test frames is above the labels alone's has
not learnt what its labels teach; one whose 2D error matches and whose MPJPE does not went wrong
in depth (docs/learning.md, "The pose out of the reconstruction").

    python benchmarks/pose_errors.py runs/learning/cpu_world/labels_2d_seed0 runs/learning/cpu_world/weak_seed0
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, use_threads, write_table  # noqa: E402


def pose_errors(q: torch.Tensor, q_true: torch.Tensor, pose_cam_mm: torch.Tensor, true_cam_mm: torch.Tensor) -> dict[str, float]:
    """Mean errors over frames and joints.

    Args:
        q, q_true: ``(N, J, 2)`` predicted and labelled 2D poses, normalised crop coordinates.
        pose_cam_mm, true_cam_mm: ``(N, J, 3)`` camera-frame joints, mm (joint 0 the root).
    Returns:
        ``error_2d`` (crop units), ``error_xy_mm``, ``error_depth_mm`` (|z|) and ``mpjpe`` (mm), all
        of the root-relative joints.
    """
    pose = pose_cam_mm - pose_cam_mm[:, :1]
    true = true_cam_mm - true_cam_mm[:, :1]
    return {
        "error_2d": float((q - q_true).norm(dim=-1).mean()),
        "error_xy_mm": float((pose[..., :2] - true[..., :2]).norm(dim=-1).mean()),
        "error_depth_mm": float((pose[..., 2] - true[..., 2]).abs().mean()),
        "mpjpe": float((pose - true).norm(dim=-1).mean()),
    }


@torch.no_grad()
def checkpoint_errors(model, frames, max_frames: int, batch_size: int = 64) -> dict[str, float]:
    """:func:`pose_errors` of ``model`` on a ``FrameDataset`` with 2D and 3D labels."""
    from torch.utils.data import DataLoader

    from partpose.evaluation.evaluate import thin_frames

    dataset = thin_frames(frames, max_frames)
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {"q": [], "q_true": [], "pose": [], "true": []}
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        est = model.encode(batch["image"])
        parts["q"].append(est.q.float())
        parts["q_true"].append(batch["pose2d"].float())
        parts["pose"].append(est.pose_cam_mm.float())
        parts["true"].append(batch["pose3d"].float())
    cat = {k: torch.cat(v) for k, v in parts.items()}
    return pose_errors(cat["q"], cat["q_true"], cat["pose"], cat["true"])


def main(argv: list[str] | None = None) -> int:
    from partpose.data.pairs import FrameDataset
    from partpose.errors import UserError
    from partpose.inference.loading import load_model
    from partpose.training.data_setup import load_videos

    parser = checkpoints_parser(__doc__)
    parser.add_argument("--max-frames", type=int, default=1024, help="test frames read, evenly thinned")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    lines = [
        f"Where the poses go wrong (`python benchmarks/pose_errors.py`; up to {args.max_frames} test frames): the 2D "
        "pose against the 2D labels (normalised crop coordinates), the root-relative camera-frame error across the "
        "image and along the depth, and MPJPE (mm).",
        "",
        "| checkpoint | 2D error | x, y error (mm) | depth error (mm) | MPJPE (mm) |",
        "|---|---|---|---|---|",
    ]
    frames: dict[str, FrameDataset] = {}  # rendered once per data configuration

    def rows():
        for path in args.checkpoints:
            loaded = load_model(path)
            key = repr(loaded.config.data)
            if key not in frames:
                test = load_videos(loaded.config)[1]
                if not test or any(v.pose2d_norm is None or v.pose3d_cam_mm is None for v in test):
                    raise UserError(f"{path}: its dataset has no test split with 2D and 3D labels")
                frames[key] = FrameDataset(test)
            m = checkpoint_errors(loaded.model, frames[key], args.max_frames)
            yield (f"| {path} | {m['error_2d']:.3f} | {m['error_xy_mm']:.1f} | {m['error_depth_mm']:.1f} | "
                   f"{m['mpjpe']:.1f} |")
    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
