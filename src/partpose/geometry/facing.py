"""Which way the body faces the camera: the weight of the puppet's front channels.

A pose and its depth twin (camera depth negated, left and right exchanged) project to the same
2D joints with the left and right labels swapped, so the puppet's part maps alone cannot tell a
person seen from the front from one seen from behind (``docs/learning.md``, "Which way the
person faces"). With ``model.decoder.facing_channels`` the decoder also receives the head and
torso maps multiplied by :func:`front_weight`: a smooth function of the direction the chest
faces in the camera frame, 1 facing the camera, 0 facing away. D can then paint the face and
the shirt's print where the front channels are, and E gets a gradient towards the side that the
image shows.

Convention:
    The camera looks along +z (``depth``: larger = farther), x right, y down (the camera
    frame of ``partpose.geometry.camera``). A joint's metric camera position, up to a
    translation that cancels here, is ``(q / scale, depth)``: ``q`` in normalised image units,
    ``scale`` in normalised units per metre, ``depth`` in metres. The chest's outward normal is
    ``n = across x up`` with ``across = (l_shoulder - r_shoulder) + (l_hip - r_hip)`` and
    ``up = thorax - pelvis``: the canonical frame's face vector X of
    ``partpose.geometry.kinematics.canonicalize`` (which uses the hips alone) when shoulders and
    hips are parallel. ``front_weight = (1 - n_z / |n|) / 2``: 1 when ``n`` points at the
    camera, 0 when it points away, 1/2 seen from the side; linear in the cosine, so its
    gradient never vanishes away from the poles. The depth twin has ``n_z`` negated: its weight
    is ``1 -`` the pose's.

    The depth twin (:func:`depth_twin`, :func:`depth_twin_pose`) mirrors a pose through the
    plane of the image that holds its root (root-relative depth negated) and exchanges the
    left and right labels, so that the mirrored body is again a proper one: the same person
    seen from the other side, drawn at the same 2D joints with the left and right parts
    swapped.
"""

from __future__ import annotations

import torch

from partpose.geometry.mirror import mirror_joints
from partpose.geometry.parts import PART_NAMES
from partpose.geometry.skeleton import H36M17, Skeleton
from partpose.utils.checks import check_shape

FACING_PARTS: tuple[str, ...] = ("head", "torso")
"""Parts that get a front channel: the face and the shirt's print tell front from back."""

FACING_PART_INDICES: tuple[int, ...] = tuple(PART_NAMES.index(name) for name in FACING_PARTS)
"""Their channels among the part maps (``PARTS`` order)."""

_EPS = 1e-8


def depth_twin(q: torch.Tensor, depth: torch.Tensor, skeleton: Skeleton = H36M17) -> tuple[torch.Tensor, torch.Tensor]:
    """The depth twin of a drawn pose (module docstring).

    Args:
        q: ``(B, J, 2)`` 2D joints; depth: ``(B, J)`` root-relative camera depth.
    Returns:
        ``q (B, J, 2)`` and ``depth (B, J)`` of the twin: the same points with the left and
        right labels exchanged, the depths negated.
    """
    check_shape(q, ("B", skeleton.num_joints, 2), "q")
    check_shape(depth, (q.shape[0], skeleton.num_joints), "depth")
    flip = list(skeleton.flip_permutation)
    return q[:, flip], -depth[:, flip]


