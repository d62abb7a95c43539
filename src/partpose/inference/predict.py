"""3D poses of new images: image / folder / video → square crops → poses, segmentation, files.

Convention:
    Source frames are RGB uint8 ``(H, W, 3)``. A crop box is ``(x0, y0, side)`` in source
    pixels with OpenCV's pixel centres (``partpose.data.datasets.crops``): pixel column ``u``
    spans ``[u − ½, u + ½]``, so a frame's outer edges are ``−½`` and ``W − ½``. Crops are
    ``(S, S, 3)`` uint8 with ``S`` the model resolution. Poses follow docs/architecture.md:
    ``pose_cam_mm (N, 17, 3)`` root-relative camera frame in mm, ``q (N, 17, 2)`` normalised
    crop coordinates, ``depth (N, 17)`` root-relative metres; ``q_px`` maps ``q`` back to
    source pixels through each frame's box.

    Temporal smoothing (``partpose.utils.smoothing.smooth_sequence``) filters along the frame axis only; it is applied to
    ``pose_cam_mm``, ``q`` and ``depth`` (the outputs) and the unsmoothed values are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from partpose.data.datasets.crops import crop_and_resize, crop_normalised_to_pixels, full_frame_box, read_image
from partpose.errors import UserError
from partpose.geometry import facing
from partpose.geometry.skeleton import H36M17
from partpose.geometry.view_smoothing import smooth_side, smooth_view
from partpose.inference import figures
from partpose.models.partpose_model import PartPoseModel
from partpose.utils.smoothing import smooth_sequence

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")
BOX_MODES = ("centre", "full")
OVERLAY_FORMATS = ("auto", "gif", "mp4", "none")

TRUNCATION_TOLERANCE = 0.02
"""A video is truncated when it decodes fewer than ``(1 − this)`` of the frames its container
announces (minus one frame): some containers only estimate their frame count."""


# --------------------------------------------------------------------------------------------
# Reading frames and cropping
# --------------------------------------------------------------------------------------------


def parse_box(text: str) -> str | np.ndarray:
    """``--box`` → ``"centre"``, ``"full"`` or a ``(3,)`` float64 box ``(x0, y0, side)``.

    ``centre`` (also ``center``): the largest centred square of the frame. ``full``: the
    smallest centred square that holds the whole frame (black bars). ``x0,y0,side``: an explicit
    box in source pixels.

    Raises:
        UserError: anything else, or a box whose side is not positive.
    """
    value = text.strip().lower()
    if value in ("centre", "center"):
        return "centre"
    if value == "full":
        return "full"
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 3 or not np.isfinite(numbers).all():
        raise UserError(f"--box must be centre, full or x0,y0,side in pixels, got {text!r}")
    if numbers[2] <= 0:
        raise UserError(f"--box side must be positive, got {numbers[2]:g}")
    return np.asarray(numbers, dtype=np.float64)


def frame_box(box: str | np.ndarray, height: int, width: int) -> np.ndarray:
    """The crop box of one ``height × width`` frame for a :func:`parse_box` value.

    Returns:
        ``(3,)`` float64 ``(x0, y0, side)``; for ``centre`` the side is ``min(H, W)`` and the
        square is centred: ``x0 = (W − side)/2 − ½``, ``y0 = (H − side)/2 − ½``.
    """
    if isinstance(box, np.ndarray):
        return box.astype(np.float64)
    if box == "full":
        return full_frame_box(height, width)
    if box == "centre":
        side = float(min(height, width))
        return np.array([(width - side) / 2 - 0.5, (height - side) / 2 - 0.5, side])
    raise UserError(f"unknown box mode {box!r}; use {', '.join(BOX_MODES)} or x0,y0,side")


def read_image_quietly(path: str | Path) -> np.ndarray:
    """``crops.read_image`` (RGB uint8, ``UserError`` naming an unreadable file) with OpenCV's
    own log messages silenced, so that a corrupt file yields one error line."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return read_image(Path(path))
    finally:
        cv2.utils.logging.setLogLevel(level)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def list_images(folder: str | Path) -> list[Path]:
    """The image files of a folder (not its sub-folders), in natural order (``2.png`` before
    ``10.png``).

    Raises:
        UserError: no such folder, or no image in it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found")
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if not files:
        raise UserError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def input_kind(path: str | Path) -> str:
    """``"folder"``, ``"image"`` or ``"video"`` by what ``path`` is and its suffix.

    Raises:
        UserError: missing path or an unknown suffix.
    """
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise UserError(f"{path}: unknown input type {suffix or '(no suffix)'!r}; give an image "
                    f"({', '.join(IMAGE_SUFFIXES)}), a folder of images or a video ({', '.join(VIDEO_SUFFIXES)})")


def iter_video(path: str | Path, every: int = 1, max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode a video with PyAV, yielding ``(frame index, RGB uint8 (H, W, 3))``.

    Args:
        every: keep every ``every``-th decoded frame (index 0, every, 2·every, ...).
        max_frames: stop after yielding this many frames.
    Raises:
        UserError: the file cannot be opened or holds no video stream, decoding fails part-way,
            or fewer frames decode than the container announces (:data:`TRUNCATION_TOLERANCE`).
    """
    import av

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise UserError(f"{path}: cannot open as a video ({_ffmpeg_message(error)})") from None
    decoded = yielded = 0
    try:
        if not container.streams.video:
            raise UserError(f"{path}: holds no video stream")
        stream = container.streams.video[0]
        announced = int(stream.frames or 0)
        try:
            for frame in container.decode(stream):
                if decoded % every == 0:
                    yield decoded, frame.to_ndarray(format="rgb24")
                    yielded += 1
                    if max_frames is not None and yielded >= max_frames:
                        return
                decoded += 1
        except av.FFmpegError as error:
            raise UserError(f"{path}: truncated or corrupt video: decoding failed after {decoded} frames "
                            f"({_ffmpeg_message(error)})") from None
        if decoded == 0:
            raise UserError(f"{path}: no frame could be decoded (empty or corrupt video)")
        if announced and decoded < announced * (1.0 - TRUNCATION_TOLERANCE) - 1:
            raise UserError(f"{path}: truncated video: {decoded} of the {announced} announced frames decode")
    finally:
        container.close()


