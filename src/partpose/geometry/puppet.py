"""T_s: the part-based 2D puppet, from 2D joints to depth-aware spatial part maps (supplementary §1).

Convention:
    Image coordinates are the normalised coordinates of ``affine_grid(..., align_corners=False)``:
    ``(x, y)`` order, x right, y down, ``-1`` and ``1`` the outer edges of the border pixels, so
    pixel ``(row i, col j)`` of an ``H x W`` map has its centre at
    ``x = (2j + 1) / W - 1``, ``y = (2i + 1) / H - 1``. The puppet is defined in this normalised
    square; a non-square ``size`` stretches it with the image (as resizing a square crop would).

    Canonical part maps (the dictionary ``phi_c``): one ``CANONICAL_SIZE`` square map per part of
    ``partpose.geometry.parts.PARTS`` (part ``l`` has label ``l + 1``), in canonical normalised
    coordinates ``c = (c_x, c_y)`` in ``[-1, 1]^2``. Every part runs along +c_x from its parent
    anchor at ``(-a, 0)`` to its child anchor at ``(+a, 0)``, ``a = PART_SHAPES[l].anchor_x``;
    its half-thickness is ``HALF_WIDTH_CANON``. The shape is a soft-edged stadium
    (``PartShape``): a straight core with elliptic caps, whose edge ramps smoothly from 1 to 0
    (compact support, exactly 0 on the map's border). Limbs and the torso are symmetric about
    the origin, so their mass centre is their anchors' midpoint; the head reaches further past
    the nose (chin, neck) than past the head top.

    Placement (the spatial transformer ``S^(l)``): for a two-anchor part with parent joint
    ``q1`` and child joint ``q2`` (``delta = q2 - q1``, ``mu = (q1 + q2) / 2``,
    ``d = delta / |delta|``, ``n = (-d_y, d_x)``), an output point ``u`` samples the canonical
    map at ``c = diag(gamma_x, gamma_y) Rot(theta) (u - mu)``, with
    ``theta = -atan2(delta_y, delta_x)`` (so ``Rot(theta) (u - mu) = (d . (u - mu),
    n . (u - mu))``), ``gamma_x = 2 a / |delta|`` (anchor distance in the canonical map over
    limb length in the image) and ``gamma_y = HALF_WIDTH_CANON / h`` with the part's image
    half-thickness ``h = scale * half_width_mm / 1000``. Hence ``q1 -> (-a, 0)`` and
    ``q2 -> (+a, 0)``: the anchors land on the joints. (The matrix printed in the
    supplementary applies ``-mu`` after the rotation and puts ``gamma`` on the columns; both
    agree only for ``gamma_x = gamma_y`` and ``mu = 0``, so this module follows the text and
    the anchor condition instead.)

    Torso (four anchors l_shoulder, r_shoulder, l_hip, r_hip): ``q1`` = mid-hips,
    ``q2`` = mid-shoulders; it scales on both axes: its half-thickness is
    ``h = sqrt(((n . w_s)^2 + (n . w_h)^2) / 8 + (scale * TORSO_HALF_DEPTH_MM / 1000)^2)``,
    where ``w_s`` and ``w_h`` are the shoulder and hip vectors (left minus right): the root
    mean square of the two projected half-widths, widened smoothly by the torso's half-depth
    so that a torso seen from the side keeps a body's thickness.

    Depth-aware composition: parts are ordered by camera depth (mean depth of their anchors,
    larger = farther; ties keep the ``PARTS`` order), nearest first, and
    ``p_l = phi_l * prod_{k nearer than l} (1 - phi_k)``: a near part hides a far one. The
    background is ``prod_l (1 - phi_l) = 1 - sum_l p_l``. Gradients flow to ``q`` (and
    ``scale``), not to ``depth``, which only decides the order.

    Degenerate input: with ``validate=True`` (user-facing calls) NaN/Inf input, a non-positive
    scale and a part shorter than ``eps`` in the image raise ``ValueError``. The model passes
    ``validate=False``: a part shorter than ``eps`` then takes the direction +x and the length
    ``eps`` (it shrinks to a sliver ``eps`` long, i.e. vanishes) and half-thicknesses are
    clamped at ``eps``, so values and gradients stay finite during training (finite input is
    then the caller's promise, unchecked: a NaN pose draws meaningless maps, but only its own).

    Implementation: a part map is exactly 0 outside the parallelogram that its canonical
    support box (``_canonical_support``) maps to, a few percent of the image, so only the
    pixels inside it are sampled: its footprint, found row by row (a run of pixels per image
    row). One ``grid_sample`` reads ``1 - phi`` at the footprints of all parts of all samples
    from one atlas of complemented canonical maps, laid out slot-major (every sample's
    nearest part first, then the next, ...). The composition then runs once per depth rank,
    each step over all samples: a running transmittance per pixel is read and multiplied at
    that rank's footprints, and their differences are written into the zero maps. No Python
    loop over parts or samples; the work grows with the parts' area, not with ``L H W``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from partpose.geometry.parts import NUM_PARTS, PARTS
from partpose.geometry.skeleton import H36M17, Skeleton
from partpose.utils.checks import check_finite, check_shape

CANONICAL_SIZE = 64
"""Side of every canonical part map, pixels."""

CANONICAL_REACH = 0.9
"""Every canonical part, soft edge included, lies within ``|c_x|, |c_y| <= CANONICAL_REACH``, so
the border pixels of its map are exactly 0 (``grid_sample``'s zero padding continues it)."""

EDGE = 0.25
"""Half-width of the soft edge, as a fraction of the part's radius: the map is 1 inside radius
``1 - EDGE``, 0 outside ``1 + EDGE``, 0.5 at 1, with a C1 smoothstep between."""

HALF_WIDTH_CANON = CANONICAL_REACH / (1.0 + EDGE)
"""Half-thickness of every canonical part (where its edge ramp crosses 0.5), canonical units."""

TORSO_HALF_DEPTH_MM = 100.0
"""Half the torso's front-to-back depth: its half-thickness when seen exactly from the side."""

DEFAULT_EPS = 1e-4
"""Shortest part length in the image, normalised units (see the module docstring)."""


@dataclass(frozen=True)
class PartShape:
    """A soft-edged stadium along the part's axis, in units of the part's length (its anchor
    distance).

    ``back``: how far it reaches past the parent anchor; ``front``: past the child anchor;
    ``cap``: length of each elliptic end (the straight core is the rest). Its visible length in
    the image is ``extent = 1 + back + front`` times the distance between its anchor joints,
    and its centre lies ``offset = (front - back) / 2`` limb lengths from their midpoint towards
    the child.
    """

    back: float
    front: float
    cap: float

    @property
    def extent(self) -> float:
        return 1.0 + self.back + self.front

    @property
    def offset(self) -> float:
        return 0.5 * (self.front - self.back)

    @property
    def anchor_x(self) -> float:
        """Canonical anchors at ``(-anchor_x, 0)`` and ``(+anchor_x, 0)``: as far apart as the
        part (soft edge included) allows within ``CANONICAL_REACH``."""
        reach = 1.0 + 2.0 * max(self.back, self.front) + 2.0 * self.cap * EDGE
        return CANONICAL_REACH / reach


_LIMB_SHAPE = PartShape(back=0.12, front=0.12, cap=0.2)
_SHAPES_BY_NAME = {
    # nose -> head top (about 115 mm): the head reaches down past the chin to the neck and a
    # little over the top, an ellipse about twice as long as the anchor distance.
    "head": PartShape(back=0.87, front=0.13, cap=1.0),
    # mid-hips -> mid-shoulders: a rounded box reaching a little below the hips (pelvis) and
    # just over the shoulder line.
    "torso": PartShape(back=0.12, front=0.05, cap=0.15),
}
PART_SHAPES: tuple[PartShape, ...] = tuple(_SHAPES_BY_NAME.get(p.name, _LIMB_SHAPE) for p in PARTS)
"""Shape of every part, in ``PARTS`` order (limbs reach an eighth of their length past each
joint, so neighbouring limbs overlap at the joint)."""

PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),  # background
    (230, 190, 40),  # head
    (200, 60, 60),  # torso
    (40, 120, 230),  # l_upper_arm
    (120, 200, 250),  # l_lower_arm
    (40, 170, 80),  # r_upper_arm
    (160, 230, 110),  # r_lower_arm
    (130, 70, 200),  # l_upper_leg
    (220, 140, 240),  # l_lower_leg
    (235, 120, 40),  # r_upper_leg
    (250, 200, 150),  # r_lower_leg
)
"""RGB colour of every label (index = label; 0 = background, black)."""

