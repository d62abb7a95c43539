import math

import pytest
import torch

from partpose.geometry.camera import (
    matrix_to_rotation_6d,
    project,
    random_view_rotation,
    rotation_6d_to_matrix,
    upright_frame,
    view_rotation,
)
from partpose.geometry.kinematics import forward_kinematics
from partpose.geometry.skeleton import H36M17, default_bone_lengths

J = H36M17.num_joints
K = len(H36M17.fk_joints)
IDX = {name: H36M17.index(name) for name in H36M17.names}
F64 = torch.float64

# cam_R_canon at azimuth 0, elevation 0 (rows: camera x = +Y, camera y = -Z, camera z = -X).
FRONT_VIEW = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]], dtype=F64)


def assert_close_report(actual: torch.Tensor, expected: torch.Tensor, atol: float, what: str) -> None:
    diff = (actual - expected).abs()
    worst = diff.max().item()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    assert worst <= atol, f"{what}: largest abs difference {worst:.3e} at index {where}"


def random_rotation(batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(batch, 3, 3, generator=g, dtype=F64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    flip = torch.det(q) < 0
    q[flip, :, 0] = -q[flip, :, 0]
    return q


def person() -> torch.Tensor:
    """A standing person (metres) facing +X: legs down, arms out sideways, nose forward."""
    v = torch.zeros(1, K, 3, dtype=F64)
    v[..., 0] = 1.0  # every limb straight along its parent direction
    slot = {j: k for k, j in enumerate(H36M17.fk_joints)}
    v[0, slot[IDX["l_knee"]]] = torch.tensor([0.0, 0.0, 1.0])   # a = +Y -> n = -Z: down
    v[0, slot[IDX["r_knee"]]] = torch.tensor([0.0, 0.0, -1.0])  # a = -Y -> -n = -Z: down
    v[0, slot[IDX["l_shoulder"]]] = torch.tensor([0.0, 0.0, 1.0])   # +Y
    v[0, slot[IDX["r_shoulder"]]] = torch.tensor([0.0, 0.0, -1.0])  # -Y
    v[0, slot[IDX["nose"]]] = torch.tensor([0.3, 1.0, 0.0])  # up and forward
    hip = torch.tensor([[1.0, 0.0]], dtype=F64)
    return forward_kinematics(v, hip, default_bone_lengths(F64)) / 1000.0


# ----------------------------------------------------------------------------- 6D rotations


def test_rotation_6d_hand_worked_rows_convention():
    d6 = torch.tensor([0.0, 0.0, 2.0, 1.0, 1.0, 0.0], dtype=F64)
    r = 1 / math.sqrt(2)
    want = torch.tensor([[0.0, 0.0, 1.0], [r, r, 0.0], [-r, r, 0.0]], dtype=F64)
    assert_close_report(rotation_6d_to_matrix(d6), want, 1e-12, "6D -> matrix (rows b1, b2, b3)")
    assert_close_report(matrix_to_rotation_6d(want), torch.tensor([0, 0, 1, r, r, 0], dtype=F64), 1e-12, "matrix -> 6D")


def test_rotation_6d_round_trip_and_orthonormality():
    R = random_rotation(64, seed=1)
    assert_close_report(rotation_6d_to_matrix(matrix_to_rotation_6d(R)), R, 1e-12, "R -> 6D -> R")
    d6 = torch.randn(8, 5, 6, dtype=F64, generator=torch.Generator().manual_seed(2))
    M = rotation_6d_to_matrix(d6)
    assert M.shape == (8, 5, 3, 3)
    eye = torch.eye(3, dtype=F64).expand_as(M)
    assert_close_report(M @ M.transpose(-1, -2), eye, 1e-12, "orthonormal")
    assert_close_report(torch.det(M), torch.ones(8, 5, dtype=F64), 1e-12, "det = +1")
    # Gram-Schmidt keeps the first vector's direction and the second's half-plane.
    assert_close_report(M[..., 0, :], d6[..., :3] / d6[..., :3].norm(dim=-1, keepdim=True), 1e-12, "row 0")
    assert ((M[..., 1, :] * d6[..., 3:]).sum(-1) > 0).all()
    # 6D of a 6D-made matrix round-trips to the same matrix.
    assert_close_report(rotation_6d_to_matrix(matrix_to_rotation_6d(M)), M, 1e-12, "6D -> R -> 6D -> R")


def test_rotation_6d_gradcheck():
    d6 = torch.randn(3, 6, dtype=F64, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    assert torch.autograd.gradcheck(rotation_6d_to_matrix, (d6,))


def test_rotation_6d_finite_for_parallel_vectors():
    d6 = torch.tensor([[1.0, 0.0, 0.0, 2.0, 0.0, 0.0]], dtype=F64, requires_grad=True)
    M = rotation_6d_to_matrix(d6)
    M.sum().backward()
    assert torch.isfinite(M).all() and torch.isfinite(d6.grad).all()


# ----------------------------------------------------------------------------- projection


def test_project_hand_worked():
    pose = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]]], dtype=F64)
    swap_xy = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]], dtype=F64)
    R = torch.stack((FRONT_VIEW, swap_xy))
    scale = torch.tensor([2.0, 0.5], dtype=F64)
    offset = torch.tensor([[0.1, -0.2], [0.0, 0.3]], dtype=F64)
    q, depth = project(pose, R, scale, offset)
    # Sample 0: R p = (2, -3, -1) and (0, 0, 0). Sample 1: R p = (2, 1, -3) and (0.5, -1, 0).
    want_q = torch.tensor([[[4.1, -6.2], [0.1, -0.2]], [[1.0, 0.8], [0.25, -0.2]]], dtype=F64)
    want_depth = torch.tensor([[-1.0, 0.0], [-3.0, 0.0]], dtype=F64)
    assert_close_report(q, want_q, 1e-12, "q")
    assert_close_report(depth, want_depth, 1e-12, "depth")


