"""Encoder E: shapes, head constraints, initial pose, gradients from every head, variants."""

import pytest
import torch

from partpose.geometry import camera, kinematics
from partpose.geometry.skeleton import default_bone_lengths
from partpose.models.encoder import Encoder, EncoderConfig, rest_pose_canon_mm

SMALL = dict(stem_channels=8, widths=(8, 16, 16, 16), head_hidden=32, appearance_dim=12)


def _images(batch=2, size=64, seed=0):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_output_shapes_and_constraints():
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(**SMALL, head_init_gain=5.0))  # large gain: outputs far from the init
    out = enc(_images(3))
    assert out.local_vectors.shape == (3, 13, 3)
    assert out.hip_angle.shape == (3, 2)
    assert out.cam_R_canon.shape == (3, 3, 3)
    assert out.scale.shape == (3,)
    assert out.offset.shape == (3, 2)
    assert out.appearance.shape == (3, 12)
    assert out.joints is None
    torch.testing.assert_close(out.local_vectors.norm(dim=-1), torch.ones(3, 13))
    torch.testing.assert_close(out.hip_angle.norm(dim=-1), torch.ones(3))
    psi = torch.rad2deg(torch.atan2(out.hip_angle[:, 0], out.hip_angle[:, 1]))
    assert ((psi >= 60.0 - 1e-4) & (psi <= 120.0 + 1e-4)).all()  # 90 +- hip_angle_range_deg: left hip on the left
    assert (out.scale > 0).all()
    r = out.cam_R_canon
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(3), atol=1e-5, rtol=0)
    for field in ("local_vectors", "hip_angle", "cam_R_canon", "scale", "offset", "appearance"):
        assert getattr(out, field).dtype == torch.float32


def test_hip_angle_stays_within_its_range_however_large_the_output():
    enc = Encoder(EncoderConfig(**SMALL, hip_angle_range_deg=20.0))
    with torch.no_grad():
        enc.hip_angle_head.bias.fill_(1e4)
    psi = torch.rad2deg(torch.atan2(*enc(_images(2)).hip_angle.unbind(-1)))
    torch.testing.assert_close(psi, torch.full((2,), 110.0), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="hip_angle_range_deg"):
        EncoderConfig(hip_angle_range_deg=90.0)


