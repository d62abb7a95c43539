import math

import pytest
import torch

from naive import naive_forward_kinematics
from partpose.geometry.kinematics import (
    FALLBACK_CONE,
    canonicalize,
    forward_kinematics,
    inverse_kinematics,
    limb_frame,
    retarget,
)
from partpose.geometry.skeleton import H36M17, bone_lengths, default_bone_lengths

J = H36M17.num_joints
K = len(H36M17.fk_joints)
SLOT = {j: k for k, j in enumerate(H36M17.fk_joints)}
IDX = {name: H36M17.index(name) for name in H36M17.names}

# Distinct lengths per bone, so a joint reading the wrong length lands somewhere else.
HAND_LENGTHS = {
    "pelvis": 0, "r_hip": 11, "r_knee": 12, "r_ankle": 13, "l_hip": 21, "l_knee": 22,
    "l_ankle": 23, "spine": 30, "thorax": 40, "nose": 51, "head": 52, "l_shoulder": 61,
    "l_elbow": 62, "l_wrist": 63, "r_shoulder": 71, "r_elbow": 72, "r_wrist": 73,
}


def hand_lengths() -> torch.Tensor:
    return torch.tensor([float(HAND_LENGTHS[n]) for n in H36M17.names], dtype=torch.float64)


def local_vectors_from(named: dict[str, tuple[float, float, float]], default=(1.0, 0.0, 0.0)) -> torch.Tensor:
    v = torch.tensor([default] * K, dtype=torch.float64)
    for name, vec in named.items():
        v[SLOT[IDX[name]]] = torch.tensor(vec, dtype=torch.float64)
    return v[None]


def expected_pose(named: dict[str, tuple[float, float, float]]) -> torch.Tensor:
    return torch.tensor([named[n] for n in H36M17.names], dtype=torch.float64)[None]


def assert_close_report(actual: torch.Tensor, expected: torch.Tensor, atol: float, what: str) -> None:
    diff = (actual - expected).abs()
    worst = diff.max().item()
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    assert worst <= atol, (
        f"{what}: largest abs difference {worst:.3e} at index {where} "
        f"(actual {actual[where].item():.6f}, expected {expected[where].item():.6f})"
    )


def random_inputs(batch: int, dtype=torch.float64, seed: int = 0):
    """Raw encoder-like outputs: local vectors in (-1, 1)^3, a hip angle with sin psi > 0."""
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(batch, K, 3, generator=g, dtype=dtype) * 2 - 1
    psi = math.radians(20) + torch.rand(batch, generator=g, dtype=dtype) * math.radians(140)
    radius = 0.3 + torch.rand(batch, generator=g, dtype=dtype)
    hip = radius[:, None] * torch.stack((psi.sin(), psi.cos()), dim=-1)
    lengths = 50 + 400 * torch.rand(batch, J, generator=g, dtype=dtype)
    return v, hip, lengths


