import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from partpose.data.datasets.crops import load_prepared
from partpose.data.datasets.own_videos import (
    OwnVideosDataset,
    find_recordings,
    load_frame_annotations,
    prepare_own_videos,
)
from partpose.errors import UserError
from partpose.geometry.skeleton import H36M17

H, W = 32, 40


def _clip(t: int, moving_camera: bool, seed: int = 0) -> np.ndarray:
    """A smooth textured backdrop (static or panning 3 px a frame) with a bright block walking right."""
    rng = np.random.default_rng(seed)
    wide = cv2.resize(rng.integers(0, 160, (12, 30, 3), dtype=np.uint8), (W + 3 * t, H), interpolation=cv2.INTER_CUBIC)
    frames = []
    for k in range(t):
        shift = 3 * k if moving_camera else 0
        image = wide[:, shift : shift + W].copy()
        image[12:20, 8 + 2 * k : 14 + 2 * k] = (250, 250, 250)
        frames.append(image)
    return np.stack(frames)


def _write_video(path: Path, frames: np.ndarray) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for image in frames:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()


def _write_folder(path: Path, frames: np.ndarray) -> None:
    path.mkdir(parents=True)
    for k, image in enumerate(frames):
        cv2.imwrite(str(path / f"frame{k:03d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def test_finds_videos_and_frame_folders(tmp_path):
    _write_video(tmp_path / "walk.avi", _clip(8, False))
    _write_folder(tmp_path / "pan", _clip(6, True))
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "empty").mkdir()
    found = find_recordings(tmp_path)
    assert [(r.name, type(r.source).__name__) for r in found] == [("pan", "ImageList"), ("walk", "VideoFile")]
    assert find_recordings(tmp_path / "walk.avi")[0].name == "walk"


def test_unlabelled_clips_static_and_moving_camera(tmp_path):
    _write_video(tmp_path / "walk.avi", _clip(8, False))
    _write_folder(tmp_path / "pan", _clip(8, True, seed=1))
    videos = {v.name: v for v in OwnVideosDataset(tmp_path, resolution=20, segment_frames=None)}
    static, moving = videos["own/walk"], videos["own/pan"]
    assert static.frames.shape == (8, 20, 20, 3) and static.pose3d_cam_mm is None and static.pose2d_norm is None
    assert not static.camera_moves and static.background.shape == (20, 20, 3)
    assert moving.camera_moves and moving.background is None
    assert static.subject == "walk"
    # without annotations the crop is the whole frame padded to a square: 4 black rows top and bottom
    # at 40 → 20 px, i.e. 2 rows at each edge
    assert static.frames[:, :2].max() == 0 and static.frames[:, -2:].max() == 0
    assert static.frames[:, 2:-2].mean() > 20


def test_annotations_select_frames_and_give_2d_labels(tmp_path):
    frames = _clip(6, False)
    _write_folder(tmp_path / "clip", frames)
    rng = np.random.default_rng(5)
    keypoints = rng.uniform([5, 5], [35, 27], (3, 17, 2))
    keypoints[:, 0] = [[10.0 + 2 * k, 15.0] for k in (1, 3, 4)]  # the pelvis on the block
    entries = [{"index": i, "keypoints": kp.tolist()} for i, kp in zip((1, 3, 4), keypoints)]
    entries[1]["box"] = [4.0, 4.0, 30.0, 28.0]
    (tmp_path / "clip.json").write_text(json.dumps({"keypoint_format": "h36m17", "frames": entries}))
    (video,) = OwnVideosDataset(tmp_path, resolution=24, segment_frames=None, box_mode="frame")
    assert video.num_frames == 3 and video.pose2d_norm.shape == (3, 17, 2)
    # frame 3 used its box [4, 30] × [4, 28]: square of side 26 × 1.4 centred at (17, 16)
    side = 26 * 1.4
    np.testing.assert_allclose(video.pose2d_norm[1, 0], [2 * (16 - (17 - side / 2)) / side - 1,
                                                         2 * (15 - (16 - side / 2)) / side - 1], atol=1e-5)
    labels = load_frame_annotations(tmp_path / "clip.json", num_frames=6)
    assert labels.indices.tolist() == [1, 3, 4]
    # the crop of frame 1 shows the block where the pelvis label is
    q = (video.pose2d_norm[0, H36M17.index("pelvis")] + 1) * 24 / 2 - 0.5
    u, v = np.round(q).astype(int)
    assert video.frames[0, v, u].min() > 200


def test_boxes_only_give_no_labels(tmp_path):
    _write_video(tmp_path / "walk.avi", _clip(6, False))
    frames = [{"index": k, "box": [5, 8, 20, 24]} for k in range(0, 6, 2)]
    (tmp_path / "walk.json").write_text(json.dumps({"frames": frames}))
    (video,) = OwnVideosDataset(tmp_path, resolution=16)
    assert video.num_frames == 3 and video.pose2d_norm is None


def test_bad_inputs_raise_naming_the_file(tmp_path):
    with pytest.raises(UserError, match="no videos"):
        OwnVideosDataset(tmp_path)
    _write_video(tmp_path / "walk.avi", _clip(6, False))
    (tmp_path / "walk.json").write_text(json.dumps({"frames": [{"index": 9, "box": [0, 0, 5, 5]}]}))
    with pytest.raises(UserError, match="walk.json: frames\\[0\\] annotates frame 9 but the recording has 6 frames"):
        OwnVideosDataset(tmp_path)
    (tmp_path / "walk.json").write_text(json.dumps({"frames": [{"index": 0, "box": [5, 5, 0, 0]}]}))
    with pytest.raises(UserError, match="walk.json: frames\\[0\\].box must be"):
        OwnVideosDataset(tmp_path)
    (tmp_path / "walk.json").write_text(json.dumps({"keypoint_format": "h36m17",
                                                    "frames": [{"index": 0, "keypoints": [[1, 2], [3, 4]]}]}))
    with pytest.raises(UserError, match="walk.json: frames\\[0\\]: keypoint_format h36m17 needs 17"):
        OwnVideosDataset(tmp_path)
    (tmp_path / "walk.json").write_text("{not json")
    with pytest.raises(UserError, match="walk.json: cannot read as JSON"):
        OwnVideosDataset(tmp_path)
    (tmp_path / "walk.json").unlink()
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(tmp_path / "noise.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for _ in range(12):
        writer.write(rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    writer.release()
    data = (tmp_path / "noise.avi").read_bytes()
    (tmp_path / "noise.avi").write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(UserError, match="noise.avi: truncated or unreadable"):
        OwnVideosDataset(tmp_path)


def test_prepare(tmp_path):
    _write_folder(tmp_path / "videos" / "pan", _clip(6, True))
    summary = prepare_own_videos(tmp_path / "videos", tmp_path / "out", resolution=16, progress=False)
    assert [e["file"] for e in summary["train"]["videos"]] == ["train/own/pan.npz"]
    (video,) = load_prepared(tmp_path / "out", "train")
    assert video.frames.shape == (6, 16, 16, 3) and video.camera_moves
