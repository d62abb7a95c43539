"""PartPoseModel: encode -> synthesize round trip, units and frames, ablation mode, composite."""

import pytest
import torch

from partpose.geometry import camera, kinematics, puppet
from partpose.geometry.skeleton import bone_lengths, default_bone_lengths
from partpose.models.decoder import DecoderConfig
from partpose.models.encoder import EncoderConfig
from partpose.models.partpose_model import ModelConfig, PartPoseModel, composite

SMALL_ENCODER = dict(stem_channels=8, widths=(8, 16, 16, 16), head_hidden=32, appearance_dim=12)
SMALL_DECODER = dict(widths=(32, 24, 16, 16, 8))
CUSTOM_BONES = tuple(float(x) * (0.9 + 0.01 * i) for i, x in enumerate(default_bone_lengths().tolist()))


def _model(seed=0, **overrides):
    torch.manual_seed(seed)
    encoder = EncoderConfig(**{**SMALL_ENCODER, **overrides.pop("encoder", {})})
    decoder = DecoderConfig(**{**SMALL_DECODER, **overrides.pop("decoder", {})})
    return PartPoseModel(ModelConfig(encoder=encoder, decoder=decoder, **overrides))


def _images(batch=2, size=64, seed=0):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_round_trip_forward_backward_finite():
    model = _model()
    image, background = _images(seed=1), _images(seed=2)
    est = model.encode(image)
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale, background)
    assert syn.image.shape == (2, 3, 64, 64) and syn.seg_logits.shape == (2, 11, 64, 64)
    assert [m.shape[-1] for m in syn.part_maps] == [4, 8, 16, 32, 64]
    torch.testing.assert_close(syn.seg_probs.sum(1), torch.ones(2, 64, 64))
    (syn.image - image).abs().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_pose_estimate_fields_and_frames():
    model = _model(bone_lengths_mm=CUSTOM_BONES, encoder=dict(head_init_gain=2.0))
    est = model.encode(_images(3))
    for name, shape in [("pose_canon_mm", (3, 17, 3)), ("cam_R_canon", (3, 3, 3)), ("scale", (3,)), ("offset", (3, 2)),
                        ("pose_cam_mm", (3, 17, 3)), ("q", (3, 17, 2)), ("depth", (3, 17)), ("appearance", (3, 12)),
                        ("local_vectors", (3, 13, 3)), ("hip_angle", (3, 2))]:
        value = getattr(est, name)
        assert value.shape == shape and value.dtype == torch.float32, name
    # bone lengths of the camera-frame pose are the prior's
    torch.testing.assert_close(bone_lengths(est.pose_cam_mm), torch.tensor(CUSTOM_BONES).expand(3, 17), atol=1e-3, rtol=0)
    torch.testing.assert_close(est.pose_cam_mm, est.pose_canon_mm @ est.cam_R_canon.transpose(1, 2))
    torch.testing.assert_close(est.pose_cam_mm[:, 0], torch.zeros(3, 3))
    # T_c in metres: q = s (R p / 1000)_xy + t, depth = (R p)_z / 1000
    torch.testing.assert_close(est.q, est.scale[:, None, None] * est.pose_cam_mm[..., :2] / 1000 + est.offset[:, None])
    torch.testing.assert_close(est.depth, est.pose_cam_mm[..., 2] / 1000)


def test_initial_pose_is_upright_and_faces_the_camera():
    model = _model(encoder=dict(head_init_gain=0.0))
    est = model.encode(_images(1))
    q, depth = est.q[0], est.depth[0]
    pelvis, r_hip, l_hip, nose, head, r_ankle = 0, 1, 4, 9, 10, 3
    assert q[head, 1] < q[nose, 1] < q[pelvis, 1] < q[r_ankle, 1]  # y down: head on top
    assert q[l_hip, 0] > q[pelvis, 0] > q[r_hip, 0]  # facing the camera: the left hip on the image right
    assert depth[nose] < depth[pelvis]  # the face is nearer than the pelvis
    height = q[:, 1].max() - q[:, 1].min()
    assert 1.0 < height < 2.0  # the person fills most of the crop


def test_no_fk_camera_mode():
    model = _model(no_fk_camera=True, bone_lengths_mm=CUSTOM_BONES, encoder=dict(head_init_gain=2.0))
    assert model.config.encoder.regress_joints
    image = _images(2)
    est = model.encode(image)
    joints = model.encoder(image).joints
    torch.testing.assert_close(est.q, joints[..., :2])
    # total bone length matches the prior; root-relative; pose_cam = R pose_canon
    torch.testing.assert_close(bone_lengths(est.pose_cam_mm).sum(-1), torch.tensor(CUSTOM_BONES).sum().expand(2))
    torch.testing.assert_close(est.pose_cam_mm[:, 0], torch.zeros(2, 3))
    torch.testing.assert_close(est.pose_cam_mm, est.pose_canon_mm @ est.cam_R_canon.transpose(1, 2), atol=1e-3, rtol=0)
    # depth order is that of the regressed z
    assert torch.equal(est.depth.argsort(dim=1), joints[..., 2].argsort(dim=1))
    # the T_c identities of the main mode hold with the derived camera
    q, depth = model.pose_for_prior(est.pose_canon_mm, est.cam_R_canon, est.scale, est.offset)
    torch.testing.assert_close(q, est.q, atol=1e-5, rtol=0)
    torch.testing.assert_close(depth, est.depth, atol=1e-5, rtol=0)
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale, _images(2, seed=3))
    (syn.image.mean() + est.pose_canon_mm.abs().mean() / 1000).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_composite_where_background_probability_is_one_or_zero():
    model = _model()
    est = model.encode(_images(2))
    background = _images(2, seed=5)
    fork = model.decoder.seg_fork
    with torch.no_grad():
        fork.out_features.weight.zero_()
        fork.out_maps.weight.zero_()
        fork.out_features.bias.fill_(-50.0)
        fork.out_features.bias[0] = 50.0  # background logit dominates everywhere
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale, background)
    torch.testing.assert_close(syn.image, background)
    with torch.no_grad():
        fork.out_features.bias[0] = -100.0  # background probability 0
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale, background)
    torch.testing.assert_close(syn.image, syn.rgb_fg)
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale)  # no background: black
    torch.testing.assert_close(syn.image, syn.rgb_fg)