def _ffmpeg_message(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return str(text).splitlines()[0] if str(text) else type(error).__name__


def video_fps(path: str | Path) -> float | None:
    """Frame rate of a video's first stream (``None`` when unknown or unreadable)."""
    import av

    try:
        with av.open(str(path)) as container:
            rate = container.streams.video[0].average_rate if container.streams.video else None
            return float(rate) if rate else None
    except (av.FFmpegError, OSError):
        return None


@dataclass
class FrameCrops:
    """Square crops of the input frames.

    Attributes:
        images: ``(N, S, S, 3)`` uint8 crops.
        names: ``N`` frame names (file names, or ``frame_000123`` for video frame 123).
        boxes: ``(N, 3)`` float64 crop boxes ``(x0, y0, side)`` in source pixels.
        source_sizes: ``(N, 2)`` int64 ``(H, W)`` of the source frames.
        kind: ``"image"``, ``"folder"`` or ``"video"``.
        fps: frame rate of a video input (after ``every``), else ``None``.
    """

    images: np.ndarray
    names: list[str]
    boxes: np.ndarray
    source_sizes: np.ndarray
    kind: str
    fps: float | None = None

    def __len__(self) -> int:
        return len(self.names)


def read_crops(path: str | Path, size: int, box: str | np.ndarray = "centre", every: int = 1,
               max_frames: int | None = None, progress: bool = False) -> FrameCrops:
    """Read an image, a folder of images or a video and crop every frame to ``size × size``.

    Args:
        path: the input (:func:`input_kind`).
        size: crop side in pixels (the model resolution).
        box: a :func:`parse_box` value, applied to every frame.
        every: keep every ``every``-th frame of a folder or video.
        max_frames: keep at most this many frames.
        progress: show a progress bar.
    Raises:
        UserError: missing, unreadable or corrupt input (naming the file), bad ``every``.
    """
    if every < 1:
        raise UserError(f"--every must be >= 1, got {every}")
    if max_frames is not None and max_frames < 1:
        raise UserError(f"--max-frames must be >= 1, got {max_frames}")
    path = Path(path)
    kind = input_kind(path)
    if kind == "video":
        source = ((f"frame_{index:06d}", frame) for index, frame in iter_video(path, every, max_frames))
        rate = video_fps(path)
        fps = rate / every if rate else None
    else:
        files = [path] if kind == "image" else list_images(path)[::every][:max_frames]
        source = ((file.name, read_image_quietly(file)) for file in files)
        fps = None
    images, names, boxes, sizes = [], [], [], []
    show = progress and kind != "image"
    for name, frame in tqdm(source, desc="read", unit=" frames", disable=not show, leave=False):
        h, w = frame.shape[:2]
        b = frame_box(box, h, w)
        images.append(crop_and_resize(frame, b, size))
        names.append(name)
        boxes.append(b)
        sizes.append((h, w))
    return FrameCrops(np.stack(images), names, np.stack(boxes), np.asarray(sizes, dtype=np.int64), kind, fps)


# --------------------------------------------------------------------------------------------
# The model on crops
# --------------------------------------------------------------------------------------------


@dataclass
class PosePrediction:
    """Per-frame model outputs (float32 numpy arrays, ``N`` frames).

    Attributes:
        pose_cam_mm: ``(N, 17, 3)`` root-relative camera-frame pose, mm.
        q: ``(N, 17, 2)`` 2D joints, normalised crop coordinates.
        depth: ``(N, 17)`` root-relative camera depth, metres.
        pose_canon_mm: ``(N, 17, 3)`` canonical pose (T_fk), mm.
        cam_R_canon: ``(N, 3, 3)``; scale: ``(N,)``; offset: ``(N, 2)``: the camera (T_c).
        appearance: ``(N, A)`` appearance codes.
        raw: the unsmoothed ``pose_cam_mm``, ``q`` and ``depth`` when smoothing was applied.
    """

    pose_cam_mm: np.ndarray
    q: np.ndarray
    depth: np.ndarray
    pose_canon_mm: np.ndarray
    cam_R_canon: np.ndarray
    scale: np.ndarray
    offset: np.ndarray
    appearance: np.ndarray
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pose_cam_mm)