def depth_twin_pose(pose_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The depth twin of a root-relative camera-frame pose: ``z`` negated, left and right
    exchanged. ``(B, J, 3)`` -> ``(B, J, 3)``, any unit."""
    check_shape(pose_cam, ("B", skeleton.num_joints, 3), "pose_cam")
    return mirror_joints(pose_cam, skeleton, axis=2)


def upright_twin_pose(pose_cam: torch.Tensor, up_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The twin of a root-relative camera-frame pose that stays upright under a tilted camera.

    The depth twin (:func:`depth_twin_pose`) mirrors the pose through the image plane, which
    keeps its 2D joints but tilts it by twice the camera's pitch: seen from 10° above, an upright
    body's twin leans 20°. This twin mirrors it through the vertical plane (the world's up
    ``up_cam`` and the image's horizontal) across the camera's horizontal line of sight instead,
    then exchanges left and right: upright stays upright, the side shown flips, and the 2D
    joints move by the pitch's sine times their depth offsets. With ``up_cam`` in the image plane
    (a level camera) the two twins are the same.

    Args:
        pose_cam: ``(B, J, 3)`` root-relative camera-frame poses (camera z forward), any unit.
        up_cam: ``(3,)`` or ``(B, 3)`` the world's up in camera coordinates (unit; y is down, so
            a level camera has ``(0, -1, 0)``), not along the line of sight.
    Returns:
        ``(B, J, 3)``.
    """
    check_shape(pose_cam, ("B", skeleton.num_joints, 3), "pose_cam")
    level = level_sight(up_cam, pose_cam)
    mirrored = pose_cam - 2.0 * (pose_cam * level[:, None]).sum(dim=-1, keepdim=True) * level[:, None]
    return mirrored[:, list(skeleton.flip_permutation)]


def level_sight(up_cam: torch.Tensor, pose_cam: torch.Tensor) -> torch.Tensor:
    """``(B, 3)`` unit vectors: the camera's line of sight (``+z``) made horizontal, its
    component along the world's up ``up_cam`` (``(3,)`` or ``(B, 3)``, camera coordinates)
    removed; ``pose_cam (B, J, 3)`` gives the batch size, dtype and device."""
    up = torch.nn.functional.normalize(up_cam.to(pose_cam.dtype).expand(pose_cam.shape[0], 3), dim=-1)
    forward = pose_cam.new_tensor([0.0, 0.0, 1.0]).expand_as(up)
    return torch.nn.functional.normalize(forward - (forward * up).sum(dim=-1, keepdim=True) * up, dim=-1)


SIDE_DEFINITIONS: tuple[str, ...] = ("chest", "chest_and_spine")
"""What "the front" means for the side network and :func:`shows_front`: the chest towards the
camera (:func:`faces_camera`), or the chest and the head together towards it along the level
line of sight (:func:`chest_and_spine_front`)."""


def chest_and_spine_front(pose_cam: torch.Tensor, up_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B, J, 3)`` camera-frame poses and the world's up ``(3,)`` or ``(B, 3)`` -> ``(B,)``
    bool: the unit chest normal plus the unit spine (the pelvis to the thorax) point towards the
    camera along the level line of sight (:func:`level_sight`).

    Standing, the spine is vertical and this is the chest's side (:func:`faces_camera` but for the
    camera's pitch); lying, the chest is vertical and this is whether the head is the nearer end,
    which the chest's side does not tell (a crawler's chest faces the floor from either end). The
    upright twin (:func:`upright_twin_pose`) negates every body vector's component along the level
    line of sight, so a pose and its upright twin always show opposite sides by this definition,
    by the chest's only where the chest is not vertical.
    """
    check_shape(pose_cam, ("B", skeleton.num_joints, 3), "pose_cam")
    normal = torch.nn.functional.normalize(chest_normal(pose_cam, skeleton), dim=-1)
    spine = torch.nn.functional.normalize(pose_cam[:, skeleton.thorax] - pose_cam[:, skeleton.root], dim=-1)
    return ((normal + spine) * level_sight(up_cam, pose_cam)).sum(dim=-1) < 0


def shows_front(pose_cam: torch.Tensor, up_cam: torch.Tensor, definition: str = "chest",
                skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B,)`` bool: the poses ``(B, J, 3)`` show the camera their front by ``definition``
    (:data:`SIDE_DEFINITIONS`): :func:`faces_camera` (``up_cam`` unused) or
    :func:`chest_and_spine_front`."""
    if definition == "chest":
        return faces_camera(pose_cam, skeleton)
    if definition == "chest_and_spine":
        return chest_and_spine_front(pose_cam, up_cam, skeleton)
    raise ValueError(f"side definition must be one of {', '.join(SIDE_DEFINITIONS)}, got {definition!r}")


