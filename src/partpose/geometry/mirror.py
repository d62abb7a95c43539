"""What a horizontal flip of the image does to what is read from it (the flip test).

Convention:
    Normalised image coordinates are those of ``affine_grid(..., align_corners=False)``: the
    centre of pixel column ``i`` of ``W`` is at ``x = (2 i + 1) / W - 1``, so flipping the image
    (column ``i`` to ``W - 1 - i``) maps ``x`` to ``-x``. The camera (``partpose.geometry.camera``)
    is weak perspective along +z with x to the right, so the mirrored image is the picture of
    the world reflected through the camera's ``x = 0`` plane: a camera-frame point ``(x, y, z)``
    goes to ``(-x, y, z)``, a 2D joint ``(x, y)`` to ``(-x, y)``, an offset likewise. A
    reflection turns a left hand into a right one, so the joints of the reflected body are
    relabelled by ``skeleton.flip_permutation``: the mirrored picture shows a proper person, the
    same pose with its sides exchanged. The direction of the chest (``facing.chest_normal``)
    keeps its depth component: a person who faces the camera still does in the mirror.

    Every function here is its own inverse.
"""

from __future__ import annotations

import torch

from partpose.geometry.kinematics import canonicalize
from partpose.geometry.parts import PART_FLIP_PERMUTATION
from partpose.geometry.skeleton import H36M17, Skeleton
from partpose.utils.checks import check_shape


def mirror_image(image: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, C, H, W)``: each image flipped left to right."""
    check_shape(image, ("B", "C", "H", "W"), "image")
    return image.flip(-1)


def mirror_joints(joints: torch.Tensor, skeleton: Skeleton = H36M17, axis: int = 0) -> torch.Tensor:
    """The joints of the mirrored person: ``x`` negated, left and right relabelled.

    Args:
        joints: ``(B, J, D)`` with ``D = 2`` (image points) or ``3`` (camera-frame points, any
            unit; root-relative or not: the camera's ``x = 0`` plane is the mirror).
        axis: the coordinate negated; ``2`` reflects a root-relative pose through the image
            plane instead (``facing.depth_twin_pose``).
    Returns:
        ``(B, J, D)``.
    """
    check_shape(joints, ("B", skeleton.num_joints, "D"), "joints")
    if joints.shape[-1] not in (2, 3):
        raise ValueError(f"joints must have 2 or 3 coordinates, got {joints.shape[-1]}")
    return mirror_directions(joints, axis)[:, list(skeleton.flip_permutation)]


def mirror_directions(vectors: torch.Tensor, axis: int = 0) -> torch.Tensor:
    """Points or directions with no joint labels (an image offset ``(..., 2)``, the world's up
    in camera coordinates ``(..., 3)``): ``x`` (the coordinate ``axis``) negated. NaN stays NaN."""
    sign = torch.ones(vectors.shape[-1], dtype=vectors.dtype, device=vectors.device)
    sign[axis] = -1.0
    return vectors * sign


def mirror_view(pose_canon: torch.Tensor, cam_R_canon: torch.Tensor,
                skeleton: Skeleton = H36M17) -> tuple[torch.Tensor, torch.Tensor]:
    """The canonical pose and camera of the mirrored picture of a canonical pose under a camera.

    Args:
        pose_canon: ``(B, J, 3)`` canonical pose (``kinematics.canonicalize``), any unit.
        cam_R_canon: ``(B, 3, 3)`` the camera's rotation of it: camera-frame joints are
            ``pose_canon @ cam_R_canon.T``.
    Returns:
        ``pose_canon (B, J, 3)`` and ``cam_R_canon (B, 3, 3)`` of the person the mirrored image
        shows: the camera-frame pose reflected by :func:`mirror_joints`, canonicalised again. A
        body turned one way from facing the camera is turned as far the other way, its left and
        right exchanged.
    """
    check_shape(pose_canon, ("B", skeleton.num_joints, 3), "pose_canon")
    check_shape(cam_R_canon, (pose_canon.shape[0], 3, 3), "cam_R_canon")
    mirrored_canon, canon_R_cam = canonicalize(mirror_joints(pose_canon @ cam_R_canon.transpose(1, 2), skeleton),
                                               skeleton)
    return mirrored_canon, canon_R_cam.transpose(1, 2)


def mirror_part_labels(labels: torch.Tensor) -> torch.Tensor:
    """A part segmentation of the mirrored picture: ``(..., H, W)`` int labels (0 background,
    ``l + 1`` part ``PARTS[l]``, negative: unknown) flipped left to right, each left part
    relabelled as its right part and the other way round."""
    lookup = torch.tensor([0, *(i + 1 for i in PART_FLIP_PERMUTATION)], dtype=labels.dtype, device=labels.device)
    flipped = labels.flip(-1)
    return torch.where(flipped > 0, lookup[flipped.clamp(0, len(lookup) - 1)], flipped)
