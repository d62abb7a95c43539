"""MPI-INF-3DHP: the test set (MATLAB v7.3 ``annot_data.mat``) and the training set
(``annot.mat`` per sequence) as ``Video``s.

Convention:
    3D joints are millimetres in the camera frame (x right, y down, z forward); 2D joints are
    pixels of the full frame. The dataset's 17-joint order (``MPI_INF_3DHP_17_NAMES``) maps one
    to one onto ``H36M17`` (3DHP head_top → our ``head``, 3DHP head → our ``nose``, neck → our
    ``thorax``); ``OURS_FROM_MPI_INF_3DHP_17[k]`` is the 3DHP index of our joint ``k``. The
    training files hold 28 joints; ``MPI_INF_3DHP_28_TO_17`` picks the 17.

Files (see ``docs/datasets.md``)::

    {root}/TS1..TS6/annot_data.mat                      test: valid_frame, annot2, annot3,
    {root}/TS1/imageSequence/img_000001.jpg ...          univ_annot3, activity_annotation
    {root}/S1..S8/Seq1,Seq2/annot.mat                   train: annot2, annot3, univ_annot3
    {root}/S1/Seq1/imageSequence/video_0.avi ...         or imageFrames/video_0/frame_000001.jpg
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
)
from partpose.data.video import Video
from partpose.errors import UserError
from partpose.evaluation.protocols import MPI_INF_3DHP_ACTIVITIES
from partpose.geometry.skeleton import H36M17

MPI_INF_3DHP_17_NAMES: tuple[str, ...] = (
    "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
)
_OURS_NAME = {"head_top": "head", "neck": "thorax", "head": "nose"}

OURS_FROM_MPI_INF_3DHP_17: tuple[int, ...] = tuple(
    next(k for k, n in enumerate(MPI_INF_3DHP_17_NAMES) if _OURS_NAME.get(n, n) == ours) for ours in H36M17.names
)
"""``pose_ours = pose_3dhp[..., OURS_FROM_MPI_INF_3DHP_17, :]``."""

MPI_INF_3DHP_28_TO_17: tuple[int, ...] = (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)
"""Indices of the 17 test-set joints among the training files' 28 (0-based)."""

MPI_INF_3DHP_TRAIN_CAMERAS: tuple[int, ...] = (0, 1, 2, 4, 5, 6, 7, 8)
"""The camera subset earlier work trains on (of the 14)."""

TEST_SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8")
TRAIN_SEQUENCES: tuple[str, ...] = ("Seq1", "Seq2")


def to_h36m17(pose_3dhp: np.ndarray) -> np.ndarray:
    """Reorder ``(..., 17, D)`` joints from the 3DHP order to ``H36M17``."""
    pose = np.asarray(pose_3dhp)
    if pose.ndim < 2 or pose.shape[-2] != 17:
        raise ValueError(f"expected (..., 17, D) joints in the MPI-INF-3DHP order, got {pose.shape}")
    return pose[..., list(OURS_FROM_MPI_INF_3DHP_17), :]


# --------------------------------------------------------------------------------------------
# Test set
# --------------------------------------------------------------------------------------------


def load_test_annotations(mat_path: str | Path, universal: bool = True) -> dict[str, np.ndarray]:
    """Read one ``TS*/annot_data.mat`` (MATLAB v7.3, read with h5py).

    Args:
        mat_path: the file.
        universal: take the 3D joints from ``univ_annot3`` (the evaluation's skeleton) instead of
            ``annot3``.
    Returns:
        ``{"valid": (N,) bool, "pose3d_cam_mm": (N, 17, 3) float32, "pose2d_px": (N, 17, 2)
        float32, "activity": (N,) int64}``, joints in ``H36M17`` order, all N frames.
    Raises:
        UserError: the file is unreadable, lacks a key, or has unexpected shapes.
    """
    import h5py

    path = Path(mat_path)
    key3d = "univ_annot3" if universal else "annot3"
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("valid_frame", "annot2", key3d, "activity_annotation") if k not in f]
            if missing:
                raise UserError(f"{path}: missing key(s) {', '.join(missing)} (keys: {', '.join(sorted(f.keys()))})")
            valid = np.asarray(f["valid_frame"])
            annot2 = np.asarray(f["annot2"])
            annot3 = np.asarray(f[key3d])
            activity = np.asarray(f["activity_annotation"])
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"{path}: annotation file not found") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read as MATLAB v7.3 / HDF5 ({error})") from None
    n = valid.shape[0] if valid.ndim else 0
    expected = {"valid_frame": (n, 1), "annot2": (n, 1, 17, 2), key3d: (n, 1, 17, 3), "activity_annotation": (n, 1)}
    for key, value in (("valid_frame", valid), ("annot2", annot2), (key3d, annot3), ("activity_annotation", activity)):
        if value.shape != expected[key]:
            raise UserError(f"{path}: {key} has shape {value.shape}, expected {expected[key]}")
    return {
        "valid": valid[:, 0] > 0.5,
        "pose3d_cam_mm": to_h36m17(annot3[:, 0]).astype(np.float32),
        "pose2d_px": to_h36m17(annot2[:, 0]).astype(np.float32),
        "activity": activity[:, 0].round().astype(np.int64),
    }