GROUND_HANDS: tuple[str, ...] = ("l_wrist", "r_wrist")
"""The joints a body on the ground rests on at its head's end (:func:`ground_front`)."""

GROUND_LEGS: tuple[str, ...] = ("l_knee", "r_knee", "l_ankle", "r_ankle")
"""The joints it rests on at the other end."""


def lies_along_ground(pose_cam: torch.Tensor, up_cam: torch.Tensor, band_deg: float,
                      skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B,)`` bool: the spine of each pose ``(B, J, 3)`` lies within ``band_deg`` of level
    (:func:`spine_tilt_deg` within ``band_deg`` of 90°) under the world's up ``up_cam`` (``(3,)``
    or ``(B, 3)``); ``band_deg`` 0: none."""
    return (spine_tilt_deg(pose_cam, up_cam, skeleton) - 90.0).abs() < band_deg


def ground_front(q: torch.Tensor, up_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Which end of a body on the ground is nearer the camera, read from its 2D joints alone.

    A body on the ground (crawling, pushing up, getting up face down) rests on its hands
    (:data:`GROUND_HANDS`) at its head's end and on its knees and feet (:data:`GROUND_LEGS`) at
    the other, all on the floor. A camera above the floor sees the floor's points the lower in the
    image (along the world's down drawn into it, ``-up_cam[:2]``) the nearer they are, whatever its
    pitch: they lie below its horizon, and come down from it as they come nearer. So the hands' end
    is the nearer where the hands lie further down the image than the legs. The hands' end being
    nearer is the front by :func:`chest_and_spine_front` wherever the spine points from the legs
    to the hands, as it does on all fours. The reading needs the 2D joints and the up, not the
    depths the upright twin (:func:`upright_twin_pose`) negates. It holds in the image of a true
    (pinhole) camera above the floor; a weak-perspective drawing about a pelvis that the camera
    looks up at (``up_cam[2] > 0``) would put the nearer end higher.

    Args:
        q: ``(B, J, 2)`` 2D joints (normalised image coordinates, x right, y down; any positive
            scale and offset).
        up_cam: ``(3,)`` or ``(B, 3)`` the world's up in camera coordinates (:func:`camera_up`,
            ``Video.camera_up``), not along the line of sight.
    Returns:
        ``(B,)`` bool: the hands' end is the nearer.
    """
    check_shape(q, ("B", skeleton.num_joints, 2), "q")
    up = up_cam.to(q.dtype).expand(q.shape[0], 3)
    hands = q[:, [skeleton.index(name) for name in GROUND_HANDS]].mean(dim=1)
    legs = q[:, [skeleton.index(name) for name in GROUND_LEGS]].mean(dim=1)
    return ((hands - legs) * -up[:, :2]).sum(dim=-1) > 0  # the hands further down the image


def camera_up(elevation_deg: float) -> torch.Tensor:
    """``(3,)`` float64: the world's up in the coordinates of a camera that looks down at
    ``elevation_deg`` (above the person, no roll): ``(0, -cos e, -sin e)``."""
    e = torch.deg2rad(torch.tensor(float(elevation_deg), dtype=torch.float64))
    return torch.stack((torch.zeros((), dtype=torch.float64), -torch.cos(e), -torch.sin(e)))