def test_initial_prediction_is_the_rest_pose_from_the_front():
    enc = Encoder(EncoderConfig(**SMALL, head_init_gain=0.0, init_scale=1.3))
    out = enc(_images(2))
    pose = kinematics.forward_kinematics(out.local_vectors, out.hip_angle, default_bone_lengths())
    torch.testing.assert_close(pose, rest_pose_canon_mm().expand(2, 17, 3), atol=1e-3, rtol=0)
    front = camera.view_rotation(torch.zeros(2), torch.zeros(2))
    torch.testing.assert_close(out.cam_R_canon, front, atol=1e-6, rtol=0)
    torch.testing.assert_close(out.scale, torch.full((2,), 1.3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.offset, torch.zeros(2, 2))


def test_view_rotation_stays_within_its_ranges():
    import math

    torch.manual_seed(1)
    config = EncoderConfig(**SMALL, rotation="view", view_elevation_deg=(-20.0, 50.0), view_roll_deg=30.0,
                           head_init_gain=0.0)
    enc = Encoder(config)
    front = camera.view_rotation(torch.zeros(2), torch.zeros(2))
    torch.testing.assert_close(enc(_images(2)).cam_R_canon, front, atol=1e-6, rtol=0)
    # Drive the head to extreme raw values: the rotation stays proper and in the family.
    raw = torch.randn(4000, 4) * 20.0
    r = enc._rotation(raw)
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(4000, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(4000), atol=1e-5, rtol=0)
    up_cam = r[:, :, 2]  # canonical +Z (the torso) in camera coordinates
    # Elevation: the torso leans away from a camera above by the camera's elevation (camera z
    # points away from the camera: up_cam z = -sin(elevation)).
    elevation = torch.rad2deg(torch.asin(-up_cam[:, 2].clamp(-1, 1)))
    assert elevation.min() >= -20.0 - 1e-3 and elevation.max() <= 50.0 + 1e-3
    assert elevation.min() < -19.0 and elevation.max() > 49.0  # the whole range is reachable
    # Roll: the torso's image direction is "up" (-y) turned by at most the roll bound.
    roll = torch.rad2deg(torch.atan2(up_cam[:, 0], -up_cam[:, 1]))
    assert roll.abs().max() <= 30.0 + 1e-3 and roll.abs().max() > 29.0
    # Azimuth: every direction, hand-worked at raw (cos, sin) = (0, big), elevation and roll 0.
    fraction = 20.0 / 70.0
    side = enc._rotation(torch.tensor([[0.0, 30.0, math.log(fraction / (1 - fraction)), 0.0]]))
    torch.testing.assert_close(side, camera.view_rotation(torch.tensor([math.pi / 2]), torch.zeros(1)), atol=1e-5, rtol=0)
    # And it learns: every raw output gets a gradient.
    raw = torch.randn(8, 4, requires_grad=True)
    enc._rotation(raw).sum().backward()
    assert raw.grad.abs().sum(0).min() > 0


def test_rest_pose_is_upright_and_facing_plus_x():
    pose = rest_pose_canon_mm()
    names = dict(pelvis=0, r_hip=1, r_ankle=3, l_hip=4, l_ankle=6, thorax=8, nose=9, head=10, l_wrist=13, r_wrist=16)
    assert pose[names["head"], 2] > pose[names["thorax"], 2] > 0 > pose[names["l_ankle"], 2]
    assert pose[names["l_hip"], 1] > 0 > pose[names["r_hip"], 1]  # +Y is the body's left
    assert pose[names["nose"], 0] > 0 and pose[names["l_wrist"], 0] > 0  # face and hands forward
    torch.testing.assert_close(pose[0], torch.zeros(3))


@pytest.mark.parametrize("head_norm,gain", [("none", 0.1), ("layer", 0.05)])
def test_default_init_is_close_to_the_rest_pose(head_norm, gain):
    # LayerNorm's hidden units are about 2.4 times larger at the start: half the gain for them
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(head_norm=head_norm, head_init_gain=gain))
    out = enc(_images(2))
    pose = kinematics.forward_kinematics(out.local_vectors, out.hip_angle, default_bone_lengths())
    # small head weights: every joint within 10 cm of the rest pose, camera close to the front view
    assert (pose - rest_pose_canon_mm()).norm(dim=-1).max() < 100.0
    front = camera.view_rotation(torch.zeros(2), torch.zeros(2))
    assert (out.cam_R_canon - front).abs().max() < 0.2


@pytest.mark.parametrize("field", ["local_vectors", "hip_angle", "cam_R_canon", "scale", "offset", "appearance"])
def test_gradient_flows_from_each_head(field):
    torch.manual_seed(1)
    enc = Encoder(EncoderConfig(**SMALL))
    out = enc(_images(2))
    value = getattr(out, field)
    weights = torch.randn(value.shape, generator=torch.Generator().manual_seed(2))
    (value * weights).sum().backward()
    stem_grad = enc.stem[0].weight.grad
    assert stem_grad is not None and torch.isfinite(stem_grad).all() and stem_grad.abs().sum() > 0
    head = {
        "local_vectors": enc.local_vectors_head, "hip_angle": enc.hip_angle_head, "cam_R_canon": enc.rotation_head,
        "scale": enc.scale_head, "offset": enc.offset_head, "appearance": enc.appearance_head,
    }[field]
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_every_parameter_is_used():
    enc = Encoder(EncoderConfig(**SMALL))
    out = enc(_images(2))
    total = sum(getattr(out, f).sum() for f in ("local_vectors", "hip_angle", "cam_R_canon", "scale", "offset", "appearance"))
    total.backward()
    unused = [n for n, p in enc.named_parameters() if p.grad is None]
    assert unused == []


