"""The side network's labels read anew as the encoder learns (``objective.side_label=steady_distance``).

The steady travel (``side_label=steady_travel``) reads a person's distance from the size of their
box, which also follows the body's changing extent: a body that curls up shrinks its box as if it
went away. The encoder's camera scale accounts for the extent, so the boxes and the scale together
give the distance itself (``data.travel.box_distance``), and a video whose distance falls steadily
shows the front. The scale is learnt, so the labels are read again every
``objective.side_relabel_every`` steps by the weights that are evaluated (the average, with one),
and before the first reading the dataset holds the boxes' steady travel. No label is needed.
The readings change the training process's ``PairDataset``; DataLoader worker processes hold
copies of it, so the trainer gives every batch the labels of the latest reading
(:func:`batch_side_labels`) whatever loaded it.

On the many-people budget, side networks refit on this label beside finished pose networks scored
4.6 to 14 mm under those refit on the boxes' steady travel (docs/learning.md, "The travel read from the
distance"); this module reads the same label inside training.
"""

from __future__ import annotations

import numpy as np
import torch

from partpose.data.pairs import PairDataset
from partpose.data.travel import box_distance, distance_travel_front
from partpose.inference.predict import images_to_tensor


@torch.no_grad()
def video_scales(model: torch.nn.Module, videos, device: torch.device | str = "cpu", batch_frames: int = 512) -> list[np.ndarray]:
    """Each video's ``(T,)`` float64 camera scale, as ``model.encode`` reads its frames in eval mode.

    Frames of consecutive videos are read together, at most about ``batch_frames`` at once; the
    model's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    scales: list[np.ndarray] = []
    pending: list = []

    def flush() -> None:
        if pending:
            scale = model.encode(images_to_tensor(np.concatenate([v.frames for v in pending]), device)).scale
            scales.extend(np.split(scale.double().cpu().numpy(), np.cumsum([v.num_frames for v in pending])[:-1]))
            pending.clear()

    try:
        for video in videos:
            pending.append(video)
            if sum(v.num_frames for v in pending) >= batch_frames:
                flush()
        flush()
        return scales
    finally:
        model.train(was_training)


def distance_side_labels(model: torch.nn.Module, videos, min_rate: float, min_r2: float,
                         device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Each video's ``(T,)`` float32 side labels: on every frame the side its travel shows, read
    from the distance the boxes and ``model``'s camera scale give (``data.travel.box_distance``,
    ``distance_travel_front``: 1.0 the front, 0.0 the back); ``nan`` on a video without boxes or
    whose travel is unsteady (``min_r2``) or too small (``min_rate``)."""
    labels = [np.full(video.num_frames, np.nan, np.float32) for video in videos]
    boxed = [v for v, video in enumerate(videos) if video.person_box is not None]
    for v, scale in zip(boxed, video_scales(model, [videos[v] for v in boxed], device)):
        front = distance_travel_front(box_distance(videos[v].person_box, scale), min_rate, min_r2)
        labels[v][:] = front
    return labels


def relabel_by_distance(model: torch.nn.Module, pairs: PairDataset, min_rate: float, min_r2: float,
                        device: torch.device | str = "cpu") -> float:
    """Give ``pairs.side_front`` the labels of :func:`distance_side_labels`; returns the share of
    the frames labelled."""
    pairs.side_front = distance_side_labels(model, pairs.videos, min_rate, min_r2, device)
    return labelled_share(pairs.side_front)


def batch_side_labels(side_front: list[np.ndarray], video_index: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """``(B,)`` float32, on ``frame``'s device: ``side_front[v][t]`` for each item's video ``v``
    (``video_index``, ``(B,)`` int64) and frame ``t`` (``frame``, ``(B,)`` int64)."""
    videos, frames = video_index.cpu().tolist(), frame.cpu().tolist()
    labels = [float(side_front[v][t]) for v, t in zip(videos, frames)]
    return torch.tensor(labels, dtype=torch.float32, device=frame.device)


def labelled_share(side_front: list[np.ndarray]) -> float:
    """The share of the frames of ``side_front`` (one ``(T,)`` array a video) with a label."""
    return float(np.concatenate([np.isfinite(labels) for labels in side_front]).mean())