def _test_source(sequence_dir: Path) -> FrameSource:
    return ImageFolder(sequence_dir / "imageSequence", prefix="img_", digits=6, suffix=".jpg", first=1)


def iter_test_videos(
    root: str | Path,
    resolution: int = 128,
    sequences: Sequence[str] | None = None,
    universal: bool = True,
    frame_step: int = 1,
    margin: float = 0.2,
    segment_frames: int | None = 25,
    box_mode: str = "segment",
    background_frames: int = 32,
) -> Iterator[Video]:
    """Yield the valid frames of the test sequences, cut where the activity changes.

    ``Video.action`` is the activity name (``MPI_INF_3DHP_ACTIVITIES``), ``subject`` the
    sequence (``"TS1"``), ``pose3d_cam_mm`` the ``univ_annot3`` joints (``universal=True``, the
    evaluation's ground truth) or ``annot3``. The camera is tested for motion from the frames.
    ``sequences=None`` takes every ``TS1``..``TS6`` folder present (the full test set has 2,929
    valid frames); named sequences must exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: MPI-INF-3DHP folder not found")
    if sequences is None:
        sequences = [s for s in TEST_SEQUENCES if (root / s).is_dir()]
        if not sequences:
            raise UserError(f"{root}: no test sequence folder (TS1 ... TS6) found")
    for sequence in sequences:
        sequence_dir = root / sequence
        if not sequence_dir.is_dir():
            raise UserError(f"{sequence_dir}: missing test sequence folder")
        annotations = load_test_annotations(sequence_dir / "annot_data.mat", universal)
        source = _test_source(sequence_dir)
        check_frame_count(source, annotations["valid"].shape[0])
        frames = np.flatnonzero(annotations["valid"])[::frame_step]
        if frames.size == 0:
            continue
        plans = []
        activity = annotations["activity"][frames]
        cuts = np.flatnonzero(np.diff(activity)) + 1
        for run in np.split(np.arange(frames.size), cuts):
            code = int(activity[run[0]])
            name = MPI_INF_3DHP_ACTIVITIES.get(code, f"activity {code}")
            idx = frames[run]
            pose2d = annotations["pose2d_px"][idx]
            plans += plan_clips(
                idx,
                crop_box_from_joints(pose2d, margin),
                name=f"3dhp/{sequence}/{idx[0]:06d}",
                subject=sequence,
                action=name,
                pose3d_cam_mm=annotations["pose3d_cam_mm"][idx],
                pose2d_px=pose2d,
                segment_frames=segment_frames,
                box_mode=box_mode,
            )
        yield from read_clips(source, plans, resolution, static_camera=None, background_frames=background_frames)


# --------------------------------------------------------------------------------------------
# Training set
# --------------------------------------------------------------------------------------------


def _cell(mat: dict, key: str, camera: int, columns: int, path: Path) -> np.ndarray:
    if key not in mat:
        raise UserError(f"{path}: missing key {key!r}")
    cells = np.asarray(mat[key], dtype=object).reshape(-1)
    if camera >= cells.size:
        raise UserError(f"{path}: {key} holds {cells.size} cameras, camera {camera} requested")
    value = np.asarray(cells[camera], dtype=np.float64)
    if value.ndim != 2 or value.shape[1] != columns:
        raise UserError(f"{path}: {key}{{{camera}}} has shape {value.shape}, expected (N, {columns})")
    return value


def load_train_annotations(
    mat_path: str | Path, cameras: Sequence[int] = MPI_INF_3DHP_TRAIN_CAMERAS, universal: bool = False
) -> dict[int, dict[str, np.ndarray]]:
    """Read one training ``annot.mat`` (scipy ``loadmat``; cell arrays of 14 cameras).

    Returns:
        ``{camera: {"pose3d_cam_mm": (N, 17, 3) float32, "pose2d_px": (N, 17, 2) float32}}`` in
        ``H36M17`` order (``univ_annot3`` when ``universal``).
    Raises:
        UserError: unreadable file, missing key, bad shapes.
    """
    from scipy.io import loadmat

    path = Path(mat_path)
    try:
        mat = loadmat(str(path))
    except FileNotFoundError:
        raise UserError(f"{path}: annotation file not found") from None
    except Exception as error:  # scipy raises several types for a file that is not a .mat
        raise UserError(f"{path}: cannot read as a MATLAB file ({error})") from None
    key3d = "univ_annot3" if universal else "annot3"
    out = {}
    for camera in cameras:
        annot2 = _cell(mat, "annot2", camera, 56, path).reshape(-1, 28, 2)
        annot3 = _cell(mat, key3d, camera, 84, path).reshape(-1, 28, 3)
        if annot2.shape[0] != annot3.shape[0]:
            raise UserError(f"{path}: camera {camera} has {annot2.shape[0]} 2D but {annot3.shape[0]} 3D frames")
        pick = list(MPI_INF_3DHP_28_TO_17)
        out[camera] = {
            "pose3d_cam_mm": to_h36m17(annot3[:, pick]).astype(np.float32),
            "pose2d_px": to_h36m17(annot2[:, pick]).astype(np.float32),
        }
    return out


def train_frame_source(sequence_dir: Path, camera: int) -> FrameSource:
    """``imageFrames/video_{camera}/frame_000001.jpg ...`` when extracted, else
    ``imageSequence/video_{camera}.avi``."""
    folder = sequence_dir / "imageFrames" / f"video_{camera}"
    if folder.is_dir():
        return ImageFolder(folder, prefix="frame_", digits=6, suffix=".jpg", first=1)
    video = sequence_dir / "imageSequence" / f"video_{camera}.avi"
    if not video.is_file():
        raise UserError(f"{video}: video of camera {camera} not found (nor extracted frames in {folder})")
    return VideoFile(video)


def iter_train_videos(
    root: str | Path,
    resolution: int = 128,
    subjects: Sequence[str] | None = None,
    sequences: Sequence[str] = TRAIN_SEQUENCES,
    cameras: Sequence[int] = MPI_INF_3DHP_TRAIN_CAMERAS,
    frame_step: int = 10,
    max_frames: int | None = None,
    margin: float = 0.2,
    segment_frames: int | None = 25,
    box_mode: str = "segment",
    max_extra_frames: int = 0,
    background_frames: int = 32,
) -> Iterator[Video]:
    """Yield the training sequences, one camera at a time (studio: static cameras).

    ``subjects=None`` takes every ``S1``..``S8`` folder present; named subjects must exist.
    ``frame_step=10`` keeps every tenth frame (consecutive frames are nearly identical).
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: MPI-INF-3DHP folder not found")
    if subjects is None:
        subjects = [s for s in TRAIN_SUBJECTS if (root / s).is_dir()]
        if not subjects:
            raise UserError(f"{root}: no training subject folder (S1 ... S8) found")
    for subject in subjects:
        if not (root / subject).is_dir():
            raise UserError(f"{root / subject}: missing subject folder")
        for sequence in sequences:
            sequence_dir = root / subject / sequence
            annotations = load_train_annotations(sequence_dir / "annot.mat", cameras)
            for camera in cameras:
                labels = annotations[camera]
                n = labels["pose2d_px"].shape[0]
                source = train_frame_source(sequence_dir, camera)
                check_frame_count(source, n, max_extra_frames)
                idx = np.arange(0, n, frame_step)[:max_frames]
                plans = plan_clips(
                    idx,
                    crop_box_from_joints(labels["pose2d_px"][idx], margin),
                    name=f"3dhp/{subject}/{sequence}/video_{camera}",
                    subject=subject,
                    action=sequence,
                    pose3d_cam_mm=labels["pose3d_cam_mm"][idx],
                    pose2d_px=labels["pose2d_px"][idx],
                    segment_frames=segment_frames,
                    box_mode=box_mode,
                )
                yield from read_clips(source, plans, resolution, static_camera=True, background_frames=background_frames)


