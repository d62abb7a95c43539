import math

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from partpose.evaluation.metrics import (
    AUC_THRESHOLDS_MM,
    MPI_INF_3DHP_PCK_JOINTS,
    auc3d,
    breakdown,
    facing_error,
    mpjpe,
    n_mpjpe,
    pa_mpjpe,
    pck3d,
    pose_spread,
    procrustes_align,
    segmentation_miou,
)
from partpose.geometry.skeleton import H36M17


def _poses(n=6, j=17, seed=0):
    g = np.random.default_rng(seed)
    gt = g.normal(0.0, 300.0, (n, j, 3))
    pred = gt + g.normal(0.0, 60.0, (n, j, 3))
    return pred, gt


def _assert_close(fast, slow, atol):
    fast = np.asarray(fast, dtype=np.float64)
    slow = np.asarray(slow, dtype=np.float64)
    diff = np.abs(fast - slow)
    worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.ndim else ()
    assert diff.max() <= atol, f"largest difference {diff.max():.3g} at {worst}"


# ---- slow, obviously-right twins (one frame at a time) ----


def _slow_mpjpe(p, g):
    return np.mean([np.linalg.norm(p[j] - g[j]) for j in range(len(p))])


def _slow_pa(p, g):
    mu_p, mu_g = p.mean(0), g.mean(0)
    rot, _ = Rotation.align_vectors(g - mu_g, p - mu_p)  # proper rotation, g0 ≈ R p0
    rp = rot.apply(p - mu_p)
    s = np.sum(rp * (g - mu_g)) / np.sum((p - mu_p) ** 2)
    return _slow_mpjpe(s * rp + mu_g, g)


def _slow_pck(p, g, thr, joints):
    hits = [np.linalg.norm(p[j] - g[j]) < thr for j in joints]
    return 100.0 * sum(hits) / len(hits)


# ---- MPJPE / N-MPJPE ----


def test_mpjpe_hand_value():
    gt = torch.zeros(1, 2, 3)
    pred = gt.clone()
    pred[0, 0] = torch.tensor([3.0, 4.0, 0.0])
    assert mpjpe(pred, gt).item() == pytest.approx(2.5)
    assert mpjpe(pred, gt, reduction="per_frame").shape == (1,)


def test_mpjpe_matches_loop_and_accepts_numpy():
    pred, gt = _poses()
    fast = mpjpe(pred, gt, reduction="per_frame")
    assert fast.dtype == torch.float64
    _assert_close(fast, [_slow_mpjpe(p, g) for p, g in zip(pred, gt)], 1e-9)
    _assert_close(mpjpe(torch.from_numpy(pred).float(), torch.from_numpy(gt).float()), fast.mean(), 1e-3)


def test_n_mpjpe_hand_value():
    gt = torch.tensor([[[100.0, 0, 0], [0, 100.0, 0]]])
    pred = torch.tensor([[[200.0, 0, 0], [0, 0, 0]]])
    # scale = <p,g>/<p,p> = 20000/40000 = 0.5 → scaled pred (100,0,0),(0,0,0) → errors 0, 100
    assert n_mpjpe(pred, gt).item() == pytest.approx(50.0)
    assert n_mpjpe(3.0 * gt, gt).item() == pytest.approx(0.0, abs=1e-4)


def test_n_mpjpe_matches_loop():
    pred, gt = _poses(seed=1)
    slow = []
    for p, g in zip(pred, gt):
        s = np.sum(p * g) / np.sum(p * p)
        slow.append(_slow_mpjpe(s * p, g))
    _assert_close(n_mpjpe(pred, gt, reduction="per_frame"), slow, 1e-9)


def test_n_mpjpe_zero_prediction_is_finite():
    gt = torch.ones(2, 17, 3)
    assert torch.isfinite(n_mpjpe(torch.zeros(2, 17, 3), gt))


# ---- PA-MPJPE ----


def test_pa_mpjpe_matches_slow_reference():
    pred, gt = _poses(n=8, seed=2)
    _assert_close(pa_mpjpe(pred, gt, reduction="per_frame"), [_slow_pa(p, g) for p, g in zip(pred, gt)], 1e-6)


def test_pa_mpjpe_invariant_to_similarity_of_prediction():
    pred, gt = _poses(n=5, seed=3)
    rot = Rotation.random(5, random_state=4).as_matrix()
    s = np.array([0.3, 0.9, 1.0, 2.5, 7.0])
    t = np.random.default_rng(5).normal(0, 1000, (5, 1, 3))
    moved = s[:, None, None] * np.einsum("nij,nkj->nki", rot, pred) + t
    _assert_close(pa_mpjpe(moved, gt, reduction="per_frame"), pa_mpjpe(pred, gt, reduction="per_frame"), 1e-6)
    # pred = s R gt + t aligns back exactly, even in float32
    exact = s[:, None, None] * np.einsum("nij,nkj->nki", rot, gt) + t
    assert pa_mpjpe(torch.from_numpy(exact).float(), torch.from_numpy(gt).float()).item() < 1e-2
    assert mpjpe(exact, gt).item() > 100.0


