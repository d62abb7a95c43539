"""How much 3D pose can the adaptation energy teach? An encoder trained on decoded prior poses.

    python benchmarks/energy_route.py [--config C] [--teacher decoder labels] [--decoder-steps 600]
                                      [--steps 1000] [--batch-size 16] [--eval-every 250]
                                      [--threads 1] [--seed 0] [--out FILE.md] [--views-only]
                                      [overrides ...]

In the paper's account the method's pose signal is the adaptation energy L_pz: D draws an unpaired
prior pose p_z with a real frame's appearance, E reads the pose back from the drawing, and E
learns 3D pose from D's drawings as if they were labelled frames. What E learns carries over to
real frames as far as D's drawings look like them. This benchmark measures that route's ceiling
without the chicken-and-egg of training (D draws well only once E's poses are right):

- ``decoder``: D and E's appearance are trained first, for ``--decoder-steps`` iterations, on
  L_I^u (beta = 1) and L_seg with the **true** poses of the frames in place of E's
  (``analysis_by_synthesis.train_decoder_on_truth``: the best case for the learned decoder),
  then frozen. A fresh encoder (the same initial weights as every row of the learning table) is
  then trained on D's drawings of prior poses (the prior of the run, under its view prior and
  crop framing, drawn over the training frames' backgrounds with the appearance of a training
  frame), supervised with each drawing's known camera-frame 3D pose and 2D projection: the
  ``supervised`` row's losses, Adam, on images that are all decoded. With ``--poses truth`` D
  draws the training frames' own poses instead (their labels retargeted to the prior's bone
  lengths, under their own cameras): what is left is the difference between D's drawings and
  the frames themselves.
- ``labels``: the same fresh encoder, the same losses, on the real training frames and their
  labels: the ``supervised`` row's signal in this loop, the reference.

Both are evaluated on the real test frames of the studio benchmark (the learning table's ``cpu``
budget unless overridden) every ``--eval-every`` iterations. Printed and written to ``--out``: a
Markdown table of MPJPE / PA-MPJPE / facing error per evaluation, per teacher, and for the
decoded teachers the same scores at the end on 512 fresh drawings of prior poses: what the
encoder learnt on the drawings themselves, against what of it carries over to real frames; and
the views of the training frames relative to the body (elevation and roll against the spine)
beside the view prior's, about the spine and about the world's up (``objective.view_up``):
``--views-only`` prints that table alone.
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
from analysis_by_synthesis import Frames, pose_of, raw_from_truth, train_decoder_on_truth  # noqa: E402
from benchmark_tables import finish_table  # noqa: E402

from partpose.evaluation import metrics  # noqa: E402
from partpose.evaluation.evaluate import predict_frames, score  # noqa: E402
from partpose.geometry.camera import crop_framing  # noqa: E402
from partpose.losses.supervision import pose2d_loss, pose3d_loss  # noqa: E402
from partpose.training.algorithm import prior_views  # noqa: E402
from partpose.training.config import load_config  # noqa: E402
from partpose.training.data_setup import build_training_data  # noqa: E402
from partpose.training.sampling import StepBatchSampler  # noqa: E402
from partpose.training.trainer import build_model  # noqa: E402
from partpose.errors import UserError  # noqa: E402

BUDGET = ["data.synthetic.scene=studio", "data.synthetic.moving_camera_fraction=0", "optim.kind=adam"]
TEACHERS = ("decoder", "labels")


def view_angles(cam_R_canon: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Elevation and roll of views relative to the body: ``(N,)`` degrees each.

    Elevation: the angle of the ray from the pelvis towards the camera above the plane
    perpendicular to the spine (canonical +Z); roll: the angle of the camera's x axis (image
    right) out of that plane. The view prior about the spine gives elevations in its range and
    no roll; a camera upright in the world sees a leaning or bending body at other angles.
    """
    ray = -cam_R_canon[:, 2]
    return torch.rad2deg(torch.asin(ray[:, 2].clamp(-1, 1))), torch.rad2deg(torch.asin(cam_R_canon[:, 0, 2].clamp(-1, 1)))