def test_project_gradcheck():
    g = torch.Generator().manual_seed(4)
    pose = torch.randn(2, 4, 3, dtype=F64, generator=g).requires_grad_(True)
    R = random_rotation(2, seed=5).requires_grad_(True)
    scale = torch.rand(2, dtype=F64, generator=g).add(0.5).requires_grad_(True)
    offset = torch.randn(2, 2, dtype=F64, generator=g).requires_grad_(True)
    assert torch.autograd.gradcheck(project, (pose, R, scale, offset))


# ----------------------------------------------------------------------------- views


def test_view_rotation_front_view_is_pinned():
    R = view_rotation(torch.zeros(1, dtype=F64), torch.zeros(1, dtype=F64))
    assert_close_report(R[0], FRONT_VIEW, 1e-12, "azimuth 0, elevation 0")


def test_front_view_conventions_on_a_person():
    pose = person()
    R = view_rotation(torch.zeros(1, dtype=F64), torch.zeros(1, dtype=F64))
    q, depth = project(pose, R, torch.ones(1, dtype=F64), torch.zeros(1, 2, dtype=F64))
    q, depth = q[0], depth[0]
    # The person's left is on the image right.
    assert q[IDX["l_shoulder"], 0] > q[IDX["r_shoulder"], 0]
    assert q[IDX["l_hip"], 0] > 0 > q[IDX["r_hip"], 0]
    # Up is image-up (smaller y): head above pelvis above ankles.
    assert q[IDX["head"], 1] < q[IDX["pelvis"], 1] < q[IDX["l_ankle"], 1]
    # The nose is in front of the face: nearer the camera (smaller depth) than the pelvis.
    assert depth[IDX["nose"]] < depth[IDX["pelvis"]]


def test_azimuth_turns_the_camera_counter_clockwise_seen_from_above():
    pose = person()
    R = view_rotation(torch.tensor([math.pi / 2], dtype=F64), torch.zeros(1, dtype=F64))
    # Camera on +Y (the person's left side) looking along -Y; camera x = -X.
    want = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, -1.0, 0.0]], dtype=F64)
    assert_close_report(R[0], want, 1e-12, "azimuth 90 degrees")
    q, depth = project(pose, R, torch.ones(1, dtype=F64), torch.zeros(1, 2, dtype=F64))
    assert depth[0, IDX["l_shoulder"]] < depth[0, IDX["r_shoulder"]]  # left side nearer
    assert q[0, IDX["nose"], 0] < q[0, IDX["pelvis"], 0]  # the face looks to the image left


