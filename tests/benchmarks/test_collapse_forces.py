"""benchmarks/collapse_forces.py: the first-order Adam estimate against a real Adam step."""

import copy

import pytest
import torch
from torch.utils.data import DataLoader

from benchmark_scripts import ROOT, load_benchmark
from partpose.models.partpose_model import PartPoseModel
from partpose.training.algorithm import training_losses
from partpose.training.config import load_config
from partpose.training.data_setup import build_training_data

forces = load_benchmark("collapse_forces")


@pytest.fixture(scope="module")
def tiny():
    config = load_config(ROOT / "configs" / "tiny.yaml", ["run.batch_size=4"])
    data = build_training_data(config)
    batch = next(iter(DataLoader(data.pairs, batch_size=4, shuffle=False)))
    prior = data.prior.sample(4, torch.Generator().manual_seed(0), with_up=True)
    probe = torch.stack([data.test_frames[i]["image"] for i in range(6)])
    torch.manual_seed(0)
    return config, PartPoseModel(config.model).train(), batch, prior, probe


def test_trunk_spread_is_the_mean_feature_std():
    torch.manual_seed(0)
    config = load_config(ROOT / "configs" / "tiny.yaml")
    encoder = PartPoseModel(config.model).encoder
    images = torch.rand(5, 3, 32, 32)
    with torch.no_grad():
        f = encoder.features(images)
        slow = sum(float(((f[:, k] - f[:, k].mean()) ** 2).mean().sqrt()) for k in range(f.shape[1])) / f.shape[1]
        assert float(forces.trunk_spread(encoder, images)) == pytest.approx(slow, rel=1e-5)
        assert float(forces.trunk_spread(encoder, images[:1].expand(5, -1, -1, -1))) == pytest.approx(0.0, abs=1e-6)


def test_the_adam_estimate_matches_one_adam_step(tiny):
    config, model, batch, prior, probe = tiny
    lr = 1e-4
    spread, measured = forces.trunk_forces(model, [batch], [prior], config.objective, probe, lr=lr)
    # L_I^u does not depend on the energy half, so its mean gradient is this batch's gradient
    step = copy.deepcopy(model)
    trunk = forces.trunk_parameters(step.encoder)
    loss = training_losses(step, batch, prior[0], 0, 1.0, config.objective, torch.Generator().manual_seed(0),
                           prior_up=prior[1])
    grads = torch.autograd.grad(loss.losses["image_unpaired"], trunk, allow_unused=True)
    for p, g in zip(trunk, grads):
        p.grad = torch.zeros_like(p) if g is None else g
    torch.optim.Adam(trunk, lr=lr).step()
    with torch.no_grad():
        actual = float(forces.trunk_spread(step.encoder, probe)) - spread
    estimate = measured["image_unpaired"]["adam_dS"]
    assert abs(actual) > 1e-7
    assert estimate == pytest.approx(actual, rel=0.2)
    for values in measured.values():
        assert -1.0 <= values["cos"] <= 1.0 and values["norm"] >= 0.0
    assert {"energy_pose_encoder", "image_unpaired", "image_consistency", "segmentation"} <= set(measured)


def test_a_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    code = forces.main([str(tmp_path / "missing.pt"), "--config", str(ROOT / "configs" / "tiny.yaml")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
