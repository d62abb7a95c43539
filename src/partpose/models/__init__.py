"""E, D and the model that joins them through the geometry (T_fk, T_c, T_s)."""

from partpose.models.decoder import Decoder, DecoderConfig
from partpose.models.encoder import Encoder, EncoderConfig, EncoderOutput
from partpose.models.partpose_model import ModelConfig, PartPoseModel, PoseEstimate, Synthesis

__all__ = [
    "Decoder",
    "DecoderConfig",
    "Encoder",
    "EncoderConfig",
    "EncoderOutput",
    "ModelConfig",
    "PartPoseModel",
    "PoseEstimate",
    "Synthesis",
]
