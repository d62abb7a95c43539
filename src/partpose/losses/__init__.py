"""The method's objectives as pure functions of tensors (no state, inputs never modified)."""

from partpose.losses.energy import appearance_energy, pose_energy
from partpose.losses.image import image_consistency_loss, image_unpaired_loss
from partpose.losses.segmentation import segmentation_loss
from partpose.losses.silhouette import skeleton_silhouette_loss
from partpose.losses.supervision import pose2d_loss, pose3d_loss
from partpose.losses.twin import twin_choice, twin_choice_loss, twin_targets

__all__ = [
    "appearance_energy",
    "image_consistency_loss",
    "image_unpaired_loss",
    "pose2d_loss",
    "pose3d_loss",
    "pose_energy",
    "segmentation_loss",
    "skeleton_silhouette_loss",
    "twin_choice",
    "twin_choice_loss",
    "twin_targets",
]
