"""models/side.py and PartPoseModel.encode_sided / turn_to_side / side_logits: the side network's logits, and
the poses turned to the side it reads or is given, against the geometry worked out separately."""

import pytest
import torch

from partpose.geometry import facing, kinematics, mirror
from partpose.geometry.part_patches import part_patches as side_part_patches
from partpose.geometry.skeleton import H36M17
from partpose.models.encoder import EncoderConfig
from partpose.models.partpose_model import ModelConfig, PartPoseModel
from partpose.models.side import SideEnsemble, SideNetwork, make_side

from bodies import crawlers_seen


def _model(**changes) -> PartPoseModel:
    torch.manual_seed(0)
    return PartPoseModel(ModelConfig(**changes)).eval()


def test_the_side_network_reads_one_logit_per_image():
    torch.manual_seed(0)
    network = SideNetwork(EncoderConfig())
    logits = network(torch.rand(3, 3, 64, 64))
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    assert not torch.allclose(logits[0], logits[1])


def test_without_a_side_network_encode_sided_is_encode():
    model = _model()
    assert model.side is None
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.encode_sided(images).pose_cam_mm, model.encode(images).pose_cam_mm)


def test_turn_to_side_turns_exactly_the_poses_that_show_the_other_side():
    model = _model(side_network=True, side_camera_elevation_deg=10.0)
    with torch.no_grad():
        est = model.encode(torch.rand(4, 3, 64, 64))
        shown = facing.faces_camera(est.pose_cam_mm)
        # frames 0 and 2 are told the side they show, 1 and 3 the other one
        logits = torch.where(shown, 1.0, -1.0) * torch.tensor([1.0, -1.0, 1.0, -1.0])
        turned = model.turn_to_side(est, logits)
    kept, changed = [0, 2], [1, 3]
    for name in ("pose_cam_mm", "pose_canon_mm", "cam_R_canon", "q", "depth", "local_vectors", "hip_angle"):
        assert torch.equal(getattr(turned, name)[kept], getattr(est, name)[kept]), name
    twin = facing.upright_twin_pose(est.pose_cam_mm, facing.camera_up(10.0).float())
    torch.testing.assert_close(turned.pose_cam_mm[changed], twin[changed])
    # the turned estimate is one pose throughout: R @ canonical, its projection, its kinematics
    torch.testing.assert_close(torch.einsum("bij,bkj->bki", turned.cam_R_canon, turned.pose_canon_mm), turned.pose_cam_mm,
                               atol=1e-3, rtol=0)
    q, depth = model.pose_for_prior(turned.pose_canon_mm, turned.cam_R_canon, turned.scale, turned.offset)
    torch.testing.assert_close(turned.q, q)
    torch.testing.assert_close(turned.depth, depth)
    fk = kinematics.forward_kinematics(turned.local_vectors, turned.hip_angle, model.bone_lengths_mm)
    torch.testing.assert_close(fk[changed], turned.pose_canon_mm[changed], atol=1e-2, rtol=0)
    # a level camera: the depth twin, the same 2D joints with left and right exchanged
    level = _model(side_network=True)
    with torch.no_grad():
        flat = level.turn_to_side(est, logits)
    torch.testing.assert_close(flat.q[changed], est.q[changed][:, list(H36M17.flip_permutation)], atol=1e-4, rtol=0)


def test_turn_to_side_by_the_chest_and_the_head_gives_every_pose_the_side_asked_for():
    model = _model(side_network=True, side_camera_elevation_deg=10.0, side_definition="chest_and_spine")
    up = facing.camera_up(10.0).float()
    with torch.no_grad():
        est = model.encode(torch.rand(6, 3, 64, 64))
        shown = facing.chest_and_spine_front(est.pose_cam_mm, up)
        logits = torch.tensor([1.0, -1.0, 1.0, -1.0, 2.0, -2.0])
        turned = model.turn_to_side(est, logits)
    # by that definition the upright twin always shows the other side: every pose ends on the side asked for
    assert torch.equal(facing.chest_and_spine_front(turned.pose_cam_mm, up), logits > 0)
    changed = shown != (logits > 0)
    assert changed.any() and (~changed).any()
    twin = facing.upright_twin_pose(est.pose_cam_mm, up)
    torch.testing.assert_close(turned.pose_cam_mm[changed], twin[changed])
    assert torch.equal(turned.pose_cam_mm[~changed], est.pose_cam_mm[~changed])


