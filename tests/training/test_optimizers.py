import math

import pytest
import torch
from torch import nn

from partpose.training.optimizers import (
    LOSS_PARAMETERS,
    RelativeClip,
    apply_gradients,
    build_optimizers,
    clip_parts,
    label_lr_scales,
    network_part,
    parameter_groups,
    set_learning_rate,
)


class _TwoHalves(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(3, 2)
        self.decoder = nn.Linear(2, 3)


def _one_step(model: nn.Module, optimizers, name: str, lr: float) -> list[torch.Tensor]:
    """Parameters' displacement after one step of ``name``'s optimiser on a fixed gradient."""
    set_learning_rate(optimizers, lr)
    groups = parameter_groups(model)
    params_of = {n: groups[which] for n, which in LOSS_PARAMETERS.items()}
    before = [p.detach().clone() for p in params_of[name]]
    grads = {name: [torch.full_like(p, 0.5) for p in params_of[name]]}
    apply_gradients(grads, params_of, optimizers)
    return [p.detach() - b for p, b in zip(params_of[name], before)]


@pytest.mark.parametrize("kind", ["adam", "adagrad"])
def test_lr_scale_multiplies_that_losses_steps_only(kind):
    torch.manual_seed(0)
    model = _TwoHalves()
    optimizers = build_optimizers(model, 0.01, kind=kind, lr_scales={"pose2d": 4.0})
    # Adam's and Adagrad's first step on a constant gradient is lr * sign(g) (up to eps)
    scaled = _one_step(model, optimizers, "pose2d", 0.01)
    plain = _one_step(model, optimizers, "pose3d", 0.01)
    for s, p in zip(scaled, plain):
        assert torch.allclose(p, torch.full_like(p, -0.01), rtol=1e-4)
        assert torch.allclose(s, torch.full_like(s, -0.04), rtol=1e-4)
    assert optimizers["pose2d"].param_groups[0]["lr"] == pytest.approx(0.04)
    assert optimizers["image_unpaired"].param_groups[0]["lr"] == pytest.approx(0.01)


def test_lr_scale_survives_a_schedule_and_a_resume():
    model = _TwoHalves()
    optimizers = build_optimizers(model, 1e-3, kind="adam", lr_scales={"pose3d": 2.5})
    set_learning_rate(optimizers, 2e-3)
    assert optimizers["pose3d"].param_groups[0]["lr"] == pytest.approx(5e-3)
    resumed = build_optimizers(_TwoHalves(), 1e-3, kind="adam")  # built without the scale
    for name, optimizer in resumed.items():
        optimizer.load_state_dict(optimizers[name].state_dict())
    set_learning_rate(resumed, 1e-3)
    assert resumed["pose3d"].param_groups[0]["lr"] == pytest.approx(2.5e-3)
    assert resumed["pose2d"].param_groups[0]["lr"] == pytest.approx(1e-3)


def test_lr_scales_name_known_losses():
    with pytest.raises(ValueError, match="no optimiser for loss"):
        build_optimizers(_TwoHalves(), 1e-3, lr_scales={"pose_2d": 2.0})


def test_label_lr_scales_reach_the_labels_beside_the_method_only():
    assert label_lr_scales("weak", 3.0) == {"pose2d": 3.0, "pose3d": 3.0}
    assert label_lr_scales("semi", 3.0) == {"pose2d": 3.0, "pose3d": 3.0}
    for setting in ("unsup", "supervised", "labels_2d"):
        assert label_lr_scales(setting, 3.0) == {}


def test_the_side_network_has_an_optimiser_of_its_own_and_no_side_network_none():
    model = _TwoHalves()
    assert "side" not in build_optimizers(model, 1e-3)
    model.side = nn.Linear(4, 1)
    optimizers = build_optimizers(model, 1e-3)
    assert [p for group in optimizers["side"].param_groups for p in group["params"]] == list(model.side.parameters())
    others = {id(p) for name, o in optimizers.items() if name != "side" for g in o.param_groups for p in g["params"]}
    assert not others & {id(p) for p in model.side.parameters()}


@pytest.mark.parametrize("clip", [0.0, 1.0, 100.0])
def test_apply_gradients_reports_each_losses_norm_before_clipping_and_clips_to_it(clip):
    model = _TwoHalves()
    groups = parameter_groups(model)
    params_of = {n: groups[which] for n, which in LOSS_PARAMETERS.items()}
    optimizers = build_optimizers(model, 0.1, kind="adagrad")  # a step proportional to g / |g| per weight
    grads = {name: [torch.full_like(p, 3.0) for p in params_of[name]] for name in ("pose3d", "image_unpaired")}
    sizes = {name: sum(p.numel() for p in params_of[name]) for name in grads}
    seen: dict[str, list[torch.Tensor]] = {}
    for name in grads:  # record what each optimiser is handed
        optimizers[name].register_step_pre_hook(lambda opt, *_, name=name: seen.__setitem__(
            name, [p.grad.clone() for g in opt.param_groups for p in g["params"]]))
    norms = apply_gradients(grads, params_of, optimizers, grad_clip=clip)
    assert set(norms) == set(grads)
    for name, size in sizes.items():
        by_hand = 3.0 * size ** 0.5  # |(3, 3, ..., 3)| over all of the loss's weights
        assert float(norms[name]) == pytest.approx(by_hand)
        handed = torch.cat([g.reshape(-1) for g in seen[name]])
        expected = by_hand if clip == 0 or clip > by_hand else clip
        assert float(torch.linalg.vector_norm(handed)) == pytest.approx(expected, rel=1e-5)


def test_relative_clip_limits_to_a_multiple_of_the_average_of_the_clipped_norms():
    clip = RelativeClip(factor=3.0, decay=0.5)
    norms = [2.0, 4.0, 100.0, 1.0]
    limits = [float(clip.limit("side", torch.tensor(n))) for n in norms]
    # by hand: the first norm starts the average (2) and is not limited; then 3 x the average,
    # the average taking each norm as clipped: 2 -> (2 + 4) / 2 = 3 -> (3 + min(100, 9)) / 2 = 6
    assert limits == [math.inf, 6.0, 9.0, 18.0]
    assert clip.state_dict() == {"side": pytest.approx((6.0 + 1.0) / 2)}
    other = RelativeClip(3.0, 0.5)
    other.load_state_dict(clip.state_dict())
    assert float(other.limit("side", torch.tensor(1.0))) == pytest.approx(3 * 3.5)
    assert float(other.limit("image_unpaired", torch.tensor(5.0))) == math.inf  # each loss its own average
    with pytest.raises(ValueError, match="factor must be > 1"):
        RelativeClip(1.0)


def test_apply_gradients_with_a_relative_clip_cuts_a_spike_to_the_losses_own_scale():
    model = _TwoHalves()
    groups = parameter_groups(model)
    params_of = {n: groups[which] for n, which in LOSS_PARAMETERS.items()}
    optimizers = build_optimizers(model, 0.1, kind="adagrad")
    clip = RelativeClip(factor=2.0, decay=0.9)
    handed = []
    optimizers["pose3d"].register_step_pre_hook(lambda opt, *_: handed.append(
        float(torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for g in opt.param_groups for p in g["params"]])))))
    size = sum(p.numel() for p in params_of["pose3d"])
    for value in (1.0, 1.0, 50.0):  # two ordinary steps, then a spike fifty times their size
        grads = {"pose3d": [torch.full_like(p, value) for p in params_of["pose3d"]]}
        norms = apply_gradients(grads, params_of, optimizers, relative_clip=clip)
        assert float(norms["pose3d"]) == pytest.approx(value * size ** 0.5)
    assert handed[:2] == pytest.approx([size ** 0.5] * 2)
    assert handed[2] == pytest.approx(2.0 * size ** 0.5)  # twice the average of the first two
    # with a fixed clip as well, the lower of the two limits
    apply_gradients({"pose3d": [torch.full_like(p, 50.0) for p in params_of["pose3d"]]}, params_of, optimizers,
                    grad_clip=0.5, relative_clip=clip)
    assert handed[3] == pytest.approx(0.5)