def images_to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 → ``(N, 3, H, W)`` float32 in [0, 1] on ``device`` (the scaling
    of ``partpose.data.pairs``)."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def encode_crops(model: PartPoseModel, images: np.ndarray, batch_size: int = 64, progress: bool = False,
                 camera_pitch_deg: float | None = None, flip_test: bool = False,
                 side_window: int = 1) -> PosePrediction:
    """Run E + T_fk + T_c on crops in batches (and the side network, where the model has one).

    Args:
        model: the model (its mode is left as it is; pass an eval-mode model).
        images: ``(N, S, S, 3)`` uint8 crops at the model resolution.
        camera_pitch_deg: how far the camera looks down at the person (no roll), for the side
            network's upright twin (``PartPoseModel.turn_to_side``); ``None``: the model's
            ``side_camera_elevation_deg``.
        flip_test: read each crop together with its mirror (``PartPoseModel.encode_flip_test``).
        side_window: for a model with a side network and the frames of one video in order: each
            frame given the side the frames around it read, the side network's logits averaged
            over ``side_window`` frames (odd) or all of them (0) before the poses are turned
            (``geometry.view_smoothing.smooth_side``; a first pass over the crops); 1: each
            frame its own.
    Raises:
        ValueError: crops of another size than ``model.config.resolution``; a side window other
            than 1 for a model without a side network.
        UserError: a side window that is neither 0 nor odd (``smooth_side``).
    """
    resolution = model.config.resolution
    if images.ndim != 4 or images.shape[1:] != (resolution, resolution, 3):
        raise ValueError(f"crops must have shape (N, {resolution}, {resolution}, 3), got {images.shape}")
    if batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {batch_size}")
    device = _device_of(model)
    camera_up = None if camera_pitch_deg is None else facing.camera_up(camera_pitch_deg).float().to(device)
    keys = ("pose_cam_mm", "q", "depth", "pose_canon_mm", "cam_R_canon", "scale", "offset", "appearance")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    starts = range(0, len(images), batch_size)
    front = None
    if side_window != 1:  # side_logits raises ValueError for a model without a side network
        logits = [model.side_logits(images_to_tensor(images[start:start + batch_size], device), flip_test).cpu()
                  for start in tqdm(starts, desc="side", unit=" batches", disable=not progress or len(starts) < 2,
                                    leave=False)]
        front = torch.from_numpy(smooth_side(torch.cat(logits).numpy(), side_window)).float()
    for start in tqdm(starts, desc="predict", unit=" batches", disable=not progress or len(starts) < 2, leave=False):
        side = None if front is None else front[start:start + batch_size].to(device)
        est = model.encode_sided(images_to_tensor(images[start:start + batch_size], device), camera_up,
                                 flip_test=flip_test, front_logits=side)
        for key in keys:
            parts[key].append(getattr(est, key).float().cpu().numpy())
    return PosePrediction(**{k: np.concatenate(v) for k, v in parts.items()})