def test_regress_joints_mode():
    enc = Encoder(EncoderConfig(**SMALL, regress_joints=True, head_init_gain=0.0))
    out = enc(_images(2))
    assert out.joints.shape == (2, 17, 3) and out.joints.dtype == torch.float32
    assert out.local_vectors is None and out.cam_R_canon is None and out.scale is None
    # initial joints: the rest pose from the front at scale 1, depth in the same units
    front = camera.view_rotation(torch.zeros(1), torch.zeros(1))
    q, depth = camera.project(rest_pose_canon_mm()[None] / 1000, front, torch.ones(1), torch.zeros(1, 2))
    torch.testing.assert_close(out.joints[0, :, :2], q[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.joints[0, :, 2], depth[0], atol=1e-5, rtol=0)
    enc = Encoder(EncoderConfig(**SMALL, regress_joints=True))  # default gain: image-dependent
    enc(_images(2)).joints.sum().backward()
    assert enc.stem[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("block,norm,head_norm", [("bottleneck", "group", "none"), ("basic", "batch", "none"),
                                                ("basic", "none", "none"), ("basic", "group", "layer")])
def test_variants_run(block, norm, head_norm):
    enc = Encoder(EncoderConfig(stem_channels=8, widths=(16, 16, 32), blocks_per_stage=(2, 1, 1), block=block, norm=norm,
                                pool_size=1, head_hidden=16, appearance_dim=4, head_norm=head_norm))
    out = enc(_images(2, size=32))
    assert out.local_vectors.shape == (2, 13, 3) and torch.isfinite(out.scale).all()


def test_autocast_outputs_float32():
    enc = Encoder(EncoderConfig(**SMALL))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(_images(2))
    for field in ("local_vectors", "hip_angle", "cam_R_canon", "scale", "offset", "appearance"):
        value = getattr(out, field)
        assert value.dtype == torch.float32 and torch.isfinite(value).all()
    torch.testing.assert_close(out.local_vectors.norm(dim=-1), torch.ones(2, 13), atol=1e-5, rtol=0)


def test_bad_input_and_config():
    enc = Encoder(EncoderConfig(**SMALL))
    with pytest.raises(ValueError, match="image"):
        enc(torch.rand(2, 1, 64, 64))
    with pytest.raises(ValueError, match="image"):
        enc(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="blocks_per_stage"):
        EncoderConfig(widths=(8, 16, 32), blocks_per_stage=(1, 2))
    with pytest.raises(ValueError, match="block"):
        EncoderConfig(block="dense")
    with pytest.raises(ValueError, match="norm"):
        EncoderConfig(norm="layer")
    with pytest.raises(ValueError, match="head_norm"):
        EncoderConfig(head_norm="batch")
    with pytest.raises(ValueError, match="init_scale"):
        EncoderConfig(init_scale=0.0)
    with pytest.raises(ValueError, match="rotation"):
        EncoderConfig(rotation="euler")
    with pytest.raises(ValueError, match="view_elevation_deg"):
        EncoderConfig(view_elevation_deg=(10.0, 50.0))


def test_forward_is_from_raw_of_raw_pose():
    torch.manual_seed(3)
    enc = Encoder(EncoderConfig(**SMALL)).eval()
    images = _images(3)
    out = enc(images)
    raw = enc.raw_pose(images)
    assert raw.vectors.shape == (3, 13, 3) and raw.hip.shape == (3, 1) and raw.rotation.shape == (3, 6)
    again = enc.from_raw(raw, out.appearance)
    for field in ("local_vectors", "hip_angle", "cam_R_canon", "scale", "offset"):
        torch.testing.assert_close(getattr(again, field), getattr(out, field))
    # hand-worked: raw zeros give psi = 90 deg, the middle of the scale range and no offset
    zeros = type(raw)(*(torch.zeros_like(x) for x in (raw.vectors, raw.hip, raw.rotation, raw.scale, raw.offset)))
    at_zero = enc.from_raw(zeros, out.appearance)
    torch.testing.assert_close(at_zero.hip_angle, torch.tensor([[1.0, 0.0]] * 3))
    lo, hi = enc.config.scale_range
    torch.testing.assert_close(at_zero.scale, torch.full((3,), (lo + hi) / 2))
    torch.testing.assert_close(at_zero.offset, torch.zeros(3, 2))


def test_raw_pose_refuses_a_joint_regressor():
    enc = Encoder(EncoderConfig(**SMALL, regress_joints=True))
    with pytest.raises(ValueError, match="T_fk heads"):
        enc.raw_pose(_images(1))


@pytest.mark.parametrize("trunk", ["shared", "detached", "own"])
def test_appearance_shapes_the_pose_trunk_only_when_shared(trunk):
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(**SMALL, appearance_trunk=trunk))
    images = _images(2)
    out = enc(images)
    stem = enc.stem[0].weight
    from_appearance = torch.autograd.grad(out.appearance.square().sum(), [stem, enc.appearance_head.weight],
                                          retain_graph=True, allow_unused=True)
    assert from_appearance[1].abs().sum() > 0  # the head always learns
    assert (from_appearance[0] is not None and from_appearance[0].abs().sum() > 0) == (trunk == "shared")
    # pose still shapes the trunk
    assert torch.autograd.grad(out.local_vectors.sum(), stem)[0].abs().sum() > 0
    if trunk == "own":  # its own trunk learns from the appearance, and pose does not reach it
        own_stem = enc.appearance_trunk[0][0].weight
        assert torch.autograd.grad(out.appearance.square().sum(), own_stem, retain_graph=True)[0].abs().sum() > 0
        assert torch.autograd.grad(out.local_vectors.sum(), own_stem, allow_unused=True)[0] is None
    else:  # detaching changes the gradient, never the code
        torch.manual_seed(0)
        other = Encoder(EncoderConfig(**SMALL, appearance_trunk="detached" if trunk == "shared" else "shared"))
        torch.testing.assert_close(other(images).appearance, out.appearance)


@pytest.mark.parametrize("branch_stages", [1, 2])
def test_appearance_branch_shares_the_first_stages_only(branch_stages):
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(**SMALL, appearance_trunk="branch", appearance_branch_stages=branch_stages))
    images = _images(2)
    out = enc(images)
    split = len(enc.stages) - branch_stages
    shared_stage, pose_last = enc.stages[split - 1], enc.stages[-1]
    branch_first = enc.appearance_trunk[0]
    params = [p for m in (shared_stage, pose_last, branch_first) for p in m.parameters() if p.requires_grad]
    sizes = [sum(1 for p in m.parameters() if p.requires_grad) for m in (shared_stage, pose_last, branch_first)]

    def touched(loss):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        flags, start = [], 0
        for size in sizes:
            group = grads[start:start + size]
            flags.append(any(g is not None and g.abs().sum() > 0 for g in group))
            start += size
        return flags

    # the appearance trains the shared stages and its own, never the pose's last stage
    assert touched(out.appearance.square().sum()) == [True, False, True]
    # the pose trains the shared stages and its own last stage, never the appearance's
    assert touched(out.local_vectors.sum()) == [True, True, False]
    # the pose path is the plain trunk's; the branch with the trunk's last weights reads the same
    torch.testing.assert_close(enc.raw_pose(images).vectors, enc.local_vectors_head(enc.pose_mlp(enc.features(images)))
                               .reshape(2, -1, 3))
    for own, pose in zip(enc.appearance_trunk[:branch_stages], enc.stages[split:]):
        own.load_state_dict(pose.state_dict())
    shared = Encoder(EncoderConfig(**SMALL, appearance_trunk="shared"))
    shared.load_state_dict({k: v for k, v in enc.state_dict().items() if not k.startswith("appearance_trunk")})
    torch.testing.assert_close(enc(images).appearance, shared(images).appearance)


def test_appearance_branch_must_leave_a_shared_stage_count_in_range():
    with pytest.raises(ValueError, match="appearance_branch_stages"):
        EncoderConfig(**SMALL, appearance_trunk="branch", appearance_branch_stages=len(SMALL["widths"]) + 1)


def test_unknown_appearance_trunk_is_refused():
    with pytest.raises(ValueError, match="appearance_trunk"):
        EncoderConfig(appearance_trunk="separate")
