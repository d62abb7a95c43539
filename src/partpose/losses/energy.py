"""The energies of the decoupled adaptation (Algorithm 1): decode Î_{a_s}^{p_z}, encode it again.

Convention:
    Pure L1 means. Which parameters they update (encoder with the decoder frozen, or the
    other way round) is decided by the optimiser they are given to, not here. Gradients flow
    into both arguments; detach one at the call site to make it a fixed target.
"""

from __future__ import annotations

import torch

from partpose.utils.checks import check_shape


def pose_energy(p_z: torch.Tensor, p_hat: torch.Tensor) -> torch.Tensor:
    """``L_pz = mean |p_z - p_hat| / 1000``: the pose energy in metres.

    Args:
        p_z: ``(B, 17, 3)`` the unpaired pose, millimetres.
        p_hat: ``(B, 17, 3)`` the pose the encoder reads from ``Î_{a_s}^{p_z}``, millimetres,
            in the same frame as ``p_z`` (canonical, or camera frame root-relative).
    Returns:
        Scalar mean over ``B * 17 * 3`` coordinates, in metres: inputs are millimetres as
        everywhere else in the project; metres keep the value O(0.1), the range of the image
        losses, which helps gradient clipping and logs read alike (Adagrad itself is scale-free).
    """
    check_shape(p_z, ("B", "J", 3), "p_z")
    check_shape(p_hat, tuple(p_z.shape), "p_hat")
    return (p_z - p_hat).abs().mean() / 1000.0


def rotation_angle(cam_R_a: torch.Tensor, cam_R_b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The geodesic distance of two rotations: the angle of the rotation taking one to the other.

    Args:
        cam_R_a, cam_R_b: ``(B, 3, 3)`` rotation matrices.
        eps: the cosine is clamped inside ``(-1 + eps, 1 - eps)`` so that the gradient of the
            arc cosine stays finite at 0 and 180 degrees (it costs < 0.1 degree there).
    Returns:
        ``(B,)`` angles in radians, in ``[0, pi]``.
    """
    check_shape(cam_R_a, ("B", 3, 3), "cam_R_a")
    check_shape(cam_R_b, tuple(cam_R_a.shape), "cam_R_b")
    cos = ((cam_R_a * cam_R_b).sum(dim=(1, 2)) - 1.0) / 2.0
    return torch.acos(cos.clamp(-1.0 + eps, 1.0 - eps))


def appearance_energy(a_s: torch.Tensor, a_hat: torch.Tensor) -> torch.Tensor:
    """``L_as = mean |a_s - a_hat|``.

    Args:
        a_s: ``(B, A)`` appearance code of ``I_s``.
        a_hat: ``(B, A)`` appearance code read back from ``Î_{a_s}^{p_z}``.
    Returns:
        Scalar mean over ``B * A``.
    """
    check_shape(a_s, ("B", "A"), "a_s")
    check_shape(a_hat, tuple(a_s.shape), "a_hat")
    return (a_s - a_hat).abs().mean()