def test_composite_hand_values():
    rgb = torch.tensor([0.2, 0.8]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    bg_prob = torch.tensor([0.25, 1.0]).view(1, 1, 1, 2)
    background = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    # 0.75 * 0.2 + 0.25 * 1.0 = 0.4; 0 * 0.8 + 1 * 0.5 = 0.5
    torch.testing.assert_close(composite(rgb, bg_prob, background)[0, :, 0], torch.tensor([[0.4, 0.5]] * 3))
    torch.testing.assert_close(composite(rgb, bg_prob, None)[0, :, 0], torch.tensor([[0.15, 0.0]] * 3))


def test_draw_and_pose_for_prior():
    model = _model()
    est = model.encode(_images(2))
    maps = model.draw(est.q, est.depth, est.scale)
    assert [tuple(m.shape) for m in maps] == [(2, 10, r, r) for r in (4, 8, 16, 32, 64)]
    torch.testing.assert_close(maps[-1], puppet.part_maps(est.q, est.depth, (64, 64), est.scale))
    prior_mm = kinematics.forward_kinematics(est.local_vectors, est.hip_angle, default_bone_lengths())
    view = camera.view_rotation(torch.tensor([0.5, -2.0]), torch.tensor([0.1, 0.3]))
    q, depth = model.pose_for_prior(prior_mm, view, torch.tensor([0.9, 1.1]), torch.tensor([[0.1, 0.0], [0.0, -0.1]]))
    q_ref, depth_ref = camera.project(prior_mm / 1000, view, torch.tensor([0.9, 1.1]), torch.tensor([[0.1, 0.0], [0.0, -0.1]]))
    torch.testing.assert_close(q, q_ref)
    torch.testing.assert_close(depth, depth_ref)


def test_parameters_live_in_encoder_and_decoder():
    model = _model(bone_lengths_mm=CUSTOM_BONES)
    ids = {id(p) for p in model.parameters()}
    assert ids == {id(p) for p in model.encoder.parameters()} | {id(p) for p in model.decoder.parameters()}
    assert "bone_lengths_mm" in model.state_dict()
    assert not any(p is model.bone_lengths_mm for p in model.parameters())


def test_autocast_bfloat16():
    model = _model()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        est = model.encode(_images(2))
        syn = model.synthesize(est.appearance, est.q, est.depth, est.scale, _images(2, seed=4))
    for value in (est.pose_canon_mm, est.q, est.depth, syn.image, syn.seg_probs, syn.part_maps[-1]):
        assert value.dtype == torch.float32 and torch.isfinite(value).all()
    torch.testing.assert_close(bone_lengths(est.pose_cam_mm), default_bone_lengths().expand(2, 17), atol=1e-2, rtol=0)


def test_config_errors():
    with pytest.raises(ValueError, match="resolution"):
        ModelConfig(resolution=32)
    with pytest.raises(ValueError, match="no_fk_camera"):
        ModelConfig(encoder=EncoderConfig(regress_joints=True))
    with pytest.raises(ValueError, match="bone_lengths_mm"):
        ModelConfig(bone_lengths_mm=(100.0,) * 16)
    with pytest.raises(ValueError, match="bone_lengths_mm"):
        ModelConfig(bone_lengths_mm=(0.0,) * 17)
    assert ModelConfig(no_fk_camera=True).encoder.regress_joints


def test_initial_segmentation_follows_the_puppet():
    model = _model(encoder=dict(head_init_gain=0.0))
    est = model.encode(_images(2))
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale)
    labels = puppet.labels(syn.part_maps[-1])
    agreement = (syn.seg_logits.argmax(1) == labels).float().mean()
    assert agreement > 0.9
    assert (labels > 0).any()  # the person is drawn



def test_facing_channels_receive_the_front_weight_of_the_drawn_pose():
    from partpose.geometry.facing import front_weight

    model = _model(encoder=dict(head_init_gain=0.0), decoder=dict(facing_channels=True))
    est = model.encode(_images(2))
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale)
    torch.testing.assert_close(syn.front, front_weight(est.q, est.depth, est.scale))
    assert syn.front.min() > 0.99  # the initial pose faces the camera
    assert _model().synthesize(est.appearance, est.q, est.depth, est.scale).front is None
    # away from the pole, the front weight passes a gradient to the encoder's camera rotation
    model = _model(encoder=dict(head_init_gain=2.0), decoder=dict(facing_channels=True))
    est = model.encode(_images(2))
    syn = model.synthesize(est.appearance, est.q, est.depth, est.scale)
    assert 0.01 < float(syn.front.detach().min()) and float(syn.front.detach().max()) < 0.99
    syn.front.sum().backward()
    assert model.encoder.rotation_head.weight.grad.abs().sum() > 0
