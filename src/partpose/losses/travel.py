"""L_travel: the side a person shows, taught by which way they travel (not in the paper).

A person coming nearer the camera over their video shows it their front, one going away their
back (``partpose.data.travel``, read from the person boxes). With ``objective.travel_facing_weight``
> 0, the front weight of the encoder's pose for I_t (``geometry.facing.front_weight``: 1 the chest
towards the camera, 0 away, smooth in between) is scored against that label with a binary
cross-entropy on the frames whose video travels. Unlike L_twin's travel rule, which makes the
pose's depth twin the target (a jump to the other side with the same 2D joints), its gradient
turns the body smoothly towards the side the travel shows.

The same label teaches the side network (``models/side.py``, ``objective.side_weight``):
:func:`travel_side_loss`, a binary cross-entropy on its logits.

Where the travel labels no frame (a body rolling on the ground, dancing on the spot), the two
frames of a training pair, one video's at most ``data.max_gap`` frames apart, still show the
same side nearly always. :func:`side_consistency_loss` (``objective.side_consistency_weight``)
teaches the side network to read them alike, each frame's reading against the other's held
fixed (a temporal-ensembling consistency; Laine & Aila, ICLR 2017).

Convention:
    The losses are sums over the labelled frames divided by the batch size; frames without a
    label (``nan``) add nothing. The consistency is a mean over the pairs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from partpose.utils.checks import check_shape

_CLAMP = 1e-4


def travel_facing_loss(front_weight: torch.Tensor, travel_front: torch.Tensor) -> torch.Tensor:
    """``sum_labelled BCE(front_weight, travel_front) / B``.

    Args:
        front_weight: ``(B,)`` in ``[0, 1]``, the encoder's poses' front weights.
        travel_front: ``(B,)`` 1.0 (the front), 0.0 (the back) or ``nan`` (no label).
    Returns:
        Scalar; 0 (with a zero gradient) when no frame is labelled.
    """
    check_shape(front_weight, ("B",), "front_weight")
    return _over_labelled(F.binary_cross_entropy, front_weight.clamp(_CLAMP, 1.0 - _CLAMP), travel_front)


def travel_side_loss(front_logits: torch.Tensor, travel_front: torch.Tensor) -> torch.Tensor:
    """``sum_labelled BCE-with-logits(front_logits, travel_front) / B``: the side network's
    logits (> 0: the front) against the side the video's travel shows.

    Args:
        front_logits: ``(B,)``.
        travel_front: ``(B,)`` 1.0 (the front), 0.0 (the back) or ``nan`` (no label).
    Returns:
        Scalar; 0 (with a zero gradient) when no frame is labelled.
    """
    check_shape(front_logits, ("B",), "front_logits")
    return _over_labelled(F.binary_cross_entropy_with_logits, front_logits, travel_front)


def _over_labelled(cross_entropy, prediction: torch.Tensor, travel_front: torch.Tensor) -> torch.Tensor:
    """``cross_entropy(prediction, label)`` per frame, summed over the labelled frames, over ``B``."""
    check_shape(travel_front, tuple(prediction.shape), "travel_front")
    labelled = torch.isfinite(travel_front)
    target = torch.where(labelled, travel_front, torch.zeros_like(travel_front)).to(prediction.dtype)
    per_frame = cross_entropy(prediction, target, reduction="none")
    return (per_frame * labelled.to(per_frame.dtype)).sum() / prediction.shape[0]


def side_consistency_loss(logits_s: torch.Tensor, logits_t: torch.Tensor) -> torch.Tensor:
    """``mean_pairs [KL(p_t || p_s) + KL(p_s || p_t)] / 2`` with each pair's target held fixed:
    the side network's readings of the two frames of each training pair taught to agree.

    ``p = sigmoid(logit)`` is the probability of the front; in each term the distribution on the
    left is detached, so each frame's logit is pulled towards the other frame's reading and
    neither is pushed by its own. Zero where the two logits are equal.

    Args:
        logits_s, logits_t: ``(B,)`` the side network's logits (> 0: the front) of I_s and I_t.
    Returns:
        Scalar.
    """
    check_shape(logits_s, ("B",), "logits_s")
    check_shape(logits_t, tuple(logits_s.shape), "logits_t")
    return (_bernoulli_kl(logits_t.detach(), logits_s) + _bernoulli_kl(logits_s.detach(), logits_t)).mean() / 2


def _bernoulli_kl(target_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``(B,)`` ``KL(Bernoulli(sigmoid(target_logits)) || Bernoulli(sigmoid(logits)))``, from the
    logits (log-sigmoids, stable at any magnitude)."""
    p = torch.sigmoid(target_logits)
    return (p * (F.logsigmoid(target_logits) - F.logsigmoid(logits))
            + (1.0 - p) * (F.logsigmoid(-target_logits) - F.logsigmoid(-logits)))
