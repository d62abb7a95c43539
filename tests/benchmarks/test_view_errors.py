"""benchmarks/view_errors.py: the swing-twist split and the taken-apart errors on poses turned by
hand, and the script end to end."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from benchmark_scripts import load_benchmark
from partpose.geometry.kinematics import canonicalize

view = load_benchmark("view_errors")
UP = np.array([0.0, -math.cos(math.radians(10.0)), -math.sin(math.radians(10.0))])  # 10° above
ACROSS = np.array([1.0, 0.0, 0.0])  # perpendicular to UP


def _about(axis, degrees):
    return Rotation.from_rotvec(np.asarray(axis) * math.radians(degrees)).as_matrix()


def test_swing_twist_by_hand():
    rotations = np.stack([_about(UP, 40.0), _about(ACROSS, 30.0), _about(ACROSS, 30.0) @ _about(UP, -120.0)])
    swing, twist, twist_deg = view.swing_twist(rotations, UP)
    np.testing.assert_allclose(twist_deg, [40.0, 0.0, -120.0], atol=1e-9)
    np.testing.assert_allclose(swing[0], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(swing[1], rotations[1], atol=1e-12)
    np.testing.assert_allclose(swing[2], _about(ACROSS, 30.0), atol=1e-12)
    np.testing.assert_allclose(np.einsum("bij,bjk->bik", swing, twist), rotations, atol=1e-12)


def _poses(n=40, seed=0):
    rng = np.random.default_rng(seed)
    base = torch.from_numpy(rng.normal(0.0, 250.0, (n, 17, 3)))
    return base - base[:, :1]


def test_taken_apart_on_poses_turned_by_hand():
    true = _poses()
    up = np.tile(UP, (len(true), 1))
    mean = np.zeros((17, 3))

    def turned(rotation):
        return torch.einsum("ij,bnj->bni", torch.from_numpy(rotation), true)

    same = view.taken_apart(true.clone(), true, up, mean)
    assert same["model"] == pytest.approx(0.0, abs=1e-9) and same["azimuth_deg"] == pytest.approx(0.0, abs=1e-6)
    # turned 30° about the world's up: all azimuth, no tilt; its own limbs are the truth's
    about_up = view.taken_apart(turned(_about(UP, 30.0)), true, up, mean)
    assert about_up["azimuth_deg"] == pytest.approx(30.0, abs=1e-6) and about_up["tilt_deg"] == pytest.approx(0.0, abs=1e-6)
    assert about_up["twist_only"] == pytest.approx(about_up["model"], rel=1e-9) and about_up["model"] > 10.0
    assert about_up["swing_only"] == pytest.approx(0.0, abs=1e-6)
    assert about_up["true_view_model_limbs"] == pytest.approx(0.0, abs=1e-6)
    # tilted 20° about the camera's x: all tilt
    tilted = view.taken_apart(turned(_about(ACROSS, 20.0)), true, up, mean)
    assert tilted["tilt_deg"] == pytest.approx(20.0, abs=1e-6) and tilted["azimuth_deg"] == pytest.approx(0.0, abs=1e-6)
    assert tilted["swing_only"] == pytest.approx(tilted["model"], rel=1e-9) and tilted["twist_only"] == pytest.approx(0.0, abs=1e-6)
    # turned round (150°): counted among the turned frames
    back = view.taken_apart(turned(_about(UP, 150.0)), true, up, mean)
    assert back["turned_share"] == 100.0 and math.isnan(back["azimuth_others_deg"])
    # mean limbs seen from the true view of poses that are all the mean: no error
    mean_true = true[:1].expand_as(true).clone()
    canon = canonicalize(mean_true)[0][0].numpy()
    assert view.taken_apart(mean_true, mean_true, up, canon)["model_view_mean_limbs"] == pytest.approx(0.0, abs=1e-6)


def test_the_true_side_undoes_the_upright_twin_and_nothing_else():
    from partpose.geometry.facing import faces_camera, upright_twin_pose

    true = _poses()
    up = np.tile([0.0, -1.0, 0.0], (len(true), 1))  # a level camera: the twin negates n_z exactly
    twin = upright_twin_pose(true, torch.from_numpy(up))
    assert (faces_camera(twin) != faces_camera(true)).all()
    mixed = torch.where((torch.arange(len(true)) % 2 == 0)[:, None, None], twin, true)
    e = view.taken_apart(mixed, true, up, np.zeros((17, 3)))
    assert e["model"] > 10.0 and e["true_side"] == pytest.approx(0.0, abs=1e-6)
    # a pose turned 30° about the up keeps its side: the true side changes nothing
    turned = torch.einsum("ij,bnj->bni", torch.from_numpy(_about(up[0], 30.0)), true)
    kept = faces_camera(turned) == faces_camera(true)
    e = view.taken_apart(turned[kept], true[kept], up[kept.numpy()], np.zeros((17, 3)))
    assert e["true_side"] == pytest.approx(e["model"], rel=1e-12)


def test_per_group_scores_each_motion_as_its_own_frames_alone():
    true = _poses(n=30)
    pose = torch.einsum("ij,bnj->bni", torch.from_numpy(_about(UP, 40.0)), true)
    up = np.tile(UP, (len(true), 1))
    action = np.array(["walk", "crawl", "walk"] * 10)
    result = view.per_group(pose, true, up, action, np.zeros((17, 3)))
    assert list(result) == ["crawl", "walk"] and [n for n, _ in result.values()] == [10, 20]
    crawl = view.taken_apart(pose[1::3], true[1::3], up[1::3], np.zeros((17, 3)))
    assert result["crawl"][1] == pytest.approx(crawl)


def _square_body_turned(azimuths_deg):
    """A body whose chest faces the camera (-z under a level camera, y down) at azimuth 0, turned
    about the vertical by each azimuth: its chest then lies that far from facing the camera."""
    from partpose.geometry.skeleton import H36M17

    body = np.zeros((17, 3))  # camera frame, mm: shoulders and hips along x, the spine up (-y)
    body[H36M17.thorax] = [0.0, -500.0, 0.0]
    body[H36M17.index("l_shoulder")], body[H36M17.index("r_shoulder")] = [180.0, -450.0, 0.0], [-180.0, -450.0, 0.0]
    body[H36M17.l_hip], body[H36M17.r_hip] = [120.0, 0.0, 0.0], [-120.0, 0.0, 0.0]
    return torch.from_numpy(np.stack([body @ _about([0.0, 1.0, 0.0], a).T for a in azimuths_deg]))


def test_profile_bands_by_hand():
    from partpose.geometry.facing import faces_camera

    assert bool(faces_camera(_square_body_turned([0.0]))[0])
    true = _square_body_turned([85.0, 95.0, 70.0, 40.0, 180.0, 10.0])  # 5, 5, 20, 50, 90, 80 degrees from profile
    model = _square_body_turned([60.0, 120.0, 50.0, 40.0, 170.0, 0.0])  # 30, 30, 40, 50, 80, 90
    up = np.tile([0.0, -1.0, 0.0], (len(true), 1))
    group, median = view.profile_bands(model, true, up)
    assert group.tolist() == ["the true chest 0–15° from profile"] * 2 + ["the true chest 15–30° from profile",
                              "the true chest 30–60° from profile"] + ["the true chest 60–90° from profile"] * 2
    assert median["the true chest 0–15° from profile"] == pytest.approx(30.0)
    assert median["the true chest 15–30° from profile"] == pytest.approx(40.0)
    assert median["the true chest 60–90° from profile"] == pytest.approx(85.0)


def test_it_runs_end_to_end(tiny_run, tmp_path, capsys):
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_run / "checkpoints" / "last.pt")
    frames = FrameDataset(build_synthetic_videos(loaded.config.data.synthetic, "test"))
    errors = view.view_errors(loaded.model, frames, np.zeros((17, 3)))
    direct = score(predict_frames(loaded.model, frames, max_frames=1024, with_segmentation=False))
    assert errors["model"] == pytest.approx(direct["mpjpe"], rel=1e-5)
    out = tmp_path / "view.md"
    assert view.main([str(tiny_run), "--out", str(out)]) == 0
    row = out.read_text().splitlines()[-1]
    assert row.startswith(f"| {tiny_run} |") and row.count("|") == 13
    assert view.main([str(tiny_run), "--per-action", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| … ")]
    assert sum(int(line.split("(")[1].split()[0]) for line in rows) == min(len(frames), 1024)
    assert view.main([str(tiny_run), "--per-person", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| … ")]
    people = sorted({video.subject for video in frames.videos})
    assert [line.split()[2] for line in rows] == people
    assert sum(int(line.split("(")[1].split()[0]) for line in rows) == min(len(frames), 1024)
    assert view.main([str(tiny_run), "--per-profile", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| … ")]
    assert rows and all(line.startswith("| … the true chest ") for line in rows)
    assert sum(int(line.split("(")[1].split()[0]) for line in rows) == min(len(frames), 1024)
