"""geometry/mirror.py: the flipped image, joints and directions, against hand-worked values and
the camera's and the image sampler's conventions."""

import pytest
import torch

from partpose.geometry import camera, facing
from partpose.geometry.kinematics import canonicalize
from partpose.geometry.mirror import mirror_directions, mirror_image, mirror_joints, mirror_view
from partpose.geometry.skeleton import H36M17

F64 = torch.float64


def _random_pose(batch=4, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, H36M17.num_joints, 3, generator=generator, dtype=F64) * 300.0


def test_mirror_image_flips_the_columns():
    image = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    flipped = mirror_image(image)
    for column in range(5):
        assert torch.equal(flipped[..., column], image[..., 4 - column])


def test_a_point_of_the_image_lands_at_minus_x_in_its_mirror():
    # the sampler's normalised coordinates (align_corners=False) are those of q
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 8, 10, generator=generator, dtype=F64)
    points = torch.tensor([[[0.3, -0.2], [-0.75, 0.5], [0.05, 0.9]]], dtype=F64)
    sample = lambda img, p: torch.nn.functional.grid_sample(img, p[:, None], align_corners=False)  # noqa: E731
    torch.testing.assert_close(sample(mirror_image(image), points * torch.tensor([-1.0, 1.0], dtype=F64)),
                               sample(image, points))


def test_mirror_joints_by_hand():
    pose = torch.zeros(1, H36M17.num_joints, 3, dtype=F64)
    l_wrist, r_wrist = H36M17.index("l_wrist"), H36M17.index("r_wrist")
    pose[0, l_wrist] = torch.tensor([250.0, -600.0, 30.0], dtype=F64)  # the left hand raised, to the right
    pose[0, r_wrist] = torch.tensor([-200.0, 100.0, -40.0], dtype=F64)
    mirrored = mirror_joints(pose)
    # in the mirror the right hand is the raised one, on the left of the picture
    torch.testing.assert_close(mirrored[0, r_wrist], torch.tensor([-250.0, -600.0, 30.0], dtype=F64))
    torch.testing.assert_close(mirrored[0, l_wrist], torch.tensor([200.0, 100.0, -40.0], dtype=F64))
    assert torch.equal(mirror_joints(pose[..., :2]), mirrored[..., :2])


def test_every_mirror_is_its_own_inverse():
    pose = _random_pose()
    assert torch.equal(mirror_joints(mirror_joints(pose)), pose)
    assert torch.equal(mirror_directions(mirror_directions(pose[:, 0])), pose[:, 0])
    image = torch.rand(2, 3, 6, 7)
    assert torch.equal(mirror_image(mirror_image(image)), image)


def test_the_projection_of_the_mirrored_pose_is_the_mirrored_projection():
    pose = _random_pose() / 1000.0
    scale = torch.tensor([0.5, 0.8, 1.1, 0.7], dtype=F64)
    offset = torch.tensor([[0.1, -0.2], [0.0, 0.0], [-0.3, 0.25], [0.4, 0.1]], dtype=F64)
    identity = torch.eye(3, dtype=F64).expand(4, 3, 3)
    q, depth = camera.project(pose, identity, scale, offset)
    q_m, depth_m = camera.project(mirror_joints(pose), identity, scale, mirror_directions(offset))
    torch.testing.assert_close(q_m, mirror_joints(q))
    torch.testing.assert_close(depth_m, depth[:, list(H36M17.flip_permutation)])


def test_a_mirror_keeps_the_side_a_person_shows():
    pose = _random_pose(batch=64, seed=3)
    normal, normal_m = facing.chest_normal(pose), facing.chest_normal(mirror_joints(pose))
    torch.testing.assert_close(normal_m[:, 2], normal[:, 2])
    assert torch.equal(facing.faces_camera(mirror_joints(pose)), facing.faces_camera(pose))


def test_bad_joints_are_refused():
    with pytest.raises(ValueError, match="2 or 3 coordinates"):
        mirror_joints(torch.zeros(1, H36M17.num_joints, 4))
    with pytest.raises(ValueError):
        mirror_joints(torch.zeros(1, 5, 3))


def test_the_reflection_through_the_image_plane_is_the_depth_twin():
    pose = _random_pose()
    twin = mirror_joints(pose, axis=2)
    torch.testing.assert_close(twin[:, list(H36M17.flip_permutation), 2], -pose[..., 2])
    torch.testing.assert_close(twin[:, list(H36M17.flip_permutation), :2], pose[..., :2])
    assert torch.equal(mirror_joints(twin, axis=2), pose)


def _canonical_view(batch=8, seed=5):
    """A canonical pose and a camera that turns it about its spine, pitched a little."""
    canon, _ = canonicalize(_random_pose(batch, seed))
    generator = torch.Generator().manual_seed(seed)
    turn = (torch.rand(batch, generator=generator, dtype=F64) - 0.5) * 3.0
    pitch = torch.full((batch,), 0.2, dtype=F64)
    about_z = torch.zeros(batch, 3, 3, dtype=F64)
    about_z[:, 0, 0], about_z[:, 0, 1], about_z[:, 1, 0], about_z[:, 1, 1] = turn.cos(), -turn.sin(), turn.sin(), turn.cos()
    about_z[:, 2, 2] = 1.0
    about_x = torch.zeros(batch, 3, 3, dtype=F64)
    about_x[:, 0, 0] = 1.0
    about_x[:, 1, 1], about_x[:, 1, 2], about_x[:, 2, 1], about_x[:, 2, 2] = pitch.cos(), -pitch.sin(), pitch.sin(), pitch.cos()
    return canon, about_x @ about_z


def test_mirror_view_is_the_mirrored_camera_pose_canonicalised():
    canon, cam_R = _canonical_view()
    canon_m, cam_R_m = mirror_view(canon, cam_R)
    # the same camera-frame joints as the mirrored pose (root-relative: the canonical root is 0)
    torch.testing.assert_close(canon_m @ cam_R_m.transpose(1, 2), mirror_joints(canon @ cam_R.transpose(1, 2)))
    # a canonical pose and a proper rotation
    torch.testing.assert_close(canonicalize(canon_m)[0], canon_m)
    torch.testing.assert_close(torch.linalg.det(cam_R_m), torch.ones(8, dtype=F64))
    torch.testing.assert_close(cam_R_m @ cam_R_m.transpose(1, 2), torch.eye(3, dtype=F64).expand(8, 3, 3))


def test_mirror_view_turns_the_body_the_other_way_and_is_its_own_inverse():
    canon, cam_R = _canonical_view()
    canon_m, cam_R_m = mirror_view(canon, cam_R)
    normal = facing.chest_normal(canon @ cam_R.transpose(1, 2))
    normal_m = facing.chest_normal(canon_m @ cam_R_m.transpose(1, 2))
    torch.testing.assert_close(normal_m, normal * torch.tensor([-1.0, 1.0, 1.0], dtype=F64))
    canon_back, cam_R_back = mirror_view(canon_m, cam_R_m)
    torch.testing.assert_close(canon_back, canon)
    torch.testing.assert_close(cam_R_back, cam_R)
