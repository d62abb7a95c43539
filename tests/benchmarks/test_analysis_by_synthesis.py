"""benchmarks/analysis_by_synthesis.py: the truth start is the labelled pose, and the script runs."""

import torch

from benchmark_scripts import ROOT, load_benchmark
from partpose.geometry.skeleton import H36M17

TINY = ROOT / "configs" / "tiny.yaml"
abs_bench = load_benchmark("analysis_by_synthesis")


def test_the_truth_start_reproduces_the_labels():
    model, frames, _ = abs_bench.load_frames(TINY, [], 6)
    q, depth, scale, pose = abs_bench.pose_of(model, abs_bench.raw_from_truth(model, frames))
    scores = abs_bench.scores(frames, q, pose)
    # retargeted to the prior's bone lengths and seen by a weak-perspective camera: close, not exact
    assert scores["e2d"] < 0.06 and scores["mpjpe"] < 60.0
    # while the untrained encoder's rest pose is far from them
    with torch.no_grad():
        q0, _, _, pose0 = abs_bench.pose_of(model, model.encoder.raw_pose(frames.image))
    assert abs_bench.scores(frames, q0, pose0)["mpjpe"] > 2 * scores["mpjpe"]


def test_the_depth_twin_projects_to_the_same_points_with_left_and_right_exchanged():
    model, frames, _ = abs_bench.load_frames(TINY, [], 4)
    twin = abs_bench.depth_twin(frames)
    flip = list(H36M17.flip_permutation)
    assert torch.equal(twin.pose2d[:, flip], frames.pose2d)
    assert torch.allclose(twin.pose3d[:, flip, :2], frames.pose3d[..., :2])
    assert torch.allclose(twin.pose3d[:, flip, 2], -frames.pose3d[..., 2])
    # the same bones (left and right exchanged), and a proper body, not a mirror image: the
    # pelvis -> left hip, pelvis -> spine and pelvis -> right hip frame keeps its handedness
    bones = lambda p: torch.stack([(p[:, a] - p[:, b]).norm(dim=-1) for a, b in H36M17.bones], 1)  # noqa: E731
    assert torch.allclose(bones(twin.pose3d).sort(1).values, bones(frames.pose3d).sort(1).values, atol=1e-3)
    handedness = lambda p: torch.linalg.det(torch.stack([p[:, H36M17.index("l_hip")] - p[:, 0], p[:, H36M17.index("spine")] - p[:, 0],  # noqa: E731
                                                         p[:, H36M17.index("r_hip")] - p[:, 0]], 1))
    assert torch.equal(handedness(twin.pose3d).sign(), handedness(frames.pose3d).sign())
    scores = abs_bench.scores(frames, twin.pose2d, frames.pose3d)
    assert scores["e2d_lr"] == 0.0 and scores["e2d"] > 0.0


def test_the_left_right_invariant_error_forgives_a_mirrored_skeleton_only():
    _, frames, _ = abs_bench.load_frames(TINY, [], 4)
    swapped = frames.pose2d[:, list(H36M17.flip_permutation)]
    scores = abs_bench.scores(frames, swapped, frames.pose3d)
    assert scores["e2d_lr"] == 0.0 and scores["e2d"] > 0.0


def test_it_runs_end_to_end_and_writes_its_table(tmp_path):
    out = tmp_path / "table.md"
    abs_bench.main(["--config", str(TINY), "--frames", "3", "--steps", "2", "--decoder-steps", "3", "--threads", "1", "--out", str(out)])
    rows = [line for line in out.read_text().splitlines() if line.startswith(tuple(f"| {k} |" for k in abs_bench.OBJECTIVES))]
    assert len(rows) == 3 * len(abs_bench.OBJECTIVES) and all("nan" not in row for row in rows)
    abs_bench.main(["--config", str(TINY), "--frames", "3", "--steps", "2", "--threads", "1", "--objectives", "skeleton",
                    "--out", str(out)])
    rows = [line.split(" | ")[0] for line in out.read_text().splitlines() if line.startswith("| ")][1:]  # below the header
    assert rows == ["| skeleton"] * 3
