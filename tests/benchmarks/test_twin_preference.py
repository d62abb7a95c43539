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
