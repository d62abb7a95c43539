import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from partpose.data.datasets.crops import load_prepared
from partpose.data.datasets.h36m import (
    H36MCamera,
    H36MDataset,
    camera_to_world,
    load_h36m_2d,
    load_h36m_cameras,
    load_h36m_poses,
    prepare_h36m,
    project_to_pixels,
    quaternion_to_matrix,
    world_to_camera,
)
from partpose.errors import UserError

CAM0, CAM1, CAM2, CAM3 = "54138969", "55011271", "58860488", "60457274"
H32_TO_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
# Camera 5 m behind the origin along −y, looking along +y: camera x = world x, camera y (down)
# = world −z, camera z = world y. Camera→world rotation: −90° about x.
Q_LOOK_Y = [np.sqrt(0.5), -np.sqrt(0.5), 0.0, 0.0]


def _camera(**overrides) -> H36MCamera:
    values = dict(
        id=CAM0, center=np.array([500.0, 510.0]), focal_length=np.array([1000.0, 1100.0]),
        radial_distortion=np.zeros(3), tangential_distortion=np.zeros(2), res_w=1000, res_h=1002,
        orientation=np.array([np.sqrt(0.5), 0.0, 0.0, np.sqrt(0.5)]),  # 90° about z
        translation=np.array([1000.0, 2000.0, 500.0]),
    )
    values.update({k: np.asarray(v, dtype=float) if isinstance(v, list) else v for k, v in overrides.items()})
    return H36MCamera(**values)


def test_quaternion_order_is_wxyz():
    q = np.array([0.9, 0.1, -0.3, 0.2])
    expected = Rotation.from_quat(np.roll(q, -1)).as_matrix()  # scipy wants x, y, z, w
    np.testing.assert_allclose(quaternion_to_matrix(q), expected, atol=1e-12)


def test_world_to_camera_to_pixels_hand_worked():
    camera = _camera()
    # R (90° about z) = [[0,-1,0],[1,0,0],[0,0,1]]; X − t = (300, −100, 2000); Rᵀ(X − t) = (−100, −300, 2000)
    world = np.array([[1300.0, 1900.0, 2500.0]])
    cam = world_to_camera(world, camera)
    np.testing.assert_allclose(cam, [[-100.0, -300.0, 2000.0]], atol=1e-9)
    np.testing.assert_allclose(camera_to_world(cam, camera), world, atol=1e-9)
    # pinhole: (x, y) = (−0.05, −0.15) → (1000·−0.05 + 500, 1100·−0.15 + 510)
    np.testing.assert_allclose(project_to_pixels(cam, camera), [[450.0, 345.0]], atol=1e-9)
    # radial k1 = 0.1: r² = 0.025, factor 1.0025
    radial = _camera(radial_distortion=[0.1, 0.0, 0.0])
    np.testing.assert_allclose(project_to_pixels(cam, radial), [[449.875, 344.5875]], atol=1e-9)
    # tangential (p1, p2) = (0.01, 0.02): d = 1 + p1·y + p2·x = 0.9975, plus (p2, p1)·r²
    tangential = _camera(tangential_distortion=[0.01, 0.02])
    np.testing.assert_allclose(project_to_pixels(cam, tangential), [[450.625, 345.6875]], atol=1e-9)
    np.testing.assert_allclose(project_to_pixels(cam, tangential, distort=False), [[450.0, 345.0]], atol=1e-9)


# ---------------------------------------------------------------------------------------------
# A tiny Human3.6M folder in the real layout
# ---------------------------------------------------------------------------------------------

T = 5
RES = 64