IGNORE_COLOR = (128, 128, 128)
"""Colour of label ``-1`` (no annotation) in ``draw_labels_rgb``."""


# ------------------------------------------------------------------------------------------------
# the dictionary of canonical part maps
# ------------------------------------------------------------------------------------------------


def draw_canonical_part(shape: PartShape, size: int = CANONICAL_SIZE) -> torch.Tensor:
    """Draw one canonical part map.

    Args:
        shape: the part's stadium.
        size: side of the map, pixels.
    Returns:
        ``(size, size)`` float64 in ``[0, 1]``; pixel ``(i, j)`` is sampled at the canonical
        point ``((2j + 1) / size - 1, (2i + 1) / size - 1)``. The parent anchor is at
        ``(-shape.anchor_x, 0)``, the child anchor at ``(+shape.anchor_x, 0)``.
    """
    unit = 2.0 * shape.anchor_x  # canonical length of one limb length
    centre = shape.offset * unit
    half_length = 0.5 * shape.extent * unit
    cap = shape.cap * unit
    c = (torch.arange(size, dtype=torch.float64) * 2 + 1) / size - 1
    c_y, c_x = c[:, None], c[None, :]
    along = ((c_x - centre).abs() - (half_length - cap)).clamp_min(0.0) / cap
    across = c_y / HALF_WIDTH_CANON
    radius = torch.sqrt(along**2 + across**2)
    t = ((1.0 + EDGE - radius) / (2.0 * EDGE)).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


