"""benchmarks/drawing_turns.py: the signed turn of bodies turned by hand, the summary and the
colour gap worked out by hand, and the script end to end."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from benchmark_scripts import load_benchmark
from partpose.geometry.mirror import mirror_directions, mirror_joints
from partpose.geometry.parts import PART_NAMES
from partpose.geometry.skeleton import H36M17

turns = load_benchmark("drawing_turns")
F64 = torch.float64
UP = np.array([0.0, -math.cos(math.radians(10.0)), -math.sin(math.radians(10.0))])  # a camera 10° above


def _facing_the_camera() -> torch.Tensor:
    """An upright body facing a level camera squarely (camera: x right, y down, z forward), 5 m
    away: its left side on the image's right, its chest towards -z."""
    pose = torch.zeros(1, H36M17.num_joints, 3, dtype=F64)
    place = {"pelvis": (0, 0, 0), "thorax": (0, -500, 0), "l_shoulder": (180, -500, 0), "r_shoulder": (-180, -500, 0),
             "l_hip": (120, 0, 0), "r_hip": (-120, 0, 0)}
    for name, point in place.items():
        pose[0, H36M17.index(name)] = torch.tensor(point, dtype=F64)
    return pose


def _turned(degrees: float, up: np.ndarray = UP) -> torch.Tensor:
    """The body facing the camera, stood along ``up`` and turned about it by ``degrees``."""
    stand = Rotation.align_vectors([up], [[0.0, -1.0, 0.0]])[0]
    turn = Rotation.from_rotvec(up * math.radians(degrees))
    rotation = torch.as_tensor((turn * stand).as_matrix(), dtype=F64)
    return (_facing_the_camera() @ rotation.T) + torch.tensor([0.0, 0.0, 5000.0], dtype=F64)


@pytest.mark.parametrize("degrees", [0.0, 20.0, -35.0, 60.0, -80.0])
def test_the_turn_of_a_body_turned_by_hand(degrees):
    turn, tilt = turns.signed_turn_deg(_turned(degrees), UP)
    assert abs(turn[0]) == pytest.approx(abs(degrees), abs=1e-6)
    assert tilt[0] == pytest.approx(0.0, abs=1e-6)
    # facing away, turned as far: the same size
    away, _ = turns.signed_turn_deg(_turned(180.0 - degrees), UP)
    assert abs(away[0]) == pytest.approx(abs(degrees), abs=1e-6)
    if degrees:
        # turned the other way: the other sign, in the mirror too
        other, _ = turns.signed_turn_deg(_turned(-degrees), UP)
        assert np.sign(other[0]) == -np.sign(turn[0])
        mirrored, _ = turns.signed_turn_deg(mirror_joints(_turned(degrees)), mirror_directions(torch.as_tensor(UP)))
        assert mirrored[0] == pytest.approx(-turn[0], abs=1e-6)
        # facing away keeps the sign of the side the chest points to
        assert np.sign(away[0]) == np.sign(turn[0])


def test_a_chest_facing_the_sky_has_no_turn():
    on_its_back = Rotation.align_vectors([UP], [[0.0, 0.0, -1.0]])[0]  # the chest's normal along the up
    pose = _facing_the_camera() @ torch.as_tensor(on_its_back.as_matrix(), dtype=F64).T
    turn, tilt = turns.signed_turn_deg(pose, UP)
    assert np.isnan(turn[0]) and tilt[0] == pytest.approx(90.0, abs=1e-6)


def test_turn_summary_by_hand():
    model = np.array([40.0, -10.0, 20.0, 5.0, np.nan, 50.0])
    truth = np.array([60.0, 45.0, -35.0, 10.0, 70.0, 80.0])
    tilt = np.array([0.0, 10.0, 5.0, 0.0, 0.0, 45.0])  # the last one is not upright
    summary = turns.turn_summary(model, truth, tilt)
    # compared: the first four; turned >= 30: the first three, the sign right on the first only
    assert summary["bodies"] == 4 and summary["turned"] == 3
    assert summary["sign_right"] == pytest.approx(100.0 / 3.0)
    assert summary["model_size"] == pytest.approx(np.median([40.0, 10.0, 20.0, 5.0]))
    assert summary["true_size"] == pytest.approx(np.median([60.0, 45.0, 35.0, 10.0]))


def test_left_right_colour_gaps_by_hand():
    labels = torch.zeros(2, 4, 4, dtype=torch.long)
    arm_l, arm_r = PART_NAMES.index("l_upper_arm") + 1, PART_NAMES.index("r_upper_arm") + 1
    labels[:, 0, :] = arm_l
    labels[:, 1, :] = arm_r
    labels[1, 1, :] = 0  # the second drawing shows no right arm
    image = torch.zeros(2, 3, 4, 4)
    image[:, :, 0, :] = torch.tensor([0.9, 0.5, 0.1])[:, None]
    image[:, :, 1, :] = torch.tensor([0.3, 0.5, 0.4])[:, None]
    gaps = turns.left_right_colour_gaps(image, labels, min_pixels=4)
    assert gaps == [pytest.approx((0.6 + 0.0 + 0.3) / 3.0)]
    assert turns.left_right_colour_gaps(image, labels, min_pixels=5) == []
    # the palette's own gap is that of its colours
    assert 0.1 < turns.palette_gap() < 1.0


def test_it_runs_end_to_end(tiny_run, tmp_path, capsys):
    out = tmp_path / "turns.md"
    assert turns.main([str(tiny_run), "--drawings", "8", "--max-frames", "32", "--out", str(out)]) == 0
    row = out.read_text().splitlines()[-1]
    assert row.startswith(f"| {tiny_run} |") and row.count("|") == 21
    # the same seed draws the same drawings
    assert turns.main([str(tiny_run), "--drawings", "8", "--max-frames", "32", "--out", str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_text().splitlines()[-1] == row
    with pytest.raises(SystemExit):
        turns.main([str(tiny_run), "--drawings", "0"])