def _poses_32_m(offset_x: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(3)
    offsets = np.column_stack([rng.uniform(-0.3, 0.3, 32), rng.uniform(-0.2, 0.2, 32), rng.uniform(-0.7, 0.8, 32)])
    offsets[0] = 0.0
    pelvis = np.column_stack([offset_x + 0.08 * np.arange(T), np.zeros(T), np.full(T, 0.9)])
    return (pelvis[:, None] + offsets[None]).astype(np.float32)


def _cameras_json(path: Path) -> None:
    intrinsic = {"center": [31.5, 31.5], "focal_length": [60.0, 60.0], "radial_distortion": [0.0, 0.0, 0.0],
                 "tangential_distortion": [0.0, 0.0], "res_w": RES, "res_h": RES, "azimuth": 70}
    extrinsic = {"orientation": Q_LOOK_Y, "translation": [0.0, -5000.0, 900.0]}
    shifted = dict(intrinsic, center=[30.0, 33.0])
    data = {"intrinsics": {CAM0: intrinsic, CAM1: shifted, CAM2: intrinsic, CAM3: intrinsic},
            "extrinsics": {"S9": {c: extrinsic for c in (CAM0, CAM1, CAM2, CAM3)}}}
    path.write_text(json.dumps(data))


def _frames(camera: H36MCamera, poses_m: np.ndarray) -> np.ndarray:
    """Textured backdrop; a red 3×3 marker at the projected pelvis."""
    rng = np.random.default_rng(0)
    backdrop = rng.integers(0, 100, (RES, RES, 3), dtype=np.uint8)
    frames = np.repeat(backdrop[None], poses_m.shape[0], axis=0)
    pelvis_px = project_to_pixels(world_to_camera(poses_m[:, 0] * 1000.0, camera), camera)
    for k, (u, v) in enumerate(np.round(pelvis_px).astype(int)):
        frames[k, v - 1 : v + 2, u - 1 : u + 2] = (255, 0, 0)
    return frames


def _make_root(tmp_path: Path, video_camera: bool = True) -> Path:
    """S9 "Walking 1": cameras 0, 2, 3 as extracted frames, camera 1 as an mp4 video."""
    root = tmp_path / "h36m"
    (root / "S9").mkdir(parents=True)
    poses = _poses_32_m()
    np.savez_compressed(root / "data_3d_h36m.npz", positions_3d={"S9": {"Walking 1": poses}})
    _cameras_json(root / "cameras.json")
    cameras = load_h36m_cameras(root / "cameras.json")["S9"]
    for cam_id in (CAM0, CAM2, CAM3):
        folder = root / "S9" / f"Walking 1.{cam_id}"
        folder.mkdir()
        for k, image in enumerate(_frames(cameras[cam_id], poses)):
            cv2.imwrite(str(folder / f"{k:06d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 100])
    if video_camera:
        (root / "S9" / "Videos").mkdir()
        writer = cv2.VideoWriter(str(root / "S9" / "Videos" / f"Walking 1.{CAM1}.mp4"),
                                 cv2.VideoWriter_fourcc(*"mp4v"), 50, (RES, RES))
        for image in _frames(cameras[CAM1], poses):
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        writer.release()
    return root


def _marker_position(frame: np.ndarray) -> np.ndarray:
    redness = frame[..., 0].astype(float) - frame[..., 1:].mean(axis=-1)
    v, u = np.unravel_index(np.argmax(redness), redness.shape)
    return np.array([u, v], dtype=float)


def test_load_poses_picks_17_joints_in_mm(tmp_path):
    poses = np.zeros((2, 32, 3), np.float32)
    poses[..., 0] = np.arange(32) / 1000.0  # joint k of the 32 at x = k mm
    poses[..., 2] = 1.5
    np.savez(tmp_path / "p.npz", positions_3d={"S1": {"Eating": poses}})
    out = load_h36m_poses(tmp_path / "p.npz")
    assert out["S1"]["Eating"].shape == (2, 17, 3)
    np.testing.assert_allclose(out["S1"]["Eating"][0, :, 0], H32_TO_17, atol=1e-3)
    np.testing.assert_allclose(out["S1"]["Eating"][..., 2], 1500.0, atol=1e-3)


def test_load_2d_file(tmp_path):
    arrays = [np.full((3, 17, 2), k, np.float32) for k in range(4)]
    np.savez(tmp_path / "d2.npz", positions_2d={"S1": {"Eating": arrays}},
             metadata={"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]})
    positions, metadata = load_h36m_2d(tmp_path / "d2.npz")
    assert len(positions["S1"]["Eating"]) == 4 and positions["S1"]["Eating"][3][0, 0, 0] == 3
    assert metadata["num_joints"] == 17
    np.savez(tmp_path / "bad.npz", positions_2d={"S1": {}})
    with pytest.raises(UserError, match="bad.npz: missing key.*metadata"):
        load_h36m_2d(tmp_path / "bad.npz")


def test_dataset_from_frames_and_video(tmp_path):
    root = _make_root(tmp_path)
    videos = H36MDataset(root, "test", resolution=32, subjects=["S9"], cameras=[CAM0, CAM1], frame_step=1,
                         segment_frames=None, margin=0.3, use_2d_file=False)
    assert isinstance(videos, list) and len(videos) == 2
    cameras = load_h36m_cameras(root / "cameras.json")["S9"]
    world_mm = _poses_32_m()[:, H32_TO_17] * 1000.0
    for video, cam_id, tolerance in ((videos[0], CAM0, 1.5), (videos[1], CAM1, 2.0)):
        assert video.name == f"h36m/S9/Walking 1.{cam_id}"
        assert (video.subject, video.action) == ("S9", "Walking")
        assert video.frames.shape == (T, 32, 32, 3) and not video.camera_moves
        assert video.background.shape == (32, 32, 3)
        # camera frame: the pelvis 5 m in front (z), 0.9 m up → y = 0 (camera at 0.9 m height)
        np.testing.assert_allclose(video.pose3d_cam_mm, world_to_camera(world_mm, cameras[cam_id]), atol=1e-2)
        np.testing.assert_allclose(video.pose3d_cam_mm[:, 0, 2], 5000.0, atol=1e-2)
        np.testing.assert_allclose(video.pose3d_cam_mm[:, 0, 0], 80.0 * np.arange(T), atol=1e-2)
        # the person box in the camera's image plane: the box of the projected joints, through
        # the camera's intrinsics; the world's up (+z) in camera coordinates
        projected = world_to_camera(world_mm, cameras[cam_id])
        xy = projected[..., :2] / projected[..., 2:]
        expected_side = (xy.max(axis=1) - xy.min(axis=1)).max(axis=1) * 1.6  # margin 0.3 each side
        np.testing.assert_allclose(video.person_box[:, 2], expected_side, rtol=1e-5)
        np.testing.assert_allclose(video.person_box[:, :2], 0.5 * (xy.max(axis=1) + xy.min(axis=1)), atol=1e-6)
        np.testing.assert_allclose(video.camera_up, np.tile([0.0, -1.0, 0.0], (T, 1)), atol=1e-6)  # a level camera
        # the marker drawn at the projected pelvis sits where pose2d_norm says, in every crop
        for k in range(T):
            expected = (video.pose2d_norm[k, 0] + 1) * 32 / 2 - 0.5
            np.testing.assert_allclose(_marker_position(video.frames[k]), expected, atol=tolerance)


def test_2d_file_takes_priority(tmp_path):
    root = _make_root(tmp_path, video_camera=False)
    projected = H36MDataset(root, "test", 32, subjects=["S9"], cameras=[CAM0], frame_step=1, segment_frames=None)
    cameras = load_h36m_cameras(root / "cameras.json")["S9"]
    world_mm = _poses_32_m()[:, H32_TO_17] * 1000.0
    px = project_to_pixels(world_to_camera(world_mm, cameras[CAM0]), cameras[CAM0]).astype(np.float32)
    shifted = [px + np.float32(2.0), px, px, px]
    np.savez(root / "data_2d_h36m_gt.npz", positions_2d={"S9": {"Walking 1": shifted}}, metadata={"num_joints": 17})
    from_file = H36MDataset(root, "test", 32, subjects=["S9"], cameras=[CAM0], frame_step=1, segment_frames=None)
    # the same box shift moves every joint, so the normalised pose is unchanged but the crop moved
    np.testing.assert_allclose(from_file[0].pose2d_norm, projected[0].pose2d_norm, atol=1e-4)
    assert not np.array_equal(from_file[0].frames, projected[0].frames)


def test_frame_step_and_segments(tmp_path):
    root = _make_root(tmp_path, video_camera=False)
    videos = H36MDataset(root, "test", 16, subjects=["S9"], cameras=[CAM0], frame_step=2, segment_frames=None)
    assert videos[0].num_frames == 3  # frames 0, 2, 4
    clips = H36MDataset(root, "test", 16, subjects=["S9"], cameras=[CAM0], frame_step=1, segment_frames=2)
    assert [v.name for v in clips] == [f"h36m/S9/Walking 1.{CAM0}#0", f"h36m/S9/Walking 1.{CAM0}#1"]
    assert [v.num_frames for v in clips] == [2, 3]


def test_prepare_writes_the_cache(tmp_path):
    root = _make_root(tmp_path)
    # the fixture holds S9 only: the test split
    summary = prepare_h36m(root, tmp_path / "out", resolution=16, progress=False, splits=["test"], subjects=["S9"],
                           frame_step=1)
    entries = summary["test"]["videos"]
    assert [e["file"] for e in entries] == [f"test/h36m/S9/Walking 1.{c}.npz" for c in (CAM0, CAM1, CAM2, CAM3)]
    assert sum(e["frames"] for e in entries) == 4 * T and entries[0]["action"] == "Walking"
    loaded = load_prepared(tmp_path / "out", "test")
    assert len(loaded) == 4
    assert loaded[0].frames.shape == (T, 16, 16, 3) and loaded[0].pose3d_cam_mm.shape == (T, 17, 3)
    with pytest.raises(UserError, match="data_3d_h36m.npz: unknown subject.*S1"):
        prepare_h36m(root, tmp_path / "out", resolution=16, progress=False, splits=["train"])


def test_bad_inputs_raise_naming_the_file(tmp_path):
    root = _make_root(tmp_path, video_camera=False)
    with pytest.raises(UserError, match=r"data_3d_h36m.npz: unknown subject\(s\) S11"):
        H36MDataset(root, "test", 16, subjects=["S9", "S11"])
    np.savez(root / "data_3d_h36m.npz", positions_3d={"S9": {"Walking 1": _poses_32_m()}, "S11": {"Walking 1": _poses_32_m()}})
    cams = json.loads((root / "cameras.json").read_text())
    cams["extrinsics"]["S11"] = cams["extrinsics"]["S9"]
    (root / "cameras.json").write_text(json.dumps(cams))
    with pytest.raises(UserError, match=r"S11: missing subject folder"):
        H36MDataset(root, "test", 16, subjects=["S9", "S11"], cameras=[CAM0])
    # one frame too few
    (root / "S9" / f"Walking 1.{CAM0}" / f"{T - 1:06d}.jpg").unlink()
    with pytest.raises(UserError, match=rf"Walking 1.{CAM0}: holds {T - 1} frames but the annotations describe {T}"):
        H36MDataset(root, "test", 16, subjects=["S9"], cameras=[CAM0])
    # the camera of another recording is missing from the folder
    with pytest.raises(UserError, match=rf"Walking 1.{CAM1}.*not found"):
        H36MDataset(root, "test", 16, subjects=["S9"], cameras=[CAM1])
    # npz without the key, camera file without a key
    np.savez(root / "data_3d_h36m.npz", poses={"S9": {}})
    with pytest.raises(UserError, match=r"data_3d_h36m.npz: no 'positions_3d' key"):
        H36MDataset(root, "test", 16, subjects=["S9"])
    del cams["intrinsics"][CAM0]["focal_length"]
    (root / "cameras.json").write_text(json.dumps(cams))
    with pytest.raises(UserError, match=r"cameras.json: intrinsics\['54138969'\]: missing key 'focal_length'"):
        load_h36m_cameras(root / "cameras.json")
    with pytest.raises(UserError, match="unknown Human3.6M split"):
        H36MDataset(root, "val", 16)
