"""benchmarks/side_refit.py: the refit's loss is training's side loss, a refit changes the side
network alone and is read by the commands, an interrupted refit resumes to the uninterrupted one's
weights, and a model without a side network is refused."""

import pytest
import torch

from benchmark_scripts import ROOT, load_benchmark

side_refit = load_benchmark("side_refit")

SIDE_PARTS = ["model.side_network=true", "objective.side_weight=1", "model.side_input=parts",
              "objective.side_label=travel"]


@pytest.fixture(scope="module")
def tiny_parts_run(tmp_path_factory):
    """A run folder of the tiny configuration whose side network reads the parts, trained for one step."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_parts_run")
    train(load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0",
                                                        *SIDE_PARTS, f"run.out_dir={out}"]), resume=False)
    return out


def test_the_refit_loss_is_trainings_side_loss():
    from partpose.training.algorithm import training_losses
    from partpose.training.config import load_config
    from partpose.training.data_setup import build_training_data
    from partpose.training.trainer import build_model

    config = load_config(ROOT / "configs" / "tiny.yaml", SIDE_PARTS + ["objective.side_weight=0.7"])
    data = build_training_data(config)
    config, model = build_model(config, data)
    batch = torch.utils.data.default_collate([data.pairs[i] for i in range(4)])
    assert torch.isfinite(batch["side_front_s"]).any()  # some frames carry a label: the loss is not 0
    generator = torch.Generator().manual_seed(0)
    prior, up = data.prior.sample(4, generator, with_up=True)
    trained = training_losses(model, batch, prior, 0, 1.0, config.objective, generator, prior_up=up).losses["side"]
    refit, logits, labels = side_refit.side_loss(model, batch, config.objective.side_weight)
    assert refit.item() == pytest.approx(trained.item(), rel=1e-5) and refit.item() > 0
    assert logits.shape == labels.shape == (8,)
    # and its gradient reaches the side network alone
    refit.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.side.parameters())


def test_a_refit_changes_the_side_network_alone(tiny_parts_run, tmp_path):
    from partpose.inference.loading import load_model
    from partpose.training import checkpoint as ckpt

    out = tmp_path / "refit"
    assert side_refit.main([str(tiny_parts_run), "--out", str(out), "--iterations", "3", "--label", "truth"]) == 0
    before = ckpt.load(tiny_parts_run / "checkpoints" / "last.pt")
    after = ckpt.load(out / "checkpoints" / "last.pt")
    assert set(after["model"]) == set(before["model"]) and after["step"] == 3
    for key, value in before["model"].items():
        if key.startswith("side."):
            continue
        assert torch.equal(after["model"][key], value), key
    assert any(not torch.equal(after["model"][k], v) for k, v in before["model"].items() if k.startswith("side."))
    assert after["config"]["objective"]["side_label"] == "truth"
    assert (out / "config.yaml").is_file()
    loaded = load_model(out)  # the commands read it as any run
    assert loaded.model.side is not None and loaded.config.objective.side_label == "truth"


def test_a_committee_gets_one_side_network_taught_every_label(tmp_path):
    from partpose.inference.loading import load_model
    from partpose.models.side import SideEnsemble, SideNetwork
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    source = tmp_path / "committee"
    train(load_config(ROOT / "configs" / "tiny.yaml", [
        "run.steps=1", "run.image_every=0", "run.eval_every=0", *SIDE_PARTS, "model.side_networks=2",
        "model.side_inputs=[image,parts]", "objective.side_bag_fraction=0.5", f"run.out_dir={source}"]), resume=False)
    assert isinstance(load_model(source).model.side, SideEnsemble)
    out = tmp_path / "refit"
    assert side_refit.main([str(source), "--out", str(out), "--iterations", "2", "--patch-size", "16"]) == 0
    loaded = load_model(out)
    assert isinstance(loaded.model.side, SideNetwork)
    assert (loaded.model.side.input, loaded.model.side.patch_size) == ("image", 16)  # the committee's first input
    model = loaded.config.model
    assert (model.side_networks, model.side_inputs, loaded.config.objective.side_bag_fraction) == (1, None, 1.0)


def test_a_model_without_a_side_network_is_refused(tiny_run, tmp_path, capsys):
    assert side_refit.main([str(tiny_run), "--out", str(tmp_path / "refit"), "--iterations", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no side network" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "refit").exists()


def test_the_hardest_labels_left_out_by_hand():
    logits = torch.tensor([3.0, -2.0, 0.5, 1.0, -1.0, 4.0])
    labels = torch.tensor([1.0, 1.0, float("nan"), 0.0, 0.0, 1.0])
    # cross-entropies of the labelled frames: 0: 0.05, 1: 2.13, 3: 1.31, 4: 0.31, 5: 0.02
    out = side_refit.without_hardest(logits, labels, 0.4)  # round(0.4 * 5) = 2: frames 1 and 3
    assert torch.isnan(out[[1, 2, 3]]).all() and torch.equal(out[[0, 4, 5]], labels[[0, 4, 5]])
    torch.testing.assert_close(side_refit.without_hardest(logits, labels, 0.05), labels, equal_nan=True)  # round(0.25) = 0
    none_labelled = torch.full((3,), float("nan"))
    assert torch.isnan(side_refit.without_hardest(logits[:3], none_labelled, 0.5)).all()


def test_the_steady_truth_is_the_truth_on_the_steady_travels_frames():
    import numpy as np

    from partpose.data.pairs import PairDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.training.config import load_config

    config = load_config(ROOT / "configs" / "tiny.yaml")
    videos = build_synthetic_videos(config.data.synthetic, "train")
    truth = PairDataset(videos, side_label="truth")
    steady = PairDataset(videos, side_label="steady_travel", travel_min_r2=0.5)
    side_refit.keep_steady_frames(truth, 0.5)
    labelled = np.concatenate([np.isfinite(f) for f in steady.side_front])
    assert labelled.any() and not labelled.all()  # the test means something only with both kinds of video
    assert np.array_equal(np.concatenate([np.isfinite(f) for f in truth.side_front]), labelled)
    expected = np.concatenate(PairDataset(videos, side_label="truth").side_front)
    np.testing.assert_array_equal(np.concatenate(truth.side_front)[labelled], expected[labelled])
    # steady_right: the steady travel's labels where they are the truth, no label where they are not
    right = PairDataset(videos, side_label="truth")
    side_refit.keep_steady_frames(right, 0.5, agreeing_only=True)
    travel = np.concatenate(steady.side_front)
    agree = labelled & (travel == expected)
    assert agree.any() and (labelled & ~agree).any()  # tiny's travel is right on some frames and wrong on others
    kept = np.concatenate(right.side_front)
    assert np.array_equal(np.isfinite(kept), agree)
    np.testing.assert_array_equal(kept[agree], travel[agree])


def _turned_bodies(angles_deg):
    """``(T, 17, 3)`` an upright torso (camera frame, y down; the joints the chest's normal reads,
    the others at the pelvis) turned about the camera's up ``(0, -1, 0)`` by each angle."""
    from partpose.geometry.skeleton import H36M17

    pose = torch.zeros(17, 3)
    joint = H36M17.index
    pose[H36M17.thorax] = torch.tensor([0.0, -0.5, 0.0])
    pose[joint("l_shoulder")], pose[joint("r_shoulder")] = torch.tensor([0.2, -0.45, 0.0]), torch.tensor([-0.2, -0.45, 0.0])
    pose[H36M17.l_hip], pose[H36M17.r_hip] = torch.tensor([0.1, 0.0, 0.0]), torch.tensor([-0.1, 0.0, 0.0])
    out = []
    for angle in angles_deg:
        a = torch.deg2rad(torch.tensor(float(angle)))
        c, s = torch.cos(a), torch.sin(a)
        turn = torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        out.append(pose @ turn.T)
    return torch.stack(out)


