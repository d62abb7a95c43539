"""benchmarks/energy_route.py: the decoded prior poses carry their true labels, and the script runs."""

import pytest
import torch

from benchmark_scripts import ROOT, load_benchmark

route = load_benchmark("energy_route")
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny(tiny_supervised):
    return tiny_supervised


def test_a_decoded_prior_pose_is_labelled_with_its_own_view(tiny):
    config, data, model = tiny
    batch = {key: torch.stack([data.pairs[i][key] for i in range(4)]) for key in ("image_s", "background")}
    prior, up = data.prior.sample(4, torch.Generator().manual_seed(1), with_up=True)
    image, pose_cam_mm, q = route.decoded_batch(model, batch, prior, config.objective, torch.Generator().manual_seed(2), up)
    assert image.shape == batch["background"].shape and 0.0 <= image.min() and image.max() <= 1.0
    # the camera-frame label is the prior pose rotated: every joint keeps its distance to the pelvis
    assert torch.allclose(pose_cam_mm.norm(dim=-1), prior.norm(dim=-1), atol=1e-2)
    # the 2D label is that pose framed like a crop: joint box centred, its longer side 2 * fill
    low, high = q.amin(dim=1), q.amax(dim=1)
    assert torch.allclose((low + high) / 2, torch.zeros(4, 2), atol=1e-5)
    assert torch.allclose((high - low).amax(dim=1), torch.full((4,), 2 * config.objective.prior_crop_fill), atol=1e-5)
    # ... and a weak-perspective image of it: q = s * xy + t with one s and t per sample
    xy = pose_cam_mm[..., :2]
    centred_xy, centred_q = xy - xy.mean(1, keepdim=True), q - q.mean(1, keepdim=True)
    s = (centred_xy * centred_q).sum((1, 2)) / (centred_xy ** 2).sum((1, 2))
    assert torch.allclose(s[:, None, None] * centred_xy, centred_q, atol=1e-5)
    # the drawing is not the bare plate: the puppet is painted over it
    assert (image - batch["background"]).abs().amax() > 0.05


def test_a_decoded_training_pose_is_labelled_with_the_frame_s_own_pose(tiny):
    _, data, model = tiny
    keys = ("image_s", "image_t", "background", "saliency_t", "pose2d_t", "pose3d_t")
    batch = {key: torch.stack([data.pairs[i][key] for i in range(4)]) for key in keys}
    image, pose_cam_mm, q = route.decoded_batch_of_truth(model, batch)
    assert image.shape == batch["image_t"].shape and 0.0 <= image.min() and image.max() <= 1.0
    # the frame's own pose, retargeted to the prior's bone lengths: close to, not equal to, the label
    assert 0 < (q - batch["pose2d_t"]).norm(dim=-1).mean() < 0.05
    root_relative = lambda p: p - p[:, :1]  # noqa: E731
    assert 0 < (root_relative(pose_cam_mm) - root_relative(batch["pose3d_t"])).norm(dim=-1).mean() < 60.0


def test_it_runs_end_to_end_and_refuses_a_bad_override(tmp_path, capsys):
    out = tmp_path / "route.md"
    args = ["--config", str(TINY), "--decoder-steps", "2", "--steps", "2", "--eval-every", "1", "--batch-size", "2"]
    assert route.main(args + ["--out", str(out)]) == 0
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith(("| decoded", "| real"))]
    assert len(rows) == 2 and rows[0].startswith("| decoded prior poses") and rows[1].startswith("| real frames")
    assert "| training frames (their true views) |" in text and "| view prior about the world's up" in text
    assert rows[0].count("°") == 4 and rows[1].count("°") == 3  # 0, 1 and 2 iterations (+ on drawings)
    assert route.main(args + ["no.such_key=1"]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_view_angles_read_back_elevation_and_roll():
    import math

    from partpose.geometry.camera import view_rotation

    elevation = torch.tensor([-0.3, 0.0, 0.5], dtype=torch.float64)
    cam_R = view_rotation(torch.tensor([0.2, 1.0, -2.0], dtype=torch.float64), elevation)
    got_elevation, got_roll = route.view_angles(cam_R)
    torch.testing.assert_close(got_elevation, torch.rad2deg(elevation))
    torch.testing.assert_close(got_roll, torch.zeros(3, dtype=torch.float64), atol=1e-9, rtol=0)
    # the camera turned by 20 degrees about its line of sight: the image's x axis leaves the plane
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    roll_R = torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    _, rolled = route.view_angles(roll_R @ view_rotation(torch.zeros(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)))
    assert abs(abs(float(rolled[0])) - 20.0) < 1e-9
