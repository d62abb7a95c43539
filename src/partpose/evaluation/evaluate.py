"""Run a model over a frame dataset and score it.

Predictions are root-relative camera-frame poses in millimetres (``PoseEstimate.pose_cam_mm``),
compared with the root-relative ground truth. The predicted segmentation of a frame is the
decoder's segmentation of that frame's own appearance and pose (Î_{a_t}^{p_t}). With the flip
test (``flip_test``, ``partpose evaluate --flip-test``) each frame is read together with its
mirror (``PartPoseModel.encode_flip_test``). With temporal
smoothing (:func:`smooth_within_videos`, ``partpose evaluate --smooth``) each video's poses are
smoothed over its frames before scoring, as ``partpose predict --smooth`` smooths a video's.
With a side window (``side_window``, ``partpose evaluate --side-window``) a model's side network
logits are averaged within each video before every pose is given its side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from partpose.evaluation import metrics
from partpose.geometry.parts import NUM_PARTS
from partpose.geometry.view_smoothing import smooth_pose_sequence, smooth_side
from partpose.utils.smoothing import smooth_sequence


@dataclass
class Predictions:
    pose_cam_mm: np.ndarray  # (N, 17, 3) root-relative
    gt_pose_cam_mm: np.ndarray  # (N, 17, 3) root-relative
    q_norm: np.ndarray  # (N, 17, 2)
    segmentation: np.ndarray | None  # (N, H, W) predicted labels
    gt_segmentation: np.ndarray | None
    video_index: np.ndarray  # (N,)


def thin_frames(frames, max_frames: int | None):
    """``frames`` (any dataset) evenly thinned to at most ``max_frames`` items, first and last
    kept; the dataset itself when it is no longer or ``max_frames`` is ``None``."""
    if max_frames is None or len(frames) <= max_frames:
        return frames
    return Subset(frames, np.linspace(0, len(frames) - 1, max_frames).round().astype(int).tolist())


def video_spans(video_index: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the slice of each video's frames in ``video_index (N,)``, in order.

    Raises:
        ValueError: a video's frames are not consecutive.
    """
    index = np.asarray(video_index)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]]) if index.size else np.zeros(0, dtype=int)
    if len(np.unique(index)) != len(starts):
        raise ValueError("every video's frames must be consecutive")
    return list(zip(starts.tolist(), np.r_[starts[1:], len(index)].astype(int).tolist()))


@torch.no_grad()
def video_side_logits(model, dataset, window: int, batch_size: int = 64, device: torch.device | str = "cpu",
                      flip_test: bool = False) -> np.ndarray:
    """``(N,)`` float32: the side network's logit of each frame of ``dataset`` (in order;
    ``PartPoseModel.side_logits``), averaged within each video over ``window`` frames
    (``geometry.view_smoothing.smooth_side``: 0 the whole video, an odd ``K`` a centred window).
    Pass an eval-mode model.

    Raises:
        ValueError: a model without a side network, or a video whose frames are not consecutive.
    """
    logits, videos = [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        logits.append(model.side_logits(batch["image"].to(device), flip_test=flip_test).cpu().numpy())
        videos.append(batch["video_index"].numpy())
    if not logits:
        return np.zeros(0, dtype=np.float32)
    logits_all, index = np.concatenate(logits), np.concatenate(videos)
    out = np.empty(len(logits_all), dtype=np.float32)
    for start, stop in video_spans(index):
        out[start:stop] = smooth_side(logits_all[start:stop], window)
    return out


@torch.no_grad()
def predict_frames(model, frames, batch_size: int = 64, max_frames: int | None = None,
                   device: torch.device | str = "cpu", with_segmentation: bool = True,
                   flip_test: bool = False, side_window: int = 1) -> Predictions:
    """Predict every frame of a ``FrameDataset`` (evenly thinned to ``max_frames``); with
    ``flip_test``, each frame and its mirror (``PartPoseModel.encode_flip_test``); with
    ``side_window`` other than 1, each pose given the side its video's frames read together
    (:func:`video_side_logits`, a first pass over the frames)."""
    dataset = thin_frames(frames, max_frames)
    was_training = model.training
    model.eval()
    front = None
    if side_window != 1:  # side_logits raises ValueError for a model without a side network
        front = torch.from_numpy(video_side_logits(model, dataset, side_window, batch_size, device, flip_test))
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("pose", "gt", "q", "seg", "gt_seg", "video")}
    done = 0
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        image = batch["image"].to(device)
        side = None if front is None else front[done:done + len(image)].to(device)
        done += len(image)
        est = model.encode_sided(image, batch["camera_up"].to(device), flip_test=flip_test, front_logits=side)
        out["pose"].append(_root_relative(est.pose_cam_mm).float().cpu().numpy())
        out["gt"].append(_root_relative(batch["pose3d"].float()).numpy())
        out["q"].append(est.q.float().cpu().numpy())
        out["video"].append(batch["video_index"].numpy())
        if with_segmentation and "segmentation" in batch:
            synth = model.synthesize(est.appearance, est.q, est.depth, est.scale)
            out["seg"].append(synth.seg_logits.argmax(1).cpu().numpy())
            out["gt_seg"].append(batch["segmentation"].numpy())
    model.train(was_training)
    cat = {k: (np.concatenate(v) if v else None) for k, v in out.items()}
    return Predictions(cat["pose"], cat["gt"], cat["q"], cat["seg"], cat["gt_seg"], cat["video"])


