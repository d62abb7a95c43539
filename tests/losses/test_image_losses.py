"""L_I^u and L_I^c on hand-worked 1x2 images, against a per-element loop twin, and their gradients."""

import pytest
import torch

from partpose.losses.image import image_consistency_loss, image_unpaired_loss


def _img(values, batch=1):
    """(batch, 3, 1, W) image whose three channels all hold ``values`` (a row of W pixels)."""
    row = torch.tensor(values, dtype=torch.float64)
    return row.expand(batch, 3, 1, len(values)).clone()


def _map(values, batch=1):
    row = torch.tensor(values, dtype=torch.float64)
    return row.expand(batch, 1, 1, len(values)).clone()


# Hand-worked example for L_I^u (beta = 0.5):
#   recon [0.5, 0.2], target [0.9, 0.0], background [0.5, 0.6], fg [0.8, 0.1], saliency [0.5, 1.0]
#   w = clip([0.8 + 0.25, 0.1 + 0.5], 0, 1) = [1.0 (clipped from 1.05), 0.6]
#   pixel 0: 1.0 * |0.5 - 0.9| + 0.0 * |0.5 - 0.5| = 0.4
#   pixel 1: 0.6 * |0.2 - 0.0| + 0.4 * |0.2 - 0.6| = 0.12 + 0.16 = 0.28
#   mean over 3 channels x 2 pixels = (0.4 + 0.28) / 2 = 0.34   (without the clip: 0.35)
UNPAIRED = dict(recon=[0.5, 0.2], target=[0.9, 0.0], background=[0.5, 0.6], fg=[0.8, 0.1], sal=[0.5, 1.0])


def _unpaired_inputs(batch=1):
    u = UNPAIRED
    return (_img(u["recon"], batch), _img(u["target"], batch), _img(u["background"], batch),
            _map(u["fg"], batch), _map(u["sal"], batch))


def test_unpaired_hand_value_with_clipping():
    recon, target, bg, fg, sal = _unpaired_inputs()
    loss = image_unpaired_loss(recon, target, bg, fg, sal, 0.5, torch.tensor([True]))
    assert loss.item() == pytest.approx(0.34, abs=1e-12)


def test_unpaired_beta_zero_uses_foreground_only():
    recon, target, bg, fg, sal = _unpaired_inputs()
    # w = [0.8, 0.1]: pixel 0: 0.8 * 0.4 + 0.2 * 0 = 0.32; pixel 1: 0.1 * 0.2 + 0.9 * 0.4 = 0.38
    loss = image_unpaired_loss(recon, target, bg, fg, sal, 0.0, torch.tensor([True]))
    assert loss.item() == pytest.approx((0.32 + 0.38) / 2, abs=1e-12)


def test_unpaired_invalid_background_drops_background_term():
    recon, target, bg, fg, sal = _unpaired_inputs(batch=2)
    loss = image_unpaired_loss(recon, target, bg, fg, sal, 0.5, torch.tensor([True, False]))
    # sample 0 as above: 0.4 + 0.28; sample 1 only the w term: 0.4 + 0.12; mean over 2 x 3 x 2.
    assert loss.item() == pytest.approx((0.68 + 0.52) / 4, abs=1e-12)
    # A changed background has no effect on the invalid sample.
    bg2 = bg.clone()
    bg2[1] = 0.0
    loss2 = image_unpaired_loss(recon, target, bg2, fg, sal, 0.5, torch.tensor([True, False]))
    assert loss2.item() == pytest.approx(loss.item(), abs=1e-12)


def _unpaired_twin(recon, target, bg, fg, sal, beta, valid):
    total, count = 0.0, 0
    b, c, h, w = recon.shape
    for i in range(b):
        for ch in range(c):
            for y in range(h):
                for x in range(w):
                    wt = min(max(float(fg[i, 0, y, x]) + beta * float(sal[i, 0, y, x]), 0.0), 1.0)
                    r = float(recon[i, ch, y, x])
                    term = wt * abs(r - float(target[i, ch, y, x]))
                    if bool(valid[i]):
                        term += (1 - wt) * abs(r - float(bg[i, ch, y, x]))
                    total += term
                    count += 1
    return total / count


def _consistency_twin(ras, rat, bg, wfg, valid):
    total, count = 0.0, 0
    b, c, h, w = ras.shape
    for i in range(b):
        for ch in range(c):
            for y in range(h):
                for x in range(w):
                    wt = float(wfg[i, 0, y, x])
                    a = float(ras[i, ch, y, x])
                    term = wt * abs(a - float(rat[i, ch, y, x]))
                    if bool(valid[i]):
                        term += (1 - wt) * abs(a - float(bg[i, ch, y, x]))
                    total += term
                    count += 1
    return total / count


def test_unpaired_matches_loop_twin_on_random_inputs():
    g = torch.Generator().manual_seed(0)
    shape = (3, 3, 4, 5)
    recon, target, bg = (torch.rand(shape, generator=g, dtype=torch.float64) for _ in range(3))
    fg, sal = (torch.rand(3, 1, 4, 5, generator=g, dtype=torch.float64) for _ in range(2))
    valid = torch.tensor([True, False, True])
    loss = image_unpaired_loss(recon, target, bg, fg, sal, 0.7, valid)
    assert loss.item() == pytest.approx(_unpaired_twin(recon, target, bg, fg, sal, 0.7, valid), abs=1e-12)


