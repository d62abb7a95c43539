"""Novel image synthesis with a trained model: pose transfer, view synthesis, appearance swap.

The decoder redraws a person from an appearance code ``a`` and the part maps of a 2D pose
(``PartPoseModel.synthesize``). Because pose, camera and appearance are separate, they can come
from different images, or the camera can be changed:

* **pose transfer**: the pose (``q``, ``depth``, ``scale``) of image A drawn with the
  appearance of image B: ``Î_{a_B}^{p_A}``;
* **view synthesis**: the canonical pose of one image seen by a camera turned about the body's
  vertical axis (canonical Z), a turntable;
* **appearance swap**: every appearance of one set of images with every pose of another.

Convention:
    Images are ``(B, 3, H, W)`` floats in [0, 1] at the model resolution. Syntheses are
    composited on black (no clip background exists for a single image). View synthesis keeps
    the scale and offset of the estimate and replaces ``cam_R_canon`` by
    ``cam_R_canon @ R_z(θ)``: the body turns by ``θ`` about its own vertical axis,
    counter-clockwise seen from above, which is the camera moving by ``−θ`` in azimuth
    (``camera.view_rotation``). Angles are radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from partpose.errors import UserError
from partpose.inference import figures
from partpose.models.partpose_model import PartPoseModel, PoseEstimate, Synthesis
from partpose.training.config import TrainConfig
from partpose.utils.checks import check_shape

MODES = ("transfer", "view", "swap")
DATASETS = ("synthetic",)
"""Datasets ``--from-dataset`` can pick test frames from."""
MAX_IMAGES = 8
"""Most pose (and appearance) images one ``write_synthesis`` call draws: rows of a figure, sides
of a swap grid."""


# --------------------------------------------------------------------------------------------
# Geometry of the novel view
# --------------------------------------------------------------------------------------------


def rotation_about_vertical(angle: torch.Tensor) -> torch.Tensor:
    """Rotation about canonical +Z (up) by ``angle``, counter-clockwise seen from above.

    Args:
        angle: ``(B,)`` radians.
    Returns:
        ``(B, 3, 3)`` ``[[cos, −sin, 0], [sin, cos, 0], [0, 0, 1]]``.
    """
    check_shape(angle, ("B",), "angle")
    c, s = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([torch.stack([c, -s, zero], -1), torch.stack([s, c, zero], -1),
                        torch.stack([zero, zero, one], -1)], -2)


def rotate_view(cam_R_canon: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """The camera rotation after turning the body by ``angle`` about its vertical axis.

    Args:
        cam_R_canon: ``(B, 3, 3)`` canonical → camera.
        angle: ``(B,)`` radians.
    Returns:
        ``(B, 3, 3)`` ``cam_R_canon @ R_z(angle)``.
    """
    check_shape(cam_R_canon, ("B", 3, 3), "cam_R_canon")
    check_shape(angle, (cam_R_canon.shape[0],), "angle")
    return cam_R_canon @ rotation_about_vertical(angle.to(cam_R_canon.dtype))


# --------------------------------------------------------------------------------------------
# Synthesis
# --------------------------------------------------------------------------------------------


def _check_images(images: torch.Tensor, model: PartPoseModel, name: str) -> None:
    r = model.config.resolution
    check_shape(images, ("B", 3, r, r), name)
    if images.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image")


@dataclass
class Transfer:
    """Pose transfer results for ``B`` pairs.

    Attributes:
        synthesis: ``Î_{a_B}^{p_A}`` (:class:`Synthesis`, batch ``B``).
        pose: the estimate of the pose images; appearance: the estimate of the appearance images.
    """

    synthesis: Synthesis
    pose: PoseEstimate
    appearance: PoseEstimate


@torch.no_grad()
def transfer(model: PartPoseModel, pose_images: torch.Tensor, appearance_images: torch.Tensor) -> Transfer:
    """Draw the pose of ``pose_images[i]`` with the appearance of ``appearance_images[i]``.

    Args:
        pose_images, appearance_images: ``(B, 3, H, W)``; one of them may have ``B = 1`` (it
            is used for every pair).
    """
    _check_images(pose_images, model, "pose_images")
    _check_images(appearance_images, model, "appearance_images")
    bp, ba = pose_images.shape[0], appearance_images.shape[0]
    if bp != ba and 1 not in (bp, ba):
        raise ValueError(f"pose_images and appearance_images must have the same batch size (or one of 1), got {bp} and {ba}")
    est_p, est_a = model.encode_sided(pose_images), model.encode_sided(appearance_images)
    b = max(bp, ba)
    appearance = est_a.appearance.expand(b, -1)
    q, depth, scale = est_p.q.expand(b, -1, -1), est_p.depth.expand(b, -1), est_p.scale.expand(b)
    return Transfer(model.synthesize(appearance, q, depth, scale), est_p, est_a)


@dataclass
class Turntable:
    """View synthesis of ``B`` images over ``S`` angles.

    Attributes:
        angles: ``(S,)`` radians, ``2π k / S``.
        images: ``(S, B, 3, H, W)`` syntheses; labels: ``(S, B, H, W)`` int64 decoder part labels.
        q: ``(S, B, 17, 2)`` the turned 2D poses; part_labels: ``(S, B, H, W)`` int64 labels of
            the puppet's part maps at full resolution (what the decoder was asked to draw).
    """

    angles: torch.Tensor
    images: torch.Tensor
    labels: torch.Tensor
    q: torch.Tensor
    part_labels: torch.Tensor


@torch.no_grad()
def turntable(model: PartPoseModel, images: torch.Tensor, steps: int = 12) -> Turntable:
    """Turn the pose of each image about its vertical axis in ``steps`` equal steps and redraw
    it with the image's own appearance (step 0 is the image's own reconstruction)."""
    from partpose.geometry.puppet import labels as puppet_labels

    _check_images(images, model, "images")
    if steps < 1:
        raise UserError(f"--steps must be >= 1, got {steps}")
    est = model.encode_sided(images)
    b = images.shape[0]
    angles = torch.arange(steps, device=images.device, dtype=torch.float32) * (2.0 * math.pi / steps)
    angle = angles.repeat_interleave(b)  # (S·B,) step-major
    tile = lambda x: x.repeat((steps,) + (1,) * (x.dim() - 1))  # noqa: E731
    cam_R_canon = rotate_view(tile(est.cam_R_canon), angle)
    scale = tile(est.scale)
    q, depth = model.pose_for_prior(tile(est.pose_canon_mm), cam_R_canon, scale, tile(est.offset))
    synth = model.synthesize(tile(est.appearance), q, depth, scale)
    r = model.config.resolution
    return Turntable(
        angles=angles,
        images=synth.image.reshape(steps, b, 3, r, r),
        labels=synth.seg_logits.argmax(1).reshape(steps, b, r, r),
        q=q.reshape(steps, b, -1, 2),
        part_labels=puppet_labels(synth.part_maps[-1]).reshape(steps, b, r, r),
    )


@dataclass
class SwapGrid:
    """Appearance swap: ``images[i, j]`` is the appearance of image ``i`` with the pose of image
    ``j``; ``labels`` are the decoder's part labels ``(Ba, Bp, H, W)`` int64."""

    images: torch.Tensor
    labels: torch.Tensor


