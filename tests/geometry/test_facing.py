import math

import pytest
import torch

from partpose.geometry import camera
from partpose.geometry.facing import (FACING_PART_INDICES, FACING_PARTS, angle_from_profile_deg, camera_up,
                                     chest_and_spine_front,
                                     depth_twin_pose, faces_camera, front_weight, ground_front, level_sight,
                                     lies_along_ground, shows_front, spine_tilt_deg, upright_twin_pose)
from partpose.geometry.parts import PART_NAMES
from partpose.geometry.skeleton import H36M17

from bodies import crawlers_seen

F64 = torch.float64

# A standing person, canonical millimetres (X face, Y left, Z up), the shoulders and hips square.
STANDING_MM = (
    (0, 0, 0), (0, -133, 0), (0, -140, -443), (0, -140, -897), (0, 133, 0), (0, 140, -443),
    (0, 140, -897), (0, 0, 234), (0, 0, 480), (40, 0, 601), (0, 0, 716), (0, 151, 480),
    (0, 300, 300), (0, 450, 150), (0, -151, 480), (60, -300, 300), (120, -450, 150),
)


def seen_at(azimuth_deg: torch.Tensor, scale: float = 0.8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The standing person turned by ``azimuth`` about its vertical axis, in front of a camera
    that looks along +z with y down: at azimuth 0 the face vector X points at the camera (-z)."""
    pose = torch.tensor(STANDING_MM, dtype=F64)[None].expand(len(azimuth_deg), -1, -1) / 1000.0
    a = torch.deg2rad(azimuth_deg.to(F64))
    face = torch.stack((torch.sin(a), torch.zeros_like(a), -torch.cos(a)), dim=-1)  # camera frame
    up = torch.tensor([0.0, -1.0, 0.0], dtype=F64).expand_as(face)
    left = torch.linalg.cross(up, face, dim=-1)  # Y = Z x X
    cam_R_canon = torch.stack((face, left, up), dim=-1)  # columns: the canonical axes in the camera
    s = torch.full((len(a),), scale, dtype=F64)
    q, depth = camera.project(pose, cam_R_canon, s, torch.zeros(len(a), 2, dtype=F64))
    return q, depth, s


def test_facing_parts_are_head_and_torso():
    assert FACING_PARTS == ("head", "torso")
    assert [PART_NAMES[i] for i in FACING_PART_INDICES] == ["head", "torso"]


def test_front_weight_is_half_one_minus_the_cosine_of_the_turn():
    azimuth = torch.tensor([0.0, 30.0, 60.0, 90.0, 135.0, 180.0, -90.0, -150.0])
    q, depth, s = seen_at(azimuth)
    expected = 0.5 * (1.0 + torch.cos(torch.deg2rad(azimuth.to(F64))))
    torch.testing.assert_close(front_weight(q, depth, s), expected, atol=1e-6, rtol=0)
    # hand-worked ends: facing the camera 1, facing away 0, from the side 1/2
    assert front_weight(*seen_at(torch.tensor([0.0]))).item() == pytest.approx(1.0, abs=1e-6)
    assert front_weight(*seen_at(torch.tensor([180.0]))).item() == pytest.approx(0.0, abs=1e-6)
    assert front_weight(*seen_at(torch.tensor([90.0]))).item() == pytest.approx(0.5, abs=1e-6)


def test_faces_camera_is_the_front_weight_above_a_half_and_flips_with_the_twin():
    azimuth = torch.tensor([0.0, 30.0, 80.0, 100.0, 180.0, -60.0, -120.0])
    q, depth, s = seen_at(azimuth)
    pose = torch.cat((q / s[:, None, None], depth[..., None]), dim=-1) + torch.tensor([0.1, 0.2, 4.0], dtype=F64)
    assert faces_camera(pose).tolist() == [True, True, True, False, False, True, False]
    assert torch.equal(faces_camera(pose), front_weight(q, depth, s) > 0.5)
    assert not (faces_camera(pose) & faces_camera(depth_twin_pose(pose - pose[:, :1]))).any()


def test_the_upright_twin_keeps_an_upright_body_upright_under_a_pitched_camera():
    # the standing person, turned 30° from facing the camera about the world's up, seen from a camera 10° above
    a, e = math.radians(210.0), math.radians(10.0)
    world_from_canon = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    # world: z up, the camera looking along +x and down by e; camera rows: right, down, forward
    cam_from_world = torch.tensor([[0.0, -1.0, 0.0], [-math.sin(e), 0.0, -math.cos(e)], [math.cos(e), 0.0, -math.sin(e)]], dtype=F64)
    up = camera_up(10.0)
    torch.testing.assert_close(cam_from_world @ torch.tensor([0.0, 0.0, 1.0], dtype=F64), up)
    pose = (torch.tensor(STANDING_MM, dtype=F64) @ (cam_from_world @ world_from_canon).T)[None]
    twin = upright_twin_pose(pose, up)
    spine = H36M17.thorax, H36M17.root
    # upright: the twin's spine is the world's up, as the pose's is; the depth twin's leans by twice the pitch
    for body in (pose, twin):
        torch.testing.assert_close(torch.nn.functional.normalize(body[0, spine[0]] - body[0, spine[1]], dim=0), up)
    leaning = depth_twin_pose(pose)
    cosine = torch.nn.functional.normalize(leaning[0, spine[0]] - leaning[0, spine[1]], dim=0) @ up
    assert float(cosine) == pytest.approx(math.cos(2 * e), abs=1e-9)
    # the other side, the same bones, its own twin's twin
    assert bool(faces_camera(pose)) and not bool(faces_camera(twin))
    parents = [p for p in H36M17.parents]
    for j, parent in enumerate(parents):
        if parent >= 0:
            k, q = H36M17.flip_permutation[j], H36M17.flip_permutation[parent]
            assert float((twin[0, j] - twin[0, parent]).norm()) == pytest.approx(float((pose[0, k] - pose[0, q]).norm()))
    torch.testing.assert_close(upright_twin_pose(twin, up), pose)
    # a level camera: the depth twin
    torch.testing.assert_close(upright_twin_pose(pose, camera_up(0.0)), depth_twin_pose(pose))


def test_depth_twin_has_the_complementary_weight():
    generator = torch.Generator().manual_seed(0)
    q = torch.rand(6, 17, 2, generator=generator, dtype=F64) - 0.5
    depth = 0.3 * torch.randn(6, 17, generator=generator, dtype=F64)
    s = 0.5 + torch.rand(6, generator=generator, dtype=F64)
    flip = list(H36M17.flip_permutation)
    twin = front_weight(q[:, flip], -depth[:, flip], s)
    torch.testing.assert_close(twin, 1.0 - front_weight(q, depth, s))


def test_invariant_to_translation_and_image_scale_with_depth():
    q, depth, s = seen_at(torch.tensor([20.0, 110.0, 200.0]))
    w = front_weight(q, depth, s)
    # the same body further away (all depths shifted) and drawn twice as large (q and s doubled)
    torch.testing.assert_close(front_weight(2.0 * q + 0.1, depth + 3.0, 2.0 * s), w)
    # None means scale 1
    torch.testing.assert_close(front_weight(q, depth, None), front_weight(q, depth, torch.ones(3, dtype=F64)))


def test_gradient_turns_the_body_towards_the_camera():
    azimuth = torch.tensor([100.0], requires_grad=True)
    q, depth, s = seen_at(azimuth)
    front_weight(q, depth, s).sum().backward()
    # d/da (1 + cos a) / 2 = -sin(a) / 2 per radian
    expected = -0.5 * math.sin(math.radians(100.0)) * math.pi / 180.0
    assert azimuth.grad.item() == pytest.approx(expected, rel=1e-5)


def test_shape_errors_are_one_line():
    q, depth, s = seen_at(torch.tensor([0.0, 10.0]))
    with pytest.raises(ValueError, match="depth"):
        front_weight(q, depth[:1], s)
    with pytest.raises(ValueError, match="scale"):
        front_weight(q, depth, s[:1])


def test_depth_twin_projects_to_the_same_points_with_left_and_right_swapped():
    from partpose.geometry.facing import depth_twin, depth_twin_pose
    from partpose.geometry.kinematics import canonicalize

    q, depth, s = seen_at(torch.tensor([0.0, 30.0, 100.0, 200.0]))
    q_twin, depth_twin_ = depth_twin(q, depth)
    flip = list(H36M17.flip_permutation)
    for j, k in enumerate(flip):  # joint j of the twin is joint k of the pose, its depth negated
        assert torch.equal(q_twin[:, j], q[:, k])
        assert torch.equal(depth_twin_[:, j], -depth[:, k])
    assert all(torch.equal(a, b) for a, b in zip(depth_twin(q_twin, depth_twin_), (q, depth)))
    # the twin faces the other way: the complement of the pose's front weight
    torch.testing.assert_close(front_weight(q_twin, depth_twin_, s), 1.0 - front_weight(q, depth, s))
    # as a camera-frame pose it is a proper body again: canonicalised, it projects to the twin's points
    pose_cam = torch.cat((q / s[:, None, None], depth[..., None]), dim=-1)
    twin_cam = depth_twin_pose(pose_cam)
    canonical, canon_R_cam = canonicalize(twin_cam)
    assert torch.allclose(torch.linalg.det(canon_R_cam), torch.ones(4, dtype=F64))
    q_back, depth_back = camera.project(canonical, canon_R_cam.transpose(1, 2), s, torch.zeros(4, 2, dtype=F64))
    torch.testing.assert_close(q_back, q_twin)  # the pelvis sits at the image's origin here
    torch.testing.assert_close(depth_back, depth_twin_)


def test_spine_tilt_is_the_angle_between_the_spine_and_the_up():
    pose = torch.zeros(3, 17, 3)
    pose[0, H36M17.thorax] = torch.tensor([0.0, -500.0, 0.0])  # standing (y is down)
    pose[1, H36M17.thorax] = torch.tensor([0.0, 0.0, -500.0])  # lying, the head towards the camera
    pose[2, H36M17.thorax] = torch.tensor([300.0, 300.0, 0.0])  # head down, 45° to the side
    pose += torch.tensor([10.0, 20.0, 3000.0])  # where the body is does not matter
    level = torch.tensor([0.0, -1.0, 0.0])
    torch.testing.assert_close(spine_tilt_deg(pose, level), torch.tensor([0.0, 90.0, 135.0]))
    # a camera 30° above sees the world's up tilted towards it, (0, -cos 30°, -sin 30°): the
    # standing spine is 30° off that up, the one lying towards the camera 60°
    pitched = camera_up(30.0).float()
    torch.testing.assert_close(spine_tilt_deg(pose[:2], pitched), torch.tensor([30.0, 60.0]))
    torch.testing.assert_close(spine_tilt_deg(pose[:2], torch.stack((level, pitched))), torch.tensor([0.0, 60.0]))


def _seen_from_above(world_from_canon: torch.Tensor, elevation_deg: float) -> torch.Tensor:
    """``(1, 17, 3)`` the standing person's joints turned by ``world_from_canon`` (world: z up),
    in the coordinates of a camera looking along the world's +x and down by ``elevation_deg``."""
    e = math.radians(elevation_deg)
    cam_from_world = torch.tensor([[0.0, -1.0, 0.0], [-math.sin(e), 0.0, -math.cos(e)], [math.cos(e), 0.0, -math.sin(e)]], dtype=F64)
    return (torch.tensor(STANDING_MM, dtype=F64) @ (cam_from_world @ world_from_canon).T)[None]


def test_the_level_line_of_sight_by_hand():
    # a camera e above: up (0, -cos e, -sin e); +z less its part along the up is cos e (0, -sin e, cos e)
    e = math.radians(25.0)
    pose = torch.zeros(2, 17, 3, dtype=F64)
    expected = torch.tensor([0.0, -math.sin(e), math.cos(e)], dtype=F64)
    torch.testing.assert_close(level_sight(camera_up(25.0), pose), expected.expand(2, 3))
    torch.testing.assert_close(level_sight(camera_up(0.0), pose)[0], torch.tensor([0.0, 0.0, 1.0], dtype=F64))


def test_a_crawlers_two_twins_differ_by_the_chest_and_the_head_not_by_the_chest_alone():
    # on all fours, the chest (canonical X) to the floor, the head (canonical Z) towards the camera
    # (the world's -x): columns X, Y = Z x X, Z in the world
    crawling = torch.tensor([[0.0, 0.0, -1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]], dtype=F64)
    pose = _seen_from_above(crawling, 10.0)
    up = camera_up(10.0)
    twin = upright_twin_pose(pose, up)
    # the chest faces the floor, away from a camera above, in both: the chest's side cannot choose
    assert not bool(faces_camera(pose)) and not bool(faces_camera(twin))
    # the head is the nearer end of the pose and the farther of its twin
    assert float(pose[0, H36M17.thorax, 2]) < float(pose[0, H36M17.root, 2]) < float(twin[0, H36M17.thorax, 2])
    assert bool(chest_and_spine_front(pose, up)) and not bool(chest_and_spine_front(twin, up))
    # standing, turned 30° from the camera: the chest's side and this one agree
    a = math.radians(210.0)
    standing = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    upright = _seen_from_above(standing, 10.0)
    assert bool(chest_and_spine_front(upright, up)) and bool(faces_camera(upright))
    assert not bool(chest_and_spine_front(upright_twin_pose(upright, up), up))
    assert bool(shows_front(pose, up, "chest_and_spine")) and not bool(shows_front(pose, up, "chest"))
    with pytest.raises(ValueError, match="chest_and_spine"):
        shows_front(pose, up, "spine")


def test_the_upright_twin_always_shows_the_other_side_by_the_chest_and_the_head():
    generator = torch.Generator().manual_seed(0)
    rotations, _ = torch.linalg.qr(torch.randn(300, 3, 3, generator=generator, dtype=F64))
    rotations = rotations * torch.linalg.det(rotations)[:, None, None]  # proper rotations, any posture
    pose = torch.tensor(STANDING_MM, dtype=F64) @ rotations.transpose(1, 2)
    elevations = torch.empty(300, dtype=F64).uniform_(-30.0, 60.0, generator=generator)
    up = torch.stack([camera_up(float(e)) for e in elevations])
    twin = upright_twin_pose(pose, up)
    assert torch.equal(chest_and_spine_front(twin, up), ~chest_and_spine_front(pose, up))
    # the chest's side does not always flip with the twin (bodies whose chest is near vertical)
    assert not torch.equal(faces_camera(twin), ~faces_camera(pose))


def test_ground_front_reads_which_end_of_a_crawler_is_nearer_from_its_2d_joints():
    generator = torch.Generator().manual_seed(1)
    n = 400
    heading = torch.empty(n, dtype=F64).uniform_(0.0, 360.0, generator=generator)
    # from 5° below the pelvis (0.11 m above the floor, 4.5 m away) to 40° above it
    elevation = torch.empty(n, dtype=F64).uniform_(-5.0, 40.0, generator=generator)
    roll = torch.empty(n, dtype=F64).uniform_(-30.0, 30.0, generator=generator)
    pose, up = crawlers_seen(heading, elevation, roll)
    # worked out from the world: the camera sits along -x from the pelvis, so the hands' end (the
    # body's +x turned by the heading) is nearer when it points back along -x
    hands_nearer = torch.cos(torch.deg2rad(heading)) < 0
    clear = torch.cos(torch.deg2rad(heading)).abs() > 0.2  # not seen end-on to the side
    # the end on the floor lower in the image of a camera above the floor is the nearer
    assert torch.equal(ground_front(pose[..., :2] / pose[..., 2:], up)[clear], hands_nearer[clear])  # a pinhole
    # weak perspective about the pelvis, from above it: the same
    above = clear & (elevation > 0)
    assert torch.equal(ground_front(pose[..., :2] - pose[:, :1, :2], up)[above], hands_nearer[above])
    # ... and the hands' end nearer is the front by the chest and the head (the spine points to the hands)
    relative = pose - pose[:, :1]
    assert torch.equal(chest_and_spine_front(relative, up)[clear], hands_nearer[clear])
    # the upright twin, drawn under weak perspective from above, reads the other end: of a pose and
    # its twin only the one that agrees with the image's 2D joints is chosen
    twin = upright_twin_pose(relative, up)
    assert torch.equal(ground_front(twin[..., :2], up)[above], ~hands_nearer[above])
    assert torch.equal(chest_and_spine_front(twin, up)[clear], ~hands_nearer[clear])


def test_lies_along_ground_is_the_spine_within_the_band_of_level():
    pose = torch.zeros(4, 17, 3)
    for i, tilt in enumerate((0.0, 59.0, 61.0, 115.0)):  # degrees from the up, in the image plane
        t = math.radians(tilt)
        pose[i, H36M17.thorax] = torch.tensor([math.sin(t), -math.cos(t), 0.0])
    level = torch.tensor([0.0, -1.0, 0.0])
    assert lies_along_ground(pose, level, 30.0).tolist() == [False, False, True, True]
    assert lies_along_ground(pose, level, 36.0).tolist() == [False, True, True, True]
    assert not lies_along_ground(pose, level, 0.0).any()


def _standing_turned(azimuths_deg, elevation_deg: float):
    """The standing person turned about the world's up by each azimuth (0: facing the camera), seen
    from a camera ``elevation_deg`` above; with the world's up in that camera."""
    e = math.radians(elevation_deg)
    cam_from_world = torch.tensor([[0.0, -1.0, 0.0], [-math.sin(e), 0.0, -math.cos(e)], [math.cos(e), 0.0, -math.sin(e)]], dtype=F64)
    poses = []
    for azimuth in azimuths_deg:
        a = math.radians(180.0 + azimuth)  # the canonical face X along -x of the world: towards the camera
        world_from_canon = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]], dtype=F64)
        poses.append(torch.tensor(STANDING_MM, dtype=F64) @ (cam_from_world @ world_from_canon).T)
    return torch.stack(poses), camera_up(elevation_deg).to(F64)


