"""The tables each benchmark reports, from per-frame predictions and metadata.

Convention:
    Predictions and ground truth are ``(N, 17, 3)`` poses in millimetres in the camera frame
    (x right, y down, z forward), joints in ``H36M17`` order. Every protocol first makes both
    root-relative (pelvis at the origin). Results are nested ``dict``s of plain ``float``/``int``
    ready for ``json.dump``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from partpose.evaluation.metrics import (
    MPI_INF_3DHP_PCK_JOINTS,
    PW3D_EVAL_JOINTS,
    as_tensor,
    auc3d,
    breakdown,
    mpjpe,
    n_mpjpe,
    pa_mpjpe,
    pck3d,
)
from partpose.geometry.skeleton import H36M17
from partpose.utils.checks import check_shape

MPI_INF_3DHP_ACTIVITIES: dict[int, str] = {
    1: "Standing/Walking",
    2: "Exercising",
    3: "Sitting",
    4: "Reaching/Crouching",
    5: "On the Floor",
    6: "Sports",
    7: "Miscellaneous",
}
"""``activity_annotation`` codes of the MPI-INF-3DHP test set."""


def root_relative(poses: torch.Tensor, root: int = H36M17.root) -> torch.Tensor:
    """``poses − poses[:, root]`` for ``(N, J, 3)`` poses."""
    return poses - poses[:, root : root + 1]


def _pair(pred, gt, num_frames_of: str) -> tuple[torch.Tensor, torch.Tensor]:
    pred = as_tensor(pred, "pred")
    gt = as_tensor(gt, num_frames_of)
    check_shape(pred, ("N", H36M17.num_joints, 3), "pred")
    check_shape(gt, ("N", H36M17.num_joints, 3), num_frames_of)
    if pred.shape != gt.shape:
        raise ValueError(f"pred and {num_frames_of} must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    return root_relative(pred), root_relative(gt.to(device=pred.device))


def _keys(keys: Sequence, n: int, what: str) -> list[str]:
    keys = [str(k) for k in (keys.tolist() if isinstance(keys, (np.ndarray, torch.Tensor)) else keys)]
    if len(keys) != n:
        raise ValueError(f"got {n} frames but {len(keys)} {what}")
    return keys


def h36m_base_action(action: str) -> str:
    """``"Directions 1"`` → ``"Directions"``: the sub-action number is merged for the tables."""
    return action.split(" ")[0]


def h36m_protocols(pred, gt, actions: Sequence[str]) -> dict:
    """Human3.6M protocol #1 (MPJPE) and #2 (PA-MPJPE), per action and averaged over actions.

    Args:
        pred, gt: ``(N, 17, 3)`` camera-frame poses, mm (made root-relative here).
        actions: ``N`` action names; sub-actions (``"Walking 1"``) merge into their action.
    Returns:
        ``{"mpjpe": {action: mm, ..., "average": mm}, "pa_mpjpe": {...}, "num_frames": N}``;
        ``"average"`` is the mean over actions, as the field reports it.
    """
    pred, gt = _pair(pred, gt, "gt")
    keys = [h36m_base_action(a) for a in _keys(actions, pred.shape[0], "actions")]
    return {
        "mpjpe": breakdown(mpjpe(pred, gt, reduction="per_frame"), keys),
        "pa_mpjpe": breakdown(pa_mpjpe(pred, gt, reduction="per_frame"), keys),
        "num_frames": int(pred.shape[0]),
    }


def mpi_inf_3dhp_protocol(pred, gt_univ, activities: Sequence) -> dict:
    """MPI-INF-3DHP test protocol: 3DPCK@150 mm and AUC on 14 joints, MPJPE on all 17.

    Args:
        pred: ``(N, 17, 3)`` camera-frame prediction, mm.
        gt_univ: ``(N, 17, 3)`` ``univ_annot3`` of the valid frames, mm, reordered to H36M17.
        activities: ``N`` activity codes (1..7, named by ``MPI_INF_3DHP_ACTIVITIES``) or names.
    Returns:
        ``{"pck": {...}, "auc": {...}, "mpjpe": {...}, "num_frames": N}``; each inner dict has one
        entry per activity, ``"average"`` (mean over activities) and ``"all"`` (mean over all
        frames, the total the evaluation script prints).
    """
    pred, gt = _pair(pred, gt_univ, "gt_univ")
    keys = [MPI_INF_3DHP_ACTIVITIES.get(_as_int(a), a) for a in _keys(activities, pred.shape[0], "activities")]
    per_frame = {
        "pck": pck3d(pred, gt, 150.0, joints=MPI_INF_3DHP_PCK_JOINTS, reduction="per_frame"),
        "auc": auc3d(pred, gt, joints=MPI_INF_3DHP_PCK_JOINTS, reduction="per_frame"),
        "mpjpe": mpjpe(pred, gt, reduction="per_frame"),
    }
    result: dict = {}
    for name, values in per_frame.items():
        table = breakdown(values, keys)
        table["all"] = float(values.to(torch.float64).mean())
        result[name] = table
    result["num_frames"] = int(pred.shape[0])
    return result


def pw3d_protocol(pred, gt, sequences: Sequence[str]) -> dict:
    """3DPW: MPJPE and PA-MPJPE on the 14 joints SMPL defines (``PW3D_EVAL_JOINTS``).

    Both poses are made pelvis-relative first. The ground truth are 3DPW's SMPL joints mapped
    to ours, not the mesh-regressed joints some papers use, so absolute numbers compare only
    with results computed the same way.

    Args:
        pred, gt: ``(N, 17, 3)`` camera-frame poses, mm.
        sequences: ``N`` sequence names (one per frame).
    Returns:
        ``{"mpjpe": {sequence: mm, ..., "average": mm, "all": mm}, "pa_mpjpe": {...},
        "num_frames": N}``; ``"all"`` is the mean over all frames (the usual 3DPW number).
    """
    pred, gt = _pair(pred, gt, "gt")
    keys = _keys(sequences, pred.shape[0], "sequences")
    joints = list(PW3D_EVAL_JOINTS)
    pred, gt = pred[:, joints], gt[:, joints]
    result: dict = {}
    for name, values in (
        ("mpjpe", mpjpe(pred, gt, reduction="per_frame")),
        ("pa_mpjpe", pa_mpjpe(pred, gt, reduction="per_frame")),
    ):
        table = breakdown(values, keys)
        table["all"] = float(values.to(torch.float64).mean())
        result[name] = table
    result["num_frames"] = int(pred.shape[0])
    return result


def synthetic_protocol(
    pred,
    gt,
    pck_threshold: float = 150.0,
    pck_joints: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
) -> dict:
    """Every pose metric on one set of frames (the synthetic benchmark and quick checks).

    Args:
        pred, gt: ``(N, 17, 3)`` camera-frame poses, mm (made root-relative here).
        pck_threshold: mm.
        pck_joints: joints for PCK/AUC (all 17 when ``None``).
        groups: optional ``N`` group names (clip, subject); adds ``"mpjpe_per_group"``.
    Returns:
        ``{"mpjpe", "pa_mpjpe", "n_mpjpe", "pck", "auc": float, "num_frames": int}`` (mm and
        percent), plus ``"mpjpe_per_group"`` when ``groups`` is given.
    """
    pred, gt = _pair(pred, gt, "gt")
    result: dict = {
        "mpjpe": float(mpjpe(pred, gt)),
        "pa_mpjpe": float(pa_mpjpe(pred, gt)),
        "n_mpjpe": float(n_mpjpe(pred, gt)),
        "pck": float(pck3d(pred, gt, pck_threshold, joints=pck_joints)),
        "auc": float(auc3d(pred, gt, joints=pck_joints)),
        "num_frames": int(pred.shape[0]),
    }
    if groups is not None:
        keys = _keys(groups, pred.shape[0], "groups")
        result["mpjpe_per_group"] = breakdown(mpjpe(pred, gt, reduction="per_frame"), keys)
    return result


def _as_int(value: str) -> int | None:
    try:
        return int(float(value))
    except ValueError:
        return None