def iter_mpi_inf_3dhp_videos(root: str | Path, split: str = "test", resolution: int = 128, **options) -> Iterator[Video]:
    """``iter_test_videos`` for ``split="test"``, ``iter_train_videos`` for ``"train"``."""
    if split == "test":
        return iter_test_videos(root, resolution, **options)
    if split == "train":
        return iter_train_videos(root, resolution, **options)
    raise UserError(f"unknown MPI-INF-3DHP split {split!r}; choose 'train' or 'test'")


class MPIINF3DHPDataset(list):
    """The MPI-INF-3DHP videos of one split, read into memory: a ``list[Video]``."""

    def __init__(self, root: str | Path, split: str = "test", resolution: int = 128, **options) -> None:
        super().__init__(iter_mpi_inf_3dhp_videos(root, split, resolution, **options))
        self.root = Path(root)
        self.split = split


def prepare_mpi_inf_3dhp(
    root: str | Path,
    out: str | Path,
    resolution: int = 128,
    progress: bool = True,
    splits: Sequence[str] | None = None,
) -> dict[str, dict]:
    """Crop MPI-INF-3DHP once and write it to ``out`` (``partpose data prepare --dataset
    mpi_inf_3dhp``); ``splits=None`` prepares those present (``TS1`` → test, ``S1`` → train).

    Returns:
        ``{split: {"config": settings, "videos": [index entries]}}`` (``save_prepared``).
    """
    root = Path(root)
    if splits is None:
        splits = [s for s, marker in (("train", "S1"), ("test", "TS1")) if (root / marker).is_dir()]
        if not splits:
            raise UserError(f"{root}: neither the training set (S1/...) nor the test set (TS1/...) found")
    return {
        split: save_prepared(
            iter_mpi_inf_3dhp_videos(root, split, resolution), out, split, "mpi_inf_3dhp",
            {"resolution": resolution}, progress,
        )
        for split in splits
    }
