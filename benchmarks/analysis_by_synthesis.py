"""Does the part-based reconstruction identify the pose? Per-image analysis-by-synthesis.

    python benchmarks/analysis_by_synthesis.py [--config C] [--frames 128] [--steps 500]
                                               [--decoder-steps 600] [--threads 2]
                                               [--objectives silhouette painter skeleton painter+skeleton decoder]
                                               [--out FILE.md] [overrides ...]

L_I^u teaches the encoder pose only if, for a training frame, the pose that reconstructs the
frame best is its true pose, and only if gradient descent on the reconstruction finds it. This
benchmark tests both without an encoder or a decoder in the way. For ``--frames`` training frames
of the synthetic benchmark (the studio scene unless overridden), the pose, the camera and one
flat colour per puppet part are optimised directly, per image, in the encoder's own
parametrisation (``Encoder.from_raw`` -> T_fk -> T_c -> T_s, the prior's bone lengths), Adam,
for ``--steps`` iterations, on one of these objectives:

- ``silhouette``: ``mean |w_fg - m_sal|``, the puppet's foreground against the saliency map;
- ``painter``: L_I^u (``w = clip(w_fg + m_sal, 0, 1)``, beta = 1) of the composite of the
  flat-coloured puppet over the clip's background, i.e. what a decoder that paints every part in
  one colour, read from the frame, can reach;
- ``skeleton``: L_sil (``losses.silhouette``), the 2D skeleton drawn as capsules against the
  saliency map, a chamfer distance whose gradient reaches everywhere;
- ``painter+skeleton``: the sum of the two;

and, with ``--decoder-steps N`` (default 600), on L_I^u through a **decoder** trained first for N
iterations with the true poses in place of the encoder's (E's appearance and D on L_I^u and
L_seg, batch 16, Adam; its foreground's IoU with the rendered person's mask is printed), then
frozen: the best case for the paper's learned decoder;

from three starts: the **truth** (the frame's 3D label retargeted to the prior's bone lengths, its
camera fitted to the 2D label by least squares), its **depth twin** (the same with the camera
depth negated and left and right swapped: the same 2D points, the left and right labels
exchanged, the body seen from the other side; an objective that scores it like the truth cannot
teach which way the person faces) and the **untrained encoder**'s output (the rest pose facing
the camera, where training starts). The labels are used only to start and to score.

Printed (a Markdown table, also written to ``--out``): the objective at the truth (colours fitted
to it), at the start and at the end; the 2D joint error (normalised image units, the crop is
[-1, 1]) and its left/right-invariant version (each joint scored against the nearer of itself
and its mirror twin); root-relative MPJPE in mm. The mean 2D pose of the frames is the reference
for the 2D errors. If the fit from the truth drifts away while lowering the objective, the truth
is not the objective's minimum; if the fit from the untrained start does not approach the truth,
the objective's landscape does not lead there from where training starts.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from partpose.geometry import camera, puppet
from partpose.geometry.facing import depth_twin_pose
from partpose.evaluation.metrics import mpjpe
from partpose.geometry.kinematics import canonicalize, forward_kinematics, inverse_kinematics
from partpose.geometry.skeleton import H36M17
from partpose.losses.image import image_unpaired_loss
from partpose.losses.segmentation import segmentation_loss
from partpose.losses.silhouette import skeleton_silhouette_loss
from partpose.models.encoder import RawPoseOutput
from partpose.models.partpose_model import composite
from partpose.training.config import load_config
from partpose.training.data_setup import build_training_data
from partpose.training.sampling import StepBatchSampler
from partpose.training.trainer import build_model

STUDIO = ["data.synthetic.scene=studio", "data.synthetic.moving_camera_fraction=0"]
POSE_LR, COLOUR_LR, COLOUR_WARMUP = 0.02, 0.05, 200
OBJECTIVES = ("silhouette", "painter", "skeleton", "painter+skeleton", "decoder")


@dataclass
class Frames:
    """A batch of labelled training frames. Shapes: images ``(N, 3, H, W)``, saliency
    ``(N, 1, H, W)``, pose2d ``(N, 17, 2)`` normalised, pose3d ``(N, 17, 3)`` camera mm."""

    image: torch.Tensor
    background: torch.Tensor
    saliency: torch.Tensor
    pose2d: torch.Tensor
    pose3d: torch.Tensor
    appearance: torch.Tensor | None = None  # (N, A) codes for the "decoder" objective


def load_frames(config_path: Path | None, overrides: list[str], count: int):
    config = load_config(config_path, ["objective.setting=supervised"] + STUDIO + overrides)
    data = build_training_data(config)
    config, model = build_model(config, data)
    model.eval().requires_grad_(False)
    chosen = np.linspace(0, len(data.pairs) - 1, count).astype(int)
    items = [data.pairs[int(i)] for i in chosen]
    stack = lambda key: torch.stack([item[key] for item in items])  # noqa: E731
    frames = Frames(stack("image_t"), stack("background"), stack("saliency_t"), stack("pose2d_t"), stack("pose3d_t"))
    return model, frames, data


def raw_from_truth(model, frames: Frames) -> RawPoseOutput:
    """Raw head values whose pose is the label retargeted to the prior's bone lengths, under
    the weak-perspective camera that best fits the 2D label (least squares)."""
    config = model.encoder.config
    canonical, canon_R_cam = canonicalize(frames.pose3d.double())
    vectors, hip = inverse_kinematics(canonical)
    cam_R_canon = canon_R_cam.transpose(1, 2)
    pose = forward_kinematics(vectors, hip, model.bone_lengths_mm.double())
    xy = torch.einsum("bij,bkj->bki", cam_R_canon, pose)[..., :2] / 1000.0
    centred_xy, centred_q = xy - xy.mean(1, keepdim=True), frames.pose2d.double() - frames.pose2d.double().mean(1, keepdim=True)
    scale = (centred_xy * centred_q).sum((1, 2)) / (centred_xy * centred_xy).sum((1, 2))
    offset = (frames.pose2d.double() - scale[:, None, None] * xy).mean(1)
    psi = torch.atan2(hip[:, 0], hip[:, 1])
    lo, hi = config.scale_range
    return RawPoseOutput(
        vectors=torch.atanh(0.9 * vectors).float(),
        hip=torch.atanh(((psi - 0.5 * math.pi) / math.radians(config.hip_angle_range_deg)).clamp(-0.99, 0.99))[:, None].float(),
        rotation=camera.matrix_to_rotation_6d(cam_R_canon).float(),
        scale=torch.logit(((scale - lo) / (hi - lo)).clamp(1e-3, 1 - 1e-3))[:, None].float(),
        offset=torch.atanh((offset / config.offset_range).clamp(-0.99, 0.99)).float(),
    )


def depth_twin(frames: Frames) -> Frames:
    """The frames' labels replaced by their depth-mirrored twins: camera depth negated and left and
    right swapped, a proper body that projects to the same 2D points with the left and right
    labels exchanged (seen from the other side). Images are unchanged."""
    return replace(frames, pose2d=frames.pose2d[:, list(H36M17.flip_permutation)], pose3d=depth_twin_pose(frames.pose3d))


def pose_of(model, raw: RawPoseOutput):
    """``q (N, 17, 2)``, ``depth (N, 17)``, scale ``(N,)`` and camera-frame pose mm of raw values,
    through the model's own T_fk and T_c (``PartPoseModel.estimate``)."""
    estimate = model.estimate(model.encoder.from_raw(raw, torch.zeros(raw.vectors.shape[0], 1)))
    return estimate.q, estimate.depth, estimate.scale, estimate.pose_cam_mm


