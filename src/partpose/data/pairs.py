"""Training pairs (I_s, I_t) of one video and single frames for evaluation, as torch datasets.

Convention:
    Images are ``(3, H, W)`` float32 RGB in [0, 1]. ``pose3d`` is camera-frame millimetres (x
    right, y down, z forward), ``pose2d`` normalised crop coordinates (``affine_grid``,
    ``align_corners=False``), ``segmentation`` int64 part labels (0 = background, ``l + 1`` =
    ``PARTS[l]``, -1 where the dataset has none). Absent poses are zeros with their ``has_*``
    flag false. Items follow docs/architecture.md ("The video sample structure").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from partpose.data.saliency import SaliencyCache, background_residual_saliency
from partpose.data.travel import travel_fronts, travel_steadiness
from partpose.data.video import Video
from partpose.geometry import mirror
from partpose.geometry.facing import camera_up, shows_front
from partpose.geometry.skeleton import H36M17

SALIENCY_SOURCES = ("motion", "static")
"""Where m_sal comes from: ``motion`` = the residual against the clip's median background for
static-camera clips (OpenCV's static saliency for clips whose camera moves); ``static`` = OpenCV's
static saliency for every clip."""

SIDE_LABELS = ("travel", "steady_travel", "steady_distance", "truth")
"""What teaches a :class:`PairDataset`'s frames their side (``side_front_s``/``_t``): the video's
travel (no annotation), the same on the videos whose travel is steady only
(``partpose.data.travel.travel_steadiness``), the travel read from the person's distance as the
encoder learns (``steady_distance``: the dataset starts with ``steady_travel``'s labels, and the
trainer replaces them, ``partpose.training.side_relabel``), or, an oracle for diagnosis, each
frame's true side."""

LABEL_MODES = ("none", "2d", "3d", "both")
"""Which pose labels a :class:`PairDataset` exposes: none (self-supervised), 2D (weak
supervision), 3D (semi or full supervision) or both."""


def travel_side_fronts(videos: list[Video], travel_front: np.ndarray, steady_only: bool, min_r2: float) -> list[np.ndarray]:
    """Each video's ``(T,)`` float32 side labels by its travel: its ``travel_front`` (1.0 the
    front, 0.0 the back, ``nan`` none) on every frame; with ``steady_only``, ``nan`` on the videos
    whose travel is not steady (``travel_steadiness`` under ``min_r2``): ``side_label``'s
    ``travel`` and ``steady_travel``."""
    return [np.full(v.num_frames, label if not steady_only or travel_steadiness(v.person_box) >= min_r2 else np.nan,
                    np.float32) for v, label in zip(videos, travel_front)]


def true_fronts(video: Video, definition: str = "chest", elevation_deg: float = 0.0) -> np.ndarray:
    """``(T,)`` float32: 1.0 where the video's person shows the camera their front by
    ``definition`` (``geometry.facing.shows_front`` of the 3D pose; the world's up of
    ``chest_and_spine`` from ``Video.camera_up``, or a camera pitched by ``elevation_deg`` where
    the video has none), 0.0 where their back.

    Raises:
        ValueError: the video has no 3D poses.
    """
    if video.pose3d_cam_mm is None:
        raise ValueError(f"side_label='truth' needs 3D poses, but video {video.name!r} has none")
    pose = torch.from_numpy(np.asarray(video.pose3d_cam_mm, dtype=np.float64))
    if video.camera_up is None:
        up = camera_up(elevation_deg)
    else:
        up = torch.from_numpy(np.asarray(video.camera_up, np.float64))
    return shows_front(pose, up, definition).numpy().astype(np.float32)


def _check_videos(videos: Sequence[Video]) -> list[Video]:
    videos = list(videos)
    if not videos:
        raise ValueError("videos must hold at least one Video")
    for i, video in enumerate(videos):
        if not isinstance(video, Video):
            raise ValueError(f"videos[{i}] must be a Video, got {type(video).__name__}")
        video.validate()
    sizes = {v.size for v in videos}
    if len(sizes) > 1:
        raise ValueError(f"all videos must share one frame size to be batched, got {sorted(sizes)}")
    return videos


def _image(frame: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255.0)


def _segmentation(video: Video, t: int) -> torch.Tensor:
    if video.segmentation is None:
        return torch.full(video.size, -1, dtype=torch.int64)
    return torch.from_numpy(video.segmentation[t].astype(np.int64))


def _camera_up(video: Video, t: int) -> torch.Tensor:
    """``(3,)`` float32: the world's up in frame ``t``'s camera coordinates, NaN where the video has none."""
    if video.camera_up is None:
        return torch.full((3,), math.nan)
    return torch.from_numpy(np.asarray(video.camera_up[t], dtype=np.float32).copy())


def _scalar(value: int | bool) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.bool if isinstance(value, (bool, np.bool_)) else torch.int64)


