"""benchmarks/side_cues.py: the travel label, the fitted camera and the perspective gap by hand;
the script end to end."""

import math

import torch

from benchmark_scripts import ROOT, load_benchmark

cues = load_benchmark("side_cues")


def _walk(start_mm, end_mm, frames: int = 11) -> torch.Tensor:
    """``(T, 17, 3)``: a rigid stick figure whose every joint moves from ``start`` to ``end``."""
    offsets = torch.linspace(0.0, 1.0, frames, dtype=torch.float64)[:, None]
    start, end = (torch.tensor(x, dtype=torch.float64) for x in (start_mm, end_mm))
    root = start + offsets * (end - start)
    return root[:, None, :] + torch.randn(17, 3, dtype=torch.float64) * 100.0 * torch.tensor([1.0, 1.0, 0.0])


def test_the_roots_travel_labels_by_hand():
    # 5 m to 4 m in 10 frames: 2 % nearer a frame: the front; away: the back
    assert cues.root_travel_front(_walk([0, 0, 5000], [0, 0, 4000]), 0.0025) == 1.0
    assert cues.root_travel_front(_walk([0, 0, 4000], [0, 0, 5000]), 0.0025) == 0.0
    # across the image, or 4.0 to 3.95 m (0.125 % a frame): no label; one frame: none
    assert math.isnan(cues.root_travel_front(_walk([0, 0, 4000], [900, 0, 4000]), 0.0025))
    assert math.isnan(cues.root_travel_front(_walk([0, 0, 4000], [0, 0, 3950]), 0.0025))
    assert cues.root_travel_front(_walk([0, 0, 4000], [0, 0, 3950]), 0.001) == 1.0
    assert math.isnan(cues.root_travel_front(_walk([0, 0, 4000], [0, 0, 3000], frames=1), 0.0025))


def test_the_fitted_camera_reproduces_a_pinhole():
    torch.manual_seed(0)
    pose = torch.randn(5, 17, 3, dtype=torch.float64) * 300.0 + torch.tensor([0.0, 0.0, 4500.0], dtype=torch.float64)
    camera = torch.tensor([[8.0, 0.1, -0.2], [9.0, 0.0, 0.0], [7.5, -0.3, 0.05], [8.2, 0.2, 0.2], [10.0, 0.0, 0.1]],
                          dtype=torch.float64)
    drawn = camera[:, None, :1] * pose[..., :2] / pose[..., 2:] + camera[:, None, 1:]
    assert torch.allclose(cues.fit_pinhole(pose, drawn), camera, atol=1e-9)
    assert torch.allclose(cues.project(pose, camera), drawn, atol=1e-12)


def test_the_perspective_gap_vanishes_with_distance_and_is_worked_out_by_hand():
    from partpose.geometry.skeleton import H36M17

    # one joint 500 mm nearer than the root, 300 mm to its right, at 5 m; every other joint at the root
    pose = torch.zeros(1, 17, 3, dtype=torch.float64)
    pose[..., 2] = 5000.0
    wrist = H36M17.index("r_wrist")
    pose[0, wrist] = torch.tensor([300.0, 0.0, 4500.0])
    camera = torch.tensor([[10.0, 0.0, 0.0]], dtype=torch.float64)
    drawn = cues.project(pose, camera)
    # the twin puts the wrist (relabelled left) 500 mm farther: x = 10 * 300 / 5500 against 10 * 300 / 4500
    expected = 10.0 * 300.0 * (1.0 / 4500.0 - 1.0 / 5500.0) / 17.0 * 32.0 / 2.0
    assert abs(float(cues.perspective_gap_px(pose, drawn, 32)[0]) - expected) < 1e-9
    far = pose.clone()
    far[..., 2] += 95000.0  # 100 m away: almost orthographic
    assert float(cues.perspective_gap_px(far, cues.project(far, camera), 32)[0]) < 0.02 * expected


