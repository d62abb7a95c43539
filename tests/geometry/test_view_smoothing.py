"""geometry/view_smoothing.py: the view averaged over frames against angles worked out by hand,
the limbs kept per frame."""

import numpy as np
import pytest
import torch

from partpose.errors import UserError
from partpose.evaluation.metrics import pa_mpjpe
from partpose.geometry.kinematics import canonicalize
from partpose.geometry.skeleton import H36M17
from partpose.geometry.view_smoothing import (check_side_window, side_window_words, smooth_pose_sequence,
                                               smooth_side, smooth_view)
from partpose.utils.smoothing import smooth_sequence


def _about_vertical(angles_deg):
    """``(N, 3, 3)`` rotations about the camera's y axis (the image's vertical)."""
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    c, s, z, o = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _bodies(n, seed=0):
    """``n`` different upright bodies (their own limbs), as canonical poses: random joints near a
    standing skeleton, canonicalised."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 200, (1, H36M17.num_joints, 3))
    base[0, H36M17.thorax] = [0, 0, 500]
    base[0, H36M17.l_hip], base[0, H36M17.r_hip] = [0, 120, 0], [0, -120, 0]
    base[0, H36M17.root] = 0
    bodies = base + rng.normal(0, 30, (n, H36M17.num_joints, 3))
    return canonicalize(torch.from_numpy(bodies))[0].numpy()


def _seen(bodies, angles_deg, roots):
    """Canonical ``bodies`` (Z up) seen by a level camera (y down, z forward), turned about the
    vertical by ``angles_deg``, each about its own root at ``roots``."""
    level = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])  # camera_R_canon at angle 0
    rotations = _about_vertical(angles_deg) @ level
    return np.einsum("nij,nkj->nki", rotations, bodies) + roots[:, None], rotations


def test_the_view_is_the_mean_of_the_windows_angles_and_the_limbs_stay():
    angles = np.array([0.0, 10.0, 50.0, 20.0, -30.0])
    n = len(angles)
    bodies = _bodies(n)
    roots = np.random.default_rng(1).normal(0, 100, (n, 3))
    poses, _ = _seen(bodies, angles, roots)
    out = smooth_view(poses, 3)
    # about one axis the chordal mean of rotations is the angle of the mean unit vector
    expected = []
    for t in range(n):
        window = np.deg2rad(angles[max(0, t - 1):t + 2])
        expected.append(np.rad2deg(np.arctan2(np.sin(window).mean(), np.cos(window).mean())))
    want, _ = _seen(bodies, expected, roots)
    np.testing.assert_allclose(out, want, atol=1e-6)
    np.testing.assert_allclose(out[:, H36M17.root], roots, atol=1e-9)  # turned about its own root
    limbs = pa_mpjpe(torch.from_numpy(out), torch.from_numpy(poses), reduction="per_frame")
    assert float(limbs.max()) < 1e-6  # each frame's limbs unchanged
    # the whole pose's average would have moved the limbs
    whole = smooth_sequence(poses - roots[:, None], 3) + roots[:, None]
    assert float(pa_mpjpe(torch.from_numpy(whole), torch.from_numpy(poses), reduction="per_frame").max()) > 1.0


def test_a_steady_view_and_a_window_of_one_change_nothing():
    bodies = _bodies(4, seed=2)
    poses, _ = _seen(bodies, [35.0] * 4, np.zeros((4, 3)))
    np.testing.assert_allclose(smooth_view(poses, 5), poses, atol=1e-6)
    np.testing.assert_array_equal(smooth_view(poses, 1), poses)


def test_pose_smoothing_names_its_methods():
    poses, _ = _seen(_bodies(3), [0.0, 10.0, 20.0], np.zeros((3, 3)))
    np.testing.assert_allclose(smooth_pose_sequence(poses, 3, "mean"), smooth_sequence(poses, 3))
    np.testing.assert_allclose(smooth_pose_sequence(poses, 3, "view"), smooth_view(poses, 3))
    with pytest.raises(UserError, match="view"):
        smooth_pose_sequence(poses, 3, "kalman")
    with pytest.raises(UserError, match="odd"):
        smooth_view(poses, 2)


def test_smooth_side_averages_the_logits_over_the_window_or_the_whole_video():
    logits = np.array([2.0, -1.0, -4.0, 3.0, 0.5])
    np.testing.assert_allclose(smooth_side(logits, 0), np.full(5, 0.1))
    np.testing.assert_allclose(smooth_side(logits, 1), logits)
    # a centred window of 3, shrinking at the ends: (2 - 1)/2, (2 - 1 - 4)/3, (-1 - 4 + 3)/3, ...
    np.testing.assert_allclose(smooth_side(logits, 3), [0.5, -1.0, -2.0 / 3.0, -0.5 / 3.0, 1.75])
    assert smooth_side(np.zeros(0), 0).shape == (0,)


@pytest.mark.parametrize("window", [-1, 2, 4])
def test_a_bad_side_window_is_refused(window):
    with pytest.raises(UserError, match="--side-window"):
        check_side_window(window)
    with pytest.raises(UserError, match="--side-window"):
        smooth_side(np.ones(3), window)


def test_side_window_words():
    assert side_window_words(0) == "the side read over the whole video"
    assert side_window_words(31) == "the side read over 31 frames"
