"""Tests of partpose.data.prior.PosePrior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from partpose.data.mocap import load_deepmimic_clips, mirror
from partpose.data.prior import PosePrior
from partpose.errors import UserError
from partpose.geometry.kinematics import canonicalize
from partpose.geometry.skeleton import H36M17, bone_lengths, default_bone_lengths, estimate_bone_prior

J = {name: k for k, name in enumerate(H36M17.names)}


@pytest.fixture(scope="module")
def kick() -> np.ndarray:
    (clip,) = load_deepmimic_clips(["kick"])
    return clip.poses_mm


def test_prior_poses_have_the_prior_bone_lengths(kick):
    target = default_bone_lengths(torch.float64)
    prior = PosePrior(kick, target)
    assert len(prior) == len(kick) and prior.num_dropped == 0
    assert prior.poses_canon_mm.shape == (len(kick), 17, 3)
    assert prior.poses_canon_mm.dtype == torch.float32
    lengths = bone_lengths(prior.poses_canon_mm.double())
    torch.testing.assert_close(lengths, target.expand_as(lengths), atol=1e-3, rtol=0)
    torch.testing.assert_close(prior.bone_lengths, target.float())


def test_prior_poses_are_canonical(kick):
    prior = PosePrior(kick)
    p = prior.poses_canon_mm
    torch.testing.assert_close(p[:, J["pelvis"]], torch.zeros(len(p), 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(p[:, J["thorax"], :2], torch.zeros(len(p), 2), atol=1e-3, rtol=0)
    assert (p[:, J["thorax"], 2] > 0).all()
    torch.testing.assert_close(p[:, [J["l_hip"], J["r_hip"]], 0], torch.zeros(len(p), 2), atol=1e-3, rtol=0)
    assert (p[:, J["l_hip"], 1] > 0).all() and (p[:, J["r_hip"], 1] < 0).all()
    # The kick is upright and faces +X: the knees bend forward on average.
    assert p[:, J["r_knee"], 0].mean() > 0 and p[:, J["l_knee"], 0].mean() > 0


def test_prior_keeps_the_input_limb_directions(kick):
    """Retargeting changes lengths only: every FK bone of the stored pose points where the
    canonicalised input's bone points (bones of the pelvis-centred hip line excepted)."""
    prior = PosePrior(kick, default_bone_lengths(torch.float64))
    canonical, _ = canonicalize(torch.tensor(kick, dtype=torch.float64))
    parents = list(H36M17.fk_parents)
    joints = list(H36M17.fk_joints) + [H36M17.thorax]

    def directions(pose):
        bone = pose[:, joints] - pose[:, [parents[j] for j in joints]]
        return bone / bone.norm(dim=-1, keepdim=True)

    worst = (directions(prior.poses_canon_mm.double()) - directions(canonical)).abs().max()
    assert worst < 1e-4, f"largest direction difference {worst:.2e}"
    stored_local = prior.local_vectors
    assert stored_local.shape == (len(kick), 13, 3) and prior.hip_angle.shape == (len(kick), 2)
    torch.testing.assert_close(stored_local.norm(dim=-1), torch.ones(len(kick), 13), atol=1e-5, rtol=0)


def test_default_bone_lengths_are_estimated_from_the_input(kick):
    prior = PosePrior(kick)
    expected = estimate_bone_prior(torch.tensor(kick, dtype=torch.float64)).float()
    torch.testing.assert_close(prior.bone_lengths, expected)
    assert prior.bone_lengths[J["r_knee"]] == pytest.approx(421.546, abs=1e-3)  # the thigh


def test_from_deepmimic_sizes_and_mirror_symmetry():
    prior = PosePrior.from_deepmimic()
    assert len(prior) == 2 * 998
    mean = prior.mean_pose()
    torch.testing.assert_close(mean, prior.poses_canon_mm.mean(dim=0))
    # With every frame mirrored the mean pose is left/right symmetric.
    flipped = mirror(mean)
    torch.testing.assert_close(flipped, mean, atol=1e-2, rtol=0)
    assert mean[J["l_hip"], 1] > 0 and mean[J["head"], 2] > mean[J["thorax"], 2]
    test = PosePrior.from_deepmimic(split="test", mirror=False)
    assert len(test) == 303
    with pytest.raises(UserError, match="unknown split 'val'"):
        PosePrior.from_deepmimic(split="val")


