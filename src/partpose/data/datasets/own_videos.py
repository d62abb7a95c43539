"""The user's own videos: a folder of video files or of frame folders, without labels.

Convention:
    ``root`` holds video files (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``, ``.m4v``) and/or
    sub-folders of images (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``, frame order = sorted file
    names); ``root`` may also be a single video file. A recording named ``NAME`` (the file stem
    or the folder name) may come with ``NAME.json`` next to it (schema below); without it every
    frame is used and the crop is the whole frame, padded to a square with black bars.

    Annotation schema (pixel coordinates of the full frame, OpenCV pixel centres)::

        {
          "keypoint_format": "h36m17",            # optional; only then keypoints become labels
          "frames": [
            {"index": 0, "box": [x_min, y_min, x_max, y_max]},
            {"index": 1, "keypoints": [[x, y], [x, y, confidence], ...]},
            ...
          ]
        }

    Only the listed frames are used (0-based, increasing). ``box`` sets the crop (made square,
    with the margin); otherwise the crop surrounds the keypoints with confidence > 0 (any
    number, any order). With ``"keypoint_format": "h36m17"`` every listed frame must carry 17
    keypoints in ``H36M17`` order, and they become ``Video.pose2d_norm`` (weak supervision).
    Whether the camera is static is decided from the frames (``partpose.data.video.camera_moves``);
    a static clip gets the temporal-median background.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partpose.data.datasets.crops import (
    FrameSource,
    ImageList,
    VideoFile,
    crop_box_from_joints,
    full_frame_box,
    plan_clips,
    read_clips,
    save_prepared,
)
from partpose.data.video import Video
from partpose.errors import UserError
from partpose.geometry.skeleton import H36M17

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class Recording:
    """One video or frame folder found under the user's root."""

    name: str
    source: FrameSource
    annotation: Path | None


@dataclass
class FrameAnnotations:
    """What an annotation file says: ``indices (T,)``, crop ``boxes (T, 3)``, optional
    ``pose2d_px (T, 17, 2)``."""

    indices: np.ndarray
    boxes: np.ndarray
    pose2d_px: np.ndarray | None


def find_recordings(root: str | Path) -> list[Recording]:
    """List the videos and frame folders under ``root`` (sorted by name).

    Raises:
        UserError: ``root`` is missing or holds no video and no image folder.
    """
    root = Path(root)
    if root.is_file():
        if root.suffix.lower() not in VIDEO_SUFFIXES:
            raise UserError(f"{root}: not a video file (known: {', '.join(VIDEO_SUFFIXES)})")
        annotation = root.with_suffix(".json")
        return [Recording(root.stem, VideoFile(root), annotation if annotation.is_file() else None)]
    if not root.is_dir():
        raise UserError(f"{root}: folder of videos not found")
    recordings = []
    for entry in sorted(root.iterdir()):
        annotation = root / f"{entry.stem if entry.is_file() else entry.name}.json"
        annotation = annotation if annotation.is_file() else None
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            recordings.append(Recording(entry.stem, VideoFile(entry), annotation))
        elif entry.is_dir():
            images = sorted(f for f in entry.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if images:
                recordings.append(Recording(entry.name, ImageList(entry, images), annotation))
    if not recordings:
        raise UserError(
            f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)}) and no folders of images "
            f"({', '.join(IMAGE_SUFFIXES)}) found"
        )
    return recordings


def _points(value, path: Path, where: str) -> np.ndarray:
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{path}: {where} must be a list of [x, y] or [x, y, confidence]") from None
    if points.ndim != 2 or points.shape[1] not in (2, 3) or points.shape[0] == 0 or not np.isfinite(points).all():
        raise UserError(f"{path}: {where} must be a non-empty list of [x, y] or [x, y, confidence]")
    return points


