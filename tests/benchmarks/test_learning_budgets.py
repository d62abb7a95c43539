"""benchmarks/learning.py: every (budget, row) pair names a valid training configuration."""

import sys

import numpy as np
import pytest

from partpose.training.config import load_config

from benchmark_scripts import ROOT, load_benchmark

learning = load_benchmark("learning")


@pytest.mark.parametrize("budget", list(learning.BUDGETS))
@pytest.mark.parametrize("row", [r for r in learning.ROWS if r not in learning.REFERENCE_ROWS])
def test_every_row_of_every_budget_is_a_valid_config(budget, row):
    config_path, rest = learning.split_overrides(learning.BUDGETS[budget])
    config = load_config(config_path and ROOT / config_path, rest + learning.ROWS[row][1])
    assert config.run.steps >= 1000
    # the table's budgets measure on the studio scene; cpu_random keeps the random scenes
    assert config.data.synthetic.scene == ("random" if budget == "cpu_random" else "studio")


def test_the_studio_ours_config_is_the_tables_row():
    """configs/studio_ours_cpu.yaml trains what the row unsup_sil_rot_own_trunk of the cpu_world
    budget trains (the README sends users to the file for that row), but in its own run folder."""
    config_path, rest = learning.split_overrides(learning.BUDGETS["cpu_world"])
    overrides = rest + learning.ROWS["unsup_sil_rot_own_trunk"][1]
    row = load_config(config_path, overrides)
    config = load_config(ROOT / "configs" / "studio_ours_cpu.yaml")
    assert config.run.out_dir == "runs/studio_ours_cpu"
    assert config == load_config(config_path, overrides + ["run.out_dir=runs/studio_ours_cpu"])
    assert config != row and config.model == row.model and config.objective == row.objective


def _drawings_row(c) -> bool:
    """The settings of the row ``ours_side_flip_ema_ground_clip``, which the frame-colour row keeps."""
    return (c.model.side_network and c.data.flip_augment == 0.5 and c.optim.ema_decay == 0.99
            and c.optim.grad_clip_relative == 3.0 and c.model.side_ground_band_deg == 30.0)


# configs/ files the README sends users to for a row of a budget, and a setting each must carry:
# each trains exactly what the row trains on that budget, in its own run folder.
TABLE_ROW_CONFIGS = {
    "studio_semi_ours_cpu.yaml": ("cpu_world", "semi_ours", lambda c: c.objective.setting == "semi" and c.objective.semi_labelled_share == 0.5),
    "studio_side_cpu.yaml": ("cpu_world", "ours_side", lambda c: c.model.side_network and c.objective.side_weight == 1.0),
    "studio_semi_side_cpu.yaml": ("cpu_world", "semi_ours_side_ema", lambda c: c.model.side_network and c.objective.setting == "semi" and c.optim.ema_decay == 0.99),
    "studio_drawings_cpu.yaml": ("cpu_world", "ours_side_flip_ema_ground_clip",
                                 lambda c: _drawings_row(c) and c.objective.prior_parts == "as_drawn"),
    "studio_best_cpu.yaml": ("cpu_world", "ours_side_flip_ema_ground_clip_frame_colours",
                             lambda c: _drawings_row(c) and c.objective.prior_parts == "frame_colours"),
    "studio_frame_colours_long_cpu.yaml": ("cpu_world_long", "ours_side_flip_ema_ground_clip_frame_colours",
                                           lambda c: c.objective.prior_parts == "frame_colours" and c.run.steps == 3000),
    "studio_many_people_cpu.yaml": ("cpu_many_people", "ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance",
                                    lambda c: c.objective.prior_parts == "frame_colours" and c.model.side_input == "parts"
                                    and c.objective.side_label == "steady_distance"
                                    and c.data.synthetic.num_train_subjects == 1024 and c.run.steps == 8000),
}