def test_positive_elevation_looks_down():
    pose = person()
    R = view_rotation(torch.zeros(1, dtype=F64), torch.tensor([math.radians(30)], dtype=F64))
    _, depth = project(pose, R, torch.ones(1, dtype=F64), torch.zeros(1, 2, dtype=F64))
    assert depth[0, IDX["head"]] < depth[0, IDX["pelvis"]] < depth[0, IDX["l_ankle"]]
    # The optical axis points down: camera z has a negative canonical Z component.
    assert R[0, 2, 2] < 0


def test_view_rotation_is_a_rotation_and_azimuth_is_a_turn_about_z():
    g = torch.Generator().manual_seed(6)
    az = (torch.rand(32, dtype=F64, generator=g) * 2 - 1) * math.pi
    el = (torch.rand(32, dtype=F64, generator=g) - 0.5) * math.pi * 0.9
    R = view_rotation(az, el)
    eye = torch.eye(3, dtype=F64).expand_as(R)
    assert_close_report(R @ R.transpose(-1, -2), eye, 1e-12, "orthonormal")
    assert_close_report(torch.det(R), torch.ones(32, dtype=F64), 1e-12, "det = +1")
    # view(az, el) = view(0, el) @ Rz(-az): turning the camera by az = turning the person by -az.
    c, s = torch.cos(-az), torch.sin(-az)
    Rz = torch.zeros(32, 3, 3, dtype=F64)
    Rz[:, 0, 0], Rz[:, 0, 1], Rz[:, 1, 0], Rz[:, 1, 1], Rz[:, 2, 2] = c, -s, s, c, 1.0
    assert_close_report(R, view_rotation(torch.zeros_like(az), el) @ Rz, 1e-12, "azimuth about +Z")


def test_random_view_rotation_ranges_and_reproducibility():
    az_range, el_range = (-0.5, 1.0), (0.1, 0.4)
    R1 = random_view_rotation(200, az_range, el_range, torch.Generator().manual_seed(7), dtype=F64)
    R2 = random_view_rotation(200, az_range, el_range, torch.Generator().manual_seed(7), dtype=F64)
    assert R1.shape == (200, 3, 3) and torch.equal(R1, R2)
    ray = -R1[:, 2]  # from the person towards the camera
    el = torch.asin(ray[:, 2])
    az = torch.atan2(ray[:, 1], ray[:, 0])
    assert (el >= el_range[0] - 1e-12).all() and (el <= el_range[1] + 1e-12).all()
    assert (az >= az_range[0] - 1e-12).all() and (az <= az_range[1] + 1e-12).all()
    assert az.max() - az.min() > 1.2 and el.max() - el.min() > 0.25  # spread over the range
    assert random_view_rotation(3).dtype == torch.float32


def test_views_about_the_world_up_of_a_leaning_body():
    # A body whose canonical frame is tilted in the world (world_R_canon, random); the world's
    # up in its canonical coordinates is world_R_canon^T e_z. Views drawn about that up are
    # upright cameras in the world: camera x horizontal (no roll), elevation above the world's
    # ground within the range, whatever the lean.
    g = torch.Generator().manual_seed(11)
    n = 300
    world_R_canon = rotation_6d_to_matrix(torch.randn(n, 6, generator=g, dtype=F64))
    up = world_R_canon[:, 2, :]  # row 2 of world_R_canon = canonical coordinates of world +Z
    el_range = (-0.2, 0.5)
    cam_R_canon = random_view_rotation(n, (-math.pi, math.pi), el_range, g, dtype=F64, up=up)
    cam_R_world = cam_R_canon @ world_R_canon.transpose(1, 2)
    assert_close_report(cam_R_world @ cam_R_world.transpose(1, 2), torch.eye(3, dtype=F64).expand(n, 3, 3), 1e-12, "rotation")
    assert cam_R_world[:, 0, 2].abs().max() < 1e-12  # camera x has no world-vertical component
    assert (cam_R_world[:, 1, 2] < 0).all()  # camera y (down in the image) points down in the world
    elevation = torch.asin(-cam_R_world[:, 2, 2])  # the ray from the body towards the camera
    assert (elevation >= el_range[0] - 1e-12).all() and (elevation <= el_range[1] + 1e-12).all()
    # an upright body (up = +Z) gets exactly the views about the spine
    upright = torch.tensor([[0.0, 0.0, 1.0]], dtype=F64).expand(4, 3)
    assert torch.equal(upright_frame(upright), torch.eye(3, dtype=F64).expand(4, 3, 3))
    a = random_view_rotation(4, generator=torch.Generator().manual_seed(1), dtype=F64, up=upright)
    torch.testing.assert_close(a, random_view_rotation(4, generator=torch.Generator().manual_seed(1), dtype=F64))
    # a body lying face up or face down (up along the face vector) still gets a proper frame
    lying = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=F64)
    frame = upright_frame(lying)
    assert_close_report(frame @ frame.transpose(1, 2), torch.eye(3, dtype=F64).expand(2, 3, 3), 1e-12, "lying")
    assert torch.linalg.det(frame).sub(1).abs().max() < 1e-12


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "shapes, name",
    [
        (((2, 17), (2, 3, 3), (2,), (2, 2)), "pose_canon"),
        (((2, 17, 3), (3, 3), (2,), (2, 2)), "cam_R_canon"),
        (((2, 17, 3), (3, 3, 3), (2,), (2, 2)), "cam_R_canon"),
        (((2, 17, 3), (2, 3, 3), (2, 1), (2, 2)), "scale"),
        (((2, 17, 3), (2, 3, 3), (2,), (2,)), "offset"),
    ],
)
def test_project_rejects_bad_shapes(shapes, name):
    with pytest.raises(ValueError, match=name):
        project(*(torch.ones(s) for s in shapes))


