"""Smoothing a video's view alone: the body's rotation averaged over frames, its limbs per frame.

``partpose.utils.smoothing`` averages whole poses over a window, which hedges: where a model's
reading of the view flips between neighbouring frames, the average of a body and its turned
copy is a flattened body. :func:`smooth_view` splits each pose into its canonical pose and the
rotation that carries it into the camera (``partpose.geometry.kinematics.canonicalize``: the
hips and the spine fix the body's frame), averages the rotations over a centred window of
frames (the chordal mean of ``scipy.spatial.transform.Rotation.mean``) and turns each frame's
own canonical pose by its window's mean rotation. The limbs stay as each frame read them
(PA-MPJPE between a frame's input and output is zero); only the view is smoothed.

:func:`smooth_side` does the same for the side a person shows the camera, the front or the back,
as a model's side network reads it (``model.side_network``): its logits averaged over a window of
frames, or over the whole video, before each frame's pose is given that side
(``partpose predict --side-window``, ``partpose evaluate --side-window``).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from partpose.errors import UserError
from partpose.geometry.kinematics import canonicalize
from partpose.geometry.skeleton import H36M17, Skeleton
from partpose.utils.smoothing import SMOOTHING_METHODS, smooth_sequence

POSE_SMOOTHING_METHODS = SMOOTHING_METHODS + ("view",)
"""What ``--smooth-method`` may name: the whole pose averaged (``mean``, ``savgol``) or its view alone."""


def split_view(poses: np.ndarray, skeleton: Skeleton = H36M17) -> tuple[np.ndarray, np.ndarray]:
    """Split ``(N, J, 3)`` poses into their limbs and their view.

    Returns:
        ``canonical (N, J, 3)`` float64, each pose in its body's frame about its root
        (``kinematics.canonicalize``), and ``rotation (N, 3, 3)`` float64, the rotation that turns
        it back into the poses' frame (``input_R_canon``): ``poses[n] = rotation[n] @
        canonical[n] + root[n]`` joint by joint.
    """
    canonical, canon_R_input = canonicalize(torch.from_numpy(np.asarray(poses, dtype=np.float64)), skeleton)
    return canonical.numpy(), canon_R_input.transpose(1, 2).numpy()


def seen_from(rotation: np.ndarray, canonical: np.ndarray, poses: np.ndarray, skeleton: Skeleton = H36M17) -> np.ndarray:
    """``(N, J, 3)``: each ``canonical`` pose (:func:`split_view`) turned by ``rotation`` ``(N, 3, 3)``
    about the root of the matching pose of ``poses``, which stays where it was."""
    root = np.asarray(poses, dtype=np.float64)[:, skeleton.root:skeleton.root + 1]
    return np.einsum("nij,nkj->nki", rotation, canonical) + root


def smooth_view(poses: np.ndarray, window: int, skeleton: Skeleton = H36M17) -> np.ndarray:
    """Average each frame's body rotation over the frames around it, keep its limbs.

    Args:
        poses: ``(N, J, 3)`` poses of one video's frames in order, in one frame (the camera's).
        window: odd number of frames ``K >= 1``; frame ``t``'s rotation is the mean of frames
            ``max(0, t − r) .. min(N − 1, t + r)``, ``r = (K − 1)/2`` (the window shrinks at the
            ends, as ``smooth_sequence``'s ``mean``).
        skeleton: the joints' skeleton (its root, thorax and hips fix the body's frame).
    Returns:
        ``(N, J, 3)`` float64: frame ``t``'s canonical pose turned by its window's mean rotation,
        about its own root (which stays where it was).
    """
    if window < 1 or window % 2 == 0:
        raise UserError(f"the smoothing window must be an odd number of frames >= 1, got {window}")
    values = np.asarray(poses, dtype=np.float64)
    n = values.shape[0]
    if window == 1 or n < 2:
        return values.copy()
    canonical, rotation = split_view(values, skeleton)
    rotations = Rotation.from_matrix(rotation)
    r = (window - 1) // 2
    mean = Rotation.concatenate([rotations[max(0, t - r):min(n, t + r + 1)].mean() for t in range(n)])
    return seen_from(mean.as_matrix(), canonical, values, skeleton)


def smooth_pose_sequence(poses: np.ndarray, window: int, method: str = "mean", skeleton: Skeleton = H36M17) -> np.ndarray:
    """One video's ``(N, J, 3)`` poses smoothed over its frames: whole (``mean``, ``savgol``:
    :func:`partpose.utils.smoothing.smooth_sequence`) or their view alone (``view``:
    :func:`smooth_view`). Returns ``(N, J, 3)`` float64."""
    if method not in POSE_SMOOTHING_METHODS:
        raise UserError(f"unknown smoothing method {method!r}; known: {', '.join(POSE_SMOOTHING_METHODS)}")
    if method == "view":
        return smooth_view(poses, window, skeleton)
    return smooth_sequence(poses, window, method)


def smooth_side(front_logits: np.ndarray, window: int) -> np.ndarray:
    """One video's side network logits ``(N,)`` (> 0: the front; ``PartPoseModel.side_logits``)
    averaged over its frames, so that every frame takes the side its neighbours read.

    Args:
        front_logits: ``(N,)`` logits of one video's frames in order.
        window: ``0``: the whole video's mean for every frame (a person who does not turn round);
            an odd ``K >= 1``: the centred moving mean of ``smooth_sequence`` (``1``: unchanged).
    Returns:
        ``(N,)`` float64.
    Raises:
        UserError: a negative or even ``window`` other than 0.
    """
    check_side_window(window)
    values = np.asarray(front_logits, dtype=np.float64)
    if window == 0:
        return np.full_like(values, values.mean()) if values.size else values.copy()
    return smooth_sequence(values, window, "mean")


def check_side_window(window: int) -> None:
    """Raise ``UserError`` unless ``window`` is a side window :func:`smooth_side` takes: 0 or an odd ``K >= 1``."""
    if window < 0 or (window > 0 and window % 2 == 0):
        raise UserError(f"--side-window must be 0 (the whole video) or an odd number of frames >= 1, got {window}")


def side_window_words(window: int) -> str:
    """How a side window reads in a report: ``"the side read over the whole video"`` (0), ``"... over K frames"``."""
    return "the side read over the whole video" if window == 0 else f"the side read over {window} frames"
