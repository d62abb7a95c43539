"""Temporal smoothing of per-frame values along the frame axis: what ``partpose predict --smooth``
applies to a video's poses and ``partpose evaluate --smooth`` to each test video's."""

from __future__ import annotations

import numpy as np

from partpose.errors import UserError

SMOOTHING_METHODS = ("mean", "savgol")


def smooth_sequence(x: np.ndarray, window: int, method: str = "mean") -> np.ndarray:
    """Smooth a sequence along its first (frame) axis.

    Args:
        x: ``(N, ...)`` values per frame.
        window: odd number of frames ``K >= 1`` (1 returns a copy).
        method: ``"mean"``: centred moving average; near the ends the window shrinks to the
            frames that exist (frame ``t`` averages frames ``max(0, t − r) .. min(N − 1, t + r)``,
            ``r = (K − 1)/2``), so nothing is padded. ``"savgol"``: Savitzky–Golay filter of
            order 2 (``scipy.signal.savgol_filter``, ``mode="interp"``: the ends are fitted by
            the polynomial of the first/last window), which keeps peaks better; ``K`` shrinks to
            the longest odd window the sequence holds, and sequences shorter than 3 frames are
            returned unchanged.
    Returns:
        ``(N, ...)`` float64.
    """
    if window < 1 or window % 2 == 0:
        raise UserError(f"the smoothing window must be an odd number of frames >= 1, got {window}")
    if method not in SMOOTHING_METHODS:
        raise UserError(f"unknown smoothing method {method!r}; known: {', '.join(SMOOTHING_METHODS)}")
    values = np.asarray(x, dtype=np.float64)
    n = values.shape[0]
    if window == 1 or n < 2:
        return values.copy()
    if method == "mean":
        r = (window - 1) // 2
        cumulative = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
        t = np.arange(n)
        lo, hi = np.maximum(t - r, 0), np.minimum(t + r, n - 1) + 1
        count = (hi - lo).reshape((n,) + (1,) * (values.ndim - 1))
        return (cumulative[hi] - cumulative[lo]) / count
    from scipy.signal import savgol_filter

    k = min(window, n if n % 2 else n - 1)
    if k < 3:
        return values.copy()
    return savgol_filter(values, k, polyorder=2, axis=0, mode="interp")
