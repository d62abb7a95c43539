"""benchmarks/encoder_units.py: live units and trunk spread against a slow loop and hand-set heads."""

import pytest
import torch

from benchmark_scripts import load_benchmark
from partpose.models.encoder import Encoder, EncoderConfig

units = load_benchmark("encoder_units")
SMALL = dict(stem_channels=8, widths=(16, 16, 32), pool_size=1, head_hidden=12, appearance_dim=4)


def _slow(encoder, images):
    """One image and one unit at a time."""
    encoder.eval()
    fired = {"pose": [], "appearance": []}
    features = []
    with torch.no_grad():
        for image in images:
            f = encoder.features(image[None])[0]
            features.append(f)
            fired["pose"].append([bool(v > 0) for v in encoder.pose_mlp(f[None])[0]])
            fired["appearance"].append([bool(v > 0) for v in encoder.appearance_mlp(f[None])[0]])
    n, result = len(images), {}
    f = torch.stack(features).double()
    spreads = []
    for k in range(f.shape[1]):
        mean = sum(float(f[i, k]) for i in range(n)) / n
        spreads.append((sum((float(f[i, k]) - mean) ** 2 for i in range(n)) / n) ** 0.5)
    result["trunk_spread"] = sum(spreads) / len(spreads)
    for name, table in fired.items():
        hidden = len(table[0])
        result[f"{name}_units_live"] = sum(any(table[i][u] for i in range(n)) for u in range(hidden)) / hidden
        result[f"{name}_units_per_image"] = sum(sum(row) for row in table) / (n * hidden)
    return result


@pytest.mark.parametrize("head_norm", ["none", "layer"])
def test_matches_a_slow_loop(head_norm):
    torch.manual_seed(0)
    encoder = Encoder(EncoderConfig(**SMALL, head_norm=head_norm))
    images = torch.rand(10, 3, 32, 32)
    fast, slow = units.unit_activity(encoder, images, batch_size=3), _slow(encoder, images)
    for key, value in slow.items():
        assert fast[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_hand_set_dead_and_live_units():
    torch.manual_seed(1)
    encoder = Encoder(EncoderConfig(**SMALL, head_norm="none"))
    with torch.no_grad():
        linear = encoder.pose_mlp[0]
        linear.weight.zero_()
        linear.bias.copy_(torch.tensor([-1.0] * 9 + [1.0] * 3))  # 9 dead units, 3 always firing
    a = units.unit_activity(encoder, torch.rand(6, 3, 32, 32))
    assert a["pose_units_live"] == pytest.approx(0.25) and a["pose_units_per_image"] == pytest.approx(0.25)
    # the same image six times: the trunk tells nothing apart
    same = units.unit_activity(encoder, torch.rand(1, 3, 32, 32).expand(6, 3, 32, 32).contiguous())
    assert same["trunk_spread"] == pytest.approx(0.0, abs=1e-7) and a["trunk_spread"] > 1e-3


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert units.main([str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
