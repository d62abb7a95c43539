"""benchmarks/view_probe.py: the facing targets and scores by hand, the ridge probe on a known
linear map, and the script end to end."""

import math

import pytest
import torch

from benchmark_scripts import load_benchmark
from rotations import turn

view_probe = load_benchmark("view_probe")


def test_facing_targets_by_hand():
    # the camera looks along +z: a chest facing -z faces the camera
    facing = torch.tensor([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [-0.6, 0.0, -0.8]])
    targets = view_probe.facing_targets(facing)
    expected = torch.tensor([[1.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [-1.0, -1.0, 0.0], [1.0, 0.8, -0.6]])
    assert torch.allclose(targets, expected, atol=1e-6)


def test_facing_in_camera_is_the_turned_canonical_facing():
    from partpose.models.encoder import rest_pose_canon_mm

    rest = rest_pose_canon_mm()[None]  # faces +x in its canonical frame
    for degrees in (0.0, 70.0, 180.0):
        rotation = turn(1, degrees, torch.float32)
        facing = view_probe.facing_in_camera(rest @ rotation.T)
        assert torch.allclose(facing[0], rotation[:, 0], atol=1e-5)


def test_turn_to_azimuth_sets_the_azimuth_and_keeps_the_limbs():
    from partpose.models.encoder import rest_pose_canon_mm

    tilt = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.8, -0.6], [0.0, 0.6, 0.8]])  # a camera looking down a little
    pose = (rest_pose_canon_mm()[None] @ turn(1, 30.0, torch.float32).T) @ tilt.T
    pose = pose.expand(3, -1, -1).clone()
    wanted = torch.tensor([0.0, math.pi / 2, -2.5])
    turned = view_probe.turn_to_azimuth(pose + 100.0, wanted)  # any root position: root-relative out
    facing = view_probe.facing_in_camera(turned)
    assert torch.allclose(torch.atan2(facing[:, 0], -facing[:, 2]), wanted, atol=1e-4)
    assert torch.allclose(facing[:, 1], view_probe.facing_in_camera(pose)[:, 1], atol=1e-5)  # the elevation stays
    bones = lambda p: (p[:, 1:] - p[:, :1]).norm(dim=-1)  # noqa: E731
    assert torch.allclose(bones(turned), bones(pose), atol=1e-3)  # a rotation: the limbs stay
    assert torch.allclose(turned[:, 0], torch.zeros(3, 3))


def test_scores_by_hand():
    truth = torch.tensor([[1.0, 1.0, 0.0], [-1.0, 0.0, 1.0], [1.0, 1.0, 0.0], [-1.0, -1.0, 0.0]])
    # right side, 0° off; right side, 90° off; wrong side, 30° off; right side, 170° off (wrapped)
    az = [0.0, 0.0, 30.0, 10.0]
    predicted = torch.tensor([[1.0, math.cos(math.radians(a)), math.sin(math.radians(a))] for a in az])
    predicted[1, 0], predicted[2, 0], predicted[3, 0] = -1.0, -1.0, -1.0
    accuracy, clear, median = view_probe.scores(predicted, truth)
    assert accuracy == pytest.approx(75.0)
    assert clear == pytest.approx(200.0 / 3.0)  # the second frame is seen side on: not a clear one
    # errors 0, 90, 30, 170: torch's median of an even count is the lower middle value
    assert median == pytest.approx(30.0, abs=1e-4)


def test_ridge_recovers_a_linear_map_and_the_probe_picks_a_decay():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(400, 6, generator=generator) * torch.tensor([1.0, 5.0, 0.1, 2.0, 1.0, 3.0]) + 2.0
    weights = torch.randn(6, 3, generator=generator)
    targets = features @ weights + torch.tensor([0.5, -1.0, 0.0])
    fit = view_probe.fit_ridge(features, targets, decay=0.0)
    assert torch.allclose(view_probe.apply_ridge(fit, features), targets, atol=1e-3)
    shrunk = view_probe.apply_ridge(view_probe.fit_ridge(features, targets, decay=100.0), features)
    assert (shrunk - targets).abs().mean() > 0.1  # a large decay cannot fit it
    videos = torch.arange(400) // 10
    _, decay = view_probe.fit_probe(features, targets, videos)
    assert decay in view_probe.DECAYS
    with pytest.raises(ValueError, match="two videos"):
        view_probe.fit_probe(features, targets, torch.zeros(400, dtype=torch.long))


def test_it_runs_end_to_end_and_refuses_a_bad_checkpoint(tiny_run, tmp_path, capsys):
    out = tmp_path / "probe.md"
    assert view_probe.main([str(tiny_run), "--untrained", "--videos", "8", "--max-frames", "64", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 2 and rows[0].startswith(f"| {tiny_run} |") and rows[1].startswith("| untrained")
    says_front, truth_front = rows[0].split(" | ")[2].replace("%", "").strip("() ").split(" (")
    assert 0.0 <= float(says_front) <= 100.0 and 0.0 <= float(truth_front) <= 100.0
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert view_probe.main([str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_a_checkpoint_of_another_dataset_is_one_clear_error(tiny_run, monkeypatch, capsys):
    from dataclasses import replace

    import partpose.inference.loading as loading
    from partpose.inference.loading import load_model

    real = load_model(tiny_run)
    other = replace(real, config=replace(real.config, data=replace(real.config.data, dataset="h36m")))
    monkeypatch.setattr(loading, "load_model", lambda path: other)
    assert view_probe.main([str(tiny_run)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tiny_run}: trained on 'h36m'; this script reads the synthetic benchmark only")


def test_side_righted_twins_exactly_the_poses_showing_the_wrong_side():
    from partpose.geometry.facing import depth_twin_pose
    from partpose.models.encoder import rest_pose_canon_mm

    rest = rest_pose_canon_mm()[None]  # faces +x in its canonical frame; the camera looks along +z
    towards, away = rest @ turn(1, 90.0, torch.float32).T, rest @ turn(1, -90.0, torch.float32).T
    pose = torch.cat((towards, towards, away)) + 300.0  # not root-relative: the result is
    predicted = view_probe.facing_targets(view_probe.facing_in_camera(pose))
    truth = torch.tensor([[1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [-1.0, -1.0, 0.0]])
    righted = view_probe.side_righted(pose, predicted, truth)
    relative = pose - pose[:, :1]
    assert torch.allclose(righted[0], relative[0]) and torch.allclose(righted[2], relative[2])
    assert torch.allclose(righted[1], depth_twin_pose(relative)[1])
    # the twin shows the other side
    assert view_probe.facing_targets(view_probe.facing_in_camera(righted))[1, 0] < 0
