"""Pose and segmentation metrics, batched in torch (numpy inputs are converted).

Convention:
    Poses are ``(N, J, 3)`` in millimetres, one row per frame, in any common frame (the
    protocols make them root-relative in the camera frame first). Every pose metric computes a
    per-frame value ``(N,)`` and, with ``reduction="mean"`` (the default), returns its mean as a
    0-d tensor; ``reduction="per_frame"`` returns the ``(N,)`` values for breakdowns. The mean
    over frames of per-frame means equals the mean over all (frame, joint) pairs because every
    frame has the same joints.

    PCK and AUC are in percent (0..100). The PCK test is strict: a joint counts when its error
    is ``< threshold`` (the MPI-INF-3DHP evaluation script's test).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from partpose.geometry.kinematics import canonicalize
from partpose.geometry.skeleton import H36M17
from partpose.utils.checks import check_shape

# The 14 joints of the MPI-INF-3DHP 3DPCK/AUC protocol (head_top, neck, shoulders, elbows,
# wrists, hips, knees, ankles; not pelvis, spine and 3DHP's "head"), as indices into H36M17.
# 3DHP head_top is our ``head``, 3DHP neck is our ``thorax``; 3DHP "head" (our ``nose``) is out.
MPI_INF_3DHP_PCK_JOINTS: tuple[int, ...] = tuple(
    sorted(
        H36M17.index(name)
        for name in (
            "head", "thorax",
            "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
            "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
        )
    )
)

# The 14 joints of ours that SMPL's 24 joints define (3DPW ground truth): everything but spine,
# nose and head, which 3DPW's SMPL joints only approximate (see ``data/datasets/pw3d.py``).
PW3D_EVAL_JOINTS: tuple[int, ...] = tuple(
    j for j, name in enumerate(H36M17.names) if name not in ("spine", "nose", "head")
)

AUC_THRESHOLDS_MM: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))
"""The AUC thresholds 0, 5, ..., 150 mm (31 values)."""

_REDUCTIONS = ("mean", "per_frame")


def as_tensor(x: torch.Tensor | np.ndarray | Sequence, name: str = "input") -> torch.Tensor:
    """``x`` as a floating tensor; numpy arrays keep float64, integer input becomes float32."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x))
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be an array or tensor: {error}") from None
    if not t.is_floating_point():
        t = t.to(torch.float32)
    return t


