"""Slow, obviously-right twins of the geometry functions, for tests only.

Each section re-derives one function from its written definition with plain loops over the
batch and the joints (numpy float64), so a vectorisation or indexing mistake in the fast code
shows up as a difference.
"""

from __future__ import annotations

import numpy as np
import torch

from partpose.geometry.skeleton import H36M17, Skeleton

# ---------------------------------------------------------------------------------------------
# bone_lengths (partpose.geometry.skeleton)
# ---------------------------------------------------------------------------------------------


def naive_bone_lengths(poses: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """``(N, J, 3) -> (N, J)``: distance of every joint to its ``fk_parents`` entry, 0 for the root."""
    p = poses.detach().double().cpu().numpy()
    out = np.zeros(p.shape[:2])
    for i in range(p.shape[0]):
        for j, parent in enumerate(skeleton.fk_parents):
            if parent < 0:
                continue
            d = p[i, j] - p[i, parent]
            out[i, j] = np.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
    return torch.from_numpy(out)


# ---------------------------------------------------------------------------------------------
# forward_kinematics (partpose.geometry.kinematics)
# ---------------------------------------------------------------------------------------------

_X = np.array([1.0, 0.0, 0.0])
_DOWN = np.array([0.0, 0.0, -1.0])
_CONE = 0.04  # blend region |a x X|^2 < _CONE, as documented in kinematics.py


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x)
    return x / max(norm, 1e-8)


