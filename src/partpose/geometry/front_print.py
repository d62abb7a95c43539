"""The shirt's front print on the puppet: where a flat puppet's torso shows the front of the chest.

A puppet painted flat in a person's colours (``puppet.frame_part_colours``) paints the torso in
one colour, so it shows nothing of which way the chest faces or how far it is turned. A shirt
with a print on its front does (the benchmark's people wear one, ``partpose.data.synthetic``;
many real people wear a printed T-shirt or an open jacket): seen from the front the print covers
the chest, turned it narrows towards the side the chest turns to, seen from the side it is a
sliver at the chest's edge, and from behind it is gone. :func:`print_mask` marks that region
on a puppet's torso from the pose's 3D joints, and :func:`print_colours` reads the person's
colours with the print apart from the rest of the torso, so that a puppet can be painted as the
frames show the person.

Convention:
    Camera frame as in ``partpose.geometry.facing``: the camera looks along +z, x right, y down;
    a joint's metric camera position, up to a translation, is ``(q / scale, depth)`` with ``q``
    in the normalised image coordinates of ``partpose.geometry.puppet``, ``scale`` in
    normalised units per metre and ``depth`` in metres. The projection is taken orthographic
    about the chest (the puppet's own approximation).

    The chest is an elliptic cylinder about the spine, ``up = thorax - pelvis``: its lateral
    axis ``L`` is the chest's across direction ``(l_shoulder - r_shoulder) + (l_hip - r_hip)``
    made orthogonal to ``up``, its forward axis ``F = L x up / |.|`` (``facing.chest_normal``'s
    direction: towards the camera for a person facing it), its semi-axes ``w = 0.45 |l_shoulder -
    r_shoulder| + 25`` mm and ``d = CHEST_HALF_DEPTH_MM`` (the benchmark's body of thickness 1).
    A point of its surface at angle ``phi`` is ``P = w sin(phi) L + d cos(phi) F`` (outward
    normal ``sin(phi) / w L + cos(phi) / d F``); the print is where ``cos(phi) > PRINT_START``,
    as the renderer splits the chest's ellipsoid. The print seen in the image is the range,
    across the torso's 2D axis (mid-hips to mid-shoulders), of the print's points whose normal
    faces the camera, over the part of that axis from ``PRINT_BAND[0]`` to ``PRINT_BAND[1]`` of
    its length (the chest), on the pixels the label map gives the torso.
"""

from __future__ import annotations

import math

import torch

from partpose.geometry import puppet
from partpose.geometry.parts import PART_NAMES
from partpose.geometry.skeleton import H36M17, Skeleton
from partpose.utils.checks import check_shape

PRINT_START = 0.45
"""The print is the chest's surface whose forward coordinate exceeds this share of its depth."""

PRINT_BAND = (0.4, 1.0)
"""Where the print lies along the torso's 2D axis, as shares of mid-hips to mid-shoulders."""

CHEST_HALF_DEPTH_MM = 100.0
"""The chest's forward semi-axis (the benchmark's body of thickness 1)."""

TORSO_LABEL = PART_NAMES.index("torso") + 1
"""The torso's label in a puppet label map (``puppet.labels``)."""

_ANGLES = 180  # samples of phi around the chest
_EPS = 1e-8


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / (v.pow(2).sum(dim=-1, keepdim=True) + _EPS).sqrt()


