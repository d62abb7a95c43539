"""Algorithm 1 on a tiny model: which losses run when, and which parameters they touch."""

import math
from dataclasses import replace

import pytest
import torch

from partpose.training.algorithm import training_losses
from partpose.training.data_setup import build_training_data
from partpose.training.optimizers import (
    LOSS_PARAMETERS,
    apply_gradients,
    build_optimizers,
    compute_gradients,
    parameter_groups,
)
from partpose.training.sampling import step_generator
from partpose.training.trainer import build_model
from torch.utils.data import default_collate


@pytest.fixture
def setup(tiny_config):
    config = tiny_config()
    data = build_training_data(config)
    config, model = build_model(config, data)
    batch = default_collate([data.pairs[i] for i in range(2)])
    prior, up = data.prior.sample(2, step_generator(0, 0), with_up=True)
    return config, model, batch, prior, up


def _snapshot(params):
    return [p.detach().clone() for p in params]


def test_losses_present_per_iteration(setup):
    config, model, batch, prior, up = setup
    odd = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    even = training_losses(model, batch, prior, 1, 1.0, config.objective, step_generator(0, 1), prior_up=up)
    consistency = {"image_unpaired", "image_consistency", "segmentation"}
    assert set(odd.losses) == consistency | {"energy_pose_encoder", "energy_appearance_encoder"}
    assert set(even.losses) == consistency | {"energy_pose_decoder", "energy_appearance_decoder"}