def test_side_from_turns_the_poses_that_show_the_other_side():
    from partpose.geometry.facing import depth_twin_pose, faces_camera

    generator = torch.Generator().manual_seed(0)
    pose = torch.randn(6, 17, 3, generator=generator) * 300.0 + torch.tensor([0.0, 0.0, 4000.0])
    front = faces_camera(pose)
    logits = torch.tensor([2.0, -2.0, 2.0, -2.0, 2.0, -2.0])
    sided = cues.side_from(pose, logits)
    relative = pose - pose[:, :1]
    for i in range(6):
        expected = relative[i] if bool(front[i]) == bool(logits[i] > 0) else depth_twin_pose(relative[i:i + 1])[0]
        assert torch.equal(sided[i], expected)
    assert torch.equal(faces_camera(sided), logits > 0)
    # the upright twin of a level camera is the depth twin; of a pitched one, another pose, turned on the same frames
    from partpose.geometry.facing import camera_up

    assert torch.allclose(cues.side_from(pose, logits, camera_up(0.0).float()), sided, atol=1e-3)
    pitched = cues.side_from(pose, logits, camera_up(10.0).float())
    turned = (pitched != relative).flatten(1).any(dim=1)
    assert torch.equal(turned, (sided != relative).flatten(1).any(dim=1)) and not torch.allclose(pitched, sided)


def test_the_heading_against_the_facing_by_hand():
    import numpy as np

    from partpose.data.video import Video
    from partpose.geometry.skeleton import H36M17

    # a body facing the camera (chest normal -z: l_shoulder and l_hip at +x, thorax up), walking
    # straight at a level camera from 5 m to 4 m: heading and facing agree (0°)
    body = torch.zeros(17, 3, dtype=torch.float64)
    body[H36M17.index("l_shoulder"), 0], body[H36M17.index("r_shoulder"), 0] = 200.0, -200.0
    body[H36M17.l_hip, 0], body[H36M17.r_hip, 0] = 100.0, -100.0
    body[H36M17.thorax, 1] = -500.0  # y down: the thorax above the pelvis
    assert float(torch.linalg.cross(body[H36M17.l_hip] - body[H36M17.r_hip], body[H36M17.thorax], dim=0)[2]) < 0
    pose = body.expand(11, 17, 3).clone()
    distance = torch.linspace(5000.0, 4000.0, 11, dtype=torch.float64)
    boxes = np.stack([np.zeros(11), np.zeros(11), 2000.0 / distance.numpy()], 1).astype(np.float32)
    level = np.tile(np.float32([0.0, -1.0, 0.0]), (11, 1))
    frames = np.zeros((11, 8, 8, 3), np.uint8)
    video = Video(frames=frames, person_box=boxes, camera_up=level)
    assert torch.allclose(cues.heading_angle_deg(video, pose, 0.0025), torch.zeros(11, dtype=torch.float64), atol=1e-4)
    # walking backwards (away from the camera, still facing it): 180°; no up or too slow: None
    away = Video(frames=frames, person_box=boxes[::-1].copy(), camera_up=level)
    assert torch.allclose(cues.heading_angle_deg(away, pose, 0.0025), torch.full((11,), 180.0, dtype=torch.float64), atol=1e-4)
    assert cues.heading_angle_deg(Video(frames=frames, person_box=boxes), pose, 0.0025) is None
    assert cues.heading_angle_deg(video, pose, 0.5) is None


def test_it_runs_end_to_end_and_refuses_a_missing_config(tiny_run, tmp_path, capsys):
    out = tmp_path / "cues.md"
    args = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--iterations", "2", "--batch-size", "4", "--videos", "6",
            "--test-videos", "4", "--max-frames", "32", "--threads", "1", "--checkpoints", str(tiny_run), "--out", str(out)]
    assert cues.main(args) == 0
    text = out.read_text()
    sided = [line for line in text.splitlines() if line.startswith(f"| {tiny_run.name}/")]
    assert len(sided) == 1  # one travel-taught classifier (seed 0); tiny's random scene: the depth twin alone
    assert all(float(x) > 0 for x in sided[0].split(" | ")[3:6])
    assert "| travel towards / away from the camera (person boxes) |" in text and "median" in text
    assert any(line.startswith("| all |") and line.count("|") == 8 for line in text.splitlines())
    taught = [line for line in text.splitlines() if line.startswith("| the boxes' travel labels |") or line.startswith("| the true labels")]
    assert len(taught) == 2
    assert cues.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.startswith("error:")
