"""`partpose data prepare` and `partpose data preview` on tiny copies of every dataset in its
original layout (docs/datasets.md), and training end to end on a prepared Human3.6M.

Every tiny dataset films the same walking person (the DeepMimic walk, as a stick figure on a
textured backdrop) from a camera 5 m away, so the crops hold a person where the labels say.
"""

import json
import math
import pickle
import shutil
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

from formats import write_matlab_v73
from partpose.cli.main import main
from partpose.data.datasets import load_prepared
from partpose.data.datasets.mpi_inf_3dhp import OURS_FROM_MPI_INF_3DHP_17
from partpose.data.datasets.pw3d import SMPL24_TO_H36M17
from partpose.data.mocap import H36M32_TO_17, load_deepmimic_clips
from partpose.geometry.skeleton import H36M17

# ---------------------------------------------------------------------------------------------
# Tiny datasets in their original layouts
# ---------------------------------------------------------------------------------------------

SIZE = 96  # full-frame side, px
FOCAL = 150.0  # px
CENTRE = (SIZE - 1) / 2
DISTANCE_MM = 5000.0
H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
# Camera→world rotation of a camera looking along world +y: camera x = world x, camera y (down)
# = world −z, camera z = world y (−90° about x).
Q_LOOK_Y = [np.sqrt(0.5), -np.sqrt(0.5), 0.0, 0.0]


def walk_world_mm(frames: int, shift_mm: float = 0.0) -> np.ndarray:
    """``(T, 17, 3)`` z-up world joints, mm: the DeepMimic walk, pelvis near (shift, 0, height)."""
    poses = load_deepmimic_clips(["walk"])[0].poses_mm[:frames].astype(np.float64)
    poses[..., :2] -= poses[:, :1, :2].mean(axis=0)
    poses[..., 0] += shift_mm
    return poses


def world_to_camera_mm(world_mm: np.ndarray) -> np.ndarray:
    """The camera of ``Q_LOOK_Y`` at (0, −5 m, 1 m): camera (x, y, z) = (x, 1000 − z, y + 5000)."""
    x, y, z = np.moveaxis(world_mm, -1, 0)
    return np.stack([x, 1000.0 - z, y + DISTANCE_MM], axis=-1)


def project_px(cam_mm: np.ndarray) -> np.ndarray:
    return FOCAL * cam_mm[..., :2] / cam_mm[..., 2:] + CENTRE


def draw_person(joints_px: np.ndarray, seed: int = 0) -> np.ndarray:
    """A textured backdrop with a stick figure of ``H36M17`` joints ``(17, 2)`` px (RGB uint8)."""
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(40, 120, (12, 12, 3), dtype=np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
    points = np.round(joints_px).astype(int)
    for parent, child in H36M17.bones:
        cv2.line(image, tuple(map(int, points[parent])), tuple(map(int, points[child])), (230, 60, 40), 3)
    cv2.circle(image, tuple(map(int, points[H36M17.index("head")])), 4, (240, 200, 150), -1)
    return image


def write_image(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])


def write_h36m(root: Path, subjects=("S1", "S9"), frames: int = 20, video_camera: str | None = None) -> Path:
    """Human3.6M: ``data_3d_h36m.npz``, ``cameras.json`` and extracted frames of "Walking 1" for
    every subject and the four cameras (``video_camera`` of the last subject as an mp4 instead)."""
    intrinsic = {"center": [CENTRE, CENTRE], "focal_length": [FOCAL, FOCAL], "radial_distortion": [0.0, 0.0, 0.0],
                 "tangential_distortion": [0.0, 0.0], "res_w": SIZE, "res_h": SIZE}
    extrinsic = {"orientation": Q_LOOK_Y, "translation": [0.0, -DISTANCE_MM, 1000.0]}
    cameras = {"intrinsics": {c: intrinsic for c in H36M_CAMERAS},
               "extrinsics": {s: {c: extrinsic for c in H36M_CAMERAS} for s in subjects}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "cameras.json").write_text(json.dumps(cameras))
    positions = {}
    for k, subject in enumerate(subjects):
        world_mm = walk_world_mm(frames, shift_mm=150.0 * k)
        poses32 = np.repeat(world_mm[:, :1], 32, axis=1)
        poses32[:, list(H36M32_TO_17)] = world_mm
        positions[subject] = {"Walking 1": (poses32 / 1000.0).astype(np.float32)}
        images = [draw_person(p, seed=k) for p in project_px(world_to_camera_mm(world_mm))]
        for camera in H36M_CAMERAS:
            if camera == video_camera and subject == subjects[-1]:
                path = root / subject / "Videos" / f"Walking 1.{camera}.mp4"
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 50, (SIZE, SIZE))
                for image in images:
                    writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                writer.release()
                continue
            for t, image in enumerate(images):
                write_image(root / subject / f"Walking 1.{camera}" / f"{t:06d}.jpg", image)
    np.savez_compressed(root / "data_3d_h36m.npz", positions_3d=positions)
    return root