def naive_limb_frame(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame (a, b, n) of one parent-limb direction, as the kinematics docstring defines it."""
    a = _normalise(a)
    sin2 = float(np.dot(np.cross(a, _X), np.cross(a, _X)))
    weight = (1.0 - sin2 / _CONE) ** 2 if sin2 < _CONE else 0.0
    ref = _X + weight * _DOWN
    b = _normalise(ref - np.dot(ref, a) * a)
    n = np.cross(a, b)
    return a, b, n


def naive_forward_kinematics(
    local_vectors: torch.Tensor,
    hip_angle: torch.Tensor,
    bone_lengths: torch.Tensor,
    skeleton: Skeleton = H36M17,
) -> torch.Tensor:
    """Loop over the batch, then over ``skeleton.fk_joints`` one joint at a time (supplementary §2)."""
    v_all = local_vectors.detach().double().cpu().numpy()
    h_all = hip_angle.detach().double().cpu().numpy()
    lengths = bone_lengths.detach().double().cpu().numpy()
    batch = v_all.shape[0]
    if lengths.ndim == 1:
        lengths = np.tile(lengths, (batch, 1))
    out = np.zeros((batch, skeleton.num_joints, 3))
    for i in range(batch):
        alpha = lengths[i]
        pos = {}
        pos[skeleton.root] = np.zeros(3)
        pos[skeleton.thorax] = np.array([0.0, 0.0, alpha[skeleton.thorax]])
        sin_psi, cos_psi = _normalise(h_all[i])
        hip_dir = np.array([0.0, sin_psi, cos_psi])
        pos[skeleton.l_hip] = alpha[skeleton.l_hip] * hip_dir
        pos[skeleton.r_hip] = -alpha[skeleton.r_hip] * hip_dir
        for k, j in enumerate(skeleton.fk_joints):
            parent = skeleton.fk_parents[j]
            if parent in (skeleton.root, skeleton.thorax):
                a = np.array([0.0, 0.0, 1.0])  # pelvis -> thorax
            elif parent in (skeleton.l_hip, skeleton.r_hip):
                a = pos[parent] - pos[skeleton.root]  # pelvis -> hip
            else:
                a = pos[parent] - pos[skeleton.fk_parents[parent]]
            a, b, n = naive_limb_frame(a)
            v = _normalise(v_all[i, k])
            g = _normalise(v[0] * a + v[1] * b + v[2] * n)
            pos[j] = pos[parent] + alpha[j] * g
        for j in range(skeleton.num_joints):
            out[i, j] = pos[j]
    return torch.from_numpy(out)


# ---------------------------------------------------------------------------------------------
# loop-per-part puppet twin (partpose.geometry.puppet)
# ---------------------------------------------------------------------------------------------

import math  # noqa: E402

import torch.nn.functional as F  # noqa: E402

from partpose.geometry.parts import PARTS  # noqa: E402
from partpose.geometry.puppet import (  # noqa: E402
    HALF_WIDTH_CANON,
    PART_SHAPES,
    TORSO_HALF_DEPTH_MM,
    canonical_part_maps,
)


def naive_part_affine(q1: tuple[float, float], q2: tuple[float, float], half_thickness: float, anchor_x: float):
    """Image -> canonical 2x3 matrix of one part, written out from supplementary §1:
    ``c = diag(gamma_x, gamma_y) Rot(theta) (u - mu)``, ``theta = -atan2(dy, dx)``."""
    dx, dy = q2[0] - q1[0], q2[1] - q1[1]
    theta = -math.atan2(dy, dx)
    gamma_x = 2.0 * anchor_x / math.hypot(dx, dy)
    gamma_y = HALF_WIDTH_CANON / half_thickness
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    a = np.diag([gamma_x, gamma_y]) @ rot
    mu = np.array([(q1[0] + q2[0]) / 2.0, (q1[1] + q2[1]) / 2.0])
    return np.concatenate([a, (-a @ mu)[:, None]], axis=1)


def naive_part_maps(
    q_norm: torch.Tensor,
    depth: torch.Tensor,
    size: tuple[int, int],
    scale: torch.Tensor | None = None,
    skeleton: Skeleton = H36M17,
) -> torch.Tensor:
    """Loop over the samples, then over the parts: one ``affine_grid`` + ``grid_sample`` per part
    on its own canonical map, then a running transmittance in depth order (nearest first)."""
    dtype, device = q_norm.dtype, q_norm.device
    canonical = canonical_part_maps(device, dtype)
    height, width = size
    batch = q_norm.shape[0]
    out = torch.zeros(batch, len(PARTS), height, width, dtype=dtype, device=device)
    for b in range(batch):
        q = q_norm[b].detach().double().cpu().numpy()
        z = depth[b].detach().double().cpu().numpy()
        s = 1.0 if scale is None else float(scale[b])
        phis, part_z = [], []
        for l, part in enumerate(PARTS):
            idx = part.anchor_indices(skeleton)
            if len(idx) == 2:
                q1, q2 = q[idx[0]], q[idx[1]]
                half = s * part.half_width_mm / 1000.0
            else:
                l_sh, r_sh, l_hip, r_hip = (q[i] for i in idx)
                q1, q2 = (l_hip + r_hip) / 2.0, (l_sh + r_sh) / 2.0
                length = math.hypot(*(q2 - q1))
                normal = np.array([-(q2 - q1)[1], (q2 - q1)[0]]) / length
                upper, lower = float(normal @ (l_sh - r_sh)), float(normal @ (l_hip - r_hip))
                half = math.sqrt((upper**2 + lower**2) / 8.0 + (s * TORSO_HALF_DEPTH_MM / 1000.0) ** 2)
            theta = naive_part_affine(tuple(q1), tuple(q2), half, PART_SHAPES[l].anchor_x)
            theta = torch.tensor(theta, dtype=dtype, device=device)[None]
            grid = F.affine_grid(theta, [1, 1, height, width], align_corners=False)
            phi = F.grid_sample(canonical[l][None, None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            phis.append(phi[0, 0])
            part_z.append(sum(z[i] for i in idx) / len(idx))
        visible = torch.ones(height, width, dtype=dtype, device=device)
        for l in sorted(range(len(PARTS)), key=lambda k: part_z[k]):  # nearest first, stable
            out[b, l] = phis[l] * visible
            visible = visible * (1.0 - phis[l])
    return out