def objective_value(model, frames: Frames, kind: str, q, depth, scale, colours) -> torch.Tensor:
    """The per-image objective summed over frames (so every image's gradient is its own)."""
    valid = torch.ones(len(q), dtype=torch.bool)
    if kind == "skeleton":
        return len(q) * skeleton_silhouette_loss(q, scale, frames.saliency)
    if kind == "painter+skeleton":
        return (objective_value(model, frames, "painter", q, depth, scale, colours)
                + objective_value(model, frames, "skeleton", q, depth, scale, colours))
    if kind == "decoder":
        synthesis = model.synthesize(frames.appearance, q, depth, scale, frames.background)
        fg_prob = 1.0 - synthesis.seg_probs[:, :1]
        return len(q) * image_unpaired_loss(synthesis.image, frames.image, frames.background, fg_prob, frames.saliency, 1.0, valid)
    maps = model.draw(q, depth, scale)[-1]
    fg = puppet.foreground(maps)
    if kind == "silhouette":
        return (fg - frames.saliency).abs().flatten(1).mean(1).sum()
    rgb = torch.einsum("bcl,blhw->bchw", torch.sigmoid(colours), maps) / (fg + 1e-4)
    image = composite(rgb.clamp(0.0, 1.0), 1.0 - fg, frames.background)
    # the batch mean times the batch size is the sum of the per-image means
    return len(q) * image_unpaired_loss(image, frames.image, frames.background, fg, frames.saliency, 1.0, valid)


