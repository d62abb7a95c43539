"""Does the decoder tell a person seen from the front from the same person seen from the back?

    python benchmarks/twin_preference.py CHECKPOINT_OR_RUN [...] [--pairs 512] [--videos 160] [--margin 0.02] [--out FILE.md]

A pose and its depth twin (``geometry.facing``: depth negated, left and right exchanged) draw
the same 2D joints, so only the decoder's painting (the face and the shirt's print, with
``model.decoder.facing_channels``) can prefer one of them; L_twin (``losses/twin.py``) turns
the encoder towards whichever D prefers. For every checkpoint, on pairs (I_s, I_t) of one video
from the benchmark's training split and from its test split (unseen people and motion), I_t is
reconstructed from I_s's appearance code and each of:

- **the true pose** (the label, retargeted to the model's bones under the weak-perspective
  camera that fits the 2D label best) and its twin: the share of frames that D reconstructs
  better from the truth, D's front/back preference where the pose is right;
- **the encoder's pose** and its twin: the share of frames whose front/back E gets right (the
  chest's normal towards or away from the camera as the label's), the share on which D prefers
  the right one of the two, and L_twin's choice: the share of frames where the twin wins by
  more than the margin, and how many of those are turned the right way.

50 % is chance everywhere. A decoder whose preference on the true poses is near 50 % cannot
teach the encoder its front and back; one that prefers the right side of E's own poses can.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, load_synthetic_model, use_threads, write_table  # noqa: E402


def facing_sign(pose_cam_mm: torch.Tensor) -> torch.Tensor:
    """``(N, 17, 3)`` camera-frame poses -> ``(N,)`` bool: the chest faces the camera (its
    outward normal, ``canonicalize``'s x axis, has a negative camera z)."""
    from view_probe import facing_in_camera

    return facing_in_camera(pose_cam_mm)[:, 2] < 0


def reconstruction_errors(model, batch, appearance, q, depth, scale) -> torch.Tensor:
    """``(N,)`` L_I^u (β = 1) of I_t drawn at ``(q, depth, scale)`` with ``appearance``."""
    from partpose.losses.image import image_unpaired_loss

    synthesis = model.synthesize(appearance, q, depth, scale, batch["background"])
    return image_unpaired_loss(synthesis.image, batch["image_t"], batch["background"], 1.0 - synthesis.seg_probs[:, :1],
                               batch["saliency_t"], 1.0, batch["background_valid"], per_sample=True)


def tallies(true_error: torch.Tensor, true_twin_error: torch.Tensor, pose_error: torch.Tensor,
            twin_error: torch.Tensor, right: torch.Tensor, margin: float) -> dict[str, torch.Tensor]:
    """Per-frame bool tallies of one batch from ``(N,)`` L_I^u of the true pose, its twin, E's pose
    and its twin, and ``right`` (E's front/back is the label's): ``truth_preferred``,
    ``encoder_right``, ``decoder_right`` (D prefers the right one of E's pair), ``chosen`` (L_twin
    turns the frame) and ``chosen_right`` (one per chosen frame: the twin faces the other way, so
    a chosen twin is right where E's pose was wrong)."""
    from partpose.losses.twin import twin_choice

    chosen = twin_choice(pose_error, twin_error, margin)
    return {"truth_preferred": true_error < true_twin_error, "encoder_right": right,
            "decoder_right": (pose_error < twin_error) == right, "chosen": chosen, "chosen_right": ~right[chosen]}


@torch.no_grad()
def preferences(model, pairs, count: int, margin: float, batch_size: int = 64) -> dict[str, float]:
    """The shares (%) of the module docstring on ``count`` pairs of ``pairs`` (evenly spread);
    NaN for ``chosen_right`` when L_twin turns no frame."""
    from analysis_by_synthesis import Frames, pose_of, raw_from_truth

    from partpose.geometry.facing import depth_twin

    model.eval()
    chosen_items = np.linspace(0, len(pairs) - 1, min(count, len(pairs))).astype(int)
    batches = []
    for start in range(0, len(chosen_items), batch_size):
        items = [pairs[int(i)] for i in chosen_items[start:start + batch_size]]
        batch = {key: torch.stack([item[key] for item in items]) for key in items[0]}
        appearance = model.encode(batch["image_s"]).appearance
        truth = Frames(batch["image_t"], batch["background"], batch["saliency_t"], batch["pose2d_t"], batch["pose3d_t"])
        q, depth, scale, _ = pose_of(model, raw_from_truth(model, truth))
        est = model.encode(batch["image_t"])
        batches.append(tallies(
            reconstruction_errors(model, batch, appearance, q, depth, scale),
            reconstruction_errors(model, batch, appearance, *depth_twin(q, depth), scale),
            reconstruction_errors(model, batch, appearance, est.q, est.depth, est.scale),
            reconstruction_errors(model, batch, appearance, *depth_twin(est.q, est.depth), est.scale),
            facing_sign(est.pose_cam_mm) == facing_sign(batch["pose3d_t"].float()),
            margin,
        ))
    shares = {}
    for key in batches[0]:
        values = torch.cat([tally[key] for tally in batches])
        shares[key] = 100.0 * float(values.float().mean()) if values.numel() else float("nan")
    return shares


def main(argv: list[str] | None = None) -> int:
    from partpose.data.pairs import PairDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.errors import UserError

    parser = checkpoints_parser(__doc__)
    parser.add_argument("--pairs", type=int, default=512, help="pairs scored per split")
    parser.add_argument("--videos", type=int, default=160, help="videos rendered per split")
    parser.add_argument("--margin", type=float, default=0.02, help="L_twin's margin (objective.twin_choice_margin)")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    lines = [
        f"The depth twin against the pose (`python benchmarks/twin_preference.py`; {args.pairs} pairs per split of "
        f"{args.videos} videos, margin {args.margin:g}): the share (%) of frames D reconstructs better from the true pose "
        "than from its twin; of E's poses facing the right side (front/back); of frames on which D prefers the right one "
        "of E's pose and its twin; of frames L_twin would turn, and of those the share turned the right way.",
        "",
        "| checkpoint | split | D prefers the truth | E's front/back right | D prefers the right one of E's pair "
        "| L_twin turns | of which rightly |",
        "|---|---|---|---|---|---|---|",
    ]

    def rows():
        for path in args.checkpoints:
            loaded = load_synthetic_model(path)
            for split in ("train", "test"):
                videos = build_synthetic_videos(loaded.config.data.synthetic, split, spread=args.videos)
                pairs = PairDataset(videos, max_gap=loaded.config.data.max_gap, labels="both",
                                    saliency_source=loaded.config.data.saliency)
                if len(pairs) == 0:
                    raise UserError(f"{path}: the {split} split of {args.videos} videos has no frame pairs")
                m = preferences(loaded.model, pairs, args.pairs, args.margin)
                rightly = "—" if math.isnan(m["chosen_right"]) else f"{m['chosen_right']:.0f}"  # none turned
                yield (f"| {path} | {split} | {m['truth_preferred']:.0f} | {m['encoder_right']:.0f} | "
                       f"{m['decoder_right']:.0f} | {m['chosen']:.0f} | {rightly} |")
    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
