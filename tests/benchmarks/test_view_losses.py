"""benchmarks/view_losses.py: each loss form is what its name says, and the script runs."""

import pytest
import torch

from benchmark_scripts import ROOT, load_benchmark
from rotations import turn

view_losses = load_benchmark("view_losses")
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny(tiny_supervised):
    _, data, model = tiny_supervised
    batch = {key: torch.stack([data.pairs[i][key] for i in range(3)]) for key in ("image_t", "pose3d_t", "pose2d_t")}
    return model, batch, data


def test_the_forms_add_up_from_their_terms(tiny):
    from partpose.geometry.kinematics import canonicalize
    from partpose.losses.supervision import pose2d_loss, pose3d_loss

    model, batch, _ = tiny
    est = model.encode(batch["image_t"])
    p3, p2 = batch["pose3d_t"], batch["pose2d_t"]
    loss = {kind: float(view_losses.view_loss(kind, est, p3, p2).detach()) for kind in view_losses.LOSSES}
    every = torch.ones(3, dtype=torch.bool)
    camera = float(pose3d_loss(est.pose_cam_mm, p3, every).detach())
    two_d = float(pose2d_loss(est.q, p2, every).detach())
    canonical, canon_R_cam = canonicalize(p3 - p3[:, :1])
    canon = float((canonical - est.pose_canon_mm).abs().mean().detach() / 1000.0)
    entries = float((est.cam_R_canon - canon_R_cam.transpose(1, 2)).abs().mean().detach())
    assert loss["none"] == pytest.approx(two_d, rel=1e-5)  # the 2D labels alone
    assert loss["camera"] == pytest.approx(camera + two_d, rel=1e-5)  # the supervised row
    assert loss["camera_rotation_l1"] == pytest.approx(camera + entries + two_d, rel=1e-5)
    assert loss["canonical_rotation_l1"] == pytest.approx(canon + entries + two_d, rel=1e-5)
    assert loss["canonical_camera"] == pytest.approx(canon + camera + two_d, rel=1e-5)
    for kind in ("canonical_rotation_frobenius", "canonical_rotation_geodesic"):
        assert loss[kind] > canon + two_d  # an untrained encoder's rotation is not the truth's
    facing = view_losses.facing_loss(est.cam_R_canon, canon_R_cam.transpose(1, 2))
    assert loss["camera_facing"] == pytest.approx(camera + float(facing.detach()) + two_d, rel=1e-5)


def test_the_facing_loss_is_one_minus_the_cosine_of_the_facing_angle():
    base = turn(1, 40.0) @ turn(0, 15.0)  # any view: the columns are the canonical axes
    cases = ((0, 70.0, 0.0),  # turned about the facing axis itself: the facing is unchanged
             (2, 90.0, 1.0),  # a quarter turn about the spine: the facing is at right angles
             (2, 60.0, 0.5),  # 60° about the spine: 1 - cos 60°
             (1, 180.0, 2.0))  # half round: the facing is opposite
    for axis, degrees, expected in cases:
        turned = base @ turn(axis, degrees)
        assert float(view_losses.facing_loss(turned[None], base[None])) == pytest.approx(expected, abs=1e-9)


def test_it_runs_end_to_end_and_refuses_a_bad_override(tmp_path, capsys):
    out = tmp_path / "view_losses.md"
    args = ["--config", str(TINY), "--steps", "2", "--eval-every", "1", "--batch-size", "2",
            "--losses", "camera", "canonical_camera", "--seeds", "0", "1"]
    assert view_losses.main(args + ["--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith(("| camera", "| canonical"))]
    assert [row.split(" | ")[:2] for row in rows] == [["| camera", "0"], ["| camera", "1"],
                                                       ["| canonical_camera", "0"], ["| canonical_camera", "1"]]
    assert view_losses.main(["no.such_key=1"] + args) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_the_mpjpe_of_turned_and_other_frames_make_up_the_whole(tiny):
    model, _, data = tiny
    scores = view_losses.evaluate(model.eval(), data.test_frames)
    share = scores["turned_over_90"] / 100.0
    parts = [(share, scores["mpjpe_turned"]), (1.0 - share, scores["mpjpe_not_turned"])]
    whole = sum(weight * value for weight, value in parts if weight > 0)
    assert whole == pytest.approx(scores["mpjpe"], rel=1e-4)


def test_colour_jitter_shuffles_and_scales_the_channels_of_each_image():
    image = torch.rand(6, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    shuffled = view_losses.jitter_colours(image, torch.Generator().manual_seed(0), gain=0.0)
    for b in range(6):  # without gains: the image's own channels, in some order
        matches = [[torch.equal(shuffled[b, i], image[b, j]) for j in range(3)] for i in range(3)]
        assert all(sum(row) == 1 for row in matches) and all(sum(col) == 1 for col in zip(*matches))
    orders = {tuple(int(torch.argmax(torch.tensor([float(torch.equal(shuffled[b, i], image[b, j])) for j in range(3)])))
                    for i in range(3)) for b in range(6)}
    assert len(orders) > 1  # a new draw per image
    scaled = view_losses.jitter_colours(image, torch.Generator().manual_seed(0), gain=0.4)
    ratio = scaled / shuffled.clamp_min(1e-6)
    unclamped = scaled < 1.0
    per_channel = [ratio[b, c][unclamped[b, c]] for b in range(6) for c in range(3)]
    assert all(float(r.max() - r.min()) < 1e-4 for r in per_channel)  # one gain per channel
    assert all(0.6 - 1e-4 <= float(r.mean()) <= 1.4 + 1e-4 for r in per_channel)
    assert float(scaled.min()) >= 0.0 and float(scaled.max()) <= 1.0