@pytest.mark.parametrize("name", list(TABLE_ROW_CONFIGS))
def test_a_studio_config_is_its_tables_row(name):
    budget, row, carries = TABLE_ROW_CONFIGS[name]
    config_path, rest = learning.split_overrides(learning.BUDGETS[budget])
    out_dir = "runs/" + name.removesuffix(".yaml")
    config = load_config(ROOT / "configs" / name)
    assert config.run.out_dir == out_dir
    assert config == load_config(config_path, rest + learning.ROWS[row][1] + [f"run.out_dir={out_dir}"])
    assert carries(config)


def test_cpu_budget_rows_differ_only_by_their_setting():
    config_path, rest = learning.split_overrides(learning.BUDGETS["cpu"])
    base = load_config(config_path, rest)
    for row in ("supervised", "weak", "no_adaptation"):
        config = load_config(config_path, rest + learning.ROWS[row][1])
        assert (config.run, config.optim, config.data) == (base.run, base.optim, base.data), row


def _result(row, mpjpe, spread, true_spread=300.0):
    return {"row": row, "metrics": {"mpjpe": mpjpe, "pose_spread": spread, "gt_pose_spread": true_spread}}


def test_the_long_many_people_budget_is_the_many_people_budget_run_twice_as_long():
    row = learning.ROWS["ours_side_flip_ema_parts_steady_ground_clip_frame_colours_distance"][1]

    def config(budget, extra=()):
        config_path, rest = learning.split_overrides(learning.BUDGETS[budget])
        return load_config(config_path, rest + row + list(extra))

    short, long = config("cpu_many_people"), config("cpu_many_people_long")
    assert (short.run.steps, long.run.steps) == (8000, 16000)
    assert long == config("cpu_many_people", ["run.steps=16000"])


def test_target_lines_say_whether_no_saliency_is_worst_or_degenerate():
    grouped = {"unsup": [_result("unsup", 300.0, 90.0)], "no_fk_camera": [_result("no_fk_camera", 310.0, 60.0)],
               "no_adaptation": [_result("no_adaptation", 500.0, 0.0)],
               "no_saliency": [_result("no_saliency", 320.0, 12.0), _result("no_saliency", 330.0, 24.0)]}
    lines = "\n".join(learning.target_lines(grouped))
    assert "| w/o m_sal is the worst of the method's rows | worst: unsup w/o adaptation | **no** |" in lines
    # (12 + 24) / 2 / 300 = 6 % of the true poses' spread: degenerate; unsup's 30 % is not
    assert "| 6.0% | yes |" in lines and "| (for comparison) unsup is degenerate | 30.0% | no |" in lines
    grouped["no_saliency"] = [_result("no_saliency", 320.0, 45.0)]
    assert "| 15.0% | **no** |" in "\n".join(learning.target_lines(grouped))
    # rows that ran before the spread was measured: no degeneracy line
    del grouped["no_saliency"][0]["metrics"]["pose_spread"]
    assert "degenerate" not in "\n".join(learning.target_lines(grouped))


def test_target_lines_are_empty_when_no_target_has_its_rows():
    """A table of rows no target names (a budget run for one row) gets no target table at all."""
    assert learning.target_lines({"ours_side_flip_ema": [_result("ours_side_flip_ema", 230.0, 200.0)]}) == []
    lines = learning.target_lines({"ours_side_flip_ema": [_result("ours_side_flip_ema", 230.0, 200.0)],
                                   "mean_pose": [_result("mean_pose", 250.0, 0.0)]})
    assert lines[0].startswith("| target") and len(lines) > 2


