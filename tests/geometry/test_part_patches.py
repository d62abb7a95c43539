"""geometry/part_patches.py: the patches worked out by hand on a linear image, and unchanged when
the image and its joints turn or mirror together."""

import pytest
import torch

from partpose.geometry import part_patches as pp
from partpose.geometry.skeleton import H36M17


def _upright_joints() -> torch.Tensor:
    """``(1, 17, 2)``: pelvis at (0, 0.3), thorax 0.5 above it, nose and top of the head above
    that; the other joints spread about (they are not read)."""
    joints = torch.linspace(-0.6, 0.6, 34).reshape(1, 17, 2)
    joints[0, H36M17.index("pelvis")] = torch.tensor([0.0, 0.3])
    joints[0, H36M17.index("thorax")] = torch.tensor([0.0, -0.2])
    joints[0, H36M17.index("nose")] = torch.tensor([0.0, -0.35])
    joints[0, H36M17.index("head")] = torch.tensor([0.0, -0.5])
    return joints


def _linear_image(size: int = 64) -> torch.Tensor:
    """``(1, 2, size, size)``: channel 0 is x, channel 1 is y at each pixel's centre."""
    centres = (2 * torch.arange(size, dtype=torch.float64) + 1) / size - 1
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack((x, y))[None]


def test_an_upright_body_by_hand():
    patches = pp.part_patches(_linear_image(), _upright_joints().double(), size=8)
    assert patches.shape == (1, 2, 8, 16)
    step = (2 * torch.arange(8, dtype=torch.float64) + 1) / 8 - 1
    # the torso: L = 0.5, centred 0.55 L above the pelvis at (0, 0.025), half-side 0.8 L = 0.4,
    # the spine already up: columns run along x, rows along y
    torch.testing.assert_close(patches[0, 0, :, :8], (0.4 * step).expand(8, 8))
    torch.testing.assert_close(patches[0, 1, :, :8], (0.025 + 0.4 * step)[:, None].expand(8, 8))
    # the head: centred between nose and top at (0, -0.425), half-side 0.45 L = 0.225
    torch.testing.assert_close(patches[0, 0, :, 8:], (0.225 * step).expand(8, 8))
    torch.testing.assert_close(patches[0, 1, :, 8:], (-0.425 + 0.225 * step)[:, None].expand(8, 8))


def test_a_body_lying_down_is_cut_along_its_spine():
    # the same body turned a quarter round: its spine points along +x on screen
    joints = _upright_joints()
    lying = torch.stack((-joints[..., 1], joints[..., 0]), dim=-1)  # (x, y) -> (-y, x)
    patches = pp.part_patches(_linear_image(), lying.double(), size=8)
    step = (2 * torch.arange(8, dtype=torch.float64) + 1) / 8 - 1
    # rows now run along -x (the top row nearest the thorax's side, +x), columns along y
    torch.testing.assert_close(patches[0, 0, :, :8], (-0.025 - 0.4 * step)[:, None].expand(8, 8))
    torch.testing.assert_close(patches[0, 1, :, :8], (0.4 * step).expand(8, 8))


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_turning_the_image_and_its_joints_leaves_the_patches(turns):
    generator = torch.Generator().manual_seed(turns)
    image = torch.rand(2, 3, 64, 64, generator=generator)
    joints = _upright_joints().expand(2, 17, 2) + 0.05 * torch.randn(2, 17, 2, generator=generator)
    turned_image, turned_joints = image, joints
    for _ in range(turns):
        # rot90 on (H, W): the pixel at (x, y) moves to (y, -x)
        turned_image = torch.rot90(turned_image, 1, dims=(2, 3))
        turned_joints = torch.stack((turned_joints[..., 1], -turned_joints[..., 0]), dim=-1)
    torch.testing.assert_close(pp.part_patches(turned_image, turned_joints), pp.part_patches(image, joints),
                               atol=1e-5, rtol=0)


def test_mirroring_the_image_and_its_joints_mirrors_each_patch():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 64, 64, generator=generator)
    joints = _upright_joints().expand(2, 17, 2) + 0.05 * torch.randn(2, 17, 2, generator=generator)
    mirrored_joints = joints * torch.tensor([-1.0, 1.0])  # the joints read are on the midline: no relabelling
    patches = pp.part_patches(image, joints, size=16)
    mirrored = pp.part_patches(image.flip(-1), mirrored_joints, size=16)
    torch.testing.assert_close(mirrored[..., :16], patches[..., :16].flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(mirrored[..., 16:], patches[..., 16:].flip(-1), atol=1e-5, rtol=0)


def test_a_torso_seen_end_on_keeps_a_patch_and_an_up():
    joints = _upright_joints()
    joints[0, H36M17.index("thorax")] = joints[0, H36M17.index("pelvis")]
    centres, half_sides, up = pp.part_frames(joints)
    torch.testing.assert_close(up, torch.tensor([[0.0, -1.0]]))
    torch.testing.assert_close(half_sides, torch.tensor([[0.8 * 0.25, 0.45 * 0.25]]))
    assert torch.isfinite(pp.part_patches(torch.rand(1, 3, 64, 64), joints)).all()


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="joints"):
        pp.part_patches(torch.rand(2, 3, 64, 64), torch.zeros(2, 16, 2))
