"""Build what training reads from the config: frame pairs, test frames and the pose prior.

Videos (``data.dataset``): ``synthetic`` renders the default benchmark from ``data.synthetic``;
``h36m``, ``mpi_inf_3dhp``, ``3dpw`` and ``own`` read the folder ``partpose data prepare``
wrote (``data.root``, ``partpose.data.datasets.load_prepared``): its ``train`` split is trained
on and its ``test`` split evaluated. Own videos have no test split: ``test_frames`` is then
``None`` and the trainer skips evaluation.

Unpaired 3D poses (``data.prior``): ``deepmimic`` (the DeepMimic clips of the ``pybullet``
wheel: for ``synthetic`` never the benchmark's test motions; ``data.prior_clips`` picks the
``prior`` clips alone or every non-test clip (default, the motions the training videos show too),
all 20 clips for real datasets), ``h36m_npz:PATH`` (VideoPose3D's ``data_3d_h36m.npz``, training
subjects S1 S5 S6 S7 S8 only, never the test subjects S9 S11) or ``bvh:DIR`` (every ``*.bvh``
under DIR, read with ``partpose.data.mocap.load_bvh``'s CMU defaults: y up, 1/0.45 inch units).
``data.prior_fps`` resamples the clips first (Human3.6M's training subjects hold ~390k poses at
50 fps, mostly near duplicates), ``data.prior_mirror`` adds mirror images.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partpose.data.datasets import PREPARE, load_prepared
from partpose.data.mocap import MotionClip, load_bvh, load_deepmimic_clips, load_h36m_npz, resample, split_clips
from partpose.data.pairs import FrameDataset, PairDataset
from partpose.data.prior import PosePrior
from partpose.data.synthetic import build_synthetic_videos, split_motion_clips
from partpose.data.video import Video, load_video
from partpose.errors import UserError
from partpose.training.config import DataConfig, TrainConfig

DATASETS: tuple[str, ...] = ("synthetic", *PREPARE)
"""Values of ``data.dataset``."""

TEST_SPLIT: dict[str, str | None] = {"synthetic": "test", "h36m": "test", "mpi_inf_3dhp": "test", "3dpw": "test",
                                     "own": None}
"""The split each dataset is evaluated on (``None``: the dataset has no 3D labels to evaluate)."""

H36M_PRIOR_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
"""Human3.6M subjects whose motion capture may serve as the prior (the training subjects)."""


@dataclass
class TrainingData:
    """Everything training reads.

    Attributes:
        pairs: training pairs of ``train_videos`` with the labels the setting allows.
        test_frames: every frame of ``test_videos``, or ``None`` when the dataset has no test
            split (own videos): evaluation is skipped.
        prior: the unpaired canonical 3D poses.
        train_videos, test_videos: the clips (``test_videos`` empty without a test split).
    """

    pairs: PairDataset
    test_frames: FrameDataset | None
    prior: PosePrior
    train_videos: list[Video]
    test_videos: list[Video]


def pair_labels(setting: str) -> str:
    """Which labels the pairs must carry for a setting (``none`` for the unsupervised method)."""
    return {"unsup": "none", "weak": "2d", "semi": "3d", "supervised": "both", "labels_2d": "2d"}[setting]


def build_training_data(config: TrainConfig) -> TrainingData:
    """Videos, pairs, test frames and prior of ``config`` (module docstring).

    Raises:
        UserError: unknown dataset, missing or foreign prepared folder, clips of another size
            than ``model.resolution``, labels the setting needs but the dataset lacks, or a
            prior file that cannot be read (each naming the key or file).
    """
    data = config.data
    train_videos, test_videos = load_videos(config)
    _check_videos(config, train_videos, test_videos)
    prior = build_prior(data)
    objective = config.objective
    if objective.side_weight > 0 and objective.side_label == "truth" and any(v.pose3d_cam_mm is None for v in train_videos):
        raise UserError(f"objective.side_label=truth teaches the side network each frame's true side from its 3D pose; "
                        f"the {data.dataset!r} training videos have none")
    if objective.reconstruction_pose == "truth" and any(v.pose3d_cam_mm is None or v.pose2d_norm is None
                                                        for v in train_videos):
        raise UserError(f"objective.reconstruction_pose=truth draws I_t from its true 3D and 2D pose; the "
                        f"{data.dataset!r} training videos lack them")
    pairs = PairDataset(
        train_videos,
        max_gap=data.max_gap,
        labels="both" if objective.reconstruction_pose == "truth" else pair_labels(objective.setting),
        semi_fraction=objective.semi_fraction if objective.setting == "semi" else None,
        seed=config.run.seed,
        saliency_source=data.saliency,
        travel_min_rate=objective.travel_min_rate,
        side_label=objective.side_label,
        travel_min_r2=objective.travel_min_r2,
        side_definition=config.model.side_definition,
        side_elevation_deg=config.model.side_camera_elevation_deg,
    )
    travel = {"objective.twin_choice_rule=travel": objective.twin_choice_weight > 0 and objective.twin_choice_rule == "travel",
              "objective.travel_facing_weight > 0": objective.travel_facing_weight > 0,
              "objective.side_weight > 0": objective.side_weight > 0 and objective.side_label != "truth"}
    if any(travel.values()) and all(v.person_box is None for v in train_videos):
        what = next(name for name, used in travel.items() if used)
        raise UserError(f"{what} needs the person boxes of the videos (Video.person_box); "
                        f"the {data.dataset!r} training videos have none (prepare them again: `partpose data prepare`)")
    test_frames = FrameDataset(test_videos) if test_videos else None
    return TrainingData(pairs, test_frames, prior, train_videos, test_videos)


# --------------------------------------------------------------------------------------------
# Videos
# --------------------------------------------------------------------------------------------


def load_videos(config: TrainConfig) -> tuple[list[Video], list[Video]]:
    """``(train_videos, test_videos)`` of ``config.data`` (``test_videos`` empty when the
    dataset has no test split)."""
    data = config.data
    if data.dataset not in DATASETS:
        raise UserError(f"unknown data.dataset {data.dataset!r}; known datasets: {', '.join(DATASETS)}")
    if data.dataset == "synthetic":
        return build_synthetic_videos(data.synthetic, "train"), build_synthetic_videos(data.synthetic, "test")
    if not data.root:
        raise UserError(f"data.root is required for data.dataset={data.dataset}; known datasets: {', '.join(DATASETS)}")
    splits = prepared_splits(data.root, data.dataset)
    index_path = Path(data.root) / "index.json"
    if "train" not in splits:
        raise UserError(
            f"{index_path}: no 'train' split to train on (prepared: {', '.join(splits) or 'none'}); "
            f"prepare the training data of {data.dataset} into this folder"
        )
    train_videos = load_prepared_clips(data.root, "train", data.max_train_clips)
    test_split = TEST_SPLIT[data.dataset]
    if test_split is None:
        return train_videos, []
    if test_split not in splits:
        raise UserError(
            f"{index_path}: no {test_split!r} split to evaluate on (prepared: {', '.join(splits)}); "
            f"prepare the {data.dataset} test data into this folder too"
        )
    return train_videos, load_prepared_clips(data.root, test_split, data.max_test_clips)


def prepared_splits(root: str | Path, dataset: str) -> dict[str, dict]:
    """The ``splits`` of a prepared folder's ``index.json``, checking it holds ``dataset``.

    Raises:
        UserError: no such folder, no index, or an index of another dataset.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(
            f"data.root {root}: folder not found (run `partpose data prepare --dataset {dataset} --root DIR "
            f"--out {root}` first); known datasets: {', '.join(DATASETS)}"
        )
    index_path = root / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise UserError(f"{index_path}: not a prepared dataset (run `partpose data prepare --dataset {dataset} "
                        f"--out {root}` first)") from None
    except ValueError as error:
        raise UserError(f"{index_path}: cannot read as JSON ({error})") from None
    held = index.get("dataset", "synthetic")
    if held != dataset:
        raise UserError(f"{index_path}: holds dataset {held!r}, but data.dataset is {dataset!r}")
    return dict(index.get("splits", {}))


