"""build_training_data on prepared folders: splits, clip limits, labels per setting, priors, errors."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from partpose.data.datasets.crops import save_prepared
from partpose.data.mocap import H36M32_TO_17, load_deepmimic_clips, split_segments
from partpose.data.pairs import frame_pairs
from partpose.data.prior import PosePrior
from partpose.data.synthetic import SyntheticConfig
from partpose.data.video import Video
from partpose.errors import UserError
from partpose.training.config import DataConfig
from partpose.training.data_setup import DATASETS, build_prior, build_training_data
from partpose.training.trainer import train

SIZE = 32


def _video(name: str, frames: int = 4, size: int = SIZE, pose3d: bool = True, pose2d: bool = True,
           seed: int = 0) -> Video:
    rng = np.random.default_rng(seed)
    pose = rng.uniform(-500, 500, (frames, 17, 3)).astype(np.float32) + np.float32([0, 0, 4000])
    return Video(
        frames=rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8),
        background=rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        pose3d_cam_mm=pose if pose3d else None,
        pose2d_norm=rng.uniform(-0.8, 0.8, (frames, 17, 2)).astype(np.float32) if pose2d else None,
        name=name, subject=name.split("/")[0], action="Walking",
    )


def _prepare(root, dataset: str, **splits: list[Video]):
    for split, videos in splits.items():
        save_prepared(videos, root, split, dataset, {"resolution": SIZE}, progress=False)
    return root


def _h36m(tmp_path, train_count: int = 3, test_count: int = 2, **video_options):
    train = [_video(f"S1/clip{k}", frames=4 + k, seed=k, **video_options) for k in range(train_count)]
    test = [_video(f"S9/clip{k}", seed=10 + k) for k in range(test_count)]
    return _prepare(tmp_path / "h36m_prepared", "h36m", train=train, test=test)


def test_prepared_splits_become_pairs_and_test_frames(tiny_config, tmp_path):
    root = _h36m(tmp_path)
    data = build_training_data(tiny_config("data.dataset=h36m", f"data.root={root}"))
    assert [v.name for v in data.train_videos] == ["S1/clip0", "S1/clip1", "S1/clip2"]
    assert [v.name for v in data.test_videos] == ["S9/clip0", "S9/clip1"]
    assert len(data.pairs) == len(frame_pairs([4, 5, 6], max_gap=3))  # TINY: data.max_gap=3
    assert len(data.test_frames) == 8
    item = data.test_frames[5]  # frame 1 of the second test clip
    np.testing.assert_array_equal(item["pose3d"].numpy(), data.test_videos[1].pose3d_cam_mm[1])
    pair = data.pairs[0]
    assert not pair["has_pose3d_t"] and not pair["has_pose2d_t"] and pair["background_valid"]
    # every prepared clip is read exactly as written
    np.testing.assert_array_equal(data.train_videos[2].frames, _video("S1/clip2", frames=6, seed=2).frames)


@pytest.mark.parametrize("setting, has3d, has2d", [("weak", False, True), ("supervised", True, True),
                                                   ("semi", None, False)])
def test_labels_follow_the_setting(tiny_config, tmp_path, setting, has3d, has2d):
    root = _h36m(tmp_path)
    data = build_training_data(tiny_config("data.dataset=h36m", f"data.root={root}", f"objective.setting={setting}",
                                           "objective.semi_fraction=0.4"))
    flags3d = {bool(data.pairs[i]["has_pose3d_t"]) for i in range(len(data.pairs))}
    assert flags3d == ({has3d} if has3d is not None else {True, False})
    assert bool(data.pairs[0]["has_pose2d_t"]) == has2d


def test_clip_limits_spread_over_the_split(tiny_config, tmp_path):
    root = _h36m(tmp_path, train_count=5, test_count=3)
    data = build_training_data(tiny_config("data.dataset=h36m", f"data.root={root}", "data.max_train_clips=2",
                                           "data.max_test_clips=1"))
    assert [v.name for v in data.train_videos] == ["S1/clip0", "S1/clip4"]
    assert [v.name for v in data.test_videos] == ["S9/clip0"]
    many = build_training_data(tiny_config("data.dataset=h36m", f"data.root={root}", "data.max_train_clips=50"))
    assert len(many.train_videos) == 5 and len(many.test_videos) == 3


def test_own_videos_have_no_test_split_and_training_skips_evaluation(tiny_config, tmp_path):
    root = _prepare(tmp_path / "own", "own",
                    train=[_video("own/a", 6, pose3d=False, pose2d=False), _video("own/b", 5, pose3d=False, seed=1)])
    config = tiny_config("data.dataset=own", f"data.root={root}", "run.steps=2")
    data = build_training_data(config)
    assert data.test_frames is None and data.test_videos == []
    result = train(config, resume=False)
    assert result.step == 2 and result.metrics == {} and result.best_metrics is None
    assert (result.out_dir / "checkpoints" / "last.pt").is_file()
    assert not (result.out_dir / "checkpoints" / "best.pt").exists()
    assert not (result.out_dir / "metrics.jsonl").exists()
    assert json.loads((result.out_dir / "final_metrics.json").read_text())["metrics"] == {}
    # the side network's oracle needs each training frame's 3D pose
    with pytest.raises(UserError, match="objective.side_label=truth teaches the side network each frame's true side "
                                        "from its 3D pose; the 'own' training videos have none"):
        build_training_data(tiny_config("data.dataset=own", f"data.root={root}", "model.side_network=true",
                                        "objective.side_weight=1", "objective.side_label=truth"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.dataset=h37m"], "unknown data.dataset 'h37m'; known datasets: synthetic, h36m, mpi_inf_3dhp, 3dpw, own"),
        (["data.dataset=h36m"], "data.root is required for data.dataset=h36m"),
        (["data.dataset=h36m", "data.root=ROOT/nowhere"], "nowhere: folder not found"),
        (["data.root=ROOT/h36m_prepared"], "data.root is for prepared real datasets"),
        (["data.dataset=3dpw", "data.root=ROOT/h36m_prepared"], "index.json: holds dataset 'h36m', but data.dataset is '3dpw'"),
        (["data.dataset=own", "data.root=ROOT/test_only"], "index.json: no 'train' split to train on (prepared: test)"),
        (["data.dataset=h36m", "data.root=ROOT/train_only"], "index.json: no 'test' split to evaluate on"),
        (["data.dataset=h36m", "data.root=ROOT/h36m_prepared", "model.resolution=64", "model.decoder.resolution=64",
          "model.decoder.widths=[16, 16, 8, 8, 8]"], "is 32x32 pixels but model.resolution is 64"),
        (["data.dataset=h36m", "data.root=ROOT/no_2d", "objective.setting=weak"],
         "objective.setting=weak needs 2D labels, but h36m training clip 'S1/clip0' has none"),
        (["data.prior=h36m_npz"], "data.prior must be 'deepmimic', 'h36m_npz:PATH' or 'bvh:DIR', got 'h36m_npz'"),
        (["data.prior_fps=0"], "data.prior_fps must be > 0"),
        (["data.max_train_clips=-1"], "data.max_train_clips must be >= 0"),
        (["objective.silhouette_weight=-1"], "objective.silhouette_weight must be >= 0, got -1.0"),
        (["objective.twin_choice_weight=-1"], "objective.twin_choice_weight must be >= 0, got -1.0"),
        (["objective.twin_choice_margin=1"], "objective.twin_choice_margin must be in [0, 1), got 1.0"),
        (["objective.twin_choice_rule=coin"], "config.objective.twin_choice_rule must be one of 'reconstruction', 'lean', 'travel', got 'coin'"),
        (["objective.twin_choice_lean_mm=-5"], "objective.twin_choice_lean_mm must be >= 0, got -5.0"),
        (["objective.travel_min_rate=0"], "objective.travel_min_rate must be > 0, got 0.0"),
        (["data.dataset=h36m", "data.root=ROOT/h36m_prepared", "objective.twin_choice_weight=1", "objective.twin_choice_rule=travel"],
         "objective.twin_choice_rule=travel needs the person boxes of the videos (Video.person_box); the 'h36m' training videos have none (prepare them again"),
        (["data.dataset=h36m", "data.root=ROOT/h36m_prepared", "objective.travel_facing_weight=1"],
         "objective.travel_facing_weight > 0 needs the person boxes of the videos (Video.person_box)"),
        (["objective.travel_facing_weight=-1"], "objective.travel_facing_weight must be >= 0, got -1.0"),
        (["objective.side_weight=1"], "model.side_network and objective.side_weight > 0 go together"),
        (["model.side_network=true"], "model.side_network and objective.side_weight > 0 go together"),
        (["objective.side_weight=-1"], "objective.side_weight must be >= 0, got -1.0"),
        (["model.side_networks=0"], "model.side_networks must be at least 1, got 0"),
        (["model.side_networks=3"], "model.side_networks counts the side networks: it needs model.side_network=true"),
        (["model.side_network=true", "objective.side_weight=1", "model.side_networks=3",
          "model.side_inputs=[parts,image]"],
         "model.side_inputs gives one input per side network: model.side_networks is 3, got 2 inputs"),
        (["model.side_inputs=[parts]"], "model.side_inputs says what each side network reads: it needs model.side_network=true"),
        (["model.side_inputs=[parts,crop]"], "model.side_inputs[1] must be one of 'image', 'parts', got 'crop'"),
        (["objective.side_bag_fraction=0"], "objective.side_bag_fraction must be in (0, 1], got 0.0"),
        (["objective.side_bag_fraction=1.5"], "objective.side_bag_fraction must be in (0, 1], got 1.5"),
        (["model.side_network=true", "objective.side_weight=1", "objective.side_bag_fraction=0.5"],
         "objective.side_bag_fraction shares the videos among the side networks: it needs model.side_networks > 1"),
        (["model.side_ground_band_deg=95"], "model.side_ground_band_deg must be within 0..90 degrees, got 95.0"),
        (["model.side_ground_band_deg=30"], "model.side_ground_band_deg turns the side network's poses: it needs model.side_network"),
        (["data.dataset=h36m", "data.root=ROOT/h36m_prepared", "model.side_network=true", "objective.side_weight=1"],
         "objective.side_weight > 0 needs the person boxes of the videos (Video.person_box)"),
        (["objective.semi_labelled_share=1.5"], "objective.semi_labelled_share must be in [0, 1], got 1.5"),
        (["objective.semi_labelled_share=0.5"], "objective.semi_labelled_share draws labelled frames for objective.setting=semi, not 'unsup'"),
        (["optim.label_lr_scale=0"], "optim.label_lr_scale must be > 0, got 0.0"),
        (["optim.grad_clip=-1"], "optim.grad_clip must be >= 0 (0 = off), got -1.0"),
        (["optim.grad_clip_relative=0.5"], "optim.grad_clip_relative must be > 1 (a multiple of each loss's average gradient norm) or 0 (off), got 0.5"),
        (["optim.grad_clip_relative=1"], "optim.grad_clip_relative must be > 1"),
        (["optim.grad_clip_relative_by=module"], "config.optim.grad_clip_relative_by must be one of 'loss', 'part', got 'module'"),
        (["optim.grad_clip_relative_by=part"], "optim.grad_clip_relative_by=part needs a relative clip"),
    ],
)
def test_bad_data_config_is_one_clear_error(tiny_config, tmp_path, overrides, message):
    _h36m(tmp_path)
    _prepare(tmp_path / "test_only", "own", test=[_video("x/a")])
    _prepare(tmp_path / "train_only", "h36m", train=[_video("S1/a")])
    _h36m(tmp_path / "no_2d_parent", pose2d=False).rename(tmp_path / "no_2d")
    with pytest.raises(UserError) as error:
        build_training_data(tiny_config(*[o.replace("ROOT", str(tmp_path)) for o in overrides]))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_dataset_names():
    assert DATASETS == ("synthetic", "h36m", "mpi_inf_3dhp", "3dpw", "own")


# ---------------------------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------------------------


def test_deepmimic_prior_holds_out_the_benchmark_test_frames_only_for_synthetic():
    # Default split (segments): the prior is the training part of every clip, never a test frame.
    train_parts = split_segments(load_deepmimic_clips())["train"]
    default = build_prior(DataConfig())
    assert len(default) == 2 * sum(c.num_frames for c in train_parts) - default.num_dropped
    reference = PosePrior.from_clips(train_parts, mirror_poses=True)
    torch.testing.assert_close(default.poses_canon_mm, reference.poses_canon_mm, rtol=0, atol=1e-3)  # mm
    # Split by motions: the benchmark's test motions are held out.
    motions = DataConfig(synthetic=SyntheticConfig(split="motions"))
    for prior_clips, split in (("non_test", "non_test"), ("prior", "prior")):
        synthetic = build_prior(dataclasses.replace(motions, prior_clips=prior_clips))
        reference = PosePrior.from_deepmimic(split=split, mirror=True)
        assert synthetic.poses_canon_mm.shape == reference.poses_canon_mm.shape
        torch.testing.assert_close(synthetic.poses_canon_mm, reference.poses_canon_mm, rtol=0, atol=1e-3)  # mm
    test_frames = sum(c.num_frames for c in load_deepmimic_clips(["dance_b", "kick", "punch", "walker_turn_right1"]))
    assert len(build_prior(motions)) == 2 * (sum(c.num_frames for c in load_deepmimic_clips()) - test_frames) \
        - build_prior(motions).num_dropped
    real = build_prior(DataConfig(dataset="h36m", root="x"))
    total = sum(c.num_frames for c in load_deepmimic_clips())
    assert len(real) == 2 * total - real.num_dropped and real.num_dropped < 10
    unmirrored = build_prior(DataConfig(dataset="h36m", root="x", prior_mirror=False))
    assert len(unmirrored) == total - unmirrored.num_dropped


def _h36m_npz(path, frames: dict[str, int]) -> None:
    walk = load_deepmimic_clips(["walk"])[0].poses_mm / 1000.0
    positions = {}
    for subject, count in frames.items():
        poses32 = np.repeat(walk[:count, :1], 32, axis=1)
        poses32[:, list(H36M32_TO_17)] = walk[:count]
        positions[subject] = {"Walking": poses32.astype(np.float32)}
    np.savez(path, positions_3d=positions)


def test_h36m_npz_prior_uses_the_training_subjects_only(tmp_path):
    frames = {"S1": 6, "S5": 4, "S6": 3, "S7": 2, "S8": 5, "S9": 40, "S11": 30}
    _h36m_npz(tmp_path / "d3.npz", frames)
    prior = build_prior(DataConfig(dataset="h36m", root="x", prior=f"h36m_npz:{tmp_path / 'd3.npz'}"))
    assert len(prior) == 2 * (6 + 4 + 3 + 2 + 5)  # never S9, S11; mirrored
    # 50 fps -> 10 fps keeps round((T - 1) / 5) + 1 frames of each clip: 2 + 2 + 1 + 1 + 2
    slow = build_prior(DataConfig(dataset="h36m", root="x", prior=f"h36m_npz:{tmp_path / 'd3.npz'}", prior_fps=10))
    assert len(slow) == 2 * 8
    _h36m_npz(tmp_path / "s1.npz", {"S1": 5})
    with pytest.raises(UserError, match=r"s1.npz: unknown subject\(s\) S5, S6, S7, S8"):
        build_prior(DataConfig(prior=f"h36m_npz:{tmp_path / 's1.npz'}"))


def _bvh(frames: int) -> str:
    """A CMU-named T-pose skeleton (y up, cm), every joint with three rotation channels."""

    def joint(name, offset, children=(), keyword="JOINT"):
        lines = [f"{keyword} {name}", "{", f"OFFSET {offset}", "CHANNELS 3 Zrotation Xrotation Yrotation"]
        if keyword == "ROOT":
            lines[-1] = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
        body = [line for child in children for line in child] or ["End Site", "{", "OFFSET 0 5 0", "}"]
        return lines + body + ["}"]

    def chain(names, offsets):
        node = joint(names[-1], offsets[-1])
        for name, offset in zip(reversed(names[:-1]), reversed(offsets[:-1])):
            node = joint(name, offset, [node])
        return node

    legs = [chain([f"{s}UpLeg", f"{s}Leg", f"{s}Foot"], [f"{x} 0 0", "0 -40 0", "0 -40 0"]) for s, x in (("Left", 10), ("Right", -10))]
    arms = [chain([f"{s}Arm", f"{s}ForeArm", f"{s}Hand"], [f"{x} 0 0", f"{2 * x} 0 0", f"{2 * x} 0 0"]) for s, x in (("Left", 15), ("Right", -15))]
    neck = joint("Neck", "0 30 0", [joint("Head", "0 10 0")] + arms)
    hips = joint("Hips", "0 90 0", legs + [joint("Spine", "0 20 0", [neck])], keyword="ROOT")
    channels = 6 + 3 * 15
    motion = [" ".join(["0"] * 4 + [str(5 * t)] + ["0"] * (channels - 5)) for t in range(frames)]
    return "\n".join(["HIERARCHY", *hips, "MOTION", f"Frames: {frames}", "Frame Time: 0.04", *motion]) + "\n"


def test_bvh_prior_reads_every_file_of_the_folder(tmp_path):
    (tmp_path / "mocap" / "sub").mkdir(parents=True)
    (tmp_path / "mocap" / "a.bvh").write_text(_bvh(3))
    (tmp_path / "mocap" / "sub" / "b.bvh").write_text(_bvh(5))
    prior = build_prior(DataConfig(dataset="own", root="x", prior=f"bvh:{tmp_path / 'mocap'}"))
    assert len(prior) == 2 * (3 + 5)
    # 25 fps -> 50 fps: 2 (T - 1) + 1 frames per clip
    fast = build_prior(DataConfig(dataset="own", root="x", prior=f"bvh:{tmp_path / 'mocap'}", prior_fps=50))
    assert len(fast) == 2 * (5 + 9)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: no .bvh file"):
        build_prior(DataConfig(prior=f"bvh:{tmp_path / 'empty'}"))
    with pytest.raises(UserError, match="nowhere: folder not found"):
        build_prior(DataConfig(prior=f"bvh:{tmp_path / 'nowhere'}"))