@torch.no_grad()
def swap_grid(model: PartPoseModel, appearance_images: torch.Tensor, pose_images: torch.Tensor) -> SwapGrid:
    """Every appearance of ``appearance_images (Ba, 3, H, W)`` with every pose of
    ``pose_images (Bp, 3, H, W)``: rows are appearances, columns poses."""
    _check_images(appearance_images, model, "appearance_images")
    _check_images(pose_images, model, "pose_images")
    est_a, est_p = model.encode_sided(appearance_images), model.encode_sided(pose_images)
    ba, bp = appearance_images.shape[0], pose_images.shape[0]
    appearance = est_a.appearance.repeat_interleave(bp, dim=0)  # row-major: (i, j) -> i·Bp + j
    q = est_p.q.repeat(ba, 1, 1)
    synth = model.synthesize(appearance, q, est_p.depth.repeat(ba, 1), est_p.scale.repeat(ba))
    r = model.config.resolution
    return SwapGrid(synth.image.reshape(ba, bp, 3, r, r), synth.seg_logits.argmax(1).reshape(ba, bp, r, r))


# --------------------------------------------------------------------------------------------
# Inputs and pictures
# --------------------------------------------------------------------------------------------


def dataset_images(config: TrainConfig, count: int, dataset: str = "synthetic", split: str = "test",
                   ) -> tuple[np.ndarray, list[str]]:
    """``count`` frames of a dataset's split as model inputs: the middle frame of ``count``
    videos spread evenly over the split (different subjects, motions and backgrounds), rendered
    with the checkpoint's benchmark settings (``config.data.synthetic``).

    Returns:
        ``(count, S, S, 3)`` uint8 frames and their names.
    Raises:
        UserError: an unknown dataset, or more frames than the split has videos.
    """
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r} for --from-dataset; known datasets: {', '.join(DATASETS)}")
    from partpose.data.synthetic import build_synthetic_videos

    videos = build_synthetic_videos(config.data.synthetic, split, spread=count)
    if count > len(videos):
        raise UserError(f"asked for {count} frames but the {dataset} {split} split has {len(videos)} videos")
    frames = np.stack([v.frames[v.num_frames // 2] for v in videos])
    return frames, [f"{v.name}#{v.num_frames // 2}" for v in videos]


def transfer_figure(pose_images: np.ndarray, appearance_images: np.ndarray, result: Transfer, tile: int = 160) -> np.ndarray:
    """One row per pair: pose image with its 2D skeleton, appearance image, the transfer and its
    part segmentation (``(H, W, 3)`` uint8)."""
    b = result.synthesis.image.shape[0]
    images = figures.to_uint8(result.synthesis.image)
    labels = result.synthesis.seg_logits.argmax(1).cpu().numpy()
    q = result.pose.q.cpu().numpy()
    rows = []
    for i in range(b):
        p, a = pose_images[min(i, len(pose_images) - 1)], appearance_images[min(i, len(appearance_images) - 1)]
        rows.append([
            figures.caption(figures.skeleton_tile(p, q[min(i, len(q) - 1)], tile), "pose from"),
            figures.caption(figures.enlarge(a, tile), "appearance from"),
            figures.caption(figures.enlarge(images[i], tile), "transfer"),
            figures.caption(figures.enlarge(figures.colour_labels(labels[i]), tile, nearest=True), "its parts"),
        ])
    return figures.grid(rows)


def swap_figure(appearance_images: np.ndarray, pose_images: np.ndarray, result: SwapGrid, tile: int = 128) -> np.ndarray:
    """The swap grid with the pose images as its top row and the appearance images as its left
    column (``(H, W, 3)`` uint8)."""
    cells = result.images
    ba, bp = cells.shape[:2]
    pictures = figures.to_uint8(cells.reshape(ba * bp, *cells.shape[2:])).reshape(ba, bp, *cells.shape[3:], 3)
    header = [None] + [figures.caption(figures.enlarge(pose_images[j], tile), "pose" if j == 0 else "") for j in range(bp)]
    rows = [header]
    for i in range(ba):
        rows.append([figures.caption(figures.enlarge(appearance_images[i], tile), "appearance" if i == 0 else "")]
                    + [figures.enlarge(pictures[i, j], tile) for j in range(bp)])
    return figures.grid(rows)


def turntable_frames(result: Turntable, tile: int = 160) -> np.ndarray:
    """Animation frames: per angle, for every image a row [synthesis | decoder parts | puppet
    parts]; returns ``(S, B·(tile+2)+2, 3·(tile+2)+2, 3)`` uint8."""
    steps, b = result.images.shape[:2]
    images = figures.to_uint8(result.images.reshape(steps * b, *result.images.shape[2:])).reshape(
        steps, b, *result.images.shape[3:], 3)
    labels, parts = result.labels.cpu().numpy(), result.part_labels.cpu().numpy()
    frames = []
    for s in range(steps):
        degrees = math.degrees(float(result.angles[s]))
        rows = [[figures.caption(figures.enlarge(images[s, i], tile), f"{degrees:.0f} deg"),
                 figures.caption(figures.enlarge(figures.colour_labels(labels[s, i]), tile, nearest=True), "decoder parts"),
                 figures.caption(figures.enlarge(figures.colour_labels(parts[s, i]), tile, nearest=True), "puppet")]
                for i in range(b)]
        frames.append(figures.grid(rows))
    return np.stack(frames)


def turntable_strip(result: Turntable, tile: int = 96) -> np.ndarray:
    """A still of the turntable: per image one row of syntheses and one of decoder parts, one
    column per angle (``(H, W, 3)`` uint8)."""
    steps, b = result.images.shape[:2]
    images = figures.to_uint8(result.images.reshape(steps * b, *result.images.shape[2:])).reshape(
        steps, b, *result.images.shape[3:], 3)
    labels = result.labels.cpu().numpy()
    rows = []
    for i in range(b):
        rows.append([figures.caption(figures.enlarge(images[s, i], tile),
                                     f"{math.degrees(float(result.angles[s])):.0f}") for s in range(steps)])
        rows.append([figures.enlarge(figures.colour_labels(labels[s, i]), tile, nearest=True) for s in range(steps)])
    return figures.grid(rows)


def write_synthesis(model: PartPoseModel, mode: str, pose_images: np.ndarray, appearance_images: np.ndarray,
                    out_dir: str | Path, steps: int = 12, tile: int = 160) -> list[Path]:
    """The ``partpose synthesize`` outputs of one mode.

    Args:
        mode: ``transfer`` (pairs ``pose_images[i]``, ``appearance_images[i]``; one side may
            hold a single image) → ``transfer.png``; ``view`` (the turntable of every pose
            image) → ``turntable.gif`` and ``turntable.png``; ``swap`` (rows
            ``appearance_images``, columns ``pose_images``) → ``swap.png``.
        pose_images, appearance_images: ``(B, S, S, 3)`` uint8 crops at the model resolution.
    Returns:
        The files written.
    """
    from partpose.inference.predict import images_to_tensor

    if mode not in MODES:
        raise UserError(f"unknown --mode {mode!r}; known modes: {', '.join(MODES)}")
    for name, batch in (("pose", pose_images), ("appearance", appearance_images)):
        if len(batch) > MAX_IMAGES:
            raise UserError(f"{mode} takes at most {MAX_IMAGES} {name} images, got {len(batch)}")
    device = next(model.parameters()).device
    out_dir = Path(out_dir)
    poses = images_to_tensor(pose_images, device)
    if mode == "view":
        result = turntable(model, poses, steps)
        frames = turntable_frames(result, tile)
        return [figures.write_animation(out_dir / "turntable.gif", frames, fps=max(2.0, steps / 3.0)),
                figures.write_png(out_dir / "turntable.png", turntable_strip(result, max(64, tile * 3 // 5)))]
    appearances = images_to_tensor(appearance_images, device)
    if mode == "transfer":
        if len(poses) != len(appearances) and 1 not in (len(poses), len(appearances)):
            raise UserError(f"transfer pairs pose and appearance images one to one: got {len(poses)} pose and "
                            f"{len(appearances)} appearance images (give equal numbers, or one of either)")
        result = transfer(model, poses, appearances)
        return [figures.write_png(out_dir / "transfer.png", transfer_figure(pose_images, appearance_images, result, tile))]
    result = swap_grid(model, appearances, poses)
    picture = swap_figure(appearance_images, pose_images, result, max(64, tile * 4 // 5))
    return [figures.write_png(out_dir / "swap.png", picture)]
