"""L_twin: the depth twin's targets, the choice between pose and twin, the loss on chosen frames."""

import pytest
import torch

from partpose.geometry.camera import random_view_rotation
from partpose.geometry.facing import depth_twin_pose
from partpose.geometry.kinematics import forward_kinematics
from partpose.geometry.skeleton import H36M17
from partpose.geometry.skeleton import default_bone_lengths
from partpose.losses.twin import lean_choice, travel_choice, twin_choice, twin_choice_loss, twin_targets


def _poses(batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    vectors = torch.nn.functional.normalize(torch.randn(batch, 13, 3, generator=generator), dim=-1)
    psi = torch.rand(batch, generator=generator) * 0.6 + 1.27
    hip = torch.stack((psi.sin(), psi.cos()), dim=-1)
    canonical = forward_kinematics(vectors, hip, default_bone_lengths())
    return canonical, random_view_rotation(batch, generator=generator)


def test_twin_targets_rebuild_the_twin_and_are_their_own_twins():
    canonical, cam_R = _poses(5)
    pose_cam = torch.einsum("bij,bkj->bki", cam_R, canonical).requires_grad_(True)
    target_canon, target_R = twin_targets(pose_cam)
    # a proper body: the canonical pose mirrored across its sagittal plane (Y negated), left and right exchanged
    mirrored = (canonical * torch.tensor([1.0, -1.0, 1.0]))[:, list(H36M17.flip_permutation)]
    torch.testing.assert_close(target_canon, mirrored, atol=1e-3, rtol=0)
    torch.testing.assert_close(torch.einsum("bij,bkj->bki", target_R, target_canon), depth_twin_pose(pose_cam),
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(torch.linalg.det(target_R), torch.ones(5), atol=1e-5, rtol=0)
    # the twin of the twin is the pose again
    back_canon, back_R = twin_targets(torch.einsum("bij,bkj->bki", target_R, target_canon))
    torch.testing.assert_close(torch.einsum("bij,bkj->bki", back_R, back_canon), pose_cam, atol=1e-3, rtol=0)
    assert not target_canon.requires_grad


def test_twin_choice_needs_the_margin():
    loss_pose = torch.tensor([1.0, 1.0, 1.0, 1.0])
    loss_twin = torch.tensor([0.5, 0.97, 0.99, 1.2])
    assert twin_choice(loss_pose, loss_twin, 0.02).tolist() == [True, True, False, False]
    assert twin_choice(loss_pose, loss_twin, 0.0).tolist() == [True, True, True, False]
    with pytest.raises(ValueError, match=r"margin must be in \[0, 1\)"):
        twin_choice(loss_pose, loss_twin, 1.0)


def test_lean_choice_by_hand_and_the_twin_of_a_chosen_pose_is_not_chosen():
    pose = torch.zeros(4, 17, 3)
    thorax = H36M17.names.index("thorax")
    pose[:, thorax] = torch.tensor([[0.0, -500.0, 80.0], [0.0, -500.0, 20.0], [0.0, -500.0, -80.0], [0.0, -500.0, 31.0]])
    pose = pose + torch.tensor([10.0, 20.0, 4000.0])  # not root-relative: only the difference counts
    assert lean_choice(pose, 30.0).tolist() == [True, False, False, True]
    assert lean_choice(pose, 0.0).tolist() == [True, True, False, True]
    # a pose leaning away has a twin leaning towards the camera, which keeps itself
    canonical, cam_R = _poses(64)
    pose_cam = torch.einsum("bij,bkj->bki", cam_R, canonical)
    chosen = lean_choice(pose_cam, 10.0)
    assert 0 < int(chosen.sum()) < 64
    assert not (chosen & lean_choice(depth_twin_pose(pose_cam - pose_cam[:, :1]), 10.0)).any()
    with pytest.raises(ValueError, match="margin_mm must be >= 0"):
        lean_choice(pose, -1.0)


def test_travel_choice_turns_the_poses_that_show_the_other_side():
    from partpose.geometry.facing import faces_camera

    canonical, cam_R = _poses(8)
    pose_cam = torch.einsum("bij,bkj->bki", cam_R, canonical) + torch.tensor([0.0, 0.0, 4000.0])
    front = faces_camera(pose_cam)
    assert 0 < int(front.sum()) < 8
    label = torch.tensor([1.0, 0.0, float("nan"), 1.0, 0.0, float("nan"), 1.0, 0.0])
    chosen = travel_choice(pose_cam, label)
    expected = [bool(torch.isfinite(x)) and bool(f) != bool(x > 0.5) for f, x in zip(front, label)]
    assert chosen.tolist() == expected
    # the twin of a chosen pose shows the side its travel says: it is not chosen again
    twin = depth_twin_pose(pose_cam - pose_cam[:, :1])
    assert not (chosen & travel_choice(twin, label)).any()
    assert travel_choice(twin, label)[torch.isfinite(label) & ~chosen].all()
    with pytest.raises(ValueError, match="travel_front"):
        travel_choice(pose_cam, label[:3])


def test_twin_choice_loss_by_hand():
    canonical, cam_R = _poses(3)
    canonical.requires_grad_(True)
    target_canon = canonical.detach() + 100.0  # every coordinate 100 mm off: 0.1 m
    target_R = cam_R + 0.5
    chosen = torch.tensor([True, False, True])
    loss = twin_choice_loss(canonical, cam_R, target_canon, target_R, chosen)
    assert float(loss.detach()) == pytest.approx(2 * (0.1 + 0.5) / 3, rel=1e-5)
    loss.backward()
    assert canonical.grad[1].abs().max() == 0 and canonical.grad[0].abs().max() > 0
    none = twin_choice_loss(canonical, cam_R, target_canon, target_R, torch.zeros(3, dtype=torch.bool))
    assert float(none.detach()) == 0.0


def test_twin_targets_are_float32_under_autocast():
    canonical, cam_R = _poses(2)
    pose_cam = torch.einsum("bij,bkj->bki", cam_R, canonical)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        target_canon, target_R = twin_targets(pose_cam)
    assert target_canon.dtype == target_R.dtype == torch.float32
    reference = twin_targets(pose_cam)
    torch.testing.assert_close(target_canon, reference[0])