_CANONICAL_CACHE: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def canonical_part_maps(device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The dictionary of canonical part maps ``phi_c``, drawn once per ``(device, dtype)``.

    Returns:
        ``(L, CANONICAL_SIZE, CANONICAL_SIZE)``, part ``l`` = ``PARTS[l]``; treat as read-only
        (it is cached and shared).
    """
    key = (torch.device(device) if device is not None else torch.device("cpu"), dtype)
    maps = _CANONICAL_CACHE.get(key)
    if maps is None:
        maps = torch.stack([draw_canonical_part(s) for s in PART_SHAPES]).to(device=key[0], dtype=dtype)
        _CANONICAL_CACHE[key] = maps
    return maps


# ------------------------------------------------------------------------------------------------
# geometry: where every part goes
# ------------------------------------------------------------------------------------------------

_TABLE_CACHE: dict[tuple[Skeleton, torch.device, torch.dtype], dict[str, torch.Tensor]] = {}


def _part_table(skeleton: Skeleton, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Joint weights of every part's anchors, as ``(L, J)`` matrices applied to ``q`` or depth.

    ``ends``: ``(4, L, J)``: start point (parent anchor or mid-hips), end point (child anchor or
    mid-shoulders), and for four-anchor parts the upper and lower width vectors (left - right).
    """
    key = (skeleton, device, dtype)
    table = _TABLE_CACHE.get(key)
    if table is not None:
        return table
    num_joints = skeleton.num_joints
    ends = torch.zeros(4, NUM_PARTS, num_joints, dtype=torch.float64)
    depth = torch.zeros(NUM_PARTS, num_joints, dtype=torch.float64)
    half_width_mm = torch.zeros(NUM_PARTS, dtype=torch.float64)
    is_box = torch.zeros(NUM_PARTS, dtype=torch.bool)
    for l, part in enumerate(PARTS):
        idx = part.anchor_indices(skeleton)
        for j in idx:
            depth[l, j] += 1.0 / len(idx)
        if len(idx) == 2:
            ends[0, l, idx[0]] = 1.0
            ends[1, l, idx[1]] = 1.0
            half_width_mm[l] = part.half_width_mm
        elif len(idx) == 4:  # upper-left, upper-right, lower-left, lower-right
            ends[0, l, idx[2]] = ends[0, l, idx[3]] = 0.5
            ends[1, l, idx[0]] = ends[1, l, idx[1]] = 0.5
            ends[2, l, idx[0]], ends[2, l, idx[1]] = 1.0, -1.0
            ends[3, l, idx[2]], ends[3, l, idx[3]] = 1.0, -1.0
            half_width_mm[l] = TORSO_HALF_DEPTH_MM
            is_box[l] = True
        else:
            raise ValueError(f"part {part.name!r} has {len(idx)} anchors; the puppet supports 2 or 4")
    table = {
        "ends": ends.to(device=device, dtype=dtype),
        "depth": depth.to(device=device, dtype=dtype),
        "half_width": (half_width_mm / 1000.0).to(device=device, dtype=dtype),
        "is_box": is_box.to(device=device),
        "anchor_x": torch.tensor([shape.anchor_x for shape in PART_SHAPES], dtype=dtype, device=device),
    }
    _TABLE_CACHE[key] = table
    return table


def _check_inputs(
    q_norm: torch.Tensor, depth: torch.Tensor | None, scale: torch.Tensor | None, skeleton: Skeleton, validate: bool
) -> None:
    check_shape(q_norm, ("B", skeleton.num_joints, 2), "q_norm")
    if not q_norm.is_floating_point():
        raise ValueError(f"q_norm must be a floating-point tensor, got {q_norm.dtype}")
    batch = q_norm.shape[0]
    if depth is not None:
        check_shape(depth, (batch, skeleton.num_joints), "depth")
    if scale is not None:
        check_shape(scale, (batch,), "scale")
    if not validate:
        return
    check_finite(q_norm, "q_norm")
    if depth is not None:
        check_finite(depth, "depth")
    if scale is not None:
        check_finite(scale, "scale")
        if not bool((scale > 0).all()):
            raise ValueError(f"scale must be positive, got min {scale.min().item():.4g}")


def part_depth(depth: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Camera depth of every part: the mean depth of its anchor joints.

    Args:
        depth: ``(B, J)`` camera z of every joint (larger = farther).
    Returns:
        ``(B, L)`` in the unit of ``depth``.
    """
    check_shape(depth, ("B", skeleton.num_joints), "depth")
    table = _part_table(skeleton, depth.device, depth.dtype)
    return (depth[:, None, :] * table["depth"]).sum(dim=-1)  # elementwise: no BLAS call for a tiny product


def part_affine(
    q_norm: torch.Tensor,
    scale: torch.Tensor | None = None,
    *,
    eps: float = DEFAULT_EPS,
    validate: bool = True,
    skeleton: Skeleton = H36M17,
) -> torch.Tensor:
    """The spatial transformer of every part: output point -> canonical point.

    Args:
        q_norm: ``(B, J, 2)`` 2D joints, normalised image coordinates (module docstring).
        scale: ``(B,)`` camera scale ``s``, normalised units per metre (part thickness
            ``s * half_width_mm / 1000``); ``None`` means ``s = 1``.
        eps: shortest part length (and thinnest half-thickness), normalised units.
        validate: raise ``ValueError`` on NaN/Inf input, non-positive scale and parts shorter
            than ``eps``; ``False`` clamps instead (the model's path).
    Returns:
        ``canon_T_image`` ``(B, L, 2, 3)``: ``c = A[..., :2] @ u + A[..., 2]`` maps a normalised
        image point ``u`` to the part's canonical normalised coordinates (the ``theta`` of
        ``F.affine_grid``). ``q1 -> (-anchor_x, 0)``, ``q2 -> (+anchor_x, 0)`` with
        ``anchor_x = PART_SHAPES[l].anchor_x``.
    """
    _check_inputs(q_norm, None, scale, skeleton, validate)
    return _part_affine(q_norm, scale, eps, validate, skeleton)


def _part_affine(
    q_norm: torch.Tensor, scale: torch.Tensor | None, eps: float, validate: bool, skeleton: Skeleton
) -> torch.Tensor:
    """:func:`part_affine` after the input checks (``validate`` only checks part lengths here)."""
    table = _part_table(skeleton, q_norm.device, q_norm.dtype)
    points = (table["ends"][:, None, :, :, None] * q_norm[None, :, None, :, :]).sum(dim=-2)  # (4, B, L, 2)
    start, end, width_upper, width_lower = points.unbind(0)
    delta = end - start
    mid = 0.5 * (start + end)
    length2 = delta.pow(2).sum(dim=-1)
    long_enough = length2 > eps * eps
    if validate and not bool(long_enough.all()):
        b, l = (~long_enough).nonzero()[0].tolist()
        raise ValueError(
            f"part {PARTS[l].name!r} of sample {b} has zero length in the image (its anchor "
            f"joints {', '.join(PARTS[l].anchors)} project within eps={eps:g} of each other)"
        )
    length = length2.clamp_min(eps * eps).sqrt()
    direction = delta / length[..., None]
    fallback = torch.tensor([1.0, 0.0], dtype=q_norm.dtype, device=q_norm.device)
    direction = torch.where(long_enough[..., None], direction, fallback)
    normal = torch.stack((-direction[..., 1], direction[..., 0]), dim=-1)

    s = q_norm.new_ones(q_norm.shape[0]) if scale is None else scale.to(q_norm.dtype)
    half = s[:, None] * table["half_width"]  # limbs: thickness; torso: half-depth
    spread = ((normal * width_upper).sum(-1) ** 2 + (normal * width_lower).sum(-1) ** 2) / 8.0
    half_box = torch.sqrt(spread + half**2)
    half = torch.where(table["is_box"], half_box, half).clamp_min(eps)

    row_x = (2.0 * table["anchor_x"] / length)[..., None] * direction
    row_y = (HALF_WIDTH_CANON / half)[..., None] * normal
    rows = torch.stack((row_x, row_y), dim=-2)  # (B, L, 2, 2)
    shift = -(rows * mid[..., None, :]).sum(dim=-1, keepdim=True)  # (B, L, 2, 1)
    return torch.cat((rows, shift), dim=-1)


# ------------------------------------------------------------------------------------------------
# sampling and composition
# ------------------------------------------------------------------------------------------------


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in size):
        raise ValueError(f"size must be (H, W) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


_ATLAS_GUTTER = CANONICAL_SIZE // 2
"""Columns of ``1`` (no part) between neighbouring tiles of the atlas, half on either side of
every tile: a sample point that rounding puts a little outside its tile reads 1, never a
neighbouring part."""

_SUPPORT_MARGIN = 0.5
"""Widening of the support box past the reach of bilinear sampling, canonical pixels; rounding
in the footprint search then never drops a pixel where a part is non-zero."""

_ATLAS_CACHE: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
_SUPPORT_CACHE: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def _visibility_atlas(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``1 - phi_c`` of all parts side by side along x, with gutters of 1 between them.

    Returns:
        ``(1, 1, S, L (S + G))``, ``G = _ATLAS_GUTTER``: tile ``l`` (part ``l``) starts at
        column ``l (S + G) + G / 2``.
    """
    key = (device, dtype)
    atlas = _ATLAS_CACHE.get(key)
    if atlas is None:
        canonical = canonical_part_maps(device, dtype)
        size = canonical.shape[-1]
        atlas = torch.ones(size, NUM_PARTS, size + _ATLAS_GUTTER, device=device, dtype=dtype)
        atlas[:, :, _ATLAS_GUTTER // 2 : _ATLAS_GUTTER // 2 + size] = 1.0 - canonical.permute(1, 0, 2)
        atlas = atlas.reshape(1, 1, size, NUM_PARTS * (size + _ATLAS_GUTTER))
        _ATLAS_CACHE[key] = atlas
    return atlas


def _atlas_affine(theta: torch.Tensor, parts: torch.Tensor) -> torch.Tensor:
    """Move canonical points of part ``parts[n]`` into its tile of :func:`_visibility_atlas`.

    Args:
        theta: ``(N, 2, 3)`` canon_T_image; parts: ``(N,)`` int64 part index.
    Returns:
        ``(N, 2, 3)`` atlas_T_image: the atlas x of canonical ``c_x`` is
        ``(S c_x + S + 2 l (S + G) + G) / (L (S + G)) - 1`` (same pixel, ``align_corners=False``);
        y is unchanged.
    """
    size, pitch = CANONICAL_SIZE, CANONICAL_SIZE + _ATLAS_GUTTER
    atlas_width = NUM_PARTS * pitch
    shift = (size + 2.0 * pitch * parts.to(theta.dtype) + _ATLAS_GUTTER) / atlas_width - 1.0
    row_x = theta[:, 0] * (size / atlas_width)
    row_x = torch.cat((row_x[:, :2], row_x[:, 2:] + shift[:, None]), dim=-1)
    return torch.stack((row_x, theta[:, 1]), dim=1)


def _canonical_support(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The canonical box outside which a sampled part map is exactly 0.

    Returns:
        ``(L, 2, 2)``: ``[l, axis (x, y), (low, high)]``, canonical normalised units. Bilinear
        sampling reaches one pixel spacing (``2 / S``) past the centre of the outermost
        non-zero pixel of the map; the box reaches ``_SUPPORT_MARGIN`` pixels further (a band
        where the map is still exactly 0), and stays inside the tile.
    """
    key = (device, dtype)
    box = _SUPPORT_CACHE.get(key)
    if box is None:
        maps = torch.stack([draw_canonical_part(s) for s in PART_SHAPES])  # float64, exact zeros
        size = maps.shape[-1]
        centres = (torch.arange(size, dtype=torch.float64) * 2 + 1) / size - 1
        reach = (2.0 + 2.0 * _SUPPORT_MARGIN) / size
        axes = []
        for nonzero in (maps.amax(dim=1) > 0, maps.amax(dim=2) > 0):  # (L, S) columns (x), rows (y)
            first = nonzero.to(torch.int64).argmax(dim=1)
            last = size - 1 - nonzero.flip(1).to(torch.int64).argmax(dim=1)
            axes.append(torch.stack((centres[first] - reach, centres[last] + reach), dim=-1))
        box = torch.stack(axes, dim=1).to(device=device, dtype=dtype)
        _SUPPORT_CACHE[key] = box
    return box


def _pixel_coordinate(x: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised coordinate -> pixel index coordinate (pixel ``i`` at ``(2 i + 1) / size - 1``)."""
    return ((x + 1.0) * size - 1.0) * 0.5


def _index_range(low: torch.Tensor, high: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixels whose centres lie in ``[low, high]`` (normalised), clipped to ``[0, size)``.

    Returns:
        ``(first, count)`` int64; a NaN bound means the whole range (a NaN pose is sampled
        everywhere, as a dense sampler would).
    """
    first = torch.nan_to_num(torch.ceil(_pixel_coordinate(low, size)), nan=0.0).clamp(0, size)
    last = torch.nan_to_num(torch.floor(_pixel_coordinate(high, size)), nan=size - 1.0).clamp(-1, size - 1)
    first, last = first.to(torch.int64), last.to(torch.int64)
    return first, (last - first + 1).clamp_min(0)


def _footprint_runs(
    theta: torch.Tensor, parts: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row by row, the pixels where part ``parts[n]`` placed by ``theta[n]`` may be non-zero.

    Args:
        theta: ``(N, 2, 3)`` canon_T_image (not differentiated); parts: ``(N,)`` int64.
    Returns:
        ``(item, row, first, count)``, each ``(R,)`` int64: one run of ``count`` pixels from
        column ``first`` in image row ``row`` for item ``item``; runs ordered by item, then row.

    Convention:
        A pixel centre ``u = (x, y)`` is in the footprint if its canonical point
        ``c = A u + t`` lies in the part's support box (:func:`_canonical_support`): within the
        box's bounding rectangle in the image (widened by one pixel), the rows of that
        rectangle, and in each row the columns where both ``c_x`` and ``c_y`` stay in the box
        (``A[r, 0] x`` in ``box_r - t_r - A[r, 1] y``; a constraint with ``A[r, 0] = 0`` only
        bounds the rows). A superset of the support: the extra pixels sample exactly 0.
    """
    items = theta.shape[0]
    device, dtype = theta.device, theta.dtype
    lin, shift = theta[..., :2], theta[..., 2]
    box = _canonical_support(device, dtype)[parts]  # (N, 2, 2)
    det = lin[:, 0, 0] * lin[:, 1, 1] - lin[:, 0, 1] * lin[:, 1, 0]
    image_T_canon = torch.stack((lin[:, 1, 1], -lin[:, 0, 1], -lin[:, 1, 0], lin[:, 0, 0]), dim=-1)
    image_T_canon = (image_T_canon / det[:, None]).view(items, 2, 2)
    centre = (image_T_canon * (box.mean(dim=-1) - shift)[:, None, :]).sum(dim=-1)
    reach = (image_T_canon.abs() * (0.5 * (box[..., 1] - box[..., 0]))[:, None, :]).sum(dim=-1)
    reach = reach + torch.tensor([2.0 / width, 2.0 / height], device=device, dtype=dtype)
    low, high = centre - reach, centre + reach  # (N, 2): bounding rectangle, image (x, y)

    flat = lin[:, :, 0] == 0  # (N, 2): constraint r does not depend on x
    step_x = torch.where(flat, torch.ones_like(lin[:, :, 0]), lin[:, :, 0])
    ends = (box - shift[..., None]) / step_x[..., None]  # (N, 2, 2): x where c_r = box_r, at y = 0
    inf = torch.full_like(ends[..., 0], math.inf)
    x_from = torch.where(flat, -inf, ends.amin(dim=-1))
    x_to = torch.where(flat, inf, ends.amax(dim=-1))
    slope = torch.where(flat, torch.zeros_like(inf), lin[:, :, 1] / step_x)  # dx / dy along the box edges
    bounds = torch.cat((low[:, :1], high[:, :1], x_from, x_to, slope), dim=1)  # (N, 8)

    row_first, row_count = _index_range(low[:, 1], high[:, 1], height)
    num_rows = int(row_count.sum())
    item = torch.repeat_interleave(torch.arange(items, device=device), row_count, output_size=num_rows)
    row = (row_first - (row_count.cumsum(0) - row_count)).index_select(0, item)
    row += torch.arange(num_rows, device=device)
    y = (2 * row + 1).to(dtype)[:, None] / height - 1.0
    bounds = bounds.index_select(0, item)
    x_low = torch.maximum(bounds[:, 0], (bounds[:, 2:4] - bounds[:, 6:8] * y).amax(dim=1))
    x_high = torch.minimum(bounds[:, 1], (bounds[:, 4:6] - bounds[:, 6:8] * y).amin(dim=1))
    first, count = _index_range(x_low, x_high, width)
    return item, row, first, count


def _sample_footprints(
    theta: torch.Tensor, parts: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """``1 - phi`` of part ``parts[b, k]`` placed by ``theta[b, k]``, on the pixels it may cover.

    Args:
        theta: ``(B, K, 2, 3)`` canon_T_image per slot; parts: ``(B, K)`` int64 part index.
    Returns:
        ``visible`` ``(P,)``: ``1 - phi`` at every footprint pixel (differentiable in
        ``theta``); ``pixel`` ``(P,)`` int64: ``(b H + i) W + j``; ``channel_pixel`` ``(P,)``
        int64: ``((b L + parts[b, k]) H + i) W + j``, the index into a flat ``(B, L, H, W)``
        map; ``slot_sizes``: ``K`` ints, the number of points of every slot.

    Convention:
        Points are slot-major (slot 0 of every sample, then slot 1, ...), each (sample, slot)
        row-major, over the footprints of :func:`_footprint_runs`; a pixel appears at most once
        per (sample, slot). Outside its footprint a part's sampled map is exactly 0. The
        sampling grid is the ``F.affine_grid(theta, ..., align_corners=False)`` grid at those
        pixels, built from every run's first point and step, moved into the part's atlas tile.
    """
    batch, slots = parts.shape
    device, dtype = theta.device, theta.dtype
    theta_items = theta.transpose(0, 1).reshape(slots * batch, 2, 3)  # item k B + b: slot-major
    part_items = parts.t().reshape(slots * batch)
    with torch.no_grad():
        item, row, col_first, col_count = _footprint_runs(theta_items.detach(), part_items, height, width)
        slot_sizes = torch.zeros(slots, dtype=torch.int64, device=device)
        slot_sizes = slot_sizes.index_add_(0, torch.div(item, batch, rounding_mode="floor"), col_count).tolist()
        num_points = sum(slot_sizes)
        run = torch.repeat_interleave(torch.arange(len(item), device=device), col_count, output_size=num_points)
        along = torch.arange(num_points, device=device) - (col_count.cumsum(0) - col_count).index_select(0, run)
        sample = torch.remainder(item, batch)
        image_row = sample * height + row
        channel_row = (sample * NUM_PARTS + part_items.index_select(0, item)) * height + row
        pixel = (image_row * width + col_first).index_select(0, run).add_(along)
        channel_pixel = (channel_row * width + col_first).index_select(0, run).add_(along)

    atlas_T_image = _atlas_affine(theta_items, part_items).index_select(0, item)  # (R, 2, 3)
    x_first = (2 * col_first + 1).to(dtype) / width - 1.0
    y = (2 * row + 1).to(dtype) / height - 1.0
    first = atlas_T_image[..., 0] * x_first[:, None] + atlas_T_image[..., 1] * y[:, None] + atlas_T_image[..., 2]
    step = atlas_T_image[..., 0] * (2.0 / width)
    grid = first.index_select(0, run).addcmul_(step.index_select(0, run), along.to(dtype)[:, None])
    visible = F.grid_sample(
        _visibility_atlas(device, dtype),
        grid.view(1, 1, num_points, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return visible.view(num_points), pixel, channel_pixel, slot_sizes


def _composite_footprints(
    visible: torch.Tensor,
    pixel: torch.Tensor,
    channel_pixel: torch.Tensor,
    slot_sizes: list[int],
    shape: tuple[int, int, int, int],
) -> torch.Tensor:
    """Depth composition of slot-major footprints (:func:`_sample_footprints`, slots nearest
    first) into channels-first maps.

    Args:
        shape: ``(B, L, H, W)`` of the result.
    Returns:
        ``shape``, ``p_l = phi_l prod_{k nearer} (1 - phi_k)``; 0 outside part ``l``'s footprint.

    Convention:
        The transmittance ``T`` of every pixel starts at 1. One step per slot, over all
        samples: at the slot's footprint ``p = T - T (1 - phi)`` (``T_{i-1} - T_i``, as a
        cumulative product over the depth order gives it) and ``T <- T (1 - phi)``. Outside a
        footprint ``1 - phi`` is exactly 1, so ``T`` is unchanged and ``p`` is exactly 0 there.
        Differentiating the products directly keeps gradients exact where ``phi = 1``.
    """
    batch, parts, height, width = shape
    transmittance = visible.new_ones(batch * height * width)
    drawn = []
    for visible_slot, pixel_slot in zip(visible.split(slot_sizes), pixel.split(slot_sizes)):
        before = transmittance[pixel_slot]
        after = before * visible_slot
        transmittance.index_put_((pixel_slot,), after)
        drawn.append(before - after)
    maps = visible.new_zeros(batch * parts * height * width)
    maps.index_put_((channel_pixel,), torch.cat(drawn))
    return maps.view(shape)


def transformed_parts(
    q_norm: torch.Tensor,
    size: tuple[int, int],
    scale: torch.Tensor | None = None,
    *,
    eps: float = DEFAULT_EPS,
    validate: bool = True,
    skeleton: Skeleton = H36M17,
) -> torch.Tensor:
    """Every canonical part placed on its joints, before depth composition (``S^(l) o phi_c``).

    Args:
        q_norm, scale, eps, validate, skeleton: as in :func:`part_affine`.
        size: ``(H, W)`` of the output.
    Returns:
        ``(B, L, H, W)`` in ``[0, 1]``; parts overlap freely.
    """
    height, width = _check_size(size)
    _check_inputs(q_norm, None, scale, skeleton, validate)
    theta = _part_affine(q_norm, scale, eps, validate, skeleton)
    batch = q_norm.shape[0]
    parts = torch.arange(NUM_PARTS, device=q_norm.device).expand(batch, NUM_PARTS)
    visible, _, channel_pixel, _ = _sample_footprints(theta, parts, height, width)
    phi = visible.new_zeros(batch * NUM_PARTS * height * width)
    phi.index_put_((channel_pixel,), 1.0 - visible)
    return phi.view(batch, NUM_PARTS, height, width)


def composite_by_depth(phi: torch.Tensor, depth_part: torch.Tensor) -> torch.Tensor:
    """Depth-aware composition of overlapping part maps: a near part hides a far one.

    Args:
        phi: ``(B, L, H, W)`` part maps in ``[0, 1]`` (e.g. :func:`transformed_parts`).
        depth_part: ``(B, L)`` camera depth of every part (larger = farther).
    Returns:
        ``(B, L, H, W)``, ``p_l = phi_l * prod_{k nearer than l} (1 - phi_k)``; ties keep the
        part order (the lower index counts as nearer).

    Convention:
        Dense: with the transmittance ``T_i = prod_{k <= i} (1 - phi_k)`` over the parts sorted
        nearest first (one ``torch.cumprod``) and ``T_{-1} = 1``, the part in slot ``i`` gets
        ``T_{i-1} - T_i``; indexing puts the slots back in part order.
    """
    check_shape(phi, ("B", "L", "H", "W"), "phi")
    check_shape(depth_part, tuple(phi.shape[:2]), "depth_part")
    batch = phi.shape[0]
    order = torch.argsort(depth_part, dim=1, stable=True)
    rows = torch.arange(batch, device=phi.device)[:, None]
    transmittance = torch.cumprod(1.0 - phi[rows, order], dim=1)
    before = torch.cat((torch.ones_like(transmittance[:, :1]), transmittance[:, :-1]), dim=1)
    return (before - transmittance)[rows, torch.argsort(order, dim=1)]


def part_maps(
    q_norm: torch.Tensor,
    depth: torch.Tensor,
    size: tuple[int, int],
    scale: torch.Tensor | None = None,
    *,
    eps: float = DEFAULT_EPS,
    validate: bool = True,
    skeleton: Skeleton = H36M17,
) -> torch.Tensor:
    """T_s: depth-aware part maps of 2D poses, drawn directly at ``size``.

    Args:
        q_norm: ``(B, J, 2)`` 2D joints, normalised image coordinates (x right, y down).
        depth: ``(B, J)`` camera z of every joint (larger = farther); only orders the parts.
        size: ``(H, W)`` of the maps; any resolution (each is drawn directly, never resized).
        scale: ``(B,)`` camera scale ``s`` in normalised units per metre (part half-thickness
            ``s * half_width_mm / 1000``); ``None`` means ``s = 1``.
        eps: shortest part length in the image, normalised units.
        validate: keep ``True`` for user input (``ValueError`` on NaN/Inf, non-positive scale,
            zero-length parts); the model passes ``False`` so a degenerate prediction is
            clamped instead of stopping training (module docstring).
    Returns:
        ``(B, L, H, W)`` in ``[0, 1]`` with ``sum_l <= 1``; channel ``l`` = ``PARTS[l]``.

    Convention:
        Equal to ``composite_by_depth(transformed_parts(...), part_depth(depth))``, values and
        gradients up to rounding, but only every part's footprint is sampled and composed: one
        ``grid_sample`` for all parts of all samples, in each sample's depth order, and one
        composition step per depth rank (module docstring).
    """
    height, width = _check_size(size)
    _check_inputs(q_norm, depth, scale, skeleton, validate)
    theta = _part_affine(q_norm, scale, eps, validate, skeleton)
    order = torch.argsort(part_depth(depth.to(q_norm.dtype), skeleton), dim=1, stable=True)
    rows = torch.arange(q_norm.shape[0], device=q_norm.device)[:, None]
    visible, pixel, channel_pixel, slot_sizes = _sample_footprints(theta[rows, order], order, height, width)
    return _composite_footprints(
        visible, pixel, channel_pixel, slot_sizes, (q_norm.shape[0], NUM_PARTS, height, width)
    )


# ------------------------------------------------------------------------------------------------
# what the maps give: labels, soft labels, foreground, boundary uncertainty, pictures
# ------------------------------------------------------------------------------------------------


def _check_maps(maps: torch.Tensor) -> None:
    check_shape(maps, ("B", NUM_PARTS, "H", "W"), "maps")
    if not maps.is_floating_point():
        raise ValueError(f"maps must be a floating-point tensor, got {maps.dtype}")


def soft_labels(maps: torch.Tensor) -> torch.Tensor:
    """The soft part distribution: background first, then the parts.

    Args:
        maps: ``(B, L, H, W)`` composed part maps (:func:`part_maps`).
    Returns:
        ``(B, L + 1, H, W)``; channel 0 = background ``1 - sum_l p_l`` (clamped at 0), channel
        ``l + 1`` = ``maps[:, l]``; sums to 1 wherever ``sum_l p_l <= 1``.
    """
    _check_maps(maps)
    background = (1.0 - maps.sum(dim=1, keepdim=True)).clamp_min(0.0)
    return torch.cat((background, maps), dim=1)


def labels(maps: torch.Tensor) -> torch.Tensor:
    """Hard puppet labels: argmax over background and parts.

    Args:
        maps: ``(B, L, H, W)`` composed part maps.
    Returns:
        ``(B, H, W)`` int64, 0 = background, ``l + 1`` = ``PARTS[l]``; ties go to the lower
        label (background before parts).
    """
    return soft_labels(maps).argmax(dim=1)


def _part_masks(label_map: torch.Tensor, num_parts: int, dtype: torch.dtype) -> torch.Tensor:
    """``(B, H, W)`` integer labels (0 background) as ``(B, L, H, W)`` masks of the L parts."""
    return F.one_hot(label_map.long(), num_parts + 1)[..., 1:].permute(0, 3, 1, 2).to(dtype)


def part_colours(image: torch.Tensor, label_map: torch.Tensor, num_parts: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each part's mean colour in an image.

    Args:
        image: ``(B, C, H, W)``.
        label_map: ``(B, H, W)`` integer labels, 0 background, ``l + 1`` part ``PARTS[l]`` (:func:`labels`).
        num_parts: L.
    Returns:
        ``(mean, area)``: ``(B, C, L)`` the mean of ``image`` over the pixels of part ``l`` in its
        sample (0 where the part has none), differentiable in ``image``; ``(B, L)`` the number of
        those pixels.
    """
    masks = _part_masks(label_map, num_parts, image.dtype)
    area = masks.sum(dim=(2, 3))
    mean = torch.einsum("bchw,blhw->bcl", image, masks) / area.clamp_min(1.0)[:, None]
    return mean, area


def paint_parts(label_map: torch.Tensor, colours: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Every part of a label map painted flat in its colour over a background.

    Args:
        label_map: ``(B, H, W)`` integer labels, 0 background, ``l + 1`` part ``PARTS[l]`` (:func:`labels`).
        colours: ``(B, C, L)`` a colour for each part of each sample.
        background: ``(B, C, H, W)``, kept where the label is 0.
    Returns:
        ``(B, C, H, W)`` in ``colours``' dtype; differentiable in ``colours`` and ``background``.
    """
    flat = torch.einsum("bcl,blhw->bchw", colours, _part_masks(label_map, colours.shape[-1], colours.dtype))
    return torch.where(label_map[:, None] > 0, flat, background.to(colours.dtype))


def flat_parts(image: torch.Tensor, label_map: torch.Tensor, num_parts: int, gain: torch.Tensor | None = None,
               background: torch.Tensor | None = None) -> torch.Tensor:
    """An image with every part painted flat in its own mean colour.

    Args:
        image: ``(B, C, H, W)``.
        label_map: ``(B, H, W)`` integer labels, 0 background, ``l + 1`` part
            ``PARTS[l]`` (:func:`labels`).
        num_parts: L.
        gain: ``(B, L)`` factors on the parts' mean colours, or ``None`` (1).
        background: ``(B, C, H, W)`` put where the label is 0, or ``None``: ``image`` kept there.
    Returns:
        ``(B, C, H, W)``: each pixel of part ``l`` replaced by the mean of ``image`` over the
        pixels of part ``l`` in its sample (times ``gain[:, l]``); differentiable in ``image``
        (through the means).
    """
    mean, _ = part_colours(image, label_map, num_parts)
    if gain is not None:
        mean = mean * gain[:, None].to(mean.dtype)
    return paint_parts(label_map, mean, image if background is None else background)


def frame_part_colours(frame: torch.Tensor, label_map: torch.Tensor, num_parts: int) -> torch.Tensor:
    """The colours a person's parts show in a frame, for painting a puppet in them.

    Args:
        frame: ``(B, C, H, W)`` the frame.
        label_map: ``(B, H, W)`` the frame's puppet labels (:func:`labels`), e.g. of its estimated pose.
        num_parts: L.
    Returns:
        ``(B, C, L)``: each part's mean colour in ``frame``; a part with no pixel in it takes the
        mean over every part's pixels, and a sample with no part pixel at all mid grey (0.5).
    """
    mean, area = part_colours(frame, label_map, num_parts)
    total = area.sum(dim=1)  # (B,)
    person = torch.einsum("bcl,bl->bc", mean, area) / total.clamp_min(1.0)[:, None]
    person = torch.where(total[:, None] > 0, person, torch.full_like(person, 0.5))
    return torch.where(area[:, None] > 0, mean, person[..., None])


def palette_image(label_map: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """The puppet flat in the palette: every part in its ``PALETTE`` colour over ``background``.

    Args:
        label_map: ``(B, H, W)`` integer labels, 0 background, ``l + 1`` part ``PARTS[l]`` (:func:`labels`).
        background: ``(B, 3, H, W)`` in ``[0, 1]``.
    Returns:
        ``(B, 3, H, W)`` in the background's dtype.
    """
    palette = torch.tensor(PALETTE[1:], dtype=background.dtype, device=background.device).T / 255.0  # (3, L)
    return paint_parts(label_map, palette.expand(label_map.shape[0], -1, -1), background)


def foreground(maps: torch.Tensor) -> torch.Tensor:
    """Foreground mask ``w_fg = 1 - background = sum_l p_l``, clamped to ``[0, 1]``.

    Args:
        maps: ``(B, L, H, W)``. Returns: ``(B, 1, H, W)``.
    """
    _check_maps(maps)
    return maps.sum(dim=1, keepdim=True).clamp(0.0, 1.0)


def uncertainty(maps: torch.Tensor) -> torch.Tensor:
    """Boundary uncertainty ``w_unc``: entropy of the soft labels, in bits, clipped to 1.

    Args:
        maps: ``(B, L, H, W)``. Returns: ``(B, 1, H, W)`` in ``[0, 1]``.

    Convention:
        ``min(1, -sum_c y_c log2 y_c)`` over the ``L + 1`` soft labels (background included):
        0 where one label holds all the mass (inside a part, in the background), 1 on an even
        split between two labels (where parts meet, and on a part's soft edge against the
        background). Normalised by ``log 2`` rather than ``log(L + 1)`` so that a boundary
        between two labels, the case that matters for ``L_seg``, reaches 1.
    """
    y = soft_labels(maps)
    entropy = -(y * torch.log(y.clamp_min(1e-12))).sum(dim=1, keepdim=True) / math.log(2.0)
    return entropy.clamp(0.0, 1.0)


def draw_labels_rgb(label_map: torch.Tensor) -> torch.Tensor:
    """Colour a label map with the fixed ``PALETTE`` (background black, ``-1`` grey).

    Args:
        label_map: ``(..., H, W)`` integer labels in ``[-1, L]``.
    Returns:
        ``(..., H, W, 3)`` uint8 RGB on the same device.
    """
    if not isinstance(label_map, torch.Tensor) or label_map.is_floating_point() or label_map.dtype == torch.bool:
        raise ValueError("label_map must be an integer torch.Tensor")
    if label_map.numel() and (int(label_map.min()) < -1 or int(label_map.max()) > NUM_PARTS):
        raise ValueError(
            f"labels must lie in [-1, {NUM_PARTS}], got [{int(label_map.min())}, {int(label_map.max())}]"
        )
    palette = torch.tensor(PALETTE + (IGNORE_COLOR,), dtype=torch.uint8, device=label_map.device)
    return palette[label_map.long()]  # -1 picks the last row (IGNORE_COLOR)


def draw_maps_rgb(maps: torch.Tensor) -> torch.Tensor:
    """Colour soft part maps: every pixel mixes the ``PALETTE`` colours by its soft labels.

    Args:
        maps: ``(B, L, H, W)``. Returns: ``(B, H, W, 3)`` uint8 RGB.
    """
    y = soft_labels(maps.detach())
    palette = torch.tensor(PALETTE, dtype=y.dtype, device=y.device)
    rgb = torch.einsum("bchw,cd->bhwd", y, palette)
    return rgb.round().clamp(0, 255).to(torch.uint8)