def test_pa_alignment_is_optimal():
    pred, gt = _poses(n=1, seed=6)
    best = pa_mpjpe(pred, gt).item()
    aligned = procrustes_align(pred, gt).numpy()[0]
    base = ((aligned - gt[0]) ** 2).sum()
    g = np.random.default_rng(7)
    for _ in range(20):
        r = Rotation.from_rotvec(g.normal(0, 0.02, 3)).as_matrix()
        c = aligned.mean(0)
        nudged = (1 + g.normal(0, 0.01)) * (aligned - c) @ r.T + c + g.normal(0, 2.0, 3)
        assert ((nudged - gt[0]) ** 2).sum() >= base - 1e-6
    assert best > 0


def test_pa_mpjpe_does_not_undo_a_reflection():
    _, gt = _poses(n=3, seed=8)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    # an unconstrained orthogonal fit would undo the mirror exactly
    r, _ = orthogonal_procrustes(mirrored[0] - mirrored[0].mean(0), gt[0] - gt[0].mean(0))
    assert np.linalg.det(r) < 0
    fast = pa_mpjpe(mirrored, gt, reduction="per_frame")
    assert (fast > 10.0).all()
    _assert_close(fast, [_slow_pa(p, g) for p, g in zip(mirrored, gt)], 1e-6)
    aligned = procrustes_align(mirrored, gt)
    assert aligned.shape == (3, 17, 3)


def test_pa_mpjpe_keeps_dtype_and_gradients():
    pred, gt = _poses(n=2, seed=9)
    p = torch.from_numpy(pred).float().requires_grad_()
    out = pa_mpjpe(p, torch.from_numpy(gt).float())
    assert out.dtype == torch.float32
    out.backward()
    assert torch.isfinite(p.grad).all()


# ---- PCK / AUC ----


def test_pck_joint_set_is_the_3dhp_fourteen():
    names = {H36M17.names[j] for j in MPI_INF_3DHP_PCK_JOINTS}
    assert len(MPI_INF_3DHP_PCK_JOINTS) == 14
    assert names.isdisjoint({"pelvis", "spine", "nose"})
    assert {"head", "thorax", "l_ankle", "r_wrist"} <= names


def test_pck_hand_case():
    gt = torch.zeros(1, 17, 3)
    pred = gt.clone()
    joints = list(MPI_INF_3DHP_PCK_JOINTS)
    for k, j in enumerate(joints):  # 7 joints off by 100 mm (hit), 7 by 200 mm (miss)
        pred[0, j, 0] = 100.0 if k % 2 == 0 else 200.0
    for j in (0, 7, 9):  # excluded joints, far off
        pred[0, j, 1] = 1000.0
    assert pck3d(pred, gt, joints=MPI_INF_3DHP_PCK_JOINTS).item() == pytest.approx(50.0)
    assert pck3d(pred, gt).item() == pytest.approx(100.0 * 7 / 17)
    # the test is strict: an error of exactly the threshold misses
    assert pck3d(pred, gt, threshold=100.0, joints=MPI_INF_3DHP_PCK_JOINTS).item() == pytest.approx(0.0)


def test_auc_hand_case():
    assert len(AUC_THRESHOLDS_MM) == 31 and AUC_THRESHOLDS_MM[-1] == 150.0
    gt = torch.zeros(2, 17, 3, dtype=torch.float64)
    pred = gt.clone()
    pred[0, :, 2] = 12.0  # passes 15..150: 28 of 31 thresholds
    # frame 1 exact: passes every threshold but 0 (strict test): 30 of 31
    per_frame = auc3d(pred, gt, joints=MPI_INF_3DHP_PCK_JOINTS, reduction="per_frame")
    _assert_close(per_frame, [100 * 28 / 31, 100 * 30 / 31], 1e-9)


def test_pck_auc_match_loop():
    pred, gt = _poses(n=5, seed=10)
    joints = MPI_INF_3DHP_PCK_JOINTS
    slow_pck = [_slow_pck(p, g, 150.0, joints) for p, g in zip(pred, gt)]
    _assert_close(pck3d(pred, gt, joints=joints, reduction="per_frame"), slow_pck, 1e-9)
    slow_auc = [np.mean([_slow_pck(p, g, t, joints) for t in range(0, 151, 5)]) for p, g in zip(pred, gt)]
    _assert_close(auc3d(pred, gt, joints=joints, reduction="per_frame"), slow_auc, 1e-9)


# ---- segmentation ----


def test_miou_hand_case():
    gt = torch.tensor([[[0, 1, 1], [0, 2, 2]]])
    pred = torch.tensor([[[0, 1, 2], [1, 2, 2]]])
    # IoU: class 0 1/2, class 1 1/3, class 2 2/3; class 3 absent from both
    assert segmentation_miou(pred, gt, num_classes=4).item() == pytest.approx(50.0)
    # fg/bg: background 1/2, foreground 4/5
    assert segmentation_miou(pred, gt, num_classes=4, mode="fg_bg").item() == pytest.approx(65.0)
    ignored = gt.clone()
    ignored[0, 1, 0] = -1
    assert segmentation_miou(pred, ignored, num_classes=4).item() == pytest.approx(100 * (1 + 1 / 2 + 2 / 3) / 3)


