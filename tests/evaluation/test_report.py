"""Benchmark reports: per-group metrics, resizing prepared clips, the Markdown tables."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from partpose.data.video import Video
from partpose.errors import UserError
from partpose.evaluation.evaluate import Predictions
from partpose.evaluation.report import (
    BENCHMARKS,
    get_benchmark,
    group_metrics,
    markdown_report,
    resize_video,
    with_test_people,
)


def _predictions(n=7, seed=0):
    rng = np.random.default_rng(seed)
    gt = rng.normal(scale=300.0, size=(n, 17, 3)).astype(np.float32)
    pred = (gt + rng.normal(scale=80.0, size=gt.shape)).astype(np.float32)
    return Predictions(pred, gt, np.zeros((n, 17, 2), np.float32), None, None, np.zeros(n, np.int64))


def test_group_metrics_against_a_loop():
    pred = _predictions()
    groups = ["walk", "run", "walk", "jump", "run", "walk", "walk"]
    table = group_metrics(pred, groups)
    assert list(table) == ["walk", "run", "jump", "average"]
    errors = np.linalg.norm(pred.pose_cam_mm - pred.gt_pose_cam_mm, axis=-1)  # (N, 17)
    for name in ("walk", "run", "jump"):
        rows = [i for i, g in enumerate(groups) if g == name]
        assert table[name]["frames"] == len(rows)
        assert table[name]["mpjpe"] == pytest.approx(errors[rows].mean(), rel=1e-5)
        assert table[name]["pck3d"] == pytest.approx(100.0 * (errors[rows] < 150.0).mean(), rel=1e-5)
    means = [table[g]["mpjpe"] for g in ("walk", "run", "jump")]
    assert table["average"]["mpjpe"] == pytest.approx(np.mean(means)) and table["average"]["frames"] == 7


def test_resize_video_keeps_labels_consistent():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    frames[:, :4] = 200  # top half bright
    segmentation = np.zeros((2, 8, 8), np.uint8)
    segmentation[:, :, 6:] = 3  # right quarter is part 3
    video = Video(frames, frames[0].copy(), False, np.ones((2, 17, 3), np.float32), np.zeros((2, 17, 2), np.float32),
                  segmentation, "v", "s", "a", np.float32([[0.0, 0.1, 0.5], [0.0, 0.1, 0.6]]))
    small = resize_video(video, 4)
    assert np.array_equal(small.person_box, video.person_box)  # the box in the image plane does not change
    assert small.frames.shape == (2, 4, 4, 3) and small.background.shape == (4, 4, 3)
    np.testing.assert_array_equal(small.frames[0, :, 0, 0], [200, 200, 0, 0])
    np.testing.assert_array_equal(small.segmentation[0, 0], [0, 0, 0, 3])
    assert small.pose3d_cam_mm is video.pose3d_cam_mm and small.action == "a"
    assert resize_video(video, 8) is video


def test_benchmarks_and_markdown():
    assert set(BENCHMARKS) >= {"synthetic", "h36m", "mpi_inf_3dhp", "3dpw"}
    with pytest.raises(UserError, match="known datasets: synthetic"):
        get_benchmark("coco")
    pred = _predictions()
    report = {
        "dataset": "h36m", "metrics": {"mpjpe": 101.25, "frames": 7}, "group_label": "action",
        "per_group": group_metrics(pred, ["a"] * 3 + ["b"] * 4),
        "protocol": {"mpjpe": {"a": 1.0, "average": 99.5}, "num_frames": 7},
    }
    text = markdown_report(report, "title")
    assert "| MPJPE (mm) | 101.2 |" in text or "| MPJPE (mm) | 101.3 |" in text
    assert "| a | 3 |" in text and "| b | 4 |" in text and "**average over actions** | 7 |" in text
    assert "| mpjpe | 99.5 |" in text and text.startswith("### title")
    report["per_person"] = group_metrics(pred, ["S9"] * 5 + ["S11"] * 2)
    text = markdown_report(report)
    assert "| S9 | 5 |" in text and "| S11 | 2 |" in text and "**average over persons** | 7 |" in text


def test_more_test_people_keep_the_videos_and_give_them_to_the_people_in_turn():
    from partpose.data.synthetic import load_split_motions, plan_videos, split_subjects
    from partpose.training.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml", [])
    config = replace(config, data=replace(config.data, synthetic=replace(config.data.synthetic, test_videos_per_motion=3)))
    more = with_test_people(config, 5)
    assert more.data.synthetic.num_test_subjects == 5 and config.data.synthetic.num_test_subjects == 1
    assert more.data.synthetic.num_train_subjects == config.data.synthetic.num_train_subjects
    lengths = {name: len(p) for name, p in load_split_motions(config.data.synthetic, "test").items()}
    few, many = plan_videos(config.data.synthetic, "test", lengths), plan_videos(more.data.synthetic, "test", lengths)
    assert [replace(s, subject="") for s in few] == [replace(s, subject="") for s in many]
    people = [s.name for s in split_subjects(more.data.synthetic, "test")]
    assert [s.subject for s in many] == [people[i % 5] for i in range(len(many))]
    first = split_subjects(config.data.synthetic, "test")[0]
    assert repr(first) == repr(split_subjects(more.data.synthetic, "test")[0])  # the same person, drawn alike
