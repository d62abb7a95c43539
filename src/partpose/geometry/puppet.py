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
    then the caller's promise: NaN in gives NaN out, unchecked).

    Implementation: one ``grid_sample`` for all parts of all samples. The complemented
    canonical maps ``1 - phi_c`` sit side by side in one atlas; every (sample, part) slot is
    placed in its sample's depth order, nearest first, and its canonical x is clamped to its
    own tile. Slots are the innermost dimension, so the composition is one cumulative product
    over it (with a one-pass backward, see ``_Transmittance``) and one batched matrix product
    that restores part order and channels-first layout. No Python loop over parts or samples.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

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

BMM_MIN_ELEMENTS = 1 << 16
"""Composition size (pixels x parts) from which the reordering uses one batched matrix product."""

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


_ATLAS_CACHE: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def _visibility_atlas(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``1 - phi_c`` of all parts side by side along x: ``(1, 1, S, L S)``, tile ``l`` = part ``l``."""
    key = (device, dtype)
    atlas = _ATLAS_CACHE.get(key)
    if atlas is None:
        canonical = canonical_part_maps(device, dtype)
        size = canonical.shape[-1]
        atlas = (1.0 - canonical).permute(1, 0, 2).reshape(1, 1, size, NUM_PARTS * size).contiguous()
        _ATLAS_CACHE[key] = atlas
    return atlas


def _sample_visibility(theta: torch.Tensor, parts: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``1 - phi`` of part ``parts[b, k]`` placed by ``theta[b, k]``, for every slot ``k``.

    One ``grid_sample`` over all slots of all samples, on the atlas of complemented canonical
    maps: a slot's canonical x is moved into its part's tile and clamped to that tile, whose
    border is exactly 1 (``1 - 0``), as is ``padding_mode="border"`` beyond it. The grid is the
    one ``F.affine_grid(theta, ..., align_corners=False)`` gives, built by broadcasting (one
    multiply-add, several times faster on a CPU than ``affine_grid``'s batched ``(H W, 3) @
    (3, 2)`` product) and laid out slot-last so that the depth composition runs over the
    innermost dimension.

    Args:
        theta: ``(B, K, 2, 3)`` canon_T_image per slot; parts: ``(B, K)`` int64 part index.
    Returns:
        ``(B, H W, K)``: row-major pixels, slots last.
    """
    batch, slots = parts.shape
    atlas = _visibility_atlas(theta.device, theta.dtype)
    tile = parts.to(theta.dtype)
    # canonical x -> atlas x: (c_x + 2 tile + 1) / L - 1; y is unchanged
    row_x = theta[..., 0, :] / NUM_PARTS
    row_x = torch.cat((row_x[..., :2], row_x[..., 2:] + ((2.0 * tile + 1.0) / NUM_PARTS - 1.0)[..., None]), dim=-1)
    atlas_T_image = torch.stack((row_x, theta[..., 1, :]), dim=-2)
    cols = atlas_T_image.transpose(-1, -2).contiguous()  # (B, K, 3, 2): x-column, y-column, shift
    x = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1
    y = (torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1
    grid = cols[:, None, None, :, 0, :] * x[None, None, :, None, None] + (
        cols[:, None, None, :, 1, :] * y[None, :, None, None, None] + cols[:, None, None, :, 2, :]
    )  # (B, H, W, K, 2)
    low = (2.0 * tile / NUM_PARTS - 1.0)[:, None, None, :]
    grid[..., 0].clamp_(low, low + 2.0 / NUM_PARTS)
    out = F.grid_sample(
        atlas.expand(batch, -1, -1, -1),
        grid.view(batch, height, width * slots, 2),  # long rows: the CPU kernel vectorises along them
        mode="bilinear",
        padding_mode="border",
        align_corners=False,
    )
    return out.view(batch, height * width, slots)


class _Transmittance(torch.autograd.Function):
    """``T = cumprod(v, dim=-1)`` for ``v = 1 - phi`` sampled by :func:`_sample_visibility`, with
    a backward that stays one pass when ``v`` holds exact zeros.

    ``dT_i / dv_k = T_i / v_k`` for ``i >= k``, so ``dL/dv_k = (sum_{i >= k} g_i T_i) / v_k``.
    Where ``v_k = 0`` this is set to 0 instead of the product of the other factors: ``v`` is
    exactly 0 only where all bilinear taps are 0, on the flat inside of a part, where the
    sample has no spatial derivative, so the gradient with respect to the joints is unchanged
    (up to the one-sided derivative on the measure-zero lines where a sample point sits exactly
    on a canonical pixel centre at the plateau's rim). ``torch.cumprod``'s own backward takes a
    slow exact path whenever the input has zeros; inside every part it does.
    """

    @staticmethod
    def forward(ctx, visible: torch.Tensor) -> torch.Tensor:
        if not ctx.needs_input_grad[0]:
            return visible.cumprod_(dim=-1)  # a fresh buffer nobody else holds
        transmittance = torch.cumprod(visible, dim=-1)
        ctx.save_for_backward(visible, transmittance)
        return transmittance

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        visible, transmittance = ctx.saved_tensors
        weighted = (grad * transmittance).flip(-1)
        suffix = weighted.cumsum_(dim=-1).flip(-1)  # sum_{i >= k} g_i T_i, exactly 0 where v_k = 0
        # bounded by sum |g| wherever v_k != 0; 0 / 0 (and an underflowed v_k) becomes 0
        return torch.nan_to_num_(suffix.div_(visible), nan=0.0, posinf=0.0, neginf=0.0)


def _composite(visible_sorted: torch.Tensor, order: torch.Tensor, exact_grad: bool = False) -> torch.Tensor:
    """Depth composition of slots sorted nearest first, back to part order.

    Args:
        visible_sorted: ``(B, P, L)`` ``1 - phi`` of part ``order[b, i]`` in slot ``i``.
        order: ``(B, L)`` part index of every slot.
        exact_grad: differentiate with ``torch.cumprod`` (any ``phi``) instead of
            :class:`_Transmittance` (sampled part maps only).
    Returns:
        ``(B, L, P)`` ``p_l = phi_l prod_{k nearer} (1 - phi_k)``, contiguous.

    Convention:
        With the transmittance ``T_i = prod_{k <= i} (1 - phi_k)`` (one cumulative product over
        the innermost dimension) and ``T_{-1} = 1``, ``p = T_{i-1} - T_i = T_{i-1} phi_i`` for
        the part in slot ``i``: one batched matrix product with ``+1``/``-1`` entries puts
        every slot's difference back in part order (and the layout back to channels-first),
        exactly (each output is one subtraction). So ``sum_l p_l = 1 - T_last`` and
        ``p_l >= 0``. Below ``BMM_MIN_ELEMENTS`` the same differences are taken directly and
        put back in part order by indexing (same values): a BLAS call on tiny tensors wakes
        its worker threads, which costs milliseconds on a busy machine.
    """
    batch, parts = order.shape
    rank = torch.argsort(order, dim=1)
    dtype = visible_sorted.dtype
    if exact_grad:
        transmittance = torch.cumprod(visible_sorted, dim=-1)
    else:
        transmittance = _Transmittance.apply(visible_sorted)
    if transmittance.numel() < BMM_MIN_ELEMENTS:
        before = F.pad(transmittance[..., :-1], (1, 0), value=1.0)
        rows = torch.arange(batch, device=order.device)[:, None]
        return (before - transmittance).transpose(1, 2)[rows, rank]
    after = F.one_hot(rank, parts).to(dtype)  # part l reads T at its own slot ...
    before = F.one_hot((rank - 1).clamp_min(0), parts).to(dtype) * (rank > 0).to(dtype)[..., None]
    maps = torch.bmm(before - after, transmittance.transpose(1, 2))
    maps[torch.arange(batch, device=order.device), order[:, 0]] += 1.0  # ... and T_{-1} = 1
    return maps


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
    parts = torch.arange(NUM_PARTS, device=q_norm.device).expand(q_norm.shape[0], NUM_PARTS)
    visible = _sample_visibility(theta, parts, height, width)
    return (1.0 - visible).transpose(1, 2).reshape(q_norm.shape[0], NUM_PARTS, height, width)


def composite_by_depth(phi: torch.Tensor, depth_part: torch.Tensor) -> torch.Tensor:
    """Depth-aware composition of overlapping part maps: a near part hides a far one.

    Args:
        phi: ``(B, L, H, W)`` part maps in ``[0, 1]`` (e.g. :func:`transformed_parts`).
        depth_part: ``(B, L)`` camera depth of every part (larger = farther).
    Returns:
        ``(B, L, H, W)``, ``p_l = phi_l * prod_{k nearer than l} (1 - phi_k)``; ties keep the
        part order (the lower index counts as nearer).
    """
    check_shape(phi, ("B", "L", "H", "W"), "phi")
    check_shape(depth_part, tuple(phi.shape[:2]), "depth_part")
    batch, parts, height, width = phi.shape
    order = torch.argsort(depth_part, dim=1, stable=True)
    rows = torch.arange(batch, device=phi.device)[:, None]
    visible_sorted = (1.0 - phi[rows, order]).reshape(batch, parts, height * width).transpose(1, 2)
    return _composite(visible_sorted.contiguous(), order, exact_grad=True).view(batch, parts, height, width)


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
        One grid + ``grid_sample`` for all parts of all samples, sampled directly in each
        sample's depth order (nearest first), one cumulative product for the composition and
        one batched matrix product back to part order; no loop over parts or samples.
    """
    height, width = _check_size(size)
    _check_inputs(q_norm, depth, scale, skeleton, validate)
    theta = _part_affine(q_norm, scale, eps, validate, skeleton)
    order = torch.argsort(part_depth(depth.to(q_norm.dtype), skeleton), dim=1, stable=True)
    rows = torch.arange(q_norm.shape[0], device=q_norm.device)[:, None]
    visible_sorted = _sample_visibility(theta[rows, order], order, height, width)
    return _composite(visible_sorted, order).view(q_norm.shape[0], NUM_PARTS, height, width)


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