def test_the_axis_steadiness_by_hand():
    up = torch.tensor([0.0, -1.0, 0.0]).expand(4, 3)
    # one axis throughout, a body and its turn by 180° included: 1
    assert side_refit.axis_steadiness(_turned_bodies([20, 20, 200, 20]), up) == pytest.approx(1.0, abs=1e-5)
    # axes 0°, 45°, 90°, 135° apart: doubled, evenly round: 0
    assert side_refit.axis_steadiness(_turned_bodies([0, 45, 90, 135]), up) == pytest.approx(0.0, abs=1e-5)
    # two axes 90° apart, three frames and one: |(3 - 1) / 4| = 0.5
    assert side_refit.axis_steadiness(_turned_bodies([10, 10, 10, 100]), up) == pytest.approx(0.5, abs=1e-5)


def test_the_video_filter_keeps_or_drops_whole_videos(tiny_parts_run):
    import numpy as np

    from partpose.data.pairs import PairDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_parts_run)
    videos = build_synthetic_videos(loaded.config.data.synthetic, "train")

    def labels(max_tilt, min_axis):
        pairs = PairDataset(videos, side_label="travel")
        side_refit.keep_upright_steady_videos(loaded.model, pairs, max_tilt, min_axis)
        return [np.isfinite(f) for f in pairs.side_front]

    everything = labels(180.0, 0.0)
    assert np.array_equal(np.concatenate(everything), np.concatenate([np.isfinite(f) for f in
                                                                    PairDataset(videos, side_label="travel").side_front]))
    assert not np.concatenate(labels(-1.0, 0.0)).any() and not np.concatenate(labels(180.0, 1.01)).any()
    assert all(f.all() or not f.any() for f in labels(60.0, 0.5))  # a video keeps all its labels or none