def test_unpaired_weight_is_detached_by_default():
    recon, target, bg, fg, sal = _unpaired_inputs()
    recon.requires_grad_(True)
    fg.requires_grad_(True)
    image_unpaired_loss(recon, target, bg, fg, sal, 0.5, torch.tensor([True])).backward()
    assert fg.grad is None
    assert recon.grad is not None and torch.isfinite(recon.grad).all()


def test_unpaired_weight_gradient_when_not_detached():
    recon, target, bg, fg, sal = _unpaired_inputs()
    fg.requires_grad_(True)
    image_unpaired_loss(recon, target, bg, fg, sal, 0.5, torch.tensor([True]), detach_weight=False).backward()
    # pixel 0 is clipped (no gradient); pixel 1: 3 channels * (|0.2 - 0| - |0.2 - 0.6|) / 6 = -0.1
    assert fg.grad[0, 0, 0, 0].item() == pytest.approx(0.0, abs=1e-12)
    assert fg.grad[0, 0, 0, 1].item() == pytest.approx(-0.1, abs=1e-12)


def test_unpaired_gradcheck_recon():
    g = torch.Generator().manual_seed(1)
    recon = torch.rand(2, 3, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    target, bg = torch.rand(2, 2, 3, 2, 2, generator=g, dtype=torch.float64)
    fg, sal = torch.rand(2, 2, 1, 2, 2, generator=g, dtype=torch.float64)
    valid = torch.tensor([True, False])
    assert torch.autograd.gradcheck(lambda r: image_unpaired_loss(r, target, bg, fg, sal, 0.3, valid), (recon,))


def test_unpaired_does_not_modify_inputs():
    inputs = _unpaired_inputs()
    copies = [x.clone() for x in inputs]
    image_unpaired_loss(*inputs, 0.5, torch.tensor([True]))
    for x, y in zip(inputs, copies):
        assert torch.equal(x, y)


def test_unpaired_bad_inputs():
    recon, target, bg, fg, sal = _unpaired_inputs()
    valid = torch.tensor([True])
    with pytest.raises(ValueError, match="fg_prob"):
        image_unpaired_loss(recon, target, bg, fg[:, :, :, :1], sal, 0.5, valid)
    with pytest.raises(ValueError, match="background_valid"):
        image_unpaired_loss(recon, target, bg, fg, sal, 0.5, torch.tensor([1.0]))
    with pytest.raises(ValueError, match="beta"):
        image_unpaired_loss(recon, target, bg, fg, sal, -1.0, valid)
    with pytest.raises(ValueError, match="target"):
        image_unpaired_loss(recon, target[:, :2], bg, fg, sal, 0.5, valid)


# Hand-worked example for L_I^c:
#   as [0.5, 0.2], at [0.3, 0.2], background [0.5, 0.0], w_fg [0.75, 0.0]
#   pixel 0: 0.75 * 0.2 + 0.25 * 0 = 0.15; pixel 1: 0 * 0 + 1 * 0.2 = 0.2; mean = 0.35 / 2
def test_consistency_hand_value_and_invalid_background():
    ras, rat, bg, wfg = _img([0.5, 0.2]), _img([0.3, 0.2]), _img([0.5, 0.0]), _map([0.75, 0.0])
    assert image_consistency_loss(ras, rat, bg, wfg, torch.tensor([True])).item() == pytest.approx(0.175, abs=1e-12)
    assert image_consistency_loss(ras, rat, bg, wfg, torch.tensor([False])).item() == pytest.approx(0.075, abs=1e-12)


def test_consistency_matches_loop_twin_and_grads_reach_both():
    g = torch.Generator().manual_seed(2)
    ras, rat, bg = (torch.rand(2, 3, 3, 4, generator=g, dtype=torch.float64) for _ in range(3))
    wfg = torch.rand(2, 1, 3, 4, generator=g, dtype=torch.float64)
    valid = torch.tensor([False, True])
    expected = _consistency_twin(ras, rat, bg, wfg, valid)
    ras.requires_grad_(True)
    rat.requires_grad_(True)
    loss = image_consistency_loss(ras, rat, bg, wfg, valid)
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    loss.backward()
    assert ras.grad.abs().sum() > 0 and rat.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(lambda a, b: image_consistency_loss(a, b, bg, wfg, valid), (ras, rat))


def test_unpaired_per_sample_means_average_to_the_batch_mean():
    generator = torch.Generator().manual_seed(3)
    recon, target, background = (torch.rand(4, 3, 8, 8, generator=generator) for _ in range(3))
    fg, saliency = (torch.rand(4, 1, 8, 8, generator=generator) for _ in range(2))
    valid = torch.tensor([True, False, True, True])
    per_sample = image_unpaired_loss(recon, target, background, fg, saliency, 0.5, valid, per_sample=True)
    assert per_sample.shape == (4,)
    torch.testing.assert_close(per_sample.mean(), image_unpaired_loss(recon, target, background, fg, saliency, 0.5, valid))
    single = image_unpaired_loss(recon[1:2], target[1:2], background[1:2], fg[1:2], saliency[1:2], 0.5, valid[1:2])
    torch.testing.assert_close(per_sample[1], single)
