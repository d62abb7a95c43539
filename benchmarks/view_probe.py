"""Do the encoder's features carry the view that its heads miss? Linear probes on the trunk.

    python benchmarks/view_probe.py CHECKPOINT_OR_RUN [...] [--untrained] [--videos 160] [--out FILE.md]

For every checkpoint the trunk's pooled features (``Encoder.features``) of frames of the
benchmark's training split (training motion segments, training people) and of its test split
are read, and two things are compared on the test frames:

- **the heads**: which way the predicted pose faces (``canonicalize``'s x axis, the chest's
  outward direction, in the camera frame);
- **a linear probe**: ridge regression from the features to the true facing (a front/back sign
  and the cosine and sine of the facing azimuth), fitted on the training frames; its weight
  decay is chosen on the frames of a fifth of the training videos, held out.

The heads also say on what share of the test frames they see the person from the front, beside
the truth's share: a front/back near chance can be one side guessed for everyone. Three measures
each: the share of frames whose front or back (the chest towards the camera or
away from it) is right, the same share on the frames seen within 45° of straight from the front
or the back (side on, the sign is a coin's edge), and the median azimuth error: the angle between the predicted and the
true facing directions projected on the camera's ground plane (x–z), 0–180°, chance 90°.

If the probe reads the view from the features much better than the heads do, the features carry
it and the heads (the 6D rotation read through T_fk∘T_c, the loss) are what is slow; if the probe
does no better, the trunk has not learnt it. The last columns price the difference: the MPJPE
(mm) of the heads' poses as they are, turned about the camera's vertical axis to the probe's
azimuth, turned to the true azimuth, and with their front/back alone put right (each replaced by
its depth twin where it shows the wrong side). ``--untrained`` adds the first checkpoint's
architecture with fresh weights: what random features already carry.
"""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, load_synthetic_model, use_threads, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DECAYS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # ridge weight decay, times the number of frames


def facing_in_camera(pose_cam_mm: torch.Tensor) -> torch.Tensor:
    """``(N, 17, 3)`` camera-frame poses -> ``(N, 3)`` unit facing directions in the camera frame
    (the canonical frame's x axis: perpendicular to the hip line and the spine, out of the chest)."""
    from partpose.geometry.kinematics import canonicalize

    _, canon_R_cam = canonicalize(pose_cam_mm - pose_cam_mm[:, :1])
    return canon_R_cam[:, 0]


