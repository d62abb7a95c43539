import pytest
import torch

from naive import naive_bone_lengths
from partpose.geometry.skeleton import (
    DEFAULT_BONE_LENGTHS_MM,
    H36M17,
    Skeleton,
    bone_lengths,
    default_bone_lengths,
    estimate_bone_prior,
)

IDX = {name: H36M17.index(name) for name in H36M17.names}


def mirror_name(name: str) -> str:
    if name.startswith("l_"):
        return "r_" + name[2:]
    if name.startswith("r_"):
        return "l_" + name[2:]
    return name


def test_h36m17_layout():
    assert H36M17.num_joints == 17
    assert H36M17.names[:4] == ("pelvis", "r_hip", "r_knee", "r_ankle")
    assert (H36M17.root, H36M17.thorax, H36M17.l_hip, H36M17.r_hip) == (0, 8, 4, 1)
    assert H36M17.fk_joints == (2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16)
    # The two trees differ only at the thorax: spine in the drawing tree, pelvis in T_fk.
    differ = [j for j in range(17) if H36M17.parents[j] != H36M17.fk_parents[j]]
    assert differ == [IDX["thorax"]]
    assert H36M17.parents[IDX["thorax"]] == IDX["spine"] and H36M17.fk_parents[IDX["thorax"]] == IDX["pelvis"]
    assert len(H36M17.bones) == 16 and (IDX["spine"], IDX["thorax"]) in H36M17.bones


def test_flip_permutation_swaps_left_and_right_names():
    perm = H36M17.flip_permutation
    assert sorted(perm) == list(range(17))
    for i, j in enumerate(perm):
        assert H36M17.names[j] == mirror_name(H36M17.names[i]), (H36M17.names[i], H36M17.names[j])
    assert tuple(perm[p] for p in perm) == tuple(range(17))  # an involution
    pose = torch.arange(17 * 3, dtype=torch.float64).reshape(1, 17, 3)
    flipped = pose[:, list(perm)]
    assert torch.equal(flipped[0, IDX["l_wrist"]], pose[0, IDX["r_wrist"]])
    assert torch.equal(flipped[0, IDX["nose"]], pose[0, IDX["nose"]])


def test_fk_levels_hand_worked_and_topological():
    levels = H36M17.fk_levels
    named = tuple(tuple(H36M17.names[j] for j in level) for level in levels)
    assert named == (
        ("r_knee", "l_knee", "spine", "nose", "l_shoulder", "r_shoulder"),
        ("r_ankle", "l_ankle", "head", "l_elbow", "r_elbow"),
        ("l_wrist", "r_wrist"),
    )
    placed = {H36M17.root, H36M17.thorax, H36M17.l_hip, H36M17.r_hip}
    for level in levels:
        assert all(H36M17.fk_parents[j] in placed for j in level)
        placed |= set(level)
    assert sorted(j for level in levels for j in level) == sorted(H36M17.fk_joints)


def test_bone_lengths_matches_a_hand_loop():
    poses = torch.randn(6, 17, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fast = bone_lengths(poses)
    twin = naive_bone_lengths(poses)
    worst = (fast - twin).abs().max().item()
    assert worst < 1e-12, f"bone_lengths vs hand loop: largest abs difference {worst:.3e}"
    assert torch.all(fast[:, 0] == 0)
    # The thorax bone is pelvis -> thorax (the T_fk tree), not spine -> thorax.
    direct = (poses[:, IDX["thorax"]] - poses[:, IDX["pelvis"]]).norm(dim=-1)
    assert torch.allclose(fast[:, IDX["thorax"]], direct)
    # Extra leading dimensions.
    assert bone_lengths(poses.reshape(2, 3, 17, 3)).shape == (2, 3, 17)
    assert bone_lengths(poses[0]).shape == (17,)


def test_estimate_bone_prior_symmetric_and_plain_mean():
    g = torch.Generator().manual_seed(1)
    poses = torch.randn(10, 17, 3, dtype=torch.float64, generator=g) * 100
    plain = estimate_bone_prior(poses, symmetric=False)
    assert torch.allclose(plain, naive_bone_lengths(poses).mean(dim=0))
    sym = estimate_bone_prior(poses)
    left, right = list(H36M17.left), list(H36M17.right)
    assert torch.equal(sym[left], sym[right])
    assert torch.allclose(sym[left], 0.5 * (plain[left] + plain[right]))
    centre = [j for j in range(17) if j not in left + right]
    assert torch.equal(sym[centre], plain[centre])
    assert not torch.equal(plain[left], plain[right])  # the symmetrisation did something


def test_default_bone_lengths():
    lengths = default_bone_lengths(torch.float64)
    assert lengths.shape == (17,) and lengths.dtype == torch.float64
    assert lengths[0] == 0 and (lengths[1:] > 0).all()
    assert torch.equal(lengths[list(H36M17.left)], lengths[list(H36M17.right)])
    assert len(DEFAULT_BONE_LENGTHS_MM) == 17


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="poses"):
        bone_lengths(torch.zeros(4, 16, 3))
    with pytest.raises(ValueError, match="poses"):
        bone_lengths(torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match="poses"):
        estimate_bone_prior(torch.zeros(17, 3))
    with pytest.raises(ValueError, match="zero poses"):
        estimate_bone_prior(torch.zeros(0, 17, 3))
    with pytest.raises(ValueError, match="unknown joint 'neck'"):
        H36M17.index("neck")


def test_skeleton_rejects_inconsistent_definitions():
    with pytest.raises(ValueError, match="same length"):
        Skeleton(names=("a", "b"), parents=(-1,), fk_parents=(-1, 0), left=(), right=(), root=0, thorax=1, l_hip=1, r_hip=1)
    with pytest.raises(ValueError, match="pair up"):
        Skeleton(names=("a", "b"), parents=(-1, 0), fk_parents=(-1, 0), left=(1,), right=(), root=0, thorax=1, l_hip=1, r_hip=1)
    with pytest.raises(ValueError, match="topological"):
        Skeleton(
            names=("root", "thorax", "lh", "rh", "child", "grandchild"),
            parents=(-1, 0, 0, 0, 1, 4),
            fk_parents=(-1, 0, 0, 0, 1, 4),
            left=(2,), right=(3,), root=0, thorax=1, l_hip=2, r_hip=3,
            fk_joints=(5, 4),
        )