def test_a_relative_clip_whose_average_is_zero_starts_over_with_the_next_norm():
    clip = RelativeClip(factor=3.0, decay=0.5)
    # a part a loss has not reached yet: zero norms leave no average to clip by, and the first
    # norm above zero starts it, unclipped, rather than being held at 0 ever after
    limits = [float(clip.limit("image_unpaired/pose", torch.tensor(n))) for n in (0.0, 0.0, 5.0, 4.0, 100.0)]
    assert limits == [math.inf, math.inf, math.inf, 15.0, 3 * (5.0 + 4.0) / 2]


def test_network_part_names_the_pose_path_the_appearance_path_the_decoder_and_the_side():
    from partpose.models.partpose_model import ModelConfig, PartPoseModel

    model = PartPoseModel(ModelConfig(side_network=True))
    parts = {network_part(name) for name, _ in model.named_parameters()}
    assert parts == {"pose", "appearance", "decoder", "side"}
    assert network_part("encoder.appearance_head.weight") == "appearance"
    assert network_part("encoder.pose_mlp.0.weight") == network_part("encoder.stem.0.weight") == "pose"
    with pytest.raises(ValueError, match="no part of the network"):
        network_part("bone_lengths_mm")


class _Parts(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.pose_head = nn.Linear(2, 2)
        self.encoder.appearance_head = nn.Linear(2, 1)
        self.decoder = nn.Linear(2, 3)


def test_a_relative_clip_by_part_clips_a_spike_on_one_part_and_leaves_the_others_as_they_are():
    model = _Parts()
    groups = parameter_groups(model)
    params_of = {n: groups[which] for n, which in LOSS_PARAMETERS.items()}
    parts = clip_parts(model, params_of)
    assert parts["image_unpaired"] == ["pose"] * 2 + ["appearance"] * 2 + ["decoder"] * 2
    optimizers = build_optimizers(model, 0.1, kind="adagrad")
    clip = RelativeClip(factor=2.0, decay=0.9)
    handed = []
    optimizers["image_unpaired"].register_step_pre_hook(lambda opt, *_: handed.append(
        [p.grad.clone() for g in opt.param_groups for p in g["params"]]))
    params = params_of["image_unpaired"]
    for spike in (1.0, 1.0, 50.0):  # the decoder's share spikes on the third step; the pose's does not
        grads = {"image_unpaired": [torch.full_like(p, spike if part == "decoder" else 1.0)
                                    for p, part in zip(params, parts["image_unpaired"])]}
        apply_gradients(grads, params_of, optimizers, relative_clip=clip, parts=parts)
    for g, part in zip(handed[2], parts["image_unpaired"]):
        if part == "decoder":  # cut to twice its own average norm |(1, ..., 1)|: every 50 becomes a 2
            assert g.flatten().tolist() == pytest.approx([2.0] * g.numel())
        else:  # as it was: the decoder's spike no longer scales it down
            assert torch.equal(g, torch.ones_like(g))
    assert set(clip.state_dict()) == {"image_unpaired/pose", "image_unpaired/appearance", "image_unpaired/decoder"}
    # the same spike clipped by the loss's whole norm scales the pose's share down with the decoder's
    whole = RelativeClip(factor=2.0, decay=0.9)
    handed.clear()
    for spike in (1.0, 1.0, 50.0):
        grads = {"image_unpaired": [torch.full_like(p, spike if part == "decoder" else 1.0)
                                    for p, part in zip(params, parts["image_unpaired"])]}
        apply_gradients(grads, params_of, optimizers, relative_clip=whole)
    pose = [g for g, part in zip(handed[2], parts["image_unpaired"]) if part == "pose"]
    assert all(float(g.abs().max()) < 0.1 for g in pose)