def smooth_prediction(pred: PosePrediction, window: int, method: str = "mean") -> PosePrediction:
    """``pred`` with ``pose_cam_mm``, ``q`` and ``depth`` smoothed over frames
    (:func:`smooth_sequence`), or with ``method="view"`` the view of ``pose_cam_mm`` alone
    (:func:`smooth_view`; ``q`` and ``depth`` stay the frame's
    reading); the unsmoothed arrays go to ``raw``. The camera, canonical pose and appearance
    stay per frame. Use it on the frames of one video, in order."""
    if window == 1:
        return pred
    raw = {k: getattr(pred, k) for k in ("pose_cam_mm", "q", "depth")}
    if method == "view":
        smoothed = {"pose_cam_mm": smooth_view(raw["pose_cam_mm"], window).astype(np.float32)}
    else:
        smoothed = {k: smooth_sequence(v, window, method).astype(np.float32) for k, v in raw.items()}
    return replace(pred, raw=raw, **smoothed)


@torch.no_grad()
def synthesize_frames(model: PartPoseModel, pred: PosePrediction, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """The decoder's part segmentation and re-synthesis of every frame from its own appearance
    and pose (``Î_{a_t}^{p_t}``, composited on black), as in the evaluation.

    Returns:
        ``labels (N, S, S)`` uint8 part labels (0 = background) and ``images (N, S, S, 3)``
        uint8 re-syntheses.
    """
    device = _device_of(model)
    labels, images = [], []
    for start in range(0, len(pred), batch_size):
        chunk = slice(start, start + batch_size)
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a[chunk])).to(device)  # noqa: E731
        synth = model.synthesize(as_tensor(pred.appearance), as_tensor(pred.q), as_tensor(pred.depth),
                                 as_tensor(pred.scale))
        labels.append(synth.seg_logits.argmax(1).to(torch.uint8).cpu().numpy())
        images.append(figures.to_uint8(synth.image))
    return np.concatenate(labels), np.concatenate(images)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def write_poses(out_dir: str | Path, crops: FrameCrops, pred: PosePrediction,
                info: dict | None = None) -> tuple[Path, Path]:
    """Write ``poses.npz`` and ``poses.json`` into ``out_dir``.

    ``poses.npz`` holds ``pose_cam_mm (N, 17, 3)``, ``q (N, 17, 2)``, ``q_px (N, 17, 2)``
    (source pixels), ``depth (N, 17)``, ``pose_canon_mm``, ``cam_R_canon``, ``scale``,
    ``offset``, ``boxes (N, 3)``, ``frame_names (N,)``, ``joint_names (17,)`` and, when
    smoothed, ``pose_cam_mm_raw``, ``q_raw``, ``depth_raw``. ``poses.json`` holds the joint names,
    units, ``info`` and one record per frame (name, box, ``pose_cam_mm``, ``q``, ``q_px``).
    """
    out_dir = figures.ensure_folder(out_dir)
    q_px = crop_normalised_to_pixels(pred.q, crops.boxes).astype(np.float32)
    arrays = {
        "pose_cam_mm": pred.pose_cam_mm, "q": pred.q, "q_px": q_px, "depth": pred.depth,
        "pose_canon_mm": pred.pose_canon_mm, "cam_R_canon": pred.cam_R_canon, "scale": pred.scale,
        "offset": pred.offset, "boxes": crops.boxes, "frame_names": np.asarray(crops.names),
        "joint_names": np.asarray(H36M17.names),
    }
    arrays.update({f"{k}_raw": v for k, v in pred.raw.items()})
    npz_path = out_dir / "poses.npz"
    np.savez_compressed(npz_path, **arrays)
    record = {
        "joint_names": list(H36M17.names),
        "units": {"pose_cam_mm": "mm, camera frame (x right, y down, z away), root-relative",
                  "q": "normalised crop coordinates in [-1, 1] (x right, y down)",
                  "q_px": "source image pixels (x, y)", "box": "crop box x0, y0, side in source pixels"},
        "info": info or {},
        "frames": [
            {"name": name, "box": [round(float(v), 3) for v in crops.boxes[i]],
             "pose_cam_mm": np.round(pred.pose_cam_mm[i], 2).tolist(), "q": np.round(pred.q[i], 5).tolist(),
             "q_px": np.round(q_px[i], 2).tolist()}
            for i, name in enumerate(crops.names)
        ],
    }
    json_path = out_dir / "poses.json"
    json_path.write_text(json.dumps(record))
    return npz_path, json_path