def scores(frames: Frames, q: torch.Tensor, pose_cam_mm: torch.Tensor) -> dict[str, float]:
    """2D error, its left/right-invariant version (per joint, the nearer of itself and its mirror
    twin) and root-relative MPJPE (mm) against the frames' labels."""
    error = (q - frames.pose2d).norm(dim=-1)
    mirrored = (q - frames.pose2d[:, list(H36M17.flip_permutation)]).norm(dim=-1)
    return {
        "e2d": float(error.mean()),
        "e2d_lr": float(torch.minimum(error, mirrored).mean()),
        "mpjpe": float(mpjpe(pose_cam_mm - pose_cam_mm[:, :1], frames.pose3d - frames.pose3d[:, :1])),
    }


def fit(model, frames: Frames, kind: str, start: RawPoseOutput, steps: int) -> dict[str, float]:
    """Optimise pose and camera (and, for the painter, the part colours) from ``start``; the
    objective is reported per frame (mean)."""
    count, parts = frames.image.shape[0], model.decoder.num_parts
    raw = [x.detach().clone().requires_grad_(True) for x in (start.vectors, start.hip, start.rotation, start.scale, start.offset)]
    colours = torch.zeros(count, 3, parts, requires_grad=True)
    current = lambda: pose_of(model, RawPoseOutput(*raw))  # noqa: E731
    if kind.startswith("painter"):  # colours first, pose fixed: the objective "at the start" is then fair
        colour_opt = torch.optim.Adam([colours], lr=COLOUR_LR)
        q, depth, scale, _ = (x.detach() for x in current())
        for _ in range(COLOUR_WARMUP):
            colour_opt.zero_grad()
            objective_value(model, frames, kind, q, depth, scale, colours).backward()
            colour_opt.step()
    with torch.no_grad():
        q, depth, scale, pose = current()
        result = {"loss_start": float(objective_value(model, frames, kind, q, depth, scale, colours)) / count}
        result |= {f"{k}_start": v for k, v in scores(frames, q, pose).items()}
    groups = [{"params": raw, "lr": POSE_LR}] + ([{"params": [colours], "lr": COLOUR_LR}] if kind.startswith("painter") else [])
    opt = torch.optim.Adam(groups)
    for _ in range(steps):
        q, depth, scale, _ = current()
        opt.zero_grad()
        objective_value(model, frames, kind, q, depth, scale, colours).backward()
        opt.step()
    with torch.no_grad():
        q, depth, scale, pose = current()
        result["loss_end"] = float(objective_value(model, frames, kind, q, depth, scale, colours)) / count
        result |= {f"{k}_end": v for k, v in scores(frames, q, pose).items()}
    return result


