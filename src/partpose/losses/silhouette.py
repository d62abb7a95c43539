"""L_sil: the 2D skeleton, drawn as capsules, against the saliency map m_sal (a chamfer distance).

Convention:
    Joints ``q (B, 17, 2)`` are in the puppet's normalised image coordinates (``geometry.puppet``:
    x right, y down, ``-1`` and ``1`` the outer edges of the border pixels); ``scale (B,)`` is the
    camera scale in normalised units per metre, so a part of half-thickness ``h`` mm is
    ``scale * h / 1000`` units thick on either side of its bone, as in the puppet. The saliency
    map ``(B, 1, H, W)`` is in [0, 1]. Distances are in normalised units.

Why: L_I^u compares the decoded image with the frame only where the puppet's parts are, and a
part map is exactly zero beyond its soft edge, so its gradient can take a part away from where
the person is not but never bring one to where the person is (``docs/learning.md``). A chamfer
distance between the capsules and the salient pixels has a gradient everywhere:

* ``cover``: every salient pixel is pulled towards the nearest capsule
  (its distance to the capsule's surface, 0 inside it): the skeleton must reach every part of
  the person.
* ``inside``: points spread along every bone are pulled towards the nearest pixel with
  ``m_sal > threshold``: the skeleton must lie on the person.

It sees a silhouette only, so it cannot tell the left limbs from the right ones or the front
from the back; the pose prior and the image terms have to.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from partpose.geometry.skeleton import H36M17
from partpose.utils.checks import check_shape

# (joint, joint, half-thickness in mm): the puppet's limbs and head, and the torso as three
# capsules (the spine line and the two flanks) that cover it from any side.
CAPSULES: tuple[tuple[str, str, float], ...] = (
    ("nose", "head", 95.0),
    ("thorax", "nose", 50.0),
    ("pelvis", "thorax", 90.0),
    ("l_hip", "l_shoulder", 60.0),
    ("r_hip", "r_shoulder", 60.0),
    ("l_shoulder", "l_elbow", 50.0),
    ("l_elbow", "l_wrist", 42.0),
    ("r_shoulder", "r_elbow", 50.0),
    ("r_elbow", "r_wrist", 42.0),
    ("l_hip", "l_knee", 75.0),
    ("l_knee", "l_ankle", 58.0),
    ("r_hip", "r_knee", 75.0),
    ("r_knee", "r_ankle", 58.0),
)
_ENDS = torch.tensor([(H36M17.index(a), H36M17.index(b)) for a, b, _ in CAPSULES])
_HALF_WIDTH_MM = torch.tensor([w for _, _, w in CAPSULES])


def pixel_centres(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """``(H * W, 2)`` normalised ``(x, y)`` of the pixel centres, row-major."""
    y = (2 * torch.arange(height, device=device, dtype=dtype) + 1) / height - 1
    x = (2 * torch.arange(width, device=device, dtype=dtype) + 1) / width - 1
    grid_y, grid_x = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1).reshape(-1, 2)


def segment_distance(points: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of points to segments, broadcasting over the leading dimensions.

    Args:
        points, start, end: ``(..., 2)``, broadcastable to one shape (``start``/``end`` the
            segment ends).
    Returns:
        ``(...)``, the broadcast shape without the last dimension.
    """
    seg = end - start
    rel = points - start
    along = ((rel * seg).sum(-1) / (seg * seg).sum(-1).clamp_min(1e-12)).clamp(0.0, 1.0)
    return (rel - along[..., None] * seg).pow(2).sum(-1).add(1e-12).sqrt()