def test_miou_matches_loop():
    g = np.random.default_rng(11)
    gt = g.integers(0, 5, (3, 8, 9))
    pred = np.where(g.random((3, 8, 9)) < 0.6, gt, g.integers(0, 5, (3, 8, 9)))
    ious = []
    for c in range(6):
        inter = np.sum((pred == c) & (gt == c))
        union = np.sum((pred == c) | (gt == c))
        if union:
            ious.append(inter / union)
    assert segmentation_miou(pred, gt, num_classes=6).item() == pytest.approx(100 * np.mean(ious))
    per_frame = segmentation_miou(pred, gt, num_classes=6, reduction="per_frame")
    assert per_frame.shape == (3,)


def test_miou_bad_input():
    with pytest.raises(ValueError, match="lie in"):
        segmentation_miou(torch.tensor([[[5]]]), torch.tensor([[[0]]]), num_classes=3)
    with pytest.raises(ValueError, match="mode"):
        segmentation_miou(torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long), 3, mode="x")


# ---- breakdown and input checks ----


def test_breakdown_averages_per_key_then_over_keys():
    out = breakdown(torch.tensor([1.0, 2.0, 3.0, 10.0]), ["Walk", "Walk", "Walk", "Sit"])
    assert out == {"Walk": 2.0, "Sit": 10.0, "average": 6.0}
    assert all(type(v) is float for v in out.values())
    with pytest.raises(ValueError, match="keys"):
        breakdown(torch.ones(3), ["a"])


@pytest.mark.parametrize("metric", [mpjpe, n_mpjpe, pa_mpjpe, pck3d, auc3d])
def test_bad_shapes_raise(metric):
    with pytest.raises(ValueError):
        metric(torch.zeros(2, 17, 3), torch.zeros(2, 16, 3))
    with pytest.raises(ValueError):
        metric(torch.zeros(17, 3), torch.zeros(17, 3))
    with pytest.raises(ValueError, match="reduction"):
        metric(torch.zeros(2, 17, 3), torch.zeros(2, 17, 3), reduction="sum")


def test_nan_free_on_degenerate_frames():
    zeros = torch.zeros(2, 17, 3)
    assert not math.isnan(pa_mpjpe(zeros, torch.ones(2, 17, 3)).item())


# ---- diagnostics: pose spread and facing error ----


def test_pose_spread_hand_values():
    d = 30.0
    two = np.zeros((2, 17, 3))
    two[0, :, 0], two[1, :, 0] = d, -d  # every joint ±d along x: each joint's RMS distance is d
    assert float(pose_spread(two)) == pytest.approx(d)
    one_joint = np.zeros((2, 17, 3))
    one_joint[1, 3, 2] = 2 * d  # one joint moves 2d: its RMS distance from the mean is d
    assert float(pose_spread(one_joint)) == pytest.approx(d / 17)
    same = np.broadcast_to(_poses(1)[0], (8, 17, 3))
    assert float(pose_spread(same)) == pytest.approx(0.0, abs=1e-9)


def test_pose_spread_matches_loop():
    poses = _poses(n=9, seed=3)[0]
    slow = np.mean([np.sqrt(np.mean([np.sum((poses[n, j] - poses[:, j].mean(0)) ** 2) for n in range(9)]))
                    for j in range(17)])
    _assert_close(pose_spread(poses), slow, 1e-6)
    with pytest.raises(ValueError, match="poses"):
        pose_spread(np.zeros((4, 17)))


def _turned(pose, degrees):
    """The pose turned by ``degrees`` about its own spine (pelvis → thorax)."""
    axis = pose[H36M17.thorax] - pose[H36M17.root]
    rotation = Rotation.from_rotvec(np.deg2rad(degrees) * axis / np.linalg.norm(axis))
    return rotation.apply(pose - pose[H36M17.root]) + pose[H36M17.root]


@pytest.mark.parametrize("degrees", [0.0, 30.0, 90.0, 150.0, 180.0])
def test_facing_error_is_the_turn_about_the_spine(degrees):
    gt = _poses(n=4, seed=5)[1]
    pred = np.stack([_turned(p, degrees) for p in gt])
    per_frame = facing_error(pred, gt, reduction="per_frame")
    _assert_close(per_frame, np.full(4, degrees), 1e-3)
    # the same for both poses seen from another camera, and whatever the limbs do
    view = Rotation.from_euler("xyz", [20.0, -70.0, 10.0], degrees=True)
    moved = np.stack([view.apply(p) for p in pred])
    moved[:, [H36M17.index("l_wrist"), H36M17.index("r_ankle")]] += 200.0
    _assert_close(facing_error(moved, np.stack([view.apply(g) for g in gt])), degrees, 1e-3)
