"""``partpose export`` end to end: the TorchScript pose path matches the eager model."""

import pytest
import torch

from partpose.inference.loading import load_model


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_export_matches_eager(cli, checkpoint, tmp_path):
    out = tmp_path / "pose.pt"
    status, stdout, _ = cli("export", "--checkpoint", checkpoint, "--out", out, "--check")
    assert status == 0
    assert "max |exported - eager|" in stdout and "check: passed" in stdout
    exported = torch.jit.load(str(out))  # loads without partpose's classes
    model = load_model(checkpoint).model
    image = torch.rand(7, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        est = model.encode(image)
        pose_cam_mm, q, depth = exported(image)
    assert pose_cam_mm.shape == (7, 17, 3) and q.shape == (7, 17, 2) and depth.shape == (7, 17)
    assert (pose_cam_mm - est.pose_cam_mm).abs().max() < 1e-4
    assert (q - est.q).abs().max() < 1e-4
    assert (depth - est.depth).abs().max() < 1e-4
    # the exported pose depends on the image (the trace did not freeze one input's result)
    assert (pose_cam_mm[0] - pose_cam_mm[1]).abs().max() > 0


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_export_of_the_flip_test(cli, checkpoint, tmp_path):
    out = tmp_path / "flip.pt"
    status, stdout, _ = cli("export", "--checkpoint", checkpoint, "--out", out, "--flip-test", "--check")
    assert status == 0 and "flip test" in stdout and "check: passed" in stdout
    model = load_model(checkpoint).model
    image = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = model.encode_flip_test(image).pose_cam_mm
        pose_cam_mm, _, _ = torch.jit.load(str(out))(image)
    assert (pose_cam_mm - expected).abs().max() < 1e-3


def test_export_bad_inputs(cli, assert_one_line_error, checkpoint, tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    assert_one_line_error(cli("export", "--checkpoint", tmp_path / "list.pt", "--out", tmp_path / "m.pt"), "list.pt")
    assert_one_line_error(cli("export", "--checkpoint", tmp_path / "nothing", "--out", tmp_path / "m.pt"), "not found")
    (tmp_path / "file").write_text("a file, not a folder")
    assert_one_line_error(cli("export", "--checkpoint", checkpoint, "--out", tmp_path / "file" / "m.pt"),
                          "cannot create the folder")
    assert_one_line_error(cli("export", "--checkpoint", checkpoint, "--out", tmp_path / "m.pt", "--tolerance", 0),
                          "--tolerance")
