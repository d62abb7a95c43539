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
