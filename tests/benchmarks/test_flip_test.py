"""benchmarks/flip_test.py: its columns are those of ``partpose evaluate`` with and without
``--flip-test``, and the script prints a row per checkpoint and the medians."""

import json

import pytest

from benchmark_scripts import load_benchmark

flip_test = load_benchmark("flip_test")


def test_the_scores_are_the_evaluations(tiny_run, tmp_path):
    from partpose.cli.main import main as cli_main
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_run)
    frames = FrameDataset(build_synthetic_videos(loaded.config.data.synthetic, "test"))
    scores = flip_test.flip_test_scores(loaded.model, frames, max_frames=16)
    for name, flag in (("plain", []), ("flip_test", ["--flip-test"])):
        out = tmp_path / f"{name}.json"
        assert cli_main(["evaluate", "--checkpoint", str(tiny_run), "--max-frames", "16", "--out", str(out), *flag]) == 0
        report = json.loads(out.read_text())["metrics"]
        for key in ("mpjpe", "pa_mpjpe", "facing_error_median"):
            assert scores[name][key] == pytest.approx(report[key], abs=1e-3), (name, key)
    assert scores["plain"]["mpjpe"] != scores["flip_test"]["mpjpe"]
    assert scores["flip_test"]["seconds"] > 0


def test_it_prints_a_row_per_checkpoint_and_the_medians(tiny_run, tmp_path):
    out = tmp_path / "flip.md"
    assert flip_test.main([str(tiny_run), str(tiny_run / "checkpoints" / "last.pt"), "--max-frames", "8",
                           "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[-3].startswith(f"| {tiny_run} | 8 |") and lines[-1].startswith("| median of 2 |")
    assert all(line.count("|") == 8 for line in lines[-3:])


def test_test_people_reads_the_split_partpose_evaluate_reads(tiny_run, tmp_path):
    from partpose.cli.main import main as cli_main

    out = tmp_path / "flip.md"
    assert flip_test.main([str(tiny_run), "--max-frames", "8", "--test-people", "3", "--out", str(out)]) == 0
    text = out.read_text()
    assert "worn by 3 held-out people" in text
    cells = [cell.strip() for cell in text.splitlines()[-1].split("|")[1:-1]]
    for cell, flag in ((cells[2], []), (cells[3], ["--flip-test"])):
        report = tmp_path / "evaluation.json"
        assert cli_main(["evaluate", "--checkpoint", str(tiny_run), "--max-frames", "8", "--test-people", "3",
                         "--out", str(report), *flag]) == 0
        metrics = json.loads(report.read_text())["metrics"]
        assert cell == f"{metrics['mpjpe']:.1f} / {metrics['pa_mpjpe']:.1f}"


@pytest.mark.parametrize("flags", [["--test-people", "0"], ["--test-people", "x"], ["--max-frames", "0"]])
def test_bad_flags_are_refused(tiny_run, flags):
    with pytest.raises(SystemExit):
        flip_test.main([str(tiny_run), *flags])