def random_rotation(batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(batch, 3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[:, None, :]
    flip = torch.det(q) < 0
    q[flip, :, 0] = -q[flip, :, 0]
    return q


def unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


# ----------------------------------------------------------------------------- hand-worked poses


def test_straight_limbs_follow_their_parent_direction():
    # All local vectors along a (raw length 0.3), psi = 90 degrees (raw (0.5, 0)): hips on +-Y,
    # legs straight out sideways along pelvis->hip, spine/head/arms straight up along +Z.
    v = local_vectors_from({}, default=(0.3, 0.0, 0.0))
    hip = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
    out = forward_kinematics(v, hip, hand_lengths())
    want = expected_pose({
        "pelvis": (0, 0, 0), "thorax": (0, 0, 40),
        "r_hip": (0, -11, 0), "r_knee": (0, -23, 0), "r_ankle": (0, -36, 0),
        "l_hip": (0, 21, 0), "l_knee": (0, 43, 0), "l_ankle": (0, 66, 0),
        "spine": (0, 0, 30), "nose": (0, 0, 91), "head": (0, 0, 143),
        "l_shoulder": (0, 0, 101), "l_elbow": (0, 0, 163), "l_wrist": (0, 0, 226),
        "r_shoulder": (0, 0, 111), "r_elbow": (0, 0, 183), "r_wrist": (0, 0, 256),
    })
    assert_close_report(out, want, 1e-9, "straight limbs")


def test_single_axis_offsets_hand_worked():
    # psi = 90 degrees. For a parent limb a, b = face vector X made orthogonal, n = a x b:
    #   a = +Z: b = X, n = Z x X = +Y;  a = +Y: b = X, n = Y x X = -Z;  a = -Y: n = +Z;
    #   a = -Z: b = X;  a = +X (degenerate): b = -Z (fallback), n = X x -Z = +Y.
    v = local_vectors_from({
        "r_knee": (0, 0, 3),       # a = -Y -> n = +Z: knee straight up (raw length 3)
        "r_ankle": (1, 0, 0),      # a = +Z (r_hip -> r_knee) -> continues up
        "l_knee": (0, 0, 1),       # a = +Y -> n = -Z: knee straight down
        "l_ankle": (0, 1, 0),      # a = -Z -> b = +X: foot forward
        "spine": (0, -1, 0),       # a = +Z -> -b = -X: spine backwards
        "nose": (0, 1, 0),         # a = +Z -> b = +X: nose forward
        "head": (1, 0, 0),         # a = +X (thorax -> nose): continues forward
        "l_shoulder": (0, 0, 1),   # a = +Z -> n = +Y
        "l_elbow": (0, 0, 1),      # a = +Y -> n = -Z
        "l_wrist": (0, 1, 0),      # a = -Z -> b = +X
        "r_shoulder": (0, 0, -1),  # a = +Z -> -n = -Y
        "r_elbow": (0, 1, 0),      # a = -Y -> b = +X
        "r_wrist": (0, 0, 1),      # a = +X (degenerate) -> n = +Y
    })
    hip = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    out = forward_kinematics(v, hip, hand_lengths())
    want = expected_pose({
        "pelvis": (0, 0, 0), "thorax": (0, 0, 40),
        "r_hip": (0, -11, 0), "r_knee": (0, -11, 12), "r_ankle": (0, -11, 25),
        "l_hip": (0, 21, 0), "l_knee": (0, 21, -22), "l_ankle": (23, 21, -22),
        "spine": (-30, 0, 0), "nose": (51, 0, 40), "head": (103, 0, 40),
        "l_shoulder": (0, 61, 40), "l_elbow": (0, 61, -22), "l_wrist": (63, 61, -22),
        "r_shoulder": (0, -71, 40), "r_elbow": (72, -71, 40), "r_wrist": (72, 2, 40),
    })
    assert_close_report(out, want, 1e-9, "single-axis offsets")


def test_hip_angle_places_hips_and_their_children():
    # psi = 60 degrees from raw (sqrt 3, 1) * 2: l_hip = 21 (0, s, c), r_hip = -11 (0, s, c).
    s, c = math.sqrt(3) / 2, 0.5
    v = local_vectors_from({"l_knee": (0, 0, 1), "r_knee": (0, 1, 0)})
    hip = torch.tensor([[2 * math.sqrt(3), 2.0]], dtype=torch.float64)
    out = forward_kinematics(v, hip, hand_lengths())[0]
    l_hip = torch.tensor([0, 21 * s, 21 * c], dtype=torch.float64)
    r_hip = torch.tensor([0, -11 * s, -11 * c], dtype=torch.float64)
    assert_close_report(out[IDX["l_hip"]], l_hip, 1e-9, "l_hip")
    assert_close_report(out[IDX["r_hip"]], r_hip, 1e-9, "r_hip")
    # l_knee frame: a = (0, s, c), b = X, n = a x X = (0, c, -s).
    l_knee = l_hip + 22 * torch.tensor([0, c, -s], dtype=torch.float64)
    assert_close_report(out[IDX["l_knee"]], l_knee, 1e-9, "l_knee")
    # r_knee frame: a = -(0, s, c), b = X.
    r_knee = r_hip + torch.tensor([12.0, 0, 0], dtype=torch.float64)
    assert_close_report(out[IDX["r_knee"]], r_knee, 1e-9, "r_knee")


# ----------------------------------------------------------------------------- properties


def test_output_has_prior_bone_lengths_and_canonical_structure():
    v, hip, lengths = random_inputs(32)
    out = forward_kinematics(v, hip, lengths)
    assert out.shape == (32, J, 3)
    assert_close_report(bone_lengths(out), lengths * (torch.arange(J) != 0), 1e-9, "bone lengths")
    # Pelvis at the origin, thorax on +Z at its bone length.
    assert_close_report(out[:, IDX["pelvis"]], torch.zeros(32, 3, dtype=torch.float64), 0, "pelvis")
    thorax = torch.zeros(32, 3, dtype=torch.float64)
    thorax[:, 2] = lengths[:, IDX["thorax"]]
    assert_close_report(out[:, IDX["thorax"]], thorax, 1e-12, "thorax")
    # Hips in the YZ plane on one line through the origin, l_hip on the +Y side (sin psi > 0).
    l_hip, r_hip = out[:, IDX["l_hip"]], out[:, IDX["r_hip"]]
    assert_close_report(l_hip[:, 0], torch.zeros(32, dtype=torch.float64), 1e-12, "l_hip x")
    assert_close_report(r_hip[:, 0], torch.zeros(32, dtype=torch.float64), 1e-12, "r_hip x")
    cross = torch.linalg.cross(l_hip, r_hip, dim=-1)
    assert_close_report(cross, torch.zeros_like(cross), 1e-8, "hips collinear with the pelvis")
    assert (l_hip[:, 1] > 0).all() and (r_hip[:, 1] < 0).all()


def test_shared_and_per_sample_bone_lengths_agree():
    v, hip, _ = random_inputs(4)
    prior = default_bone_lengths(torch.float64)
    shared = forward_kinematics(v, hip, prior)
    per_sample = forward_kinematics(v, hip, prior.expand(4, J).clone())
    assert_close_report(shared, per_sample, 0, "(J,) vs (B, J) bone lengths")


def test_matches_naive_loop_twin():
    v, hip, lengths = random_inputs(48, seed=1)
    # Push some parent limbs into the fallback cone around +-X (l/r shoulder nearly forward
    # or backward, nose nearly forward) so the blended frame is compared too.
    g = torch.Generator().manual_seed(2)
    near = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64) + 0.15 * torch.randn(16, 3, generator=g, dtype=torch.float64)
    v[:16, SLOT[IDX["l_shoulder"]]] = near
    v[16:32, SLOT[IDX["r_shoulder"]]] = -near
    v[32:48, SLOT[IDX["nose"]]] = near
    out = forward_kinematics(v, hip, lengths)
    twin = naive_forward_kinematics(v, hip, lengths)
    assert_close_report(out, twin, 1e-9, "batched FK vs naive loop")
    out_shared = forward_kinematics(v, hip, lengths[0])
    twin_shared = naive_forward_kinematics(v, hip, lengths[0])
    assert_close_report(out_shared, twin_shared, 1e-9, "batched FK vs naive loop, shared lengths")


def test_fk_of_ik_is_identity_on_fk_outputs():
    v, hip, lengths = random_inputs(64, seed=3)
    pose = forward_kinematics(v, hip, lengths)
    v_ik, hip_ik = inverse_kinematics(pose)
    assert_close_report(v_ik, unit(v), 1e-9, "IK local vectors")
    assert_close_report(hip_ik, unit(hip), 1e-9, "IK hip angle")
    again = forward_kinematics(v_ik, hip_ik, bone_lengths(pose))
    assert_close_report(again, pose, 1e-6, "FK(IK(p), bone_lengths(p))")


def test_ik_of_canonicalized_rotated_pose_recovers_local_vectors():
    v, hip, lengths = random_inputs(32, seed=4)
    pose = forward_kinematics(v, hip, lengths)
    R = random_rotation(32, seed=5)
    shift = 1000 * torch.randn(32, 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    moved = torch.einsum("bij,bkj->bki", R, pose) + shift
    canon, canon_R_input = canonicalize(moved)
    assert_close_report(canon, pose, 1e-8, "canonicalize undoes the rotation")
    assert_close_report(canon_R_input, R.transpose(1, 2), 1e-10, "canon_R_input")
    v_ik, hip_ik = inverse_kinematics(canon)
    assert_close_report(v_ik, unit(v), 1e-9, "IK(canonicalize(R p + t)) local vectors")
    assert_close_report(hip_ik, unit(hip), 1e-9, "IK(canonicalize(R p + t)) hip angle")


def test_canonicalize_hand_worked():
    # A pose given in a frame where the body faces -Y, its left is +X and up is +Z, translated.
    pose = torch.zeros(1, J, 3, dtype=torch.float64)
    pose[0, IDX["thorax"]] = torch.tensor([0.0, 0.0, 5.0])
    pose[0, IDX["l_hip"]] = torch.tensor([1.0, 0.0, 0.0])
    pose[0, IDX["r_hip"]] = torch.tensor([-1.0, 0.0, 0.0])
    pose[0, IDX["nose"]] = torch.tensor([0.0, -2.0, 6.0])  # in front of the face
    pose = pose + torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64)
    canon, canon_R_input = canonicalize(pose)
    want_R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert_close_report(canon_R_input[0], want_R, 1e-12, "canon_R_input")
    assert_close_report(canon[0, IDX["nose"]], torch.tensor([2.0, 0.0, 6.0], dtype=torch.float64), 1e-12, "nose")
    assert_close_report(canon[0, IDX["l_hip"]], torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), 1e-12, "l_hip")


