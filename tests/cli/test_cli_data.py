import json

import numpy as np
import pytest

from partpose.cli.main import main
from partpose.data.video import load_video


def test_synth_writes_videos_previews_and_index(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--split", "test", "--resolution", "32",
            "--videos-per-motion", "1", "--frames-per-video", "3"]
    assert main(args) == 0
    index = json.loads((out / "index.json").read_text())
    entries = index["splits"]["test"]["videos"]
    # The default split cuts every motion clip in time: one test video per motion.
    assert len(entries) == 20 and index["splits"]["test"]["config"]["resolution"] == 32
    for entry in entries:
        video = load_video(out / entry["file"])
        assert video.frames.shape == (3, 32, 32, 3) and video.name == entry["name"]
        assert video.pose3d_cam_mm.shape == (3, 17, 3) and video.segmentation.shape == (3, 32, 32)
        assert (out / entry["file"]).with_suffix(".mp4").stat().st_size > 0
    assert "wrote 20 test videos" in capsys.readouterr().out
    # A second split adds to the index; PNG frames instead of an mp4.
    assert main(["data", "synth", "--out", str(out), "--resolution", "32", "--videos-per-motion", "1",
                 "--frames-per-video", "2", "--frames", "png"]) == 0
    index = json.loads((out / "index.json").read_text())
    assert set(index["splits"]) == {"train", "test"}
    first = out / index["splits"]["train"]["videos"][0]["file"]
    assert sorted(p.name for p in first.with_suffix("").iterdir()) == ["0000.png", "0001.png"]


def test_preview_writes_a_png(tmp_path):
    path = tmp_path / "sheet.png"
    assert main(["data", "preview", "--dataset", "synthetic", "--out", str(path), "--n", "2", "--split", "test"]) == 0
    import imageio.v3 as iio

    sheet = iio.imread(path)
    assert sheet.ndim == 3 and sheet.shape[1] == 5 * 192 and sheet.shape[0] > 2 * 192
    assert np.unique(sheet.reshape(-1, 3), axis=0).shape[0] > 100


@pytest.mark.parametrize(
    "args, message",
    [
        (["data", "preview", "--dataset", "h37m"], "unknown dataset 'h37m'; known datasets: synthetic, h36m"),
        (["data", "synth", "--out", "x", "--split", "val"], "unknown split 'val'"),
        (["data", "synth", "--out", "x", "--resolution", "3"], "resolution"),
        (["data", "synth", "--out", "x", "--frames", "gif"], "--frames"),
        (["data", "preview", "--out", "sheet.jpg"], "PNG"),
        (["data", "preview", "--n", "0"], "--n"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("partpose: error:") and message in err
