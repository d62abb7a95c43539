"""Each side network's own share of the training videos (``objective.side_bag_fraction``).

Side networks taught together in one run (``model.side_networks`` > 1) see the same frames with
the same labels and come to agree: one network alone turns 4 % of the test frames round where the
others do not, where side networks of different seeds do so on 7-12 % and read together take
3-7 mm off a seed's error (docs/learning.md, "Several side networks in one run"). A bag gives
each network the labels of its own fixed share of the training videos, as bagging does, so that
the wrong labels each network learns are not all the same.

A video is in network ``m``'s bag when a hash of ``(video_index, m)`` falls below the fraction:
fixed for the whole run, the same in every run and on every device, and independent between
networks, so that each video is in about ``fraction × M`` of the ``M`` bags.
"""

from __future__ import annotations

import torch

_MASK32 = 0xFFFFFFFF


def bag_hash(video_index: torch.Tensor, member: int) -> torch.Tensor:
    """A 32-bit hash of ``(video_index, member)`` per element, as float64 in ``[0, 1)``.

    Args:
        video_index: ``(...)`` int64, each ``>= 0`` and ``< 2**31``.
        member: the side network's index, ``0 <= member < 2**16``.
    Returns:
        ``(...)`` float64 in ``[0, 1)``, on ``video_index``'s device.
    """
    h = (video_index.to(torch.int64) * 2654435761 + (member + 1) * 0x9E3779B9) & _MASK32
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & _MASK32
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & _MASK32
    h = h ^ (h >> 16)
    return h.to(torch.float64) / 2.0**32


def side_bags(video_index: torch.Tensor, members: int, fraction: float) -> torch.Tensor:
    """Which side networks are taught each frame's label: ``(M, B)`` bool, row ``m`` network ``m``'s bag.

    Args:
        video_index: ``(B,)`` int64, each frame's video in the training split.
        members: ``M``, the number of side networks.
        fraction: each network's share of the videos, in ``(0, 1]``; 1: every video in every bag.
    """
    if video_index.dim() != 1:
        raise ValueError(f"video_index must be (B,), got {tuple(video_index.shape)}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return torch.ones(members, video_index.shape[0], dtype=torch.bool, device=video_index.device)
    return torch.stack([bag_hash(video_index, m) < fraction for m in range(members)])
