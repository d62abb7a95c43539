"""From full frames to person-centred square crops: boxes, resampling, frame readers, the clip
builder every real-dataset loader shares, and the on-disk layout of prepared datasets.

Convention:
    Source-image pixel coordinates are OpenCV's: ``(x, y)`` with x right and y down, the centre
    of pixel column ``u`` at ``x = u`` (so the pixel spans ``[u − ½, u + ½]``). A crop box is
    ``(x0, y0, side)`` in those coordinates: ``x0, y0`` are the *outer* left/top edges of the
    square and ``side`` its width in source pixels. A crop of ``size`` pixels samples the box so
    that its normalised coordinates follow ``affine_grid(..., align_corners=False)``: ``−1`` and
    ``1`` are the box's outer edges and the centre of crop column ``i`` is at ``(2i + 1)/size − 1``.
    Hence a source point ``x`` lands at ``2 (x − x0) / side − 1`` whatever the crop size.

    Frames are RGB uint8 ``(H, W, 3)``. Pixels outside the source image are black.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from partpose.data.video import Video, camera_moves, load_video, median_background, save_video
from partpose.errors import UserError

MAX_AREA_FACTOR = 8
"""Crops that shrink the source by ``k >= 2`` are sampled at ``k·size`` and box-averaged down
(an exact ``k × k`` area filter, no aliasing), ``k`` at most this."""


# --------------------------------------------------------------------------------------------
# Boxes and coordinates
# --------------------------------------------------------------------------------------------


def crop_box_from_joints(
    joints2d_px: np.ndarray,
    margin: float = 0.2,
    valid: np.ndarray | None = None,
    min_side: float = 16.0,
) -> np.ndarray:
    """Square box around the 2D joints of each frame.

    The box is centred on the joints' bounding box and its side is ``(1 + 2·margin)`` times the
    bounding box's longer side (joints sit at the limbs' ends, not at the body's outline), and at
    least ``min_side``.

    Args:
        joints2d_px: ``(..., J, 2)`` pixel coordinates ``(x, y)``.
        margin: extra room on each side, as a fraction of the longer side.
        valid: ``(..., J)`` bool, the joints to use (NaN joints are always ignored).
        min_side: pixels.
    Returns:
        ``(..., 3)`` float64 boxes ``(x0, y0, side)``.
    """
    joints = np.asarray(joints2d_px, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-1] != 2:
        raise ValueError(f"joints2d_px must have shape (..., J, 2), got {joints.shape}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    use = np.isfinite(joints).all(axis=-1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != joints.shape[:-1]:
            raise ValueError(f"valid must have shape {joints.shape[:-1]}, got {valid.shape}")
        use &= valid
    if not use.any(axis=-1).all():
        raise ValueError("every frame needs at least one valid joint to place a crop box")
    x = np.where(use, joints[..., 0], np.nan)
    y = np.where(use, joints[..., 1], np.nan)
    x_min, x_max = np.nanmin(x, axis=-1), np.nanmax(x, axis=-1)
    y_min, y_max = np.nanmin(y, axis=-1), np.nanmax(y, axis=-1)
    side = np.maximum(np.maximum(x_max - x_min, y_max - y_min) * (1.0 + 2.0 * margin), min_side)
    cx, cy = 0.5 * (x_min + x_max), 0.5 * (y_min + y_max)
    return np.stack([cx - side / 2, cy - side / 2, side], axis=-1)


def union_box(boxes: np.ndarray) -> np.ndarray:
    """The smallest square box, centred on their union, that holds every box of ``(T, 3)``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 3 or boxes.shape[0] == 0:
        raise ValueError(f"boxes must have shape (T, 3) with T >= 1, got {boxes.shape}")
    x_min, y_min = boxes[:, 0].min(), boxes[:, 1].min()
    x_max, y_max = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 2]).max()
    side = max(x_max - x_min, y_max - y_min)
    cx, cy = 0.5 * (x_min + x_max), 0.5 * (y_min + y_max)
    return np.array([cx - side / 2, cy - side / 2, side])


