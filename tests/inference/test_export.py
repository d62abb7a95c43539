"""The exported pose path matches the eager model, for any batch size, and says what it is."""

import pytest
import torch

from partpose.errors import UserError
from partpose.inference.export import (
    PosePath,
    export_pose_path,
    load_exported,
    max_export_difference,
    trace_pose_path,
)

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.* is deprecated:DeprecationWarning")


def test_export_roundtrip_matches_eager(tiny, images, tmp_path):
    _, model = tiny
    path = export_pose_path(model, tmp_path / "pose.pt")
    exported, info = load_exported(path)
    assert info["resolution"] == 32 and info["outputs"] == ["pose_cam_mm", "q", "depth"]
    assert info["joint_names"][0] == "pelvis" and len(info["joint_names"]) == 17
    for batch in (1, 5):  # traced with batch 2
        with torch.no_grad():
            est = model.encode(images[:batch])
            pose_cam_mm, q, depth = exported(images[:batch])
        assert pose_cam_mm.shape == (batch, 17, 3)
        assert (pose_cam_mm - est.pose_cam_mm).abs().max() < 1e-4
        assert (q - est.q).abs().max() < 1e-4 and (depth - est.depth).abs().max() < 1e-4
    assert (pose_cam_mm[0] - pose_cam_mm[1]).abs().max() > 1.0  # depends on the image
    difference = max_export_difference(model, exported)
    assert difference["max"] < 1e-4 and set(difference) == {"pose_cam_mm", "q", "depth", "max"}


def test_export_of_the_ablation_without_fk_camera(model_factory, images, tmp_path):
    _, model = model_factory("model.no_fk_camera=true")
    exported, _ = load_exported(export_pose_path(model, tmp_path / "ablation.pt"))
    with torch.no_grad():
        eager = PosePath(model)(images)
        traced = exported(images)
    for e, t in zip(eager, traced):
        assert (e - t).abs().max() < 1e-4


def test_export_of_a_model_with_a_side_network_turns_its_poses(model_factory, images, tmp_path):
    from partpose.geometry.facing import faces_camera

    _, model = model_factory("model.side_network=true", "objective.side_weight=1", "model.side_camera_elevation_deg=10")
    with torch.no_grad():
        plain = model.encode(images)
        front = faces_camera(plain.pose_cam_mm)
        # a side network that says "the back" for every image when most poses show the front, and "the front" if not
        model.side.head.weight.zero_()
        model.side.head.bias.fill_(-5.0 if int(front.sum()) * 2 >= len(images) else 5.0)
        sided = model.encode_sided(images)
    exported, _ = load_exported(export_pose_path(model, tmp_path / "sided.pt"))
    with torch.no_grad():
        pose_cam_mm, q, depth = exported(images)
    assert (pose_cam_mm - sided.pose_cam_mm).abs().max() < 1e-4 and (q - sided.q).abs().max() < 1e-4
    assert (depth - sided.depth).abs().max() < 1e-4
    turned = (sided.pose_cam_mm - plain.pose_cam_mm).abs().flatten(1).amax(dim=1) > 1.0
    assert torch.equal(turned, front if float(model.side.head.bias.detach()) < 0 else ~front) and int(turned.sum()) > 0


def test_export_of_a_model_with_several_side_networks_reads_their_mean(model_factory, images, tmp_path):
    _, model = model_factory("model.side_network=true", "model.side_networks=3", "objective.side_weight=1")
    with torch.no_grad():
        # the members split two against one on every image: the mean, not any one member, decides
        for member, bias in zip(model.side.members, (4.0, 4.0, -12.0)):
            member.head.weight.zero_()
            member.head.bias.fill_(bias)
        sided = model.encode_sided(images)
        assert (model.side_logits(images) < 0).all()
    exported, _ = load_exported(export_pose_path(model, tmp_path / "sides.pt"))
    with torch.no_grad():
        pose_cam_mm, q, depth = exported(images)
    assert (pose_cam_mm - sided.pose_cam_mm).abs().max() < 1e-4 and (q - sided.q).abs().max() < 1e-4
    assert (depth - sided.depth).abs().max() < 1e-4


def test_export_of_a_model_that_sides_bodies_on_the_ground_by_their_hands_and_legs(model_factory, images, tmp_path):
    from partpose.geometry import facing

    # a band of 90° puts every body on the ground: each pose takes the side its 2D hands and legs give
    _, model = model_factory("model.side_network=true", "objective.side_weight=1", "model.side_camera_elevation_deg=10",
                             "model.side_ground_band_deg=90")
    with torch.no_grad():
        plain = model.encode(images)
        sided = model.encode_sided(images)
    up = facing.camera_up(10.0).float()
    assert torch.equal(facing.chest_and_spine_front(sided.pose_cam_mm, up), facing.ground_front(plain.q, up))
    turned = (sided.pose_cam_mm - plain.pose_cam_mm).abs().flatten(1).amax(dim=1) > 1.0
    assert turned.any() and not turned.all()
    exported, _ = load_exported(export_pose_path(model, tmp_path / "ground.pt"))
    with torch.no_grad():
        pose_cam_mm, q, depth = exported(images)
    assert (pose_cam_mm - sided.pose_cam_mm).abs().max() < 1e-4 and (q - sided.q).abs().max() < 1e-4
    assert (depth - sided.depth).abs().max() < 1e-4


@pytest.mark.parametrize("side_network", [False, True])
def test_export_of_the_flip_test(model_factory, images, tmp_path, side_network):
    extra = ("model.side_network=true", "objective.side_weight=1", "model.side_camera_elevation_deg=10")
    _, model = model_factory(*(extra if side_network else ()))
    path = export_pose_path(model, tmp_path / "flip.pt", flip_test=True)
    exported, info = load_exported(path)
    assert info["flip_test"] is True
    for batch in (1, 5):
        with torch.no_grad():
            est = model.encode_flip_test(images[:batch])
            pose_cam_mm, q, depth = exported(images[:batch])
        assert (pose_cam_mm - est.pose_cam_mm).abs().max() < 1e-3
        assert (q - est.q).abs().max() < 1e-4 and (depth - est.depth).abs().max() < 1e-5
    assert max_export_difference(model, exported, flip_test=True)["max"] < 1e-3
    assert max_export_difference(model, exported)["pose_cam_mm"] > 1e-3  # not the plain pose path
    assert load_exported(export_pose_path(model, tmp_path / "plain.pt"))[1]["flip_test"] is False


def test_max_export_difference_detects_a_different_model(model_factory, tiny):
    _, model = tiny
    _, other = model_factory(seed=1)
    assert max_export_difference(model, trace_pose_path(other))["max"] > 1.0


def test_bad_exports(tiny, tmp_path):
    _, model = tiny
    with pytest.raises(UserError, match="unknown export format"):
        export_pose_path(model, tmp_path / "m.onnx", fmt="onnx")
    with pytest.raises(UserError, match="not found"):
        load_exported(tmp_path / "missing.pt")
    torch.save(model.state_dict(), tmp_path / "state.pt")
    with pytest.raises(UserError, match="not a TorchScript file"):
        load_exported(tmp_path / "state.pt")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp_path / "linear.pt"))
    with pytest.raises(UserError, match="not an exported partpose pose path"):
        load_exported(tmp_path / "linear.pt")
