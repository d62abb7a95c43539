"""A trained model's side network taught again, beside its finished pose network.

    python benchmarks/side_refit.py RUN_OR_CHECKPOINT --out DIR [--label steady_travel|travel|truth|steady_truth|steady_right]
        [--iterations N] [--seed S] [--patch-size PX] [--drop-hardest SHARE]
        [--upright-steady-videos MAX_TILT_DEG MIN_AXIS] [--confident-videos SHARE] [--steady-distance MIN_R2]
        [--threads T]

The side network (``models/side.py``) has a trunk and an optimiser of its own and does not touch
the pose network: in training it is taught beside E, reading the torso and the head cut along E's
2D joints as they are at each step (``model.side_input=parts``), from the first steps' poor ones
to the last. Here a fresh side network is taught on the training pairs of the checkpoint's own
run, its joints read by the checkpoint's finished (weight-averaged) encoder, which stays frozen:
the same labels (``--label``, ``objective.side_label``; default the run's), batch, learning rate
and its schedule, mirrored pairs, gradient clip and moving average of the weights as the run's,
``--iterations`` steps (default the run's). Nothing else of the model changes, so the checkpoint
written to ``DIR/checkpoints/last.pt`` (with ``DIR/config.yaml``) scores the run's poses with the
new side: ``partpose evaluate --checkpoint DIR``, ``benchmarks/video_side.py DIR``. Run on a
finished run and a refit of it, those tell how much of the side network's reading its joints
held back (docs/learning.md, "The side network taught again beside the finished pose network").
Every 500 steps the refit's state is written atomically beside the checkpoint
(``DIR/checkpoints/refit_state.pt``): the same command run again after an interruption resumes
there and ends with the weights an uninterrupted refit ends with; a ``DIR`` holding a refit of
other settings is refused.

Three ways of cleaning the labels can be tried: ``--drop-hardest`` leaves out the share of each
batch's labels the network disagrees with most (:func:`without_hardest`), ``--upright-steady-videos``
keeps only the labels of the videos whose body the encoder reads upright and along one axis
(:func:`keep_upright_steady_videos`), ``--label steady_truth``, an oracle, gives the steady
travel's frames their true side, and ``--label steady_right``, another, leaves out the steady
travel's wrong labels (:data:`LABELS`). One way of reading the travel itself anew can be tried:
``--steady-distance MIN_R2`` labels every video by its travel read from the person's distance that
the boxes and the encoder's camera scale give together, where it is steady
(``partpose.training.side_relabel``, which ``objective.side_label=steady_distance`` reads during
training), instead of the box's side alone, which also follows a body's changing extent. One way of
labelling more frames can be tried:
``--confident-videos`` gives the frames without a label the side the run's own side network reads
over their whole video, where it reads it most confidently (:func:`add_confident_labels`, the
self-training of semi-supervised learning).

A model with several side networks (``model.side_networks``) gets one in their place, of their first
input, taught every label: the refit reads how well one side network does beside that pose network.

Labels with ``objective.side_max_tilt_deg`` < 180, ``side_consistency_weight`` or
``prior_side_weight`` are not supported (none of the rows taught anew here use them).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from partpose.data.pairs import SIDE_LABELS, FrameDataset, mirror_pairs, travel_side_fronts  # noqa: E402
from partpose.errors import UserError  # noqa: E402
from partpose.evaluation.evaluate import video_side_logits, video_spans  # noqa: E402
from partpose.geometry import facing  # noqa: E402
from partpose.inference.loading import resolve_checkpoint  # noqa: E402
from partpose.inference.predict import images_to_tensor  # noqa: E402
from partpose.losses.travel import travel_side_loss  # noqa: E402
from partpose.models.partpose_model import PartPoseModel  # noqa: E402
from partpose.models.side import SideNetwork  # noqa: E402
from partpose.training import checkpoint as ckpt  # noqa: E402
from partpose.training.config import config_from_dict, config_to_dict  # noqa: E402
from partpose.training.data_setup import build_training_data  # noqa: E402
from partpose.training.optimizers import (  # noqa: E402
    RelativeClip,
    apply_gradients,
    build_optimizers,
    compute_gradients,
    gradients_finite,
    set_learning_rate,
)
from partpose.training.sampling import StepBatchSampler, step_generator  # noqa: E402
from partpose.training.side_relabel import relabel_by_distance  # noqa: E402
from partpose.training.schedules import learning_rate  # noqa: E402
from partpose.training.trainer import weight_average  # noqa: E402


LABELS = (*SIDE_LABELS, "steady_truth", "steady_right")
"""``objective.side_label``'s labels, and two oracles: ``steady_truth``, each frame's true side on
the frames ``steady_travel`` labels, none elsewhere (the steady travel's frames, its mistakes
mended), and ``steady_right``, the steady travel's labels where they are the true side, none
elsewhere (its mistakes left out)."""
TRUTH_MASKED = ("steady_truth", "steady_right")
"""The labels made from the true side (``objective.side_label=truth``) masked by the steady travel."""


def keep_steady_frames(pairs, min_r2: float, agreeing_only: bool = False) -> None:
    """Leave ``pairs``' side labels (``PairDataset.side_front``) only on the frames
    ``steady_travel`` labels (``data.pairs.travel_side_fronts``, R² at least ``min_r2``); with
    ``agreeing_only``, only on those whose steady travel label is the label there."""
    steady = travel_side_fronts(pairs.videos, pairs.travel_front, True, min_r2)
    pairs.side_front = [np.where(np.isfinite(mask) & ((mask == labels) | (not agreeing_only)), labels, np.nan).astype(np.float32)
                        for labels, mask in zip(pairs.side_front, steady)]


def axis_steadiness(pose_cam: torch.Tensor, up_cam: torch.Tensor) -> float:
    """How steadily a video's body keeps one axis about the world's up: the length of the mean
    of ``(cos 2a, sin 2a)`` over its frames, ``a`` the azimuth of the chest's level normal from
    the camera's level line of sight (doubled: a body and its turn by 180° share an axis). 1: one
    axis throughout; near 0: an axis spread evenly round (a spin). ``pose_cam (T, J, 3)``,
    ``up_cam (T, 3)``; frames whose chest faces the floor or the sky are left out (``nan`` if all)."""
    normal = torch.nn.functional.normalize(facing.chest_normal(pose_cam), dim=-1)
    up = torch.nn.functional.normalize(up_cam.to(normal), dim=-1)
    level = normal - (normal * up).sum(dim=-1, keepdim=True) * up
    kept = level.norm(dim=-1) > 1e-6
    if not kept.any():
        return math.nan
    level = torch.nn.functional.normalize(level[kept], dim=-1)
    sight = facing.level_sight(up[kept], pose_cam[kept])
    across = torch.linalg.cross(up[kept], sight, dim=-1)
    angle = torch.atan2((level * across).sum(dim=-1), (level * sight).sum(dim=-1))
    return float(torch.stack((torch.cos(2 * angle).mean(), torch.sin(2 * angle).mean())).norm())


@torch.no_grad()
def keep_upright_steady_videos(model: PartPoseModel, pairs, max_tilt_deg: float, min_axis: float, device: str = "cpu") -> None:
    """Leave ``pairs``' side labels only on the videos whose body, as the encoder reads it, stays
    upright (its spine within ``max_tilt_deg`` of the world's up on every frame) and keeps one
    axis (:func:`axis_steadiness` at least ``min_axis``): the videos whose travel is most likely
    their facing (walks and runs, not crawls, rolls, spins or getups). No label is needed."""
    for v, video in enumerate(pairs.videos):
        if not np.isfinite(pairs.side_front[v]).any():
            continue
        pose = model.encode(images_to_tensor(video.frames, device)).pose_cam_mm.float()
        camera_up = None if video.camera_up is None else torch.from_numpy(np.asarray(video.camera_up, np.float32)).to(device)
        up = model.world_up(camera_up, pose)
        upright = bool((facing.spine_tilt_deg(pose, up) <= max_tilt_deg).all())
        if not (upright and axis_steadiness(pose, up) >= min_axis):
            pairs.side_front[v] = np.full_like(pairs.side_front[v], np.nan)


@torch.no_grad()
def video_side_means(model: PartPoseModel, pairs, device: str = "cpu") -> np.ndarray:
    """``(V,)`` float32: the mean of ``model``'s side logits over each of ``pairs``' videos (> 0:
    the front), read as ``partpose evaluate --side-window 0`` reads a test video
    (``evaluation.evaluate.video_side_logits``). Pass an eval-mode model."""
    frames = FrameDataset(pairs.videos)
    per_frame = video_side_logits(model, frames, window=0, device=device)  # each frame: its video's mean
    return per_frame[[start for start, _ in video_spans(frames.index[:, 0])]]


def add_confident_labels(pairs, video_means: np.ndarray, share: float) -> int:
    """Label the frames of ``pairs`` that have no side label (``PairDataset.side_front`` ``nan``)
    with the side their video reads (``video_means``, :func:`video_side_means`: 1.0 where > 0,
    else 0.0), on the ``share`` of those frames whose video reads it most confidently (the largest
    ``|video_means|``; ties at the threshold kept). The labels already there stay. No label is
    needed: the self-training of semi-supervised learning, a network's confident readings of
    unlabelled data taken as labels. Returns the number of frames labelled."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    unlabelled = [~np.isfinite(labels) for labels in pairs.side_front]
    confidence = np.concatenate([np.full(int(m.sum()), abs(float(mean))) for m, mean in zip(unlabelled, video_means)])
    if share == 0.0 or len(confidence) == 0:
        return 0
    threshold = np.quantile(confidence, 1.0 - share)
    added = 0
    for v, missing in enumerate(unlabelled):
        if missing.any() and abs(float(video_means[v])) >= threshold:
            pairs.side_front[v] = np.where(missing, np.float32(video_means[v] > 0), pairs.side_front[v]).astype(np.float32)
            added += int(missing.sum())
    return added


def without_hardest(logits: torch.Tensor, labels: torch.Tensor, share: float) -> torch.Tensor:
    """``labels`` with the ``share`` of the labelled frames the logits disagree with most (the
    largest cross-entropy; ``round(share * labelled)`` of them) made ``nan``: the small-loss
    selection of learning from noisy labels, which a network fits the right labels of before the
    wrong ones. ``logits``, ``labels``: ``(N,)``; labels 1.0, 0.0 or ``nan``."""
    labelled = torch.isfinite(labels)
    drop = round(share * int(labelled.sum()))
    if drop == 0:
        return labels
    target = torch.where(labelled, labels, torch.zeros_like(labels))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.detach(), target, reduction="none")
    loss = torch.where(labelled, loss, torch.full_like(loss, -math.inf))
    hardest = loss.topk(drop).indices
    return labels.index_fill(0, hardest, math.nan)


