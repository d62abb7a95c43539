"""benchmarks/side_pitch.py: its own-up column is the evaluation's score, a pitch that is every
video's own gives the same poses, and the script runs and refuses models without a side network."""

import numpy as np
import pytest

from benchmark_scripts import ROOT, load_benchmark

side_pitch = load_benchmark("side_pitch")


@pytest.fixture(scope="module")
def tiny_side_run(tmp_path_factory):
    """A run folder of the tiny configuration with a side network, trained for one step."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_side_run")
    train(load_config(ROOT / "configs" / "tiny.yaml", [
        "model.side_network=true", "objective.side_weight=1", "model.side_camera_elevation_deg=10",
        "run.steps=1", "run.image_every=0", "run.eval_every=0", f"run.out_dir={out}"]), resume=False)
    return out


def test_the_columns_against_the_evaluation_and_by_hand(tiny_side_run):
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.geometry import facing
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_side_run / "checkpoints" / "last.pt")
    videos = build_synthetic_videos(loaded.config.data.synthetic, "test")
    frames = FrameDataset(videos)
    scores = side_pitch.turned_scores(loaded.model, frames, pitches=[15.0])
    direct = score(predict_frames(loaded.model, frames, max_frames=1024, with_segmentation=False))
    assert scores["own_up"] == pytest.approx(direct["mpjpe"], rel=1e-5)
    assert 0.0 <= scores["side_right"] <= 100.0 and all(np.isfinite(v) for v in scores.values())
    # every video filmed from 15° above: the pitch column is the own-up column
    for video in videos:
        video.camera_up = np.tile(facing.camera_up(15.0).float().numpy(), (video.num_frames, 1))
    same = side_pitch.turned_scores(loaded.model, FrameDataset(videos), pitches=[15.0])
    assert same["pitch 15"] == pytest.approx(same["own_up"], rel=1e-6)
    assert same["true_side pitch 15"] == pytest.approx(same["true_side"], rel=1e-6)
    assert same["alone"] == pytest.approx(scores["alone"], rel=1e-6)


def test_it_runs_end_to_end_and_refuses_a_model_without_a_side_network(tiny_side_run, tiny_run, tmp_path, capsys):
    out = tmp_path / "pitch.md"
    assert side_pitch.main([str(tiny_side_run), "--pitches", "0", "10", "--out", str(out)]) == 0
    row = out.read_text().splitlines()[-1]
    assert row.startswith(f"| {tiny_side_run} |") and row.count("|") == 11  # ten columns
    assert side_pitch.main([str(tiny_run)]) == 2
    assert "no side network" in capsys.readouterr().err
