"""Novel image synthesis: the turned camera, pose transfer, turntables and swap grids."""

import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from partpose.errors import UserError
from partpose.geometry.camera import project, view_rotation
from partpose.inference.synthesis import (
    dataset_images,
    rotate_view,
    rotation_about_vertical,
    swap_grid,
    transfer,
    turntable,
    write_synthesis,
)


def test_rotation_about_vertical_by_hand():
    r = rotation_about_vertical(torch.tensor([math.pi / 2], dtype=torch.float64))[0]
    v = lambda *xyz: torch.tensor(xyz, dtype=torch.float64)  # noqa: E731
    # a quarter turn counter-clockwise seen from above: face (+X) -> left (+Y), left -> back (-X)
    torch.testing.assert_close(r @ v(1.0, 0, 0), v(0.0, 1, 0))
    torch.testing.assert_close(r @ v(0.0, 1, 0), v(-1.0, 0, 0))
    torch.testing.assert_close(r @ v(0.0, 0, 1), v(0.0, 0, 1))
    many = rotation_about_vertical(torch.linspace(-4, 4, 9, dtype=torch.float64))
    torch.testing.assert_close(many @ many.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(9, 3, 3))
    torch.testing.assert_close(torch.linalg.det(many), torch.ones(9, dtype=torch.float64))


def test_turning_the_body_is_the_camera_moving_the_other_way():
    theta = torch.tensor([0.0, 0.3, 1.0, math.pi / 2, 2.5, -2.0], dtype=torch.float64)
    elevation = torch.full_like(theta, 0.2)
    start = view_rotation(torch.zeros_like(theta), elevation)
    torch.testing.assert_close(rotate_view(start, theta), view_rotation(-theta, elevation))


def test_rotate_view_with_an_asymmetric_pose():
    # A joint 100 mm in front of the pelvis (+X), seen from the front: 0.1 m nearer than the
    # pelvis. After a half turn it is behind (farther); after a quarter turn counter-clockwise it
    # sits on the person's left, which the front camera shows on the image right (+x).
    pose = torch.tensor([[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]]]).expand(3, 2, 3)
    front = view_rotation(torch.zeros(3), torch.zeros(3))
    turned = rotate_view(front, torch.tensor([0.0, math.pi, math.pi / 2]))
    q, depth = project(pose, turned, torch.ones(3), torch.zeros(3, 2))
    torch.testing.assert_close(depth[:, 1], torch.tensor([-0.1, 0.1, 0.0]), atol=1e-6, rtol=0)
    torch.testing.assert_close(q[2, 1], torch.tensor([0.1, 0.0]), atol=1e-6, rtol=0)


def test_transfer_takes_pose_from_one_image_and_appearance_from_the_other(tiny, images):
    _, model = tiny
    a, b = images[:1], images[1:2]
    result = transfer(model, pose_images=a, appearance_images=b)
    with torch.no_grad():
        est_a, est_b = model.encode(a), model.encode(b)
        expected = model.synthesize(est_b.appearance, est_a.q, est_a.depth, est_a.scale)
        own_b = model.synthesize(est_b.appearance, est_b.q, est_b.depth, est_b.scale)
    torch.testing.assert_close(result.synthesis.image, expected.image)
    torch.testing.assert_close(result.synthesis.part_maps[-1], expected.part_maps[-1])  # a's pose
    assert (result.synthesis.image - own_b.image).abs().max() > 1e-3  # not b's own reconstruction
    broadcast = transfer(model, pose_images=images[:3], appearance_images=b)  # one appearance for three poses
    torch.testing.assert_close(broadcast.synthesis.image[:1], expected.image, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="batch size"):
        transfer(model, images[:3], images[:2])


def test_swap_grid_cells_are_transfers(tiny, images):
    _, model = tiny
    grid = swap_grid(model, appearance_images=images[:2], pose_images=images[2:5])
    assert grid.images.shape == (2, 3, 3, 32, 32) and grid.labels.shape == (2, 3, 32, 32)
    for i, j in ((0, 0), (1, 2)):  # a corner and an off-diagonal cell
        single = transfer(model, pose_images=images[2 + j:3 + j], appearance_images=images[i:i + 1])
        torch.testing.assert_close(grid.images[i, j], single.synthesis.image[0], atol=1e-4, rtol=1e-4)
    assert (grid.images[0, 0] - grid.images[1, 0]).abs().max() > 1e-3  # rows differ in appearance


def test_turntable(tiny, images):
    _, model = tiny
    result = turntable(model, images[:2], steps=4)
    assert result.images.shape == (4, 2, 3, 32, 32) and result.labels.shape == (4, 2, 32, 32)
    torch.testing.assert_close(result.angles, torch.tensor([0.0, math.pi / 2, math.pi, 3 * math.pi / 2]))
    with torch.no_grad():
        est = model.encode(images[:2])
        own = model.synthesize(est.appearance, est.q, est.depth, est.scale)
    torch.testing.assert_close(result.images[0], own.image, atol=1e-4, rtol=1e-4)  # step 0: the reconstruction
    torch.testing.assert_close(result.q[0], est.q, atol=1e-4, rtol=1e-4)
    assert (result.q[1] - result.q[0]).abs().max() > 1e-2  # the view changes
    # the pelvis stays where the camera offset puts it
    torch.testing.assert_close(result.q[:, :, 0], est.offset.expand(4, 2, 2), atol=1e-4, rtol=1e-4)
    with pytest.raises(UserError):
        turntable(model, images[:1], steps=0)


def test_write_synthesis_files(tiny, images, tmp_path):
    _, model = tiny
    crops = (images.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
    [path] = write_synthesis(model, "transfer", crops[:2], crops[2:4], tmp_path, tile=64)
    assert iio.imread(path).shape == (2 * 66 + 2, 4 * 66 + 2, 3)
    gif, png = write_synthesis(model, "view", crops[:1], crops[:1], tmp_path, steps=3, tile=64)
    frames = iio.imread(gif, index=None)
    assert frames.shape == (3, 66 + 2, 3 * 66 + 2, 3) and frames.std() > 0
    [path] = write_synthesis(model, "swap", crops[:2], crops[2:5], tmp_path, tile=80)  # poses 2, appearances 3
    assert iio.imread(path).shape == (4 * 66 + 2, 3 * 66 + 2, 3)
    with pytest.raises(UserError, match="at most 8"):
        write_synthesis(model, "swap", np.repeat(crops[:1], 9, axis=0), crops[:1], tmp_path)
    with pytest.raises(UserError, match="unknown --mode"):
        write_synthesis(model, "dream", crops[:1], crops[:1], tmp_path)


def test_dataset_images(tiny):
    config, _ = tiny
    frames, names = dataset_images(config, 3)
    assert frames.shape == (3, 32, 32, 3) and frames.dtype == np.uint8 and len(set(names)) == 3
    assert frames.std() > 0
    with pytest.raises(UserError, match="known datasets: synthetic"):
        dataset_images(config, 2, "mpi_inf_3dhp")
    with pytest.raises(UserError, match="videos"):
        dataset_images(config, 1000)
