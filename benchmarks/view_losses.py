"""How fast does an encoder learn the view, by the form of its 3D loss? (real labelled frames)

A fresh encoder (the learning table's initial weights) is trained on the real training frames
with their 3D and 2D labels, Adam, batch 16, as the ``supervised`` row is, but with the 3D label
used in one of several forms; every form keeps the 2D term. The rotation label ``R_true`` is the
one :func:`partpose.geometry.kinematics.canonicalize` takes the true camera-frame pose by (the
canonical frame's axes in the camera frame), and the canonical label is that canonical pose.

Losses (``--losses``):

- ``none``: no 3D term, the 2D labels alone (what the ``weak`` row's labels teach without the
  method's objectives).
- ``camera``: L1 on the root-relative camera-frame joints (the ``supervised`` row).
- ``camera_rotation_l1``: ``camera`` + the mean |R̂ − R_true| over the matrix entries.
- ``canonical_rotation_l1``: L1 on the canonical pose + the mean |R̂ − R_true| (the form of the
  rotation energy, ``objective.energy_frame=canonical_rotation``).
- ``canonical_rotation_frobenius``: canonical + ‖R̂ − R_true‖²_F.
- ``canonical_rotation_geodesic``: canonical + the angle of R̂ᵀ R_true (radians).
- ``canonical_camera``: canonical + camera (the form of ``energy_frame=canonical_camera``).
- ``camera_facing``: ``camera`` + 1 − cos of the angle between the predicted and the true facing
  directions (the canonical frame's x axis in the camera frame): a loss on the facing alone.

``--colour-jitter`` trains on images whose colour channels are shuffled and scaled, a new draw
per image (the test frames are not jittered).

Scored on 1,024 real test frames every ``--eval-every`` iterations: MPJPE, PA-MPJPE (mm), the
median and mean facing error and the share of frames whose facing is more than 90° off.

    python benchmarks/view_losses.py --seeds 0 1 2 3 --losses camera canonical_camera
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from energy_route import BUDGET  # noqa: E402
from benchmark_tables import finish_table  # noqa: E402

from partpose.errors import UserError  # noqa: E402
from partpose.evaluation import metrics  # noqa: E402
from partpose.evaluation.evaluate import predict_frames, score  # noqa: E402
from partpose.geometry.kinematics import canonicalize  # noqa: E402
from partpose.losses.energy import pose_energy, rotation_angle  # noqa: E402
from partpose.losses.supervision import pose2d_loss, pose3d_loss  # noqa: E402
from partpose.training.config import load_config  # noqa: E402
from partpose.training.data_setup import build_training_data  # noqa: E402
from partpose.training.sampling import StepBatchSampler  # noqa: E402
from partpose.training.trainer import build_model  # noqa: E402

LOSSES = ("none", "camera", "camera_rotation_l1", "canonical_rotation_l1", "canonical_rotation_frobenius",
          "canonical_rotation_geodesic", "canonical_camera", "camera_facing")


def facing_loss(cam_R_a: torch.Tensor, cam_R_b: torch.Tensor) -> torch.Tensor:
    """Mean 1 − cos of the angle between the facing directions (the first columns: the canonical
    frame's x axis in the camera frame) of two ``(B, 3, 3)`` rotations; 0 alike, 2 opposite."""
    return (1.0 - (cam_R_a[:, :, 0] * cam_R_b[:, :, 0]).sum(dim=1)).mean()


def view_loss(kind: str, est, pose3d_cam_mm: torch.Tensor, pose2d: torch.Tensor) -> torch.Tensor:
    """The loss ``kind`` (see the module's docstring) of an ``EncoderOutput`` against the labels
    ``pose3d_cam_mm (B, 17, 3)`` (camera frame, mm) and ``pose2d (B, 17, 2)``."""
    every = torch.ones(pose3d_cam_mm.shape[0], dtype=torch.bool)
    canonical, canon_R_cam = canonicalize(pose3d_cam_mm - pose3d_cam_mm[:, :1])
    cam_R_true = canon_R_cam.transpose(1, 2)
    camera = pose3d_loss(est.pose_cam_mm, pose3d_cam_mm, every)
    canon = pose_energy(canonical, est.pose_canon_mm)
    terms = {
        "none": lambda: torch.zeros((), device=camera.device),
        "camera": lambda: camera,
        "camera_rotation_l1": lambda: camera + (est.cam_R_canon - cam_R_true).abs().mean(),
        "canonical_rotation_l1": lambda: canon + (est.cam_R_canon - cam_R_true).abs().mean(),
        "canonical_rotation_frobenius": lambda: canon + ((est.cam_R_canon - cam_R_true) ** 2).sum(dim=(1, 2)).mean(),
        "canonical_rotation_geodesic": lambda: canon + rotation_angle(est.cam_R_canon, cam_R_true).mean(),
        "canonical_camera": lambda: canon + camera,
        "camera_facing": lambda: camera + facing_loss(est.cam_R_canon, cam_R_true),
    }
    return terms[kind]() + pose2d_loss(est.q, pose2d, every)


def evaluate(model, frames) -> dict[str, float]:
    predicted = predict_frames(model, frames, max_frames=1024, with_segmentation=False)
    result = score(predicted)
    p, g = torch.as_tensor(predicted.pose_cam_mm), torch.as_tensor(predicted.gt_pose_cam_mm)
    facing = metrics.facing_error(p - p[:, :1], g - g[:, :1], reduction="per_frame")
    result["facing_error_mean"] = float(facing.mean())
    turned = facing > 90.0
    result["turned_over_90"] = float(turned.float().mean() * 100.0)
    per_frame = metrics.mpjpe(p - p[:, :1], g - g[:, :1], reduction="per_frame")
    result["mpjpe_turned"] = float(per_frame[turned].mean()) if turned.any() else float("nan")
    result["mpjpe_not_turned"] = float(per_frame[~turned].mean()) if (~turned).any() else float("nan")
    return result


def jitter_colours(image: torch.Tensor, generator: torch.Generator, gain: float = 0.4) -> torch.Tensor:
    """``(B, 3, H, W)`` images in [0, 1] with their colour channels shuffled and scaled, a new draw
    per image (a random permutation, then a gain in ``[1 - gain, 1 + gain]`` per channel): the
    same shapes in other colours, so that clothes are not told apart by their colours alone."""
    batch = image.shape[0]
    order = torch.argsort(torch.rand(batch, 3, generator=generator), dim=1)
    shuffled = torch.gather(image, 1, order[:, :, None, None].expand_as(image))
    gains = 1.0 + gain * (2.0 * torch.rand(batch, 3, 1, 1, generator=generator) - 1.0)
    return (shuffled * gains).clamp(0.0, 1.0)


def train_one(config, data, kind: str, seed: int, steps: int, batch_size: int, eval_every: int,
              colour_jitter: bool = False) -> list[dict[str, float]]:
    """Train a fresh encoder with loss ``kind`` (on colour-jittered images with ``colour_jitter``);
    its test scores at ``eval_every``, ... ``steps``."""
    generator = torch.Generator().manual_seed(seed)
    _, model = build_model(replace(config, run=replace(config.run, seed=seed)), data)  # seeds torch
    optimiser = torch.optim.Adam(model.encoder.parameters(), lr=config.optim.lr)
    loader = DataLoader(data.pairs, batch_sampler=StepBatchSampler(len(data.pairs), batch_size, seed, steps))
    curve = []
    model.train()
    for step, batch in enumerate(loader, start=1):
        image = jitter_colours(batch["image_t"], generator) if colour_jitter else batch["image_t"]
        loss = view_loss(kind, model.encode(image), batch["pose3d_t"], batch["pose2d_t"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % eval_every == 0 or step == steps:
            scores = evaluate(model, data.test_frames)
            model.train()
            scores["step"] = step
            curve.append(scores)
            print(f"  {kind} seed {seed} {step:5d}: MPJPE {scores['mpjpe']:.1f}  PA {scores['pa_mpjpe']:.1f}  "
                  f"facing {scores['facing_error_median']:.0f}° (mean {scores['facing_error_mean']:.0f}°, "
                  f"{scores['turned_over_90']:.0f} % over 90°; MPJPE {scores['mpjpe_not_turned']:.1f} on the others, "
                  f"{scores['mpjpe_turned']:.1f} on those)", flush=True)
    return curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="base configuration (default: the defaults)")
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--colour-jitter", action="store_true", help="train on images with shuffled, scaled colour channels")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/view_losses.md"))
    parser.add_argument("overrides", nargs="*", help="config overrides (key=value)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        config = load_config(args.config, ["objective.setting=supervised"] + BUDGET + args.overrides)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    data = build_training_data(config)
    started = time.perf_counter()
    lines = [
        f"A fresh encoder trained {args.steps} iterations (batch {args.batch_size}, Adam lr {config.optim.lr:g}, "
        f"one run a seed) on the real training frames with their labels, the 3D label in the form named, always "
        f"with the 2D term; scored at the end on 1,024 real test frames. Overrides: "
        f"{' '.join(BUDGET + args.overrides)}.",
        "",
        "| 3D loss | seed | MPJPE | PA-MPJPE | facing median | facing mean | turned > 90° | MPJPE, turned ≤ 90° | MPJPE, turned > 90° |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in args.losses:
        for seed in args.seeds:
            end = train_one(config, data, kind, seed, args.steps, args.batch_size, args.eval_every, args.colour_jitter)[-1]
            lines.append(f"| {kind}{', colour jitter' if args.colour_jitter else ''} | {seed} | {end['mpjpe']:.1f} | {end['pa_mpjpe']:.1f} | "
                         f"{end['facing_error_median']:.0f}° | {end['facing_error_mean']:.0f}° | {end['turned_over_90']:.0f} % | "
                         f"{end['mpjpe_not_turned']:.1f} | {end['mpjpe_turned']:.1f} |")
    lines += ["", f"{time.perf_counter() - started:.0f} s with {args.threads} thread(s)."]
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
