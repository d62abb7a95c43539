"""2D and 3D supervision: hand values, masking, zero-with-graph when nothing is labelled."""

import pytest
import torch

from partpose.losses.supervision import pose2d_loss, pose3d_loss


def test_pose2d_masked_mean():
    q = torch.zeros(3, 17, 2, requires_grad=True)
    gt = torch.zeros(3, 17, 2)
    gt[0] += 0.1
    gt[1] = float("nan")  # unlabelled: never read
    gt[2] -= 0.3
    mask = torch.tensor([True, False, True])
    loss = pose2d_loss(q, gt, mask)
    assert loss.item() == pytest.approx((0.1 + 0.3) / 2, abs=1e-6)
    loss.backward()
    assert torch.isfinite(q.grad).all()
    assert q.grad[1].abs().sum() == 0
    # d/dq of mean |q - gt| over 34 coordinates, averaged over 2 samples: -sign(gt) / 68
    assert q.grad[0, 0, 0].item() == pytest.approx(-1 / 68, abs=1e-7)
    assert q.grad[2, 5, 1].item() == pytest.approx(1 / 68, abs=1e-7)


def test_pose2d_none_labelled_is_zero_with_graph():
    q = torch.randn(2, 17, 2, requires_grad=True)
    loss = pose2d_loss(q, torch.full((2, 17, 2), float("nan")), torch.tensor([False, False]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(q.grad, torch.zeros_like(q))


def test_pose3d_root_relative_metres():
    gt = torch.randn(2, 17, 3, generator=torch.Generator().manual_seed(0)) * 300
    # A global translation costs nothing (root-relative).
    assert pose3d_loss(gt + torch.tensor([100.0, -50.0, 4000.0]), gt, torch.tensor([True, True])).item() == pytest.approx(0, abs=1e-6)
    # One non-root joint off by 340 mm in x: 0.34 m / 51 coordinates.
    pred = gt.clone()
    pred[:, 13, 0] += 340.0
    assert pose3d_loss(pred, gt, torch.tensor([True, True])).item() == pytest.approx(0.34 / 51, abs=1e-6)
    # The root off by 340 mm moves the other 16 joints relative to it.
    pred = gt.clone()
    pred[:, 0, 1] += 340.0
    assert pose3d_loss(pred, gt, torch.tensor([True, True])).item() == pytest.approx(16 * 0.34 / 51, abs=1e-6)


def test_pose3d_mask_and_empty():
    gt = torch.zeros(2, 17, 3)
    pred = torch.zeros(2, 17, 3)
    pred[1, 3, 2] = 510.0
    assert pose3d_loss(pred, gt, torch.tensor([True, False])).item() == 0.0
    assert pose3d_loss(pred, gt, torch.tensor([False, True])).item() == pytest.approx(0.51 / 51, abs=1e-6)
    p = pred.clone().requires_grad_(True)
    loss = pose3d_loss(p, gt, torch.tensor([False, False]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(p.grad, torch.zeros_like(p))


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(1)
    p = torch.randn(3, 17, 3, generator=g, dtype=torch.float64, requires_grad=True)
    gt = torch.randn(3, 17, 3, generator=g, dtype=torch.float64)
    mask = torch.tensor([True, False, True])
    assert torch.autograd.gradcheck(lambda x: pose3d_loss(x * 100, gt * 100, mask), (p,))
    q = torch.randn(3, 17, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: pose2d_loss(x, gt[..., :2], mask), (q,))


def test_bad_inputs():
    q = torch.zeros(2, 17, 2)
    with pytest.raises(ValueError, match="mask"):
        pose2d_loss(q, q, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="mask"):
        pose2d_loss(q, q, torch.tensor([True]))
    with pytest.raises(ValueError, match="q_gt"):
        pose2d_loss(q, torch.zeros(2, 16, 2), torch.tensor([True, True]))
    with pytest.raises(ValueError, match="p_gt_cam_mm"):
        pose3d_loss(torch.zeros(2, 17, 3), torch.zeros(2, 17, 2), torch.tensor([True, True]))
