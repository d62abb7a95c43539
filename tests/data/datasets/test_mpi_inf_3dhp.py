from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from scipy.io import savemat

from formats import write_matlab_v73
from partpose.data.datasets.mpi_inf_3dhp import (
    MPI_INF_3DHP_17_NAMES,
    MPIINF3DHPDataset,
    iter_train_videos,
    load_test_annotations,
    load_train_annotations,
    prepare_mpi_inf_3dhp,
    to_h36m17,
)
from partpose.errors import UserError
from partpose.evaluation.protocols import mpi_inf_3dhp_protocol
from partpose.geometry.skeleton import H36M17

N = 6
SIZE = 48
VALID = np.array([1, 1, 0, 1, 1, 1])
ACTIVITY = np.array([1, 1, 1, 1, 2, 2])
PELVIS_3DHP = MPI_INF_3DHP_17_NAMES.index("pelvis")


def _skeleton_3dhp(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 3) mm camera-frame joints in the 3DHP order and their (N, 17, 2) pixels."""
    rng = np.random.default_rng(seed)
    pose = rng.uniform(-600, 600, (n, 17, 3)) + np.array([0.0, 0.0, 4000.0])
    pose[:, PELVIS_3DHP] = [30.0, 40.0, 4000.0]
    pose[:, :, 0] += 40.0 * np.arange(n)[:, None]
    px = 20.0 * pose[..., :2] / pose[..., 2:] + (SIZE - 1) / 2
    return pose, px


def _frames(px: np.ndarray) -> np.ndarray:
    backdrop = np.random.default_rng(1).integers(0, 100, (SIZE, SIZE, 3), dtype=np.uint8)
    frames = np.repeat(backdrop[None], px.shape[0], axis=0)
    for k, (u, v) in enumerate(np.round(px[:, PELVIS_3DHP]).astype(int)):
        frames[k, v - 1 : v + 2, u - 1 : u + 2] = (255, 0, 0)
    return frames


def _make_test_root(tmp_path: Path, drop: str | None = None) -> Path:
    root = tmp_path / "3dhp"
    seq = root / "TS1"
    (seq / "imageSequence").mkdir(parents=True)
    pose, px = _skeleton_3dhp(N)
    arrays = {
        "valid_frame": VALID[:, None].astype(float),
        "annot2": px[:, None],
        "annot3": pose[:, None],
        "univ_annot3": 0.9 * pose[:, None],
        "bb_crop": np.zeros((N, 34)),
        "activity_annotation": ACTIVITY[:, None].astype(float),
    }
    if drop:
        del arrays[drop]
    write_matlab_v73(seq / "annot_data.mat", arrays)
    for k, image in enumerate(_frames(px)):
        cv2.imwrite(str(seq / "imageSequence" / f"img_{k + 1:06d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 100])
    return root


def _marker(frame: np.ndarray) -> np.ndarray:
    redness = frame[..., 0].astype(float) - frame[..., 1:].mean(axis=-1)
    v, u = np.unravel_index(np.argmax(redness), redness.shape)
    return np.array([u, v], dtype=float)


def test_fixture_reads_back_with_the_documented_shapes(tmp_path):
    root = _make_test_root(tmp_path)
    with h5py.File(root / "TS1" / "annot_data.mat", "r") as f:
        assert f["annot2"].shape == (N, 1, 17, 2) and f["univ_annot3"].shape == (N, 1, 17, 3)
        assert f["valid_frame"].shape == (N, 1) and f["bb_crop"].shape == (N, 34)
    assert (root / "TS1" / "annot_data.mat").read_bytes()[:10] == b"MATLAB 7.3"


def test_joint_order_maps_onto_ours():
    pose = np.tile(np.arange(17.0)[:, None], (1, 3))[None]  # 3DHP joint k at (k, k, k)
    ours = to_h36m17(pose)[0, :, 0]
    assert ours[H36M17.index("head")] == MPI_INF_3DHP_17_NAMES.index("head_top")
    assert ours[H36M17.index("nose")] == MPI_INF_3DHP_17_NAMES.index("head")
    assert ours[H36M17.index("thorax")] == MPI_INF_3DHP_17_NAMES.index("neck")
    assert ours[H36M17.index("pelvis")] == 14 and ours[H36M17.index("l_wrist")] == 7
    assert sorted(ours) == list(range(17))


def test_load_test_annotations(tmp_path):
    root = _make_test_root(tmp_path)
    pose, px = _skeleton_3dhp(N)
    out = load_test_annotations(root / "TS1" / "annot_data.mat")
    assert out["valid"].tolist() == [True, True, False, True, True, True]
    assert out["activity"].tolist() == ACTIVITY.tolist()
    np.testing.assert_allclose(out["pose3d_cam_mm"], to_h36m17(0.9 * pose), rtol=1e-6)  # univ_annot3, mm
    np.testing.assert_allclose(out["pose2d_px"], to_h36m17(px), rtol=1e-6)
    raw = load_test_annotations(root / "TS1" / "annot_data.mat", universal=False)
    np.testing.assert_allclose(raw["pose3d_cam_mm"], to_h36m17(pose), rtol=1e-6)


def test_test_videos_keep_valid_frames_and_split_by_activity(tmp_path):
    root = _make_test_root(tmp_path)
    videos = MPIINF3DHPDataset(root, "test", resolution=24, sequences=["TS1"], segment_frames=None)
    assert [v.action for v in videos] == ["Standing/Walking", "Exercising"]
    assert [v.num_frames for v in videos] == [3, 2]  # frames 0, 1, 3 and 4, 5
    assert all(v.subject == "TS1" for v in videos)
    pose, _ = _skeleton_3dhp(N)
    np.testing.assert_allclose(videos[0].pose3d_cam_mm, to_h36m17(0.9 * pose[[0, 1, 3]]), rtol=1e-6)
    for video in videos:
        for k in range(video.num_frames):
            expected = (video.pose2d_norm[k, H36M17.index("pelvis")] + 1) * 24 / 2 - 0.5
            np.testing.assert_allclose(_marker(video.frames[k]), expected, atol=1.5)


def test_protocol_on_loaded_ground_truth_uses_the_right_joints(tmp_path):
    root = _make_test_root(tmp_path)
    pose, _ = _skeleton_3dhp(N)
    gt = np.concatenate([v.pose3d_cam_mm for v in MPIINF3DHPDataset(root, "test", 24, segment_frames=None)])
    valid_pose = 0.9 * pose[VALID > 0]
    off = valid_pose.copy()
    off[:, MPI_INF_3DHP_17_NAMES.index("head")] += 300.0  # 3DHP "head": not in the 14
    off[:, MPI_INF_3DHP_17_NAMES.index("spine")] += 300.0
    activities = ACTIVITY[VALID > 0]
    result = mpi_inf_3dhp_protocol(to_h36m17(off), gt, activities)
    assert result["pck"]["all"] == pytest.approx(100.0)
    assert result["mpjpe"]["all"] == pytest.approx(2 * np.sqrt(3) * 300.0 / 17, rel=1e-4)
    off[:, MPI_INF_3DHP_17_NAMES.index("head_top")] += 300.0  # head_top counts
    result = mpi_inf_3dhp_protocol(to_h36m17(off), gt, activities)
    assert result["pck"]["all"] == pytest.approx(100.0 * 13 / 14)


def test_test_set_bad_inputs(tmp_path):
    root = _make_test_root(tmp_path, drop="univ_annot3")
    with pytest.raises(UserError, match=r"TS1/annot_data.mat: missing key\(s\) univ_annot3"):
        MPIINF3DHPDataset(root, "test", 24, sequences=["TS1"])
    with pytest.raises(UserError, match="TS2: missing test sequence folder"):
        MPIINF3DHPDataset(root, "test", 24, sequences=["TS2"])
    root = _make_test_root(tmp_path / "b")
    (root / "TS1" / "imageSequence" / f"img_{N:06d}.jpg").unlink()
    with pytest.raises(UserError, match=rf"imageSequence: holds {N - 1} frames but the annotations describe {N}"):
        MPIINF3DHPDataset(root, "test", 24, sequences=["TS1"])
    (root / "TS1" / "annot_data.mat").write_bytes(b"not hdf5")
    with pytest.raises(UserError, match="annot_data.mat: cannot read"):
        load_test_annotations(root / "TS1" / "annot_data.mat")


# ---------------------------------------------------------------------------------------------
# Training set: annot.mat with 14-camera cell arrays, video_{cam}.avi
# ---------------------------------------------------------------------------------------------

PICK = [7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6]


def _make_train_root(tmp_path: Path, drop: str | None = None) -> Path:
    seq = tmp_path / "3dhp" / "S1" / "Seq1"
    (seq / "imageSequence").mkdir(parents=True)
    pose17, px17 = _skeleton_3dhp(4, seed=2)
    pose28 = np.zeros((4, 28, 3))
    px28 = np.zeros((4, 28, 2))
    pose28[:, PICK], px28[:, PICK] = pose17, px17
    others = [k for k in range(28) if k not in PICK]
    pose28[:, others] = -1.0e4  # joints the 17 do not use
    annot2 = np.empty((14, 1), dtype=object)
    annot3 = np.empty((14, 1), dtype=object)
    univ = np.empty((14, 1), dtype=object)
    for c in range(14):
        shift = 100.0 * c  # tell the cameras apart
        annot2[c, 0] = (px28 + (c if c else 0)).reshape(4, 56)
        annot3[c, 0] = (pose28 + shift).reshape(4, 84)
        univ[c, 0] = (0.9 * pose28 + shift).reshape(4, 84)
    mat = {"annot2": annot2, "annot3": annot3, "univ_annot3": univ,
           "frames": np.arange(4)[:, None].astype(float), "cameras": np.arange(14)[None].astype(float)}
    if drop:
        del mat[drop]
    savemat(seq / "annot.mat", mat)
    writer = cv2.VideoWriter(str(seq / "imageSequence" / "video_0.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25,
                             (SIZE, SIZE))
    for image in _frames(px17):
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return tmp_path / "3dhp"


def test_train_annotations_pick_17_of_28_per_camera(tmp_path):
    root = _make_train_root(tmp_path)
    pose17, px17 = _skeleton_3dhp(4, seed=2)
    out = load_train_annotations(root / "S1" / "Seq1" / "annot.mat", cameras=[0, 5])
    np.testing.assert_allclose(out[0]["pose3d_cam_mm"], to_h36m17(pose17), rtol=1e-6)
    np.testing.assert_allclose(out[5]["pose3d_cam_mm"], to_h36m17(pose17 + 500.0), rtol=1e-6)
    np.testing.assert_allclose(out[0]["pose2d_px"], to_h36m17(px17), rtol=1e-6)
    assert out[0]["pose3d_cam_mm"].dtype == np.float32


def test_train_videos_from_avi(tmp_path):
    root = _make_train_root(tmp_path)
    videos = list(iter_train_videos(root, 24, subjects=["S1"], sequences=["Seq1"], cameras=[0], frame_step=1,
                                    segment_frames=None))
    assert len(videos) == 1 and videos[0].num_frames == 4 and not videos[0].camera_moves
    assert videos[0].name == "3dhp/S1/Seq1/video_0"
    for k in range(4):
        expected = (videos[0].pose2d_norm[k, 0] + 1) * 24 / 2 - 0.5
        np.testing.assert_allclose(_marker(videos[0].frames[k]), expected, atol=2.0)


def test_train_bad_inputs(tmp_path):
    root = _make_train_root(tmp_path, drop="annot3")
    with pytest.raises(UserError, match="Seq1/annot.mat: missing key 'annot3'"):
        list(iter_train_videos(root, 24, subjects=["S1"], sequences=["Seq1"], cameras=[0]))
    with pytest.raises(UserError, match="S2: missing subject folder"):
        list(iter_train_videos(root, 24, subjects=["S2"]))
    root = _make_train_root(tmp_path / "b")
    with pytest.raises(UserError, match="video_1.avi: video of camera 1 not found"):
        list(iter_train_videos(root, 24, subjects=["S1"], sequences=["Seq1"], cameras=[1]))


def test_prepare_test_split(tmp_path):
    root = _make_test_root(tmp_path)
    summary = prepare_mpi_inf_3dhp(root, tmp_path / "out", resolution=16, progress=False)
    assert list(summary) == ["test"]
    assert sum(e["frames"] for e in summary["test"]["videos"]) == int(VALID.sum())
