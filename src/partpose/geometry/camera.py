"""T_c: camera rotation, weak-perspective projection and the views of the view prior.

Convention:
    ``cam_R_canon`` maps canonical coordinates (X face vector, Y the body's left, Z up) to
    camera coordinates (x right, y down, z away from the camera): ``p_cam = cam_R_canon @ p``.
    Its rows are the camera axes x, y, z written in canonical coordinates.

    Weak perspective: ``q = scale * (R p)_xy + offset`` and ``depth = (R p)_z``. The functions
    are unit-agnostic; the model passes the canonical pose in metres, so ``scale`` is in
    normalised image units per metre and ``depth`` in metres (docs/architecture.md). ``q`` is in
    the normalised image coordinates of ``affine_grid(..., align_corners=False)``: (x, y) order,
    x right, y down, -1 and 1 the outer edges of the border pixels.

    Angles are radians.
"""

from __future__ import annotations

import math

import torch

from partpose.utils.checks import check_finite, check_shape

DEFAULT_AZIMUTH_RANGE = (-math.pi, math.pi)
"""Full turn about the body's vertical axis."""

DEFAULT_ELEVATION_RANGE = (math.radians(-10.0), math.radians(30.0))
"""A moderate range of elevation: slightly below the pelvis to clearly above the head."""

_EPS = 1e-8


def _unit(x: torch.Tensor) -> torch.Tensor:
    """``x / |x|`` over the last dimension, with ``|x|`` clamped at ``_EPS`` (finite gradient)."""
    return x / x.pow(2).sum(dim=-1, keepdim=True).clamp_min(_EPS * _EPS).sqrt()


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """6D rotation representation (Zhou et al., CVPR 2019) to a rotation matrix.

    Args:
        d6: ``(..., 6)`` two 3-vectors ``d6[..., :3]`` and ``d6[..., 3:]``, any length.
    Returns:
        ``(..., 3, 3)`` rotation matrix (orthonormal, det = +1).

    Convention:
        Gram-Schmidt: ``b1 = unit(d6[:3])``, ``b2 = unit(d6[3:] - (b1 . d6[3:]) b1)``,
        ``b3 = b1 x b2``; ``b1, b2, b3`` are the **rows** of the matrix (as in pytorch3d), so
        ``matrix_to_rotation_6d`` returns the first two rows.
    """
    check_shape(d6, ("*", 6), "d6")
    check_finite(d6, "d6")
    b1 = _unit(d6[..., :3])
    a2 = d6[..., 3:]
    b2 = _unit(a2 - (b1 * a2).sum(dim=-1, keepdim=True) * b1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-2)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrix to the 6D representation: its first two rows, concatenated.

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.
    Returns:
        ``(..., 6)``; ``rotation_6d_to_matrix(matrix_to_rotation_6d(R)) == R`` for rotations.
    """
    check_shape(matrix, ("*", 3, 3), "matrix")
    return matrix[..., :2, :].reshape(*matrix.shape[:-2], 6)


def project(
    pose_canon: torch.Tensor,
    cam_R_canon: torch.Tensor,
    scale: torch.Tensor,
    offset: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weak-perspective projection of canonical poses (T_c).

    Args:
        pose_canon: ``(B, J, 3)`` joints in the canonical frame (the model passes metres).
        cam_R_canon: ``(B, 3, 3)`` rotation from the canonical frame to the camera frame.
        scale: ``(B,)`` weak-perspective scale, normalised image units per unit of ``pose_canon``.
        offset: ``(B, 2)`` image-plane offset in normalised coordinates, (x, y).
    Returns:
        ``q (B, J, 2)`` normalised image coordinates ``scale * (R p)_xy + offset`` and
        ``depth (B, J)`` camera z ``(R p)_z`` in the unit of ``pose_canon`` (larger = farther).
    """
    check_shape(pose_canon, ("B", "J", 3), "pose_canon")
    batch = pose_canon.shape[0]
    check_shape(cam_R_canon, (batch, 3, 3), "cam_R_canon")
    check_shape(scale, (batch,), "scale")
    check_shape(offset, (batch, 2), "offset")
    for x, name in ((pose_canon, "pose_canon"), (cam_R_canon, "cam_R_canon"), (scale, "scale"), (offset, "offset")):
        check_finite(x, name)
    p_cam = torch.einsum("bij,bkj->bki", cam_R_canon, pose_canon)
    q = scale[:, None, None] * p_cam[..., :2] + offset[:, None, :]
    return q, p_cam[..., 2]