def load_prepared_clips(root: str | Path, split: str, max_clips: int = 0) -> list[Video]:
    """The clips of one prepared split; ``max_clips > 0`` keeps that many, spread evenly over the
    split's index order (every clip when the split holds fewer)."""
    if max_clips <= 0:
        return load_prepared(root, split)
    root = Path(root)
    entries = json.loads((root / "index.json").read_text())["splits"][split]["videos"]
    keep = np.unique(np.linspace(0, len(entries) - 1, min(max_clips, len(entries))).round().astype(int))
    videos = []
    for k in keep:
        path = root / entries[k]["file"]
        if not path.is_file():
            raise UserError(f"{path}: listed in {root / 'index.json'} but missing")
        videos.append(load_video(path))
    return videos


def _check_videos(config: TrainConfig, train_videos: Sequence[Video], test_videos: Sequence[Video]) -> None:
    """Clip size against the model, and the labels the setting and the evaluation need."""
    data, resolution = config.data, config.model.resolution
    where = data.root if data.root else "the synthetic benchmark"
    for split, videos in (("train", train_videos), ("test", test_videos)):
        for video in videos:
            if video.size != (resolution, resolution):
                raise UserError(
                    f"{where}: {split} clip {video.name!r} is {video.size[0]}x{video.size[1]} pixels but "
                    f"model.resolution is {resolution}; prepare with --resolution {resolution} or set "
                    f"model.resolution and model.decoder.resolution to {video.size[0]}"
                )
    setting = config.objective.setting
    pose3d, pose2d = ("pose3d_cam_mm", "3D"), ("pose2d_norm", "2D")
    required = {"none": [], "2d": [pose2d], "3d": [pose3d], "both": [pose3d, pose2d]}[pair_labels(setting)]
    for field, label in required:
        for video in train_videos:
            if getattr(video, field) is None:
                raise UserError(
                    f"objective.setting={setting} needs {label} labels, but {data.dataset} training clip "
                    f"{video.name!r} has none (use objective.setting=unsup)"
                )
    for video in test_videos:
        if video.pose3d_cam_mm is None:
            raise UserError(f"{where}: test clip {video.name!r} has no 3D poses to evaluate against")


