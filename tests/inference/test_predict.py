"""Reading and cropping inputs, batched pose prediction, temporal smoothing and the pose files."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from partpose.errors import UserError
from partpose.geometry import facing
from partpose.geometry.view_smoothing import smooth_view
from partpose.inference.predict import (
    encode_crops,
    frame_box,
    list_images,
    overlay_frames,
    parse_box,
    read_crops,
    smooth_prediction,
    synthesize_frames,
    write_poses,
)


def test_parse_box():
    assert parse_box("centre") == "centre" and parse_box(" Center ") == "centre" and parse_box("full") == "full"
    np.testing.assert_array_equal(parse_box("10,-4.5,100"), [10.0, -4.5, 100.0])
    for bad in ("1,2", "a,b,c", "1,2,0", "1,2,nan", "middle"):
        with pytest.raises(UserError):
            parse_box(bad)


def test_frame_box_centre_and_full():
    # OpenCV pixel centres: a W-wide frame spans [-0.5, W - 0.5].
    np.testing.assert_allclose(frame_box("centre", 40, 80), [19.5, -0.5, 40.0])
    np.testing.assert_allclose(frame_box("centre", 90, 30), [-0.5, 29.5, 30.0])
    np.testing.assert_allclose(frame_box("full", 40, 80), [-0.5, -20.5, 80.0])
    np.testing.assert_allclose(frame_box(np.array([1.0, 2.0, 3.0]), 40, 80), [1.0, 2.0, 3.0])


def test_centre_crop_takes_the_middle_square(tmp_path):
    # A 20 x 60 frame with a marker column at x = 25 and a marker row at y = 3: the centre
    # square spans columns 20..39, so at 20 px the marker lands in crop column 5, row 3.
    frame = np.zeros((20, 60, 3), np.uint8)
    frame[:, 25, 0] = 255
    frame[3, :, 1] = 255
    iio.imwrite(tmp_path / "marker.png", frame)
    crops = read_crops(tmp_path / "marker.png", 20)
    assert crops.images.shape == (1, 20, 20, 3) and crops.kind == "image" and crops.names == ["marker.png"]
    assert np.flatnonzero(crops.images[0, 10, :, 0] > 128).tolist() == [5]
    assert np.flatnonzero(crops.images[0, :, 10, 1] > 128).tolist() == [3]
    np.testing.assert_array_equal(crops.source_sizes, [[20, 60]])


def test_folder_order_every_and_max_frames(tmp_path):
    for name in ("b10.png", "b2.png", "b1.jpg", "notes.txt", "B3.PNG"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["b1.jpg", "b2.png", "B3.PNG", "b10.png"]
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(7):
        iio.imwrite(folder / f"{t}.png", np.full((12, 16, 3), 30 * t, np.uint8))
    crops = read_crops(folder, 8, every=2, max_frames=3)
    assert crops.names == ["0.png", "2.png", "4.png"]
    np.testing.assert_array_equal(crops.images[:, 4, 4, 0], [0, 60, 120])


def test_video_frames_and_truncation(tmp_path):
    frames = np.repeat((np.arange(12, dtype=np.uint8) * 20)[:, None, None, None], 3, axis=-1)
    frames = np.ascontiguousarray(np.broadcast_to(frames, (12, 24, 32, 3)))  # grey level = 20 x frame index
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=12, plugin="pyav", codec="libx264")
    crops = read_crops(tmp_path / "clip.mp4", 16, every=3)
    assert crops.kind == "video" and crops.names == ["frame_000000", "frame_000003", "frame_000006", "frame_000009"]
    assert crops.fps == pytest.approx(4.0)
    assert np.abs(crops.images.mean(axis=(1, 2, 3)) - [0, 60, 120, 180]).max() < 8
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError, match="cut.mp4"):
        read_crops(tmp_path / "cut.mp4", 16)
    (tmp_path / "junk.avi").write_bytes(b"RIFF0000AVI junk")
    with pytest.raises(UserError, match="junk.avi"):
        read_crops(tmp_path / "junk.avi", 16)


def test_encode_crops_matches_the_model_in_any_batch_size(tiny, images):
    _, model = tiny
    crops = (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    pred = encode_crops(model, crops, batch_size=2)
    with torch.no_grad():
        est = model.encode(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0)
    # batches of 2 against one batch of 5: equal up to float32 rounding of the convolutions
    np.testing.assert_allclose(pred.pose_cam_mm, est.pose_cam_mm.numpy(), atol=1e-2)
    np.testing.assert_allclose(pred.q, est.q.numpy(), atol=1e-5)
    np.testing.assert_allclose(pred.appearance, est.appearance.numpy(), atol=1e-4)
    assert pred.cam_R_canon.shape == (5, 3, 3) and pred.scale.shape == (5,)
    with pytest.raises(ValueError, match="crops must have shape"):
        encode_crops(model, crops[:, :16, :16], batch_size=2)


def test_encode_crops_gives_the_side_networks_side(model_factory, images):
    _, model = model_factory("model.side_network=true", "objective.side_weight=1", "model.side_camera_elevation_deg=10")
    crops = (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    pred = encode_crops(model, crops, batch_size=5)
    with torch.no_grad():
        tensor = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        sided, plain = model.encode_sided(tensor), model.encode(tensor)
    np.testing.assert_allclose(pred.pose_cam_mm, sided.pose_cam_mm.numpy(), atol=1e-2)
    np.testing.assert_allclose(pred.q, sided.q.numpy(), atol=1e-5)
    turned = (sided.pose_cam_mm - plain.pose_cam_mm).abs().flatten(1).amax(dim=1) > 1.0
    kept = ~turned.numpy()
    np.testing.assert_allclose(pred.pose_cam_mm[kept], plain.pose_cam_mm.numpy()[kept], atol=1e-2)
    # another camera pitch turns the same poses about that camera's up
    steep = encode_crops(model, crops, batch_size=5, camera_pitch_deg=30.0)
    with torch.no_grad():
        expected = model.encode_sided(tensor, facing.camera_up(30.0).float())
    np.testing.assert_allclose(steep.pose_cam_mm, expected.pose_cam_mm.numpy(), atol=1e-2)
    if turned.any():
        assert np.abs(steep.pose_cam_mm[turned.numpy()] - pred.pose_cam_mm[turned.numpy()]).max() > 1.0


def test_smooth_prediction_keeps_the_raw_values(tiny, images):
    _, model = tiny
    crops = (images.permute(0, 2, 3, 1) * 255).to(torch.uint8).numpy()
    pred = encode_crops(model, crops)
    smooth = smooth_prediction(pred, 3)
    np.testing.assert_array_equal(smooth.raw["pose_cam_mm"], pred.pose_cam_mm)
    np.testing.assert_allclose(smooth.q[2], pred.q[1:4].mean(0), atol=1e-6)
    np.testing.assert_array_equal(smooth.cam_R_canon, pred.cam_R_canon)
    assert smooth_prediction(pred, 1) is pred
    view = smooth_prediction(pred, 3, "view")  # the 3D pose's view alone; the 2D reading stays
    np.testing.assert_allclose(view.pose_cam_mm, smooth_view(pred.pose_cam_mm, 3), atol=1e-3)
    np.testing.assert_array_equal(view.q, pred.q)
    np.testing.assert_array_equal(view.depth, pred.depth)
    np.testing.assert_array_equal(view.raw["pose_cam_mm"], pred.pose_cam_mm)


def test_write_poses_and_overlay(tiny, images, tmp_path):
    _, model = tiny
    image_file = tmp_path / "a.png"
    iio.imwrite(image_file, (images[0].permute(1, 2, 0) * 255).to(torch.uint8).numpy())
    crops = read_crops(image_file, 32, box=np.array([-0.5, -0.5, 64.0]))  # the top-left quarter of a 64 px box
    pred = encode_crops(model, crops.images)
    pred.q[0, 0] = (-1.0, 1.0)  # the box's bottom-left corner
    npz, js = write_poses(tmp_path / "out", crops, pred, {"note": "test"})
    saved = np.load(npz)
    np.testing.assert_allclose(saved["q_px"][0, 0], [-0.5, 63.5], atol=1e-4)
    assert saved["pose_cam_mm"].shape == (1, 17, 3) and saved["joint_names"][0] == "pelvis"
    record = json.loads(js.read_text())
    assert record["info"] == {"note": "test"} and record["frames"][0]["q_px"][0] == [-0.5, 63.5]

    labels, resynthesis = synthesize_frames(model, pred)
    assert labels.shape == (1, 32, 32) and labels.dtype == np.uint8 and resynthesis.shape == (1, 32, 32, 3)
    panels = overlay_frames(crops.images, pred.q, labels, resynthesis, crops.names, tile=64)
    assert panels.shape == (1, 64, 192, 3) and panels.std() > 0
