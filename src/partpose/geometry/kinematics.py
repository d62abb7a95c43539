"""T_fk: local limb vectors and the hip-line angle to a canonical 3D pose, and its inverse.

Convention:
    Canonical frame (supplementary §2): the pelvis at the origin, X the face vector (the
    direction the body faces), Z up along pelvis -> thorax, Y = Z x X (the body's left). Units
    are those of ``bone_lengths`` (millimetres in this project).

    Fixed joints: pelvis ``(0, 0, 0)``; thorax ``(0, 0, alpha_thorax)``; with the hip angle
    ``(sin psi, cos psi)`` (psi = angle between pelvis -> thorax and the hip line r_hip -> l_hip)
    the l_hip lies at ``alpha_l_hip * (0, sin psi, cos psi)`` and the r_hip at
    ``-alpha_r_hip * (0, sin psi, cos psi)``. A natural pose has psi close to 90 degrees.

    Every other joint ``j = skeleton.fk_joints[k]`` is reached from its ``fk_parents`` entry P
    through the local vector ``v = local_vectors[:, k]`` given in the limb frame of P
    (rows ``a, b, n`` of :func:`limb_frame`):
    ``g = unit(v_x a + v_y b + v_z n)``, ``p_j = p_P + alpha_j g``. The parent-limb direction is
    ``a = unit(p_P - p_{fk_parents[P]})``; for children of the pelvis (which has no parent) it is
    the pelvis -> thorax direction, so the children of the pelvis and of the thorax both use +Z
    and the children of a hip use ``unit(pelvis -> hip)``.

    Degenerate frame: the face vector ``X`` cannot be made orthogonal to a parent limb that is
    parallel to it. Inside a cone of ``|a x X|^2 < FALLBACK_CONE`` around +X and -X the
    reference axis ``X`` is blended smoothly with the fallback axis ``FALLBACK_AXIS`` (-Z, down):
    ``r = X + w FALLBACK_AXIS`` with ``w = (1 - |a x X|^2 / FALLBACK_CONE)^2`` (``w = 0``
    outside the cone, so the frame there is exactly the paper's; ``w`` and its derivative are
    continuous). ``b = unit(r - (r . a) a)``. At ``a = +X`` this gives ``b = -Z``, at
    ``a = -X`` also ``b = -Z``. By the hairy-ball theorem no continuous choice of ``b`` avoids a
    zero everywhere on the sphere: the blended reference still vanishes at two isolated
    directions inside the cone (about 9 degrees below +X and 9 degrees above -X, in the XZ
    plane). There, and for a zero-length parent limb, every normalisation is clamped (eps), so
    values and gradients stay finite (never NaN) but the frame is rank-deficient.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from partpose.geometry.skeleton import H36M17, Skeleton
from partpose.utils.checks import check_finite, check_shape

FACE_VECTOR = (1.0, 0.0, 0.0)
"""The face vector ``b`` before orthogonalisation: canonical +X."""

FALLBACK_AXIS = (0.0, 0.0, -1.0)
"""Reference axis blended in when the parent limb is (nearly) parallel to the face vector."""

FALLBACK_CONE = 0.04
"""Blend region: ``|a x X|^2 < FALLBACK_CONE`` (within about 11.5 degrees of +X or -X)."""

EPS = 1e-8
"""Clamp on vector norms: a zero vector normalises to zero instead of NaN."""


def _unit(x: torch.Tensor) -> torch.Tensor:
    """``x / |x|`` over the last dimension, with ``|x|`` clamped at ``EPS`` (finite gradient)."""
    return x / x.pow(2).sum(dim=-1, keepdim=True).clamp_min(EPS * EPS).sqrt()


def limb_frame(parent_direction: torch.Tensor) -> torch.Tensor:
    """Local frame of a limb from its parent-limb direction.

    Args:
        parent_direction: ``(..., 3)`` direction ``a`` of the parent limb in the canonical frame;
            normalised inside (need not be unit).
    Returns:
        ``(..., 3, 3)`` orthonormal frame whose **rows** are ``a``, ``b`` (the face vector +X made
        orthogonal to ``a``) and ``n = a x b``; right-handed (det = +1). A local vector ``v``
        maps to the canonical direction ``frame.T @ v = v_x a + v_y b + v_z n``.

    Convention:
        Near ``a`` parallel to +X or -X the face vector is blended with ``FALLBACK_AXIS``; see
        the module docstring.
    """
    a = _unit(parent_direction)
    face = a.new_tensor(FACE_VECTOR).expand_as(a)
    fallback = a.new_tensor(FALLBACK_AXIS).expand_as(a)
    sin2 = a[..., 1:].pow(2).sum(dim=-1, keepdim=True)  # |a x X|^2 for a unit a
    weight = (1.0 - sin2 / FALLBACK_CONE).clamp_min(0.0).pow(2)
    ref = face + weight * fallback
    b = _unit(ref - (ref * a).sum(dim=-1, keepdim=True) * a)
    n = torch.linalg.cross(a, b, dim=-1)
    return torch.stack((a, b, n), dim=-2)


@lru_cache(maxsize=None)
def _fk_table(skeleton: Skeleton) -> dict[str, tuple]:
    """Index tables of T_fk: for every FK joint its parent and the two joints whose difference
    gives the parent-limb direction (head - tail); and the FK joints grouped by tree level."""
    fk = skeleton.fk_joints
    slot = {j: k for k, j in enumerate(fk)}
    parent = tuple(skeleton.fk_parents[j] for j in fk)
    head, tail = [], []
    for p in parent:
        if p == skeleton.root:
            head.append(skeleton.thorax)
            tail.append(skeleton.root)
        else:
            head.append(p)
            tail.append(skeleton.fk_parents[p])
    levels = tuple(tuple(slot[j] for j in level) for level in skeleton.fk_levels)
    return {"joint": fk, "parent": parent, "head": tuple(head), "tail": tuple(tail), "levels": levels}


def _check_bone_lengths(bone_lengths: torch.Tensor, batch: int, num_joints: int) -> None:
    if isinstance(bone_lengths, torch.Tensor) and bone_lengths.dim() == 1:
        check_shape(bone_lengths, (num_joints,), "bone_lengths")
    else:
        check_shape(bone_lengths, (batch, num_joints), "bone_lengths")
    check_finite(bone_lengths, "bone_lengths")


def forward_kinematics(
    local_vectors: torch.Tensor,
    hip_angle: torch.Tensor,
    bone_lengths: torch.Tensor,
    skeleton: Skeleton = H36M17,
) -> torch.Tensor:
    """T_fk: place every joint in the canonical frame (supplementary §2).

    Args:
        local_vectors: ``(B, K, 3)`` raw local vectors, ``K = len(skeleton.fk_joints)`` (13);
            ``local_vectors[:, k]`` belongs to joint ``skeleton.fk_joints[k]``. Normalised inside,
            so encoder outputs after tanh can be passed directly.
        hip_angle: ``(B, 2)`` raw ``(sin psi, cos psi)``, normalised inside.
        bone_lengths: ``(J,)`` or ``(B, J)`` distance of every joint to its ``fk_parents`` entry
            (``skeleton.bone_lengths`` convention), millimetres in this project.
    Returns:
        ``(B, J, 3)`` canonical pose in the unit of ``bone_lengths``.

    Convention:
        See the module docstring. Batched per tree level (``skeleton.fk_levels``); a zero local
        vector or hip angle stays zero (the joint lands on its parent), never NaN.
    """
    table = _fk_table(skeleton)
    num_fk, num_joints = len(table["joint"]), skeleton.num_joints
    check_shape(local_vectors, ("B", num_fk, 3), "local_vectors")
    batch = local_vectors.shape[0]
    check_shape(hip_angle, (batch, 2), "hip_angle")
    _check_bone_lengths(bone_lengths, batch, num_joints)
    check_finite(local_vectors, "local_vectors")
    check_finite(hip_angle, "hip_angle")

    alpha = bone_lengths.to(dtype=local_vectors.dtype, device=local_vectors.device)
    alpha = alpha.expand(batch, num_joints)
    v = _unit(local_vectors)
    sin_cos = _unit(hip_angle)

    zero = local_vectors.new_zeros(batch)
    hip_dir = torch.stack((zero, sin_cos[:, 0], sin_cos[:, 1]), dim=-1)
    pos: list[torch.Tensor | None] = [None] * num_joints
    pos[skeleton.root] = local_vectors.new_zeros(batch, 3)
    pos[skeleton.thorax] = torch.stack((zero, zero, alpha[:, skeleton.thorax]), dim=-1)
    pos[skeleton.l_hip] = alpha[:, skeleton.l_hip, None] * hip_dir
    pos[skeleton.r_hip] = -alpha[:, skeleton.r_hip, None] * hip_dir

    for level in table["levels"]:
        joints = [table["joint"][k] for k in level]
        parent_pos = torch.stack([pos[table["parent"][k]] for k in level], dim=1)
        head = torch.stack([pos[table["head"][k]] for k in level], dim=1)
        tail = torch.stack([pos[table["tail"][k]] for k in level], dim=1)
        frame = limb_frame(head - tail)  # (B, L, 3, 3), rows a, b, n
        g = _unit(torch.einsum("blr,blrd->bld", v[:, list(level)], frame))
        placed = parent_pos + alpha[:, joints, None] * g
        for i, j in enumerate(joints):
            pos[j] = placed[:, i]
    return torch.stack(pos, dim=1)


def canonicalize(pose: torch.Tensor, skeleton: Skeleton = H36M17) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate and translate any 3D pose into the canonical frame.

    Args:
        pose: ``(B, J, 3)`` joints in any right-handed frame and unit.
    Returns:
        ``canonical_pose (B, J, 3)`` (same unit) and ``canon_R_input (B, 3, 3)`` with
        ``canonical_pose = canon_R_input @ (pose - pose[:, root])``.

    Convention:
        ``z = unit(thorax - pelvis)``, ``y' = unit(l_hip - r_hip)``, ``x = unit(y' x z)``,
        ``y = z x x``; the rows of ``canon_R_input`` are ``x, y, z``. The thorax lands on +Z and
        the hip line in the YZ plane with its l_hip end on the +Y side (``sin psi >= 0``).
    """
    check_shape(pose, ("B", skeleton.num_joints, 3), "pose")
    check_finite(pose, "pose")
    z = _unit(pose[:, skeleton.thorax] - pose[:, skeleton.root])
    y_hip = _unit(pose[:, skeleton.l_hip] - pose[:, skeleton.r_hip])
    x = _unit(torch.linalg.cross(y_hip, z, dim=-1))
    y = torch.linalg.cross(z, x, dim=-1)
    canon_R_input = torch.stack((x, y, z), dim=-2)
    centred = pose - pose[:, skeleton.root : skeleton.root + 1]
    canonical_pose = torch.einsum("bij,bkj->bki", canon_R_input, centred)
    return canonical_pose, canon_R_input


