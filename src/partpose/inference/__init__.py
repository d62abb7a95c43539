"""Using a trained model: loading checkpoints, poses of new images and videos, novel image
synthesis (pose transfer, view synthesis, appearance swap) and export of the pose path."""

from partpose.inference.export import export_pose_path, load_exported, max_export_difference, trace_pose_path
from partpose.inference.loading import LoadedModel, load_model, resolve_checkpoint, resolve_device
from partpose.inference.predict import (
    FrameCrops,
    PosePrediction,
    encode_crops,
    predict_path,
    read_crops,
    smooth_prediction,
    smooth_sequence,
    synthesize_frames,
)
from partpose.inference.synthesis import (
    rotate_view,
    rotation_about_vertical,
    swap_grid,
    transfer,
    turntable,
    write_synthesis,
)

__all__ = [
    "FrameCrops",
    "LoadedModel",
    "PosePrediction",
    "encode_crops",
    "export_pose_path",
    "load_exported",
    "load_model",
    "max_export_difference",
    "predict_path",
    "read_crops",
    "resolve_checkpoint",
    "resolve_device",
    "rotate_view",
    "rotation_about_vertical",
    "smooth_prediction",
    "smooth_sequence",
    "swap_grid",
    "synthesize_frames",
    "trace_pose_path",
    "transfer",
    "turntable",
    "write_synthesis",
]
