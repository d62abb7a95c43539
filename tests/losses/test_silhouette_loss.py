"""L_sil against a slow, obviously right twin, hand-worked values, and its gradient's reach."""

import math

import pytest
import torch

from partpose.geometry.skeleton import H36M17
from partpose.losses.silhouette import (
    CAPSULES,
    pixel_centres,
    point_segment_distance,
    skeleton_silhouette_loss,
)


def slow_loss(q, scale, saliency, threshold=0.5, points_per_bone=8):
    """Loops over samples, pixels, capsules and points."""
    batch, _, height, width = saliency.shape
    total = 0.0
    for b in range(batch):
        pixels = []
        for i in range(height):
            for j in range(width):
                pixels.append(((2 * j + 1) / width - 1, (2 * i + 1) / height - 1, float(saliency[b, 0, i, j])))
        if not any(m > threshold for _, _, m in pixels):
            continue

        def seg_dist(px, py, a, c):
            ax, ay = (float(v) for v in q[b, a])
            cx, cy = (float(v) for v in q[b, c])
            dx, dy = cx - ax, cy - ay
            t = ((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-12)
            t = min(max(t, 0.0), 1.0)
            return math.hypot(px - (ax + t * dx), py - (ay + t * dy))

        cover_num = cover_den = 0.0
        for px, py, m in pixels:
            best = min(
                max(0.0, seg_dist(px, py, H36M17.index(a), H36M17.index(c)) - float(scale[b]) * w / 1000)
                for a, c, w in CAPSULES
            )
            if m > threshold:
                cover_num += best
                cover_den += 1
        inside = []
        for a, c, _ in CAPSULES:
            qa, qc = q[b, H36M17.index(a)], q[b, H36M17.index(c)]
            for k in range(points_per_bone):
                t = k / (points_per_bone - 1)
                sx, sy = (float(v) for v in qa + t * (qc - qa))
                nearest = min(math.hypot(sx - px, sy - py) for px, py, m in pixels if m > threshold)
                inside.append(max(0.0, nearest - 1.0 / max(height, width)))
        total += cover_num / cover_den + sum(inside) / len(inside)
    return total / batch


def test_matches_the_slow_twin():
    g = torch.Generator().manual_seed(0)
    q = torch.rand(3, 17, 2, generator=g) * 1.6 - 0.8
    scale = torch.tensor([0.8, 1.0, 1.3])
    saliency = torch.rand(3, 1, 9, 7, generator=g)
    saliency[2] = 0.2  # no pixel above the threshold: this sample adds 0
    fast = skeleton_silhouette_loss(q, scale, saliency, points_per_bone=4)
    assert float(fast) == pytest.approx(slow_loss(q, scale, saliency, points_per_bone=4), rel=1e-5, abs=1e-6)


def test_hand_worked_segment_distance():
    points = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [-1.0, 0.0]]])
    start, end = torch.tensor([[[0.0, 0.0]]]), torch.tensor([[[1.0, 0.0]]])
    d = point_segment_distance(points, start, end)[0, :, 0]
    assert torch.allclose(d, torch.tensor([1.0, 1.0, 1.0]), atol=1e-5)


def test_pixel_centres_follow_the_puppet_convention():
    c = pixel_centres(2, 4)
    assert torch.allclose(c[0], torch.tensor([-0.75, -0.5]))
    assert torch.allclose(c[-1], torch.tensor([0.75, 0.5]))


def test_zero_when_the_skeleton_covers_and_lies_on_the_person():
    # every joint at the centre; the only salient pixel is the centre pixel of a 3x3 map, well
    # inside every capsule's radius
    q = torch.zeros(1, 17, 2)
    saliency = torch.zeros(1, 1, 3, 3)
    saliency[0, 0, 1, 1] = 1.0
    assert float(skeleton_silhouette_loss(q, torch.tensor([1.0]), saliency)) == pytest.approx(0.0, abs=1e-5)


def test_gradient_reaches_a_limb_far_from_the_person():
    # The person is a blob on the left; the skeleton sits on the right, nowhere near it. The
    # puppet's maps would give no gradient there; L_sil pulls every joint to the left.
    saliency = torch.zeros(1, 1, 32, 32)
    saliency[..., 8:24, 2:10] = 1.0
    q = (torch.rand(1, 17, 2, generator=torch.Generator().manual_seed(1)) * 0.2 + torch.tensor([0.6, 0.0])).requires_grad_()
    skeleton_silhouette_loss(q, torch.tensor([0.5]), saliency).backward()
    drawn = sorted({H36M17.index(j) for a, c, _ in CAPSULES for j in (a, c)})  # all but the spine
    assert len(drawn) == 16 and (q.grad[0, drawn, 0] > 0).all()  # descent moves x down, towards the person


def test_refuses_bad_shapes():
    with pytest.raises(ValueError):
        skeleton_silhouette_loss(torch.zeros(2, 16, 2), torch.ones(2), torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError):
        skeleton_silhouette_loss(torch.zeros(2, 17, 2), torch.ones(2), torch.zeros(2, 1, 4, 4), points_per_bone=1)
