"""Patches of the torso and the head, cut along the 2D skeleton: what the side network may read.

Which side a person shows is written on the torso (a shirt's print, the buttons) and the head
(the face against the hair), whatever the rest of the body does. A network that reads the whole
crop has to learn those marks in every posture it sees, and taught by the travel it sees walkers
mostly (``docs/learning.md``, "A side network that reads the parts"). Cut along the spine, the two
parts look the same upright, lying or upside down: each patch is turned so that the line from
the pelvis to the thorax points up.

Convention:
    Images ``(B, C, H, W)``; 2D joints ``(B, 17, 2)`` in the normalised image coordinates of
    ``torch.nn.functional.grid_sample(..., align_corners=False)``: ``(x, y)``, -1 and 1 the
    crop's outer edges, ``y`` down (``geometry.camera``). The patches are ``(B, C, size,
    2 size)``: the torso's square on the left, the head's on the right, each with the spine's
    direction pointing to its top row. Pixels outside the image read 0.

    With ``L`` the pelvis-to-thorax length (at least :data:`MIN_TORSO_LENGTH`, so that a torso
    seen end-on still gives a patch of some size) and ``u`` its unit direction:
    the torso's patch is centred :data:`TORSO_CENTRE` ``L`` up the spine from the pelvis, with
    half-side :data:`TORSO_HALF` ``L``; the head's is centred between the nose and the top of the
    head, with half-side :data:`HEAD_HALF` ``L``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from partpose.geometry.skeleton import H36M17

TORSO_CENTRE = 0.55
TORSO_HALF = 0.8
HEAD_HALF = 0.45
MIN_TORSO_LENGTH = 0.25
"""The shortest pelvis-to-thorax length the patches are sized by, in normalised units (a
standing person fills about 1.6 of the crop's 2, their torso about 0.5)."""


def part_frames(joints_2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where the two patches lie.

    Args:
        joints_2d: ``(B, 17, 2)`` normalised image coordinates (module docstring).
    Returns:
        ``centres (B, 2, 2)`` (torso, head), ``half_sides (B, 2)`` and ``up (B, 2)`` the unit
        direction from the pelvis to the thorax (``(0, -1)`` where the two coincide).
    """
    pelvis, thorax = joints_2d[:, H36M17.index("pelvis")], joints_2d[:, H36M17.index("thorax")]
    spine = thorax - pelvis
    length = spine.norm(dim=1, keepdim=True)
    fallback = torch.tensor([0.0, -1.0], dtype=joints_2d.dtype, device=joints_2d.device).expand_as(spine)
    up = torch.where(length > 1e-6, spine / length.clamp(min=1e-6), fallback)
    size = length.clamp(min=MIN_TORSO_LENGTH)
    head = 0.5 * (joints_2d[:, H36M17.index("nose")] + joints_2d[:, H36M17.index("head")])
    centres = torch.stack((pelvis + TORSO_CENTRE * size * up, head), dim=1)
    half_sides = torch.cat((TORSO_HALF * size, HEAD_HALF * size), dim=1)
    return centres, half_sides, up


def part_patches(image: torch.Tensor, joints_2d: torch.Tensor, size: int = 32) -> torch.Tensor:
    """The torso's and the head's patches of each image, side by side.

    Args:
        image: ``(B, C, H, W)``.
        joints_2d: ``(B, 17, 2)`` normalised image coordinates of each image's joints.
        size: the side of each square patch, in pixels.
    Returns:
        ``(B, C, size, 2 size)``, bilinear samples of ``image`` (module docstring). Turning an
        image and its joints by a multiple of 90°, or mirroring both, leaves the patches the same
        (mirrored in the second case).
    """
    if image.dim() != 4 or joints_2d.shape != (image.shape[0], H36M17.num_joints, 2):
        raise ValueError(f"expected (B, C, H, W) images and (B, {H36M17.num_joints}, 2) joints, "
                         f"got {tuple(image.shape)} and {tuple(joints_2d.shape)}")
    joints_2d = joints_2d.to(image.dtype)
    centres, half_sides, up = part_frames(joints_2d)
    right = torch.stack((-up[:, 1], up[:, 0]), dim=1)  # up turned a quarter clockwise on screen (y down)
    step = (2 * torch.arange(size, dtype=image.dtype, device=image.device) + 1) / size - 1  # pixel centres in (-1, 1)
    across, down = step[None, :], step[:, None]  # (1, size) columns, (size, 1) rows
    grids = []
    for part in range(2):
        half = half_sides[:, part, None, None, None]
        offset = (across[None, ..., None] * right[:, None, None] - down[None, ..., None] * up[:, None, None]) * half
        grids.append(centres[:, part, None, None] + offset)  # (B, size, size, 2)
    grid = torch.cat(grids, dim=2)  # (B, size, 2 size, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