def test_encode_sided_uses_the_side_networks_logits():
    model = _model(side_network=True, side_camera_elevation_deg=10.0)
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = model.turn_to_side(model.encode(images), model.side(images))
        assert torch.equal(model.encode_sided(images).pose_cam_mm, expected.pose_cam_mm)


def test_turn_to_side_takes_each_frames_camera_up_and_falls_back_where_it_is_nan():
    model = _model(side_network=True, side_camera_elevation_deg=10.0)
    with torch.no_grad():
        est = model.encode(torch.rand(3, 3, 64, 64))
        logits = torch.where(facing.faces_camera(est.pose_cam_mm), -1.0, 1.0)  # turn every pose
        up = torch.stack([facing.camera_up(25.0).float(), torch.full((3,), float("nan")), facing.camera_up(-5.0).float()])
        turned = model.turn_to_side(est, logits, up)
        fallback = facing.camera_up(10.0).float()
        expected = torch.stack([
            facing.upright_twin_pose(est.pose_cam_mm[i:i + 1], u)[0] for i, u in enumerate((up[0], fallback, up[2]))
        ])
        torch.testing.assert_close(turned.pose_cam_mm, expected)
        # one up for the whole batch, as a (3,) vector
        torch.testing.assert_close(model.turn_to_side(est, logits, up[0]).pose_cam_mm[2],
                                   facing.upright_twin_pose(est.pose_cam_mm[2:], up[0])[0])


def test_a_side_network_that_reads_the_parts_reads_their_patches():
    from partpose.geometry.part_patches import part_patches

    torch.manual_seed(0)
    network = SideNetwork(EncoderConfig(), input="parts", patch_size=16).eval()
    images, joints = torch.rand(3, 3, 64, 64), torch.rand(3, 17, 2) - 0.5
    with torch.no_grad():
        expected = network.head(network.encoder.features(part_patches(images, joints, 16))).squeeze(1)
        torch.testing.assert_close(network(images, joints), expected)
    # the joints are read, not taught
    joints.requires_grad_(True)
    network(images, joints).sum().backward()
    assert joints.grad is None
    for bad in ({"input": "crop"}, {"patch_size": 2}):
        try:
            SideNetwork(EncoderConfig(), **bad)
        except ValueError as error:
            assert "side network" in str(error) or "patch_size" in str(error)
        else:
            raise AssertionError(f"{bad} accepted")
    try:
        network(images)
    except ValueError as error:
        assert "2D joints" in str(error)
    else:
        raise AssertionError("no joints accepted")


def test_a_side_ensemble_reads_the_mean_of_its_members_logits():
    torch.manual_seed(0)
    crop, parts = SideNetwork(EncoderConfig()).eval(), SideNetwork(EncoderConfig(), input="parts", patch_size=16).eval()
    images, joints = torch.rand(3, 3, 64, 64), torch.rand(3, 17, 2) - 0.5
    with torch.no_grad():
        one, two = crop(images), parts(images, joints)
        torch.testing.assert_close(SideEnsemble([crop, parts])(images, joints), (one + two) / 2)
        assert torch.equal(SideEnsemble([crop])(images), one)
    # it asks for the joints when any member reads the parts, as the model passes them then
    assert SideEnsemble([crop, parts]).input == "parts" and SideEnsemble([crop]).input == "image"
    with pytest.raises(ValueError, match="at least one"):
        SideEnsemble([])


def test_an_ensemble_gives_each_members_logits_and_takes_an_ensembles_members_as_its_own():
    torch.manual_seed(0)
    a, b, c = (SideNetwork(EncoderConfig()).eval() for _ in range(3))
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        each = torch.stack([a(images), b(images), c(images)])
        torch.testing.assert_close(SideEnsemble([a, b, c]).member_logits(images), each)
        assert torch.equal(a.member_logits(images), a(images)[None])
        # an ensemble inside an ensemble: three networks, each weighing a third
        nested = SideEnsemble([SideEnsemble([a, b]), c])
        assert list(nested.members) == [a, b, c]
        torch.testing.assert_close(nested(images), each.mean(dim=0))