def view_statistics(data, objective, count: int = 3000, seed: int = 0) -> list[str]:
    """Markdown rows: percentiles of :func:`view_angles` for the training frames' true views (their
    3D labels' canonical frames seen from their cameras) and for the view prior about the spine
    and about the world's up, with the share of views outside the prior's elevation range and
    the share rolled by more than 10 degrees."""
    from partpose.geometry.kinematics import canonicalize

    index = torch.linspace(0, len(data.pairs) - 1, count).round().long()
    pose = torch.stack([data.pairs[int(i)]["pose3d_t"] for i in index]).double()
    _, canon_R_cam = canonicalize(pose)
    generator = torch.Generator().manual_seed(seed)
    _, up = data.prior.sample(count, generator, with_up=True)
    views = {
        "training frames (their true views)": canon_R_cam.transpose(1, 2).float(),
        "view prior about the spine (`view_up=spine`)": prior_views(replace(objective, view_up="spine"), count, generator),
        "view prior about the world's up (`view_up=world`)": prior_views(replace(objective, view_up="world"), count, generator, up),
    }
    low, high = objective.view_elevation_deg
    rows = []
    for name, cam_R in views.items():
        elevation, roll = view_angles(cam_R)
        pct = lambda x: " / ".join(f"{v:.0f}" for v in torch.quantile(x, torch.tensor([0.05, 0.5, 0.95], dtype=x.dtype)))  # noqa: E731
        outside = float(((elevation < low) | (elevation > high)).double().mean()) * 100
        rolled = float((roll.abs() > 10).double().mean()) * 100
        rows.append(f"| {name} | {pct(elevation)} | {pct(roll)} | {outside:.0f} % | {rolled:.0f} % |")
    return rows


def prior_drawings(model, batch: dict[str, torch.Tensor], prior_mm: torch.Tensor, cam_R: torch.Tensor, objective):
    """D's drawings of prior poses under given cameras, as training draws them (no gradient).

    Args:
        model: a ``PartPoseModel``.
        batch: a collated ``PairDataset`` batch (its ``image_s`` gives the appearance, its
            ``background`` the plate).
        prior_mm: ``(B, 17, 3)`` canonical prior poses, mm; ``cam_R``: ``(B, 3, 3)`` their views.
        objective: the run's ``ObjectiveConfig`` (the crop framing of p_z).
    Returns:
        ``(synthesis, q)``: the decoder's ``Synthesis`` (images not clamped) and ``q (B, 17, 2)``,
        the poses' normalised 2D joints.
    """
    scale, offset = crop_framing(prior_mm / 1000.0, cam_R, objective.prior_crop_fill)
    with torch.no_grad():
        q, depth = model.pose_for_prior(prior_mm, cam_R, scale, offset)
        appearance = model.encode(batch["image_s"]).appearance
        return model.synthesize(appearance, q, depth, scale, batch["background"]), q


