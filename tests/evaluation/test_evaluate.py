"""evaluation/evaluate.py: predictions are the side network's poses turned about each video's
own camera up (Video.camera_up), and about the configured pitch where a video has none."""

import numpy as np
import pytest
import torch
from torch import nn

from partpose.data.pairs import FrameDataset
from partpose.data.video import Video
from partpose.evaluation.evaluate import predict_frames
from partpose.geometry import facing
from partpose.models.partpose_model import ModelConfig, PartPoseModel


class _BrightIsFront(nn.Module):
    """A stand-in side network: the front on bright frames, the back on dark ones."""

    def forward(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        return image.mean(dim=(1, 2, 3)) - 0.5


def _video(levels: list[int], camera_up: np.ndarray | None, name: str) -> Video:
    rng = np.random.default_rng(len(name))
    frames = np.stack([np.clip(level + rng.integers(-20, 20, (64, 64, 3)), 0, 255) for level in levels]).astype(np.uint8)
    return Video(frames=frames, pose3d_cam_mm=rng.normal(0, 300, (len(levels), 17, 3)).astype(np.float32),
                 camera_up=camera_up, name=name).validate()


def test_predictions_turn_each_video_about_its_own_camera_up():
    torch.manual_seed(0)
    model = PartPoseModel(ModelConfig(side_network=True, side_camera_elevation_deg=10.0)).eval()
    model.side = _BrightIsFront()
    steep = facing.camera_up(40.0).float()
    videos = [_video([200, 40, 60], np.tile(steep.numpy(), (3, 1)), "a"), _video([30, 220], None, "b")]
    frames = FrameDataset(videos)
    pred = predict_frames(model, frames, batch_size=4, with_segmentation=False)
    images = torch.stack([frames[i]["image"] for i in range(len(frames))])
    with torch.no_grad():
        est = model.encode(images)
        turned = facing.faces_camera(est.pose_cam_mm) != (model.side(images) > 0)
        expected = torch.cat([facing.upright_twin_pose(est.pose_cam_mm[:3], steep),
                              facing.upright_twin_pose(est.pose_cam_mm[3:], facing.camera_up(10.0).float())])
        expected = torch.where(turned[:, None, None], expected, est.pose_cam_mm)
    assert turned[:3].any() and turned[3:].any()  # both videos have turned frames
    np.testing.assert_allclose(pred.pose_cam_mm, (expected - expected[:, :1]).numpy(), atol=1e-3)
    # and the up matters: about the other video's up, the first video's turned frames differ
    with torch.no_grad():
        other = facing.upright_twin_pose(est.pose_cam_mm[:3], facing.camera_up(10.0).float())
    i = int(torch.nonzero(turned[:3])[0])
    assert np.abs(pred.pose_cam_mm[i] - (other[i] - other[i, :1]).numpy()).max() > 1.0


def test_smooth_within_videos_never_crosses_a_video():
    from partpose.evaluation.evaluate import Predictions, smooth_within_videos

    rng = np.random.default_rng(0)
    pose, q = rng.normal(size=(7, 17, 3)), rng.normal(size=(7, 17, 2))
    index = np.array([0, 0, 0, 1, 1, 1, 1])
    pred = Predictions(pose.copy(), pose.copy(), q.copy(), None, None, index)
    smoothed = smooth_within_videos(pred, 3)
    # frame 2 (the first video's last) averages frames 1 and 2 only; frame 3 (the second's first) 3 and 4
    np.testing.assert_allclose(smoothed.pose_cam_mm[2], pose[1:3].mean(0))
    np.testing.assert_allclose(smoothed.pose_cam_mm[3], pose[3:5].mean(0))
    np.testing.assert_allclose(smoothed.q_norm[5], q[4:7].mean(0))
    np.testing.assert_array_equal(smoothed.gt_pose_cam_mm, pose)  # the truth is left as it is
    assert smooth_within_videos(pred, 1) is pred
    with pytest.raises(ValueError, match="consecutive"):
        smooth_within_videos(Predictions(pose, pose, q, None, None, np.array([0, 0, 1, 1, 0, 0, 0])), 3)


@pytest.mark.parametrize("window", [0, 3])
def test_a_side_window_gives_each_frame_the_side_its_video_reads(window):
    from partpose.evaluation.evaluate import video_side_logits

    torch.manual_seed(0)
    model = PartPoseModel(ModelConfig(side_network=True, side_camera_elevation_deg=10.0)).eval()
    model.side = _BrightIsFront()
    videos = [_video([200, 40, 60, 230], None, "a"), _video([30, 220, 40], None, "b")]
    frames = FrameDataset(videos)
    images = torch.stack([frames[i]["image"] for i in range(len(frames))])
    with torch.no_grad():
        own = model.side(images)
    spans = [(0, 4), (4, 7)]
    expected_logits = torch.empty(7)
    for start, stop in spans:  # by hand, never across the two videos
        for t in range(start, stop):
            lo, hi = (start, stop) if window == 0 else (max(start, t - 1), min(stop, t + 2))
            expected_logits[t] = own[lo:hi].mean()
    torch.testing.assert_close(torch.from_numpy(video_side_logits(model, frames, window, batch_size=3)), expected_logits)
    pred = predict_frames(model, frames, batch_size=3, with_segmentation=False, side_window=window)
    with torch.no_grad():
        expected = model.turn_to_side(model.encode(images), expected_logits).pose_cam_mm
    np.testing.assert_allclose(pred.pose_cam_mm, (expected - expected[:, :1]).numpy(), atol=1e-3)
    # the window changes some frame's side from its own reading
    assert ((expected_logits > 0) != (own > 0)).any()


def test_a_side_window_needs_a_side_network():
    model = PartPoseModel(ModelConfig()).eval()
    with pytest.raises(ValueError, match="side network"):
        predict_frames(model, FrameDataset([_video([100, 120], None, "a")]), with_segmentation=False, side_window=0)