# --------------------------------------------------------------------------------------------
# Prior
# --------------------------------------------------------------------------------------------


def prior_clips(data: DataConfig) -> list[MotionClip]:
    """The motion-capture clips ``data.prior`` names, resampled to ``data.prior_fps`` when set
    (module docstring).

    Raises:
        UserError: a malformed ``data.prior``, or a file or folder that cannot be read.
    """
    kind, _, argument = data.prior.partition(":")
    if kind == "deepmimic" and not argument:
        clips = load_deepmimic_clips()
        if data.dataset == "synthetic" and data.synthetic.split == "segments":  # never the test frames
            clips = split_motion_clips(data.synthetic, clips)["train"]
        elif data.dataset == "synthetic":  # never the benchmark's test motions
            parts = split_clips(clips)
            clips = parts["prior"] + (parts["train"] if data.prior_clips == "non_test" else [])
    elif kind == "h36m_npz" and argument:
        clips = load_h36m_npz(argument, H36M_PRIOR_SUBJECTS)
    elif kind == "bvh" and argument:
        clips = load_bvh_folder(argument)
    else:
        raise UserError(f"data.prior must be 'deepmimic', 'h36m_npz:PATH' or 'bvh:DIR', got {data.prior!r}")
    if data.prior_fps is not None:
        clips = [
            MotionClip(c.name, resample(c.poses_mm, c.fps, data.prior_fps), data.prior_fps, c.source) for c in clips
        ]
    return clips


def build_prior(data: DataConfig) -> PosePrior:
    """The pose prior of ``data.prior`` (canonicalised, retargeted to the clips' mean bone
    lengths, with mirror images when ``data.prior_mirror``)."""
    return PosePrior.from_clips(prior_clips(data), mirror_poses=data.prior_mirror)


def load_bvh_folder(folder: str | Path) -> list[MotionClip]:
    """Every ``*.bvh`` under ``folder`` (sub-folders included, sorted by path), named by path.

    Raises:
        UserError: no such folder, no BVH file in it, or a malformed file (naming it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"data.prior bvh:{folder}: folder not found")
    files = sorted(folder.rglob("*.bvh"))
    if not files:
        raise UserError(f"data.prior bvh:{folder}: no .bvh file in the folder")
    return [load_bvh(path, name=path.relative_to(folder).with_suffix("").as_posix()) for path in files]