def write_mpi_inf_3dhp_test(root: Path, frames: int = 6) -> Path:
    """MPI-INF-3DHP test sequence TS1: ``annot_data.mat`` (v7.3) and ``imageSequence/img_*.jpg``."""
    cam_mm = world_to_camera_mm(walk_world_mm(frames))
    px = project_px(cam_mm)
    to_3dhp = np.argsort(OURS_FROM_MPI_INF_3DHP_17)  # inverse of ours = pose_3dhp[:, OURS_FROM_MPI_INF_3DHP_17]
    arrays = {
        "valid_frame": np.ones((frames, 1)),
        "annot2": px[:, to_3dhp][:, None],
        "annot3": cam_mm[:, to_3dhp][:, None],
        "univ_annot3": cam_mm[:, to_3dhp][:, None],
        "activity_annotation": np.ones((frames, 1)),
    }
    sequence = root / "TS1"
    (sequence / "imageSequence").mkdir(parents=True)
    write_matlab_v73(sequence / "annot_data.mat", arrays)
    for t, joints in enumerate(px):
        write_image(sequence / "imageSequence" / f"img_{t + 1:06d}.jpg", draw_person(joints))
    return root


def write_3dpw(root: Path, frames: int = 6) -> Path:
    """3DPW test sequence ``walk_test_00`` with one actor (world frame = camera frame)."""
    cam_mm = world_to_camera_mm(walk_world_mm(frames))
    smpl = np.repeat(cam_mm[:, :1], 24, axis=1)
    for name, index in SMPL24_TO_H36M17.items():
        smpl[:, index] = cam_mm[:, H36M17.index(name)]
    data = {
        "sequence": "walk_test_00",
        "jointPositions": [(smpl / 1000.0).reshape(frames, 72)],
        "poses2d": [np.zeros((frames, 3, 18))],
        "campose_valid": [np.ones(frames)],
        "img_frame_ids": np.arange(frames),
        "cam_poses": np.tile(np.eye(4), (frames, 1, 1)),
        "cam_intrinsics": np.array([[FOCAL, 0.0, CENTRE], [0.0, FOCAL, CENTRE], [0.0, 0.0, 1.0]]),
    }
    (root / "sequenceFiles" / "test").mkdir(parents=True)
    with open(root / "sequenceFiles" / "test" / "walk_test_00.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)
    for t, joints in enumerate(project_px(cam_mm)):
        write_image(root / "imageFiles" / "walk_test_00" / f"image_{t:05d}.jpg", draw_person(joints))
    return root


def write_own_videos(root: Path, frames: int = 6) -> Path:
    """A folder of PNG frames (``garden/``) and an MJPG video (``walk.avi``), no annotations."""
    images = [draw_person(p, seed=3) for p in project_px(world_to_camera_mm(walk_world_mm(frames)))]
    (root / "garden").mkdir(parents=True)
    for t, image in enumerate(images):
        cv2.imwrite(str(root / "garden" / f"{t:04d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer = cv2.VideoWriter(str(root / "walk.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (SIZE, SIZE))
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return root


@pytest.fixture
def raw_datasets(tmp_path):
    """``make(name, **options) -> Path``: write the tiny copy of dataset ``name``."""
    writers = {"h36m": write_h36m, "mpi_inf_3dhp": write_mpi_inf_3dhp_test, "3dpw": write_3dpw,
               "own": write_own_videos}

    def make(name: str, **options) -> Path:
        return writers[name](tmp_path / f"raw_{name}", **options)

    return make


# ---------------------------------------------------------------------------------------------
# prepare, preview, train
# ---------------------------------------------------------------------------------------------

TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"

PREPARE_ARGS = {"h36m": ["--subjects", "S1", "S9"], "mpi_inf_3dhp": [], "3dpw": [], "own": []}
PREPARED_SPLITS = {"h36m": {"train": 4, "test": 4}, "mpi_inf_3dhp": {"test": 1}, "3dpw": {"test": 1},
                   "own": {"train": 2}}


def _prepare(raw_datasets, tmp_path, dataset: str, *extra: str):
    out = tmp_path / f"prepared_{dataset}"
    args = ["data", "prepare", "--dataset", dataset, "--root", str(raw_datasets(dataset)), "--out", str(out),
            "--resolution", "32", "--no-progress", *PREPARE_ARGS[dataset], *extra]
    assert main(args) == 0
    return out


def test_prepare_h36m_subjects_into_train_and_test(raw_datasets, tmp_path, capsys):
    out = _prepare(raw_datasets, tmp_path, "h36m")
    printed = capsys.readouterr().out
    assert "train: 4 clips, 16 frames of 32x32" in printed and "test: 4 clips, 16 frames" in printed
    assert f"partpose train --config configs/h36m.yaml data.root={out}" in printed
    assert f"partpose evaluate --checkpoint RUN/checkpoints/last.pt --dataset h36m --root {out}" in printed
    for split, subject, shift_mm in (("train", "S1", 0.0), ("test", "S9", 150.0)):
        videos = load_prepared(out, split)
        assert [v.name for v in videos] == [f"h36m/{subject}/Walking 1.{c}" for c in H36M_CAMERAS]
        # every 5th of 20 frames, camera-frame millimetres of that subject's walk
        expected = world_to_camera_mm(walk_world_mm(20, shift_mm)[::5])
        for video in videos:
            assert video.frames.shape == (4, 32, 32, 3) and video.background is not None
            np.testing.assert_allclose(video.pose3d_cam_mm, expected, atol=0.05)


@pytest.mark.parametrize("dataset", list(PREPARE_ARGS))
def test_prepare_then_preview_every_dataset(raw_datasets, tmp_path, dataset):
    out = _prepare(raw_datasets, tmp_path, dataset)
    index = json.loads((out / "index.json").read_text())
    assert index["dataset"] == dataset
    assert {split: len(entry["videos"]) for split, entry in index["splits"].items()} == PREPARED_SPLITS[dataset]
    sheet_path = tmp_path / f"{dataset}.png"
    assert main(["data", "preview", "--dataset", dataset, "--root", str(out), "--out", str(sheet_path), "--n", "3"]) == 0
    sheet = iio.imread(sheet_path)
    first_split = "train" if "train" in PREPARED_SPLITS[dataset] else "test"
    rows = min(3, PREPARED_SPLITS[dataset][first_split])
    assert sheet.shape == (22 + rows * 160, 5 * 160, 3)  # header + one row of five 160-px tiles per clip
    # the frame tile shows the stick figure (red) on the backdrop
    frame_tile = sheet[22:182, :160].astype(int)
    assert ((frame_tile[..., 0] > 180) & (frame_tile[..., 1] < 120)).mean() > 0.02


def test_prepare_mpi_inf_3dhp_test_sequences_only(raw_datasets, tmp_path, capsys):
    out = _prepare(raw_datasets, tmp_path, "mpi_inf_3dhp", "--subjects", "TS1")
    index = json.loads((out / "index.json").read_text())
    assert list(index["splits"]) == ["test"] and index["splits"]["test"]["config"]["sequences"] == ["TS1"]
    (video,) = load_prepared(out, "test")
    assert (video.subject, video.action, video.num_frames) == ("TS1", "Standing/Walking", 6)
    expected = world_to_camera_mm(walk_world_mm(6))  # univ_annot3, back in our joint order
    np.testing.assert_allclose(video.pose3d_cam_mm, expected, atol=0.05)
    printed = capsys.readouterr().out
    assert "to train" not in printed and "--dataset mpi_inf_3dhp" in printed


def _drop_subject(root):
    shutil.rmtree(root / "S9")


def _drop_npz_key(root):
    np.savez(root / "data_3d_h36m.npz", poses={"S1": {}})


def _drop_camera_key(root):
    cameras = json.loads((root / "cameras.json").read_text())
    del cameras["intrinsics"][H36M_CAMERAS[2]]["focal_length"]
    (root / "cameras.json").write_text(json.dumps(cameras))


def _truncate_video(root):
    path = root / "S9" / "Videos" / f"Walking 1.{H36M_CAMERAS[1]}.mp4"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_frame(root):
    (root / "S1" / f"Walking 1.{H36M_CAMERAS[0]}" / "000019.jpg").unlink()


def _truncate_avi(root):
    path = root / "walk.avi"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "dataset, mutate, args, message",
    [
        ("h36m", _drop_subject, ["--subjects", "S1", "S9"], "S9: missing subject folder"),
        ("h36m", _drop_npz_key, ["--subjects", "S1"], "data_3d_h36m.npz: no 'positions_3d' key"),
        ("h36m", _drop_camera_key, ["--subjects", "S1"], "cameras.json: intrinsics['58860488']: missing key 'focal_length'"),
        ("h36m", _truncate_video, ["--subjects", "S9"], f"Walking 1.{H36M_CAMERAS[1]}.mp4: cannot open as a video"),
        ("h36m", _drop_frame, ["--subjects", "S1"], f"Walking 1.{H36M_CAMERAS[0]}: holds 19 frames but the annotations describe 20"),
        ("own", _truncate_avi, [], "walk.avi: truncated or unreadable video"),
        ("h36m", None, [], "data_3d_h36m.npz: unknown subject(s) S5, S6, S7, S8"),
        ("h36m", None, ["--subjects", "S1", "S3"], "unknown Human3.6M subject S3; known: S1 S5 S6 S7 S8 S9 S11"),
        ("3dpw", None, ["--subjects", "S1"], "--subjects applies to h36m and mpi_inf_3dhp, not 3dpw"),
        ("mpi_inf_3dhp", None, ["--subjects", "S2", "TS1"], "S2: missing subject folder"),
        ("mpi_inf_3dhp", None, ["--subjects", "TS7"], "unknown MPI-INF-3DHP subject or test sequence TS7"),
        ("h36m", None, ["--resolution", "8"], "--resolution must be >= 16"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_file(raw_datasets, tmp_path, capsys, dataset, mutate, args, message):
    root = raw_datasets(dataset, video_camera=H36M_CAMERAS[1]) if dataset == "h36m" else raw_datasets(dataset)
    if mutate is not None:
        mutate(root)
    argv = ["data", "prepare", "--dataset", dataset, "--root", str(root), "--out", str(tmp_path / "out"),
            "--resolution", "32", "--no-progress", *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("partpose: error:") and message in err, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["data", "prepare", "--dataset", "h37m", "--root", ".", "--out", "o"],
         "unknown dataset 'h37m'; known datasets: h36m, mpi_inf_3dhp, 3dpw, own"),
        (["data", "prepare", "--dataset", "own", "--root", "nowhere", "--out", "o"], "--root nowhere: folder not found"),
        (["data", "preview", "--dataset", "h36m"], "--root is required for h36m"),
        (["data", "preview", "--dataset", "h36m", "--root", "nowhere"], "nowhere/index.json: not a prepared dataset"),
    ],
)
def test_bad_arguments(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_preview_checks_the_dataset_name_and_split(raw_datasets, tmp_path, capsys):
    out = _prepare(raw_datasets, tmp_path, "3dpw")
    assert main(["data", "preview", "--dataset", "own", "--root", str(out), "--out", str(tmp_path / "a.png")]) == 2
    assert "holds dataset '3dpw', not 'own'" in capsys.readouterr().err
    assert main(["data", "preview", "--dataset", "3dpw", "--root", str(out), "--split", "train",
                 "--out", str(tmp_path / "a.png")]) == 2
    assert "no split 'train' (prepared: test)" in capsys.readouterr().err


def test_train_two_steps_on_prepared_h36m_then_evaluate(raw_datasets, tmp_path, capsys):
    out = _prepare(raw_datasets, tmp_path, "h36m")
    run = tmp_path / "run"
    argv = ["train", "--config", str(TINY_CONFIG), "data.dataset=h36m", f"data.root={out}", "run.steps=2", "run.eval_every=1",
            "run.checkpoint_every=1", "run.image_every=1", "run.eval_max_frames=2000", "--out", str(run)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "untrained model" in printed and "after 2 steps" in printed and "MPJPE (mm)" in printed
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [0, 1, 2]
    assert all(m["frames"] == 16 and math.isfinite(m["mpjpe"]) and m["mpjpe"] > 0 for m in lines)
    assert (run / "checkpoints" / "best.pt").is_file() and (run / "checkpoints" / "last.pt").is_file()
    saved = (run / "config.yaml").read_text()
    assert "dataset: h36m" in saved and str(out) in saved
