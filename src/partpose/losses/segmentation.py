"""L_seg: part segmentation of the synthesis of an unpaired pose against the puppet's labels.

Convention:
    Logits ``(B, L + 1, H, W)`` with the background first; hard labels ``(B, H, W)`` int64 with
    0 = background and ``l + 1`` = ``PARTS[l]``; soft labels ``(B, L + 1, H, W)`` (a
    distribution per pixel, background first); the boundary uncertainty ``(B, 1, H, W)`` in
    [0, 1]. All from ``partpose.geometry.puppet``. Computed in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from partpose.utils.checks import check_shape


def segmentation_loss(
    seg_logits: torch.Tensor,
    labels: torch.Tensor,
    soft_labels: torch.Tensor,
    uncertainty: torch.Tensor,
) -> torch.Tensor:
    """``L_seg = mean_{b,h,w}[ (1 - w_unc) * CE(y_hat, y) + w_unc * SE(softmax(y_hat), y_soft) ]``.

    ``CE = -log softmax(y_hat)[y]`` (natural log) and ``SE = sum_c (softmax(y_hat)_c -
    y_soft_c)**2`` (summed over the ``L + 1`` classes, so both terms are per-pixel quantities).
    Where parts meet (high ``w_unc``) the hard label is ambiguous and the squared error to the
    puppet's soft labels takes over.

    Args:
        seg_logits: ``(B, L + 1, H, W)`` predicted logits ``y_hat``.
        labels: ``(B, H, W)`` int64 puppet labels ``y`` in ``[0, L]``.
        soft_labels: ``(B, L + 1, H, W)`` puppet soft labels.
        uncertainty: ``(B, 1, H, W)`` boundary uncertainty ``w_unc`` in [0, 1].
    Returns:
        Scalar mean over ``B * H * W`` pixels.
    """
    check_shape(seg_logits, ("B", "C", "H", "W"), "seg_logits")
    b, c, h, w = seg_logits.shape
    check_shape(labels, (b, h, w), "labels")
    check_shape(soft_labels, (b, c, h, w), "soft_labels")
    check_shape(uncertainty, (b, 1, h, w), "uncertainty")
    if labels.dtype != torch.int64:
        raise ValueError(f"labels must be int64, got {labels.dtype}")
    logits = seg_logits.float()
    ce = F.cross_entropy(logits, labels, reduction="none")  # (B, H, W)
    se = (torch.softmax(logits, dim=1) - soft_labels.float()).pow(2).sum(dim=1)  # (B, H, W)
    w_unc = uncertainty.float()[:, 0]
    return ((1.0 - w_unc) * ce + w_unc * se).mean()
