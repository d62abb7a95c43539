"""Supervision terms of the weakly-, semi- and fully-supervised settings (encoder only).

Convention:
    ``mask (B,)`` bool selects the labelled samples; the loss is the mean over those samples
    (of a per-sample L1 mean), and exactly 0, still attached to the graph of the prediction,
    when none is selected. Labels of unselected samples are never read into the value or the
    gradient (they may hold zeros or NaN).
"""

from __future__ import annotations

import torch

from partpose.utils.checks import check_shape


def _masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    check_shape(mask, (pred.shape[0],), "mask")
    keep = mask.view(-1, *([1] * (pred.dim() - 1)))
    safe_target = torch.where(keep, target.to(pred.dtype), pred.detach())
    per_sample = (pred - safe_target).abs().flatten(1).mean(dim=1)
    return (per_sample * mask.to(pred.dtype)).sum() / mask.sum().clamp_min(1).to(pred.dtype)


def pose2d_loss(q: torch.Tensor, q_gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Weak supervision: ``mean over labelled samples of mean_{j,c} |q - q_gt|``.

    Args:
        q: ``(B, 17, 2)`` predicted 2D joints, normalised image coordinates.
        q_gt: ``(B, 17, 2)`` labels, same coordinates.
        mask: ``(B,)`` bool, True where ``q_gt`` is known.
    Returns:
        Scalar (normalised image units).
    """
    check_shape(q, ("B", "J", 2), "q")
    check_shape(q_gt, tuple(q.shape), "q_gt")
    return _masked_l1(q, q_gt, mask)


def pose3d_loss(p_cam_mm: torch.Tensor, p_gt_cam_mm: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Semi/full supervision: ``mean over labelled samples of mean_{j,c} |p - p_gt|`` in metres,
    both poses made root-relative (joint 0, the pelvis) first.

    Args:
        p_cam_mm: ``(B, 17, 3)`` predicted camera-frame pose, mm.
        p_gt_cam_mm: ``(B, 17, 3)`` label, camera frame, mm (need not be root-relative).
        mask: ``(B,)`` bool, True where the 3D label is known.
    Returns:
        Scalar, metres.
    """
    check_shape(p_cam_mm, ("B", "J", 3), "p_cam_mm")
    check_shape(p_gt_cam_mm, tuple(p_cam_mm.shape), "p_gt_cam_mm")
    pred = (p_cam_mm - p_cam_mm[:, :1]) / 1000.0
    target = (p_gt_cam_mm - p_gt_cam_mm[:, :1]) / 1000.0
    return _masked_l1(pred, target, mask)