def test_sample(kick):
    prior = PosePrior(kick)
    a = prior.sample(64, torch.Generator().manual_seed(7))
    b = prior.sample(64, torch.Generator().manual_seed(7))
    assert a.shape == (64, 17, 3) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    # Every sample is one of the stored poses.
    distance = (a[:, None] - prior.poses_canon_mm[None]).abs().amax(dim=(2, 3))  # (64, N)
    assert distance.min(dim=1).values.max() == 0
    assert prior.sample(0).shape == (0, 17, 3)
    counts = torch.bincount(distance.argmin(dim=1), minlength=len(prior))
    assert (counts > 0).sum() > 30  # uniform over 47 poses, not stuck on a few
    moved = prior.to("cpu")
    assert len(moved) == len(prior) and moved.bone_lengths is not None


def test_up_is_the_world_up_seen_from_the_body(kick):
    # The kick's world poses tilted by a known rotation about the world's +Y: the world's up,
    # seen from each body, tilts with it, and equals the rotation's inverse applied to +Z
    # relative to the untilted poses' own up.
    angle = 0.6
    c, s = np.cos(angle), np.sin(angle)
    tilt = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    upright, tilted = PosePrior(kick), PosePrior(kick @ tilt.T)
    _, canon_R_world = canonicalize(torch.as_tensor(kick @ tilt.T, dtype=torch.float64))
    expected = canon_R_world[:, :, 2].float()  # canonical coordinates of the world's +Z
    torch.testing.assert_close(tilted.up_canon, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(tilted.up_canon.norm(dim=-1), torch.ones(len(tilted)))
    # the same bodies: the untilted world's up is, in body coordinates, the tilt applied to +Z
    tilted_z = torch.as_tensor(tilt[:, 2])
    torch.testing.assert_close(upright.up_canon, (canon_R_world @ tilted_z).float(), atol=1e-5, rtol=0)
    # the kick starts standing (spine within 20 degrees of the world's up) and leans into the
    # kick (more than 45 degrees on some frames): a view prior about the spine never shows that
    assert upright.up_canon[0, 2] > np.cos(np.radians(20)) and (upright.up_canon[:, 2] < np.cos(np.pi / 4)).any()
    # sampling with the up vectors draws the same poses
    poses, up = tilted.sample(32, torch.Generator().manual_seed(3), with_up=True)
    torch.testing.assert_close(poses, tilted.sample(32, torch.Generator().manual_seed(3)))
    index = (poses[:, None] - tilted.poses_canon_mm[None]).abs().amax(dim=(2, 3)).argmin(dim=1)
    torch.testing.assert_close(up, tilted.up_canon[index])
    assert torch.equal(tilted.to("cpu").up_canon, tilted.up_canon)


def test_bad_input_and_degenerate_poses(kick):
    with pytest.raises(ValueError, match="poses_mm must have shape"):
        PosePrior(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match="bone_lengths_mm must have shape"):
        PosePrior(kick, np.ones(16))
    with pytest.raises(ValueError, match="NaN"):
        PosePrior(np.full((2, 17, 3), np.nan))
    degenerate = kick[:3].copy()
    # Frame 0: hip line along pelvis -> thorax, no canonical frame.
    degenerate[0, J["l_hip"]] = degenerate[0, J["pelvis"]] + 0.2 * (degenerate[0, J["thorax"]] - degenerate[0, J["pelvis"]])
    degenerate[0, J["r_hip"]] = degenerate[0, J["pelvis"]] - 0.2 * (degenerate[0, J["thorax"]] - degenerate[0, J["pelvis"]])
    prior = PosePrior(degenerate)
    assert len(prior) == 2 and prior.num_dropped == 1
    assert torch.isfinite(prior.poses_canon_mm).all()