def point_segment_distance(points: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Distance of every point to every segment: ``points (B, P, 2)``, ``start, end (B, K, 2)``
    -> ``(B, P, K)``."""
    return segment_distance(points[:, :, None], start[:, None], end[:, None])


def skeleton_silhouette_loss(
    q: torch.Tensor,
    scale: torch.Tensor,
    saliency: torch.Tensor,
    threshold: float = 0.5,
    points_per_bone: int = 8,
    max_side: int = 32,
) -> torch.Tensor:
    """``mean_b [cover_b + inside_b]``, normalised units (see the module docstring).

    The person is the set ``M`` of pixels with ``m_sal > threshold`` (m_sal is soft and never
    quite 0 on the background). ``cover_b = mean_{p in M} min_k max(0, d(p, bone_k) - r_k)``
    over the pixel centres ``p`` (``r_k = scale * half_width_k / 1000``); ``inside_b`` is the mean
    over ``points_per_bone`` evenly spread points of every bone (ends included) of
    ``max(0, d(point, M) - 1 / side)``, the distance to the nearest centre in ``M`` less half a
    pixel. A sample with an empty ``M`` adds 0 to both (nothing says where the person is).

    Args:
        q: ``(B, 17, 2)`` 2D joints; scale: ``(B,)`` (sets the capsules' radii; no gradient
            flows through it); saliency: ``(B, 1, H, W)``.
        max_side: a larger saliency map is average-pooled to at most this side first (the
            chamfer needs no finer grid, and its cost grows with the pixel count).
    Returns:
        Scalar, mean over the batch.
    """
    check_shape(q, ("B", H36M17.num_joints, 2), "q")
    batch = q.shape[0]
    check_shape(scale, (batch,), "scale")
    check_shape(saliency, (batch, 1, "H", "W"), "saliency")
    if points_per_bone < 2:
        raise ValueError(f"points_per_bone must be at least 2, got {points_per_bone}")
    q = q.float()
    ends = _ENDS.to(q.device)
    start, end = q[:, ends[:, 0]], q[:, ends[:, 1]]  # (B, K, 2)
    # Detached: a thicker capsule covers more of the person for free, so a radius that the
    # gradient could grow would inflate the camera scale instead of moving the bones.
    radius = scale.detach().float()[:, None] * _HALF_WIDTH_MM.to(q.device)[None] / 1000.0  # (B, K)
    if max(saliency.shape[-2:]) > max_side:
        saliency = F.adaptive_avg_pool2d(saliency.float(), (min(saliency.shape[-2], max_side), min(saliency.shape[-1], max_side)))
    height, width = saliency.shape[-2:]
    pixels = pixel_centres(height, width, q.device).expand(batch, -1, -1)  # (B, P, 2)
    person = saliency.float().reshape(batch, -1).detach() > threshold  # (B, P)
    mass = person.float()
    has_person = person.any(dim=1)

    # The nearest capsule of every pixel and the nearest salient pixel of every bone point are
    # chosen without a graph; only the chosen distances are differentiated (same values and
    # gradients as differentiating the minimum, far less memory and time).
    with torch.no_grad():
        nearest_capsule = (point_segment_distance(pixels, start, end) - radius[:, None, :]).argmin(dim=2)  # (B, P)
    pick = lambda x: x.gather(1, nearest_capsule[..., None].expand(-1, -1, x.shape[-1]))  # noqa: E731
    outside = (segment_distance(pixels, pick(start), pick(end)) - radius.gather(1, nearest_capsule)).clamp_min(0.0)
    cover = (mass * outside).sum(1) / mass.sum(1).clamp_min(1e-6)

    t = torch.linspace(0.0, 1.0, points_per_bone, device=q.device)
    samples = start[:, :, None] + t[None, None, :, None] * (end - start)[:, :, None]  # (B, K, T, 2)
    samples = samples.reshape(batch, -1, 2)
    with torch.no_grad():
        to_pixels = torch.cdist(samples, pixels).masked_fill(~person[:, None, :], 10.0)
        nearest_pixel = to_pixels.argmin(dim=2)  # (B, K*T)
    target = pixels.gather(1, nearest_pixel[..., None].expand(-1, -1, 2))
    half_pixel = 1.0 / max(height, width)  # a point within half a pixel of a centre is on that pixel
    inside = ((samples - target).pow(2).sum(-1).add(1e-12).sqrt() - half_pixel).clamp_min(0.0).mean(1)

    per_sample = torch.where(has_person, cover + inside, torch.zeros_like(cover))
    return per_sample.mean()
