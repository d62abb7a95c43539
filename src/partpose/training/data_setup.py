"""Build what training reads from the config: frame pairs, test frames and the pose prior."""

from __future__ import annotations

from dataclasses import dataclass

from partpose.data.pairs import FrameDataset, PairDataset
from partpose.data.prior import PosePrior
from partpose.data.synthetic import build_synthetic_videos
from partpose.errors import UserError
from partpose.training.config import TrainConfig

DATASETS = ("synthetic",)


@dataclass
class TrainingData:
    pairs: PairDataset
    test_frames: FrameDataset
    prior: PosePrior
    train_videos: list
    test_videos: list


def pair_labels(setting: str) -> str:
    """Which labels the pairs must carry for a setting (``none`` for the unsupervised method)."""
    return {"unsup": "none", "weak": "2d", "semi": "3d", "supervised": "both"}[setting]


def build_training_data(config: TrainConfig) -> TrainingData:
    data = config.data
    if data.dataset != "synthetic":
        raise UserError(f"unknown dataset {data.dataset!r}; known datasets: {', '.join(DATASETS)}")
    train_videos = build_synthetic_videos(data.synthetic, "train")
    test_videos = build_synthetic_videos(data.synthetic, "test")
    prior = PosePrior.from_deepmimic(split="prior", mirror=data.prior_mirror)
    objective = config.objective
    pairs = PairDataset(
        train_videos,
        max_gap=data.max_gap,
        labels=pair_labels(objective.setting),
        semi_fraction=objective.semi_fraction if objective.setting == "semi" else None,
        seed=config.run.seed,
        saliency_source=data.saliency,
    )
    return TrainingData(pairs, FrameDataset(test_videos), prior, train_videos, test_videos)