def inverse_kinematics(
    canonical_pose: torch.Tensor, skeleton: Skeleton = H36M17
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of T_fk: local vectors and hip angle of a canonical pose.

    Args:
        canonical_pose: ``(B, J, 3)`` a pose in the canonical frame (see :func:`canonicalize`).
    Returns:
        ``local_vectors (B, K, 3)`` unit vectors in the limb frames of :func:`limb_frame`
        (ordered like ``skeleton.fk_joints``) and ``hip_angle (B, 2)`` unit
        ``(sin psi, cos psi)`` of the hip line r_hip -> l_hip projected on the YZ plane.

    Convention:
        Uses the frames of :func:`forward_kinematics`, built from the input's own joints, so
        ``forward_kinematics(*inverse_kinematics(p), bone_lengths(p)) == p`` for every pose
        whose thorax is on +Z and whose hips lie on a line through the origin in the YZ plane
        (every output of ``forward_kinematics``). Coincident joints give a zero local vector.
    """
    table = _fk_table(skeleton)
    check_shape(canonical_pose, ("B", skeleton.num_joints, 3), "canonical_pose")
    check_finite(canonical_pose, "canonical_pose")
    p = canonical_pose
    frame = limb_frame(p[:, list(table["head"])] - p[:, list(table["tail"])])  # (B, K, 3, 3)
    g = _unit(p[:, list(table["joint"])] - p[:, list(table["parent"])])
    local_vectors = torch.einsum("bkrd,bkd->bkr", frame, g)
    hip_line = p[:, skeleton.l_hip] - p[:, skeleton.r_hip]
    hip_angle = _unit(hip_line[:, 1:])
    return local_vectors, hip_angle


def retarget(pose: torch.Tensor, bone_lengths: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Canonicalise any 3D pose and give it the bone lengths of a prior.

    Args:
        pose: ``(B, J, 3)`` joints in any frame.
        bone_lengths: ``(J,)`` or ``(B, J)`` target bone lengths (``fk_parents`` convention).
    Returns:
        ``(B, J, 3)`` canonical pose in the unit of ``bone_lengths`` with the input's limb
        directions: ``forward_kinematics(*inverse_kinematics(canonicalize(pose)[0]),
        bone_lengths)``.
    """
    canonical_pose, _ = canonicalize(pose, skeleton)
    local_vectors, hip_angle = inverse_kinematics(canonical_pose, skeleton)
    return forward_kinematics(local_vectors, hip_angle, bone_lengths, skeleton)
