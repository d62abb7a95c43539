"""Energies L_pz and L_as: hand values, and which parameters get gradients in Algorithm 1."""

import math

import pytest
import torch

from partpose.geometry import camera
from partpose.geometry.skeleton import default_bone_lengths
from partpose.losses.energy import appearance_energy, pose_energy, rotation_angle
from partpose.models.decoder import DecoderConfig
from partpose.models.encoder import EncoderConfig, rest_pose_canon_mm
from partpose.models.partpose_model import ModelConfig, PartPoseModel
from rotations import turn


def test_pose_energy_hand_value_in_metres():
    p_z = torch.zeros(2, 17, 3)
    p_hat = torch.zeros(2, 17, 3)
    p_hat[0, 5, 1] = 170.0
    p_hat[1, 0, 2] = -34.0
    # (170 + 34) mm over 2 * 51 coordinates = 2 mm = 0.002 m
    assert pose_energy(p_z, p_hat).item() == pytest.approx(0.002, abs=1e-9)


def test_appearance_energy_hand_value():
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    a_hat = torch.tensor([[0.0, 4.0], [0.5, 0.0]])
    assert appearance_energy(a, a_hat).item() == pytest.approx((1 + 2 + 0.5) / 4, abs=1e-9)


def test_rotation_angle_reads_back_known_turns():
    base = turn(0, 30.0) @ turn(2, -50.0)
    for axis, degrees in ((0, 0.0), (1, 25.0), (2, 90.0), (0, 170.0)):
        turned = turn(axis, degrees) @ base
        angle = rotation_angle(turned[None], base[None])
        assert math.degrees(float(angle)) == pytest.approx(degrees, abs=0.2)  # the clamp costs < 0.1° at 0°
    # finite gradients at the two ends, where the arc cosine's derivative is infinite
    for degrees in (0.0, 180.0):
        turned = (turn(1, degrees) @ base).requires_grad_(True)
        rotation_angle(turned[None], base[None]).sum().backward()
        assert torch.isfinite(turned.grad).all()


def test_gradients_flow_into_both_arguments():
    a = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(appearance_energy, (a, b))
    p = torch.randn(2, 17, 3, dtype=torch.float64, requires_grad=True)
    q = torch.randn(2, 17, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: pose_energy(x * 100, y * 100), (p, q))


def test_bad_inputs():
    with pytest.raises(ValueError, match="p_hat"):
        pose_energy(torch.zeros(2, 17, 3), torch.zeros(2, 16, 3))
    with pytest.raises(ValueError, match="a_hat"):
        appearance_energy(torch.zeros(2, 4), torch.zeros(2, 5))


def _tiny_model():
    torch.manual_seed(0)
    encoder = EncoderConfig(stem_channels=8, widths=(8, 16, 16), head_hidden=16, appearance_dim=6)
    decoder = DecoderConfig(resolution=32, widths=(16, 16, 8, 8))
    return PartPoseModel(ModelConfig(encoder=encoder, decoder=decoder, resolution=32))


def _energies(model):
    g = torch.Generator().manual_seed(1)
    image_s = torch.rand(2, 3, 32, 32, generator=g)
    background = torch.rand(2, 3, 32, 32, generator=g)
    est_s = model.encode(image_s)
    p_z = (rest_pose_canon_mm() * 0.95).expand(2, 17, 3)
    cam_R_z = camera.view_rotation(torch.tensor([0.3, 2.0]), torch.tensor([0.0, 0.2]))
    q_z, depth_z = model.pose_for_prior(p_z, cam_R_z, est_s.scale.detach(), est_s.offset.detach())
    synth = model.synthesize(est_s.appearance, q_z, depth_z, est_s.scale.detach(), background)
    est_z = model.encode(synth.image)
    return pose_energy(p_z, est_z.pose_canon_mm) + appearance_energy(est_s.appearance, est_z.appearance)


def test_energy_on_a_frozen_decoder_updates_only_the_encoder():
    model = _tiny_model()
    model.decoder.requires_grad_(False)
    _energies(model).backward()
    assert all(p.grad is None for p in model.decoder.parameters())
    enc = model.encoder
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in enc.parameters())
    # the trunk and the heads that the energies read (canonical pose, appearance) are trained;
    # the camera heads are not (the canonical pose does not depend on them)
    for module in (enc.stem[0], enc.local_vectors_head, enc.hip_angle_head, enc.appearance_head):
        assert module.weight.grad is not None and module.weight.grad.abs().sum() > 0
    assert enc.rotation_head.weight.grad is None


def test_energy_on_a_frozen_encoder_updates_only_the_decoder():
    model = _tiny_model()
    model.encoder.requires_grad_(False)
    _energies(model).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    grads = [p.grad for p in model.decoder.parameters()]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads if g is not None) > 0
    assert default_bone_lengths().shape == model.bone_lengths_mm.shape