def decoded_batch(teacher, batch: dict[str, torch.Tensor], prior_mm: torch.Tensor, objective,
                  generator: torch.Generator, up: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The frozen teacher's drawings of prior poses, with their labels.

    Args:
        teacher: a ``PartPoseModel`` whose decoder (and appearance) has been trained.
        batch: a collated ``PairDataset`` batch (its ``image_s`` gives the appearance, its
            ``background`` the plate).
        prior_mm: ``(B, 17, 3)`` canonical prior poses, mm.
        objective: the run's ``ObjectiveConfig`` (view prior and crop framing of p_z).
        up: ``(B, 3)`` the world's up in each prior pose's canonical frame
            (``training.algorithm.prior_views``; used when ``objective.view_up`` is ``"world"``).
    Returns:
        ``image (B, 3, H, W)`` in [0, 1], ``pose_cam_mm (B, 17, 3)`` (R_z p_z) and
        ``q (B, 17, 2)`` normalised: the drawing and what a perfect encoder reads from it.
    """
    cam_R = prior_views(objective, prior_mm.shape[0], generator, up).to(prior_mm.dtype)
    drawn, q = prior_drawings(teacher, batch, prior_mm, cam_R, objective)
    return drawn.image.clamp(0.0, 1.0), prior_mm @ cam_R.transpose(1, 2), q


def decoded_batch_of_truth(teacher, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The frozen teacher's drawings of the training frames' own poses, with their labels.

    Each target frame's 3D label, retargeted to the prior's bone lengths, under the
    weak-perspective camera that best fits its 2D label (``analysis_by_synthesis.raw_from_truth``),
    drawn with the appearance of the pair's other frame over the frame's plate: what a decoder
    makes of the very frames the ``labels`` teacher trains on.

    Returns:
        ``image (B, 3, H, W)`` in [0, 1], ``pose_cam_mm (B, 17, 3)`` (the retargeted label) and
        ``q (B, 17, 2)`` (its projection).
    """
    frames = Frames(batch["image_t"], batch["background"], batch["saliency_t"], batch["pose2d_t"], batch["pose3d_t"])
    with torch.no_grad():
        q, depth, scale, pose_cam_mm = pose_of(teacher, raw_from_truth(teacher, frames))
        appearance = teacher.encode(batch["image_s"]).appearance
        image = teacher.synthesize(appearance, q, depth, scale, batch["background"]).image
    return image.clamp(0.0, 1.0), pose_cam_mm, q


def drawn_score(student, teacher, data, config, batch_size: int, batches: int = 32, seed: int = 12345) -> dict[str, float]:
    """The student's scores on fresh drawings of prior poses (the distribution it was trained
    on, other draws): MPJPE and PA-MPJPE (mm, root-relative) and the median facing error."""
    student.eval()
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(data.pairs, batch_sampler=StepBatchSampler(len(data.pairs), batch_size, seed, batches))
    predicted, truth = [], []
    with torch.no_grad():
        for batch in loader:
            prior, up = data.prior.sample(batch_size, generator, with_up=True)
            image, pose3d, _ = decoded_batch(teacher, batch, prior, config.objective, generator, up)
            predicted.append(student.encode(image).pose_cam_mm)
            truth.append(pose3d)
    student.train()
    p, g = torch.cat(predicted), torch.cat(truth)
    p, g = p - p[:, :1], g - g[:, :1]
    return {"mpjpe": float(metrics.mpjpe(p, g)), "pa_mpjpe": float(metrics.pa_mpjpe(p, g)),
            "facing_error_median": float(metrics.facing_error(p, g, reduction="per_frame").median())}


def train_student(student, data, config, steps: int, batch_size: int, eval_every: int, seed: int,
                  teacher=None, poses: str = "prior") -> list[dict[str, float]]:
    """Train ``student``'s encoder with the supervised losses on real labelled frames
    (``teacher=None``) or on ``teacher``'s drawings of prior poses (``poses="prior"``) or of the
    training frames' own poses (``poses="truth"``); returns the test scores at 0,
    ``eval_every``, ... ``steps`` iterations (dicts with ``step`` added)."""
    def evaluate(step: int) -> dict[str, float]:
        metrics = score(predict_frames(student, data.test_frames, max_frames=1024, with_segmentation=False))
        metrics["step"] = step
        print(f"  {step:5d}: MPJPE {metrics['mpjpe']:.1f}  PA {metrics['pa_mpjpe']:.1f}  "
              f"spread {metrics['pose_spread']:.0f}  facing {metrics['facing_error_median']:.0f}°", flush=True)
        student.train()
        return metrics

    optimiser = torch.optim.Adam(student.encoder.parameters(), lr=config.optim.lr)
    loader = DataLoader(data.pairs, batch_sampler=StepBatchSampler(len(data.pairs), batch_size, seed, steps))
    generator = torch.Generator().manual_seed(seed)
    curve = [evaluate(0)]
    student.train()
    for step, batch in enumerate(loader, start=1):
        if teacher is None:
            image, pose3d, pose2d = batch["image_t"], batch["pose3d_t"], batch["pose2d_t"]
        elif poses == "truth":
            image, pose3d, pose2d = decoded_batch_of_truth(teacher, batch)
        else:
            prior, up = data.prior.sample(batch_size, generator, with_up=True)
            image, pose3d, pose2d = decoded_batch(teacher, batch, prior, config.objective, generator, up)
        est = student.encode(image)
        every = torch.ones(image.shape[0], dtype=torch.bool)
        loss = pose3d_loss(est.pose_cam_mm, pose3d, every) + pose2d_loss(est.q, pose2d, every)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % eval_every == 0 or step == steps:
            curve.append(evaluate(step))
    return curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="base configuration (default: the defaults)")
    parser.add_argument("--teacher", nargs="+", default=list(TEACHERS), choices=TEACHERS)
    parser.add_argument("--poses", choices=("prior", "truth"), default="prior",
                        help="what D draws for the encoder: prior poses under the view prior, or the training frames' own poses")
    parser.add_argument("--decoder-steps", type=int, default=600, help="iterations of D's training on the true poses")
    parser.add_argument("--steps", type=int, default=1000, help="iterations of the fresh encoder's training")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/energy_route.md"))
    parser.add_argument("--views-only", action="store_true", help="print the view statistics and stop (no training)")
    parser.add_argument("overrides", nargs="*", help="config overrides (key=value)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        config = load_config(args.config, ["objective.setting=supervised", f"run.seed={args.seed}"] + BUDGET + args.overrides)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    data = build_training_data(config)
    low, high = config.objective.view_elevation_deg
    view_lines = [
        "Views relative to the body (elevation above the plane perpendicular to the spine, roll of the image's "
        "x axis out of it; degrees, 5th / 50th / 95th percentile; 3,000 each):",
        "",
        f"| views | elevation | roll | elevation outside [{low:g}, {high:g}] | roll > 10° |",
        "|---|---|---|---|---|",
        *view_statistics(data, config.objective),
    ]
    print("\n".join(view_lines), flush=True)
    if args.views_only:
        return 0
    started = time.perf_counter()
    rows = []
    for kind in args.teacher:
        torch.manual_seed(args.seed)
        config, student = build_model(config, data)
        teacher, iou = None, None
        if kind == "decoder":
            torch.manual_seed(args.seed + 1)
            _, teacher = build_model(config, data)
            iou = train_decoder_on_truth(teacher, data, args.decoder_steps, args.batch_size)
            print(f"decoder trained on the true poses for {args.decoder_steps} iterations: "
                  f"foreground IoU with the person's mask {iou:.2f}", flush=True)
        print(f"{kind}: training a fresh encoder for {args.steps} iterations", flush=True)
        curve = train_student(student, data, config, args.steps, args.batch_size, args.eval_every, args.seed, teacher, args.poses)
        drawn = drawn_score(student, teacher, data, config, args.batch_size) if teacher is not None else None
        rows.append((kind, iou, curve, drawn))

    steps = [m["step"] for m in rows[0][2]]
    drawn_what = "prior poses" if args.poses == "prior" else "the training frames' own poses"
    lines = [
        f"A fresh encoder trained {args.steps} iterations (batch {args.batch_size}, Adam lr {config.optim.lr:g}, "
        f"seed {args.seed}) with the supervised losses on real labelled frames (`labels`) or on a decoder's drawings "
        f"of {drawn_what} (`decoder`: D trained "
        f"{args.decoder_steps} iterations on the true poses, then frozen). "
        f"Test MPJPE / PA-MPJPE (mm) and facing error on 1,024 real test frames. Overrides: "
        f"{' '.join(BUDGET + args.overrides) or 'none'}.",
        "",
        "| encoder trained on | " + " | ".join(f"{s:,} it." for s in steps)
        + " | pose spread at the end (mm) | at the end, on fresh drawings of prior poses |",
        "|---|" + "---|" * (len(steps) + 2),
    ]
    for kind, iou, curve, drawn in rows:
        name = ("real frames, 3D and 2D labels" if kind == "labels"
                else f"decoded {'prior' if args.poses == 'prior' else 'training'} poses (D trained "
                     f"{args.decoder_steps} it., foreground IoU {iou:.2f})")
        cells = [f"{m['mpjpe']:.1f} / {m['pa_mpjpe']:.1f}, {m['facing_error_median']:.0f}°" for m in curve]
        on_drawings = ("–" if drawn is None else
                       f"{drawn['mpjpe']:.1f} / {drawn['pa_mpjpe']:.1f}, {drawn['facing_error_median']:.0f}°")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {curve[-1]['pose_spread']:.0f} | {on_drawings} |")
    lines += ["", f"{time.perf_counter() - started:.0f} s with {args.threads} thread(s).", "", *view_lines]
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
