"""Human3.6M: VideoPose3D's pose files, the camera parameters, and the frames, as ``Video``s.

Convention:
    World coordinates are Human3.6M's (z up), millimetres. A camera's ``orientation`` is the
    quaternion ``(w, x, y, z)`` of the camera→world rotation ``world_R_cam`` and its
    ``translation`` is the camera centre in world coordinates, mm, so
    ``p_cam = world_R_camᵀ (p_world − translation)`` (camera axes: x right, y down, z forward).
    Projection follows Human3.6M's own ``ProjectPointRadial``: with ``(x, y) = p_cam,xy / z`` and
    ``r² = x² + y²``, ``d = 1 + k1 r² + k2 r⁴ + k3 r⁶ + p1 y + p2 x`` and
    ``(x', y') = d·(x, y) + (p2, p1)·r²``; pixels ``= f ⊙ (x', y') + c`` (OpenCV pixel centres).
    Joints are the 17 of ``H36M17`` (``partpose.data.mocap.H36M32_TO_17`` of the 32).

Files under ``root`` (see ``docs/datasets.md``)::

    data_3d_h36m.npz            positions_3d {subject: {action: (T, 32, 3) m}}
    data_2d_h36m_gt.npz         optional: positions_2d {subject: {action: [4 × (T, 17, 2) px]}}
    cameras.json                intrinsics per camera id, extrinsics per subject and camera id
    S1/Directions 1.54138969/000000.jpg ...     extracted frames (0-based), or
    S1/Videos/Directions 1.54138969.mp4 ...     the original videos
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partpose.data.datasets.crops import (
    FrameSource,
    ImageFolder,
    VideoFile,
    check_frame_count,
    crop_box_from_joints,
    plan_clips,
    read_clips,
    save_prepared,
    subsample,
)
from partpose.data.mocap import load_h36m_npz
from partpose.data.video import Video
from partpose.errors import UserError

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""Camera order of the 2D files' per-camera lists."""

H36M_SUBJECTS: dict[str, tuple[str, ...]] = {
    "train": ("S1", "S5", "S6", "S7", "S8"),
    "test": ("S9", "S11"),
}

H36M_KNOWN_MISSING: frozenset[tuple[str, str, str]] = frozenset({("S11", "Directions", "54138969")})
"""Recordings whose video is corrupt in the original release: skipped when absent."""

POSES_3D_FILE = "data_3d_h36m.npz"
POSES_2D_FILE = "data_2d_h36m_gt.npz"
CAMERAS_FILE = "cameras.json"

WORLD_UP = np.array([0.0, 0.0, 1.0])
"""The world's up in Human3.6M's world coordinates; a camera's is ``world_R_camᵀ @ WORLD_UP``
(``Video.camera_up``)."""


# --------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class H36MCamera:
    """Intrinsics and extrinsics of one camera for one subject (units and frames above).

    Attributes:
        id: camera id, e.g. ``"54138969"``.
        center: ``(2,)`` principal point, px. focal_length: ``(2,)`` px.
        radial_distortion: ``(3,)`` k1..k3. tangential_distortion: ``(2,)`` p1, p2.
        res_w, res_h: image size, px.
        orientation: ``(4,)`` quaternion ``(w, x, y, z)``, camera→world.
        translation: ``(3,)`` camera centre in world coordinates, mm.
    """

    id: str
    center: np.ndarray
    focal_length: np.ndarray
    radial_distortion: np.ndarray
    tangential_distortion: np.ndarray
    res_w: int
    res_h: int
    orientation: np.ndarray
    translation: np.ndarray

    @property
    def world_R_cam(self) -> np.ndarray:
        """``(3, 3)`` rotation taking camera axes to world axes."""
        return quaternion_to_matrix(self.orientation)


