"""The trainer end to end on a tiny configuration: settings, ablations, resume, distributed."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from partpose.errors import UserError
from partpose.training import checkpoint as ckpt
from partpose.training.schedules import learning_rate
from partpose.training.trainer import train

SETTINGS = {
    "unsup": [],
    "weak": ["objective.setting=weak"],
    "semi": ["objective.setting=semi", "objective.semi_fraction=0.5"],
    "supervised": ["objective.setting=supervised"],
    "labels_2d": ["objective.setting=labels_2d"],
    "no_fk_camera": ["model.no_fk_camera=true"],
    "no_saliency": ["objective.no_saliency=true"],
    "no_adaptation": ["objective.no_adaptation=true"],
}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_and_ablation_runs_three_steps(tiny_config, name):
    config = tiny_config(*SETTINGS[name], "run.eval_every=0", "run.image_every=0", out=name)
    result = train(config, resume=False)
    assert result.step == 3 and result.skipped_steps == 0
    assert math.isfinite(result.metrics["mpjpe"]) and result.metrics["mpjpe"] > 0
    assert (result.out_dir / "checkpoints" / "last.pt").is_file()


def test_run_folder_contents(tiny_config):
    result = train(tiny_config(), resume=False)
    out = result.out_dir
    assert (out / "config.yaml").is_file() and (out / "checkpoints" / "best.pt").is_file()
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [0, 2, 3]
    final = json.loads((out / "final_metrics.json").read_text())
    assert final["metrics"]["step"] == 3 and final["initial"]["step"] == 0
    assert any(p.name.startswith("events") for p in (out / "tensorboard").iterdir())


def test_resume_reaches_the_same_weights(tiny_config):
    straight = train(tiny_config("run.steps=4", "run.eval_every=0", out="straight"), resume=False)
    train(tiny_config("run.steps=2", "run.eval_every=0", out="stopped"), resume=False)
    resumed = train(tiny_config("run.steps=4", "run.eval_every=0", out="stopped"), resume=True)
    assert resumed.step == 4
    a = ckpt.load(straight.out_dir / "checkpoints" / "last.pt")
    b = ckpt.load(resumed.out_dir / "checkpoints" / "last.pt")
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-6), f"{key}: {float((value - b['model'][key]).abs().max())}"
    for name, state in a["optimizers"].items():
        for pid, s in state["state"].items():
            assert torch.allclose(s["sum"], b["optimizers"][name]["state"][pid]["sum"], atol=1e-6), name


def test_a_resumed_run_counts_the_training_time_of_every_call(tiny_config):
    first = train(tiny_config("run.steps=2", "run.eval_every=0", out="timed"), resume=False)
    assert first.total_seconds == pytest.approx(first.seconds, abs=1e-3)
    saved = ckpt.load(first.out_dir / "checkpoints" / "last.pt")["train_seconds"]
    assert first.seconds - 1e-3 <= saved <= first.seconds + 5.0  # the last save came after the time was read
    resumed = train(tiny_config("run.steps=4", "run.eval_every=0", out="timed"), resume=True)
    assert resumed.total_seconds == pytest.approx(saved + resumed.seconds, abs=1e-3)
    final = json.loads((resumed.out_dir / "final_metrics.json").read_text())
    assert final["total_seconds"] == pytest.approx(resumed.total_seconds)

    # a checkpoint saved before checkpoints kept the time: this call's time is known, the run's is not
    last = resumed.out_dir / "checkpoints" / "last.pt"
    state = ckpt.load(last)
    del state["train_seconds"]
    ckpt.save_atomic(state, last)
    unknown = train(tiny_config("run.steps=5", "run.eval_every=0", out="timed"), resume=True)
    assert unknown.step == 5 and unknown.total_seconds is None and unknown.seconds > 0
    assert ckpt.load(last).get("train_seconds") is None


def test_a_relative_clip_is_saved_and_a_resumed_run_reaches_the_same_weights(tiny_config):
    clip = ("optim.kind=adam", "optim.grad_clip_relative=1.01", "run.eval_every=0")
    straight = train(tiny_config("run.steps=4", *clip, out="clip_straight"), resume=False)
    train(tiny_config("run.steps=2", *clip, out="clip_stopped"), resume=False)
    resumed = train(tiny_config("run.steps=4", *clip, out="clip_stopped"), resume=True)
    a = ckpt.load(straight.out_dir / "checkpoints" / "last.pt")
    b = ckpt.load(resumed.out_dir / "checkpoints" / "last.pt")
    assert {"image_unpaired", "energy_pose_encoder"} <= set(a["relative_clip"]) <= set(a["optimizers"])
    assert a["relative_clip"] == pytest.approx(b["relative_clip"])
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-6), key
    # a tight clip changes the steps: the weights differ from a run without it
    plain = ckpt.load(train(tiny_config("run.steps=4", "optim.kind=adam", "run.eval_every=0", out="clip_none"),
                            resume=False).out_dir / "checkpoints" / "last.pt")
    assert "relative_clip" not in plain
    assert max(float((v - plain["model"][k]).abs().max()) for k, v in a["model"].items()) > 1e-7


def test_cosine_schedule_sets_the_rate_of_every_step(tiny_config):
    common = ("run.steps=4", "optim.lr=0.01", "run.eval_every=0")
    cosine = train(tiny_config(*common, "optim.lr_schedule=cosine", out="cosine"), resume=False)
    state = ckpt.load(cosine.out_dir / "checkpoints" / "last.pt")
    expected = 0.01 * (1 - math.sqrt(0.5)) / 2  # the last step's: (1 + cos(3 pi / 4)) / 2 * 0.01
    assert learning_rate(3, 4, 0.01, "cosine") == pytest.approx(expected)
    assert [g["lr"] for s in state["optimizers"].values() for g in s["param_groups"]] == pytest.approx(
        [expected] * sum(len(s["param_groups"]) for s in state["optimizers"].values()))
    constant = ckpt.load(train(tiny_config(*common, out="constant"), resume=False).out_dir / "checkpoints" / "last.pt")
    assert {g["lr"] for s in constant["optimizers"].values() for g in s["param_groups"]} == {0.01}
    # the same batches, smaller late steps: the weights differ
    assert max(float((v - constant["model"][k]).abs().max()) for k, v in state["model"].items()) > 1e-7


def test_a_finished_run_resumed_with_a_cooldown_ends_as_a_straight_run_with_it(tiny_config):
    common = ("optim.lr=0.01", "run.eval_every=0")
    straight = train(tiny_config("run.steps=6", "run.cooldown_steps=2", *common, out="cool_straight"), resume=False)
    train(tiny_config("run.steps=4", *common, out="cool_extended"), resume=False)
    extended = train(tiny_config("run.steps=6", "run.cooldown_steps=2", *common, out="cool_extended"), resume=True)
    assert extended.step == 6
    a = ckpt.load(straight.out_dir / "checkpoints" / "last.pt")
    b = ckpt.load(extended.out_dir / "checkpoints" / "last.pt")
    # the last step's rate: 1/2 of 0.01, in every group of every optimiser
    assert [g["lr"] for s in b["optimizers"].values() for g in s["param_groups"]] == pytest.approx(
        [0.005] * sum(len(s["param_groups"]) for s in b["optimizers"].values()))
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_the_evaluation_log_holds_each_step_once_however_the_run_was_stopped(tiny_config):
    def steps(out):
        return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]

    common = ("run.eval_every=2", "run.checkpoint_every=2", "run.eval_at_start=true")
    out = train(tiny_config("run.steps=4", *common, out="log_once"), resume=True).out_dir
    assert steps(out) == [0, 2, 4]
    train(tiny_config("run.steps=4", *common, out="log_once"), resume=True)  # a finished run resumed: 4 again
    assert steps(out) == [0, 2, 4]
    train(tiny_config("run.steps=6", *common, out="log_once"), resume=True)  # run on from 4
    assert steps(out) == [0, 2, 4, 6]
    shutil.rmtree(out / "checkpoints")  # a first try stopped before its first checkpoint: started over
    train(tiny_config("run.steps=2", *common, out="log_once"), resume=True)
    assert steps(out) == [0, 2]


def test_resume_with_other_settings_is_refused_and_names_them(tiny_config):
    train(tiny_config("run.steps=1", "run.eval_every=0", out="other"), resume=False)
    with pytest.raises(UserError, match=r"other settings \(objective.setting: 'unsup' -> 'weak'\)"):
        train(tiny_config("run.steps=2", "run.eval_every=0", "objective.setting=weak", out="other"), resume=True)
    # run.* may change, and the bone lengths the trainer filled in are not a difference
    assert train(tiny_config("run.steps=2", "run.eval_every=0", "run.log_every=1", out="other"), resume=True).step == 2


def test_init_from_starts_a_new_run_at_the_checkpoints_weights(tiny_config):
    source = train(tiny_config("run.steps=3", "run.eval_every=0", out="source"), resume=False)
    started = train(tiny_config("run.steps=1", "run.eval_every=0", f"run.init_from={source.out_dir}",
                                "objective.setting=weak", out="finetune"), resume=False)
    # the untrained evaluation of the new run is the source's final one: the same weights
    for key in ("mpjpe", "pa_mpjpe", "pck3d"):
        assert started.initial_metrics[key] == pytest.approx(source.metrics[key], abs=1e-4), key
    fresh = train(tiny_config("run.steps=1", "run.eval_every=0", "objective.setting=weak", out="fresh"), resume=False)
    assert fresh.initial_metrics["mpjpe"] != pytest.approx(source.metrics["mpjpe"], abs=1e-4)
    with pytest.raises(UserError, match=r"run.init_from=.*does not fit this run's model settings"):
        train(tiny_config("run.steps=1", f"run.init_from={source.out_dir}", "model.decoder.facing_channels=true",
                          out="misfit"), resume=False)
    with pytest.raises(UserError, match="checkpoint not found"):
        train(tiny_config("run.steps=1", f"run.init_from={source.out_dir}/nothing.pt", out="missing"), resume=False)


def test_settings_differences_lists_keys_outside_run(tiny_config):
    from partpose.training.trainer import settings_differences

    a = tiny_config()
    b = tiny_config("objective.beta_end=0.5", "data.max_gap=5", "run.steps=7")
    assert settings_differences(a, a) == []
    assert settings_differences(b, a) == ["data.max_gap: 3 -> 5", "objective.beta_end: 0.1 -> 0.5"]


def test_two_process_gloo_run_keeps_identical_weights(tiny_config):
    config = tiny_config("run.accelerator=cpu", "run.devices=2", "run.strategy=ddp_spawn",
                         "run.eval_every=0", "run.image_every=0", out="ddp")
    result = train(config, resume=False)
    assert result.step == 3
    assert result.rank_weight_difference == 0.0


@pytest.mark.parametrize("share", [1.0, 0.5])
def test_semi_batches_carry_their_share_of_labelled_frames(tiny_config, monkeypatch, share):
    from partpose.training import trainer as trainer_module
    from partpose.training.algorithm import training_losses as real_losses

    seen = []

    def recording(model, batch, *args, **kwargs):
        seen.append(batch["has_pose3d_t"].tolist())
        return real_losses(model, batch, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "training_losses", recording)
    config = tiny_config("objective.setting=semi", "objective.semi_fraction=0.05",
                         f"objective.semi_labelled_share={share}", "run.eval_every=0", "run.image_every=0",
                         out=f"semi_share_{share}")
    train(config, resume=False)
    labelled = round(share * config.run.batch_size)
    assert len(seen) == 3 and all(all(flags[:labelled]) for flags in seen)


def test_nan_guard_skips_steps_and_stops_when_it_persists(tiny_config, monkeypatch):
    from partpose.training import trainer as trainer_module
    from partpose.training.algorithm import training_losses as real_losses

    calls = {"n": 0}

    def sometimes_nan(model, batch, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # one bad batch: NaN images reach the geometry-free losses
            batch = dict(batch, image_t=batch["image_t"] * float("nan"))
        return real_losses(model, batch, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "training_losses", sometimes_nan)
    result = train(tiny_config("run.eval_every=0", out="one_nan"), resume=False)
    assert result.step == 3 and result.skipped_steps == 1

    def always_nan(model, batch, *args, **kwargs):
        return real_losses(model, dict(batch, image_t=batch["image_t"] * float("nan")), *args, **kwargs)

    monkeypatch.setattr(trainer_module, "training_losses", always_nan)
    with pytest.raises(trainer_module.TrainingDiverged, match="2 consecutive steps"):
        train(tiny_config("run.eval_every=0", "run.max_nonfinite_steps=2", out="all_nan"), resume=False)


def test_bf16_mixed_precision_runs_on_cpu(tiny_config):
    result = train(tiny_config("run.precision=bf16-mixed", "run.eval_every=0", out="bf16"), resume=False)
    assert result.step == 3 and math.isfinite(result.metrics["mpjpe"])


def test_label_lr_scale_reaches_the_labels_optimiser_in_weak(tiny_config):
    out = train(tiny_config("run.steps=1", "run.eval_every=0", "optim.lr=0.01", "objective.setting=weak",
                            "optim.label_lr_scale=3", out="weak"), resume=False).out_dir
    state = ckpt.load(out / "checkpoints" / "last.pt")
    lrs = {name: [g["lr"] for g in s["param_groups"]] for name, s in state["optimizers"].items()}
    assert lrs.pop("pose2d") == pytest.approx([0.03]) and lrs.pop("pose3d") == pytest.approx([0.03])
    assert [lr for group in lrs.values() for lr in group] == pytest.approx([0.01] * sum(map(len, lrs.values())))


def test_flip_augment_trains_on_mirrored_pairs_and_resumes_to_the_same_weights(tiny_config):
    common = ("data.flip_augment=0.5", "objective.setting=supervised", "run.eval_every=0")
    straight = train(tiny_config(*common, "run.steps=4", out="flip_straight"), resume=False)
    train(tiny_config(*common, "run.steps=2", out="flip_stopped"), resume=False)
    resumed = train(tiny_config(*common, "run.steps=4", out="flip_stopped"), resume=True)
    a = ckpt.load(straight.out_dir / "checkpoints" / "last.pt")["model"]
    b = ckpt.load(resumed.out_dir / "checkpoints" / "last.pt")["model"]
    assert all(torch.allclose(v, b[k], atol=1e-6) for k, v in a.items())
    plain = ckpt.load(train(tiny_config(common[1], common[2], "run.steps=4", out="flip_none"),
                            resume=False).out_dir / "checkpoints" / "last.pt")["model"]
    assert max(float((v - plain[k]).abs().max()) for k, v in a.items()) > 1e-7  # some pairs were mirrored
    with pytest.raises(UserError, match="data.flip_augment"):
        train(tiny_config("data.flip_augment=1.5", out="flip_bad"), resume=False)


def test_ema_averages_the_raw_weights_of_each_step_and_resumes_to_the_same_average(tiny_config):
    decay = 0.8
    common = ("optim.ema_decay=0.8", "objective.setting=supervised", "run.eval_every=0", "run.checkpoint_every=1")
    train(tiny_config(*common, "run.steps=1", out="ema"), resume=False)
    first = ckpt.load(tiny_config(out="ema").run.out_dir + "/checkpoints/last.pt")
    result = train(tiny_config(*common, "run.steps=2", out="ema"), resume=True)
    second = ckpt.load(result.out_dir / "checkpoints" / "last.pt")
    assert first["ema_updates"] == 1 and second["ema_updates"] == 2
    w1, w2 = first["training_model"], second["training_model"]
    for key, value in first["model"].items():  # the first update copies the weights
        assert torch.equal(value, w1[key]), key
    moved = 0
    for key, average in second["model"].items():
        if not average.is_floating_point():
            continue
        expected = decay * w1[key] + (1 - decay) * w2[key]  # worked out by hand: two updates
        assert torch.allclose(average, expected, atol=1e-6), key
        moved += int(not torch.equal(w1[key], w2[key]))
    assert moved > 0  # the raw weights did change between the steps
    straight = train(tiny_config(*common, "run.steps=2", out="ema_straight"), resume=False)
    direct = ckpt.load(straight.out_dir / "checkpoints" / "last.pt")["model"]
    assert all(torch.allclose(v, direct[k], atol=1e-6) for k, v in second["model"].items())
    lines = [json.loads(line) for line in (straight.out_dir / "metrics.jsonl").read_text().splitlines()]
    assert "mpjpe_training_weights" in lines[-1] and "mpjpe" in lines[-1]
    with pytest.raises(UserError, match="optim.ema_decay"):
        train(tiny_config("optim.ema_decay=1", out="ema_bad"), resume=False)


def test_the_distances_labels_are_read_by_the_average_saved_and_resumed(tiny_config):
    from partpose.models.partpose_model import PartPoseModel
    from partpose.training.config import config_from_dict
    from partpose.training.data_setup import build_training_data
    from partpose.training.side_relabel import distance_side_labels

    common = ("model.side_network=true", "objective.side_weight=1", "objective.side_label=steady_distance",
              "objective.side_relabel_every=2", "objective.travel_min_r2=0.8", "optim.ema_decay=0.8",
              "run.eval_every=0", "run.image_every=0")
    straight = train(tiny_config(*common, "run.steps=4", out="relabel_straight"), resume=False)
    stopped = train(tiny_config(*common, "run.steps=2", out="relabel_stopped"), resume=False)
    at_two = ckpt.load(stopped.out_dir / "checkpoints" / "last.pt")
    config = config_from_dict(at_two["config"])
    average = PartPoseModel(config.model)
    average.load_state_dict(at_two["model"])
    videos = build_training_data(config).pairs.videos
    expected = distance_side_labels(average, videos, config.objective.travel_min_rate, 0.8)
    saved = [labels.numpy() for labels in at_two["side_labels"]]
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(saved, expected))
    steady_travel = build_training_data(config).pairs.side_front  # what the run started with: the boxes' steady
    assert not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(saved, steady_travel))
    resumed = train(tiny_config(*common, "run.steps=4", out="relabel_stopped"), resume=True)
    a = ckpt.load(straight.out_dir / "checkpoints" / "last.pt")
    b = ckpt.load(resumed.out_dir / "checkpoints" / "last.pt")
    assert all(torch.allclose(v, b["model"][k], atol=1e-6) for k, v in a["model"].items())
    assert all(torch.equal(x.isnan(), y.isnan()) and torch.equal(x.nan_to_num(), y.nan_to_num())
               for x, y in zip(a["side_labels"], b["side_labels"]))


def test_the_distances_labels_reach_batches_loaded_by_worker_processes(tiny_config):
    # workers hold copies of the pairs made before the first reading: a run that loads in one must
    # still teach the latest labels, and so reach the weights of a run that loads in the trainer
    common = ("model.side_network=true", "objective.side_weight=1", "objective.side_label=steady_distance",
              "objective.side_relabel_every=2", "optim.ema_decay=0.8", "run.steps=5", "run.eval_every=0",
              "run.image_every=0")
    in_process = train(tiny_config(*common, out="relabel_in_process"), resume=False)
    in_worker = train(tiny_config(*common, "data.num_workers=1", out="relabel_in_worker"), resume=False)
    a = ckpt.load(in_process.out_dir / "checkpoints" / "last.pt")
    b = ckpt.load(in_worker.out_dir / "checkpoints" / "last.pt")
    assert all(torch.equal(x.nan_to_num(-1), y.nan_to_num(-1)) for x, y in zip(a["side_labels"], b["side_labels"]))
    assert all(torch.allclose(v, b["model"][k], atol=1e-6) for k, v in a["model"].items())


def test_the_distances_labels_refuse_a_zero_interval(tiny_config):
    common = ("model.side_network=true", "objective.side_weight=1", "objective.side_label=steady_distance")
    with pytest.raises(UserError, match="side_relabel_every"):
        train(tiny_config(*common, "objective.side_relabel_every=0", out="relabel_zero"), resume=False)


def test_beta_reaches_only_the_decoder_and_the_appearance_when_the_reconstruction_leaves_the_pose_unclipped(tiny_config):
    # the many-people distance row's settings: L_I^u off the pose, an appearance trunk of its own,
    # drawings in the frame's colours (nothing of D's in the energies), no relative clip. β weighs
    # m_sal in L_I^u alone, so two runs that differ in β train the pose and side networks bit for
    # bit alike
    row = ("objective.silhouette_weight=1.0", "objective.appearance_consistency=false",
           "objective.energy_frame=canonical_rotation", "objective.reconstruction_pose_grad=false",
           "model.encoder.appearance_trunk=own", "model.side_network=true", "objective.side_weight=1",
           "model.side_input=parts", "objective.side_label=steady_distance", "data.flip_augment=0.5",
           "optim.ema_decay=0.9", "objective.prior_parts=frame_colours", "run.steps=4", "run.eval_every=0",
           "run.image_every=0")
    other_beta = ("objective.beta_start=0.2", "objective.beta_end=0.3")

    def weights(*overrides, out):
        return ckpt.load(train(tiny_config(*row, *overrides, out=out), resume=False).out_dir / "checkpoints" / "last.pt")

    def same(a, b, prefix, but=()):
        keys = [k for k in a["training_model"] if k.startswith(prefix) and not k.startswith(but)]
        assert keys
        return all(torch.equal(a[w][k], b[w][k]) for k in keys for w in ("model", "training_model"))

    a, b = weights(out="beta_default"), weights(*other_beta, out="beta_other")
    assert same(a, b, "encoder.", but=("encoder.appearance",)) and same(a, b, "side.")
    assert not same(a, b, "decoder.") and not same(a, b, "encoder.appearance")
    # the reconstruction given the pose back: β then reaches the pose too
    c, d = (weights("objective.reconstruction_pose_grad=true", *beta, out=f"beta_pose_grad_{i}")
            for i, beta in enumerate(((), other_beta)))
    assert not same(c, d, "encoder.", but=("encoder.appearance",))
    # and so does a relative clip: L_sil, which trains the pose, shares L_I^u's gradient and its
    # one norm, which β changes
    e, f = (weights("optim.kind=adam", "optim.grad_clip_relative=1.01", *beta, out=f"beta_clip_{i}")
            for i, beta in enumerate(((), other_beta)))
    assert not same(e, f, "encoder.", but=("encoder.appearance",))
    # unless the clip limits each part's share on its own (optim.grad_clip_relative_by=part): L_sil's
    # share on the pose is then clipped by its own norms alone, which β leaves as they are
    g, h = (weights("optim.kind=adam", "optim.grad_clip_relative=1.01", "optim.grad_clip_relative_by=part", *beta,
                    out=f"beta_part_clip_{i}") for i, beta in enumerate(((), other_beta)))
    assert same(g, h, "encoder.", but=("encoder.appearance",)) and same(g, h, "side.")
    assert not same(g, h, "decoder.")
    assert not same(g, e, "encoder.", but=("encoder.appearance",))  # and the part clip did clip the pose