def test_an_ensemble_cuts_the_parts_once_for_the_members_that_read_alike(monkeypatch):
    from partpose.models import side

    torch.manual_seed(0)
    members = [SideNetwork(EncoderConfig(), input="parts", patch_size=16).eval() for _ in range(3)]
    members.append(SideNetwork(EncoderConfig(), input="parts", patch_size=8).eval())
    members.append(SideNetwork(EncoderConfig()).eval())
    images, joints = torch.rand(2, 3, 64, 64), torch.rand(2, 17, 2) - 0.5
    with torch.no_grad():
        each = torch.stack([member(images, joints) for member in members])
        cuts = []
        monkeypatch.setattr(side, "part_patches", lambda *args: cuts.append(args[2]) or side_part_patches(*args))
        torch.testing.assert_close(SideEnsemble(members).member_logits(images, joints), each)
    assert sorted(cuts) == [8, 16]  # one cut a patch size, none for the crop's network


def test_make_side_draws_each_network_its_own_weights():
    torch.manual_seed(0)
    one = make_side(EncoderConfig(), "parts", 16)
    assert isinstance(one, SideNetwork) and one.input == "parts" and one.patch_size == 16
    three = make_side(EncoderConfig(), "parts", 16, count=3)
    assert isinstance(three, SideEnsemble) and len(three.members) == 3
    heads = [member.head.weight for member in three.members]
    assert not torch.equal(heads[0], heads[1]) and not torch.equal(heads[1], heads[2])
    assert all(member.input == "parts" and member.patch_size == 16 for member in three.members)
    with pytest.raises(ValueError, match="at least one"):
        make_side(EncoderConfig(), count=0)


def test_make_side_gives_each_network_the_input_it_is_told():
    mixed = make_side(EncoderConfig(), "image", 16, count=3, inputs=("parts", "image", "parts"))
    assert [member.input for member in mixed.members] == ["parts", "image", "parts"]
    assert all(member.patch_size == 16 for member in mixed.members)
    with pytest.raises(ValueError, match="3 networks, 2 inputs"):
        make_side(EncoderConfig(), count=3, inputs=("parts", "image"))


def test_a_committee_that_reads_the_crop_and_the_parts_reads_each_as_its_own_network_does():
    model = _model(side_network=True, side_networks=2, side_inputs=("parts", "image"))
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        joints = model.encode(images).q
        parts_alone = model.side.members[0](images, joints)
        crop_alone = model.side.members[1](images)
        torch.testing.assert_close(model.side.member_logits(images, joints), torch.stack([parts_alone, crop_alone]))
        torch.testing.assert_close(model.side_logits(images), (parts_alone + crop_alone) / 2)
    # the crop's network does not read the joints: moved, they move only the parts' network
    with torch.no_grad():
        moved = model.side.member_logits(images, joints + 0.3)
    assert torch.equal(moved[1], crop_alone) and not torch.equal(moved[0], parts_alone)


def test_a_model_with_several_side_networks_reads_their_mean_and_keeps_one_as_it_was():
    model = _model(side_network=True, side_networks=3)
    assert isinstance(model.side, SideEnsemble) and len(model.side.members) == 3
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        mean = torch.stack([member(images) for member in model.side.members]).mean(dim=0)
        torch.testing.assert_close(model.side_logits(images), mean)
    # one side network is the network itself: the checkpoints of earlier runs load as they were
    single = _model(side_network=True)
    assert isinstance(single.side, SideNetwork)
    assert all(key.startswith("side.encoder.") or key.startswith("side.head.")
               for key in single.state_dict() if key.startswith("side."))


def test_a_model_whose_side_is_an_ensemble_turns_its_poses_by_the_mean_logits():
    model = _model(side_network=True, side_camera_elevation_deg=10.0)
    torch.manual_seed(1)
    other = SideNetwork(model.config.encoder).eval()
    images = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        est = model.encode(images)
        mean = (model.side(images) + other(images)) / 2
        expected = model.turn_to_side(est, mean).pose_cam_mm
        model.side = SideEnsemble([model.side, other])
        assert torch.equal(model.encode_sided(images).pose_cam_mm, expected)


