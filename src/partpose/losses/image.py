"""Image objectives: L_I^u (reconstruct the target frame) and L_I^c (appearance invariance).

Convention:
    Images are ``(B, 3, H, W)`` in [0, 1]; weights and masks ``(B, 1, H, W)`` in [0, 1];
    ``background_valid`` is ``(B,)`` bool (False for clips whose camera moves, METHOD.md
    "Data"). Every loss is the mean over ``B * 3 * H * W`` elements of a per-element L1 sum;
    a sample with an invalid background simply contributes no background term (the
    denominator stays the same, so each valid pixel weighs the same whatever the batch mix).
    Inputs are never modified.
"""

from __future__ import annotations

import math

import torch

from partpose.utils.checks import check_shape


def _check_images(names_tensors: list[tuple[str, torch.Tensor]]) -> tuple[int, int, int]:
    first_name, first = names_tensors[0]
    check_shape(first, ("B", 3, "H", "W"), first_name)
    b, _, h, w = first.shape
    for name, x in names_tensors[1:]:
        check_shape(x, (b, 3, h, w), name)
    return b, h, w


def _check_valid(background_valid: torch.Tensor, batch: int) -> torch.Tensor:
    check_shape(background_valid, (batch,), "background_valid")
    if background_valid.dtype != torch.bool:
        raise ValueError(f"background_valid must be a bool tensor, got {background_valid.dtype}")
    return background_valid


def image_unpaired_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    background: torch.Tensor,
    fg_prob: torch.Tensor,
    saliency: torch.Tensor,
    beta: float,
    background_valid: torch.Tensor,
    *,
    detach_weight: bool = True,
    per_sample: bool = False,
) -> torch.Tensor:
    """L_I^u: the reconstruction of I_t from ``a_s`` and the pose of I_t.

    ``w = clip(fg_prob + beta * saliency, 0, 1)``;
    ``L = mean[ w * |Î - I_t| + valid_b * (1 - w) * |Î - BG| ]``.

    Args:
        recon: ``(B, 3, H, W)`` composite ``Î_{a_s}^{p_t}``.
        target: ``(B, 3, H, W)`` the frame ``I_t``.
        background: ``(B, 3, H, W)`` the clip background ``BG``.
        fg_prob: ``(B, 1, H, W)`` predicted foreground probability ``1 - y_bg`` of ``recon``.
        saliency: ``(B, 1, H, W)`` saliency map ``m_sal`` of ``I_t`` in [0, 1].
        beta: weight of the saliency map, ``>= 0`` (0 in the "without m_sal" ablation).
        background_valid: ``(B,)`` bool; False drops the background term for that sample.
        detach_weight: stop the gradient through ``w`` (default True, see below).
        per_sample: return each sample's mean, ``(B,)``, instead of the batch's (their mean).
    Returns:
        Scalar mean (or ``(B,)`` with ``per_sample``).

    Why ``w`` is detached by default: ``dL/dw = |Î - I_t| - |Î - BG|``, so a gradient through
    ``w`` lets the model lower the loss by shrinking its own foreground wherever its
    reconstruction of the person is worse than the background is, until every frame is
    explained as background: the degenerate solution that ``beta * m_sal`` exists to fight.
    With ``w`` detached it only chooses which target each pixel is compared with; the
    foreground probability is still trained through the composite ``Î`` itself
    (``Î = (1 - y_bg) * rgb_fg + y_bg * BG``), which must match ``I_t`` where ``w`` says the
    person is. METHOD.md writes the loss without saying; this is the reading we follow.
    """
    batch, h, w_ = _check_images([("recon", recon), ("target", target), ("background", background)])
    check_shape(fg_prob, (batch, 1, h, w_), "fg_prob")
    check_shape(saliency, (batch, 1, h, w_), "saliency")
    valid = _check_valid(background_valid, batch)
    beta = float(beta)
    if not (math.isfinite(beta) and beta >= 0.0):
        raise ValueError(f"beta must be finite and >= 0, got {beta}")
    weight = (fg_prob + beta * saliency).clamp(0.0, 1.0)
    if detach_weight:
        weight = weight.detach()
    valid = valid.to(recon.dtype)[:, None, None, None]
    per_element = weight * (recon - target).abs() + valid * (1.0 - weight) * (recon - background).abs()
    return per_element.flatten(1).mean(dim=1) if per_sample else per_element.mean()


def image_consistency_loss(
    recon_as: torch.Tensor,
    recon_at: torch.Tensor,
    background: torch.Tensor,
    fg_puppet: torch.Tensor,
    background_valid: torch.Tensor,
) -> torch.Tensor:
    """L_I^c: one unpaired pose drawn with the appearance of either frame must agree.

    ``L = mean[ w_fg * |Î_as - Î_at| + valid_b * (1 - w_fg) * |Î_as - BG| ]``.

    Args:
        recon_as: ``(B, 3, H, W)`` ``Î_{a_s}^{p_z}``.
        recon_at: ``(B, 3, H, W)`` ``Î_{a_t}^{p_z}`` (gradients flow into both syntheses).
        background: ``(B, 3, H, W)`` the clip background.
        fg_puppet: ``(B, 1, H, W)`` the puppet's foreground ``w_fg`` of ``p_z`` in [0, 1]
            (a function of the prior pose and a detached camera: no gradient expected).
        background_valid: ``(B,)`` bool; False drops the background term for that sample.
    Returns:
        Scalar mean.
    """
    batch, h, w_ = _check_images([("recon_as", recon_as), ("recon_at", recon_at), ("background", background)])
    check_shape(fg_puppet, (batch, 1, h, w_), "fg_puppet")
    valid = _check_valid(background_valid, batch).to(recon_as.dtype)[:, None, None, None]
    per_element = fg_puppet * (recon_as - recon_at).abs() + valid * (1.0 - fg_puppet) * (recon_as - background).abs()
    return per_element.mean()