def smooth_within_videos(pred: Predictions, window: int, method: str = "mean") -> Predictions:
    """``pred`` with every video's poses and 2D joints smoothed over its own frames
    (:func:`partpose.geometry.view_smoothing.smooth_pose_sequence`, never across two videos);
    with ``method="view"`` only the poses' view, and the 2D joints stay per frame.

    Args:
        pred: predictions of every frame of each video, in order (:func:`predict_frames` without
            thinning: a video's frames are consecutive).
        window, method: as ``smooth_pose_sequence``.
    Raises:
        ValueError: a video's frames are not consecutive in ``pred``.
    """
    if window == 1:
        return pred
    pose, q = pred.pose_cam_mm.copy(), pred.q_norm.copy()
    for start, stop in video_spans(pred.video_index):
        pose[start:stop] = smooth_pose_sequence(pred.pose_cam_mm[start:stop], window, method)
        if method != "view":
            q[start:stop] = smooth_sequence(pred.q_norm[start:stop], window, method)
    return replace(pred, pose_cam_mm=pose, q_norm=q)


def score(pred: Predictions) -> dict[str, float]:
    """MPJPE, PA-MPJPE, N-MPJPE (mm), 3DPCK@150 mm and AUC (%), segmentation mIoU (%), and two
    diagnostics: the spread of the predicted and the true poses (mm; 0 = one pose for every
    image) and the median facing error (degrees; about 90 = chance)."""
    p, g = torch.from_numpy(pred.pose_cam_mm), torch.from_numpy(pred.gt_pose_cam_mm)
    result = {
        "mpjpe": float(metrics.mpjpe(p, g)),
        "pa_mpjpe": float(metrics.pa_mpjpe(p, g)),
        "n_mpjpe": float(metrics.n_mpjpe(p, g)),
        "pck3d": float(metrics.pck3d(p, g)),
        "auc3d": float(metrics.auc3d(p, g)),
        "frames": int(p.shape[0]),
        "pose_spread": float(metrics.pose_spread(p)),
        "gt_pose_spread": float(metrics.pose_spread(g)),
        "facing_error_median": float(metrics.facing_error(p, g, reduction="per_frame").median()),
    }
    if pred.segmentation is not None and pred.gt_segmentation is not None:
        valid = (pred.gt_segmentation >= 0).reshape(len(pred.gt_segmentation), -1).all(1)
        if valid.any():
            s, gs = torch.from_numpy(pred.segmentation[valid]), torch.from_numpy(pred.gt_segmentation[valid])
            result["miou_fg_bg"] = float(metrics.segmentation_miou(s, gs, NUM_PARTS + 1, mode="fg_bg"))
            result["miou_parts"] = float(metrics.segmentation_miou(s, gs, NUM_PARTS + 1, mode="parts"))
    return result


def _root_relative(pose: torch.Tensor) -> torch.Tensor:
    return pose - pose[:, :1]
