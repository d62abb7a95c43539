import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from partpose.data.datasets.pw3d import (
    PW3DDataset,
    actor_labels,
    load_sequence,
    prepare_pw3d,
    smpl24_to_h36m17,
)
from partpose.errors import UserError
from partpose.evaluation.metrics import PW3D_EVAL_JOINTS
from partpose.evaluation.protocols import pw3d_protocol
from partpose.geometry.skeleton import H36M17

N = 5
SIZE = 48
K = np.array([[40.0, 0.0, 23.5], [0.0, 40.0, 23.5], [0.0, 0.0, 1.0]])
ROT_Z90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _cam_poses() -> np.ndarray:
    """World→camera: frame 0 identity, frame 1 a quarter turn about z, the camera 3 m back."""
    poses = np.tile(np.eye(4), (N, 1, 1))
    poses[:, :3, 3] = [0.0, 0.0, 3.0]
    poses[1, :3, :3] = ROT_Z90
    poses[2:, :3, 3] = [0.05, -0.05, 3.2]  # the hand-held camera moves
    return poses


def _joints_world_m(shift: float) -> np.ndarray:
    rng = np.random.default_rng(4)
    joints = rng.uniform(-0.4, 0.4, (24, 3))
    joints[0] = [0.1, 0.2, 0.0]
    return np.repeat((joints + [shift, 0.0, 0.0])[None], N, axis=0)


def _project(joints_world_m: np.ndarray) -> np.ndarray:
    cam = np.einsum("nij,nkj->nki", _cam_poses()[:, :3, :3], joints_world_m) + _cam_poses()[:, None, :3, 3]
    h = cam @ K.T
    return h[..., :2] / h[..., 2:]


def _sequence(valid_1=(1, 1, 0, 1, 1)) -> dict:
    actors = [_joints_world_m(0.0), _joints_world_m(0.6)]
    poses2d = []
    for joints in actors:
        px = _project(joints)[:, :18]  # any 18 points of the body for the box
        conf = np.ones((N, 18))
        conf[:, 10:] = 0.0
        conf[3] = 0.0  # a frame without detections: the box falls back to the 3D joints
        poses2d.append(np.concatenate([px, conf[..., None]], axis=-1).transpose(0, 2, 1))
    return {
        "sequence": "downtown_test_00",
        "betas": [np.zeros(10), np.zeros(10)],
        "poses": [np.zeros((N, 72)), np.zeros((N, 72))],
        "trans": [np.zeros((N, 3)), np.zeros((N, 3))],
        "jointPositions": [a.reshape(N, 72) for a in actors],
        "poses2d": poses2d,
        "campose_valid": [np.ones(N), np.asarray(valid_1, float)],
        "img_frame_ids": np.arange(N),
        "cam_poses": _cam_poses(),
        "cam_intrinsics": K,
        "genders": ["m", "f"],
    }


