"""3DPW: the sequence pickles and their images as ``Video``s (one per actor and sequence).

Convention:
    ``jointPositions`` are SMPL's 24 joints in world coordinates, metres; ``cam_poses[i]`` is
    the 4×4 world→camera transform of frame ``i`` (translation in metres), so
    ``p_cam = R p_world + t`` (camera axes: x right, y down, z forward); ``cam_intrinsics`` is
    the pinhole matrix K (no distortion). Outputs are millimetres in ``H36M17`` order.

    SMPL has no joint for three of ours: ``spine`` is taken from SMPL spine2 (lower chest),
    ``nose`` from SMPL head (the head's lower centre) and ``head`` (top) is extrapolated as
    ``head_smpl + (head_smpl − neck_smpl)``. These approximations keep the poses complete for
    training and drawing, but evaluation uses only the 14 joints SMPL defines
    (``partpose.evaluation.metrics.PW3D_EVAL_JOINTS``).

Files (see ``docs/datasets.md``)::

    {root}/sequenceFiles/{train,validation,test}/{sequence}.pkl
    {root}/imageFiles/{sequence}/image_00000.jpg ...
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from partpose.data.datasets.crops import (
    ImageFolder,
    check_frame_count,
    crop_box_from_joints,
    plan_clips,
    read_clips,
    save_prepared,
)
from partpose.data.video import Video
from partpose.errors import UserError
from partpose.geometry.skeleton import H36M17

PW3D_SPLITS: tuple[str, ...] = ("train", "validation", "test")

SMPL_NECK, SMPL_HEAD = 12, 15
SMPL24_TO_H36M17: dict[str, int] = {
    "pelvis": 0, "r_hip": 2, "r_knee": 5, "r_ankle": 8, "l_hip": 1, "l_knee": 4, "l_ankle": 7,
    "spine": 6, "thorax": SMPL_NECK, "nose": SMPL_HEAD,
    "l_shoulder": 16, "l_elbow": 18, "l_wrist": 20, "r_shoulder": 17, "r_elbow": 19, "r_wrist": 21,
}
"""SMPL joint of each of ours (``spine`` and ``nose`` approximate; ``head`` is extrapolated)."""

REQUIRED_KEYS: tuple[str, ...] = (
    "sequence", "jointPositions", "poses2d", "campose_valid", "img_frame_ids", "cam_poses", "cam_intrinsics",
)


def smpl24_to_h36m17(joints_smpl: np.ndarray) -> np.ndarray:
    """``(..., 24, 3)`` SMPL joints → ``(..., 17, 3)`` ``H36M17`` joints (see module docstring)."""
    joints = np.asarray(joints_smpl, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-2:] != (24, 3):
        raise ValueError(f"expected (..., 24, 3) SMPL joints, got {joints.shape}")
    out = np.empty(joints.shape[:-2] + (17, 3))
    for name, smpl in SMPL24_TO_H36M17.items():
        out[..., H36M17.index(name), :] = joints[..., smpl, :]
    head, neck = joints[..., SMPL_HEAD, :], joints[..., SMPL_NECK, :]
    out[..., H36M17.index("head"), :] = head + (head - neck)
    return out


def load_sequence(pkl_path: str | Path) -> dict:
    """Read one sequence pickle (``encoding='latin1'``) and check the keys and shapes used here.

    Raises:
        UserError: unreadable pickle, missing key, or inconsistent shapes (naming the file).
    """
    path = Path(pkl_path)
    try:
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise UserError(f"{path}: sequence file not found") from None
    except Exception as error:  # pickle raises many types for a damaged file
        raise UserError(f"{path}: cannot read as a 3DPW pickle ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a pickled dict, got {type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise UserError(f"{path}: missing key(s) {', '.join(missing)}")
    n = len(np.asarray(data["img_frame_ids"]).reshape(-1))
    actors = len(data["jointPositions"])
    if actors == 0 or len(data["poses2d"]) != actors or len(data["campose_valid"]) != actors:
        raise UserError(f"{path}: jointPositions, poses2d and campose_valid must list the same actors")
    checks = [("cam_poses", np.asarray(data["cam_poses"]).shape, (n, 4, 4)),
              ("cam_intrinsics", np.asarray(data["cam_intrinsics"]).shape, (3, 3))]
    for a in range(actors):
        checks += [
            (f"jointPositions[{a}]", np.asarray(data["jointPositions"][a]).shape, (n, 72)),
            (f"poses2d[{a}]", np.asarray(data["poses2d"][a]).shape, (n, 3, 18)),
            (f"campose_valid[{a}]", np.asarray(data["campose_valid"][a]).reshape(-1).shape, (n,)),
        ]
    for key, shape, expected in checks:
        if shape != expected:
            raise UserError(f"{path}: {key} has shape {shape}, expected {expected}")
    return data


def actor_labels(data: dict, actor: int) -> dict[str, np.ndarray]:
    """Camera-frame labels of one actor over all frames of a loaded sequence.

    Returns:
        ``{"pose3d_cam_mm": (N, 17, 3), "pose2d_px": (N, 17, 2)`` (the 3D joints projected with
        K), ``"keypoints_px": (N, 18, 2)``, ``"keypoint_valid": (N, 18)`` (COCO-18, confidence
        > 0), ``"valid": (N,)`` bool (``campose_valid``), ``"frame_ids": (N,)`` int64}.
    """
    world_m = np.asarray(data["jointPositions"][actor], dtype=np.float64).reshape(-1, 24, 3)
    cam_T_world = np.asarray(data["cam_poses"], dtype=np.float64)
    cam_m = np.einsum("nij,nkj->nki", cam_T_world[:, :3, :3], world_m) + cam_T_world[:, None, :3, 3]
    pose_cam_mm = smpl24_to_h36m17(cam_m * 1000.0)
    k = np.asarray(data["cam_intrinsics"], dtype=np.float64)
    homogeneous = pose_cam_mm @ k.T
    pose2d = homogeneous[..., :2] / homogeneous[..., 2:3]
    keypoints = np.asarray(data["poses2d"][actor], dtype=np.float64).transpose(0, 2, 1)  # (N, 18, 3)
    return {
        "pose3d_cam_mm": pose_cam_mm.astype(np.float32),
        "pose2d_px": pose2d,
        "keypoints_px": keypoints[..., :2],
        "keypoint_valid": keypoints[..., 2] > 0,
        "valid": np.asarray(data["campose_valid"][actor]).reshape(-1) > 0,
        "frame_ids": np.asarray(data["img_frame_ids"]).reshape(-1).astype(np.int64),
    }


def iter_pw3d_videos(
    root: str | Path,
    split: str = "test",
    resolution: int = 128,
    sequences: Sequence[str] | None = None,
    frame_step: int = 1,
    max_frames: int | None = None,
    margin: float = 0.2,
    segment_frames: int | None = 25,
    box_mode: str = "frame",
    background_frames: int = 32,
) -> Iterator[Video]:
    """Yield the clips of every actor of every sequence, on frames with a valid camera pose.

    3DPW is filmed with a hand-held phone: every clip has ``camera_moves=True`` and no
    background, and crops follow the person frame by frame by default (``box_mode="frame"``).
    Boxes come from the COCO-18 ``poses2d`` (joints with confidence > 0), or from the projected
    3D joints on frames without any. ``subject`` is the sequence name, ``action`` the actor.
    """
    root = Path(root)
    if split not in PW3D_SPLITS:
        raise UserError(f"unknown 3DPW split {split!r}; choose one of {', '.join(PW3D_SPLITS)}")
    split_dir = root / "sequenceFiles" / split
    if not split_dir.is_dir():
        raise UserError(f"{split_dir}: missing 3DPW sequence folder")
    files = sorted(split_dir.glob("*.pkl"))
    if sequences is not None:
        files = [f for f in files if f.stem in set(sequences)]
        missing = set(sequences) - {f.stem for f in files}
        if missing:
            raise UserError(f"{split_dir}: no sequence file for {', '.join(sorted(missing))}")
    for file in files:
        data = load_sequence(file)
        sequence = str(data["sequence"])
        source = ImageFolder(root / "imageFiles" / sequence, prefix="image_", digits=5, suffix=".jpg", first=0)
        frame_ids = np.asarray(data["img_frame_ids"]).reshape(-1)
        check_frame_count(source, frame_ids.size)
        k = np.asarray(data["cam_intrinsics"], dtype=np.float64)
        intrinsics = np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]])
        plans = []
        for actor in range(len(data["jointPositions"])):
            labels = actor_labels(data, actor)
            rows = np.flatnonzero(labels["valid"])[::frame_step][:max_frames]
            if rows.size == 0:
                continue
            has_keypoints = labels["keypoint_valid"][rows].any(axis=-1)
            boxes = crop_box_from_joints(labels["pose2d_px"][rows], margin)
            if has_keypoints.any():
                boxes[has_keypoints] = crop_box_from_joints(
                    labels["keypoints_px"][rows][has_keypoints], margin, valid=labels["keypoint_valid"][rows][has_keypoints]
                )
            plans += plan_clips(
                labels["frame_ids"][rows],
                boxes,
                name=f"3dpw/{split}/{sequence}/actor{actor}",
                subject=sequence,
                action=f"actor{actor}",
                pose3d_cam_mm=labels["pose3d_cam_mm"][rows],
                pose2d_px=labels["pose2d_px"][rows],
                segment_frames=segment_frames,
                box_mode=box_mode,
                intrinsics=intrinsics,
            )
        yield from read_clips(source, plans, resolution, static_camera=False, background_frames=background_frames)


class PW3DDataset(list):
    """The 3DPW videos of one split, read into memory: a ``list[Video]``."""

    def __init__(self, root: str | Path, split: str = "test", resolution: int = 128, **options) -> None:
        super().__init__(iter_pw3d_videos(root, split, resolution, **options))
        self.root = Path(root)
        self.split = split


def prepare_pw3d(
    root: str | Path,
    out: str | Path,
    resolution: int = 128,
    progress: bool = True,
    splits: Sequence[str] | None = None,
) -> dict[str, dict]:
    """Crop 3DPW once and write it to ``out`` (``partpose data prepare --dataset 3dpw``);
    ``splits=None`` prepares every split whose ``sequenceFiles/{split}`` folder exists.

    Returns:
        ``{split: {"config": settings, "videos": [index entries]}}`` (``save_prepared``).
    """
    root = Path(root)
    if splits is None:
        splits = [s for s in PW3D_SPLITS if (root / "sequenceFiles" / s).is_dir()]
        if not splits:
            raise UserError(f"{root / 'sequenceFiles'}: no train, validation or test folder found")
    return {
        split: save_prepared(
            iter_pw3d_videos(root, split, resolution), out, split, "3dpw", {"resolution": resolution}, progress
        )
        for split in splits
    }
