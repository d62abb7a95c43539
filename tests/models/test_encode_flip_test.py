"""PartPoseModel.encode_flip_test: against a frame-by-frame twin written from the definition,
mirror-equivariant, and a consistent PoseEstimate."""

import pytest
import torch
from torch import nn

from partpose.geometry import facing, kinematics
from partpose.geometry.skeleton import H36M17, bone_lengths
from partpose.models.partpose_model import ModelConfig, PartPoseModel

PERM = list(H36M17.flip_permutation)


def _left_minus_right(image: torch.Tensor) -> torch.Tensor:
    half = image.shape[-1] // 2
    return image[..., :half].mean(dim=(1, 2, 3)) - image[..., half:].mean(dim=(1, 2, 3))


class _SideReader(nn.Module):
    """A side network whose logits change sign between an image and its mirror (the left-right
    term) and, averaged over the two, keep the sign of the image's brightness."""

    def forward(self, image: torch.Tensor, joints_2d: torch.Tensor | None = None) -> torch.Tensor:
        return (image.mean(dim=(1, 2, 3)) - 0.4) * 50.0 + _left_minus_right(image) * 200.0


class _TurningModel(PartPoseModel):
    """An untrained model reads every person facing the camera; this one shows the back where an
    image's right half is the brighter, so that an image and its mirror disagree on the side."""

    def encode(self, image: torch.Tensor):
        return self.turn_to_side(super().encode(image), _left_minus_right(image) * 100.0)


def _model(**changes) -> PartPoseModel:
    torch.manual_seed(0)
    model = _TurningModel(ModelConfig(**changes)).eval()
    if model.side is not None:
        model.side = _SideReader()
    return model


def _images(batch=4, seed=0) -> torch.Tensor:
    """Random pictures, brighter with the index, every other one brighter on its left."""
    images = torch.rand(batch, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 0.5
    ramp = torch.linspace(-0.2, 0.2, 64)
    for i in range(batch):
        images[i] += 0.1 * i + (ramp if i % 2 else -ramp)
    return images.clamp(0.0, 1.0)


def _ups(batch=4) -> torch.Tensor:
    up = facing.camera_up(10.0).float().repeat(batch, 1)
    up[1] = torch.tensor([0.3, -0.9, -0.2])  # a rolled camera
    up[1] = up[1] / up[1].norm()
    up[2] = float("nan")  # no camera given: the model's pitch
    return up


def _flip_test_one_frame(model: PartPoseModel, image: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """One frame ``(3, H, W)``, one up ``(3,)``: its flip-test pose ``(17, 3)`` spelled out."""
    columns = torch.arange(image.shape[-1] - 1, -1, -1)
    mirrored = image[:, :, columns]  # column i <- column W - 1 - i
    up_mirrored = up * torch.tensor([-1.0, 1.0, 1.0])
    est, est_m = model.encode(image[None]), model.encode(mirrored[None])
    if model.side is not None:
        logit = (model.side(image[None]) + model.side(mirrored[None])) / 2
    else:
        z = [facing.chest_normal(e.pose_cam_mm)[0] for e in (est, est_m)]
        logit = -(z[0][2] / z[0].norm() + z[1][2] / z[1].norm()).reshape(1) / 2
    pose = model.turn_to_side(est, logit, up[None]).pose_cam_mm[0]
    pose_m = model.turn_to_side(est_m, logit, up_mirrored[None]).pose_cam_mm[0]
    pose, pose_m = pose - pose[0], pose_m - pose_m[0]
    back = torch.stack([pose_m[PERM[j]] * torch.tensor([-1.0, 1.0, 1.0]) for j in range(H36M17.num_joints)])
    return (pose + back) / 2


@pytest.mark.parametrize("side_network", [False, True])
def test_flip_test_matches_the_frame_by_frame_twin(side_network):
    model = _model(side_network=side_network, side_camera_elevation_deg=10.0)
    images, ups = _images(), _ups()
    with torch.no_grad():
        est = model.encode_flip_test(images, ups)
        for i in range(len(images)):
            torch.testing.assert_close(est.pose_cam_mm[i], _flip_test_one_frame(model, images[i], ups[i]),
                                       atol=1e-3, rtol=1e-4)
        assert torch.equal(model.encode_sided(images, ups, flip_test=True).pose_cam_mm, est.pose_cam_mm)
        # the test means something: the image and its mirror are read on different sides
        sides = [facing.faces_camera(model.encode(x).pose_cam_mm) for x in (images, images.flip(-1))]
        assert (sides[0] != sides[1]).all() and sides[0].any() and not sides[0].all()


@pytest.mark.parametrize("side_network", [False, True])
def test_flip_test_of_the_mirror_is_the_mirrored_flip_test(side_network):
    model = _model(side_network=side_network, side_camera_elevation_deg=10.0)
    images, ups = _images(seed=1), _ups()
    with torch.no_grad():
        est = model.encode_flip_test(images, ups)
        est_m = model.encode_flip_test(images.flip(-1), ups * torch.tensor([-1.0, 1.0, 1.0]))
    back = est_m.pose_cam_mm[:, PERM] * torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(back, est.pose_cam_mm, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(-est_m.offset[:, 0], est.offset[:, 0])
    # a picture that is its own mirror, under a camera with no roll, gives a left-right symmetric pose
    symmetric = (images + images.flip(-1)) / 2
    with torch.no_grad():
        pose = model.encode_flip_test(symmetric, facing.camera_up(10.0).float()).pose_cam_mm
    torch.testing.assert_close(pose[:, PERM] * torch.tensor([-1.0, 1.0, 1.0]), pose, atol=1e-3, rtol=1e-4)


def test_flip_test_estimate_keeps_the_identities_of_encode():
    model = _model(side_network=True)
    images = _images(seed=2)
    with torch.no_grad():
        est = model.encode_flip_test(images)
        plain = model.encode(images)
    torch.testing.assert_close(torch.einsum("bij,bkj->bki", est.cam_R_canon, est.pose_canon_mm), est.pose_cam_mm,
                               atol=1e-3, rtol=1e-4)
    q, depth = model.pose_for_prior(est.pose_canon_mm, est.cam_R_canon, est.scale, est.offset)
    torch.testing.assert_close(est.q, q)
    torch.testing.assert_close(est.depth, est.pose_cam_mm[..., 2] / 1000.0, atol=1e-6, rtol=1e-5)
    # the local vectors and hip angle rebuild the averaged pose with its own bone lengths
    rebuilt = kinematics.forward_kinematics(est.local_vectors, est.hip_angle, bone_lengths(est.pose_canon_mm))
    torch.testing.assert_close(rebuilt, est.pose_canon_mm, atol=1e-2, rtol=1e-4)
    assert torch.equal(est.appearance, plain.appearance)
    assert all(getattr(est, k).dtype == torch.float32 for k in ("pose_cam_mm", "q", "depth", "scale", "offset"))


def test_flip_test_in_the_no_fk_camera_ablation():
    model = _model(no_fk_camera=True)
    with torch.no_grad():
        est = model.encode_flip_test(_images(batch=2))
    assert est.pose_cam_mm.shape == (2, 17, 3) and torch.isfinite(est.pose_cam_mm).all()
    torch.testing.assert_close(est.pose_cam_mm[:, 0], torch.zeros(2, 3))