def quaternion_to_matrix(q_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions ``(..., 4)`` ``(w, x, y, z)`` (normalised first)."""
    q = np.asarray(q_wxyz, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"quaternions must have shape (..., 4), got {q.shape}")
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("a zero quaternion is not a rotation")
    w, x, y, z = np.moveaxis(q / norm, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def _vector(entry: dict, key: str, n: int, where: str) -> np.ndarray:
    if key not in entry:
        raise UserError(f"{where}: missing key {key!r}")
    value = np.asarray(entry[key], dtype=np.float64)
    if value.shape != (n,) or not np.isfinite(value).all():
        raise UserError(f"{where}: {key!r} must be {n} finite numbers, got {entry[key]!r}")
    return value


def load_h36m_cameras(path: str | Path) -> dict[str, dict[str, H36MCamera]]:
    """Read the camera file (layout in ``docs/datasets.md``).

    Returns:
        ``{subject: {camera_id: H36MCamera}}``.
    Raises:
        UserError: naming the file and the missing or malformed entry.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: camera file not found") from None
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot read as JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("intrinsics"), dict) or not isinstance(
        data.get("extrinsics"), dict
    ):
        raise UserError(f"{path}: expected an object with 'intrinsics' and 'extrinsics'")
    cameras: dict[str, dict[str, H36MCamera]] = {}
    for subject, per_camera in data["extrinsics"].items():
        if not isinstance(per_camera, dict):
            raise UserError(f"{path}: extrinsics[{subject!r}] must map camera ids to parameters")
        cameras[subject] = {}
        for cam_id, extrinsic in per_camera.items():
            intrinsic = data["intrinsics"].get(cam_id)
            if not isinstance(intrinsic, dict):
                raise UserError(f"{path}: no intrinsics for camera {cam_id!r} (used by {subject})")
            where_i = f"{path}: intrinsics[{cam_id!r}]"
            where_e = f"{path}: extrinsics[{subject!r}][{cam_id!r}]"
            for key in ("res_w", "res_h"):
                if key not in intrinsic:
                    raise UserError(f"{where_i}: missing key {key!r}")
            cameras[subject][cam_id] = H36MCamera(
                id=cam_id,
                center=_vector(intrinsic, "center", 2, where_i),
                focal_length=_vector(intrinsic, "focal_length", 2, where_i),
                radial_distortion=_vector(intrinsic, "radial_distortion", 3, where_i),
                tangential_distortion=_vector(intrinsic, "tangential_distortion", 2, where_i),
                res_w=int(intrinsic["res_w"]),
                res_h=int(intrinsic["res_h"]),
                orientation=_vector(extrinsic, "orientation", 4, where_e),
                translation=_vector(extrinsic, "translation", 3, where_e),
            )
    return cameras


def world_to_camera(points_world_mm: np.ndarray, camera: H36MCamera) -> np.ndarray:
    """``(..., 3)`` world points, mm → camera frame, mm: ``world_R_camᵀ (X − translation)``."""
    points = np.asarray(points_world_mm, dtype=np.float64)
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    # Row vectors: R^T (X - t) = (X - t) @ R.
    return (points - camera.translation) @ camera.world_R_cam


def camera_to_world(points_cam_mm: np.ndarray, camera: H36MCamera) -> np.ndarray:
    """Inverse of ``world_to_camera``."""
    points = np.asarray(points_cam_mm, dtype=np.float64)
    return points @ camera.world_R_cam.T + camera.translation


def project_to_pixels(points_cam_mm: np.ndarray, camera: H36MCamera, distort: bool = True) -> np.ndarray:
    """Project camera-frame points ``(..., 3)`` to pixels ``(..., 2)`` (model in the module
    docstring; ``distort=False`` is the plain pinhole)."""
    points = np.asarray(points_cam_mm, dtype=np.float64)
    if points.shape[-1] != 3:
        raise ValueError(f"points must have shape (..., 3), got {points.shape}")
    xy = points[..., :2] / points[..., 2:3]
    if distort:
        k1, k2, k3 = camera.radial_distortion
        p1, p2 = camera.tangential_distortion
        r2 = (xy**2).sum(axis=-1, keepdims=True)
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        tangential = p1 * xy[..., 1:2] + p2 * xy[..., 0:1]
        xy = xy * (radial + tangential) + np.array([p2, p1]) * r2
    return camera.focal_length * xy + camera.center