def train_decoder_on_truth(model, data, steps: int, batch_size: int = 16) -> float:
    """Train E's appearance and D on L_I^u (beta = 1) and L_seg with the true poses of the pairs'
    target frames in place of E's; returns the mean IoU, over the last 50 iterations, of the
    decoder's foreground (> 0.5) with the rendered person's mask. Leaves the model frozen."""
    model.train().requires_grad_(True)
    optimiser = torch.optim.Adam([*model.encoder.parameters(), *model.decoder.parameters()], lr=1e-3)
    loader = DataLoader(data.pairs, batch_sampler=StepBatchSampler(len(data.pairs), batch_size, 0, steps))
    ious = []
    for batch in loader:
        target = Frames(batch["image_t"], batch["background"], batch["saliency_t"], batch["pose2d_t"], batch["pose3d_t"])
        with torch.no_grad():
            q, depth, scale, _ = pose_of(model, raw_from_truth(model, target))
        synthesis = model.synthesize(model.encode(batch["image_s"]).appearance, q, depth, scale, batch["background"])
        fg_prob = 1.0 - synthesis.seg_probs[:, :1]
        maps = synthesis.part_maps[-1]
        loss = image_unpaired_loss(synthesis.image, target.image, target.background, fg_prob, target.saliency, 1.0,
                                   batch["background_valid"])
        loss = loss + segmentation_loss(synthesis.seg_logits, puppet.labels(maps), puppet.soft_labels(maps), puppet.uncertainty(maps))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        drawn, person = fg_prob.detach() > 0.5, (batch["segmentation_t"] > 0)[:, None]
        ious.append(float((drawn & person).sum() / (drawn | person).sum().clamp_min(1)))
    model.eval().requires_grad_(False)
    return float(np.mean(ious[-50:]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="base configuration (default: the defaults)")
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--decoder-steps", type=int, default=600, help="iterations of the decoder's training on the true poses (0: no decoder rows)")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=OBJECTIVES, help="which objectives to fit")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/analysis_by_synthesis.md"))
    parser.add_argument("overrides", nargs="*", help="config overrides (key=value)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    started = time.perf_counter()
    model, frames, data = load_frames(args.config, args.overrides, args.frames)
    with torch.no_grad():
        untrained = model.encoder.raw_pose(frames.image)
    starts = {"truth": raw_from_truth(model, frames), "depth twin of the truth": raw_from_truth(model, depth_twin(frames)),
              "untrained encoder": untrained}
    mean_pose = frames.pose2d.mean(0, keepdim=True).expand_as(frames.pose2d)
    reference = scores(frames, mean_pose, frames.pose3d)  # only the 2D entries are used

    lines = [
        f"Per-image fits on {args.frames} training frames, {args.steps} Adam steps "
        f"(overrides: {' '.join(STUDIO + args.overrides)}). Mean 2D pose of the frames: 2D error "
        f"{reference['e2d']:.3f}, left/right-invariant {reference['e2d_lr']:.3f}.",
        "",
        "| objective | start | objective at the truth | objective: start → end | 2D error: start → end "
        "| 2D error, L/R-invariant: start → end | MPJPE (mm): start → end |",
        "|---|---|---|---|---|---|---|",
    ]
    kinds = [kind for kind in OBJECTIVES if kind in args.objectives and not (kind == "decoder" and args.decoder_steps <= 0)]
    for kind in kinds:
        if kind == "decoder":
            iou = train_decoder_on_truth(model, data, args.decoder_steps)
            with torch.no_grad():
                frames.appearance = model.encode(frames.image).appearance
            print(f"decoder trained on the true poses for {args.decoder_steps} iterations: foreground IoU "
                  f"with the person's mask {iou:.2f}", flush=True)
            lines[0] += (f" Decoder: trained {args.decoder_steps} iterations on the true poses (foreground IoU "
                         f"with the person's mask {iou:.2f}), then frozen.")
        at_truth = None
        for name, start in starts.items():
            r = fit(model, frames, kind, start, args.steps)
            if name == "truth":
                at_truth = r["loss_start"]
            lines.append(
                f"| {kind} | {name} | {at_truth:.4f} | {r['loss_start']:.4f} → {r['loss_end']:.4f} "
                f"| {r['e2d_start']:.3f} → {r['e2d_end']:.3f} | {r['e2d_lr_start']:.3f} → {r['e2d_lr_end']:.3f} "
                f"| {r['mpjpe_start']:.0f} → {r['mpjpe_end']:.0f} |"
            )
            print(lines[-1], flush=True)
    lines += ["", f"{time.perf_counter() - started:.0f} s with {args.threads} threads."]
    table = "\n".join(lines)
    print("\n" + table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
