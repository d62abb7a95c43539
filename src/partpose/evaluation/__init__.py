"""Evaluation: pose and segmentation metrics, and the benchmark protocols built on them."""

from partpose.evaluation.metrics import (
    AUC_THRESHOLDS_MM,
    MPI_INF_3DHP_PCK_JOINTS,
    PW3D_EVAL_JOINTS,
    auc3d,
    breakdown,
    joint_errors,
    mpjpe,
    n_mpjpe,
    pa_mpjpe,
    pck3d,
    procrustes_align,
    segmentation_miou,
)
from partpose.evaluation.protocols import (
    MPI_INF_3DHP_ACTIVITIES,
    h36m_protocols,
    mpi_inf_3dhp_protocol,
    pw3d_protocol,
    synthetic_protocol,
)

__all__ = [
    "AUC_THRESHOLDS_MM",
    "MPI_INF_3DHP_ACTIVITIES",
    "MPI_INF_3DHP_PCK_JOINTS",
    "auc3d",
    "breakdown",
    "h36m_protocols",
    "joint_errors",
    "mpi_inf_3dhp_protocol",
    "mpjpe",
    "n_mpjpe",
    "pa_mpjpe",
    "pck3d",
    "procrustes_align",
    "PW3D_EVAL_JOINTS",
    "pw3d_protocol",
    "segmentation_miou",
    "synthetic_protocol",
]
