import json

import numpy as np
import pytest
import torch

from partpose.evaluation.protocols import (
    h36m_protocols,
    mpi_inf_3dhp_protocol,
    root_relative,
    synthetic_protocol,
)
from partpose.geometry.skeleton import H36M17


def _gt(n, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(0, 300, (n, 17, 3)))


def test_h36m_per_action_then_average():
    gt = _gt(4)
    pred = gt.clone()
    pred[:, 5, 0] += torch.tensor([17.0, 17.0, 17.0, 34.0])  # l_knee off: MPJPE 1, 1, 1, 2 mm
    pred += torch.tensor([500.0, -20.0, 3000.0])  # global offset vanishes root-relative
    out = h36m_protocols(pred, gt, ["Walking 1", "Walking", "Walking 2", "Sitting 1"])
    assert set(out["mpjpe"]) == {"Walking", "Sitting", "average"}
    assert out["mpjpe"]["Walking"] == pytest.approx(1.0)
    assert out["mpjpe"]["Sitting"] == pytest.approx(2.0)
    assert out["mpjpe"]["average"] == pytest.approx(1.5)  # not the frame mean 1.25
    assert set(out["pa_mpjpe"]) == {"Walking", "Sitting", "average"}
    assert out["pa_mpjpe"]["average"] > 0.0
    assert out["num_frames"] == 4
    json.dumps(out)


def test_h36m_protocol2_forgives_rotation_and_scale():
    gt = _gt(3, seed=1)
    c, s = np.cos(0.7), np.sin(0.7)
    rot = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=gt.dtype)
    pred = 1.3 * gt @ rot.T
    out = h36m_protocols(pred, gt, ["Eating"] * 3)
    assert out["pa_mpjpe"]["Eating"] < 1e-6
    assert out["mpjpe"]["Eating"] > 50.0


def test_3dhp_protocol_uses_the_fourteen_joints_for_pck_and_all_for_mpjpe():
    gt = _gt(2, seed=2)
    pred = gt.clone()
    # spine (7) and nose (= 3DHP "head", 9) far off: outside the PCK set
    pred[:, H36M17.index("spine"), 0] += 200.0
    pred[:, H36M17.index("nose"), 0] += 200.0
    out = mpi_inf_3dhp_protocol(pred, gt, [1, 1])
    assert out["pck"]["Standing/Walking"] == pytest.approx(100.0)
    assert out["mpjpe"]["all"] == pytest.approx(2 * 200.0 / 17)
    # the head top (3DHP head_top = our head) counts
    pred[1, H36M17.index("head"), 1] += 200.0
    out = mpi_inf_3dhp_protocol(pred, gt, np.array([1, 6]))
    assert out["pck"]["Standing/Walking"] == pytest.approx(100.0)
    assert out["pck"]["Sports"] == pytest.approx(100.0 * 13 / 14)
    assert out["pck"]["all"] == pytest.approx(100.0 * 27 / 28)
    assert out["auc"]["Sports"] < out["auc"]["Standing/Walking"]
    json.dumps(out)


def test_3dhp_protocol_is_root_relative():
    gt = _gt(2, seed=3)
    out = mpi_inf_3dhp_protocol(gt + 1000.0, gt, [3, 3])
    assert out["pck"]["Sitting"] == pytest.approx(100.0)
    assert out["mpjpe"]["Sitting"] == pytest.approx(0.0, abs=1e-9)


def test_synthetic_protocol_keys_and_values():
    gt = _gt(3, seed=4)
    pred = gt.clone()
    pred[:, 3, 2] += 34.0
    out = synthetic_protocol(pred, gt, groups=["a", "a", "b"])
    assert out["mpjpe"] == pytest.approx(2.0)
    assert out["n_mpjpe"] > 0.0
    assert out["pck"] == pytest.approx(100.0)
    assert 0 < out["auc"] < 100
    assert out["mpjpe_per_group"] == {"a": pytest.approx(2.0), "b": pytest.approx(2.0), "average": pytest.approx(2.0)}
    json.dumps(out)
    scaled = synthetic_protocol(1.2 * gt, gt)
    assert scaled["n_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert scaled["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
    assert scaled["mpjpe"] > 10.0


def test_bad_input():
    with pytest.raises(ValueError, match="actions"):
        h36m_protocols(_gt(2), _gt(2), ["Walking"])
    with pytest.raises(ValueError):
        mpi_inf_3dhp_protocol(torch.zeros(2, 14, 3), torch.zeros(2, 14, 3), [1, 1])


def test_root_relative():
    p = _gt(1)
    assert torch.equal(root_relative(p)[:, 0], torch.zeros(1, 3, dtype=p.dtype))
