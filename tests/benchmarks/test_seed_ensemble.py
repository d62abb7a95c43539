"""benchmarks/seed_ensemble.py: the counts expected of independent seeds worked out by hand, the
frames turned round, and the tables it prints for the seeds of one row."""

import numpy as np
import pytest

from benchmark_scripts import load_benchmark

seed_ensemble = load_benchmark("seed_ensemble")


def test_independent_counts_by_hand():
    np.testing.assert_allclose(seed_ensemble.independent_counts([0.5, 0.5]), [0.25, 0.5, 0.25])
    # one event always happens: k = 0 is impossible; k = 1 needs the other two not to happen
    np.testing.assert_allclose(seed_ensemble.independent_counts([0.2, 0.5, 1.0]), [0.0, 0.4, 0.5, 0.1])


def test_a_body_turned_half_round_is_turned_round():
    import torch
    from scipy.spatial.transform import Rotation

    from partpose.geometry.kinematics import canonicalize
    from partpose.geometry.skeleton import H36M17

    rng = np.random.default_rng(0)
    gt = rng.normal(scale=300.0, size=(4, H36M17.num_joints, 3))
    gt -= gt[:, :1]
    # half a turn about an axis square to the way each body faces turns its facing round exactly
    _, frame = canonicalize(torch.from_numpy(gt), H36M17)
    half_turns = Rotation.from_rotvec(np.pi * frame[:, 1].numpy()).as_matrix()
    same = seed_ensemble.reading_scores(gt, gt)
    turned = seed_ensemble.reading_scores(np.einsum("nij,nkj->nki", half_turns, gt), gt)
    assert same["mpjpe"] == pytest.approx(0.0, abs=1e-3) and not same["turned"].any()
    assert turned["turned"].all() and turned["facing"] == pytest.approx(180.0, abs=1e-2)


def test_the_average_of_two_poses_is_their_midpoint():
    a, b = np.zeros((2, 3, 3)), np.full((2, 3, 3), 4.0)
    np.testing.assert_allclose(seed_ensemble.mean_pose([a, b]), np.full((2, 3, 3), 2.0))


def test_it_prints_the_seeds_their_average_and_the_counts(tiny_run, tmp_path):
    out = tmp_path / "ensemble.md"
    last = tiny_run / "checkpoints" / "last.pt"
    assert seed_ensemble.main([str(last), str(last), "--max-frames", "8", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    seeds, mean, averaged, views = lines[4:6], lines[6], lines[7], lines[8]
    score = [line.split("|")[2:4] for line in seeds]
    assert score[0] == score[1]
    assert mean.split("|")[2:4] == score[0] == averaged.split("|")[2:4] == views.split("|")[2:4]  # one checkpoint twice: its own
    measured = [float(v) for v in lines[-2].split("|")[2:-1]]
    assert len(measured) == 3 and sum(measured) == pytest.approx(100.0, abs=0.2)
    assert measured[1] == 0.0  # the same checkpoint twice turns the same frames round


def test_one_checkpoint_is_refused(tiny_run):
    with pytest.raises(SystemExit) as exit_info:
        seed_ensemble.main([str(tiny_run)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("args, message", [(["--max-frames", "8", "--smooth", "3"], "--smooth needs every frame"),
                                           (["--smooth", "4"], "--smooth must be an odd number")])
def test_bad_smoothing_is_refused_before_any_checkpoint_is_read(tmp_path, capsys, args, message):
    missing = str(tmp_path / "missing.pt")
    with pytest.raises(SystemExit) as exit_info:
        seed_ensemble.main([missing, missing, *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_views_averaged_by_hand():
    """Two seeds read one body, one of them turned 90° about the vertical: averaged, both are seen
    turned 45°, each with its own limbs (here the same), about its own root."""
    from scipy.spatial.transform import Rotation

    from partpose.geometry.skeleton import H36M17

    rng = np.random.default_rng(1)
    body = rng.normal(scale=300.0, size=(3, H36M17.num_joints, 3))
    body -= body[:, :1]
    quarter, eighth = (Rotation.from_euler("y", a, degrees=True).as_matrix() for a in (90.0, 45.0))
    for out in seed_ensemble.views_averaged([body, body @ quarter.T]):
        np.testing.assert_allclose(out, body @ eighth.T, atol=1e-6)
    np.testing.assert_allclose(seed_ensemble.views_averaged([body, body])[0], body, atol=1e-6)


def test_shared_side_is_what_partpose_evaluate_add_side_reads(tiny_side_run, tmp_path):
    """Two checkpoints with one pose network and different side networks: each pose network with
    both side networks together scores what ``partpose evaluate --add-side`` scores, by its own path."""
    import json

    import torch

    from partpose.cli.main import main as cli_main
    from partpose.training import checkpoint as ckpt

    first = tiny_side_run / "checkpoints" / "last.pt"
    state = ckpt.load(first)
    generator = torch.Generator().manual_seed(0)
    for weights in (state["model"], state.get("training_model", {})):
        for key, value in weights.items():
            if key.startswith("side.") and value.is_floating_point():
                weights[key] = torch.randn(value.shape, generator=generator)
    second = tmp_path / "other_side.pt"
    ckpt.save_atomic(state, second)
    out = tmp_path / "ensemble.md"
    assert seed_ensemble.main([str(first), str(second), "--max-frames", "8", "--shared-side", "--out", str(out)]) == 0
    shared = [line for line in out.read_text().splitlines() if "side networks together" in line]
    assert len(shared) == 1
    report = tmp_path / "evaluation.json"
    assert cli_main(["evaluate", "--checkpoint", str(first), "--add-side", str(second), "--max-frames", "8",
                     "--out", str(report)]) == 0
    metrics = json.loads(report.read_text())["metrics"]
    assert shared[0].split("|")[2:4] == [f" {metrics['mpjpe']:.1f} ", f" {metrics['pa_mpjpe']:.1f} "]


def test_shared_side_without_a_side_network_is_one_line(tiny_run, capsys):
    assert seed_ensemble.main([str(tiny_run), str(tiny_run), "--max-frames", "8", "--shared-side"]) == 2
    assert "no side network" in capsys.readouterr().err
