"""L_twin: the pose or its depth twin, whichever the decoder reconstructs the frame better from,
or whichever leans the way a camera above the hips sees a body lean.

A pose and its depth twin (``geometry.facing``: depth negated about the root, left and right
exchanged) project to the same 2D joints, so no gradient of the image losses leads from one to
the other: an encoder that reads a person seen from the back as seen from the front stays
there. With ``objective.twin_choice_weight`` > 0, every iteration also draws the twin of the
encoder's pose for I_t (with the facing channels of ``model.decoder.facing_channels`` the
decoder paints the face and the print on the side the pose faces), scores both drawings with
L_I^u, and where the twin's is lower by more than ``objective.twin_choice_margin`` (a fraction
of the pose's), makes the twin the encoder's target on that frame: its canonical pose and its
camera rotation, compared as the rotation energy compares them (``canonical_rotation``).

``objective.twin_choice_rule = "lean"`` chooses without the decoder: a camera above the hips
(every studio camera, most filmed videos) sees the chest nearer than the pelvis, and a pose's
twin has the opposite lean, so where the encoder's pose has its thorax farther from the camera
than its pelvis by more than ``objective.twin_choice_lean_mm``, the twin is the target
(:func:`lean_choice`). On the benchmark's true poses the rule holds on about three frames in
four (docs/learning.md).

``objective.twin_choice_rule = "travel"`` chooses by which way the person travels: a person
coming nearer the camera over their video shows it their front, one going away their back
(``partpose.data.travel``: read from the growth of the person boxes, right on about seven frames in
ten of the benchmark's training videos that travel). Where the encoder's pose shows the other
side than its video's travel (:func:`travel_choice`), the twin is the target; frames of videos
that do not travel, or have no boxes, are left alone.

Convention:
    Targets are detached; the loss is the sum over the chosen frames divided by the batch
    size, so it grows with the share of frames the decoder would turn round.
"""

from __future__ import annotations

import torch

from partpose.geometry.facing import depth_twin_pose, faces_camera
from partpose.geometry.kinematics import canonicalize
from partpose.geometry.skeleton import H36M17
from partpose.utils.checks import check_shape


def twin_targets(pose_cam_mm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The twin of each pose as a canonical pose and a camera rotation.

    Args:
        pose_cam_mm: ``(B, 17, 3)`` root-relative camera-frame poses, mm.
    Returns:
        ``canonical (B, 17, 3)`` mm and ``cam_R_canon (B, 3, 3)`` with
        ``cam_R_canon @ canonical == depth_twin_pose(pose_cam_mm)``; detached, float32 (also
        under autocast).
    """
    with torch.autocast(device_type=pose_cam_mm.device.type, enabled=False):  # geometry in float32
        twin = depth_twin_pose(pose_cam_mm.detach().float())
        canonical, canon_R_cam = canonicalize(twin)
    return canonical, canon_R_cam.transpose(1, 2)


def twin_choice(loss_pose: torch.Tensor, loss_twin: torch.Tensor, margin: float) -> torch.Tensor:
    """``(B,)`` bool: the frames whose twin reconstructs them better by more than ``margin``.

    Args:
        loss_pose, loss_twin: ``(B,)`` per-frame L_I^u of the pose's and the twin's drawings.
        margin: in ``[0, 1)``; the twin wins where ``loss_twin < (1 - margin) * loss_pose``.
    """
    check_shape(loss_pose, ("B",), "loss_pose")
    check_shape(loss_twin, tuple(loss_pose.shape), "loss_twin")
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), got {margin}")
    return loss_twin.detach() < (1.0 - margin) * loss_pose.detach()


def lean_choice(pose_cam_mm: torch.Tensor, margin_mm: float) -> torch.Tensor:
    """``(B,)`` bool: the frames whose pose has its thorax farther from the camera than its
    pelvis by more than ``margin_mm`` (so its twin's chest leans towards the camera).

    Args:
        pose_cam_mm: ``(B, 17, 3)`` camera-frame poses (H36M17 order), mm; camera z forward.
        margin_mm: >= 0.
    """
    check_shape(pose_cam_mm, ("B", H36M17.num_joints, 3), "pose_cam_mm")
    if margin_mm < 0:
        raise ValueError(f"margin_mm must be >= 0, got {margin_mm}")
    thorax, pelvis = H36M17.names.index("thorax"), H36M17.names.index("pelvis")
    pose = pose_cam_mm.detach()
    return pose[:, thorax, 2] - pose[:, pelvis, 2] > margin_mm


def travel_choice(pose_cam_mm: torch.Tensor, travel_front: torch.Tensor) -> torch.Tensor:
    """``(B,)`` bool: the frames whose pose shows the camera the other side than their video's
    travel says (``PairDataset``'s ``travel_front``: 1 the front, 0 the back, NaN no label).

    Args:
        pose_cam_mm: ``(B, 17, 3)`` camera-frame poses (H36M17 order); camera z forward.
        travel_front: ``(B,)`` float.
    """
    check_shape(pose_cam_mm, ("B", H36M17.num_joints, 3), "pose_cam_mm")
    check_shape(travel_front, (pose_cam_mm.shape[0],), "travel_front")
    labelled = torch.isfinite(travel_front)
    return labelled & (faces_camera(pose_cam_mm.detach()) != (travel_front > 0.5))


def twin_choice_loss(
    pose_canon_mm: torch.Tensor,
    cam_R_canon: torch.Tensor,
    target_canon_mm: torch.Tensor,
    target_R: torch.Tensor,
    chosen: torch.Tensor,
) -> torch.Tensor:
    """``sum_chosen (mean |C - C'| / 1000 + mean |R - R'|) / B`` (module docstring).

    Args:
        pose_canon_mm: ``(B, 17, 3)`` the encoder's canonical poses, mm.
        cam_R_canon: ``(B, 3, 3)`` its camera rotations.
        target_canon_mm, target_R: the twins' (:func:`twin_targets`).
        chosen: ``(B,)`` bool (:func:`twin_choice`).
    Returns:
        Scalar; 0 (with a zero gradient) when no frame is chosen.
    """
    check_shape(pose_canon_mm, ("B", "J", 3), "pose_canon_mm")
    batch = pose_canon_mm.shape[0]
    check_shape(cam_R_canon, (batch, 3, 3), "cam_R_canon")
    check_shape(target_canon_mm, tuple(pose_canon_mm.shape), "target_canon_mm")
    check_shape(target_R, (batch, 3, 3), "target_R")
    check_shape(chosen, (batch,), "chosen")
    per_frame = (pose_canon_mm - target_canon_mm.detach()).abs().mean(dim=(1, 2)) / 1000.0 + (
        cam_R_canon - target_R.detach()
    ).abs().mean(dim=(1, 2))
    return (per_frame * chosen.to(per_frame.dtype)).sum() / batch