def load_frame_annotations(path: str | Path, num_frames: int | None, margin: float = 0.2) -> FrameAnnotations:
    """Read an annotation file (schema in the module docstring).

    Args:
        path: the JSON file.
        num_frames: frames in the recording (``None`` when unknown): an index at or beyond it
            is an error.
        margin: crop margin, as in ``crop_box_from_joints``.
    Raises:
        UserError: naming the file and the first problem.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read as JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) or not data["frames"]:
        raise UserError(f"{path}: expected an object with a non-empty 'frames' list")
    labelled = data.get("keypoint_format") == "h36m17"
    if "keypoint_format" in data and not isinstance(data["keypoint_format"], str):
        raise UserError(f"{path}: keypoint_format must be a string")
    indices, boxes, poses = [], [], []
    for k, entry in enumerate(data["frames"]):
        where = f"frames[{k}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("index"), int) or entry["index"] < 0:
            raise UserError(f"{path}: {where} needs a non-negative integer 'index'")
        index = entry["index"]
        if num_frames is not None and index >= num_frames:
            raise UserError(f"{path}: {where} annotates frame {index} but the recording has {num_frames} frames")
        if indices and index <= indices[-1]:
            raise UserError(f"{path}: {where}: frame indices must increase")
        keypoints = _points(entry["keypoints"], path, f"{where}.keypoints") if "keypoints" in entry else None
        if "box" in entry:
            try:
                box = np.asarray(entry["box"], dtype=np.float64)
            except (TypeError, ValueError):
                box = np.zeros(0)
            if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
                raise UserError(f"{path}: {where}.box must be [x_min, y_min, x_max, y_max] with max > min")
            boxes.append(crop_box_from_joints(box.reshape(2, 2), margin))
        elif keypoints is not None:
            valid = keypoints[:, 2] > 0 if keypoints.shape[1] == 3 else np.ones(len(keypoints), bool)
            if not valid.any():
                raise UserError(f"{path}: {where}.keypoints has no keypoint with confidence > 0")
            boxes.append(crop_box_from_joints(keypoints[:, :2], margin, valid=valid))
        else:
            raise UserError(f"{path}: {where} needs a 'box' or 'keypoints'")
        if labelled:
            if keypoints is None or keypoints.shape[0] != H36M17.num_joints:
                raise UserError(f"{path}: {where}: keypoint_format h36m17 needs 17 keypoints on every frame")
            poses.append(keypoints[:, :2])
        indices.append(index)
    return FrameAnnotations(
        indices=np.asarray(indices, dtype=np.int64),
        boxes=np.stack(boxes),
        pose2d_px=np.stack(poses) if labelled else None,
    )


def _first_frame_size(source: FrameSource) -> tuple[int, int]:
    frames = source.read([0])
    try:
        _, image = next(frames)
    except StopIteration:
        raise UserError(f"{source.path}: holds no frame") from None
    finally:
        frames.close()
    return image.shape[0], image.shape[1]


def iter_own_videos(
    root: str | Path,
    resolution: int = 128,
    frame_step: int = 1,
    max_frames: int | None = None,
    margin: float = 0.2,
    segment_frames: int | None = 100,
    box_mode: str = "segment",
    static_camera: bool | None = None,
    background_frames: int = 32,
) -> Iterator[Video]:
    """Yield unlabelled clips (``pose3d_cam_mm`` ``None``; ``pose2d_norm`` only from h36m17
    keypoints) of every recording under ``root``.

    Args:
        frame_step: keep every ``frame_step``-th frame (of the annotated ones, when annotated).
        max_frames: at most this many frames per recording.
        static_camera: ``None`` decides per recording from its frames.
    """
    if frame_step < 1:
        raise ValueError(f"frame step must be >= 1, got {frame_step}")
    for recording in find_recordings(root):
        source = recording.source
        count = source.count()
        if recording.annotation is not None:
            labels = load_frame_annotations(recording.annotation, count, margin)
        else:
            if count is None:
                raise UserError(f"{source.path}: the video does not report its length; add a {recording.name}.json")
            h, w = _first_frame_size(source)
            labels = FrameAnnotations(np.arange(count), np.repeat(full_frame_box(h, w)[None], count, axis=0), None)
        keep = np.arange(labels.indices.size)[::frame_step][:max_frames]
        plans = plan_clips(
            labels.indices[keep],
            labels.boxes[keep],
            name=f"own/{recording.name}",
            subject=recording.name,
            pose2d_px=None if labels.pose2d_px is None else labels.pose2d_px[keep],
            segment_frames=segment_frames,
            box_mode=box_mode,
        )
        yield from read_clips(source, plans, resolution, static_camera=static_camera, background_frames=background_frames)


class OwnVideosDataset(list):
    """The user's videos, read into memory: a ``list[Video]`` (arguments of ``iter_own_videos``)."""

    def __init__(self, root: str | Path, resolution: int = 128, **options) -> None:
        super().__init__(iter_own_videos(root, resolution, **options))
        self.root = Path(root)


def prepare_own_videos(
    root: str | Path,
    out: str | Path,
    resolution: int = 128,
    progress: bool = True,
    frame_step: int = 1,
) -> dict[str, dict]:
    """Crop the user's videos once and write them to ``out`` as the ``train`` split
    (``partpose data prepare --dataset own --root DIR --out DIR``).

    Returns:
        ``{"train": {"config": settings, "videos": [index entries]}}`` (``save_prepared``).
    """
    settings = {"resolution": resolution, "frame_step": frame_step}
    videos = iter_own_videos(root, resolution, frame_step=frame_step)
    return {"train": save_prepared(videos, out, "train", "own", settings, progress)}