def facing_targets(facing: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` facing directions -> ``(N, 3)`` probe targets: front/back sign (+1: the chest
    towards the camera, which looks along +z), cosine and sine of the azimuth on the ground plane
    (0: facing the camera)."""
    azimuth = torch.atan2(facing[:, 0], -facing[:, 2])
    front = torch.where(facing[:, 2] < 0, 1.0, -1.0)
    return torch.stack((front, azimuth.cos(), azimuth.sin()), dim=1)


def clear_view(targets: torch.Tensor) -> torch.Tensor:
    """``(N,)`` bool of ``(N, 3)`` targets (``facing_targets``): the frames seen within 45° of
    straight from the front or the back, where the side a person shows is clear."""
    return targets[:, 1].abs() > math.cos(math.radians(45.0))


def scores(predicted: torch.Tensor, truth: torch.Tensor) -> tuple[float, float, float]:
    """Scores of ``(N, 3)`` predicted targets against the true ones (only the signs of the first
    column and the directions of the last two matter): front/back accuracy (%) on every frame, the
    same on the frames seen within 45° of straight from the front or the back (where the side a
    person shows is clear; seen side on, the front/back sign is a coin's edge), and the median
    azimuth error (degrees)."""
    right = (predicted[:, 0] > 0) == (truth[:, 0] > 0)
    clear = clear_view(truth)
    az_pred = torch.atan2(predicted[:, 2], predicted[:, 1])
    az_true = torch.atan2(truth[:, 2], truth[:, 1])
    error = torch.remainder(az_pred - az_true + math.pi, 2 * math.pi) - math.pi
    clear_accuracy = float(right[clear].double().mean() * 100.0) if clear.any() else float("nan")
    return float(right.double().mean() * 100.0), clear_accuracy, float(torch.rad2deg(error.abs()).median())


def turn_to_azimuth(pose_cam_mm: torch.Tensor, azimuth: torch.Tensor) -> torch.Tensor:
    """``(N, 17, 3)`` root-relative camera-frame poses turned about the camera's vertical (y)
    axis so that their facing's azimuth (``facing_targets``' convention) becomes ``azimuth (N,)``
    radians; the limbs and the elevation of the facing are kept."""
    facing = facing_in_camera(pose_cam_mm)
    turn = azimuth - torch.atan2(facing[:, 0], -facing[:, 2])
    c, s = turn.cos(), turn.sin()
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    # f' = R f takes the azimuth atan2(f_x, -f_z) to itself + turn
    rotation = torch.stack((torch.stack((c, zero, -s), -1), torch.stack((zero, one, zero), -1),
                            torch.stack((s, zero, c), -1)), -2)
    centred = pose_cam_mm - pose_cam_mm[:, :1]
    return centred @ rotation.transpose(1, 2)


def fit_ridge(features: torch.Tensor, targets: torch.Tensor, decay: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ridge regression on standardised features: ``(mean, std, weights)`` with a bias column.

    Minimises ``|[z, 1] W - targets|² + decay * N * |W[:-1]|²``, ``z`` the standardised features.
    """
    features, targets = features.double(), targets.double()
    mean, std = features.mean(0), features.std(0).clamp_min(1e-6)
    z = torch.cat(((features - mean) / std, torch.ones(features.shape[0], 1, dtype=torch.float64)), dim=1)
    penalty = torch.eye(z.shape[1], dtype=torch.float64) * decay * features.shape[0]
    penalty[-1, -1] = 0.0  # the bias is not decayed
    weights = torch.linalg.solve(z.T @ z + penalty, z.T @ targets)
    return mean, std, weights


def apply_ridge(fit: tuple[torch.Tensor, torch.Tensor, torch.Tensor], features: torch.Tensor) -> torch.Tensor:
    mean, std, weights = fit
    z = (features.double() - mean) / std
    return (torch.cat((z, torch.ones(z.shape[0], 1, dtype=torch.float64)), dim=1) @ weights).float()


def fit_probe(features: torch.Tensor, targets: torch.Tensor, videos: torch.Tensor, seed: int = 0):
    """The ridge probe whose weight decay (of ``DECAYS``) scores best on the frames of a held-out
    fifth of the videos (``videos (N,)``: each frame's video; frames of one video are too alike to
    hold out one without the others), refitted on all the frames. Returns ``(fit, decay)``."""
    names = videos.unique()
    order = names[torch.randperm(len(names), generator=torch.Generator().manual_seed(seed))]
    held = torch.isin(videos, order[: max(1, len(names) // 5)])
    if held.all():
        raise ValueError("the probe needs frames of at least two videos")

    def held_out_error(decay: float) -> float:
        predicted = apply_ridge(fit_ridge(features[~held], targets[~held], decay), features[held])
        accuracy, _, azimuth = scores(predicted, targets[held])
        return azimuth + (100.0 - accuracy)  # both "lower is better", of comparable size

    decay = min(DECAYS, key=held_out_error)
    return fit_ridge(features, targets, decay), decay


@torch.no_grad()
def read_frames(model, frames, max_frames: int, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Up to ``max_frames`` frames of a ``FrameDataset`` (evenly thinned): ``features (N, F)``,
    ``predicted`` and ``truth`` poses ``(N, 17, 3)`` (camera frame, mm), ``videos (N,)``."""
    from torch.utils.data import DataLoader

    from partpose.evaluation.evaluate import thin_frames

    dataset = thin_frames(frames, max_frames)
    model.eval()
    read: dict[str, list[torch.Tensor]] = {"features": [], "predicted": [], "truth": [], "videos": []}
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        read["features"].append(model.encoder.features(batch["image"]).float())
        read["predicted"].append(model.encode(batch["image"]).pose_cam_mm.float())
        read["truth"].append(batch["pose3d"].float())
        read["videos"].append(batch["video_index"])
    return {key: torch.cat(value) for key, value in read.items()}


def probe(model, train_frames, test_frames, max_frames: int = 2048) -> dict[str, float]:
    """The heads' and the probe's front/back accuracy (%) and median azimuth error (°)."""
    train, test = read_frames(model, train_frames, max_frames), read_frames(model, test_frames, max_frames)
    y_train, y_test = facing_targets(facing_in_camera(train["truth"])), facing_targets(facing_in_camera(test["truth"]))
    fit, decay = fit_probe(train["features"], y_train, train["videos"])
    head_test = facing_targets(facing_in_camera(test["predicted"]))
    # the share of test frames the heads show from the front, against the truth's: a front/back
    # "at chance" may be one side guessed for everyone
    result = {"decay": decay, "head_says_front": float((head_test[:, 0] > 0).double().mean() * 100.0),
              "truth_front": float((y_test[:, 0] > 0).double().mean() * 100.0)}
    for name, predicted, truth in (("head", head_test, y_test),
                                   ("probe_train", apply_ridge(fit, train["features"]), y_train),
                                   ("probe", apply_ridge(fit, test["features"]), y_test)):
        result[f"{name}_front"], result[f"{name}_front_clear"], result[f"{name}_azimuth"] = scores(predicted, truth)
    # the heads' poses turned to the probe's azimuth, and to the true one: what reading the view
    # from the features would give the heads' limbs
    from partpose.evaluation import metrics

    truth = test["truth"] - test["truth"][:, :1]
    probe_test = apply_ridge(fit, test["features"])
    true_azimuth = torch.atan2(y_test[:, 2], y_test[:, 1])
    result["mpjpe_heads"] = float(metrics.mpjpe(test["predicted"] - test["predicted"][:, :1], truth))
    result["mpjpe_probe_azimuth"] = float(metrics.mpjpe(
        turn_to_azimuth(test["predicted"], torch.atan2(probe_test[:, 2], probe_test[:, 1])), truth))
    result["mpjpe_true_azimuth"] = float(metrics.mpjpe(turn_to_azimuth(test["predicted"], true_azimuth), truth))
    result["mpjpe_side_righted"] = float(metrics.mpjpe(side_righted(test["predicted"], head_test, y_test), truth))
    return result


def side_righted(pose_cam_mm: torch.Tensor, predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """``(N, 17, 3)`` poses made root-relative, each replaced by its depth twin
    (``partpose.geometry.facing.depth_twin_pose``: the same 2D joints seen from the other side)
    where its front/back (the sign of ``predicted[:, 0]``, ``facing_targets``' convention)
    disagrees with ``truth``'s: the poses with their side put right and nothing else changed."""
    return twin_where(pose_cam_mm - pose_cam_mm[:, :1], (predicted[:, 0] > 0) != (truth[:, 0] > 0))


def twin_where(pose: torch.Tensor, wrong: torch.Tensor, twin: torch.Tensor | None = None) -> torch.Tensor:
    """Root-relative poses ``(N, 17, 3)``, each replaced by its twin where ``wrong (N,)``: the
    depth twin, or the poses ``twin (N, 17, 3)`` when given."""
    from partpose.geometry.facing import depth_twin_pose

    return torch.where(wrong[:, None, None], depth_twin_pose(pose) if twin is None else twin, pose)


def main(argv: list[str] | None = None) -> int:
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.errors import UserError
    from partpose.models.partpose_model import PartPoseModel

    parser = checkpoints_parser(__doc__)
    parser.add_argument("--untrained", action="store_true", help="also probe the first checkpoint's architecture with fresh weights")
    parser.add_argument("--videos", type=int, default=160, help="videos rendered per split")
    parser.add_argument("--max-frames", type=int, default=2048, help="frames read per split")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    lines = [
        f"The view read from the trunk's features (`python benchmarks/view_probe.py`; {args.videos} videos, up to "
        f"{args.max_frames} frames per split): front/back right (%) and median azimuth error (°) on the test split, "
        "by the model's heads and by a linear probe fitted on the training split (its own training frames in the "
        "last column); front/back on every frame and on the clear ones, seen within 45° of the front or the back.",
        "",
        "| checkpoint | heads: front/back (all, clear) | heads: seen from the front (truth) | heads: azimuth | probe: front/back (all, clear) | probe: azimuth "
        "| probe on its training frames | ridge decay | MPJPE: heads | turned to the probe's azimuth | to the true azimuth "
        "| their side put right |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def rows():
        models = []
        for path in args.checkpoints:
            loaded = load_synthetic_model(path)
            models.append((str(path), loaded))
        if args.untrained:
            first = models[0][1]
            torch.manual_seed(first.config.run.seed)
            models.append(("untrained (fresh weights)", replace(first, model=PartPoseModel(first.config.model).eval())))
        synthetic = models[0][1].config.data.synthetic
        train_frames = FrameDataset(build_synthetic_videos(synthetic, "train", spread=args.videos))
        test_frames = FrameDataset(build_synthetic_videos(synthetic, "test", spread=args.videos))
        for name, loaded in models:
            if loaded.config.data.synthetic != synthetic:
                raise UserError(f"{name}: a different synthetic benchmark from the first checkpoint's")
            m = probe(loaded.model, train_frames, test_frames, args.max_frames)
            yield (f"| {name} | {m['head_front']:.0f} %, {m['head_front_clear']:.0f} % | "
                   f"{m['head_says_front']:.0f} % ({m['truth_front']:.0f} %) | {m['head_azimuth']:.0f}° | "
                   f"{m['probe_front']:.0f} %, {m['probe_front_clear']:.0f} % | {m['probe_azimuth']:.0f}° | "
                   f"{m['probe_train_front']:.0f} %, {m['probe_train_front_clear']:.0f} %, {m['probe_train_azimuth']:.0f}° | "
                   f"{m['decay']:g} | {m['mpjpe_heads']:.1f} | {m['mpjpe_probe_azimuth']:.1f} | {m['mpjpe_true_azimuth']:.1f} | "
                   f"{m['mpjpe_side_righted']:.1f} |")
    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