@pytest.mark.parametrize("elevation_deg", [0.0, 20.0])
def test_the_angle_from_profile_of_a_standing_body_turned_about_the_up(elevation_deg):
    azimuths = [0.0, 20.0, 45.0, 80.0, 90.0, 100.0, 150.0, 180.0, 250.0, 300.0]
    pose, up = _standing_turned(azimuths, elevation_deg)
    # facing the camera (0) or away (180): 90° from profile; turned a to the side: |90 - a| folded
    expected = [abs(90.0 - abs((a + 180.0) % 360.0 - 180.0)) for a in azimuths]
    torch.testing.assert_close(angle_from_profile_deg(pose, up), torch.tensor(expected, dtype=F64), atol=1e-6, rtol=0)
    # the upright twin shows the other side at the same angle; the unit does not matter
    torch.testing.assert_close(angle_from_profile_deg(upright_twin_pose(pose, up), up), torch.tensor(expected, dtype=F64),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(angle_from_profile_deg(pose / 1000.0, up), torch.tensor(expected, dtype=F64), atol=1e-6, rtol=0)


def test_a_chest_facing_the_floor_has_no_angle_from_profile():
    pose, up = _standing_turned([0.0], 0.0)
    lying = pose @ torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=F64).T  # chest to the floor
    assert torch.isnan(angle_from_profile_deg(lying, up)).all()