def print_range_mm(points: torch.Tensor, across_2d: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Where the visible print lies across the torso's 2D axis.

    Args:
        points: ``(B, J, 3)`` camera-frame joints, mm (any common offset).
        across_2d: ``(B, 2)`` unit image direction across the torso's axis.
    Returns:
        ``(B, 2)`` the low and high ends, mm from the chest's axis along ``across_2d``; low > high
        (``+inf, -inf``) where no print faces the camera.
    """
    index = skeleton.index
    shoulders = points[:, index("l_shoulder")] - points[:, index("r_shoulder")]
    across = shoulders + points[:, skeleton.l_hip] - points[:, skeleton.r_hip]
    up = _unit(points[:, skeleton.thorax] - points[:, skeleton.root])
    lateral = _unit(across - (across * up).sum(dim=-1, keepdim=True) * up)
    forward = _unit(torch.linalg.cross(lateral, up, dim=-1))
    w = 0.45 * shoulders.norm(dim=-1) + 25.0  # (B,)
    d = torch.full_like(w, CHEST_HALF_DEPTH_MM)
    phi = torch.linspace(-math.pi, math.pi, _ANGLES + 1, dtype=points.dtype, device=points.device)[:-1]
    sin, cos = phi.sin()[None], phi.cos()[None]  # (1, K)
    direction = torch.cat((across_2d, torch.zeros_like(across_2d[:, :1])), dim=-1)  # (B, 3)
    x = w[:, None] * sin * (lateral * direction).sum(-1, keepdim=True) + d[:, None] * cos * (
        forward * direction).sum(-1, keepdim=True)  # (B, K) mm
    normal_z = sin / w[:, None] * lateral[:, 2:] + cos / d[:, None] * forward[:, 2:]
    shown = (normal_z < 0) & (cos > PRINT_START)
    inf = torch.full_like(x, math.inf)
    return torch.stack((torch.where(shown, x, inf).amin(dim=1), torch.where(shown, x, -inf).amax(dim=1)), dim=1)


def print_mask(q: torch.Tensor, depth: torch.Tensor, scale: torch.Tensor, label_map: torch.Tensor,
               skeleton: Skeleton = H36M17) -> torch.Tensor:
    """The pixels of a puppet's torso that show the shirt's front print (module docstring).

    Args:
        q: ``(B, J, 2)`` the puppet's 2D joints, normalised image coordinates.
        depth: ``(B, J)`` their camera depth, metres (any common offset).
        scale: ``(B,)`` camera scale, normalised units per metre.
        label_map: ``(B, H, W)`` the puppet's labels (``puppet.labels``) of the same pose.
    Returns:
        ``(B, H, W)`` bool: torso pixels where the print is seen; none for a chest seen from behind.
    """
    check_shape(q, ("B", skeleton.num_joints, 2), "q")
    check_shape(depth, (q.shape[0], skeleton.num_joints), "depth")
    check_shape(scale, (q.shape[0],), "scale")
    check_shape(label_map, (q.shape[0], "H", "W"), "label_map")
    q, s = q.float(), scale.float()
    points_mm = 1000.0 * torch.cat((q / s[:, None, None], depth.float()[..., None]), dim=-1)
    index = skeleton.index
    hips = 0.5 * (q[:, skeleton.l_hip] + q[:, skeleton.r_hip])  # (B, 2)
    axis = 0.5 * (q[:, index("l_shoulder")] + q[:, index("r_shoulder")]) - hips
    length = (axis.pow(2).sum(dim=-1) + _EPS).sqrt()
    along_2d = axis / length[:, None]
    across_2d = torch.stack((-along_2d[:, 1], along_2d[:, 0]), dim=-1)
    low, high = print_range_mm(points_mm, across_2d, skeleton).unbind(dim=1)

    height, width = label_map.shape[1:]
    ys = (2.0 * torch.arange(height, device=q.device, dtype=q.dtype) + 1.0) / height - 1.0
    xs = (2.0 * torch.arange(width, device=q.device, dtype=q.dtype) + 1.0) / width - 1.0
    u = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None] - hips[:, None, None]  # (B, H, W, 2)
    along = (u * along_2d[:, None, None]).sum(dim=-1) / length[:, None, None]
    across_mm = 1000.0 * (u * across_2d[:, None, None]).sum(dim=-1) / s[:, None, None]
    in_band = (along >= PRINT_BAND[0]) & (along <= PRINT_BAND[1])
    in_print = (across_mm >= low[:, None, None]) & (across_mm <= high[:, None, None])
    return (label_map == TORSO_LABEL) & in_band & in_print


def print_colours(frame: torch.Tensor, label_map: torch.Tensor, mask: torch.Tensor, num_parts: int) -> torch.Tensor:
    """The colours a person shows in a frame, the print apart, for painting a puppet in them.

    Args:
        frame: ``(B, C, H, W)``.
        label_map: ``(B, H, W)`` the frame's puppet labels, e.g. of its estimated pose.
        mask: ``(B, H, W)`` bool, the print on that puppet (:func:`print_mask`).
        num_parts: L.
    Returns:
        ``(B, C, L + 1)``: the parts' colours as ``puppet.frame_part_colours`` reads them with the
        print's pixels taken from the torso, then the print's own mean colour (the torso's
        where the frame's puppet shows no print).
    """
    check_shape(mask, tuple(label_map.shape), "mask")
    labels = torch.where(mask, torch.full_like(label_map, num_parts + 1), label_map)
    colours = puppet.frame_part_colours(frame, labels, num_parts + 1)
    shown = mask.flatten(1).any(dim=1)  # (B,): the frame's puppet shows a print
    printed = torch.where(shown[:, None], colours[..., num_parts], colours[..., TORSO_LABEL - 1])
    return torch.cat((colours[..., :num_parts], printed[..., None]), dim=-1)


def paint_with_print(label_map: torch.Tensor, mask: torch.Tensor, colours: torch.Tensor,
                     background: torch.Tensor) -> torch.Tensor:
    """A puppet flat in a person's colours, the print painted on its chest.

    Args:
        label_map: ``(B, H, W)`` the puppet's labels; mask: ``(B, H, W)`` its print (:func:`print_mask`).
        colours: ``(B, C, L + 1)`` (:func:`print_colours`); background: ``(B, C, H, W)``.
    Returns:
        ``(B, C, H, W)`` (``puppet.paint_parts`` with the print as part L + 1).
    """
    labels = torch.where(mask, torch.full_like(label_map, colours.shape[-1]), label_map)
    return puppet.paint_parts(labels, colours, background)