def test_energy_decoder_off_leaves_d_out_of_the_energies_and_e_in(setup):
    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_decoder=False)
    consistency = {"image_unpaired", "image_consistency", "segmentation"}
    odd = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    even = training_losses(model, batch, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    assert set(odd.losses) == consistency | {"energy_pose_encoder", "energy_appearance_encoder"}
    assert set(even.losses) == consistency
    # E's half is the very loss it is with D in the energies
    both = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    assert torch.equal(odd.losses["energy_pose_encoder"], both.losses["energy_pose_encoder"])


@pytest.mark.parametrize("step, frozen", [(0, "decoder"), (1, "encoder")])
def test_energy_step_leaves_the_frozen_half_untouched(setup, step, frozen):
    config, model, batch, prior, up = setup
    optimizers = build_optimizers(model, 1e-3)
    groups = parameter_groups(model)
    params_of = {name: groups[which] for name, which in LOSS_PARAMETERS.items()}
    out = training_losses(model, batch, prior, step, 1.0, config.objective, step_generator(0, step), prior_up=up)
    energies = {k: v for k, v in out.losses.items() if k.startswith("energy")}
    trained = "encoder" if frozen == "decoder" else "decoder"
    before_frozen, before_trained = _snapshot(groups[frozen]), _snapshot(groups[trained])
    grads = compute_gradients(energies, params_of)
    apply_gradients(grads, params_of, optimizers)
    assert all(torch.equal(a, p) for a, p in zip(before_frozen, groups[frozen])), f"{frozen} weights moved"
    assert any(not torch.equal(a, p) for a, p in zip(before_trained, groups[trained])), f"{trained} did not move"
    for name in (f"energy_pose_{frozen}", f"energy_appearance_{frozen}"):
        assert all(
            float(state["step"]) == 0 and float(state["sum"].abs().sum()) == 0
            for state in optimizers[name].state.values()
        ), f"{name} Adagrad state changed"
    # undo, so the module-scoped model stays as it was for other tests
    with torch.no_grad():
        for p, a in zip(groups[trained], before_trained):
            p.copy_(a)


def test_each_optimiser_sees_only_its_own_loss(setup):
    """Stepping with per-loss gradients equals stepping each loss's Adagrad on that loss alone."""
    config, model, batch, prior, up = setup
    groups = parameter_groups(model)
    params_of = {name: groups[which] for name, which in LOSS_PARAMETERS.items()}
    out = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    losses = {k: out.losses[k] for k in ("image_unpaired", "segmentation")}
    seg_alone = torch.autograd.grad(out.losses["segmentation"], params_of["segmentation"], retain_graph=True,
                                    allow_unused=True)
    grads = compute_gradients(losses, params_of)
    for g, ref in zip(grads["segmentation"], seg_alone):
        expected = torch.zeros_like(g) if ref is None else ref
        assert torch.allclose(g, expected), float((g - expected).abs().max())


def test_supervised_setting_trains_only_the_encoder(setup):
    config, model, batch, prior, up = setup
    from dataclasses import replace

    objective = replace(config.objective, setting="supervised")
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    assert set(out.losses) == {"pose3d", "pose2d"}
    assert all(LOSS_PARAMETERS[k] == "encoder" for k in out.losses)
    # labels_2d: the 2D term alone, the same value as the supervised setting's and weak's
    only_2d = training_losses(model, batch, prior, 0, 1.0, replace(objective, setting="labels_2d"),
                              step_generator(0, 0), prior_up=up)
    weak = training_losses(model, batch, prior, 0, 1.0, replace(objective, setting="weak"),
                           step_generator(0, 0), prior_up=up)
    assert set(only_2d.losses) == {"pose2d"}
    torch.testing.assert_close(only_2d.losses["pose2d"], out.losses["pose2d"])
    torch.testing.assert_close(only_2d.losses["pose2d"], weak.losses["pose2d"])


@pytest.mark.parametrize("appearance_grad", [True, False])
def test_prior_appearance_grad_decides_whether_terms_on_p_z_reach_the_real_frames_codes(setup, appearance_grad):
    """L_I^c on p_z moves the appearance head (through a_s and a_t) only when the option is on."""
    config, model, batch, prior, up = setup
    from dataclasses import replace

    objective = replace(config.objective, prior_appearance_grad=appearance_grad)
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    head = list(model.encoder.appearance_head.parameters())
    grads = torch.autograd.grad(out.losses["image_consistency"], head, allow_unused=True, retain_graph=True)
    norm = sum(float(g.abs().sum()) for g in grads if g is not None)
    assert (norm > 0) == appearance_grad
    decoder_grads = torch.autograd.grad(out.losses["image_consistency"] + out.losses["segmentation"],
                                        list(model.decoder.parameters()), allow_unused=True)
    assert sum(float(g.abs().sum()) for g in decoder_grads if g is not None) > 0


@pytest.mark.parametrize("pose_grad", [True, False])
def test_reconstruction_pose_grad_decides_whether_l_iu_moves_the_pose_heads(setup, pose_grad):
    """Off, L_I^u still trains D and the appearance head, and no longer reaches the pose heads."""
    config, model, batch, prior, up = setup
    from dataclasses import replace

    objective = replace(config.objective, reconstruction_pose_grad=pose_grad)
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    encoder = model.encoder
    parts = {"pose": [*encoder.local_vectors_head.parameters(), *encoder.rotation_head.parameters(),
                      *encoder.scale_head.parameters(), *encoder.offset_head.parameters()],
             "appearance": list(encoder.appearance_head.parameters()),
             "decoder": list(model.decoder.parameters())}
    norms = {}
    for name, params in parts.items():
        grads = torch.autograd.grad(out.losses["image_unpaired"], params, allow_unused=True, retain_graph=True)
        norms[name] = sum(float(g.abs().sum()) for g in grads if g is not None)
    assert (norms["pose"] > 0) == pose_grad
    assert norms["appearance"] > 0 and norms["decoder"] > 0
    # the same loss value either way: only where its gradient goes differs
    on = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    torch.testing.assert_close(out.losses["image_unpaired"], on.losses["image_unpaired"])


def test_without_appearance_consistency_there_is_no_l_ic_and_no_l_as(setup):
    config, model, batch, prior, up = setup
    from dataclasses import replace

    objective = replace(config.objective, appearance_consistency=False)
    odd = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    even = training_losses(model, batch, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    assert set(odd.losses) == {"image_unpaired", "segmentation", "energy_pose_encoder"}
    assert set(even.losses) == {"image_unpaired", "segmentation", "energy_pose_decoder"}


def test_silhouette_weight_adds_l_sil_to_l_iu(setup):
    config, model, batch, prior, up = setup
    from dataclasses import replace

    from partpose.losses.silhouette import skeleton_silhouette_loss

    plain = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    objective = replace(config.objective, silhouette_weight=2.0)
    with_sil = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    est = model.encode(batch["image_t"])
    expected = plain.losses["image_unpaired"] + 2.0 * skeleton_silhouette_loss(est.q, est.scale, batch["saliency_t"])
    assert float(with_sil.losses["image_unpaired"].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert with_sil.scalars["loss/silhouette"] > 0
    assert "loss/silhouette" not in plain.scalars
    ablation = replace(objective, no_saliency=True)
    without = training_losses(model, batch, prior, 0, 0.0, ablation, step_generator(0, 0), prior_up=up)
    assert "loss/silhouette" not in without.scalars  # the ablation has no m_sal, so no L_sil



@pytest.mark.parametrize("margin", [0.0, 0.01, 0.5])
def test_twin_choice_adds_l_twin_on_the_frames_whose_twin_reconstructs_better(setup, margin):
    config, model, batch, prior, up = setup
    from dataclasses import replace

    from partpose.geometry.facing import depth_twin
    from partpose.losses.image import image_unpaired_loss
    from partpose.losses.twin import twin_choice_loss, twin_targets

    plain = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    objective = replace(config.objective, twin_choice_weight=3.0, twin_choice_margin=margin)
    with_twin = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    assert "twin_chosen_fraction" not in plain.scalars
    # the slow way: draw pose and twin, compare their L_I^u frame by frame
    est_s, est_t = model.encode(batch["image_s"]), model.encode(batch["image_t"])
    drawn = [model.synthesize(est_s.appearance, q, d, est_t.scale, batch["background"])
             for q, d in ((est_t.q, est_t.depth), depth_twin(est_t.q, est_t.depth))]
    per_frame = [
        [float(image_unpaired_loss(s.image[i:i + 1], batch["image_t"][i:i + 1], batch["background"][i:i + 1],
                                   1.0 - s.seg_probs[i:i + 1, :1], batch["saliency_t"][i:i + 1], 1.0,
                                   batch["background_valid"][i:i + 1]).detach()) for i in range(2)]
        for s in drawn
    ]
    chosen = torch.tensor([twin < (1.0 - margin) * pose for pose, twin in zip(*per_frame)])
    expected = twin_choice_loss(est_t.pose_canon_mm, est_t.cam_R_canon, *twin_targets(est_t.pose_cam_mm), chosen)
    assert with_twin.scalars["twin_chosen_fraction"] == pytest.approx(float(chosen.float().mean()))
    assert with_twin.scalars["loss/twin_choice"] == pytest.approx(float(expected.detach()), rel=1e-5, abs=1e-9)
    total = plain.losses["image_unpaired"] + 3.0 * expected
    assert float(with_twin.losses["image_unpaired"].detach()) == pytest.approx(float(total.detach()), rel=1e-5)


def _with_l_iu_plus(setup, batch, extra: torch.Tensor, **changes):
    """One step with ``changes`` to the objective: asserts that its L_I^u is the plain step's plus
    ``extra`` (the same draws), and returns the step's output."""
    from dataclasses import replace

    config, model, _, prior, up = setup
    plain = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    out = training_losses(model, batch, prior, 0, 1.0, replace(config.objective, **changes), step_generator(0, 0), prior_up=up)
    total = plain.losses["image_unpaired"] + extra
    assert float(out.losses["image_unpaired"].detach()) == pytest.approx(float(total.detach()), rel=1e-5)
    return out


def test_the_lean_rule_turns_the_frames_whose_chest_leans_away(setup):
    _, model, batch, _, _ = setup
    from partpose.geometry.skeleton import H36M17
    from partpose.losses.twin import twin_choice_loss, twin_targets

    # the slow way: frame by frame, the thorax's depth against the pelvis's
    est_t = model.encode(batch["image_t"])
    thorax = H36M17.names.index("thorax")
    chosen = torch.tensor([bool(p[thorax, 2] > p[0, 2]) for p in est_t.pose_cam_mm])
    expected = twin_choice_loss(est_t.pose_canon_mm, est_t.cam_R_canon, *twin_targets(est_t.pose_cam_mm), chosen)
    with_twin = _with_l_iu_plus(setup, batch, 2.0 * expected, twin_choice_weight=2.0, twin_choice_rule="lean",
                                twin_choice_lean_mm=0.0)
    assert with_twin.scalars["twin_chosen_fraction"] == pytest.approx(float(chosen.float().mean()))


def test_the_travel_rule_turns_the_frames_that_show_another_side_than_their_travel(setup):
    _, model, batch, _, _ = setup
    from partpose.geometry.facing import faces_camera
    from partpose.losses.twin import twin_choice_loss, twin_targets

    est_t = model.encode(batch["image_t"])
    shown = faces_camera(est_t.pose_cam_mm)
    # one frame labelled with the side it shows, one with the other; then neither labelled
    for label, expected_chosen in (([float(shown[0]), 1.0 - float(shown[1])], [False, True]),
                                   ([float("nan"), float("nan")], [False, False])):
        chosen = torch.tensor(expected_chosen)
        expected = twin_choice_loss(est_t.pose_canon_mm, est_t.cam_R_canon, *twin_targets(est_t.pose_cam_mm), chosen)
        with_twin = _with_l_iu_plus(setup, dict(batch, travel_front=torch.tensor(label)), 2.0 * expected,
                                    twin_choice_weight=2.0, twin_choice_rule="travel")
        assert with_twin.scalars["twin_chosen_fraction"] == pytest.approx(float(chosen.float().mean()))


def test_l_travel_scores_the_front_weight_against_the_travel(setup):
    _, model, batch, _, _ = setup
    from partpose.geometry.facing import front_weight
    from partpose.losses.travel import travel_facing_loss

    labelled = dict(batch, travel_front=torch.tensor([1.0, float("nan")]))
    est_t = model.encode(batch["image_t"])
    expected = travel_facing_loss(front_weight(est_t.q, est_t.depth, est_t.scale), labelled["travel_front"])
    with_travel = _with_l_iu_plus(setup, labelled, 0.5 * expected, travel_facing_weight=0.5)
    assert with_travel.scalars["loss/travel_facing"] == pytest.approx(float(expected.detach()), rel=1e-5)


def _side_step(setup, side_networks: int = 1, **objective_changes):
    """A model with ``side_networks`` side networks (seed 0), the batch labelled by travel on its
    first video alone, one step's losses with ``objective_changes``, and the side networks' mean
    logits of I_s then I_t: ``(model, labelled batch, objective, output, logits)``."""
    from dataclasses import replace

    from partpose.models.partpose_model import PartPoseModel

    config, _, batch, prior, up = setup
    torch.manual_seed(0)
    model = PartPoseModel(replace(config.model, side_network=True, side_networks=side_networks))
    travel = torch.tensor([1.0, float("nan")])
    labelled = dict(batch, travel_front=travel, side_front_s=travel, side_front_t=travel)
    objective = replace(config.objective, **objective_changes)
    out = training_losses(model, labelled, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    logits = model.side(torch.cat((batch["image_s"], batch["image_t"])))
    return model, labelled, objective, out, logits


def test_the_side_network_is_taught_the_travel_on_both_frames(setup):
    config, _, batch, prior, up = setup
    from partpose.losses.travel import travel_side_loss

    model, labelled, objective, out, logits = _side_step(setup, side_weight=0.5)
    expected = 0.5 * travel_side_loss(logits, torch.tensor([1.0, float("nan"), 1.0, float("nan")]))
    assert float(out.losses["side"].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert out.scalars["side_agrees_with_travel"] == pytest.approx(float((logits[[0, 2]] > 0).float().mean()))
    plain = training_losses(model, labelled, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    assert "side" not in plain.losses
    # the oracle's labels (objective.side_label=truth) come frame by frame, I_s's then I_t's
    oracle = dict(labelled, side_front_s=torch.tensor([0.0, 1.0]), side_front_t=torch.tensor([1.0, float("nan")]))
    out = training_losses(model, oracle, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    expected = 0.5 * travel_side_loss(logits, torch.tensor([0.0, 1.0, 1.0, float("nan")]))
    assert float(out.losses["side"].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_prior_side_weight_teaches_the_side_network_the_side_each_drawing_shows(setup):
    """On an encoder step of the energies the side loss gains the weight times the side network's
    cross-entropy on the images E reads, against the side each p_z shows the camera (worked out by
    hand); on a decoder step it is the travel's alone."""
    from partpose.geometry import facing
    from partpose.losses.travel import travel_side_loss

    config, _, batch, prior, up = setup
    model, labelled, objective, out, _ = _side_step(setup, side_weight=0.5, prior_side_weight=2.0)
    _, _, _, travel_only, _ = _side_step(setup, side_weight=0.5)
    drawn = {}
    with torch.no_grad():
        cam_R_z, _, est = _redrawn((config, model, batch, prior, up), lambda d: drawn.setdefault("image", d.image))
        logits = model.side(drawn["image"], est.q).float()
        front = facing.shows_front(prior @ cam_R_z.transpose(1, 2), (cam_R_z @ up[..., None])[..., 0],
                                   model.config.side_definition).float()
    expected = travel_only.losses["side"].detach() + 2.0 * travel_side_loss(logits, front)
    torch.testing.assert_close(out.losses["side"].detach(), expected)
    assert out.scalars["loss/prior_side"] == pytest.approx(float(travel_side_loss(logits, front)), rel=1e-5)
    even = training_losses(model, labelled, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    travel_even = training_losses(model, labelled, prior, 1, 1.0, replace(objective, prior_side_weight=0.0),
                                  step_generator(0, 1), prior_up=up)
    torch.testing.assert_close(even.losses["side"].detach(), travel_even.losses["side"].detach())


def test_the_side_network_is_taught_to_read_a_pairs_frames_alike(setup):
    _, _, _, prior, up = setup
    from dataclasses import replace

    from partpose.losses.travel import side_consistency_loss, travel_side_loss

    model, labelled, objective, out, logits = _side_step(setup, side_weight=0.5, side_consistency_weight=2.0)
    consistency = side_consistency_loss(logits[:2], logits[2:])
    expected = 0.5 * travel_side_loss(logits, labelled["side_front_s"].repeat(2)) + 2.0 * consistency
    assert float(consistency.detach()) > 0
    assert float(out.losses["side"].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    assert out.scalars["loss/side_consistency"] == pytest.approx(float(consistency.detach()), rel=1e-5)
    plain = training_losses(model, labelled, prior, 0, 1.0, replace(objective, side_consistency_weight=0.0),
                            step_generator(0, 0), prior_up=up)
    assert "loss/side_consistency" not in plain.scalars


def test_several_side_networks_are_each_taught_the_labels_on_their_own(setup):
    """model.side_networks=3: the side loss is the mean of each network's own losses (travel,
    consistency and the drawings' side, worked out network by network), not the loss of their mean
    logits; the agreement with the travel is the mean logits'; each network's gradient is a third
    of what its own loss alone gives it."""
    from partpose.geometry import facing
    from partpose.losses.travel import side_consistency_loss, travel_side_loss

    config, _, batch, prior, up = setup
    weights = dict(side_weight=0.5, side_consistency_weight=2.0, prior_side_weight=1.5)
    model, labelled, objective, out, mean_logits = _side_step(setup, side_networks=3, **weights)
    members = list(model.side.members)
    assert len(members) == 3
    images = torch.cat((batch["image_s"], batch["image_t"]))
    labels = labelled["side_front_s"].repeat(2)
    drawn = {}
    with torch.no_grad():
        cam_R_z, _, est = _redrawn((config, model, batch, prior, up), lambda d: drawn.setdefault("image", d.image))
        front = facing.shows_front(prior @ cam_R_z.transpose(1, 2), (cam_R_z @ up[..., None])[..., 0],
                                   model.config.side_definition).float()

    def own_loss(member):
        logits = member(images)
        return (0.5 * travel_side_loss(logits, labels) + 2.0 * side_consistency_loss(logits[:2], logits[2:])
                + 1.5 * travel_side_loss(member(drawn["image"], est.q), front))

    expected = sum(own_loss(member) for member in members) / 3
    torch.testing.assert_close(out.losses["side"].detach(), expected.detach())
    on_the_mean = (0.5 * travel_side_loss(mean_logits, labels)
                   + 2.0 * side_consistency_loss(mean_logits[:2], mean_logits[2:])
                   + 1.5 * travel_side_loss(model.side(drawn["image"], est.q), front))
    assert abs(float(out.losses["side"].detach()) - float(on_the_mean.detach())) > 1e-4
    assert out.scalars["side_agrees_with_travel"] == pytest.approx(float((mean_logits[[0, 2]] > 0).float().mean()))
    # the gradient each network's head takes: a third of its own loss's
    out.losses["side"].backward(inputs=[members[1].head.weight])
    together = members[1].head.weight.grad.clone()
    members[1].head.weight.grad = None
    own_loss(members[1]).backward(inputs=[members[1].head.weight])
    torch.testing.assert_close(together, members[1].head.weight.grad / 3)


def test_side_bags_teach_each_network_the_labels_of_its_own_videos(setup):
    """objective.side_bag_fraction=0.5: network m's label loss is over the frames of the videos in
    its bag alone, divided by the fraction, worked out network by network; a video in no bag
    teaches no network its label."""
    from partpose.losses.travel import travel_side_loss
    from partpose.training.side_bags import side_bags

    config, _, batch, prior, up = setup
    # two videos whose bags differ: the first in network 0's alone, the second in networks 1 and 2
    candidates = torch.arange(200)
    bags = side_bags(candidates, 3, 0.5)

    def video_in(pattern):
        return int(candidates[(bags == torch.tensor(pattern)[:, None]).all(dim=0)][0])

    first, second = video_in([True, False, False]), video_in([False, True, True])
    model = _side_step(setup, side_networks=3, side_weight=0.5)[0]
    labels = torch.tensor([1.0, 0.0])
    labelled = dict(batch, travel_front=labels, side_front_s=labels, side_front_t=labels,
                    video_index=torch.tensor([first, second]))
    images = torch.cat((batch["image_s"], batch["image_t"]))
    nan = float("nan")
    own_labels = [torch.tensor([1.0, nan, 1.0, nan]), torch.tensor([nan, 0.0, nan, 0.0]),
                  torch.tensor([nan, 0.0, nan, 0.0])]
    objective = replace(config.objective, side_weight=0.5, side_bag_fraction=0.5)
    out = training_losses(model, labelled, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    expected = sum(0.5 * travel_side_loss(member(images), own) / 0.5
                   for member, own in zip(model.side.members, own_labels)) / 3
    torch.testing.assert_close(out.losses["side"].detach(), expected.detach())
    everything = sum(0.5 * travel_side_loss(member(images), labels.repeat(2)) for member in model.side.members) / 3
    assert abs(float(out.losses["side"].detach()) - float(everything.detach())) > 1e-4
    # a video in no network's bag is no network's label
    nowhere = int(candidates[(~bags).all(0)][0])
    alone = dict(labelled, video_index=torch.tensor([nowhere, nowhere]))
    out = training_losses(model, alone, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    assert float(out.losses["side"].detach()) == 0.0


def test_the_side_network_is_taught_no_label_where_e_reads_the_body_lying(setup):
    config, _, batch, prior, up = setup
    from dataclasses import replace

    from partpose.geometry.facing import camera_up, spine_tilt_deg
    from partpose.losses.travel import travel_side_loss
    from partpose.models.partpose_model import PartPoseModel

    torch.manual_seed(0)
    model = PartPoseModel(replace(config.model, side_network=True, side_camera_elevation_deg=10.0))
    labels = torch.tensor([1.0, 0.0])
    ups = torch.stack((camera_up(25.0).float(), torch.full((3,), float("nan"))))  # the second: the model's pitch
    labelled = dict(batch, travel_front=labels, side_front_s=labels, side_front_t=labels, camera_up_s=ups,
                    camera_up_t=ups)
    with torch.no_grad():  # by hand: each frame's spine against its world's up
        poses = torch.cat([model.encode(batch[key]).pose_cam_mm for key in ("image_s", "image_t")])
        tilt = spine_tilt_deg(poses, torch.cat((ups, ups)).nan_to_num(0.0) + torch.stack(
            [torch.zeros(3), camera_up(10.0).float(), torch.zeros(3), camera_up(10.0).float()]))
    threshold = float(tilt.median())
    logits = model.side(torch.cat((batch["image_s"], batch["image_t"])))
    everything = torch.cat((labels, labels))
    kept = torch.where(tilt <= threshold, everything, torch.full_like(everything, float("nan")))
    assert torch.isnan(kept).any() and torch.isfinite(kept).any()
    for max_tilt, expected_labels in ((threshold, kept), (180.0, everything)):
        objective = replace(config.objective, side_weight=1.0, side_max_tilt_deg=max_tilt)
        out = training_losses(model, labelled, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
        expected = travel_side_loss(logits, expected_labels)
        assert float(out.losses["side"].detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def _pose_energy(setup, frame):
    """The energy_pose_* loss of one step with ``objective.energy_frame=frame`` (the same draws)."""
    from dataclasses import replace

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame=frame)
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    return next(v for k, v in out.losses.items() if k.startswith("energy_pose_"))


def test_canonical_rotation_energy_adds_the_rotation_difference(setup):
    config, model, batch, prior, up = setup
    canonical, rotation = _pose_energy(setup, "canonical"), _pose_energy(setup, "canonical_rotation")
    difference = float((rotation - canonical).detach())
    # the same p_z, view and decoded image: only the mean |R_z - R̂| over 9 entries in [-1, 1] is added
    assert 0.0 < difference <= 2.0
    # the added term reaches the encoder's camera rotation
    model.zero_grad()
    (rotation - canonical).backward()
    assert model.encoder.rotation_head.weight.grad.abs().sum() > 0


@torch.no_grad()
def _redrawn(setup, read=None):
    """The first energy step's draw worked out again step by step: ``(cam_R_z, q_z, est)``, with
    ``est`` the encoder's reading of the unpaired pose drawn with I_s's appearance; ``read``, if
    given, makes the image E reads from the drawing (the decoder's ``Synthesis``)."""
    from partpose.geometry.camera import crop_framing
    from partpose.training.algorithm import prior_views

    config, model, batch, prior, up = setup
    cam_R_z = prior_views(config.objective, prior.shape[0], step_generator(0, 0), up)
    scale_z, offset_z = crop_framing(prior / 1000.0, cam_R_z, config.objective.prior_crop_fill)
    q_z, depth_z = model.pose_for_prior(prior, cam_R_z, scale_z, offset_z)
    appearance = model.encode(batch["image_s"]).appearance
    drawn = model.synthesize(appearance, q_z, depth_z, scale_z, batch["background"])
    return cam_R_z, q_z, model.encode(drawn.image if read is None else read(drawn))


def _rotation_energy_by_hand(canonical, cam_R, q, est):
    """``energy_frame=canonical_rotation``'s L_pz against a target pose, view and 2D joints."""
    from partpose.losses.energy import pose_energy

    return pose_energy(canonical, est.pose_canon_mm) + (cam_R - est.cam_R_canon).abs().mean() + (q - est.q).abs().mean()


def test_canonical_geodesic_energy_adds_the_angle_between_the_rotations(setup):
    from partpose.losses.energy import rotation_angle

    model = setup[1]
    canonical, geodesic = _pose_energy(setup, "canonical"), _pose_energy(setup, "canonical_geodesic")
    # the angle between R_z and the R̂ read back from the same drawing
    cam_R_z, _, est = _redrawn(setup)
    angle = rotation_angle(est.cam_R_canon, cam_R_z).mean()
    assert 0.0 < float(angle) <= math.pi
    assert float((geodesic - canonical).detach()) == pytest.approx(float(angle), rel=1e-4)
    model.zero_grad()
    (geodesic - canonical).backward()
    assert model.encoder.rotation_head.weight.grad.abs().sum() > 0


def test_canonical_camera_energy_is_the_canonical_and_camera_energies_with_one_2d_term(setup):
    canonical, camera, both = (_pose_energy(setup, frame) for frame in ("canonical", "camera", "canonical_camera"))
    # the 2D term |q_z - q̂_z| of the same draw
    _, q_z, est = _redrawn(setup)
    two_d = (q_z - est.q).abs().mean()
    assert float(two_d) > 0
    assert float(both.detach()) == pytest.approx(float((canonical + camera).detach() - two_d), rel=1e-4)


def test_view_up_world_draws_p_z_about_the_world_up(setup):
    config, model, batch, prior, up = setup
    from dataclasses import replace

    def drawn(view_up, up=None):
        objective = replace(config.objective, view_up=view_up)
        out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), True, up)
        return out.images["prior_pose_puppet"]

    upright = torch.tensor([[0.0, 0.0, 1.0]]).expand(2, 3)
    leaning = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), dim=-1)
    spine = drawn("spine", leaning)  # the spine's views ignore the up vectors
    assert torch.equal(spine, drawn("spine"))
    assert torch.equal(spine, drawn("world", upright))  # an upright body: the same views
    assert not torch.equal(spine, drawn("world", leaning))  # a leaning one is seen leaning
    with pytest.raises(ValueError, match="prior_up"):
        drawn("world")


@pytest.mark.parametrize("step", [0, 1])
def test_prior_draws_are_the_same_losses_as_the_pairs_repeated(setup, step):
    """k prior poses a pair: the losses of the batch with its k * B poses are those of the batch
    repeated k times with one pose a pair (pose i drawn with pair i % B either way)."""
    config, model, batch, _, _ = setup
    from dataclasses import replace

    from partpose.training.data_setup import build_training_data

    prior, up = build_training_data(config).prior.sample(6, step_generator(0, 7), with_up=True)
    model.eval()  # batch statistics of a repeated batch are the same, but keep the test about the losses
    drawn = training_losses(model, batch, prior, step, 1.0, replace(config.objective, prior_draws=3),
                            step_generator(0, step), prior_up=up)
    repeated = {k: (torch.cat([v] * 3) if isinstance(v, torch.Tensor) and v.dim() > 0 else v) for k, v in batch.items()}
    twin = training_losses(model, repeated, prior, step, 1.0, config.objective, step_generator(0, step), prior_up=up)
    model.train()
    assert set(drawn.losses) == set(twin.losses) and any(k.startswith("energy") for k in drawn.losses)
    for name in drawn.losses:
        torch.testing.assert_close(drawn.losses[name], twin.losses[name], msg=name)


def test_prior_draws_must_match_the_poses_given(setup):
    config, model, batch, prior, up = setup
    from dataclasses import replace

    with pytest.raises(ValueError, match="prior_draws"):
        training_losses(model, batch, prior, 0, 1.0, replace(config.objective, prior_draws=2), step_generator(0, 0),
                        prior_up=up)


def test_prior_mirror_reads_the_mirrored_drawings_against_the_mirrored_person(setup):
    """With every drawing mirrored the energy is worked out by hand: E reads the flipped drawing,
    against the mirrored person's canonical pose, camera and 2D joints."""
    from dataclasses import replace

    from partpose.geometry.mirror import mirror_image, mirror_joints, mirror_view

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_mirror=1.0)
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        cam_R_z, q_z, est = _redrawn(setup, lambda drawn: mirror_image(drawn.image))
        canon_m, R_m = mirror_view(prior, cam_R_z)
        by_hand = _rotation_energy_by_hand(canon_m, R_m, mirror_joints(q_z), est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    # none mirrored: another energy, that of the drawings as drawn
    plain = training_losses(model, batch, prior, 0, 1.0, replace(objective, prior_mirror=0.0), step_generator(0, 0),
                            prior_up=up)
    assert float(plain.losses["energy_pose_encoder"].detach()) != pytest.approx(float(by_hand), rel=1e-3)



def test_prior_parts_flat_reads_the_drawings_with_flat_parts(setup):
    """The energy worked out by hand: E reads the drawing with every puppet part flat in its
    mean colour, against the person as drawn."""
    from partpose.geometry import puppet

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_parts="flat")
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        cam_R_z, q_z, est = _redrawn(setup, lambda drawn: puppet.flat_parts(
            drawn.image, puppet.labels(drawn.part_maps[-1]), model.decoder.num_parts))
        by_hand = _rotation_energy_by_hand(prior, cam_R_z, q_z, est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    plain = training_losses(model, batch, prior, 0, 1.0, replace(objective, prior_parts="as_drawn"),
                            step_generator(0, 0), prior_up=up)
    assert float(plain.losses["energy_pose_encoder"].detach()) != pytest.approx(float(by_hand), rel=1e-4)


def test_true_puppet_pose_recovers_a_weak_perspective_projection_by_hand():
    from partpose.training.algorithm import true_puppet_pose

    generator = torch.Generator().manual_seed(3)
    pose = torch.randn(3, 17, 3, generator=generator, dtype=torch.float64) * 300.0 + torch.tensor([0.0, 0.0, 4000.0], dtype=torch.float64)
    scale = torch.tensor([0.8, 1.5, 2.0], dtype=torch.float64)
    offset = torch.tensor([[0.1, -0.2], [0.0, 0.0], [-0.3, 0.05]], dtype=torch.float64)
    root_relative = (pose - pose[:, :1]) / 1000.0
    q = scale[:, None, None] * root_relative[..., :2] + offset[:, None]
    q_out, depth, scale_out = true_puppet_pose(pose, q)
    assert torch.equal(q_out, q)
    torch.testing.assert_close(scale_out, scale)
    torch.testing.assert_close(depth, root_relative[..., 2])
    assert torch.all(depth[:, 0] == 0)


def test_reconstruction_pose_truth_draws_i_t_from_its_true_pose(tiny_config):
    from dataclasses import replace

    from partpose.losses.image import image_unpaired_loss
    from partpose.training.algorithm import true_puppet_pose

    config = tiny_config("objective.reconstruction_pose=truth")
    data = build_training_data(config)
    assert data.pairs.labels == "both"  # the oracle needs each frame's true pose
    config, model = build_model(config, data)
    batch = default_collate([data.pairs[i] for i in range(2)])
    prior, up = data.prior.sample(2, step_generator(0, 0), with_up=True)
    model.eval()
    out = training_losses(model, batch, prior, 0, 1.0, config.objective, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        synth = model.synthesize(model.encode(batch["image_s"]).appearance,
                                 *true_puppet_pose(batch["pose3d_t"].float(), batch["pose2d_t"].float()), batch["background"])
        by_hand = image_unpaired_loss(synth.image, batch["image_t"], batch["background"], 1.0 - synth.seg_probs[:, :1],
                                      batch["saliency_t"], 1.0, batch["background_valid"])
    torch.testing.assert_close(out.losses["image_unpaired"].detach(), by_hand)
    estimate = training_losses(model, batch, prior, 0, 1.0, replace(config.objective, reconstruction_pose="estimate"),
                               step_generator(0, 0), prior_up=up)
    assert float(estimate.losses["image_unpaired"].detach()) != pytest.approx(float(by_hand), rel=1e-4)
    model.train()


def test_prior_parts_palette_reads_the_puppet_and_leaves_d_out(setup):
    """E reads the puppet flat in the palette over the plate (worked out by hand), and the
    decoder half of the energies is gone: nothing of D's is read."""
    from partpose.geometry import puppet

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_parts="palette")
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        cam_R_z, q_z, est = _redrawn(setup, lambda drawn: puppet.palette_image(
            puppet.labels(drawn.part_maps[-1]), batch["background"]))
        by_hand = _rotation_energy_by_hand(prior, cam_R_z, q_z, est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    even = training_losses(model, batch, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    assert not any(name.startswith("energy") for name in even.losses)


def test_prior_parts_flat_plate_reads_the_flat_parts_over_the_plate(setup):
    """The energy worked out by hand: every part flat in its mean colour in the drawing, and the
    plate wherever the puppet has no part."""
    from partpose.geometry import puppet

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_parts="flat_plate")
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        cam_R_z, q_z, est = _redrawn(setup, lambda drawn: puppet.flat_parts(
            drawn.image, puppet.labels(drawn.part_maps[-1]), model.decoder.num_parts, background=batch["background"]))
        by_hand = _rotation_energy_by_hand(prior, cam_R_z, q_z, est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    flat = training_losses(model, batch, prior, 0, 1.0, replace(objective, prior_parts="flat"), step_generator(0, 0),
                           prior_up=up)
    assert float(flat.losses["energy_pose_encoder"].detach()) != pytest.approx(float(by_hand), rel=1e-4)
    even = training_losses(model, batch, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    assert "energy_pose_decoder" in even.losses  # D is still taught through the parts' colours


def test_prior_parts_frame_colours_reads_the_puppet_in_the_frames_colours_and_leaves_d_out(setup):
    """The energy worked out by hand: the puppet of p_z, each part flat in the mean colour I_t
    shows it in under E's pose of I_t, over the plate; the decoder half of the energies is gone."""
    from partpose.geometry import puppet

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_parts="frame_colours")
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        est_t = model.encode(batch["image_t"])
        labels_t = puppet.labels(model.draw(est_t.q, est_t.depth, est_t.scale)[-1])
        colours = puppet.frame_part_colours(batch["image_t"], labels_t, model.decoder.num_parts)
        cam_R_z, q_z, est = _redrawn(setup, lambda drawn: puppet.paint_parts(
            puppet.labels(drawn.part_maps[-1]), colours, batch["background"]))
        by_hand = _rotation_energy_by_hand(prior, cam_R_z, q_z, est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    palette = training_losses(model, batch, prior, 0, 1.0, replace(objective, prior_parts="palette"),
                              step_generator(0, 0), prior_up=up)
    assert float(palette.losses["energy_pose_encoder"].detach()) != pytest.approx(float(by_hand), rel=1e-4)
    even = training_losses(model, batch, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    assert not any(name.startswith("energy") for name in even.losses)


def test_prior_parts_frame_colours_print_paints_the_print_where_p_zs_chest_shows_it(setup):
    """The energy worked out by hand: the puppet of p_z in the colours I_t shows under E's pose of
    it, the print read apart on I_t's puppet and painted on p_z's; the decoder half is gone."""
    from partpose.geometry import front_print, puppet
    from partpose.geometry.camera import crop_framing
    from partpose.training.algorithm import prior_views

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_parts="frame_colours_print")
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    num_parts = model.decoder.num_parts
    with torch.no_grad():
        est_t = model.encode(batch["image_t"])
        labels_t = puppet.labels(model.draw(est_t.q, est_t.depth, est_t.scale)[-1])
        print_t = front_print.print_mask(est_t.q, est_t.depth, est_t.scale, labels_t)
        colours = front_print.print_colours(batch["image_t"], labels_t, print_t, num_parts)
        cam_R = prior_views(config.objective, prior.shape[0], step_generator(0, 0), up)
        scale_z, offset_z = crop_framing(prior / 1000.0, cam_R, config.objective.prior_crop_fill)
        q, depth_z = model.pose_for_prior(prior, cam_R, scale_z, offset_z)

        def read(drawn):
            labels_z = puppet.labels(drawn.part_maps[-1])
            print_z = front_print.print_mask(q, depth_z, scale_z, labels_z)
            return front_print.paint_with_print(labels_z, print_z, colours, batch["background"])

        cam_R_z, q_z, est = _redrawn(setup, read)
        by_hand = _rotation_energy_by_hand(prior, cam_R_z, q_z, est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    plain = training_losses(model, batch, prior, 0, 1.0, replace(objective, prior_parts="frame_colours"),
                            step_generator(0, 0), prior_up=up)
    shows_print = bool(front_print.print_mask(q, depth_z, scale_z, puppet.labels(model.draw(q, depth_z, scale_z)[-1])).any())
    assert shows_print  # the test's prior poses show a chest to the camera
    assert float(plain.losses["energy_pose_encoder"].detach()) != pytest.approx(float(by_hand), rel=1e-6)
    even = training_losses(model, batch, prior, 1, 1.0, objective, step_generator(0, 1), prior_up=up)
    assert not any(name.startswith("energy") for name in even.losses)


def test_prior_part_jitter_scales_each_flat_part_by_a_factor_from_the_steps_generator(setup):
    """The energy worked out by hand: the factors are the step generator's next draw after the
    view prior's, uniform in [1 - j, 1 + j], one a part and drawing."""
    from partpose.geometry import puppet
    from partpose.training.algorithm import prior_views

    config, model, batch, prior, up = setup
    objective = replace(config.objective, energy_frame="canonical_rotation", prior_parts="flat", prior_part_jitter=0.3)
    out = training_losses(model, batch, prior, 0, 1.0, objective, step_generator(0, 0), prior_up=up)
    generator = step_generator(0, 0)
    prior_views(config.objective, prior.shape[0], generator, up)
    gain = 1.0 + 0.3 * (2.0 * torch.rand(prior.shape[0], model.decoder.num_parts, generator=generator) - 1.0)
    with torch.no_grad():
        cam_R_z, q_z, est = _redrawn(setup, lambda drawn: puppet.flat_parts(
            drawn.image, puppet.labels(drawn.part_maps[-1]), model.decoder.num_parts, gain))
        by_hand = _rotation_energy_by_hand(prior, cam_R_z, q_z, est)
    torch.testing.assert_close(out.losses["energy_pose_encoder"].detach(), by_hand)
    flat = training_losses(model, batch, prior, 0, 1.0, replace(objective, prior_part_jitter=0.0), step_generator(0, 0),
                           prior_up=up)
    assert float(flat.losses["energy_pose_encoder"].detach()) != pytest.approx(float(by_hand), rel=1e-4)


def test_reconstruction_weight_scales_l_i_u_and_leaves_the_terms_added_to_it(setup):
    """L_I^u's own term times the weight; with weight 0 and L_sil on, the loss is L_sil alone."""
    from partpose.losses.silhouette import skeleton_silhouette_loss

    config, model, batch, prior, up = setup
    model.eval()
    plain = replace(config.objective, silhouette_weight=0.0)
    full = training_losses(model, batch, prior, 0, 1.0, plain, step_generator(0, 0), prior_up=up)
    half = training_losses(model, batch, prior, 0, 1.0, replace(plain, reconstruction_weight=0.5), step_generator(0, 0),
                           prior_up=up)
    torch.testing.assert_close(half.losses["image_unpaired"], 0.5 * full.losses["image_unpaired"])
    silhouette_only = replace(plain, reconstruction_weight=0.0, silhouette_weight=2.0)
    out = training_losses(model, batch, prior, 0, 1.0, silhouette_only, step_generator(0, 0), prior_up=up)
    with torch.no_grad():
        est_t = model.encode(batch["image_t"])
        by_hand = 2.0 * skeleton_silhouette_loss(est_t.q, est_t.scale, batch["saliency_t"])
    torch.testing.assert_close(out.losses["image_unpaired"].detach(), by_hand)
    model.train()