def spine_tilt_deg(pose_cam: torch.Tensor, up_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B, J, 3)`` camera-frame poses and the world's up ``(3,)`` or ``(B, 3)`` (unit vectors,
    camera coordinates: :func:`camera_up`, ``Video.camera_up``) -> ``(B,)`` degrees between the
    spine (the pelvis to the thorax) and the up: 0 standing, 90 lying, 180 upside down."""
    check_shape(pose_cam, ("B", skeleton.num_joints, 3), "pose_cam")
    spine = pose_cam[:, skeleton.thorax] - pose_cam[:, skeleton.root]
    cosine = (torch.nn.functional.normalize(spine, dim=-1) * up_cam.to(spine).expand_as(spine)).sum(dim=-1)
    return torch.rad2deg(torch.acos(cosine.clamp(-1.0, 1.0)))


def angle_from_profile_deg(pose_cam: torch.Tensor, up_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B, J, 3)`` camera-frame poses (any unit) and the world's up ``(3,)`` or ``(B, 3)`` ->
    ``(B,)`` degrees between the chest's level normal (:func:`chest_normal` with its part along
    the up removed) and square to the camera's level line of sight (:func:`level_sight`): 0 seen
    in profile, 90 facing the camera or facing away. A pose and its upright twin
    (:func:`upright_twin_pose`) have the same angle. A chest that faces the floor or the sky has
    no level normal: its angle is ``nan``."""
    check_shape(pose_cam, ("B", skeleton.num_joints, 3), "pose_cam")
    normal = torch.nn.functional.normalize(chest_normal(pose_cam, skeleton), dim=-1)
    up = torch.nn.functional.normalize(up_cam.to(normal).expand_as(normal), dim=-1)
    level = normal - (normal * up).sum(dim=-1, keepdim=True) * up
    length = level.norm(dim=-1)
    along = (level * level_sight(up, pose_cam)).sum(dim=-1).abs() / length.clamp_min(1e-12)
    angle = torch.rad2deg(torch.asin(along.clamp(0.0, 1.0)))
    return torch.where(length > 1e-6, angle, torch.full_like(angle, float("nan")))


def faces_camera(pose_cam: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B, J, 3)`` camera-frame poses (any unit) -> ``(B,)`` bool: the chest's outward normal
    (module docstring) points at the camera (``n_z < 0``), i.e. ``front_weight > 1/2``."""
    check_shape(pose_cam, ("B", skeleton.num_joints, 3), "pose_cam")
    return chest_normal(pose_cam, skeleton)[:, 2] < 0


def chest_normal(points: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(B, J, 3)`` camera-frame joints (any unit) -> ``(B, 3)`` the chest's outward normal
    ``across x up`` (module docstring), not normalised."""
    index = skeleton.index
    across = (points[:, index("l_shoulder")] - points[:, index("r_shoulder")]) + (
        points[:, skeleton.l_hip] - points[:, skeleton.r_hip]
    )
    up = points[:, skeleton.thorax] - points[:, skeleton.root]
    return torch.linalg.cross(across, up, dim=-1)


def front_weight(
    q: torch.Tensor, depth: torch.Tensor, scale: torch.Tensor | None, skeleton: Skeleton = H36M17
) -> torch.Tensor:
    """How much the chest faces the camera (module docstring).

    Args:
        q: ``(B, J, 2)`` 2D joints, normalised image coordinates.
        depth: ``(B, J)`` camera depth of each joint, metres (any common offset).
        scale: ``(B,)`` camera scale, normalised units per metre; ``None`` means 1.
    Returns:
        ``(B,)`` in ``[0, 1]``: 1 facing the camera, 0 facing away.
    """
    check_shape(q, ("B", skeleton.num_joints, 2), "q")
    check_shape(depth, (q.shape[0], skeleton.num_joints), "depth")
    s = q.new_ones(q.shape[0]) if scale is None else scale.to(q.dtype)
    check_shape(s, (q.shape[0],), "scale")
    points = torch.cat((q / s[:, None, None], depth.to(q.dtype)[..., None]), dim=-1)  # (B, J, 3) metres
    normal = chest_normal(points, skeleton)
    cosine = normal[:, 2] / (normal.pow(2).sum(dim=-1) + _EPS).sqrt()
    return 0.5 * (1.0 - cosine)
