"""benchmarks/side_teacher.py: the video mean, the labelled videos and the variants by hand; the
script end to end."""

import math

import numpy as np
import pytest
import torch

from benchmark_scripts import ROOT, load_benchmark

teacher = load_benchmark("side_teacher")


def test_the_video_mean_by_hand():
    logits = torch.tensor([1.0, 3.0, -2.0, 0.5, 4.0, -1.0])
    video = torch.tensor([0, 0, 1, 2, 1, 2])
    expected = torch.tensor([2.0, 2.0, 1.0, -0.25, 1.0, -0.25])
    assert torch.allclose(teacher.video_mean(logits, video), expected)


def test_the_labelled_videos_are_a_seeded_fraction():
    chosen = teacher.labelled_videos(50, 0.1, seed=3)
    assert chosen.dtype == torch.bool and int(chosen.sum()) == 5
    assert torch.equal(chosen, teacher.labelled_videos(50, 0.1, seed=3))
    assert not torch.equal(chosen, teacher.labelled_videos(50, 0.1, seed=4))
    assert int(teacher.labelled_videos(50, 0.001, seed=0).sum()) == 1  # at least one
    with pytest.raises(ValueError, match="fraction"):
        teacher.labelled_videos(50, 0.0, seed=0)


def test_variants_parse_and_bad_ones_are_named():
    assert teacher.parse_variant("travel") == ("travel", None)
    assert teacher.parse_variant("labelled:0.1") == ("labelled", 0.1)
    assert teacher.parse_variant("labelled_only:0.25") == ("labelled_only", 0.25)
    for bad in ("labelled", "travel:0.1", "oracle", "labelled:x"):
        with pytest.raises(ValueError, match="variant"):
            teacher.parse_variant(bad)


def test_training_frames_carry_each_videos_travel_and_steadiness():
    from partpose.data.video import Video

    def clip(distances, facing_camera: bool):
        n = len(distances)
        boxes = np.stack([np.zeros(n), np.zeros(n), 2000.0 / np.asarray(distances)], 1).astype(np.float32)
        # a body facing the camera: l_shoulder and l_hip at +x, the thorax above the pelvis (y down)
        from partpose.geometry.skeleton import H36M17

        body = np.zeros((17, 3), np.float32)
        body[H36M17.index("l_shoulder"), 0], body[H36M17.index("r_shoulder"), 0] = 200.0, -200.0
        body[H36M17.l_hip, 0], body[H36M17.r_hip, 0] = 100.0, -100.0
        body[H36M17.thorax, 1] = -500.0
        if not facing_camera:
            body[:, 0] *= -1.0  # turned about the vertical: the chest away from the camera
        pose = np.repeat(body[None], n, 0) + np.float32([0.0, 0.0, 4000.0])
        return Video(frames=np.zeros((n, 8, 8, 3), np.uint8), pose3d_cam_mm=pose, person_box=boxes)

    steady_walk = clip(np.linspace(5000, 4000, 6), True)  # nearer every frame: the front, steady
    curl = clip([4000, 3000, 2000, 2000, 3000, 3900], False)  # the box grows and shrinks: not steady
    still = clip([4000] * 6, True)  # no travel: no label
    frames = teacher.training_frames([steady_walk, curl, still], 0.0025, 0.8)
    assert frames.images.shape == (18, 3, 8, 8)
    assert torch.equal(frames.truth, torch.tensor([1.0] * 6 + [0.0] * 6 + [1.0] * 6))
    assert torch.equal(frames.travel[:12], torch.tensor([1.0] * 6 + [1.0] * 6)) and frames.travel[12:].isnan().all()
    assert torch.equal(frames.steady, torch.tensor([True] * 6 + [False] * 12))
    assert torch.equal(frames.video, torch.arange(3).repeat_interleave(6))
    assert math.isclose(float(frames.images.max()), 0.0)
    # the part patches instead of the crops: (T, 3, size, 2 size) a video
    steady_walk.pose2d_norm = np.zeros((6, 17, 2), np.float32)
    assert teacher.training_frames([steady_walk], 0.0025, 0.8, parts=4).images.shape == (6, 3, 4, 8)


def test_it_runs_end_to_end_and_refuses_a_bad_variant(tmp_path, capsys):
    out = tmp_path / "teacher.md"
    args = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--iterations", "2", "--batch-size", "4", "--videos", "6",
            "--test-videos", "4", "--max-frames", "32", "--threads", "1", "--min-r2", "0",
            "--variants", "travel", "teacher", "student", "labelled:0.5", "labelled_only:0.5", "truth", "--out", str(out)]
    assert teacher.main(args) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| the ")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| the travel", "| the steady travel (a teacher)", "| the steady travel, the teacher elsewhere (a student)",
        "| the truth on 50% of the videos, the travel elsewhere", "| the truth on 50% of the videos alone",
        "| the truth (the travel's frames)"]
    assert all(row.count("|") == 9 for row in rows)
    parts = ["--parts", "8", "--variants", "travel", "--out", str(tmp_path / "parts.md")]
    assert teacher.main(args[:args.index("--variants")] + parts) == 0
    assert "the part patches, 8 px" in (tmp_path / "parts.md").read_text()
    assert teacher.main(["--config", str(ROOT / "configs" / "tiny.yaml"), "--variants", "oracle"]) == 2
    assert "unknown variant 'oracle'" in capsys.readouterr().err