def test_the_confident_videos_label_the_unlabelled_frames_by_hand():
    import numpy as np
    from types import SimpleNamespace

    nan = np.nan
    fronts = [np.float32([1.0, nan, nan]), np.float32([nan, nan]), np.float32([nan, 0.0]), np.float32([nan, nan, nan])]
    means = np.float32([-3.0, 2.0, -0.5, 0.1])  # video 0's own label stays though its mean says the back
    # the unlabelled frames' confidences: 3, 3 | 2, 2 | 0.5 | 0.1, 0.1, 0.1 (8 frames); half: the threshold at
    # the quantile 0.5, 1.25: videos 0 and 1 labelled, 2 and 3 not
    pairs = SimpleNamespace(side_front=[f.copy() for f in fronts])
    assert side_refit.add_confident_labels(pairs, means, 0.5) == 4
    np.testing.assert_array_equal(pairs.side_front[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(pairs.side_front[1], [1.0, 1.0])
    np.testing.assert_array_equal(pairs.side_front[2], fronts[2])
    assert np.isnan(pairs.side_front[3]).all()
    # every unlabelled frame with share 1; none with 0; a share out of [0, 1] refused
    pairs = SimpleNamespace(side_front=[f.copy() for f in fronts])
    assert side_refit.add_confident_labels(pairs, means, 1.0) == 8
    assert all(np.isfinite(f).all() for f in pairs.side_front) and pairs.side_front[2][0] == 0.0
    pairs = SimpleNamespace(side_front=[f.copy() for f in fronts])
    assert side_refit.add_confident_labels(pairs, means, 0.0) == 0
    with pytest.raises(ValueError):
        side_refit.add_confident_labels(pairs, means, 1.5)


def test_a_refit_with_confident_videos_reads_the_source_side_network(tiny_parts_run, tmp_path, capsys):
    from partpose.inference.loading import load_model
    from partpose.training import checkpoint as ckpt
    from partpose.training.data_setup import build_training_data

    loaded = load_model(tiny_parts_run)
    data = build_training_data(loaded.config)
    means = side_refit.video_side_means(loaded.model, data.pairs)
    video = data.pairs.videos[0]
    images = torch.from_numpy(video.frames).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        assert means[0] == pytest.approx(float(loaded.model.side_logits(images).mean()), rel=1e-5)
    assert means.shape == (len(data.pairs.videos),)
    out = tmp_path / "refit"
    assert side_refit.main([str(tiny_parts_run), "--out", str(out), "--iterations", "2", "--confident-videos", "1"]) == 0
    assert "labels" in capsys.readouterr().out
    assert ckpt.load(out / "checkpoints" / "last.pt")["refit"]["confident_videos"] == 1.0
    with pytest.raises(SystemExit):
        side_refit.main([str(tiny_parts_run), "--out", str(out), "--confident-videos", "2"])


@pytest.fixture(scope="module")
def tiny_parts_run_averaged(tmp_path_factory):
    """As ``tiny_parts_run``, with the weights averaged, each loss's gradient clipped to 3 × its
    running average and half the pairs mirrored: the settings of the rows refit in docs/learning.md."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_parts_run_averaged")
    train(load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0", *SIDE_PARTS,
                                                        "optim.ema_decay=0.9", "optim.grad_clip_relative=3",
                                                        "data.flip_augment=0.5", f"run.out_dir={out}"]), resume=False)
    return out


def test_an_interrupted_refit_resumes_to_the_uninterrupted_weights(tiny_parts_run_averaged, tmp_path, monkeypatch, capsys):
    from partpose.training import checkpoint as ckpt

    run = tiny_parts_run_averaged
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    side_refit.refit_side(run, whole, "truth", iterations=6, save_every=2, log_every=0)
    apply = side_refit.apply_gradients
    calls = []

    def interrupted(*args, **kwargs):  # the fifth step never finishes
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return apply(*args, **kwargs)

    monkeypatch.setattr(side_refit, "apply_gradients", interrupted)
    with pytest.raises(KeyboardInterrupt):
        side_refit.refit_side(run, cut, "truth", iterations=6, save_every=2, log_every=0)
    assert ckpt.load(cut / "checkpoints" / "refit_state.pt")["step"] == 4
    assert not (cut / "checkpoints" / "last.pt").exists()
    monkeypatch.setattr(side_refit, "apply_gradients", apply)
    side_refit.refit_side(run, cut, "truth", iterations=6, save_every=2, log_every=0)
    assert "resuming" in capsys.readouterr().out
    a, b = (ckpt.load(d / "checkpoints" / "last.pt")["model"] for d in (whole, cut))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # another setting on the same folder is refused, not mixed in
    with pytest.raises(side_refit.UserError, match="other settings"):
        side_refit.refit_side(run, cut, "truth", iterations=6, seed=3, save_every=2, log_every=0)


def test_the_distances_travel_relabels_the_travel_only(tiny_parts_run, tmp_path):
    with pytest.raises(side_refit.UserError, match="relabels the travel"):
        side_refit.refit_side(tiny_parts_run, tmp_path / "r", "truth", iterations=1, distance_r2=0.7, log_every=0)
