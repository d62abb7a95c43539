"""``partpose predict`` end to end: an image, a folder, a video, and bad inputs."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from partpose.data.synthetic import SyntheticConfig, build_synthetic_videos


@pytest.fixture(scope="module")
def frames():
    """Ten 40 x 56 landscape frames of a rendered test video (the person in the middle)."""
    video = build_synthetic_videos(SyntheticConfig(resolution=40, frames_per_video=10), "test", indices=[0])[0]
    return np.pad(video.frames, ((0, 0), (0, 0), (8, 8), (0, 0)), mode="edge")


def _not_blank(picture):
    assert picture.std() > 0


def test_predict_image(cli, checkpoint, frames, tmp_path):
    iio.imwrite(tmp_path / "person.png", frames[0])
    status, stdout, _ = cli("predict", tmp_path / "person.png", "--checkpoint", checkpoint, "--out", tmp_path / "out")
    assert status == 0 and "1 frame" in stdout
    poses = np.load(tmp_path / "out" / "poses.npz")
    assert poses["pose_cam_mm"].shape == (1, 17, 3) and poses["q"].shape == (1, 17, 2)
    assert np.isfinite(poses["pose_cam_mm"]).all() and np.abs(poses["pose_cam_mm"]).max() > 100
    # centre square crop of a 40 x 56 frame: x0 = (56 - 40) / 2 - 0.5, y0 = -0.5, side 40
    np.testing.assert_allclose(poses["boxes"][0], [7.5, -0.5, 40.0])
    record = json.loads((tmp_path / "out" / "poses.json").read_text())
    assert record["frames"][0]["name"] == "person.png" and len(record["joint_names"]) == 17
    np.testing.assert_allclose(record["frames"][0]["pose_cam_mm"], poses["pose_cam_mm"][0], atol=0.01)
    overlay = iio.imread(tmp_path / "out" / "overlay.png")
    assert overlay.shape == (192, 3 * 192, 3)
    _not_blank(overlay)
    _not_blank(iio.imread(tmp_path / "out" / "skeleton3d.png"))


def test_predict_flip_test_of_a_mirrored_picture_is_the_mirrored_pose(cli, checkpoint, frames, tmp_path):
    from partpose.geometry.skeleton import H36M17

    iio.imwrite(tmp_path / "person.png", frames[3])
    iio.imwrite(tmp_path / "mirror.png", np.ascontiguousarray(frames[3][:, ::-1]))
    poses = {}
    for name in ("person", "mirror"):
        out = tmp_path / name
        status, _, _ = cli("predict", tmp_path / f"{name}.png", "--checkpoint", checkpoint, "--out", out,
                           "--flip-test", "--overlay", "none")
        assert status == 0 and json.loads((out / "poses.json").read_text())["info"]["flip_test"] is True
        poses[name] = np.load(out / "poses.npz")["pose_cam_mm"][0]
    mirrored_back = poses["mirror"][list(H36M17.flip_permutation)] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored_back, poses["person"], atol=0.05)


def test_predict_folder_with_smoothing(cli, checkpoint, frames, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t in (0, 1, 2, 3, 4, 10):
        iio.imwrite(folder / f"f{t}.png", frames[t % len(frames)])
    status, _, _ = cli("predict", folder, "--checkpoint", checkpoint, "--out", tmp_path / "out", "--smooth", 3,
                       "--box", "0,0,40", "--no-progress")
    assert status == 0
    poses = np.load(tmp_path / "out" / "poses.npz")
    assert list(poses["frame_names"]) == ["f0.png", "f1.png", "f2.png", "f3.png", "f4.png", "f10.png"]  # natural order
    raw, smooth = poses["pose_cam_mm_raw"], poses["pose_cam_mm"]
    np.testing.assert_allclose(smooth[2], raw[1:4].mean(0), atol=1e-3)  # centred window of 3
    np.testing.assert_allclose(smooth[0], raw[0:2].mean(0), atol=1e-3)  # shrinks at the ends
    np.testing.assert_allclose(poses["boxes"], np.tile([0.0, 0.0, 40.0], (6, 1)))
    animation = iio.imread(tmp_path / "out" / "overlay.gif", index=None)
    assert animation.shape == (6, 192, 3 * 192, 3)
    _not_blank(animation)


def test_predict_video(cli, checkpoint, frames, tmp_path):
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=10, plugin="pyav", codec="libx264")
    status, stdout, _ = cli("predict", tmp_path / "clip.mp4", "--checkpoint", checkpoint, "--out", tmp_path / "out",
                            "--smooth", 5, "--smooth-method", "savgol", "--no-progress")
    assert status == 0 and "10 frames" in stdout
    poses = np.load(tmp_path / "out" / "poses.npz")
    assert poses["pose_cam_mm"].shape == (10, 17, 3) and poses["frame_names"][3] == "frame_000003"
    video = iio.imread(tmp_path / "out" / "overlay.mp4", plugin="pyav")
    assert video.shape == (10, 192, 3 * 192, 3)
    _not_blank(video)


def test_predict_bad_inputs(cli, assert_one_line_error, checkpoint, frames, tmp_path):
    assert_one_line_error(cli("predict", tmp_path / "missing.png", "--checkpoint", checkpoint), "missing.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    assert_one_line_error(cli("predict", tmp_path / "corrupt.png", "--checkpoint", checkpoint, "--out", tmp_path / "o"),
                          "corrupt.png")
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=10, plugin="pyav", codec="libx264")
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    assert_one_line_error(cli("predict", tmp_path / "cut.mp4", "--checkpoint", checkpoint, "--out", tmp_path / "o",
                              "--no-progress"), "cut.mp4")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(cli("predict", tmp_path / "empty", "--checkpoint", checkpoint), "no image files")
    (tmp_path / "notes.txt").write_text("hello")
    assert_one_line_error(cli("predict", tmp_path / "notes.txt", "--checkpoint", checkpoint), "unknown input type")
    iio.imwrite(tmp_path / "ok.png", frames[0])
    assert_one_line_error(cli("predict", tmp_path / "ok.png", "--checkpoint", checkpoint, "--box", "1,2"), "--box")
    assert_one_line_error(cli("predict", tmp_path / "ok.png", "--checkpoint", checkpoint, "--smooth", 4), "--smooth")
    assert_one_line_error(cli("predict", tmp_path / "ok.png", "--checkpoint", checkpoint, "--camera-pitch", 95),
                          "--camera-pitch")
    assert_one_line_error(cli("predict", tmp_path / "ok.png", "--checkpoint", checkpoint, "--camera-pitch", 10),
                          "no side network")
    torch.save({"model": {}}, tmp_path / "random.pt")
    assert_one_line_error(cli("predict", tmp_path / "ok.png", "--checkpoint", tmp_path / "random.pt"), "random.pt")


def test_predict_folder_with_a_side_window(cli, assert_one_line_error, checkpoint, side_checkpoint, frames, tmp_path):
    from partpose.inference.loading import load_model
    from partpose.inference.predict import images_to_tensor, read_crops

    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(5):
        iio.imwrite(folder / f"f{t}.png", frames[t])
    status, _, _ = cli("predict", folder, "--checkpoint", side_checkpoint, "--out", tmp_path / "out",
                       "--side-window", 3, "--box", "0,0,40", "--overlay", "none", "--no-progress")
    assert status == 0
    poses = np.load(tmp_path / "out" / "poses.npz")
    assert json.loads((tmp_path / "out" / "poses.json").read_text())["info"]["side_window"] == 3
    # by hand: the side network's logits of the five crops, a centred mean of three (two at the ends)
    loaded = load_model(side_checkpoint)
    crops = read_crops(folder, loaded.resolution, np.array([0.0, 0.0, 40.0]))
    images = images_to_tensor(crops.images)
    with torch.no_grad():
        own = loaded.model.side_logits(images)
        front = torch.stack([own[max(0, t - 1):t + 2].mean() for t in range(5)])
        expected = loaded.model.encode_sided(images, front_logits=front).pose_cam_mm
    np.testing.assert_allclose(poses["pose_cam_mm"], expected.numpy(), atol=1e-2)
    assert_one_line_error(cli("predict", folder, "--checkpoint", side_checkpoint, "--side-window", -1), "--side-window")
    assert_one_line_error(cli("predict", folder, "--checkpoint", checkpoint, "--side-window", 0), "no side network")
    assert_one_line_error(cli("predict", folder, "--checkpoint", side_checkpoint, "--ground-band", -1), "--ground-band")
    assert_one_line_error(cli("predict", folder, "--checkpoint", checkpoint, "--ground-band", 30), "no side network")
    status, _, _ = cli("predict", folder, "--checkpoint", side_checkpoint, "--out", tmp_path / "ground", "--ground-band", 30,
                       "--box", "0,0,40", "--overlay", "none", "--no-progress")
    assert status == 0 and json.loads((tmp_path / "ground" / "poses.json").read_text())["info"]["ground_band_deg"] == 30.0


def test_predict_with_an_added_side_network(cli, assert_one_line_error, checkpoint, side_checkpoint, frames, tmp_path):
    from partpose.inference.loading import load_model
    from partpose.inference.predict import images_to_tensor, read_crops
    from partpose.models.side import SideNetwork
    from partpose.training import checkpoint as ckpt

    folder = tmp_path / "frames"
    folder.mkdir()
    for t in range(4):
        iio.imwrite(folder / f"f{t}.png", frames[t])
    loaded = load_model(side_checkpoint)
    torch.manual_seed(3)
    other = SideNetwork(loaded.model.config.encoder).eval()
    payload = ckpt.load(side_checkpoint, map_location="cpu")
    payload["model"].update({f"side.{k}": v for k, v in other.state_dict().items()})
    ckpt.save_atomic(payload, tmp_path / "refit.pt")
    status, _, _ = cli("predict", folder, "--checkpoint", side_checkpoint, "--out", tmp_path / "out", "--add-side",
                       tmp_path / "refit.pt", "--box", "0,0,40", "--overlay", "none", "--no-progress")
    assert status == 0
    info = json.loads((tmp_path / "out" / "poses.json").read_text())["info"]
    assert info["added_side_networks"] == [str(tmp_path / "refit.pt")]
    # by hand: each crop's pose turned to the side the two networks' mean logit reads
    images = images_to_tensor(read_crops(folder, loaded.resolution, np.array([0.0, 0.0, 40.0])).images)
    with torch.no_grad():
        front = (loaded.model.side_logits(images) + other(images)) / 2
        expected = loaded.model.encode_sided(images, front_logits=front).pose_cam_mm
    np.testing.assert_allclose(np.load(tmp_path / "out" / "poses.npz")["pose_cam_mm"], expected.numpy(), atol=1e-2)
    assert_one_line_error(cli("predict", folder, "--checkpoint", checkpoint, "--add-side", tmp_path / "refit.pt"),
                          "has none")