def test_retarget_sets_prior_lengths_and_keeps_directions():
    v, hip, lengths = random_inputs(16, seed=7)
    pose = forward_kinematics(v, hip, lengths)
    R = random_rotation(16, seed=8)
    moved = torch.einsum("bij,bkj->bki", R, pose) + 50.0
    prior = default_bone_lengths(torch.float64)
    out = retarget(moved, prior)
    assert_close_report(bone_lengths(out), prior.expand(16, J), 1e-9, "retargeted bone lengths")
    assert_close_report(out, forward_kinematics(v, hip, prior), 1e-8, "retarget == FK(v, prior)")


# ----------------------------------------------------------------------------- limb frames


def test_limb_frame_is_orthonormal_everywhere_including_near_face_vector():
    g = torch.Generator().manual_seed(9)
    a = torch.cat([
        torch.randn(200, 3, generator=g, dtype=torch.float64),
        torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [3.0, 0, 0], [1.0, 1e-9, 0], [-1.0, 0, 1e-7]], dtype=torch.float64),
        torch.tensor([1.0, 0, 0], dtype=torch.float64) + 0.05 * torch.randn(50, 3, generator=g, dtype=torch.float64),
    ])
    frame = limb_frame(a)
    eye = torch.eye(3, dtype=torch.float64).expand_as(frame)
    assert_close_report(frame @ frame.transpose(-1, -2), eye, 1e-10, "frame orthonormal")
    assert_close_report(torch.det(frame), torch.ones(len(a), dtype=torch.float64), 1e-10, "det = +1")
    assert_close_report(frame[:, 0], unit(a), 1e-12, "first row is the parent direction")