def _make_root(tmp_path: Path, data: dict | None = None, images: int = N) -> Path:
    root = tmp_path / "3dpw"
    (root / "sequenceFiles" / "test").mkdir(parents=True)
    with open(root / "sequenceFiles" / "test" / "downtown_test_00.pkl", "wb") as f:
        pickle.dump(_sequence() if data is None else data, f, protocol=2)
    folder = root / "imageFiles" / "downtown_test_00"
    folder.mkdir(parents=True)
    pelvis_px = _project(_joints_world_m(0.0))[:, 0]
    backdrop = np.random.default_rng(2).integers(0, 100, (SIZE, SIZE, 3), dtype=np.uint8)
    for k in range(images):
        image = backdrop.copy()
        u, v = np.round(pelvis_px[k]).astype(int)
        image[v - 1 : v + 2, u - 1 : u + 2] = (255, 0, 0)
        cv2.imwrite(str(folder / f"image_{k:05d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 100])
    return root


def test_smpl_joint_mapping():
    joints = np.tile(np.arange(24.0)[:, None], (1, 3))  # SMPL joint k at (k, k, k)
    ours = smpl24_to_h36m17(joints)[:, 0]
    expect = {"pelvis": 0, "l_hip": 1, "r_hip": 2, "l_knee": 4, "r_ankle": 8, "thorax": 12, "nose": 15,
              "l_shoulder": 16, "r_wrist": 21, "spine": 6, "head": 18}  # head = 15 + (15 − 12)
    for name, value in expect.items():
        assert ours[H36M17.index(name)] == value, name
    assert {H36M17.names[j] for j in range(17) if j not in PW3D_EVAL_JOINTS} == {"spine", "nose", "head"}


def test_world_to_camera_in_mm(tmp_path):
    root = _make_root(tmp_path)
    data = load_sequence(root / "sequenceFiles" / "test" / "downtown_test_00.pkl")
    labels = actor_labels(data, 0)
    pelvis = labels["pose3d_cam_mm"][:, H36M17.index("pelvis")]
    np.testing.assert_allclose(pelvis[0], [100.0, 200.0, 3000.0], atol=1e-3)  # R = I, t = (0, 0, 3 m)
    np.testing.assert_allclose(pelvis[1], [-200.0, 100.0, 3000.0], atol=1e-3)  # R = 90° about z
    np.testing.assert_allclose(pelvis[2], [150.0, 150.0, 3200.0], atol=1e-3)
    # 2D labels: the pinhole projection with K
    np.testing.assert_allclose(labels["pose2d_px"][0, 0], [40 * 100 / 3000 + 23.5, 40 * 200 / 3000 + 23.5], atol=1e-6)
    assert labels["valid"].all() and labels["keypoints_px"].shape == (N, 18, 2)


def test_videos_per_actor_on_valid_frames(tmp_path):
    root = _make_root(tmp_path)
    videos = PW3DDataset(root, "test", resolution=24, segment_frames=None)
    assert [v.name for v in videos] == ["3dpw/test/downtown_test_00/actor0", "3dpw/test/downtown_test_00/actor1"]
    assert [v.num_frames for v in videos] == [5, 4]
    assert all(v.camera_moves and v.background is None for v in videos)
    assert videos[0].pose3d_cam_mm.shape == (5, 17, 3) and videos[0].pose3d_cam_mm.dtype == np.float32
    for k in range(N):  # the marker at actor 0's pelvis is where pose2d_norm puts it
        frame = videos[0].frames[k]
        redness = frame[..., 0].astype(float) - frame[..., 1:].mean(axis=-1)
        v, u = np.unravel_index(np.argmax(redness), redness.shape)
        expected = (videos[0].pose2d_norm[k, 0] + 1) * 24 / 2 - 0.5
        np.testing.assert_allclose([u, v], expected, atol=1.5)


def test_protocol_scores_only_the_smpl_joints(tmp_path):
    root = _make_root(tmp_path)
    gt = PW3DDataset(root, "test", 16)[0].pose3d_cam_mm
    pred = gt.copy()
    for name in ("spine", "nose", "head"):
        pred[:, H36M17.index(name)] += 500.0
    result = pw3d_protocol(pred, gt, ["downtown_test_00"] * len(gt))
    assert result["mpjpe"]["all"] == pytest.approx(0.0, abs=1e-3)
    pred[:, H36M17.index("l_wrist"), 0] += 140.0
    result = pw3d_protocol(pred, gt, ["downtown_test_00"] * len(gt))
    assert result["mpjpe"]["all"] == pytest.approx(10.0, abs=1e-3)


def test_bad_inputs_raise_naming_the_file(tmp_path):
    data = _sequence()
    del data["cam_poses"]
    root = _make_root(tmp_path / "a", data)
    with pytest.raises(UserError, match="downtown_test_00.pkl: missing key.*cam_poses"):
        PW3DDataset(root, "test", 16)
    data = _sequence()
    data["poses2d"][1] = data["poses2d"][1][:, :, :17]
    root = _make_root(tmp_path / "b", data)
    with pytest.raises(UserError, match=r"downtown_test_00.pkl: poses2d\[1\] has shape \(5, 3, 17\)"):
        PW3DDataset(root, "test", 16)
    root = _make_root(tmp_path / "c", images=N - 1)
    with pytest.raises(UserError, match=rf"downtown_test_00: holds {N - 1} frames but the annotations describe {N}"):
        PW3DDataset(root, "test", 16)
    (root / "sequenceFiles" / "test" / "downtown_test_00.pkl").write_bytes(b"\x80\x02garbage")
    with pytest.raises(UserError, match="downtown_test_00.pkl: cannot read"):
        PW3DDataset(root, "test", 16)
    with pytest.raises(UserError, match="sequenceFiles/train: missing"):
        PW3DDataset(root, "train", 16)


def test_prepare(tmp_path):
    root = _make_root(tmp_path)
    summary = prepare_pw3d(root, tmp_path / "out", resolution=16, progress=False)
    assert [e["file"] for e in summary["test"]["videos"]] == ["test/3dpw/test/downtown_test_00/actor0.npz",
                                                              "test/3dpw/test/downtown_test_00/actor1.npz"]