def frame_pairs(lengths: Sequence[int], max_gap: int, min_gap: int = 1) -> np.ndarray:
    """Every ordered pair of frames of one video with ``min_gap <= |s - t| <= max_gap``.

    Args:
        lengths: number of frames of every video.
    Returns:
        ``(N, 3)`` int64 rows ``(video, s, t)``, ordered by video, then t, then s.
    """
    if not 1 <= min_gap <= max_gap:
        raise ValueError(f"need 1 <= min_gap <= max_gap, got min_gap={min_gap}, max_gap={max_gap}")
    offsets = np.concatenate([np.arange(-max_gap, -min_gap + 1), np.arange(min_gap, max_gap + 1)])
    rows = []
    for v, length in enumerate(lengths):
        t = np.repeat(np.arange(length), len(offsets))
        s = t + np.tile(offsets, length)
        keep = (s >= 0) & (s < length)
        rows.append(np.stack([np.full(keep.sum(), v), s[keep], t[keep]], axis=1))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)


class PairDataset(Dataset):
    """Pairs (I_s, I_t) of frames of one video, a bounded time apart, with the clip background,
    the saliency of I_t and the labels the setting allows.

    Args:
        videos: the videos (one frame size).
        max_gap, min_gap: ``min_gap <= |s - t| <= max_gap`` frames; every such ordered pair is
            one item.
        labels: :data:`LABEL_MODES`; poses outside it are zeros with ``has_*`` false.
        semi_fraction: with 3D labels, keep them on a fixed random fraction of all frames
            (``round(f * frames)``, at least one) and hide them elsewhere; ``None`` keeps all.
        seed: seeds the semi-supervised frame choice.
        saliency_source: ``motion`` (default) or ``static``, see :data:`SALIENCY_SOURCES`.
        travel_min_rate: the least relative change of a person's distance per frame for their
            video's travel to tell the side they show (``partpose.data.travel``).
        side_label: what ``side_front_s`` and ``side_front_t`` hold: ``travel`` (the label, no
            annotation: both the video's ``travel_front``), ``steady_travel`` (the same where
            the video's ``travel_steadiness`` is at least ``travel_min_r2``, NaN elsewhere),
            ``steady_distance`` (``steady_travel``'s labels until a trainer reads the distance,
            ``partpose.training.side_relabel``) or ``truth`` (an oracle for diagnosis: each frame's true side, :func:`true_fronts` of its
            3D pose, whatever ``labels`` allows; needs every video's 3D poses).
        travel_min_r2: ``steady_travel``'s least R² (``partpose.data.travel.travel_steadiness``).
        side_definition, side_elevation_deg: ``truth``'s definition of the front and the camera
            pitch where a video has no ``camera_up`` (:func:`true_fronts`; the model's
            ``side_definition`` and ``side_camera_elevation_deg``).
        saliency: a :class:`SaliencyCache` (share one to reuse maps between datasets);
            ``None`` makes an in-memory one.

    Items (dicts of tensors): ``image_s``, ``image_t`` ``(3, H, W)``; ``background``
    ``(3, H, W)`` (the clip's temporal median, zeros when the video has none); ``saliency_t``
    ``(1, H, W)``; ``background_valid`` ``()`` bool (a background exists and the camera does
    not move); ``pose3d_t`` ``(17, 3)``, ``pose2d_t`` ``(17, 2)`` with ``has_pose3d_t``,
    ``has_pose2d_t`` ``()`` bool; ``segmentation_t`` ``(H, W)`` int64; ``travel_front``
    ``()`` float32 (the side the video's travel shows: 1 the front, 0 the back, NaN none;
    ``partpose.data.travel``); ``side_front_s``, ``side_front_t`` ``()`` float32 (the side each
    frame is taught to show the side network, by ``side_label``); ``camera_up_s``,
    ``camera_up_t`` ``(3,)`` the world's up in each frame's camera coordinates
    (``Video.camera_up``; NaN when the video has none); ``video_index``, ``frame_s``,
    ``frame_t`` ``()`` int64.
    """

    def __init__(
        self,
        videos: Sequence[Video],
        max_gap: int = 10,
        min_gap: int = 1,
        labels: str = "none",
        semi_fraction: float | None = None,
        seed: int = 0,
        saliency: SaliencyCache | None = None,
        saliency_source: str = "motion",
        travel_min_rate: float = 0.0025,
        side_label: str = "travel",
        travel_min_r2: float = 0.8,
        side_definition: str = "chest",
        side_elevation_deg: float = 0.0,
    ) -> None:
        self.videos = _check_videos(videos)
        if side_label not in SIDE_LABELS:
            raise ValueError(f"side_label must be one of {', '.join(SIDE_LABELS)}, got {side_label!r}")
        if labels not in LABEL_MODES:
            raise ValueError(f"labels must be one of {', '.join(LABEL_MODES)}, got {labels!r}")
        self.labels = labels
        self.use_3d = labels in ("3d", "both")
        self.use_2d = labels in ("2d", "both")
        for video in self.videos:
            if self.use_3d and video.pose3d_cam_mm is None:
                raise ValueError(f"labels={labels!r} needs 3D poses, but video {video.name!r} has none")
            if self.use_2d and video.pose2d_norm is None:
                raise ValueError(f"labels={labels!r} needs 2D poses, but video {video.name!r} has none")
        lengths = [v.num_frames for v in self.videos]
        self.pairs = frame_pairs(lengths, max_gap, min_gap)
        if len(self.pairs) == 0:
            raise ValueError(f"no frame pairs: every video is shorter than min_gap + 1 = {min_gap + 1} frames")
        self.max_gap, self.min_gap = max_gap, min_gap

        self.has_pose3d = [np.full(n, self.use_3d) for n in lengths]
        if semi_fraction is not None:
            if not self.use_3d:
                raise ValueError(f"semi_fraction needs 3D labels (labels='3d' or 'both'), got labels={labels!r}")
            if not 0.0 < semi_fraction <= 1.0:
                raise ValueError(f"semi_fraction must be in (0, 1], got {semi_fraction}")
            total = sum(lengths)
            chosen = np.zeros(total, bool)
            count = max(1, int(round(semi_fraction * total)))
            chosen[np.random.default_rng(seed).choice(total, size=count, replace=False)] = True
            self.has_pose3d = np.split(chosen, np.cumsum(lengths)[:-1])
        self.semi_fraction = semi_fraction

        if saliency_source not in SALIENCY_SOURCES:
            raise ValueError(f"saliency_source must be one of {', '.join(SALIENCY_SOURCES)}, got {saliency_source!r}")
        self.saliency_cache = saliency if saliency is not None else SaliencyCache()
        self.saliency = [
            background_residual_saliency(v.frames, v.background)
            if saliency_source == "motion" and v.background is not None and not v.camera_moves
            else self.saliency_cache.get(v.frames)
            for v in self.videos
        ]
        self.travel_front = travel_fronts(self.videos, travel_min_rate)
        if side_label == "truth":
            self.side_front = [true_fronts(v, side_definition, side_elevation_deg) for v in self.videos]
        else:
            self.side_front = travel_side_fronts(self.videos, self.travel_front, side_label != "travel", travel_min_r2)
        h, w = self.videos[0].size
        self._no_background = torch.zeros(3, h, w)

    def __len__(self) -> int:
        return len(self.pairs)

    def labelled_3d_items(self) -> np.ndarray:
        """``(K,)`` int64: the items whose I_t carries a 3D label, in item order."""
        has = np.array([bool(self.has_pose3d[v][t]) for v, _, t in self.pairs], dtype=bool)
        return np.flatnonzero(has).astype(np.int64)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        v, s, t = (int(x) for x in self.pairs[index])
        video = self.videos[v]
        has3d = bool(self.has_pose3d[v][t])
        has2d = self.use_2d
        j = H36M17.num_joints
        return {
            "image_s": _image(video.frames[s]),
            "image_t": _image(video.frames[t]),
            "background": _image(video.background_at(t)) if video.background is not None else self._no_background.clone(),
            "saliency_t": torch.from_numpy(np.array(self.saliency[v][t]))[None],
            "background_valid": _scalar(video.background is not None and not video.camera_moves),
            "pose3d_t": torch.from_numpy(video.pose3d_cam_mm[t].copy()) if has3d else torch.zeros(j, 3),
            "has_pose3d_t": _scalar(has3d),
            "pose2d_t": torch.from_numpy(video.pose2d_norm[t].copy()) if has2d else torch.zeros(j, 2),
            "has_pose2d_t": _scalar(has2d),
            "segmentation_t": _segmentation(video, t),
            "travel_front": torch.tensor(self.travel_front[v]),
            "side_front_s": torch.tensor(self.side_front[v][s]),
            "side_front_t": torch.tensor(self.side_front[v][t]),
            "camera_up_s": _camera_up(video, s),
            "camera_up_t": _camera_up(video, t),
            "video_index": _scalar(v),
            "frame_s": _scalar(s),
            "frame_t": _scalar(t),
        }


