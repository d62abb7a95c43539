"""benchmarks/front_back_legibility.py: labels, accuracy and the twin's floor by hand; the script
end to end."""

import torch

from benchmark_scripts import ROOT, load_benchmark
from rotations import turn

legibility = load_benchmark("front_back_legibility")


def _rest_turned(degrees: float) -> torch.Tensor:
    from partpose.models.encoder import rest_pose_canon_mm

    # the rest pose faces +x in its canonical frame; the camera looks along +z
    return rest_pose_canon_mm()[None] @ turn(1, degrees, torch.float32).T


def test_front_labels_and_clear_frames_by_hand():
    # +x turned to -z: the chest towards the camera; to +z: away; 60° further: side on, not clear
    poses = torch.cat((_rest_turned(90.0), _rest_turned(-90.0), _rest_turned(30.0), _rest_turned(-150.0)))
    labels, clear = legibility.front_labels(poses + 100.0)
    assert labels.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert clear.tolist() == [True, True, False, False]


def test_leaning_towards_by_hand():
    pose = torch.zeros(4, 17, 3)
    thorax = 8  # H36M17: pelvis 0, thorax 8
    pose[:, thorax, 2] = torch.tensor([-100.0, -5.0, 5.0, 100.0])  # camera z: forward, away from the camera
    assert legibility.leaning_towards(pose) == 50.0


def test_accuracy_by_hand():
    logits = torch.tensor([2.0, -1.0, 0.5, -0.5])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    assert legibility.accuracy(logits, labels) == 50.0
    assert legibility.accuracy(logits, labels, torch.tensor([True, False, False, True])) == 100.0
    assert legibility.accuracy(logits, labels, torch.tensor([False, True, True, False])) == 0.0


def test_the_twin_replaces_exactly_the_wrong_frames():
    from partpose.geometry.facing import depth_twin_pose

    pose = torch.cat((_rest_turned(90.0), _rest_turned(-90.0)))
    pose = pose - pose[:, :1]
    mixed = legibility.twin_where_wrong(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0]), pose)
    assert torch.equal(mixed[0], pose[0])
    assert torch.equal(mixed[1], depth_twin_pose(pose)[1])
    assert not torch.allclose(mixed[1], pose[1])


def test_it_runs_end_to_end_and_refuses_a_missing_config(tmp_path, capsys):
    out = tmp_path / "legibility.md"
    args = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--iterations", "2", "--batch-size", "4",
            "--videos", "4", "--max-frames", "32", "--threads", "1", "--out", str(out)]
    assert legibility.main(args) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| 32² |")]
    assert len(rows) == 1
    cells = rows[0].strip("| ").split(" | ")
    shares = [float(x) for x in cells[3:8]]
    assert all(0.0 <= x <= 100.0 for x in shares)
    assert float(cells[8]) >= 0.0 and float(cells[9]) > 0.0 and 0.0 <= float(cells[10]) <= 100.0
    assert cells[-1] == "the frames"
    assert legibility.main(args[:-1] + [str(tmp_path / "puppets.md"), "--taught-on", "puppets_print"]) == 0
    rows = [line for line in (tmp_path / "puppets.md").read_text().splitlines() if line.startswith("| 32² |")]
    assert len(rows) == 1 and rows[0].strip("| ").split(" | ")[-1] == "puppets with the print"
    assert legibility.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_puppet_split_draws_the_priors_poses_in_the_frames_colours():
    """Binary labels, one image per kept frame; the print changes only some torso pixels."""
    from dataclasses import replace

    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.training.config import load_config

    config = load_config(ROOT / "configs" / "tiny.yaml")
    synthetic = replace(config.data.synthetic, cache_dir=None)
    frames = FrameDataset(build_synthetic_videos(synthetic, "train", spread=4))
    plain, labels = legibility.puppet_split(frames, 32, config, False, 0)
    printed, labels_again = legibility.puppet_split(frames, 32, config, True, 0)
    assert plain.shape == printed.shape and plain.shape[0] == min(32, len(frames)) == len(labels)
    assert set(labels.tolist()) <= {0.0, 1.0} and torch.equal(labels, labels_again)
    changed = (plain != printed).any(dim=1)
    assert 0.0 < float(changed.float().mean()) < 0.1


def test_augment_mirrors_and_reorders_channels_only():
    images = torch.rand(64, 3, 4, 5)
    out = legibility.augment(images, torch.Generator().manual_seed(0))
    mirrored = 0
    for image, result in zip(images, out):
        candidates = [image[list(order)] for order in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))]
        straight = any(torch.equal(result, c) for c in candidates)
        flipped = any(torch.equal(result, c.flip(-1)) for c in candidates)
        assert straight or flipped
        mirrored += flipped
    assert 10 < mirrored < 54


def test_no_estimator_blind_to_the_front_and_back_beats_the_floor():
    from partpose.evaluation import metrics
    from partpose.geometry.facing import depth_twin_pose

    torch.manual_seed(0)
    pose = torch.randn(32, 17, 3) * 300.0
    pose = pose - pose[:, :1]
    twin = depth_twin_pose(pose)
    floor = legibility.blind_floor(pose)
    # one answer for a frame and its twin's: the mean error over both is never below the floor
    for guess in (pose, twin, torch.zeros_like(pose), pose + torch.randn_like(pose) * 100.0):
        both = 0.5 * (float(metrics.mpjpe(guess, pose)) + float(metrics.mpjpe(guess, twin)))
        assert both >= floor - 1e-3
    midpoint = 0.5 * (pose + twin)
    assert abs(0.5 * (float(metrics.mpjpe(midpoint, pose)) + float(metrics.mpjpe(midpoint, twin))) - floor) < 1e-2


def test_frame_people_follow_the_frames_kept():
    from types import SimpleNamespace

    import numpy as np

    videos = [SimpleNamespace(subject=name) for name in ("a", "b", "c")]
    index = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 0]])
    frames = type("Frames", (), {"index": index, "videos": videos, "__len__": lambda self: len(index)})()
    assert legibility.frame_people(frames, 10) == ["a", "a", "b", "b", "b", "c"]
    # thinned as evaluation thins: first and last kept, evenly spaced (0, 2, 3, 5)
    assert legibility.frame_people(frames, 4) == ["a", "b", "b", "c"]


def test_each_person_row_is_their_frames_alone(tmp_path):
    config = tmp_path / "two_test_people.yaml"
    config.write_text(f"base: {ROOT / 'configs' / 'tiny.yaml'}\ndata:\n  synthetic:\n    num_test_subjects: 2\n")
    out = tmp_path / "legibility.md"
    args = ["--config", str(config), "--iterations", "2", "--batch-size", "4",
            "--videos", "6", "--max-frames", "40", "--threads", "1", "--per-person", "--out", str(out)]
    assert legibility.main(args) == 0
    lines = out.read_text().splitlines()

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    whole = [cells(line) for line in lines if line.startswith("| 32² |")]
    people = [cells(line) for line in lines if line.startswith("| … ")]
    assert len(whole) == 1 and len(people) >= 2
    counts = [int(row[0].split("(")[1].split()[0]) for row in people]
    assert sum(counts) == 40
    # the people's accuracies, weighted by their frames, give the whole split's (rounding aside)
    weighted = sum(n * float(row[4]) for n, row in zip(counts, people)) / 40
    assert abs(weighted - float(whole[0][4])) <= 0.6