def test_target_lines_check_the_weak_variant_against_the_bound_and_the_mean_pose():
    grouped = {"supervised": [_result("supervised", 200.0, 200.0)], "mean_pose": [_result("mean_pose", 250.0, 0.0)],
               "weak_pose_from_labels": [_result("weak_pose_from_labels", 250.0, 100.0),
                                         _result("weak_pose_from_labels", 270.0, 100.0)]}
    lines = learning.target_lines(grouped)
    # (250 + 270) / 2 = 260: 1.30 x the bound (met), 1.04 x the mean pose (not below it)
    assert "| (L_I^u without the pose's gradient) weak ≤ 1.3 × supervised | 1.30 | yes |" in lines
    assert "| (L_I^u without the pose's gradient) weak < mean-pose baseline | 1.04 | **no** |" in lines
    assert not any(line.startswith("| weak ≤") for line in lines)  # the weak row itself did not run
    grouped["weak_own_trunk"] = [_result("weak_own_trunk", 240.0, 100.0)]
    lines = learning.target_lines(grouped)
    # 240 / 200 = 1.20 x the bound, 240 / 250 = 0.96 x the mean pose
    assert "| (the same, appearance's own trunk) weak ≤ 1.3 × supervised | 1.20 | yes |" in lines
    assert "| (the same, appearance's own trunk) weak < mean-pose baseline | 0.96 | yes |" in lines
    grouped["unsup_sil_rot_own_trunk"] = [_result("unsup_sil_rot_own_trunk", 225.0, 100.0)]
    lines = learning.target_lines(grouped)
    # 225 / 250 = 0.90 x the mean pose (above 0.6), 225 / 200 = 1.12 x the bound (within 2)
    assert "| (ours, appearance's own trunk) ≤ 0.6 × mean-pose baseline | 0.90 | **no** |" in lines
    assert "| (ours, appearance's own trunk) ≤ 2 × supervised | 1.12 | yes |" in lines


