"""benchmarks/twin_preference.py: the facing sign by hand and the script end to end."""

import torch

from benchmark_scripts import load_benchmark
from rotations import turn

twin_preference = load_benchmark("twin_preference")


def test_facing_sign_by_hand():
    from partpose.geometry.facing import depth_twin_pose
    from partpose.models.encoder import rest_pose_canon_mm

    rest = rest_pose_canon_mm()[None]  # faces +x in its canonical frame
    # the camera looks along +z: turned so that +x goes to -z, the chest faces the camera
    towards = rest @ turn(1, 90.0, torch.float32).T
    away = rest @ turn(1, -90.0, torch.float32).T
    signs = twin_preference.facing_sign(torch.cat((towards, away, depth_twin_pose(towards))) + 50.0)
    assert signs.tolist() == [True, False, False]


def test_it_runs_end_to_end_and_refuses_a_bad_checkpoint(tiny_run, tmp_path, capsys):
    out = tmp_path / "twin.md"
    assert twin_preference.main([str(tiny_run), "--videos", "8", "--pairs", "16", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith(f"| {tiny_run} |")]
    assert [row.split(" | ")[1] for row in rows] == ["train", "test"]
    shares = [float(x) for x in rows[0].strip("| ").split(" | ")[2:6]]
    assert all(0.0 <= x <= 100.0 for x in shares)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert twin_preference.main([str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error:")



def test_the_tallies_by_hand():
    # four frames: errors of the true pose and its twin, of E's pose and its twin, E's front/back right
    true_error, true_twin_error = torch.tensor([1.0, 2.0, 1.0, 1.0]), torch.tensor([2.0, 1.0, 3.0, 0.5])
    pose_error, twin_error = torch.tensor([1.0, 1.0, 1.0, 1.0]), torch.tensor([0.5, 0.99, 2.0, 0.7])
    right = torch.tensor([False, True, True, True])
    tally = twin_preference.tallies(true_error, true_twin_error, pose_error, twin_error, right, margin=0.02)
    assert tally["truth_preferred"].tolist() == [True, False, True, False]
    assert tally["encoder_right"].tolist() == [False, True, True, True]
    # D prefers the pose on frame 3 (right), the twin on 1 (right: the pose was wrong), 2 and 4 (wrong)
    assert tally["decoder_right"].tolist() == [True, False, True, False]
    # the margin turns frames 1 and 4 only (frame 2's twin is better by 1 %): one of them rightly
    assert tally["chosen"].tolist() == [True, False, False, True]
    assert tally["chosen_right"].tolist() == [True, False]
