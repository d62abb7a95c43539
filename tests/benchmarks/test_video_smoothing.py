"""benchmarks/video_smoothing.py: its columns are those of ``partpose evaluate --smooth K`` with
the whole pose and with the view alone, and the script prints a row per checkpoint and the medians."""

import json

import pytest

from benchmark_scripts import load_benchmark

video_smoothing = load_benchmark("video_smoothing")


def test_the_scores_are_the_evaluations(tiny_run, tmp_path):
    from partpose.cli.main import main as cli_main
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames
    from partpose.inference.loading import load_model

    loaded = load_model(tiny_run)
    frames = FrameDataset(build_synthetic_videos(loaded.config.data.synthetic, "test"))
    scores = video_smoothing.smoothing_scores(predict_frames(loaded.model, frames, with_segmentation=False), 3)
    for name, flags in (("frame", []), ("mean", ["--smooth", "3"]), ("view", ["--smooth", "3", "--smooth-method", "view"])):
        out = tmp_path / f"{name}.json"
        assert cli_main(["evaluate", "--checkpoint", str(tiny_run), "--out", str(out), *flags]) == 0
        report = json.loads(out.read_text())["metrics"]
        for key in ("mpjpe", "pa_mpjpe", "facing_error_median"):
            assert scores[name][key] == pytest.approx(report[key], abs=1e-3), (name, key)
    assert scores["view"]["mpjpe"] != scores["frame"]["mpjpe"] != scores["mean"]["mpjpe"]


def test_it_prints_a_row_per_checkpoint_and_the_medians(tiny_run, tmp_path):
    out = tmp_path / "smoothing.md"
    assert video_smoothing.main([str(tiny_run), str(tiny_run / "checkpoints" / "last.pt"), "--window", "3",
                                 "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[-3].startswith(f"| {tiny_run} |") and lines[-1].startswith("| median of 2 |")
    assert all(line.count("|") == 8 for line in lines[-3:])


def test_the_side_window_flip_test_and_test_people_are_the_evaluations(tiny_side_run, tmp_path):
    from partpose.cli.main import main as cli_main

    out = tmp_path / "read.md"
    flags = ["--flip-test", "--side-window", "3", "--test-people", "3"]
    assert video_smoothing.main([str(tiny_side_run), "--window", "3", *flags, "--out", str(out)]) == 0
    row = out.read_text().splitlines()[-1]
    assert "worn by 3 held-out people" in out.read_text() and "the side read over 3 frames" in out.read_text()
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    for cell, extra in ((cells[2], []), (cells[4], ["--smooth", "3", "--smooth-method", "view"])):
        report = tmp_path / "evaluation.json"
        assert cli_main(["evaluate", "--checkpoint", str(tiny_side_run), "--out", str(report), *flags, *extra]) == 0
        metrics = json.loads(report.read_text())["metrics"]
        assert cell.startswith(f"{metrics['mpjpe']:.1f} / {metrics['pa_mpjpe']:.1f}, ")


@pytest.mark.parametrize("flags", [["--side-window", "2"], ["--side-window", "-1"], ["--window", "4"], ["--test-people", "0"]])
def test_bad_flags_are_refused(tiny_run, flags):
    with pytest.raises(SystemExit):
        video_smoothing.main([str(tiny_run), *flags])


def test_a_side_window_needs_a_side_network(tiny_run, capsys):
    assert video_smoothing.main([str(tiny_run), "--side-window", "3"]) != 0
    assert "no side network" in capsys.readouterr().err
