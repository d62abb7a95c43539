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