class FrameDataset(Dataset):
    """Every frame of the videos, with its ground truth, for evaluation.

    Items (dicts of tensors): ``image`` ``(3, H, W)``; ``pose3d`` ``(17, 3)`` camera mm and
    ``has_pose3d``; ``pose2d`` ``(17, 2)`` and ``has_pose2d``; ``segmentation`` ``(H, W)``
    int64 (-1 when absent), ``foreground`` ``(H, W)`` bool (segmentation > 0) and
    ``has_segmentation``; ``camera_up`` ``(3,)`` the world's up in camera coordinates
    (``Video.camera_up``; NaN when the video has none); ``video_index``, ``frame`` ``()`` int64.
    """

    def __init__(self, videos: Sequence[Video]) -> None:
        self.videos = _check_videos(videos)
        self.index = np.concatenate(
            [np.stack([np.full(v.num_frames, i), np.arange(v.num_frames)], axis=1) for i, v in enumerate(self.videos)]
        ).astype(np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        v, t = (int(x) for x in self.index[index])
        video = self.videos[v]
        j = H36M17.num_joints
        segmentation = _segmentation(video, t)
        return {
            "image": _image(video.frames[t]),
            "pose3d": torch.from_numpy(video.pose3d_cam_mm[t].copy()) if video.pose3d_cam_mm is not None else torch.zeros(j, 3),
            "has_pose3d": _scalar(video.pose3d_cam_mm is not None),
            "pose2d": torch.from_numpy(video.pose2d_norm[t].copy()) if video.pose2d_norm is not None else torch.zeros(j, 2),
            "has_pose2d": _scalar(video.pose2d_norm is not None),
            "segmentation": segmentation,
            "foreground": segmentation > 0,
            "has_segmentation": _scalar(video.segmentation is not None),
            "camera_up": _camera_up(video, t),
            "video_index": _scalar(v),
            "frame": _scalar(t),
        }


def mirror_pairs(batch: dict[str, torch.Tensor], which: torch.Tensor) -> dict[str, torch.Tensor]:
    """A batch of :class:`PairDataset` items with the pairs ``which`` mirrored left to right.

    The mirror of a pair is the pair a mirror-image world would have filmed
    (``partpose.geometry.mirror``): ``image_s``, ``image_t``, ``background`` and ``saliency_t``
    flipped, ``segmentation_t`` flipped with its left and right parts exchanged, ``pose3d_t``
    and ``pose2d_t`` with x negated and left and right joints exchanged (absent labels are
    zeros, and stay zeros), the world's up ``camera_up_s`` and ``camera_up_t`` with x negated.
    The side a person shows (``travel_front``) and the other entries
    are kept: a mirror shows the camera the same side.

    Args:
        batch: collated items (``B`` first), on any device.
        which: ``(B,)`` bool.
    Returns:
        A new dict; ``batch`` is left as it is.
    """
    check = batch["image_t"]
    if which.shape != (check.shape[0],):
        raise ValueError(f"which must have shape ({check.shape[0]},), got {tuple(which.shape)}")
    which = which.to(check.device)

    def pick(mirrored: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
        return torch.where(which.reshape(-1, *([1] * (kept.ndim - 1))), mirrored, kept)

    out = dict(batch)
    for key in ("image_s", "image_t", "background", "saliency_t"):
        out[key] = pick(batch[key].flip(-1), batch[key])
    out["segmentation_t"] = pick(mirror.mirror_part_labels(batch["segmentation_t"]), batch["segmentation_t"])
    for key in ("camera_up_s", "camera_up_t"):
        out[key] = pick(mirror.mirror_directions(batch[key]), batch[key])
    for key in ("pose3d_t", "pose2d_t"):
        out[key] = pick(mirror.mirror_joints(batch[key]), batch[key])
    return out