def view_rotation(azimuth: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    """Rotation of a camera that looks at the person from a given azimuth and elevation.

    Args:
        azimuth: ``(B,)`` radians about canonical +Z, counter-clockwise seen from above.
        elevation: ``(B,)`` radians above the XY plane (positive: camera above, looking down).
    Returns:
        ``(B, 3, 3)`` ``cam_R_canon`` (rows: camera x, y, z in canonical coordinates).

    Convention:
        The camera sits on the ray ``(cos el cos az, cos el sin az, sin el)`` from the pelvis and
        looks at it: camera z = minus that ray, camera x (right) = ``(-sin az, cos az, 0)``
        (horizontal), camera y (down) = z x x. At azimuth 0, elevation 0 the camera is in front
        of the face (+X) looking along -X, camera x = +Y (the person's left is on the image
        right) and camera y = -Z (up in the world is up in the image).
    """
    check_shape(azimuth, ("B",), "azimuth")
    check_shape(elevation, (azimuth.shape[0],), "elevation")
    check_finite(azimuth, "azimuth")
    check_finite(elevation, "elevation")
    ca, sa = torch.cos(azimuth), torch.sin(azimuth)
    ce, se = torch.cos(elevation), torch.sin(elevation)
    cam_z = -torch.stack((ce * ca, ce * sa, se), dim=-1)
    cam_x = torch.stack((-sa, ca, torch.zeros_like(ca)), dim=-1)
    cam_y = torch.linalg.cross(cam_z, cam_x, dim=-1)
    return torch.stack((cam_x, cam_y, cam_z), dim=-2)


def upright_frame(up: torch.Tensor) -> torch.Tensor:
    """The rotation from the canonical frame to an upright frame of the same body.

    Args:
        up: ``(B, 3)`` unit vectors, the world's up direction in canonical coordinates (for an
            upright body ``(0, 0, 1)``, the spine; a body bent forward has it tilted towards +X).
    Returns:
        ``(B, 3, 3)`` ``upright_R_canon``, rows ``x, y, z`` in canonical coordinates: ``z = up``,
        ``x`` the face vector (+X) made horizontal (perpendicular to ``up``), or the spine (+Z)
        made horizontal where the face points straight up or down, ``y = z x x``. For
        ``up = (0, 0, 1)`` it is the identity.
    """
    check_shape(up, ("B", 3), "up")
    check_finite(up, "up")
    up = up / up.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    face = torch.zeros_like(up)
    face[:, 0] = 1.0
    spine = torch.zeros_like(up)
    spine[:, 2] = 1.0
    reference = torch.where((up[:, :1].abs() > 0.99), spine, face)
    x = reference - (reference * up).sum(-1, keepdim=True) * up
    x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    y = torch.linalg.cross(up, x, dim=-1)
    return torch.stack((x, y, up), dim=-2)


def random_view_rotation(
    n: int,
    azimuth_range: tuple[float, float] = DEFAULT_AZIMUTH_RANGE,
    elevation_range: tuple[float, float] = DEFAULT_ELEVATION_RANGE,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
    up: torch.Tensor | None = None,
) -> torch.Tensor:
    """Random views for the view prior: azimuth and elevation uniform in their ranges (radians).

    Args:
        n: number of views.
        azimuth_range, elevation_range: ``(low, high)`` in radians, ``low <= high``.
        generator: random source (sampling happens on its device, then moves to ``device``).
        up: ``(n, 3)`` the world's up direction in each pose's canonical frame, or ``None``.
            ``None``: azimuth about the spine (canonical +Z), elevation above the plane
            perpendicular to it, no roll about the line of sight relative to it: the views of an
            upright body. Given: the same about ``up`` (:func:`upright_frame`), i.e. an upright
            camera in the world around a body that may lean or bend, whose spine then appears
            tilted as it does in real footage.
    Returns:
        ``(n, 3, 3)`` ``cam_R_canon``: :func:`view_rotation`, times ``upright_R_canon`` when
        ``up`` is given.
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    for name, (low, high) in (("azimuth_range", azimuth_range), ("elevation_range", elevation_range)):
        if not (math.isfinite(low) and math.isfinite(high) and low <= high):
            raise ValueError(f"{name} must be finite (low, high) with low <= high, got {(low, high)}")
    sample_device = generator.device if generator is not None else device
    u = torch.rand(2, n, generator=generator, dtype=dtype, device=sample_device).to(device)
    azimuth = azimuth_range[0] + (azimuth_range[1] - azimuth_range[0]) * u[0]
    elevation = elevation_range[0] + (elevation_range[1] - elevation_range[0]) * u[1]
    cam_R = view_rotation(azimuth, elevation)
    if up is None:
        return cam_R
    check_shape(up, (n, 3), "up")
    return cam_R @ upright_frame(up.to(device=cam_R.device, dtype=cam_R.dtype))


def crop_framing(
    pose_canon: torch.Tensor, cam_R_canon: torch.Tensor, fill: float = 0.8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and offset that frame a pose the way person-centred crops frame people.

    A person-centred crop is the square around the 2D joint box, enlarged by a margin; the joint
    box's longer side then spans ``fill = 1 / (1 + margin)`` of the crop. This returns the
    weak-perspective ``scale`` and ``offset`` (see :func:`project`) that put the projected joint
    box of ``pose_canon`` under ``cam_R_canon`` exactly there: centred, longer side ``2 · fill``
    normalised units.

    Args:
        pose_canon: ``(B, J, 3)`` canonical pose (the unit of ``scale``'s inverse, e.g. metres).
        cam_R_canon: ``(B, 3, 3)``.
        fill: fraction of the crop side covered by the joint box's longer side, in (0, 1].
    Returns:
        ``scale (B,)`` and ``offset (B, 2)``.
    """
    check_shape(pose_canon, ("B", "J", 3), "pose_canon")
    check_shape(cam_R_canon, (pose_canon.shape[0], 3, 3), "cam_R_canon")
    if not 0.0 < fill <= 1.0:
        raise ValueError(f"fill must be in (0, 1], got {fill}")
    xy = (pose_canon @ cam_R_canon.transpose(-1, -2))[..., :2]
    low, high = xy.amin(dim=-2), xy.amax(dim=-2)
    half_side = 0.5 * (high - low).amax(dim=-1).clamp_min(1e-6)
    scale = fill / half_side
    offset = -scale[:, None] * 0.5 * (low + high)
    return scale, offset
