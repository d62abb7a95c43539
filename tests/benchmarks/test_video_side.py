"""benchmarks/video_side.py: the video means and the travel's reading by hand, the frame's reading
against ``partpose evaluate``, the true side scoring every frame right, the better twin as every
reading's floor, a frame's cost by hand, and the refusal of a model without a side network."""

import math

import numpy as np
import pytest

from benchmark_scripts import load_benchmark

video_side = load_benchmark("video_side")


def test_video_means_by_hand():
    values = np.array([1.0, 3.0, -2.0, 10.0, 4.0])
    video = np.array([0, 0, 1, 5, 1])
    np.testing.assert_allclose(video_side.video_means(values, video), [2.0, 2.0, 1.0, 10.0, 1.0])


def test_the_travel_where_it_has_a_label_else_the_logits():
    logits = np.array([0.3, -0.2, 0.7, -0.9])
    travel = np.array([0.0, 1.0, math.nan, math.nan])
    np.testing.assert_array_equal(video_side.travel_or(logits, travel), [-1.0, 1.0, 0.7, -0.9])


def test_the_hedge_by_hand():
    import torch

    front, back = torch.full((3, 17, 3), 10.0), torch.full((3, 17, 3), -2.0)
    out = video_side.hedge(front, back, np.array([0.0, 50.0, -50.0]))
    np.testing.assert_allclose(out[:, 0, 0].numpy(), [4.0, 10.0, -2.0], atol=1e-6)