def _pose_pair(pred, gt) -> tuple[torch.Tensor, torch.Tensor]:
    pred = as_tensor(pred, "pred")
    gt = as_tensor(gt, "gt")
    check_shape(pred, ("N", "J", 3), "pred")
    check_shape(gt, ("N", "J", 3), "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred and gt must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    dtype = torch.promote_types(pred.dtype, gt.dtype)
    return pred.to(dtype), gt.to(device=pred.device, dtype=dtype)


def _reduce(per_frame: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_frame.mean()
    if reduction == "per_frame":
        return per_frame
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _select_joints(x: torch.Tensor, joints: Sequence[int] | None) -> torch.Tensor:
    """``x[..., joints]`` along the joint axis (the last of ``(N, J)``)."""
    if joints is None:
        return x
    index = torch.as_tensor(list(joints), dtype=torch.long, device=x.device)
    if index.numel() == 0:
        raise ValueError("joints must name at least one joint")
    if int(index.min()) < -x.shape[-1] or int(index.max()) >= x.shape[-1]:
        raise ValueError(f"joints {list(joints)} out of range for {x.shape[-1]} joints")
    return x[..., index]


def joint_errors(pred, gt) -> torch.Tensor:
    """Euclidean error of every joint.

    Args:
        pred, gt: ``(N, J, 3)`` poses, mm.
    Returns:
        ``(N, J)`` distances, mm.
    """
    pred, gt = _pose_pair(pred, gt)
    return (pred - gt).norm(dim=-1)


def mpjpe(pred, gt, reduction: str = "mean") -> torch.Tensor:
    """Mean per-joint position error (Human3.6M protocol #1 once both are root-relative).

    Args:
        pred, gt: ``(N, J, 3)`` poses in mm, same frame.
        reduction: ``"mean"`` → 0-d tensor; ``"per_frame"`` → ``(N,)``.
    Returns:
        Error in mm.
    """
    return _reduce(joint_errors(pred, gt).mean(dim=-1), reduction)


def n_mpjpe(pred, gt, reduction: str = "mean") -> torch.Tensor:
    """MPJPE after scaling each predicted frame by ``<pred, gt> / <pred, pred>``.

    The scale is the least-squares optimum of ``|s · pred − gt|²`` per frame, so the inputs must
    be root-relative (the scale is about the origin). A frame whose prediction is all zeros keeps
    scale 0.

    Args:
        pred, gt: ``(N, J, 3)`` root-relative poses, mm.
        reduction: ``"mean"`` or ``"per_frame"``.
    """
    pred, gt = _pose_pair(pred, gt)
    dot_pg = (pred * gt).sum(dim=(-2, -1))
    dot_pp = (pred * pred).sum(dim=(-2, -1))
    scale = dot_pg / dot_pp.clamp_min(torch.finfo(pred.dtype).tiny)
    return mpjpe(scale[:, None, None] * pred, gt, reduction)


def procrustes_align(pred, gt) -> torch.Tensor:
    """The similarity transform of each predicted frame that best fits the ground truth.

    Solves ``min_{s, R, t} Σ_j |s R pred_j + t − gt_j|²`` per frame with ``R`` a proper rotation
    (``det R = +1``: the reflection an unconstrained SVD can return is fixed by the sign of the
    determinant), ``s > 0`` for non-degenerate input (Umeyama 1991). Computed in float64 and
    returned in the input dtype.

    Args:
        pred, gt: ``(N, J, 3)`` poses, mm.
    Returns:
        ``(N, J, 3)`` aligned prediction, mm, in the frame of ``gt``.
    """
    pred, gt = _pose_pair(pred, gt)
    p = pred.to(torch.float64)
    g = gt.to(torch.float64)
    mu_p = p.mean(dim=-2, keepdim=True)
    mu_g = g.mean(dim=-2, keepdim=True)
    p0 = p - mu_p
    g0 = g - mu_g
    # Row-vector form: aligned = s · p0 @ M + mu_g with M = Rᵀ. Maximise tr(Mᵀ H), H = p0ᵀ g0.
    h = p0.transpose(-1, -2) @ g0
    u, sigma, vh = torch.linalg.svd(h)
    d = torch.sign(torch.linalg.det(u @ vh))
    d = torch.where(d == 0, torch.ones_like(d), d)
    fix = torch.ones_like(sigma)
    fix[:, -1] = d
    m = u @ (fix[:, :, None] * vh)
    norm_p = (p0 * p0).sum(dim=(-2, -1))
    scale = (sigma * fix).sum(dim=-1) / norm_p.clamp_min(torch.finfo(torch.float64).tiny)
    aligned = scale[:, None, None] * (p0 @ m) + mu_g
    return aligned.to(pred.dtype)


def pa_mpjpe(pred, gt, reduction: str = "mean") -> torch.Tensor:
    """MPJPE after a per-frame similarity (Procrustes) alignment: Human3.6M protocol #2.

    Args:
        pred, gt: ``(N, J, 3)`` poses, mm.
        reduction: ``"mean"`` or ``"per_frame"``.
    """
    pred, gt = _pose_pair(pred, gt)
    return mpjpe(procrustes_align(pred, gt), gt, reduction)


def pck3d(
    pred,
    gt,
    threshold: float = 150.0,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """3D percentage of correct keypoints: joints with error ``< threshold`` mm, in percent.

    Args:
        pred, gt: ``(N, J, 3)`` poses, mm (root-relative for the MPI-INF-3DHP protocol).
        threshold: mm.
        joints: indices of the joints that count (``MPI_INF_3DHP_PCK_JOINTS`` for 3DHP); all
            joints when ``None``.
        reduction: ``"mean"`` or ``"per_frame"``.
    """
    errors = _select_joints(joint_errors(pred, gt), joints)
    correct = (errors < threshold).to(errors.dtype)
    return _reduce(100.0 * correct.mean(dim=-1), reduction)


def auc3d(
    pred,
    gt,
    thresholds: Sequence[float] = AUC_THRESHOLDS_MM,
    joints: Sequence[int] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Area under the 3DPCK curve: the mean of PCK (as a fraction) over ``thresholds``, × 100.

    Args:
        pred, gt: ``(N, J, 3)`` poses, mm.
        thresholds: mm; 0, 5, ..., 150 by default.
        joints: as for ``pck3d``.
        reduction: ``"mean"`` or ``"per_frame"``.
    """
    errors = _select_joints(joint_errors(pred, gt), joints)
    t = torch.as_tensor(list(thresholds), dtype=errors.dtype, device=errors.device)
    if t.numel() == 0:
        raise ValueError("thresholds must not be empty")
    correct = (errors[:, :, None] < t).to(errors.dtype)  # (N, J, K)
    return _reduce(100.0 * correct.mean(dim=(-2, -1)), reduction)


def pose_spread(poses) -> torch.Tensor:
    """How much a set of poses varies from frame to frame: the root-mean-square distance of each
    joint from its mean position over the frames, averaged over the joints.

    0 for a model that predicts one pose for every image (the degenerate solution); compare with
    the spread of the ground truth.

    Args:
        poses: ``(N, J, 3)`` poses, mm (root-relative for a pose-only spread).
    Returns:
        0-d tensor, mm.
    """
    p = as_tensor(poses, "poses")
    check_shape(p, ("N", "J", 3), "poses")
    if p.shape[0] == 0:
        raise ValueError("pose_spread needs at least one pose")
    deviation = (p - p.mean(dim=0, keepdim=True)).pow(2).sum(dim=-1)  # (N, J) squared distances
    return deviation.mean(dim=0).sqrt().mean()


def facing_error(pred, gt, reduction: str = "mean", skeleton=H36M17) -> torch.Tensor:
    """Angle between the directions the predicted and the true body face, degrees (0..180).

    The facing direction is the canonical frame's x axis
    (:func:`partpose.geometry.kinematics.canonicalize`: perpendicular to the hip line and the
    spine), so a body turned half round about its spine is 180° off. The error ignores the limbs; the
    median over frames tells a learned view (small) from chance (about 90°).

    Args:
        pred, gt: ``(N, J, 3)`` poses in the same frame.
        reduction: ``"mean"`` or ``"per_frame"``.
    """
    pred, gt = _pose_pair(pred, gt)
    _, rotation_pred = canonicalize(pred, skeleton)
    _, rotation_gt = canonicalize(gt, skeleton)
    cosine = (rotation_pred[:, 0] * rotation_gt[:, 0]).sum(dim=-1).clamp(-1.0, 1.0)
    return _reduce(torch.rad2deg(torch.acos(cosine)), reduction)


def _confusion(pred: torch.Tensor, gt: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(N, C, C)`` per-image confusion counts, rows = gt class, columns = predicted class."""
    n = pred.shape[0]
    flat = (gt * num_classes + pred).reshape(n, -1)
    valid = (gt >= 0).reshape(n, -1)
    offsets = torch.arange(n, device=pred.device)[:, None] * num_classes * num_classes
    codes = (flat + offsets)[valid]
    counts = torch.bincount(codes, minlength=n * num_classes * num_classes)
    return counts.reshape(n, num_classes, num_classes)


def _iou_from_confusion(conf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class IoU and whether the class occurs (in gt or prediction), for ``(..., C, C)``."""
    inter = torch.diagonal(conf, dim1=-2, dim2=-1).to(torch.float64)
    union = conf.sum(dim=-1).to(torch.float64) + conf.sum(dim=-2).to(torch.float64) - inter
    present = union > 0
    iou = torch.where(present, inter / union.clamp_min(1.0), torch.zeros_like(inter))
    return iou, present


def segmentation_miou(
    pred_labels,
    gt_labels,
    num_classes: int,
    mode: str = "parts",
    ignore_index: int = -1,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean intersection over union of part segmentations, in percent.

    Convention:
        Labels follow ``partpose.geometry.parts``: 0 = background, ``l + 1`` = part ``l``;
        ``num_classes`` counts the background (``NUM_PARTS + 1``). ``mode="parts"`` scores every
        label (background included); ``mode="fg_bg"`` first maps every part to 1 (two classes,
        foreground and background). Pixels whose ground truth is ``ignore_index`` are skipped.
        The mean runs over the classes present in the ground truth or the prediction.
        ``reduction="mean"`` accumulates intersections and unions over all images (the usual
        dataset-level mIoU); ``"per_frame"`` returns each image's own mIoU ``(N,)``.

    Args:
        pred_labels, gt_labels: ``(N, H, W)`` integer labels.
    """
    pred = pred_labels if isinstance(pred_labels, torch.Tensor) else torch.from_numpy(np.asarray(pred_labels))
    gt = gt_labels if isinstance(gt_labels, torch.Tensor) else torch.from_numpy(np.asarray(gt_labels))
    check_shape(pred, ("N", "H", "W"), "pred_labels")
    check_shape(gt, ("N", "H", "W"), "gt_labels")
    if pred.shape != gt.shape:
        raise ValueError(f"pred_labels and gt_labels must have the same shape, got {tuple(pred.shape)} and {tuple(gt.shape)}")
    if pred.is_floating_point() or gt.is_floating_point():
        raise ValueError("segmentation labels must be integer tensors")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    pred = pred.to(torch.long)
    gt = gt.to(device=pred.device, dtype=torch.long)
    ignored = gt == ignore_index
    for name, labels in (("pred_labels", pred), ("gt_labels", gt.masked_fill(ignored, 0))):
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"{name} must lie in [0, {num_classes}) (or be ignore_index in gt)")
    if mode == "fg_bg":
        pred = (pred > 0).to(torch.long)
        gt = (gt > 0).to(torch.long)
        num_classes = 2
    elif mode != "parts":
        raise ValueError(f"mode must be 'parts' or 'fg_bg', got {mode!r}")
    gt = gt.masked_fill(ignored, -1)
    conf = _confusion(pred, gt, num_classes)
    if reduction == "mean":
        iou, present = _iou_from_confusion(conf.sum(dim=0))
        return 100.0 * iou[present].mean() if present.any() else torch.tensor(float("nan"), dtype=torch.float64)
    if reduction == "per_frame":
        iou, present = _iou_from_confusion(conf)
        count = present.sum(dim=-1)
        per_frame = (iou * present).sum(dim=-1) / count.clamp_min(1)
        return 100.0 * torch.where(count > 0, per_frame, torch.full_like(per_frame, float("nan")))
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def breakdown(values, keys: Sequence[str]) -> dict[str, float]:
    """Mean of ``values`` per key, then the mean over keys (Human3.6M: per action, then averaged).

    Args:
        values: ``(N,)`` per-frame values.
        keys: ``N`` group names (actions, activities), one per frame.
    Returns:
        ``{key: mean, ..., "average": mean over keys}`` as plain floats, keys in order of first
        appearance. ``"average"`` weighs every key equally, whatever its number of frames.
    """
    v = as_tensor(values, "values")
    check_shape(v, ("N",), "values")
    keys = [str(k) for k in keys]
    if len(keys) != v.shape[0]:
        raise ValueError(f"got {v.shape[0]} values but {len(keys)} keys")
    if "average" in keys:
        raise ValueError("'average' is reserved for the mean over keys; rename that group")
    if not keys:
        raise ValueError("breakdown needs at least one value")
    order = list(dict.fromkeys(keys))
    lookup = {k: i for i, k in enumerate(order)}
    group = torch.as_tensor([lookup[k] for k in keys], dtype=torch.long, device=v.device)
    sums = torch.zeros(len(order), dtype=torch.float64, device=v.device).index_add_(0, group, v.to(torch.float64))
    counts = torch.bincount(group, minlength=len(order)).to(torch.float64)
    means = sums / counts
    result = {k: float(m) for k, m in zip(order, means.tolist())}
    result["average"] = float(means.mean())
    return result

