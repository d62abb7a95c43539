"""benchmarks/pose_errors.py: the errors by hand, and the script end to end."""

import pytest
import torch

from benchmark_scripts import load_benchmark

pose_errors = load_benchmark("pose_errors")


def test_pose_errors_by_hand():
    true = torch.zeros(1, 3, 3)
    true[0, 1] = torch.tensor([100.0, 0.0, 0.0])
    true[0, 2] = torch.tensor([0.0, 100.0, 0.0])
    pose = true.clone()
    pose[0, 1, 2] = 40.0  # joint 1 off in depth by 40 mm
    pose[0, 2, :2] += torch.tensor([30.0, 40.0])  # joint 2 off across the image by 50 mm
    pose = pose + torch.tensor([5.0, -7.0, 900.0])  # a root elsewhere changes nothing
    q_true = torch.zeros(1, 3, 2)
    q = q_true.clone()
    q[0, 0] = torch.tensor([0.3, 0.4])  # one joint 0.5 off
    m = pose_errors.pose_errors(q, q_true, pose, true + 2000.0)
    assert m["error_2d"] == pytest.approx(0.5 / 3)
    assert m["error_xy_mm"] == pytest.approx(50.0 / 3)
    assert m["error_depth_mm"] == pytest.approx(40.0 / 3)
    assert m["mpjpe"] == pytest.approx((40.0 + 50.0) / 3)


def test_script_end_to_end(tiny_run, tmp_path, capsys):
    out = tmp_path / "errors.md"
    assert pose_errors.main([str(tiny_run), "--max-frames", "8", "--out", str(out)]) == 0
    row = out.read_text().splitlines()[-1].split("|")
    assert row[1].strip() == str(tiny_run)
    error_2d, xy, depth, mpjpe = (float(cell) for cell in row[2:6])
    assert error_2d > 0 and 0 < xy <= mpjpe and 0 < depth <= mpjpe


def test_missing_checkpoint_is_one_line_error(tmp_path, capsys):
    assert pose_errors.main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