def overlay_frames(images: np.ndarray, q: np.ndarray, labels: np.ndarray, resynthesis: np.ndarray,
                   names: list[str] | None = None, tile: int = 192) -> np.ndarray:
    """Three panels per frame: the crop with its 2D skeleton, the decoder's part segmentation
    over the crop, and the re-synthesis.

    Args:
        images: ``(N, S, S, 3)`` uint8; q: ``(N, 17, 2)``; labels: ``(N, S, S)``;
        resynthesis: ``(N, S, S, 3)`` uint8; names: captions of the first panel.
    Returns:
        ``(N, tile, 3·tile, 3)`` uint8.
    """
    frames = []
    for i in range(len(images)):
        pose = figures.caption(figures.skeleton_tile(images[i], q[i], tile), names[i] if names else "")
        seg = figures.segmentation_overlay(figures.enlarge(images[i], tile),
                                           figures.enlarge(labels[i], tile, nearest=True))
        frames.append(np.concatenate([pose, figures.caption(seg, "parts"),
                                      figures.caption(figures.enlarge(resynthesis[i], tile), "re-synthesis")], axis=1))
    return np.stack(frames)


@dataclass
class PredictResult:
    """What :func:`predict_path` wrote and computed."""

    crops: FrameCrops
    prediction: PosePrediction
    files: list[Path]


def predict_path(model: PartPoseModel, input_path: str | Path, out_dir: str | Path, box: str | np.ndarray = "centre",
                 smooth: int = 1, smooth_method: str = "mean", overlay: str = "auto", every: int = 1,
                 max_frames: int | None = None, batch_size: int = 64, tile: int = 192, progress: bool = True,
                 info: dict | None = None, camera_pitch_deg: float | None = None,
                 flip_test: bool = False, side_window: int = 1) -> PredictResult:
    """The ``partpose predict`` pipeline: read and crop, encode, smooth, segment, write files.

    Writes into ``out_dir``: ``poses.npz`` and ``poses.json`` (:func:`write_poses`), the overlay
    animation ``overlay.gif`` / ``overlay.mp4`` (``overlay="auto"``: MP4 for a video input, GIF
    otherwise; a single image gets ``overlay.png``), and ``skeleton3d.png`` (the first and the
    middle frame, 2D and 3D). ``camera_pitch_deg``, ``flip_test``, ``side_window``: see
    :func:`encode_crops`.
    """
    if overlay not in OVERLAY_FORMATS:
        raise UserError(f"--overlay must be one of {', '.join(OVERLAY_FORMATS)}, got {overlay!r}")
    crops = read_crops(input_path, model.config.resolution, box, every, max_frames, progress)
    pred = encode_crops(model, crops.images, batch_size, progress, camera_pitch_deg, flip_test, side_window)
    if smooth > 1 and len(crops) > 1:
        pred = smooth_prediction(pred, smooth, smooth_method)
    out_dir = Path(out_dir)
    files = list(write_poses(out_dir, crops, pred, info))
    if overlay != "none":
        labels, resynthesis = synthesize_frames(model, pred, batch_size)
        panels = overlay_frames(crops.images, pred.q, labels, resynthesis, crops.names, tile)
        if len(crops) == 1:
            files.append(figures.write_png(out_dir / "overlay.png", panels[0]))
        else:
            kind = ("mp4" if crops.kind == "video" else "gif") if overlay == "auto" else overlay
            files.append(figures.write_animation(out_dir / f"overlay.{kind}", panels, crops.fps or 10.0))
    picks = sorted({0, len(crops) // 2})
    files.append(figures.skeleton_figure(out_dir / "skeleton3d.png", crops.images[picks], pred.q[picks],
                                         pred.pose_cam_mm[picks], [crops.names[i] for i in picks]))
    return PredictResult(crops, pred, files)
