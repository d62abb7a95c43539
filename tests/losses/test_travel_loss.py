"""losses/travel.py: L_travel, the side loss and the pair's side consistency by hand."""

import math

import pytest
import torch

from partpose.losses.travel import side_consistency_loss, travel_facing_loss, travel_side_loss


def test_travel_facing_loss_by_hand():
    weight = torch.tensor([0.8, 0.8, 0.3, 0.5], requires_grad=True)
    label = torch.tensor([1.0, 0.0, float("nan"), 0.0])
    loss = travel_facing_loss(weight, label)
    expected = (-math.log(0.8) - math.log(0.2) - math.log(0.5)) / 4
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # the front-labelled frame is pushed towards 1, the back-labelled ones towards 0, the unlabelled not at all
    assert weight.grad[0] < 0 and weight.grad[1] > 0 and weight.grad[2] == 0 and weight.grad[3] > 0
    assert float(weight.grad[0]) == pytest.approx(-1.0 / 0.8 / 4, rel=1e-6)


def test_no_label_no_loss_and_the_ends_stay_finite():
    weight = torch.tensor([0.0, 1.0], requires_grad=True)
    none = travel_facing_loss(weight, torch.full((2,), float("nan")))
    assert float(none.detach()) == 0.0
    wrong = travel_facing_loss(weight, torch.tensor([1.0, 0.0]))
    assert math.isfinite(float(wrong.detach())) and float(wrong.detach()) > 9.0  # -log(1e-4) each
    with pytest.raises(ValueError, match="travel_front"):
        travel_facing_loss(weight, torch.ones(3))


def test_travel_side_loss_by_hand():
    logits = torch.tensor([2.0, 2.0, -1.0, 0.0], requires_grad=True)
    label = torch.tensor([1.0, 0.0, float("nan"), 0.0])
    loss = travel_side_loss(logits, label)
    sigmoid = torch.sigmoid(torch.tensor([2.0, 0.0]))
    expected = (-math.log(float(sigmoid[0])) - math.log(1.0 - float(sigmoid[0])) - math.log(0.5)) / 4
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert logits.grad[0] < 0 and logits.grad[1] > 0 and logits.grad[2] == 0 and logits.grad[3] > 0
    assert float(travel_side_loss(logits, torch.full((4,), float("nan"))).detach()) == 0.0


def _kl(p, q):
    """KL(Bernoulli(p) || Bernoulli(q)) from the probabilities, written out."""
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def test_side_consistency_by_hand():
    s = torch.tensor([1.5, -0.4, 2.0], requires_grad=True)
    t = torch.tensor([-0.5, -0.4, 0.3], requires_grad=True)
    loss = side_consistency_loss(s, t)
    sig = [1 / (1 + math.exp(-x)) for x in (1.5, -0.4, 2.0, -0.5, -0.4, 0.3)]
    ps, pt = sig[:3], sig[3:]
    expected = sum(_kl(b, a) + _kl(a, b) for a, b in zip(ps, pt)) / 3 / 2
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    # each logit pulled towards the other frame's reading, held fixed: d KL(p_t || p_s) / ds = p_s - p_t
    for i in range(3):
        assert float(s.grad[i]) == pytest.approx((ps[i] - pt[i]) / 6, abs=1e-7)
        assert float(t.grad[i]) == pytest.approx((pt[i] - ps[i]) / 6, abs=1e-7)
    assert abs(float(s.grad[1])) < 1e-7  # the pair that agrees adds nothing


def test_side_consistency_is_zero_for_agreeing_pairs_and_finite_at_large_logits():
    same = torch.tensor([0.3, -4.0, 60.0])
    assert float(side_consistency_loss(same, same.clone())) == pytest.approx(0.0, abs=1e-7)
    far = side_consistency_loss(torch.tensor([80.0]), torch.tensor([-80.0]))
    assert math.isfinite(float(far)) and float(far) > 70.0
    with pytest.raises(ValueError, match="logits_t"):
        side_consistency_loss(torch.zeros(2), torch.zeros(3))