def test_the_frame_is_the_evaluation_and_the_truth_is_always_right(tiny_side_run, tmp_path):
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_side_run)
    frames = FrameDataset(build_synthetic_videos(loaded.config.data.synthetic, "test"))
    result = video_side.side_readings(loaded.model, frames, min_rate=0.0025)
    direct = score(predict_frames(loaded.model, frames, with_segmentation=False))
    assert result["scores"]["the frame"]["mpjpe"] == pytest.approx(direct["mpjpe"], rel=1e-5)
    assert result["scores"]["the true side"]["right"] == 1.0
    assert result["scores"]["a hedge"]["right"] == result["scores"]["the frame"]["right"]
    assert list(result["scores"]) == list(video_side.READINGS)
    # the better twin is the floor of every side choice, and each reading sits above it by the
    # share of frames given the worse pose times their mean cost
    better = result["scores"]["the better twin"]
    assert better["worse_twin"] == 0.0
    for name in video_side.READINGS:
        if name == "a hedge":  # a blend of the two poses, which may lie nearer the truth than either
            continue
        score = result["scores"][name]
        assert score["mpjpe"] >= better["mpjpe"] - 1e-3
        excess = score["worse_twin"] * score["worse_cost"] if score["worse_twin"] > 0 else 0.0
        assert score["mpjpe"] == pytest.approx(better["mpjpe"] + excess, rel=1e-4)
    # ... and split by E's posture, the excess adds up to the same
    reading = "the frame, on the ground the hands and legs"
    worse = (result["readings"][reading] > 0) != result["better_front"]
    added = sum(row[3] for row in video_side.worse_by_posture(worse, result["cost"], result["tilt"]))
    assert result["scores"][reading]["mpjpe"] == pytest.approx(better["mpjpe"] + added, rel=1e-4)
    import torch

    item = frames[0]  # by hand for one frame: its pose turned to either side, each scored against the truth
    with torch.no_grad():
        est = loaded.model.encode(item["image"][None])
        up = item["camera_up"][None]
        poses = [loaded.model.turn_to_side(est, torch.tensor([side]), up).pose_cam_mm[0] for side in (1.0, -1.0)]
    truth = item["pose3d"].float()
    errors = [float(((pose - pose[:1]) - (truth - truth[:1])).norm(dim=-1).mean()) for pose in poses]
    assert result["cost"][0] == pytest.approx(abs(errors[0] - errors[1]), rel=1e-3, abs=1e-3)
    # the true side by the other definition (this model's is the chest's): the pose whose chest and head
    # show the side the true pose's do
    from partpose.geometry.facing import chest_and_spine_front

    world_up = loaded.model.world_up(up, truth[None])
    agrees = bool(chest_and_spine_front(poses[0][None], world_up) == chest_and_spine_front(truth[None], world_up))
    assert loaded.model.config.side_definition == "chest"
    assert (result["readings"]["the true side by the other definition"][0] > 0) == agrees
    out = tmp_path / "side.md"
    assert video_side.main([str(tiny_side_run), "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith(f"| {tiny_side_run} |")]
    assert len(rows) == 3 + len(video_side.READINGS)
    assert "the worse pose by E's posture" in rows[-2] and "upright" in rows[-2]
    assert "the frame, person by person (1 people;" in rows[-1]


def test_the_grounds_reading_is_the_evaluation_with_the_band_and_leaves_the_twins_alone(tiny_side_run):
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model, set_ground_band

    loaded = load_model(tiny_side_run)
    frames = FrameDataset(build_synthetic_videos(loaded.config.data.synthetic, "test"))
    plain = video_side.side_readings(loaded.model, frames, min_rate=0.0025, ground_band_deg=90.0)
    assert plain["on_ground"].all()  # within 90° of level: every body (a tilt of exactly 0 or 180 aside)
    set_ground_band(loaded, 90.0)  # the model's own band: partpose evaluate --ground-band 90
    banded = video_side.side_readings(loaded.model, frames, min_rate=0.0025, ground_band_deg=90.0)
    direct = score(predict_frames(loaded.model, frames, with_segmentation=False))
    reading = "the frame, on the ground the hands and legs"
    assert plain["scores"][reading]["mpjpe"] == pytest.approx(direct["mpjpe"], rel=1e-5)
    # the band given to the model changes no reading: each frame's two poses are the logits' twins
    for name in video_side.READINGS:
        assert banded["scores"][name]["mpjpe"] == pytest.approx(plain["scores"][name]["mpjpe"], rel=1e-6), name
    # with a narrow band the frames off the ground keep the frame's reading
    narrow = video_side.side_readings(loaded.model, frames, min_rate=0.0025, ground_band_deg=1e-3)
    np.testing.assert_array_equal(narrow["readings"][reading], narrow["readings"]["the frame"])


def test_the_ground_where_a_body_lies_else_the_logits():
    logits = np.array([0.3, -0.2, 0.7, -0.9])
    np.testing.assert_array_equal(video_side.ground_or(logits, np.array([True, True, False, False]),
                                                      np.array([False, True, True, True])), [-1.0, 1.0, 0.7, -0.9])


def test_the_worse_pose_by_posture_by_hand():
    worse = np.array([True, False, True, True, False, True])
    cost = np.array([10.0, 99.0, 30.0, 60.0, 5.0, 6.0])
    tilt = np.array([5.0, 29.0, 30.0, 90.0, 100.0, 180.0])
    rows = video_side.worse_by_posture(worse, cost, tilt)
    assert [r[0] for r in rows] == ["upright", "leaning", "on the ground", "head down"]
    expected = [(2 / 6, 1 / 2, 10.0 / 6), (1 / 6, 1.0, 30.0 / 6), (2 / 6, 1 / 2, 60.0 / 6), (1 / 6, 1.0, 6.0 / 6)]
    for row, (share, worse_share, mm) in zip(rows, expected):
        assert row[1:] == pytest.approx((share, worse_share, mm))
    # the millimetres add up to the mean of the worse frames' costs over all frames
    assert sum(r[3] for r in rows) == pytest.approx(float((cost * worse).mean()))


def test_more_test_people_read_person_by_person(tiny_side_run, tmp_path):
    out = tmp_path / "people.md"
    assert video_side.main([str(tiny_side_run), "--test-people", "3", "--chance", "1.01", "--out", str(out)]) == 0
    row = [line for line in out.read_text().splitlines() if "person by person" in line]
    assert len(row) == 1 and "(3 people; quartiles; below 101 %: 3)" in row[0]  # every share is below 1.01
    with pytest.raises(SystemExit):
        video_side.main([str(tiny_side_run), "--test-people", "0"])


def test_person_shares_by_hand():
    right = np.array([True, False, True, True, False])
    people = np.array(["b", "a", "b", "a", "c"])
    assert video_side.person_shares(right, people) == {"a": 0.5, "b": 1.0, "c": 0.0}


def test_a_model_without_a_side_network_is_refused(tiny_run, capsys):
    assert video_side.main([str(tiny_run)]) != 0
    assert "no side network" in capsys.readouterr().err


def test_added_side_networks_read_together_and_one_checkpoint_only(tiny_side_run, tmp_path, capsys):
    # the model's own side network added to itself: the mean of two equal logits, every reading unchanged
    alone, doubled = tmp_path / "alone.md", tmp_path / "doubled.md"
    assert video_side.main([str(tiny_side_run), "--out", str(alone)]) == 0
    assert video_side.main([str(tiny_side_run), "--add-side", str(tiny_side_run), "--out", str(doubled)]) == 0

    def cells(path):
        return [line.split(" | ", 2)[2] for line in path.read_text().splitlines() if line.startswith(f"| {tiny_side_run}")]

    assert cells(doubled) == cells(alone) and len(cells(alone)) == len(video_side.READINGS) + 3
    assert f"{tiny_side_run} and 1 added side networks" in doubled.read_text()
    with pytest.raises(SystemExit):
        video_side.main([str(tiny_side_run), str(tiny_side_run), "--add-side", str(tiny_side_run)])
    assert "give one checkpoint" in capsys.readouterr().err