def test_encode_sided_gives_the_parts_network_the_encoders_joints():
    model = _model(side_network=True, side_input="parts", side_camera_elevation_deg=10.0)
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        est = model.encode(images)
        expected = model.turn_to_side(est, model.side(images, est.q))
        assert torch.equal(model.encode_sided(images).pose_cam_mm, expected.pose_cam_mm)


def test_side_logits_are_what_encode_sided_reads_and_given_logits_replace_them():
    model = _model(side_network=True, side_camera_elevation_deg=10.0)
    images = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    up = facing.camera_up(20.0).float()
    with torch.no_grad():
        est = model.encode(images)
        logits = model.side_logits(images)
        torch.testing.assert_close(logits, model.side(images, est.q).float())
        mirrored = mirror.mirror_image(images)
        both = (logits + model.side(mirrored, model.encode(mirrored).q).float()) / 2
        torch.testing.assert_close(model.side_logits(images, flip_test=True), both)
        # given logits: the poses turned to them, whatever the network reads
        given = torch.where(facing.faces_camera(est.pose_cam_mm), -1.0, 1.0)  # every frame the other side
        torch.testing.assert_close(model.encode_sided(images, up, front_logits=given).pose_cam_mm,
                                   model.turn_to_side(est, given, up).pose_cam_mm)
        # and under the flip test, both readings take the given side, not the one they read
        flipped = model.encode_sided(images, up, flip_test=True, front_logits=given)
        assert torch.equal(facing.faces_camera(flipped.pose_cam_mm), given > 0)
    with pytest.raises(ValueError, match="side network"):
        _model().side_logits(images)
    with pytest.raises(ValueError, match="side network"):
        _model().encode_sided(images, front_logits=given)


def test_bodies_on_the_ground_take_the_side_their_hands_and_legs_give_whatever_the_logits():
    # a crawler, its head's end towards a camera 5° above (heading 180°), drawn by the encoder as
    # the depth twin of the truth (the same 2D joints, the depths negated, tilted by twice the
    # pitch): by the chest and the head it shows its back, the hands' end farther
    crawler, up64 = crawlers_seen(torch.tensor([180.0]), torch.tensor([5.0]), torch.tensor([0.0]))
    up = up64[0].float()
    crawler = (1000.0 * (crawler - crawler[:, :1])).float()
    drawn = facing.depth_twin_pose(crawler)
    standing = torch.zeros(1, 17, 3)
    standing[0, :, 1] = -torch.linspace(0.0, 800.0, 17)  # a column up the image, facing nowhere in particular
    standing[0, H36M17.index("l_shoulder"), 0], standing[0, H36M17.index("r_shoulder"), 0] = 150.0, -150.0
    pose = torch.cat((drawn, standing))
    assert not bool(facing.chest_and_spine_front(drawn, up)) and bool(facing.chest_and_spine_front(crawler, up))
    for band, ground_turns in ((30.0, True), (0.0, False)):
        model = _model(side_network=True, side_camera_elevation_deg=5.0, side_ground_band_deg=band)
        est = model.estimate_from_camera_pose(pose, torch.full((2,), 1e-3), torch.zeros(2, 2), torch.zeros(2, 8))
        assert torch.equal(facing.lies_along_ground(pose, up, 30.0), torch.tensor([True, False]))
        for sign in (1.0, -1.0):
            logits = sign * torch.where(facing.faces_camera(pose), 1.0, -1.0)  # keep both poses (+), turn both (-)
            turned = model.turn_to_side(est, logits, up).pose_cam_mm
            twin = facing.upright_twin_pose(pose, up)
            # the crawler: turned to the hands' end nearer, as its 2D joints say, whatever the logits
            expected_crawler = twin[0] if ground_turns or sign < 0 else pose[0]
            torch.testing.assert_close(turned[0], expected_crawler)
            if ground_turns:
                assert bool(facing.chest_and_spine_front(turned[:1], up))
            # the standing body follows the logits
            torch.testing.assert_close(turned[1], pose[1] if sign > 0 else twin[1])
