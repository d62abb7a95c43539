"""L_seg on hand-worked pixels; CE where the uncertainty is 0, SE where it is 1."""

import math

import pytest
import torch
import torch.nn.functional as F

from partpose.losses.segmentation import segmentation_loss


def _pixel_inputs(u):
    # One 1x1 pixel, 3 classes: logits (0, ln 2, 0) -> softmax (1/4, 1/2, 1/4); label 1.
    logits = torch.tensor([0.0, math.log(2.0), 0.0], dtype=torch.float64).view(1, 3, 1, 1)
    labels = torch.tensor([[[1]]])
    soft = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1)
    return logits, labels, soft, torch.full((1, 1, 1, 1), u, dtype=torch.float64)


def test_hand_values():
    ce, se = math.log(2.0), 1 / 16 + 1 / 4 + 1 / 16  # -log(1/2); (1/4)^2 + (1/2 - 1)^2 + (1/4)^2
    assert segmentation_loss(*_pixel_inputs(0.0)).item() == pytest.approx(ce, abs=1e-6)
    assert segmentation_loss(*_pixel_inputs(1.0)).item() == pytest.approx(se, abs=1e-6)
    assert segmentation_loss(*_pixel_inputs(0.25)).item() == pytest.approx(0.75 * ce + 0.25 * se, abs=1e-6)


def test_label_index_convention_is_pinned():
    logits, _, soft, u = _pixel_inputs(0.0)
    # label 0 (background): -log(1/4)
    assert segmentation_loss(logits, torch.tensor([[[0]]]), soft, u).item() == pytest.approx(math.log(4.0), abs=1e-6)


def _random(seed, b=2, c=5, h=3, w=4):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, h, w, generator=g)
    labels = torch.randint(0, c, (b, h, w), generator=g)
    soft = torch.softmax(torch.randn(b, c, h, w, generator=g), dim=1)
    return logits, labels, soft


def test_equals_cross_entropy_where_uncertainty_is_zero():
    logits, labels, soft = _random(0)
    u = torch.zeros(2, 1, 3, 4)
    expected = F.cross_entropy(logits, labels)
    assert segmentation_loss(logits, labels, soft, u).item() == pytest.approx(expected.item(), abs=1e-6)


def test_equals_squared_error_where_uncertainty_is_one():
    logits, labels, soft = _random(1)
    u = torch.ones(2, 1, 3, 4)
    b, c, h, w = logits.shape
    total = 0.0
    for i in range(b):
        for y in range(h):
            for x in range(w):
                p = torch.softmax(logits[i, :, y, x], dim=0)
                total += float(((p - soft[i, :, y, x]) ** 2).sum())
    assert segmentation_loss(logits, labels, soft, u).item() == pytest.approx(total / (b * h * w), abs=1e-6)


def test_mixed_uncertainty_per_pixel():
    logits, labels, soft = _random(2)
    u = torch.rand(2, 1, 3, 4, generator=torch.Generator().manual_seed(3))
    ce = F.cross_entropy(logits, labels, reduction="none")
    se = (torch.softmax(logits, 1) - soft).pow(2).sum(1)
    expected = ((1 - u[:, 0]) * ce + u[:, 0] * se).mean()
    assert segmentation_loss(logits, labels, soft, u).item() == pytest.approx(expected.item(), abs=1e-6)


def test_gradient_finite_and_only_into_logits():
    logits, labels, soft = _random(4)
    logits.requires_grad_(True)
    u = torch.rand(2, 1, 3, 4)
    segmentation_loss(logits, labels, soft, u).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_bad_inputs():
    logits, labels, soft = _random(5)
    u = torch.zeros(2, 1, 3, 4)
    with pytest.raises(ValueError, match="labels"):
        segmentation_loss(logits, labels.int(), soft, u)
    with pytest.raises(ValueError, match="soft_labels"):
        segmentation_loss(logits, labels, soft[:, :4], u)
    with pytest.raises(ValueError, match="uncertainty"):
        segmentation_loss(logits, labels, soft, u[:, :, :2])