# --------------------------------------------------------------------------------------------
# Pose files
# --------------------------------------------------------------------------------------------


def load_h36m_poses(npz_3d: str | Path, subjects: Sequence[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Read ``data_3d_h36m.npz`` as ``{subject: {action: (T, 17, 3) float32}}``, world mm.

    Raises:
        UserError: unreadable file, missing ``positions_3d``, unknown subject, bad shapes.
    """
    poses: dict[str, dict[str, np.ndarray]] = {}
    for clip in load_h36m_npz(npz_3d, subjects):
        subject, action = clip.name.split("/", 1)
        poses.setdefault(subject, {})[action] = clip.poses_mm
    return poses


def load_h36m_2d(npz_2d: str | Path) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict]:
    """Read a VideoPose3D 2D file (``data_2d_h36m_gt.npz`` or detections).

    Returns:
        ``({subject: {action: [4 × (T, 17, 2) float32 px]}}, metadata)``, cameras in
        ``H36M_CAMERA_IDS`` order.
    Raises:
        UserError: unreadable file, missing ``positions_2d``/``metadata``, bad shapes.
    """
    path = Path(npz_2d)
    try:
        with np.load(path, allow_pickle=True) as npz:
            missing = [k for k in ("positions_2d", "metadata") if k not in npz.files]
            if missing:
                raise UserError(f"{path}: missing key(s) {', '.join(missing)} (keys: {', '.join(npz.files) or 'none'})")
            raw, raw_meta = npz["positions_2d"], npz["metadata"]
    except UserError:
        raise
    except Exception as error:
        raise UserError(f"{path}: cannot read as an npz file ({error})") from None
    positions = raw.item() if raw.dtype == object and raw.shape == () else None
    metadata = raw_meta.item() if raw_meta.dtype == object and raw_meta.shape == () else None
    if not isinstance(positions, dict) or not isinstance(metadata, dict):
        raise UserError(f"{path}: positions_2d and metadata must be pickled dicts")
    if metadata.get("num_joints", 17) != 17:
        raise UserError(f"{path}: metadata says {metadata['num_joints']} joints, expected 17")
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        out[subject] = {}
        for action, per_camera in actions.items():
            arrays = [np.asarray(a, dtype=np.float32) for a in per_camera]
            if len(arrays) != len(H36M_CAMERA_IDS) or any(a.ndim != 3 or a.shape[1:] != (17, 2) for a in arrays):
                shapes = [a.shape for a in arrays]
                raise UserError(f"{path}: {subject}/{action} must hold 4 arrays (T, 17, 2), got {shapes}")
            out[subject][action] = arrays
    return out, metadata


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


def _aliases(action: str) -> list[str]:
    """VideoPose3D renames two actions; the original files keep the long names."""
    names = [action]
    for short, long in (("Photo", "TakingPhoto"), ("WalkDog", "WalkingDog")):
        if action.split(" ")[0] == short:
            names.append(long + action[len(short):])
    return names


def h36m_frame_source(root: str | Path, subject: str, action: str, camera_id: str) -> FrameSource | None:
    """The frames of one recording: ``{root}/{subject}/{action}.{camera}/{frame:06d}.jpg`` (frame
    0 first) if that folder exists, else ``{root}/{subject}/Videos/{action}.{camera}.mp4``.

    Returns ``None`` for a known-missing recording that is absent.
    Raises:
        UserError: the subject folder or the recording is missing.
    """
    subject_dir = Path(root) / subject
    if not subject_dir.is_dir():
        raise UserError(
            f"{subject_dir}: missing subject folder (expected {subject}/<action>.<camera>/000000.jpg "
            f"frame folders or {subject}/Videos/<action>.<camera>.mp4)"
        )
    tried = []
    for name in _aliases(action):
        folder = subject_dir / f"{name}.{camera_id}"
        video = subject_dir / "Videos" / f"{name}.{camera_id}.mp4"
        if folder.is_dir():
            return ImageFolder(folder, digits=6, suffix=".jpg", first=0)
        if video.is_file():
            return VideoFile(video)
        tried += [str(folder), str(video)]
    if (subject, action, camera_id) in H36M_KNOWN_MISSING:
        return None
    raise UserError(f"{tried[0]}: frames of {subject} {action!r} camera {camera_id} not found (also tried {', '.join(tried[1:])})")


# --------------------------------------------------------------------------------------------
# Videos
# --------------------------------------------------------------------------------------------


def iter_h36m_videos(
    root: str | Path,
    split: str = "train",
    resolution: int = 128,
    subjects: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    cameras: Sequence[str] | None = None,
    frame_step: int = 5,
    max_frames: int | None = None,
    margin: float = 0.2,
    segment_frames: int | None = 25,
    box_mode: str = "segment",
    use_2d_file: bool = True,
    max_extra_frames: int = 0,
    background_frames: int = 32,
) -> Iterator[Video]:
    """Yield the crops of every (subject, action, camera) of a split, one recording at a time.

    Args:
        root: the Human3.6M folder (layout in the module docstring).
        split: ``"train"`` (S1 S5 S6 S7 S8) or ``"test"`` (S9 S11).
        resolution: crop side, px.
        subjects, actions, cameras: restrict to these (``None``: all); actions by their file
            name (``"Directions 1"``) or base name (``"Directions"``).
        frame_step: keep every ``frame_step``-th frame (5: 10 fps from 50 fps).
        max_frames: at most this many kept frames per recording.
        margin, segment_frames, box_mode: see ``crop_box_from_joints`` and ``plan_clips``.
        use_2d_file: take the 2D joints from ``data_2d_h36m_gt.npz`` when present, else project
            the 3D joints with the cameras.
        max_extra_frames: frames a recording may hold beyond its annotations.
        background_frames: frames of each recording in its median background.
    Yields:
        ``Video`` with ``pose3d_cam_mm`` (camera frame, mm) and ``pose2d_norm``; ``action`` is
        the base action (``"Directions"``), ``name`` ``"h36m/S1/Directions 1.54138969#k"``.
    """
    root = Path(root)
    if split not in H36M_SUBJECTS:
        raise UserError(f"unknown Human3.6M split {split!r}; choose one of {', '.join(H36M_SUBJECTS)}")
    if not root.is_dir():
        raise UserError(f"{root}: Human3.6M folder not found")
    subjects = list(H36M_SUBJECTS[split] if subjects is None else subjects)
    poses = load_h36m_poses(root / POSES_3D_FILE, subjects)
    all_cameras = load_h36m_cameras(root / CAMERAS_FILE)
    poses_2d = None
    if use_2d_file and (root / POSES_2D_FILE).is_file():
        poses_2d, _ = load_h36m_2d(root / POSES_2D_FILE)
    camera_ids = list(H36M_CAMERA_IDS if cameras is None else cameras)
    for subject in subjects:
        if subject not in all_cameras:
            raise UserError(f"{root / CAMERAS_FILE}: no extrinsics for subject {subject}")
        for action in sorted(poses[subject]):
            if actions is not None and action not in actions and action.split(" ")[0] not in actions:
                continue
            world_mm = poses[subject][action]
            for cam_id in camera_ids:
                if cam_id not in all_cameras[subject]:
                    raise UserError(f"{root / CAMERAS_FILE}: no camera {cam_id} for subject {subject}")
                source = h36m_frame_source(root, subject, action, cam_id)
                if source is None:
                    continue
                yield from _recording_videos(
                    source, world_mm, all_cameras[subject][cam_id], _pose_2d(poses_2d, subject, action, cam_id, root),
                    subject, action, resolution, frame_step, max_frames, margin, segment_frames, box_mode,
                    max_extra_frames, background_frames,
                )


def _pose_2d(poses_2d, subject: str, action: str, cam_id: str, root: Path) -> np.ndarray | None:
    if poses_2d is None:
        return None
    try:
        return poses_2d[subject][action][H36M_CAMERA_IDS.index(cam_id)]
    except (KeyError, ValueError):
        raise UserError(f"{root / POSES_2D_FILE}: no 2D joints for {subject} {action!r} camera {cam_id}") from None


def _recording_videos(
    source: FrameSource,
    world_mm: np.ndarray,
    camera: H36MCamera,
    pose2d_all: np.ndarray | None,
    subject: str,
    action: str,
    resolution: int,
    frame_step: int,
    max_frames: int | None,
    margin: float,
    segment_frames: int | None,
    box_mode: str,
    max_extra_frames: int,
    background_frames: int,
) -> list[Video]:
    n = world_mm.shape[0]
    check_frame_count(source, n, max_extra_frames)
    if pose2d_all is not None and pose2d_all.shape[0] < n:
        raise UserError(
            f"{POSES_2D_FILE}: {subject} {action!r} camera {camera.id} has {pose2d_all.shape[0]} frames of 2D "
            f"joints but {n} of 3D joints"
        )
    indices = subsample(n, frame_step, max_frames)
    pose_cam = world_to_camera(world_mm[indices], camera)
    pose_px = project_to_pixels(pose_cam, camera) if pose2d_all is None else pose2d_all[indices].astype(np.float64)
    plans = plan_clips(
        indices,
        crop_box_from_joints(pose_px, margin),
        name=f"h36m/{subject}/{action}.{camera.id}",
        subject=subject,
        action=action.split(" ")[0],
        pose3d_cam_mm=pose_cam.astype(np.float32),
        pose2d_px=pose_px,
        segment_frames=segment_frames,
        box_mode=box_mode,
        intrinsics=np.concatenate([camera.focal_length, camera.center]),
        camera_up=np.tile(camera.world_R_cam.T @ WORLD_UP, (len(indices), 1)),
    )
    return read_clips(source, plans, resolution, static_camera=True, background_frames=background_frames)


class H36MDataset(list):
    """The Human3.6M videos of one split, read into memory: a ``list[Video]``.

    Arguments are those of ``iter_h36m_videos``. The full training split does not fit in memory
    at once; ``prepare_h36m`` writes it to disk one recording at a time instead.
    """

    def __init__(self, root: str | Path, split: str = "train", resolution: int = 128, **options) -> None:
        super().__init__(iter_h36m_videos(root, split, resolution, **options))
        self.root = Path(root)
        self.split = split


def prepare_h36m(
    root: str | Path,
    out: str | Path,
    resolution: int = 128,
    progress: bool = True,
    splits: Sequence[str] = ("train", "test"),
    subjects: Sequence[str] | None = None,
    frame_step: int = 5,
    max_extra_frames: int = 0,
) -> dict[str, dict]:
    """Crop Human3.6M once and write it to ``out`` (``partpose data prepare --dataset h36m``).

    Every clip becomes ``{out}/{split}/h36m/{subject}/{action}.{camera}_{k}.npz`` (frames,
    background, 3D and 2D labels); ``load_prepared(out, split)`` reads them back.
    ``subjects`` restricts every split to those of its subjects that are listed.

    Returns:
        ``{split: {"config": settings, "videos": [index entries]}}`` (``save_prepared``).
    """
    settings = {"resolution": resolution, "frame_step": frame_step}
    result = {}
    for split in splits:
        if split not in H36M_SUBJECTS:
            raise UserError(f"unknown Human3.6M split {split!r}; choose one of {', '.join(H36M_SUBJECTS)}")
        chosen = [s for s in H36M_SUBJECTS[split] if subjects is None or s in subjects]
        videos = iter_h36m_videos(
            root, split, resolution, subjects=chosen, frame_step=frame_step, max_extra_frames=max_extra_frames
        )
        result[split] = save_prepared(videos, out, split, "h36m", dict(settings, subjects=chosen), progress)
    return result