@pytest.mark.parametrize("index, name", [(0, "pose_canon"), (1, "cam_R_canon"), (2, "scale"), (3, "offset")])
def test_project_rejects_nan(index, name):
    args = [torch.ones(2, 17, 3), torch.eye(3).expand(2, 3, 3).clone(), torch.ones(2), torch.zeros(2, 2)]
    args[index].view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=f"{name} contains NaN"):
        project(*args)


def test_rotation_and_view_functions_reject_bad_input():
    with pytest.raises(ValueError, match="d6"):
        rotation_6d_to_matrix(torch.ones(4, 5))
    with pytest.raises(ValueError, match="d6 contains NaN"):
        rotation_6d_to_matrix(torch.tensor([float("nan")] * 6))
    with pytest.raises(ValueError, match="matrix"):
        matrix_to_rotation_6d(torch.ones(4, 3, 2))
    with pytest.raises(ValueError, match="elevation"):
        view_rotation(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="azimuth"):
        view_rotation(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(ValueError, match="elevation_range"):
        random_view_rotation(4, elevation_range=(0.5, 0.1))
    with pytest.raises(ValueError, match="n must be"):
        random_view_rotation(-1)


def test_crop_framing_centres_the_joint_box_and_fills_the_crop():
    from partpose.geometry.camera import crop_framing

    torch.manual_seed(0)
    pose = torch.randn(5, 17, 3, dtype=torch.float64) * torch.tensor([0.3, 0.2, 0.8], dtype=torch.float64)
    pose[:, 0] += torch.tensor([0.5, 0.0, 0.0], dtype=torch.float64)  # off-centre in x only
    R = random_view_rotation(5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    scale, offset = crop_framing(pose, R, fill=0.8)
    q, _ = project(pose, R, scale, offset)
    low, high = q.amin(dim=1), q.amax(dim=1)
    assert torch.allclose(0.5 * (low + high), torch.zeros(5, 2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose((high - low).amax(dim=1), torch.full((5,), 1.6, dtype=torch.float64), atol=1e-12)
    # hand-worked: a 2 m tall vertical segment seen from the front, centred 1 m up
    seg = torch.zeros(1, 2, 3, dtype=torch.float64)
    seg[0, 1, 2] = 2.0
    s, t = crop_framing(seg, view_rotation(torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)), 0.5)
    assert torch.allclose(s, torch.tensor([0.5], dtype=torch.float64))  # half side 1 m -> 0.5 units
    assert torch.allclose(t, torch.tensor([[0.0, 0.5]], dtype=torch.float64))  # image y = -Z: the centre projects to y = -0.5, so t = +0.5
    with pytest.raises(ValueError, match="fill"):
        crop_framing(pose, R, fill=1.5)