def test_limb_frame_is_the_paper_frame_outside_the_fallback_cone_and_continuous_at_its_edge():
    a = unit(torch.tensor([[0.3, -0.8, 0.5], [-0.6, 0.1, -0.7], [0.0, 0.0, 1.0]], dtype=torch.float64))
    x = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    b = unit(x - (a @ x)[:, None] * a)
    frame = limb_frame(a)
    assert_close_report(frame[:, 1], b, 1e-12, "b = Gram-Schmidt of X")
    assert_close_report(frame[:, 2], torch.linalg.cross(a, b, dim=-1), 1e-12, "n = a x b")
    # Just inside and just outside the cone edge |a x X|^2 = FALLBACK_CONE: same frame.
    s = math.sqrt(FALLBACK_CONE)
    edge = []
    for ds in (-1e-7, 1e-7):
        si = s + ds
        edge.append(torch.tensor([[math.sqrt(1 - si * si), 0.6 * si, 0.8 * si]], dtype=torch.float64))
    inside, outside = limb_frame(edge[0]), limb_frame(edge[1])
    assert_close_report(inside, outside, 1e-5, "frame continuous across the cone edge")


def test_limb_frame_fallback_hand_worked():
    a = torch.tensor([[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], dtype=torch.float64)
    frame = limb_frame(a)
    want = torch.tensor([
        [[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]],    # a = +X: b = -Z, n = X x -Z = +Y
        [[-1.0, 0, 0], [0, 0, -1.0], [0, -1.0, 0]],  # a = -X: b = -Z, n = -X x -Z = -Y
    ], dtype=torch.float64)
    assert_close_report(frame, want, 1e-12, "fallback frame")


def test_limb_frame_gradcheck_at_the_face_vector_and_elsewhere():
    a = torch.tensor([[1.0, 0.0, 0.0], [-0.99, 0.05, 0.02], [0.2, -0.5, 0.7]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(limb_frame, (a,))


# ----------------------------------------------------------------------------- gradients


def test_forward_kinematics_gradcheck():
    v, hip, lengths = random_inputs(2, seed=10)
    v.requires_grad_(True)
    hip.requires_grad_(True)
    lengths.requires_grad_(True)
    assert torch.autograd.gradcheck(forward_kinematics, (v, hip, lengths))


def test_inverse_kinematics_and_canonicalize_gradcheck():
    v, hip, lengths = random_inputs(2, seed=11)
    pose = forward_kinematics(v, hip, lengths)
    pose = pose + 5 * torch.randn(pose.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
    pose.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: inverse_kinematics(canonicalize(p)[0]), (pose,))


@pytest.mark.parametrize("shoulder_vector", [(0.0, 1.0, 0.0), (0.0, -1.0, 0.0)])
def test_finite_gradients_when_a_parent_limb_is_parallel_to_the_face_vector(shoulder_vector):
    # The left shoulder points exactly forward (or backward): the l_elbow frame has a = +-X.
    v = local_vectors_from({"l_shoulder": shoulder_vector, "l_elbow": (0.3, -0.4, 0.5)}).requires_grad_(True)
    hip = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    out = forward_kinematics(v, hip, default_bone_lengths(torch.float64))
    assert torch.isfinite(out).all()
    weights = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(13))
    (out * weights).sum().backward()
    assert torch.isfinite(v.grad).all() and torch.isfinite(hip.grad).all()
    assert v.grad[0, SLOT[IDX["l_elbow"]]].abs().sum() > 0


def test_finite_values_and_gradients_for_zero_inputs_and_the_blend_zero():
    # All-zero raw outputs, a zero-length bone, and the isolated direction where the blended
    # reference axis vanishes: values and gradients stay finite.
    v = torch.zeros(1, K, 3, dtype=torch.float64, requires_grad=True)
    hip = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    lengths = default_bone_lengths(torch.float64).clone()
    lengths[IDX["l_hip"]] = 0.0
    out = forward_kinematics(v, hip, lengths)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(v.grad).all() and torch.isfinite(hip.grad).all()
    # Solve sin e = w(sin^2 e) cos e by bisection: a = (cos e, 0, -sin e) zeroes b before clamping.
    lo, hi = 0.0, math.sqrt(FALLBACK_CONE)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        w = max(0.0, 1 - math.sin(mid) ** 2 / FALLBACK_CONE) ** 2
        lo, hi = (mid, hi) if math.sin(mid) < w * math.cos(mid) else (lo, mid)
    a = torch.tensor([[math.cos(lo), 0.0, -math.sin(lo)]], dtype=torch.float64, requires_grad=True)
    frame = limb_frame(a)
    frame.sum().backward()
    assert torch.isfinite(frame).all() and torch.isfinite(a.grad).all()


# ----------------------------------------------------------------------------- smoke, bad input


def test_float32_smoke_and_dtype_follows_local_vectors():
    v, hip, _ = random_inputs(3, dtype=torch.float32)
    out = forward_kinematics(v, hip, default_bone_lengths())
    assert out.dtype == torch.float32 and out.shape == (3, J, 3) and torch.isfinite(out).all()
    out64 = forward_kinematics(v.double(), hip.double(), default_bone_lengths())
    assert out64.dtype == torch.float64
    assert_close_report(out.double(), out64, 1e-3, "float32 vs float64")


def test_empty_batch():
    out = forward_kinematics(torch.zeros(0, K, 3), torch.zeros(0, 2), default_bone_lengths())
    assert out.shape == (0, J, 3)


@pytest.mark.parametrize(
    "v_shape, hip_shape, len_shape, name",
    [
        ((2, 12, 3), (2, 2), (J,), "local_vectors"),
        ((2, K, 2), (2, 2), (J,), "local_vectors"),
        ((K, 3), (2, 2), (J,), "local_vectors"),
        ((2, K, 3), (3, 2), (J,), "hip_angle"),
        ((2, K, 3), (2, 3), (J,), "hip_angle"),
        ((2, K, 3), (2, 2), (16,), "bone_lengths"),
        ((2, K, 3), (2, 2), (3, J), "bone_lengths"),
    ],
)
def test_forward_kinematics_rejects_bad_shapes(v_shape, hip_shape, len_shape, name):
    with pytest.raises(ValueError, match=name):
        forward_kinematics(torch.zeros(v_shape), torch.ones(hip_shape), torch.ones(len_shape))


@pytest.mark.parametrize("name", ["local_vectors", "hip_angle", "bone_lengths"])
def test_forward_kinematics_rejects_nan(name):
    args = {"local_vectors": torch.ones(2, K, 3), "hip_angle": torch.ones(2, 2), "bone_lengths": default_bone_lengths()}
    args[name] = args[name].clone()
    args[name].view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=f"{name} contains NaN"):
        forward_kinematics(**args)


def test_canonicalize_ik_retarget_reject_bad_input():
    with pytest.raises(ValueError, match="pose"):
        canonicalize(torch.zeros(2, 16, 3))
    with pytest.raises(ValueError, match="canonical_pose"):
        inverse_kinematics(torch.zeros(17, 3))
    bad = torch.zeros(1, J, 3)
    bad[0, 3, 1] = float("inf")
    with pytest.raises(ValueError, match="pose contains NaN or Inf"):
        retarget(bad, default_bone_lengths())
    with pytest.raises(ValueError, match="bone_lengths"):
        retarget(torch.randn(1, J, 3), torch.ones(J + 1))
