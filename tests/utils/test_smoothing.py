"""utils/smoothing.py: the centred moving average against a naive one, and Savitzky-Golay."""

import numpy as np
import pytest

from partpose.errors import UserError
from partpose.utils.smoothing import smooth_sequence


def _moving_average_naive(x, window):
    r = window // 2
    return np.stack([x[max(0, t - r):t + r + 1].mean(0) for t in range(len(x))])


def test_smooth_sequence_mean_is_a_centred_average():
    x = np.random.default_rng(1).normal(size=(11, 17, 3))
    for window in (1, 3, 5, 21):
        np.testing.assert_allclose(smooth_sequence(x, window, "mean"), _moving_average_naive(x, window), atol=1e-12)
    for bad in (0, 2, -3):
        with pytest.raises(UserError):
            smooth_sequence(x, bad)
    with pytest.raises(UserError):
        smooth_sequence(x, 3, "kalman")


def test_savgol_keeps_quadratic_motion_and_damps_noise():
    t = np.arange(15, dtype=np.float64)
    path = np.stack([0.5 * t**2 - 3 * t + 1, 2 * t, -t**2], axis=-1)[:, None, :]  # (15, 1, 3)
    np.testing.assert_allclose(smooth_sequence(path, 7, "savgol"), path, atol=1e-8)
    noise = np.random.default_rng(2).normal(size=path.shape)
    assert np.abs(smooth_sequence(path + noise, 7, "savgol") - path).std() < noise.std()
    short = path[:4]
    np.testing.assert_allclose(smooth_sequence(short, 9, "savgol"), short, atol=1e-8)  # window shrinks to 3
    np.testing.assert_allclose(smooth_sequence(path[:2], 5, "savgol"), path[:2])
