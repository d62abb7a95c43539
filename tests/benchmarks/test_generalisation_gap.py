"""benchmarks/generalisation_gap.py: the test/test cell is the test split's score, and the script runs."""

import numpy as np
import pytest

from benchmark_scripts import load_benchmark

gap_bench = load_benchmark("generalisation_gap")


def test_the_test_combination_is_the_test_split(tiny_run):
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_run / "checkpoints" / "last.pt")
    synthetic = loaded.config.data.synthetic
    results = gap_bench.gap(loaded.model, synthetic, videos=100)
    assert set(results) == set(gap_bench.COMBINATIONS)
    direct = score(predict_frames(loaded.model, FrameDataset(build_synthetic_videos(synthetic, "test")),
                                  max_frames=1024, with_segmentation=False))
    assert results["test", "test"]["mpjpe"] == pytest.approx(direct["mpjpe"])
    # other people on the same poses: other pixels, other predictions
    assert results["test", "train"]["mpjpe"] != pytest.approx(direct["mpjpe"])
    assert all(np.isfinite(m["mpjpe"]) for m in results.values())


def test_it_runs_end_to_end_and_refuses_a_bad_checkpoint(tiny_run, tmp_path, capsys):
    out = tmp_path / "gap.md"
    assert gap_bench.main([str(tiny_run), "--videos", "2", "--out", str(out)]) == 0
    row = out.read_text().splitlines()[-1]
    assert row.startswith(f"| {tiny_run} |") and row.count("°") == 4
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert gap_bench.main([str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error:")