def test_table_goes_between_the_markers_only(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{learning.TABLE_START}\nold table\n{learning.TABLE_END}\nafter\n")
    learning.replace_between_markers(page, "| new |")
    assert page.read_text() == f"intro\n{learning.TABLE_START}\n| new |\n{learning.TABLE_END}\nafter\n"
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    learning.replace_between_markers(plain, "| new |")
    assert plain.read_text() == "no markers\n"


def test_a_resumed_rows_wall_time_adds_the_training_done_before_it():
    straight = {"wall_seconds": 700.0, "train_seconds": 650.0, "train_seconds_total": 650.0}
    resumed = {"wall_seconds": 300.0, "train_seconds": 250.0, "train_seconds_total": 650.0}
    unknown = {"wall_seconds": 300.0, "train_seconds": 250.0, "train_seconds_total": None}
    assert learning.row_wall_seconds(straight) == 700.0
    assert learning.row_wall_seconds(resumed) == 300.0 + 400.0
    assert learning.row_wall_seconds(unknown) == 300.0  # resumed a checkpoint that did not keep it
    assert learning.row_wall_seconds({"wall_seconds": 12.0}) == 12.0  # a reference row, or an older file


def test_a_named_table_goes_between_its_own_markers(tmp_path):
    page = tmp_path / "page.md"
    many_start, many_end = learning.table_markers("learning-table-many-people")
    page.write_text(f"{learning.TABLE_START}\nold\n{learning.TABLE_END}\n{many_start}\nold many\n{many_end}\n")
    learning.replace_between_markers(page, "| many |", "learning-table-many-people")
    assert page.read_text() == f"{learning.TABLE_START}\nold\n{learning.TABLE_END}\n{many_start}\n| many |\n{many_end}\n"


def test_the_pages_are_keyed_by_the_results_folder(tmp_path):
    assert learning.results_folder(learning.RESULTS) == "."
    assert learning.results_folder(learning.RESULTS / "avx2") == "avx2"
    assert learning.results_folder(tmp_path) is None  # a folder elsewhere: no page is written
    for (folder, budget), pages in learning.TABLE_PAGES.items():
        assert budget in learning.BUDGETS and (learning.RESULTS / folder).is_dir()
        for page, name in pages:  # every page named has its markers, once each
            text = page.read_text()
            assert all(text.count(marker) == 1 for marker in learning.table_markers(name)), (page, name)


def test_nearest_poses_match_a_loop_over_the_candidates():
    rng = np.random.default_rng(0)
    candidates = rng.normal(size=(40, 17, 3)) * 100
    targets = candidates[[3, 17, 29]] + rng.normal(size=(3, 17, 3))  # near known candidates
    targets = np.concatenate([targets, rng.normal(size=(20, 17, 3)) * 100])
    picked = learning.nearest_poses(candidates, targets, chunk=7)
    for target, pose in zip(targets, picked):
        errors = [np.linalg.norm(c - target, axis=-1).mean() for c in candidates]
        np.testing.assert_array_equal(pose, candidates[int(np.argmin(errors))])
    np.testing.assert_array_equal(picked[:3], candidates[[3, 17, 29]])


def _turn_about_z(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def test_mean_pose_in_true_views_turns_the_mean_canonical_pose_to_each_view():
    import torch

    from partpose.geometry.kinematics import canonicalize
    from partpose.models.encoder import rest_pose_canon_mm

    rest = rest_pose_canon_mm().double().numpy().reshape(17, 3)
    # one body seen from four views: the prediction is that body in each view, exactly
    views = [_turn_about_z(d) for d in (0, 90, 200)] + [np.diag([1.0, -1.0, -1.0])]
    targets = np.stack([rest @ R.T + 100.0 for R in views])
    poses = np.stack([rest @ _turn_about_z(d).T for d in (10, 50, 300)])
    predicted = learning.mean_pose_in_true_views(poses, targets)
    np.testing.assert_allclose(predicted, targets - targets[:, :1], atol=1e-6)
    # two bodies: the mean of their canonical poses, turned by the target's canonical rotation
    other = rest.copy()
    other[13:] += np.array([0.0, 0.0, 120.0])  # the left wrist and the right arm raised (+Z: the spine)
    mean = (canonicalize(torch.from_numpy(rest[None]))[0] + canonicalize(torch.from_numpy(other[None]))[0])[0] / 2
    target = rest @ _turn_about_z(135).T
    predicted = learning.mean_pose_in_true_views(np.stack([rest, other @ _turn_about_z(70).T]), target[None])[0]
    _, R = canonicalize(torch.from_numpy(target[None]))
    np.testing.assert_allclose(predicted, (R[0].T @ mean.T).T.numpy(), atol=1e-6)


def test_row_groups_expand_to_their_rows_once_in_order():
    assert learning.expand_rows(["paper"]) == list(learning.PAPER_ROWS)
    assert learning.expand_rows(["unsup", "paper", "labels_2d"])[:2] == ["unsup", "mean_pose"]
    assert learning.expand_rows(["unsup", "paper", "labels_2d"]).count("unsup") == 1
    assert learning.expand_rows(["all"]) == list(learning.ROWS)
    # paper and extra split the rows between them
    assert sorted(learning.expand_rows(["paper", "extra"])) == sorted(learning.ROWS)
    assert not set(learning.ROW_GROUPS["extra"]) & set(learning.PAPER_ROWS)


def test_row_jobs_run_reference_rows_once():
    assert learning.row_jobs(["mean_pose", "unsup"], [0, 1]) == [("mean_pose", 0), ("unsup", 0), ("unsup", 1)]


def test_parallel_runs_report_the_runs_that_failed(monkeypatch, tmp_path):
    """Each (row, seed) runs as its own process; a failed one is reported, the others still run."""
    def fake_command(row, seed, budget, runs, threads, results):
        marker = tmp_path / f"{row}_{seed}_{threads}"
        return [sys.executable, "-c", f"open({str(marker)!r}, 'w'); raise SystemExit({int(row == 'weak')})"]

    monkeypatch.setattr(learning, "job_command", fake_command)
    failed = learning.run_jobs_in_parallel(["unsup", "weak", "mean_pose"], [0, 1], "cpu_world", tmp_path, jobs=2,
                                           threads=3)
    assert failed == [("weak", 0), ("weak", 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mean_pose_0_3", "unsup_0_3", "unsup_1_3", "weak_0_3",
                                                          "weak_1_3"]


def test_a_job_command_runs_one_row_and_seed_without_the_table():
    command = learning.job_command("weak", 1, "cpu_world", ROOT / "runs", 1)
    assert command[command.index("--rows") + 1:command.index("--rows") + 2] == ["weak"]
    assert command[command.index("--seeds") + 1] == "1" and "--no-table" in command


def test_a_results_folder_of_its_own_leaves_the_committed_table_alone(tmp_path):
    """``--results DIR``: the table and the curves of the rows saved under DIR, written there; the
    README, which shows the committed table, unchanged."""
    import shutil

    (tmp_path / "cpu_world").mkdir()
    shutil.copy(learning.RESULTS / "cpu_world" / "mean_pose_seed0.json", tmp_path / "cpu_world")
    readme = (ROOT / "README.md").read_text()
    assert learning.main(["--table-only", "--budget", "cpu_world", "--results", str(tmp_path)]) == 0
    text = (tmp_path / "learning_cpu_world.md").read_text().split("\n\n")[0]  # the table, not the notes below it
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| row |") and len(rows) == 2 and rows[1].startswith("| mean-pose baseline |")
    assert (tmp_path / "learning_curves_cpu_world.png").stat().st_size > 0
    assert (ROOT / "README.md").read_text() == readme
    command = learning.job_command("weak", 1, "cpu_world", ROOT / "runs", 1, tmp_path)
    assert command[command.index("--results") + 1] == str(tmp_path)


def test_the_gpu_budget_is_the_default_where_cuda_is_available(monkeypatch):
    monkeypatch.setattr(learning.torch.cuda, "is_available", lambda: False)
    assert learning.default_budget() == "cpu_world"
    monkeypatch.setattr(learning.torch.cuda, "is_available", lambda: True)
    assert learning.default_budget() == "gpu"
    config_path, rest = learning.split_overrides(learning.BUDGETS["gpu"])
    gpu, cpu = load_config(ROOT / config_path, rest), load_config(None, learning.BUDGETS["cpu_world"])
    assert gpu.run.steps >= 30 * cpu.run.steps and gpu.model.resolution == 2 * cpu.model.resolution
    assert gpu.optim.kind == cpu.optim.kind == "adam"


def test_the_commit_says_when_the_checkout_has_changes(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    monkeypatch.setattr(learning, "ROOT", tmp_path)
    clean = learning.commit()
    assert len(clean) >= 7 and not clean.endswith("-dirty")
    (tmp_path / "a.txt").write_text("two\n")
    assert learning.commit() == clean + "-dirty"
    monkeypatch.setattr(learning, "ROOT", tmp_path / "missing")
    assert learning.commit() == "unknown"


def test_the_machine_names_the_cpu_kernels_a_row_ran_with(monkeypatch):
    monkeypatch.setattr(learning.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(learning.torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(learning, "cpu_model", lambda: "Some CPU")
    assert "| Some CPU (AVX2) |" in learning.machine()


def test_test_people_lines_by_hand():
    """The rows scored on more test people, each over the seeds that have the count, against the
    mean pose on the same frames; rows without it are left out."""
    def saved(row, seed, mpjpe, people=None):
        result = {"row": row, "seed": seed, "metrics": {"mpjpe": 0.0}}
        if people is not None:
            result["test_people"] = {"5": {"mpjpe": people, "pa_mpjpe": people / 2, "pck3d": 10.0 + seed}}
        return result

    grouped = {"mean_pose": [saved("mean_pose", 0, 280.0, 300.0)],
               "ours_side_flip_ema_ground": [saved("ours_side_flip_ema_ground", 0, 1.0, 240.0),
                                             saved("ours_side_flip_ema_ground", 1, 1.0, 220.0),
                                             saved("ours_side_flip_ema_ground", 2, 1.0)],
               "supervised": [saved("supervised", 0, 1.0)]}
    lines = learning.test_people_lines(grouped)
    rows = [line for line in lines if line.startswith("| ") and "---" not in line and not line.startswith("| row")]
    assert "worn by 5 held-out people" in "\n".join(lines)
    assert rows == ["| mean-pose baseline | 300.0 | 150.0 | 10.0 | 1.00 | 1 |",
                    f"| {learning.ROWS['ours_side_flip_ema_ground'][0]} | 230.0 ± 10.0 | 115.0 ± 5.0 | 10.5 ± 0.5 | 0.77 | 2 |"]
    assert learning.test_people_lines({"supervised": [saved("supervised", 0, 1.0)]}) == []


def test_score_test_people_reads_the_rows_checkpoint_on_more_people(tmp_path):
    """A trained row's last checkpoint, once it reproduces the stored MPJPE, scored on the test
    split worn by more people: the figures ``predict_frames`` gives on that split; a row whose
    checkpoint reads another MPJPE is left as it is."""
    import json

    from partpose.data.pairs import FrameDataset
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model
    from partpose.training.trainer import train

    runs, results = tmp_path / "runs", tmp_path / "results"
    out = runs / "cpu_world" / "ours_side_flip_ema_ground_seed0"
    config = load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0",
                                                          f"run.out_dir={out}"])
    stored = train(config, resume=False).metrics["mpjpe"]
    (results / "cpu_world").mkdir(parents=True)
    for seed, mpjpe in ((0, stored), (1, stored + 10.0)):
        if seed == 1:  # the same checkpoint under another seed's name, its stored figure not the checkpoint's
            import shutil

            shutil.copytree(out, runs / "cpu_world" / "ours_side_flip_ema_ground_seed1")
        (results / "cpu_world" / f"ours_side_flip_ema_ground_seed{seed}.json").write_text(json.dumps(
            {"row": "ours_side_flip_ema_ground", "seed": seed, "overrides": [], "metrics": {"mpjpe": mpjpe}}))
    learning.score_test_people("cpu_world", 3, runs, results)
    scored = json.loads((results / "cpu_world" / "ours_side_flip_ema_ground_seed0.json").read_text())
    loaded = load_model(out / "checkpoints" / "last.pt")
    expected = score(predict_frames(loaded.model, FrameDataset(learning.test_split(loaded.config, 3))))
    assert len({v.subject for v in learning.test_split(loaded.config, 3)}) == 3
    assert scored["test_people"]["3"]["mpjpe"] == pytest.approx(expected["mpjpe"])
    assert scored["test_people"]["3"]["pa_mpjpe"] == pytest.approx(expected["pa_mpjpe"])
    assert "test_people" not in json.loads((results / "cpu_world" / "ours_side_flip_ema_ground_seed1.json").read_text())


def test_the_mean_pose_on_more_test_people_is_the_training_mean_against_their_split():
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.report import with_test_people

    overrides = ["--config", "configs/tiny.yaml"]
    config = load_config(ROOT / "configs" / "tiny.yaml", [])
    train = np.concatenate([v.pose3d_cam_mm for v in build_synthetic_videos(config.data.synthetic, "train")])
    test = np.concatenate([v.pose3d_cam_mm for v in build_synthetic_videos(with_test_people(config, 3).data.synthetic, "test")])
    train, test = train - train[:, :1], test - test[:, :1]
    by_hand = np.linalg.norm(test - train.mean(0), axis=-1).mean()
    assert learning.reference_row("mean_pose", overrides, 3)["metrics"]["mpjpe"] == pytest.approx(by_hand, rel=1e-5)
    assert learning.reference_row("mean_pose", overrides)["metrics"]["mpjpe"] != pytest.approx(by_hand, rel=1e-5)


def test_test_people_and_rescore_are_refused_together():
    with pytest.raises(SystemExit):
        learning.main(["--test-people", "5", "--rescore", "--budget", "cpu_world"])
    with pytest.raises(SystemExit):
        learning.main(["--test-people", "0", "--budget", "cpu_world"])
