"""Decoder D: shapes, multi-scale conditioning, appearance, building blocks against twins."""

import pytest
import torch
from torch import nn

from partpose.models.decoder import ChannelwiseFC, Decoder, DecoderConfig, PointwiseConv

A = 10


def _inputs(dec, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    appearance = torch.randn(batch, A, generator=g)
    maps = [torch.rand(batch, dec.num_parts, r, r, generator=g) for r in dec.stage_sizes]
    return appearance, maps


def _small(resolution=64, widths=(32, 24, 16, 16, 8)):
    torch.manual_seed(0)
    return Decoder(DecoderConfig(resolution=resolution, widths=widths), appearance_dim=A)


def test_shapes_at_64():
    dec = _small()
    assert dec.stage_sizes == (4, 8, 16, 32, 64)
    rgb, logits = dec(*_inputs(dec))
    assert rgb.shape == (2, 3, 64, 64) and logits.shape == (2, dec.num_parts + 1, 64, 64)
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_shapes_at_32():
    dec = _small(32, (32, 16, 16, 8))
    assert dec.stage_sizes == (4, 8, 16, 32)
    rgb, logits = dec(*_inputs(dec))
    assert rgb.shape == (2, 3, 32, 32) and logits.shape == (2, dec.num_parts + 1, 32, 32)


@pytest.mark.parametrize("k", range(5))
def test_part_maps_at_every_scale_change_the_output(k):
    dec = _small()
    appearance, maps = _inputs(dec)
    rgb, logits = dec(appearance, maps)
    changed = list(maps)
    changed[k] = torch.rand(maps[k].shape, generator=torch.Generator().manual_seed(9))
    rgb2, logits2 = dec(appearance, changed)
    assert (rgb2 - rgb).abs().max() > 1e-4
    assert (logits2 - logits).abs().max() > 1e-4


def test_appearance_changes_the_output():
    dec = _small()
    appearance, maps = _inputs(dec)
    rgb, logits = dec(appearance, maps)
    rgb2, logits2 = dec(appearance + 1.0, maps)
    assert (rgb2 - rgb).abs().max() > 1e-4 and (logits2 - logits).abs().max() > 1e-4


def test_part_colours_paint_each_part_from_the_appearance():
    """With part_colours, D_I's last layer over the part maps is a per-sample matrix read from a:
    its contribution to the RGB logits inside a part is that part's colour, linear in the map."""
    dec = _small()
    appearance, maps = _inputs(dec)
    fork = dec.image_fork
    weight = fork.maps_from_appearance(appearance).view(2, 3, dec.num_parts)
    # Twin: the fork's output with and without the appearance-painted term.
    x = torch.randn(2, dec.config.widths[-2], 32, 32)
    full = fork(x, maps[-1], appearance)
    fixed = fork.out_features(torch.relu(fork.norm(fork.up(x)))) + fork.out_maps(maps[-1])
    painted = torch.einsum("bol,blhw->bohw", weight, maps[-1])
    torch.testing.assert_close(full, fixed + painted)
    # Nothing else changes when the appearance only moves the part colours.
    only_colours = Decoder(DecoderConfig(resolution=64, widths=(32, 24, 16, 16, 8), part_colours=False), appearance_dim=A)
    assert not hasattr(only_colours.image_fork.maps_from_appearance, "weight")


def test_every_parameter_gets_a_gradient():
    dec = _small()
    rgb, logits = dec(*_inputs(dec))
    (rgb.mean() + logits.mean()).backward()
    missing = [n for n, p in dec.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_channelwise_fc_matches_loop_twin_and_keeps_channels_apart():
    torch.manual_seed(3)
    layer = ChannelwiseFC(channels=3, size=2)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 3, 2, 2)
    y = layer(x)
    expected = torch.empty_like(y)
    for b in range(2):
        for c in range(3):
            expected[b, c] = (layer.weight[c] @ x[b, c].flatten() + layer.bias[c]).view(2, 2)
    torch.testing.assert_close(y, expected)
    # a change at one position of channel 1 reaches every position of channel 1, and only it
    x2 = x.clone()
    x2[0, 1, 0, 0] += 1.0
    diff = (layer(x2) - y)[0].abs()
    assert (diff[1] > 0).all() and diff[0].max() == 0 and diff[2].max() == 0


def test_pointwise_conv_equals_conv2d_1x1():
    torch.manual_seed(4)
    layer = PointwiseConv(5, 3)
    conv = nn.Conv2d(5, 3, 1)
    with torch.no_grad():
        conv.weight.copy_(layer.weight[:, :, None, None])
        conv.bias.copy_(layer.bias)
    x = torch.randn(2, 5, 4, 6)
    torch.testing.assert_close(layer(x), conv(x))


def test_autocast_runs():
    dec = _small()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        rgb, logits = dec(*_inputs(dec))
    assert torch.isfinite(rgb.float()).all() and torch.isfinite(logits.float()).all()


def test_bad_inputs_and_config():
    dec = _small()
    appearance, maps = _inputs(dec)
    with pytest.raises(ValueError, match="part_maps"):
        dec(appearance, maps[:-1])
    with pytest.raises(ValueError, match="part_maps at 16x16"):
        dec(appearance, maps[:2] + [maps[2][:, :, :8, :8]] + maps[3:])
    with pytest.raises(ValueError, match="appearance"):
        dec(appearance[:, :4], maps)
    with pytest.raises(ValueError, match="widths"):
        DecoderConfig(resolution=32)  # the default widths are for 64
    with pytest.raises(ValueError, match="power of two"):
        DecoderConfig(resolution=48, widths=(8, 8, 8, 8))


def _mean_colour_error(decoder: Decoder) -> float:
    """Mean over parts and channels of |D_I's mean colour over a part-filled image - PALETTE|."""
    from partpose.geometry.puppet import PALETTE

    errors = []
    for part in range(decoder.num_parts):
        maps = [torch.zeros(4, decoder.num_parts, r, r) for r in decoder.stage_sizes]
        for m in maps:
            m[:, part] = 1.0
        front = torch.rand(4) if decoder.facing_parts else None
        with torch.no_grad():
            rgb, _ = decoder(torch.randn(4, decoder.appearance_dim), maps, front)
        errors.append((rgb.mean((0, 2, 3)) - torch.tensor(PALETTE[part + 1]) / 255.0).abs().mean())
    return float(torch.stack(errors).mean().detach())


def test_palette_init_starts_d_i_painting_the_puppet_colours():
    torch.manual_seed(0)
    palette = _mean_colour_error(Decoder(DecoderConfig(image_init="palette")))
    torch.manual_seed(0)
    random = _mean_colour_error(Decoder(DecoderConfig()))
    assert palette < 0.1 < 0.2 < random  # measured: 0.06 and 0.26
    with pytest.raises(ValueError, match="image_init"):
        DecoderConfig(image_init="zeros")


def _facing(image_init="random"):
    torch.manual_seed(0)
    config = DecoderConfig(widths=(32, 24, 16, 16, 8), facing_channels=True, image_init=image_init)
    return Decoder(config, appearance_dim=A)


def test_facing_channels_start_without_effect_then_tell_front_from_back():
    dec = _facing()
    assert dec.map_channels == dec.num_parts + 2
    appearance, maps = _inputs(dec)
    front, back = torch.ones(2), torch.zeros(2)
    # at initialisation every weight from a front channel is zero: the front weight changes nothing,
    # and the decoder equals one without facing channels that has the same other weights
    rgb_front, logits_front = dec(appearance, maps, front)
    rgb_back, logits_back = dec(appearance, maps, back)
    torch.testing.assert_close(rgb_front, rgb_back, rtol=0, atol=0)
    torch.testing.assert_close(logits_front, logits_back, rtol=0, atol=0)
    torch.manual_seed(0)
    plain = Decoder(DecoderConfig(widths=(32, 24, 16, 16, 8)), appearance_dim=A)
    plain_state = plain.state_dict()
    for name, value in dec.state_dict().items():
        if value.shape == plain_state[name].shape:
            plain_state[name] = value
        elif "maps_from_appearance" in name:  # rows: 3 colours x map channels, channel-minor
            plain_state[name] = value.view(3, dec.map_channels, -1)[:, : dec.num_parts].reshape(plain_state[name].shape)
        else:  # convolutions and 1x1 layers over the part maps: input channels second
            plain_state[name] = value[:, : plain_state[name].shape[1]]
    plain.load_state_dict(plain_state)
    rgb_plain, logits_plain = plain(appearance, maps)
    torch.testing.assert_close(rgb_plain, rgb_front)
    torch.testing.assert_close(logits_plain, logits_front)
    # the zero weights get gradients from the front channels, and once they move, facing matters
    rgb, logits = dec(appearance, maps, front)
    (rgb.sum() + logits.sum()).backward()
    assert dec.condition[0][0].weight.grad[:, -2:].abs().sum() > 0
    assert dec.image_fork.out_maps.weight.grad[:, -2:].abs().sum() > 0
    with torch.no_grad():
        for condition in dec.condition:
            condition[0].weight[:, -2:].normal_(0.0, 0.1)
        dec.image_fork.out_maps.weight[:, -2:].normal_(0.0, 1.0)
    rgb_front, logits_front = dec(appearance, maps, front)
    rgb_back, logits_back = dec(appearance, maps, back)
    assert (rgb_front - rgb_back).abs().max() > 1e-3 and (logits_front - logits_back).abs().max() > 1e-3


def test_facing_channels_reach_only_the_head_and_torso():
    dec = _facing()
    with torch.no_grad():
        for condition in dec.condition:
            condition[0].weight[:, -2:].normal_(0.0, 0.1)
    appearance, maps = _inputs(dec)
    for part in range(dec.num_parts):  # a front weight only matters where the head or torso is drawn
        only = [torch.zeros_like(m) for m in maps]
        for m, full in zip(only, maps):
            m[:, part] = full[:, part]
        rgb_front, _ = dec(appearance, only, torch.ones(2))
        rgb_back, _ = dec(appearance, only, torch.zeros(2))
        differs = bool((rgb_front - rgb_back).abs().max() > 1e-6)
        assert differs == (part in (0, 1)), part


def test_facing_palette_init_and_the_puppet_copying_segmentation_are_kept():
    assert _mean_colour_error(_facing("palette")) < 0.1
    dec = _facing()
    weight = dec.seg_fork.out_maps.weight
    assert torch.equal(weight[1:, : dec.num_parts], 8.0 * torch.eye(dec.num_parts)) and not weight[:, dec.num_parts :].any()


def test_front_weight_required_exactly_with_facing_channels():
    dec = _facing()
    appearance, maps = _inputs(dec)
    with pytest.raises(ValueError, match="facing_channels"):
        dec(appearance, maps)
    with pytest.raises(ValueError, match="front"):
        dec(appearance, maps, torch.ones(3))
    plain = _small()
    with pytest.raises(ValueError, match="without facing_channels"):
        plain(appearance, maps, torch.ones(2))