def side_loss(model: PartPoseModel, batch: dict, side_weight: float,
              drop_hardest: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The side network's loss on a batch of training pairs, as training computes it
    (``training.algorithm``): its logits of I_s and I_t, read along the encoder's 2D joints,
    against their labels ``side_front_s``/``_t``, times ``side_weight``; with ``drop_hardest`` >
    0, that share of the labelled frames left out (:func:`without_hardest`).

    Returns:
        ``(loss, logits (2B,), labels (2B,))``: the batch's labels, ``nan`` where a frame has
        none; those left out by ``drop_hardest`` are kept here.
    """
    images = torch.cat((batch["image_s"], batch["image_t"]))
    labels = torch.cat((batch["side_front_s"], batch["side_front_t"])).float()
    with torch.no_grad():
        joints_2d = model.encode(images).q
    logits = model.side(images, joints_2d).float()
    taught = without_hardest(logits, labels, drop_hardest) if drop_hardest > 0 else labels
    return side_weight * travel_side_loss(logits, taught), logits, labels


def refit_side(source: Path, out_dir: Path, label: str | None = None, iterations: int | None = None, seed: int | None = None,
               patch_size: int | None = None, device: str = "cpu", log_every: int = 500,
               drop_hardest: float = 0.0, drop_ramp: int = 2000, video_filter: tuple[float, float] | None = None,
               confident_videos: float = 0.0, distance_r2: float | None = None, save_every: int = 500) -> dict:
    """Teach a fresh side network beside ``source``'s frozen encoder; write ``out_dir``'s checkpoint.

    Args:
        source: a checkpoint file or run folder whose model has a side network.
        out_dir: where ``config.yaml`` and ``checkpoints/last.pt`` go (the source's model with
            the new side network; ``step`` the number of refit steps).
        label, iterations, seed, patch_size: ``objective.side_label``, the steps, the side
            network's seed (initial weights, batches and mirrors) and ``model.side_patch_size``;
            ``None``: the run's own.
        drop_hardest, drop_ramp: the share of each batch's labelled frames left out
            (:func:`without_hardest`), reached linearly over the first ``drop_ramp`` steps.
        video_filter: ``(max_tilt_deg, min_axis)``: labels only on the videos
            :func:`keep_upright_steady_videos` keeps.
        confident_videos: the share of the frames without a label given the side the source's
            own side network reads over their video (:func:`add_confident_labels`), after the
            other cleanings.
        distance_r2: label every video by its travel read from the distance the boxes and the
            encoder's scale give, where that travel is steady to this R² (``side_relabel.relabel_by_distance``,
            ``objective.travel_min_rate``), instead of ``label``'s labels (which must be the travel's).
        save_every: every this many steps the refit's state (the side network, its average, the
            optimiser, the clip's averages and the step) is written atomically to
            ``out_dir/checkpoints/refit_state.pt``; the same call on the same ``out_dir`` resumes
            from it and ends where an uninterrupted refit would (the batches and mirrors of a step
            depend on the seed and the step alone).
    Returns:
        ``{"steps", "seconds", "agrees"}``: the steps, their wall time, and the share of the
        labelled training frames of the last 500 steps whose label the network's logit agrees with.
    Raises:
        UserError: no checkpoint, a model without a side network, labels this refit cannot teach, or
            an ``out_dir`` holding a refit of other settings.
    """
    payload = ckpt.load(resolve_checkpoint(source))
    config = config_from_dict(payload["config"])
    objective = config.objective
    if not config.model.side_network or objective.side_weight <= 0:
        raise UserError(f"{source}: its model has no side network taught in training (model.side_network, objective.side_weight)")
    if objective.side_max_tilt_deg < 180 or objective.side_consistency_weight > 0 or objective.prior_side_weight > 0:
        raise UserError(f"{source}: side_max_tilt_deg, side_consistency_weight and prior_side_weight are not refit here")
    label = label or objective.side_label
    if label not in LABELS:
        raise UserError(f"--label must be one of {', '.join(LABELS)}, got {label!r}")
    seed = config.run.seed if seed is None else seed
    steps = config.run.steps if iterations is None else iterations
    # one side network, whatever the source held: a committee's pose network gets one network of the
    # committee's first input (model.side_inputs), every label (side_bag_fraction shares them among several)
    model_config = replace(config.model, side_networks=1, side_inputs=None,
                           side_input=config.model.side_inputs[0] if config.model.side_inputs else config.model.side_input,
                           side_patch_size=config.model.side_patch_size if patch_size is None else patch_size)
    config = replace(config, model=model_config,
                     objective=replace(objective, side_label="truth" if label in TRUTH_MASKED else label,
                                       side_bag_fraction=1.0),
                     run=replace(config.run, seed=seed, steps=steps, out_dir=str(out_dir)))

    model = PartPoseModel(config.model)
    model.load_state_dict({k: v for k, v in payload["model"].items() if not k.startswith("side.")}, strict=False)
    model.requires_grad_(False)
    teacher = None
    if confident_videos > 0:  # the source's own model, its side network included, read before the new one is made
        teacher = PartPoseModel(config_from_dict(payload["config"]).model)
        teacher.load_state_dict(payload["model"])
        teacher.to(device).eval()
    torch.manual_seed(seed)
    model.side = SideNetwork(config.model.encoder, config.model.side_input, config.model.side_patch_size)
    model.to(device)
    model.eval()  # the frozen encoder as evaluated
    side = model.side
    side.train()
    optimizer = build_optimizers(model, config.optim.lr, config.optim.initial_accumulator_value, config.optim.kind)["side"]
    params = list(side.parameters())
    averaged = weight_average(side, config.optim.ema_decay)
    clip = RelativeClip(config.optim.grad_clip_relative) if config.optim.grad_clip_relative > 0 else None

    data = build_training_data(config)
    if label in TRUTH_MASKED:
        keep_steady_frames(data.pairs, objective.travel_min_r2, agreeing_only=label == "steady_right")
    if distance_r2 is not None:
        if label not in ("travel", "steady_travel"):
            raise UserError(f"--steady-distance relabels the travel; not with --label {label}")
        share = relabel_by_distance(model, data.pairs, objective.travel_min_rate, distance_r2, device)
        print(f"the travel read from the distance labels {100 * share:.1f} % of the training frames", flush=True)
    if video_filter is not None:
        keep_upright_steady_videos(model, data.pairs, *video_filter, device=device)
        labelled = np.concatenate([np.isfinite(f) for f in data.pairs.side_front])
        print(f"the video filter leaves labels on {100 * labelled.mean():.1f} % of the training frames", flush=True)
    if teacher is not None:
        added = add_confident_labels(data.pairs, video_side_means(teacher, data.pairs, device), confident_videos)
        total = sum(len(labels) for labels in data.pairs.side_front)
        print(f"the source's side network labels {100 * added / total:.1f} % more of the training frames", flush=True)
        del teacher
    settings = {"from": str(source), "label": label, "steps": steps, "seed": seed, "patch_size": config.model.side_patch_size,
                "drop_hardest": drop_hardest, "drop_ramp": drop_ramp,
                "video_filter": None if video_filter is None else [float(v) for v in video_filter],
                "confident_videos": confident_videos, "distance_r2": distance_r2}
    state_path = out_dir / "checkpoints" / "refit_state.pt"
    start, agrees, spent = 0, [], 0.0
    if state_path.exists():
        state = ckpt.load(state_path)
        if state["settings"] != settings:
            raise UserError(f"{out_dir} holds a refit with other settings ({state['settings']}); choose another --out")
        side.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if averaged is not None:
            averaged.load_state_dict(state["averaged"])
        if clip is not None:
            clip.load_state_dict(state["clip"])
        start, agrees, spent = int(state["step"]), [state["agrees"]], float(state["seconds"])
        print(f"resuming {out_dir} at step {start}", flush=True)
    sampler = StepBatchSampler(len(data.pairs), config.run.batch_size, seed, steps, start_step=start)
    loader = torch.utils.data.DataLoader(data.pairs, batch_sampler=sampler)
    started = time.perf_counter() - spent
    for step, batch in enumerate(loader, start=start):
        if config.data.flip_augment > 0:
            which = torch.rand(batch["image_t"].shape[0], generator=step_generator(seed, step, 0, stream=3)) < config.data.flip_augment
            batch = mirror_pairs(batch, which)
        share = drop_hardest * min(1.0, step / drop_ramp) if drop_ramp > 0 else drop_hardest
        loss, logits, labels = side_loss(model, {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()},
                                          objective.side_weight, share)
        grads = compute_gradients({"side": loss}, {"side": params})
        if not gradients_finite(grads):
            continue
        set_learning_rate({"side": optimizer}, learning_rate(step, steps, config.optim.lr, config.optim.lr_schedule))
        apply_gradients(grads, {"side": params}, {"side": optimizer}, config.optim.grad_clip, None, clip)
        if averaged is not None:
            averaged.update_parameters(side)
        labelled = torch.isfinite(labels)
        if step >= steps - 500:
            agrees.append(((logits.detach() > 0) == (labels > 0.5))[labelled].float())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps}: side loss {float(loss.detach()):.4f}, {time.perf_counter() - started:.0f} s", flush=True)
        if save_every and ((step + 1) % save_every == 0 or step + 1 == steps):
            ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "settings": settings, "step": step + 1,
                              "model": side.state_dict(), "optimizer": optimizer.state_dict(),
                              "averaged": None if averaged is None else averaged.state_dict(),
                              "clip": None if clip is None else clip.state_dict(),
                              "agrees": torch.cat(agrees) if agrees else torch.zeros(0),
                              "seconds": time.perf_counter() - started}, state_path)
    seconds = time.perf_counter() - started

    state = {k: v for k, v in payload["model"].items() if not k.startswith("side.")}  # the source's side networks give way
    state.update({f"side.{k}": v.detach().cpu() for k, v in (side if averaged is None else averaged.module).state_dict().items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "config": config_to_dict(config), "model": state, "step": steps,
                      "refit": {"from": str(source), "label": label, "drop_hardest": drop_hardest,
                                "video_filter": None if video_filter is None else list(video_filter),
                                "confident_videos": confident_videos, "distance_r2": distance_r2}},
                     out_dir / "checkpoints" / "last.pt")
    agreed = torch.cat(agrees) if agrees else torch.zeros(0)
    return {"steps": steps, "seconds": seconds, "agrees": float(agreed.mean()) if len(agreed) else math.nan}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a checkpoint file or run folder with a side network")
    parser.add_argument("--out", type=Path, required=True, help="the folder of the refit model")
    parser.add_argument("--label", choices=LABELS, default=None,
                        help="objective.side_label, or the oracles steady_truth and steady_right (LABELS; default: the run's)")
    parser.add_argument("--iterations", type=int, default=None, help="steps (default: the run's)")
    parser.add_argument("--seed", type=int, default=None, help="the side network's seed (default: the run's)")
    parser.add_argument("--patch-size", type=int, default=None, help="model.side_patch_size (default: the run's)")
    parser.add_argument("--drop-hardest", type=float, default=0.0, metavar="SHARE",
                        help="leave out this share of each batch's labelled frames, those the network disagrees with most "
                             "(reached over the first 2,000 steps; default 0: every label)")
    parser.add_argument("--upright-steady-videos", type=float, nargs=2, default=None, metavar=("MAX_TILT_DEG", "MIN_AXIS"),
                        help="labels only on the videos whose body the encoder reads upright on every frame and along "
                             "one axis (keep_upright_steady_videos; e.g. 30 0.8)")
    parser.add_argument("--confident-videos", type=float, default=0.0, metavar="SHARE",
                        help="give this share of the frames without a label the side the run's own side network reads "
                             "over their video, the most confident videos first (add_confident_labels; default 0: none)")
    parser.add_argument("--steady-distance", type=float, default=None, metavar="MIN_R2",
                        help="label each video by its travel read from the distance the boxes and the encoder's camera "
                             "scale give, where a line through its log explains MIN_R2 of it (training.side_relabel; e.g. 0.7)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: PyTorch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if not 0.0 <= args.confident_videos <= 1.0:
        parser.error("--confident-videos must be in [0, 1]")
    if args.iterations is not None and args.iterations < 1:
        parser.error("--iterations must be at least 1")
    if not 0.0 <= args.drop_hardest < 1.0:
        parser.error("--drop-hardest must be in [0, 1)")
    if args.steady_distance is not None and not 0.0 <= args.steady_distance <= 1.0:
        parser.error("--steady-distance must be in [0, 1]")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        result = refit_side(args.source, args.out, args.label, args.iterations, args.seed, args.patch_size, args.device,
                            drop_hardest=args.drop_hardest,
                            video_filter=None if args.upright_steady_videos is None else tuple(args.upright_steady_videos),
                            confident_videos=args.confident_videos, distance_r2=args.steady_distance)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {result['steps']} steps in {result['seconds'] / 60:.1f} min; the last 500 steps' logits agree "
          f"with their labels on {100 * result['agrees']:.1f} % of the labelled frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
