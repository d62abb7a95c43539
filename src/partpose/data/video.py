"""The video sample structure every dataset returns, its temporal-median background, and the
test that tells whether that background is valid (static camera) or not (moving camera).

Convention:
    ``frames`` are person-centred square crops, ``(T, H, W, 3)`` uint8 RGB. Camera-frame 3D
    joints are millimetres with x right, y down, z away from the camera. 2D joints are the
    normalised crop coordinates of ``affine_grid(..., align_corners=False)``: (x, y) order, the
    centre of pixel column ``u`` (0-based) is at ``x = (2u + 1) / W - 1``. Segmentation labels:
    0 = background, ``l + 1`` = ``PARTS[l]`` (``partpose.geometry.parts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partpose.errors import UserError

from partpose.geometry.skeleton import H36M17
from partpose.utils.files import atomic_path

CAMERA_MOTION_PIXEL_THRESHOLD = 10.0
"""τ: a pixel differs from the background when its mean absolute RGB difference exceeds this
(0-255 intensity units; well above sensor noise of a few units)."""

CAMERA_MOTION_BORDER = 0.125
"""Width of the border band that the test looks at, as a fraction of the crop side. In a
person-centred crop the band is background in almost every frame."""

CAMERA_MOTION_FRACTION_THRESHOLD = 0.1
"""A clip's camera moves when, in the median frame, more than this fraction of the border band
differs from the background. On the synthetic benchmark static clips stay below 0.035 (a limb
entering the band) and most moving clips are far above (median 0.6)."""


@dataclass
class Video:
    """One video (or one camera of one sequence) with its optional ground truth.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8, person-centred square crops.
        background: the clip background, or ``None``: ``(H, W, 3)`` uint8 when the crop is
            fixed (the temporal median of a static camera), or ``(T, H, W, 3)`` uint8, one per
            frame, when every frame has its own crop of a static scene (the scene's background
            cropped like the frame). :meth:`background_at` reads either.
        camera_moves: ``True`` when the median background is not valid for this clip.
        pose3d_cam_mm: ``(T, 17, 3)`` float32 camera-frame joints in millimetres, or ``None``.
        pose2d_norm: ``(T, 17, 2)`` float32 normalised crop coordinates, or ``None``.
        segmentation: ``(T, H, W)`` uint8 part labels (0 = background), or ``None``.
        name, subject, action: identifiers for per-subject and per-action breakdowns.
        person_box: ``(T, 3)`` float32, the person's square box in each frame in the camera's
            normalised image plane (a pixel's coordinates minus the principal point, over the
            focal length): its centre ``(x, y)`` and side, as a person detector's boxes give
            them once the camera's intrinsics are known (where the crops follow the person, as
            on the synthetic benchmark, the crops themselves); or ``None``. With the person's
            extent about constant, the side is inversely proportional to their distance
            (``partpose.data.travel``).
        camera_up: ``(T, 3)`` float32, the world's up in each frame's camera coordinates (unit;
            x right, y down, z forward, so a level camera has ``(0, -1, 0)``), where the
            camera's orientation is known; or ``None``. The side network turns a pose to its
            other side about it (``PartPoseModel.encode_sided``).
    """

    frames: np.ndarray
    background: np.ndarray | None = None
    camera_moves: bool = False
    pose3d_cam_mm: np.ndarray | None = None
    pose2d_norm: np.ndarray | None = None
    segmentation: np.ndarray | None = None
    name: str = ""
    subject: str = ""
    action: str = ""
    person_box: np.ndarray | None = None
    camera_up: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def __len__(self) -> int:
        return self.num_frames

    def background_at(self, t: int) -> np.ndarray | None:
        """The ``(H, W, 3)`` background of frame ``t`` (``None`` when the clip has none)."""
        if self.background is None:
            return None
        return self.background[t] if self.background.ndim == 4 else self.background

    def validate(self) -> "Video":
        """Check shapes and dtypes; raise ``ValueError`` naming the first inconsistent field.

        Returns ``self`` so that loaders can write ``return Video(...).validate()``.
        """
        frames = self.frames
        if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"Video {self.name!r}: frames must be a (T, H, W, 3) array, got {_desc(frames)}")
        if frames.dtype != np.uint8:
            raise ValueError(f"Video {self.name!r}: frames must be uint8, got {frames.dtype}")
        t, h, w, _ = frames.shape
        if t < 1:
            raise ValueError(f"Video {self.name!r}: frames must hold at least one frame")
        if h != w:
            raise ValueError(f"Video {self.name!r}: frames must be square crops, got {h}x{w}")
        j = H36M17.num_joints
        per_frame = isinstance(self.background, np.ndarray) and self.background.ndim == 4
        _check_field(self, "background", (t, h, w, 3) if per_frame else (h, w, 3), np.uint8)
        _check_field(self, "pose3d_cam_mm", (t, j, 3), np.float32)
        _check_field(self, "pose2d_norm", (t, j, 2), np.float32)
        _check_field(self, "segmentation", (t, h, w), np.uint8)
        _check_field(self, "person_box", (t, 3), np.float32)
        if self.person_box is not None and not (np.isfinite(self.person_box).all() and (self.person_box[:, 2] > 0).all()):
            raise ValueError(f"Video {self.name!r}: person_box must be finite with positive sides")
        _check_field(self, "camera_up", (t, 3), np.float32)
        if self.camera_up is not None and not (
            np.isfinite(self.camera_up).all() and np.allclose(np.linalg.norm(self.camera_up, axis=1), 1.0, atol=1e-3)
        ):
            raise ValueError(f"Video {self.name!r}: camera_up must hold finite unit vectors")
        if not isinstance(self.camera_moves, (bool, np.bool_)):
            raise ValueError(f"Video {self.name!r}: camera_moves must be a bool, got {type(self.camera_moves).__name__}")
        for key in ("name", "subject", "action"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"Video {self.name!r}: {key} must be a str")
        return self


def _desc(x: object) -> str:
    if isinstance(x, np.ndarray):
        return f"shape {x.shape} {x.dtype}"
    return type(x).__name__


def _check_field(video: Video, key: str, shape: tuple[int, ...], dtype: type) -> None:
    value = getattr(video, key)
    if value is None:
        return
    if not isinstance(value, np.ndarray) or value.shape != shape:
        raise ValueError(f"Video {video.name!r}: {key} must have shape {shape}, got {_desc(value)}")
    if value.dtype != dtype:
        raise ValueError(f"Video {video.name!r}: {key} must be {np.dtype(dtype).name}, got {value.dtype}")


def median_background(frames: np.ndarray) -> np.ndarray:
    """Temporal median of a clip: its background where the camera is static.

    Args:
        frames: ``(T, H, W, 3)`` uint8.
    Returns:
        ``(H, W, 3)`` uint8, the per-pixel, per-channel median over time (the lower median for
        an even ``T``, so the value is always one that occurs in the clip).
    """
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) array, got {_desc(frames)}")
    t = frames.shape[0]
    # Partial sort of each pixel's contiguous time series; the lower median keeps the result an
    # actual sample.
    series = np.ascontiguousarray(frames.reshape(t, -1).T)
    return np.partition(series, (t - 1) // 2, axis=1)[:, (t - 1) // 2].reshape(frames.shape[1:]).astype(np.uint8)


def background_residual_fraction(
    frames: np.ndarray,
    background: np.ndarray,
    pixel_threshold: float = CAMERA_MOTION_PIXEL_THRESHOLD,
    border: float | None = CAMERA_MOTION_BORDER,
) -> np.ndarray:
    """Fraction of the pixels of every frame that differ from ``background``.

    Args:
        frames: ``(T, H, W, 3)`` uint8.
        background: ``(H, W, 3)`` uint8, or ``(T, H, W, 3)`` one per frame.
        pixel_threshold: τ on the mean absolute RGB difference, 0-255 units.
        border: count only the band of this width (fraction of each side, at least one pixel)
            along the image border; ``None`` counts every pixel.
    Returns:
        ``(T,)`` float64 in [0, 1].
    """
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be a (T, H, W, 3) array, got {_desc(frames)}")
    if not isinstance(background, np.ndarray) or background.shape not in (frames.shape[1:], frames.shape):
        raise ValueError(f"background must have shape {frames.shape[1:]} or {frames.shape}, got {_desc(background)}")
    h, w = frames.shape[1:3]
    region = np.ones((h, w), bool)
    if border is not None:
        if not 0.0 < border < 0.5:
            raise ValueError(f"border must be in (0, 0.5), got {border}")
        bh, bw = max(1, int(round(border * h))), max(1, int(round(border * w)))
        region[bh:h - bh, bw:w - bw] = False
    background_band = background[..., region, :] if background.ndim == 4 else background[region]
    diff = np.abs(frames[:, region].astype(np.int16) - background_band.astype(np.int16)).mean(axis=-1)
    return (diff > pixel_threshold).mean(axis=1)


def camera_moves(
    frames: np.ndarray,
    background: np.ndarray | None = None,
    threshold: float = CAMERA_MOTION_FRACTION_THRESHOLD,
    pixel_threshold: float = CAMERA_MOTION_PIXEL_THRESHOLD,
    border: float | None = CAMERA_MOTION_BORDER,
) -> bool:
    """Decide whether a clip's camera moves, i.e. whether its median background is invalid.

    The statistic is the median over frames of the fraction of pixels whose mean absolute RGB
    difference to the background exceeds ``pixel_threshold`` (τ), counted in a band along the
    crop's border (``border``). With a static camera the temporal median is the background and
    the band, away from the centred person, matches it up to noise; with a moving camera the
    background shifts and the textured parts of the band differ. The median over frames ignores
    a few outlier frames (a flash, a limb sweeping through the band). A flat, textureless
    background that moves reads as static, which is right for this purpose: its median is
    still a valid background.

    Args:
        frames: ``(T, H, W, 3)`` uint8.
        background: ``(H, W, 3)`` uint8; ``None`` uses ``median_background(frames)``.
        threshold: the camera moves when the median fraction is above this.
        pixel_threshold: τ, 0-255 units.
        border: band width as a fraction of the side; ``None`` uses the whole frame (for crops
            that are not person-centred, raise ``threshold`` above the person's share).
    Returns:
        ``True`` when the camera moves.
    """
    if background is None:
        background = median_background(frames)
    fractions = background_residual_fraction(frames, background, pixel_threshold, border)
    return bool(np.median(fractions) > threshold)


_ARRAY_FIELDS = ("frames", "background", "pose3d_cam_mm", "pose2d_norm", "segmentation", "person_box", "camera_up")


def _video_entry(video: Video) -> dict:
    return {"name": video.name, "subject": video.subject, "action": video.action,
            "camera_moves": bool(video.camera_moves),
            "arrays": [k for k in _ARRAY_FIELDS if getattr(video, k) is not None]}


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def save_videos(path: str | Path, videos: list[Video]) -> None:
    """Write videos to one uncompressed ``.npz`` (``"<i>/<field>"`` arrays and a JSON
    ``index``), atomically (a reader never sees a half-written file)."""
    arrays: dict[str, np.ndarray] = {}
    index = []
    for i, video in enumerate(videos):
        entry = _video_entry(video)
        arrays.update({f"{i}/{key}": getattr(video, key) for key in entry["arrays"]})
        index.append(entry)
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    _atomic_savez(Path(path), arrays)


def load_videos(path: str | Path) -> list[Video]:
    """Read videos written by :func:`save_videos` (or one written by :func:`save_video`)."""
    path = Path(path)
    try:
        with np.load(path) as data:
            index = json.loads(bytes(data["index"]).decode())
            videos = []
            for i, entry in enumerate(index):
                arrays = {key: data[f"{i}/{key}"] for key in entry["arrays"]}
                videos.append(Video(name=entry["name"], subject=entry["subject"], action=entry["action"],
                                    camera_moves=bool(entry["camera_moves"]), **arrays).validate())
    except FileNotFoundError:
        raise UserError(f"{path}: no such video file") from None
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a partpose video file ({error})") from None
    return videos


def save_video(path: str | Path, video: Video) -> None:
    """Write one video as an ``.npz`` (the :func:`save_videos` layout with one entry)."""
    save_videos(path, [video])


def load_video(path: str | Path) -> Video:
    """Read one video written by :func:`save_video`."""
    videos = load_videos(path)
    if len(videos) != 1:
        raise UserError(f"{path}: holds {len(videos)} videos, expected one")
    return videos[0]