def full_frame_box(height: int, width: int) -> np.ndarray:
    """The centred square box of side ``max(H, W)`` that holds the whole frame (black bars)."""
    side = float(max(height, width))
    return np.array([(width - side) / 2 - 0.5, (height - side) / 2 - 0.5, side])


def image_plane_boxes(
    boxes_px: np.ndarray, intrinsics: np.ndarray | None, image_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Pixel boxes → ``Video.person_box``: centre and side in the camera's normalised image plane.

    Args:
        boxes_px: ``(T, 3)`` ``(x0, y0, side)`` source pixels.
        intrinsics: ``(4,)`` ``(fx, fy, cx, cy)``; ``None`` takes nominal ones from
            ``image_size``: the focal length the longer image side (a 53° field of view), the
            principal point the image centre. The travel cue reads only ratios of sides
            (``partpose.data.travel``), which the focal length cancels from.
        image_size: ``(H, W)`` of the source frames, needed when ``intrinsics`` is ``None``.
    Returns:
        ``(T, 3)`` float32 ``((cx_box - cx) / fx, (cy_box - cy) / fy, side / sqrt(fx fy))``.
    """
    boxes = np.asarray(boxes_px, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 3:
        raise ValueError(f"boxes_px must have shape (T, 3), got {boxes.shape}")
    if intrinsics is None:
        if image_size is None:
            raise ValueError("image_plane_boxes needs the intrinsics or the image size")
        h, w = image_size
        intrinsics = np.array([max(h, w), max(h, w), (w - 1) / 2, (h - 1) / 2], dtype=np.float64)
    fx, fy, cx, cy = np.asarray(intrinsics, dtype=np.float64)
    if not (fx > 0 and fy > 0):
        raise ValueError(f"focal lengths must be > 0, got {fx}, {fy}")
    half = boxes[:, 2] / 2
    centre_x = (boxes[:, 0] + half - cx) / fx
    centre_y = (boxes[:, 1] + half - cy) / fy
    return np.stack([centre_x, centre_y, boxes[:, 2] / np.sqrt(fx * fy)], axis=1).astype(np.float32)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def pixels_to_crop_normalised(joints_px: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Source pixel coordinates → normalised crop coordinates (see the module convention).

    Args:
        joints_px: ``(..., J, 2)`` pixels.
        box: ``(..., 3)`` boxes ``(x0, y0, side)`` broadcastable to ``joints_px[..., 0, :]``.
    Returns:
        ``(..., J, 2)`` float32, ``2 (p − (x0, y0)) / side − 1``.
    """
    joints = np.asarray(joints_px, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    if joints.shape[-1] != 2 or box.shape[-1] != 3:
        raise ValueError(f"expected joints (..., J, 2) and boxes (..., 3), got {joints.shape} and {box.shape}")
    origin = box[..., None, :2]
    side = box[..., None, 2:3]
    return (2.0 * (joints - origin) / side - 1.0).astype(np.float32)


def crop_normalised_to_pixels(joints_norm: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Inverse of ``pixels_to_crop_normalised``: ``(..., J, 2)`` normalised → source pixels."""
    joints = np.asarray(joints_norm, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64)
    return box[..., None, :2] + 0.5 * (joints + 1.0) * box[..., None, 2:3]


def crop_and_resize(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Resample the square ``box`` of ``image`` to ``size × size`` pixels (bilinear).

    When the box is at least twice the crop, it is sampled at ``k·size`` and averaged over
    ``k × k`` blocks (``k = min(side // size, MAX_AREA_FACTOR)``), which keeps the geometry of
    the module convention exactly and avoids aliasing.

    Args:
        image: ``(H, W, 3)`` (or ``(H, W)``) uint8.
        box: ``(3,)`` ``(x0, y0, side)`` in source pixels.
        size: output side in pixels.
    Returns:
        ``(size, size, 3)`` (or ``(size, size)``) uint8; outside the image is black.
    """
    box = np.asarray(box, dtype=np.float64)
    if box.shape != (3,) or not np.isfinite(box).all() or box[2] <= 0:
        raise ValueError(f"box must be a finite (x0, y0, side) with side > 0, got {box}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    x0, y0, side = box
    k = int(min(max(side // size, 1), MAX_AREA_FACTOR))
    inner = size * k
    step = side / inner
    # destination pixel i (centre i) samples the source at x0 + (i + ½)·step (OpenCV centres).
    dst_to_src = np.array([[step, 0.0, x0 + 0.5 * step], [0.0, step, y0 + 0.5 * step]])
    out = cv2.warpAffine(
        image,
        dst_to_src,
        (inner, inner),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


# --------------------------------------------------------------------------------------------
# Frame sources
# --------------------------------------------------------------------------------------------


class FrameSource(Protocol):
    """Frames of one recording, read in increasing order."""

    path: Path

    def count(self) -> int | None:
        """Number of frames, or ``None`` when the container does not say."""

    def read(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, RGB uint8 (H, W, 3))`` for the sorted ``indices``."""


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8 ``(H, W, 3)``; ``UserError`` naming the file if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{path}: cannot read the image (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class VideoFile:
    """A video file read with OpenCV (mp4, avi, ...), frame ``i`` = the ``i``-th decoded frame."""

    path: Path

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: video file not found")

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise UserError(f"{self.path}: cannot open as a video (unreadable or not a video)")
        return capture

    def count(self) -> int | None:
        capture = self._open()
        n = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        return n if n > 0 else None

    def read(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        wanted = sorted(set(int(i) for i in indices))
        if not wanted:
            return
        capture = self._open()
        try:
            position = 0
            for index in wanted:
                while position < index:
                    if not capture.grab():
                        raise UserError(
                            f"{self.path}: truncated or unreadable video: decoding stopped after "
                            f"{position} frames but frame {index} is needed"
                        )
                    position += 1
                ok, frame = capture.read()
                if not ok or frame is None:
                    raise UserError(
                        f"{self.path}: truncated or unreadable video: decoding stopped after "
                        f"{position} frames but frame {index} is needed"
                    )
                position += 1
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


@dataclass
class ImageFolder:
    """A folder of numbered images: frame ``i`` is ``{prefix}{i + first:0{digits}d}{suffix}``."""

    path: Path
    prefix: str = ""
    digits: int = 6
    suffix: str = ".jpg"
    first: int = 0

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_dir():
            raise UserError(f"{self.path}: image folder not found")

    def file(self, index: int) -> Path:
        return self.path / f"{self.prefix}{index + self.first:0{self.digits}d}{self.suffix}"

    def count(self) -> int | None:
        pattern = re.compile(rf"^{re.escape(self.prefix)}\d+{re.escape(self.suffix)}$")
        return sum(1 for entry in self.path.iterdir() if pattern.match(entry.name))

    def read(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        for index in sorted(set(int(i) for i in indices)):
            file = self.file(index)
            if not file.is_file():
                raise UserError(f"{file}: image missing (frame {index} of {self.path})")
            yield index, read_image(file)


@dataclass
class ImageList:
    """Frames given as a list of image files: frame ``i`` is ``files[i]``."""

    path: Path
    files: Sequence[Path]

    def count(self) -> int | None:
        return len(self.files)

    def read(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        for index in sorted(set(int(i) for i in indices)):
            if not 0 <= index < len(self.files):
                raise UserError(f"{self.path}: frame {index} requested but the folder holds {len(self.files)} images")
            yield index, read_image(self.files[index])


def check_frame_count(source: FrameSource, expected: int, max_extra_frames: int = 0) -> None:
    """Raise ``UserError`` unless ``source`` holds ``expected`` frames (up to ``max_extra_frames``
    more are tolerated: some recordings run a few frames past their annotations). A source that
    does not report its length is checked while it is read."""
    n = source.count()
    if n is None:
        return
    if n < expected or n > expected + max_extra_frames:
        extra = f" (at most {max_extra_frames} extra allowed)" if max_extra_frames else ""
        raise UserError(
            f"{source.path}: holds {n} frames but the annotations describe {expected}{extra}; "
            "frames and annotations do not match"
        )


# --------------------------------------------------------------------------------------------
# Clips: frames + boxes + labels → Video objects
# --------------------------------------------------------------------------------------------


@dataclass
class ClipPlan:
    """One future ``Video``: which source frames, cropped where, with which labels.

    Attributes:
        frame_indices: ``(T,)`` source frame indices, increasing.
        boxes: ``(T, 3)`` crop box of every frame (all equal for a fixed-box clip).
        fixed_box: every frame uses the same box, so a static camera gives a valid background.
        pose3d_cam_mm: ``(T, 17, 3)`` camera-frame joints, mm, or ``None``.
        pose2d_px: ``(T, 17, 2)`` source pixels, or ``None``.
        person_boxes: ``(T, 3)`` the person's own box in every frame, source pixels
            ``(x0, y0, side)`` (``crop_box_from_joints``; a fixed-box clip's crop is their union),
            or ``None``.
        intrinsics: ``(4,)`` the source camera's ``(fx, fy, cx, cy)`` in pixels, or ``None``:
            :func:`image_plane_boxes` then takes nominal ones from the frame size.
        camera_up: ``(T, 3)`` the world's up in camera coordinates (``Video.camera_up``), or
            ``None``.
    """

    frame_indices: np.ndarray
    boxes: np.ndarray
    fixed_box: bool
    name: str
    subject: str = ""
    action: str = ""
    pose3d_cam_mm: np.ndarray | None = None
    pose2d_px: np.ndarray | None = None
    person_boxes: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    camera_up: np.ndarray | None = None


def plan_clips(
    frame_indices: np.ndarray,
    frame_boxes: np.ndarray,
    name: str,
    subject: str = "",
    action: str = "",
    pose3d_cam_mm: np.ndarray | None = None,
    pose2d_px: np.ndarray | None = None,
    segment_frames: int | None = 25,
    box_mode: str = "segment",
    intrinsics: np.ndarray | None = None,
    camera_up: np.ndarray | None = None,
) -> list[ClipPlan]:
    """Cut a run of annotated frames into clips and choose their crop boxes.

    ``box_mode="segment"``: one fixed box per clip, the union of its frames' boxes, so a static
    camera keeps a static background (the clip's background is then the temporal median).
    ``box_mode="frame"``: every frame keeps its own box (tighter crops; the crop window moves,
    so the clip has no valid background).

    Args:
        frame_indices: ``(T,)`` source frame indices, increasing.
        frame_boxes: ``(T, 3)`` per-frame boxes (``crop_box_from_joints``).
        segment_frames: frames per clip (``None``: one clip); clips are named ``{name}#{k}``
            when there is more than one.
        intrinsics: ``(4,)`` ``(fx, fy, cx, cy)`` of the source camera, or ``None`` (nominal).
        camera_up: ``(T, 3)`` the world's up in camera coordinates per frame, or ``None``.

    Every clip keeps ``frame_boxes`` as its person boxes (``Video.person_box`` once read).
    """
    frame_indices = np.asarray(frame_indices, dtype=np.int64)
    frame_boxes = np.asarray(frame_boxes, dtype=np.float64)
    t = frame_indices.shape[0]
    if frame_boxes.shape != (t, 3):
        raise ValueError(f"frame_boxes must have shape ({t}, 3), got {frame_boxes.shape}")
    if box_mode not in ("segment", "frame"):
        raise ValueError(f"box_mode must be 'segment' or 'frame', got {box_mode!r}")
    if intrinsics is not None and np.shape(intrinsics) != (4,):
        raise ValueError(f"intrinsics must be (fx, fy, cx, cy), got shape {np.shape(intrinsics)}")
    if camera_up is not None and np.shape(camera_up) != (t, 3):
        raise ValueError(f"camera_up must have shape ({t}, 3), got {np.shape(camera_up)}")
    if segment_frames is not None and segment_frames < 1:
        raise ValueError(f"segment_frames must be >= 1, got {segment_frames}")
    if t and np.any(np.diff(frame_indices) <= 0):
        raise ValueError(f"{name}: frame indices must increase")
    step = t if segment_frames is None else segment_frames
    starts = list(range(0, t, max(step, 1)))
    # Fold a short tail into the previous clip so that no clip is a lone frame or two.
    if len(starts) > 1 and t - starts[-1] < max(2, step // 2):
        starts.pop()
    plans = []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else t
        part = slice(start, stop)
        boxes = frame_boxes[part]
        if box_mode == "segment":
            boxes = np.repeat(union_box(boxes)[None], stop - start, axis=0)
        plans.append(
            ClipPlan(
                frame_indices=frame_indices[part],
                boxes=boxes,
                fixed_box=box_mode == "segment",
                name=name if len(starts) == 1 else f"{name}#{k}",
                subject=subject,
                action=action,
                pose3d_cam_mm=None if pose3d_cam_mm is None else np.asarray(pose3d_cam_mm)[part],
                pose2d_px=None if pose2d_px is None else np.asarray(pose2d_px)[part],
                person_boxes=frame_boxes[part],
                intrinsics=None if intrinsics is None else np.asarray(intrinsics, dtype=np.float64),
                camera_up=None if camera_up is None else np.asarray(camera_up, dtype=np.float64)[part],
            )
        )
    return plans


def read_clips(
    source: FrameSource,
    plans: Sequence[ClipPlan],
    size: int,
    static_camera: bool | None = True,
    background_frames: int = 32,
) -> list[Video]:
    """Read every planned clip of one recording in a single pass over its frames.

    The background of a fixed-box clip is the temporal median of ``background_frames`` frames
    spread over the whole recording (not only the clip, so a person who stands still for a
    while does not stay in it), each cropped with the clip's box. ``static_camera=None`` decides
    from those frames with ``partpose.data.video.camera_moves``.

    Args:
        source: the recording.
        plans: clips from ``plan_clips`` (any number, any order).
        size: crop side in pixels.
        static_camera: ``True``/``False`` when known, ``None`` to detect.
        background_frames: frames sampled for the median (and the camera-motion test).
    Returns:
        One validated ``Video`` per plan, in the order of ``plans``.
    """
    if not plans:
        return []
    all_frames = np.unique(np.concatenate([p.frame_indices for p in plans]))
    sample_count = min(background_frames, all_frames.size)
    sample = all_frames[np.unique(np.linspace(0, all_frames.size - 1, sample_count).round().astype(int))]
    sample_slot = {int(i): k for k, i in enumerate(sample)}
    users: dict[int, list[tuple[int, int]]] = {}
    for p_index, plan in enumerate(plans):
        for position, frame in enumerate(plan.frame_indices):
            users.setdefault(int(frame), []).append((p_index, position))
    crops = [np.zeros((len(p.frame_indices), size, size, 3), np.uint8) for p in plans]
    # A clip gets a background when its box is fixed and the camera is (or may be) static.
    background_boxes = [p.boxes[0] if p.fixed_box and static_camera is not False else None for p in plans]
    background_crops = [
        np.zeros((sample.size, size, size, 3), np.uint8) if box is not None else None for box in background_boxes
    ]
    thumbnails: list[np.ndarray] = []
    source_size = None
    for index, image in source.read(all_frames):
        source_size = source_size or image.shape[:2]
        for p_index, position in users.get(index, ()):
            crops[p_index][position] = crop_and_resize(image, plans[p_index].boxes[position], size)
        slot = sample_slot.get(index)
        if slot is not None:
            for p_index, box in enumerate(background_boxes):
                if box is not None:
                    background_crops[p_index][slot] = crop_and_resize(image, box, size)
            if static_camera is None:
                thumbnails.append(_thumbnail(image))
    if static_camera is None:
        moving = camera_moves(np.stack(thumbnails)) if len(thumbnails) >= 2 else False
    else:
        moving = not static_camera
    videos = []
    for plan, frames, bg in zip(plans, crops, background_crops):
        valid_background = plan.fixed_box and not moving
        pose2d = None
        if plan.pose2d_px is not None:
            pose2d = pixels_to_crop_normalised(plan.pose2d_px, plan.boxes)
        pose3d = None if plan.pose3d_cam_mm is None else np.asarray(plan.pose3d_cam_mm, dtype=np.float32)
        videos.append(
            Video(
                frames=frames,
                background=median_background(bg) if valid_background and bg is not None else None,
                camera_moves=not valid_background,
                pose3d_cam_mm=pose3d,
                pose2d_norm=pose2d,
                person_box=None if plan.person_boxes is None else image_plane_boxes(
                    plan.person_boxes, plan.intrinsics, source_size),
                camera_up=None if plan.camera_up is None else _unit(plan.camera_up).astype(np.float32),
                name=plan.name,
                subject=plan.subject,
                action=plan.action,
            ).validate()
        )
    return videos


def _thumbnail(image: np.ndarray, longest: int = 160) -> np.ndarray:
    h, w = image.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def subsample(n: int, step: int, max_frames: int | None = None) -> np.ndarray:
    """Indices ``0, step, 2·step, ...`` below ``n``, at most ``max_frames`` of them."""
    if step < 1:
        raise ValueError(f"frame step must be >= 1, got {step}")
    indices = np.arange(0, n, step, dtype=np.int64)
    return indices if max_frames is None else indices[: max(0, int(max_frames))]


# --------------------------------------------------------------------------------------------
# Prepared datasets on disk
# --------------------------------------------------------------------------------------------

INDEX_FILE = "index.json"


def _safe_relative_path(name: str) -> Path:
    parts = [re.sub(r"[^A-Za-z0-9._ -]", "_", part).strip() or "_" for part in name.split("/")]
    return Path(*[p if p not in (".", "..") else "_" for p in parts])


def save_prepared(
    videos: Iterable[Video],
    out: str | Path,
    split: str,
    dataset: str,
    settings: dict | None = None,
    progress: bool = True,
) -> dict:
    """Write clips to ``{out}/{split}/{name}.npz`` as they come, one file per clip.

    This is the layout of the synthetic benchmark's files (``partpose data synth``): each file
    is written by ``partpose.data.video.save_video`` and ``{out}/index.json`` holds
    ``{"dataset": ..., "splits": {split: {"config": settings, "videos": [{"name", "file",
    "subject", "action", "frames", "camera_moves"}, ...]}}}``, one entry per split prepared so
    far. Only the clip being written is kept in memory (the loaders yield one recording at a
    time). Characters other than letters, digits, ``._ -`` in names become ``_`` in file names.

    Returns:
        The index entry of this split.
    """
    from tqdm import tqdm

    out = Path(out)
    index_path = out / INDEX_FILE
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    if index.get("dataset", dataset) != dataset:
        raise UserError(f"{index_path}: already holds dataset {index['dataset']!r}; choose another --out")
    entries: list[dict] = []
    seen: set[str] = set()
    for video in tqdm(videos, desc=f"{dataset} {split}", unit=" clips", disable=not progress):
        safe = _safe_relative_path(video.name)
        relative = (Path(split) / safe.with_name(safe.name + ".npz")).as_posix()
        if relative in seen:
            raise UserError(f"{out / relative}: two clips map to the same file name")
        seen.add(relative)
        save_video(out / relative, video)
        entries.append({
            "name": video.name, "file": relative, "subject": video.subject, "action": video.action,
            "frames": video.num_frames, "camera_moves": bool(video.camera_moves),
        })
    if not entries:
        raise UserError(f"{dataset} {split}: no video to prepare (check the dataset folder and options)")
    entry = {"config": settings or {}, "videos": entries}
    index["dataset"] = dataset
    index.setdefault("splits", {})[split] = entry
    index_path.write_text(json.dumps(index, indent=1))
    return entry


def load_prepared(out: str | Path, split: str) -> list[Video]:
    """Read the clips of one split of a folder in the ``save_prepared`` layout (also the output
    of ``partpose data synth``).

    Raises:
        UserError: no index, unknown split, or a listed file missing (naming the path).
    """
    out = Path(out)
    index_path = out / INDEX_FILE
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise UserError(f"{index_path}: not a prepared dataset (run `partpose data prepare` first)") from None
    except ValueError as error:
        raise UserError(f"{index_path}: cannot read as JSON ({error})") from None
    splits = index.get("splits", {})
    if split not in splits:
        raise UserError(f"{index_path}: no split {split!r} (prepared: {', '.join(splits) or 'none'})")
    videos: list[Video] = []
    for entry in splits[split]["videos"]:
        path = out / entry["file"]
        if not path.is_file():
            raise UserError(f"{path}: listed in {index_path} but missing")
        videos.append(load_video(path))
    return videos
