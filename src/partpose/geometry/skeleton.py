"""The 17-joint skeleton (Human3.6M order) and the bone-length prior.

Convention:
    Joint order is Human3.6M's 17-joint subset: pelvis, r_hip, r_knee, r_ankle, l_hip, l_knee,
    l_ankle, spine, thorax, nose, head, l_shoulder, l_elbow, l_wrist, r_shoulder, r_elbow,
    r_wrist. The supplementary's *neck* is ``thorax``; ``nose`` is H3.6M's neck/nose point at
    the base of the head and ``head`` the top of the head.

    Two trees are kept. ``parents`` is Human3.6M's drawing tree (thorax hangs from spine).
    ``fk_parents`` is the tree of T_fk (supplementary §2): identical except that the thorax
    hangs directly from the pelvis, at ``(0, 0, alpha_thorax)`` in the canonical frame.
    ``bone_lengths[j]`` is always the distance from joint ``j`` to ``fk_parents[j]`` (0 for the
    root), in millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from partpose.utils.checks import check_shape


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree given as data; kinematics walks ``fk_parents``.

    Attributes:
        names: joint names, length J.
        parents: drawing tree, ``-1`` for the root.
        fk_parents: the T_fk tree (see module docstring).
        left, right: joint indices of mirrored pairs, ``left[i]`` <-> ``right[i]``.
        root, thorax, l_hip, r_hip: the four joints T_fk places without a predicted vector.
        fk_joints: the joints reached by a predicted local vector, in a topological order of
            ``fk_parents``; ``local_vectors[:, k]`` belongs to joint ``fk_joints[k]``.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    fk_parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    root: int
    thorax: int
    l_hip: int
    r_hip: int
    fk_joints: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.parents) != n or len(self.fk_parents) != n:
            raise ValueError("names, parents and fk_parents must have the same length")
        if len(self.left) != len(self.right):
            raise ValueError("left and right must pair up one to one")
        fixed = {self.root, self.thorax, self.l_hip, self.r_hip}
        if not self.fk_joints:
            object.__setattr__(self, "fk_joints", tuple(j for j in range(n) if j not in fixed))
        seen = set(fixed)
        for j in self.fk_joints:
            if self.fk_parents[j] not in seen:
                raise ValueError(f"fk_joints is not in topological order at joint {self.names[j]}")
            seen.add(j)

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of the joint called ``name``; ``ValueError`` naming the known joints otherwise."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"unknown joint {name!r}; known joints: {', '.join(self.names)}") from None

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Permutation that swaps left and right joints: ``mirrored = pose[..., perm, :]``."""
        perm = list(range(self.num_joints))
        for a, b in zip(self.left, self.right):
            perm[a], perm[b] = b, a
        return tuple(perm)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs of the drawing tree, for plots and overlays."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)

    @property
    def fk_levels(self) -> tuple[tuple[int, ...], ...]:
        """``fk_joints`` grouped by depth in the FK tree: every joint of a level can be placed at
        once, given all earlier levels (used to batch T_fk per tree level)."""
        depth = {self.root: 0, self.thorax: 0, self.l_hip: 0, self.r_hip: 0}
        for j in self.fk_joints:
            depth[j] = depth[self.fk_parents[j]] + 1
        levels: dict[int, list[int]] = {}
        for j in self.fk_joints:
            levels.setdefault(depth[j], []).append(j)
        return tuple(tuple(levels[d]) for d in sorted(levels))


H36M17 = Skeleton(
    names=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
        "nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    fk_parents=(-1, 0, 1, 2, 0, 4, 5, 0, 0, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
    root=0,
    thorax=8,
    l_hip=4,
    r_hip=1,
)
"""The default skeleton. ``fk_joints`` = (2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16)."""

# Approximate mean bone lengths of an adult (Human3.6M-like), millimetres, indexed by joint:
# distance from each joint to its ``fk_parents`` entry. Training uses the bone lengths estimated
# from its own pose prior (``estimate_bone_prior``); this is the fallback when none is given.
DEFAULT_BONE_LENGTHS_MM = (
    0.0,    # pelvis (root)
    133.0,  # r_hip      <- pelvis
    443.0,  # r_knee     <- r_hip
    454.0,  # r_ankle    <- r_knee
    133.0,  # l_hip      <- pelvis
    443.0,  # l_knee     <- l_hip
    454.0,  # l_ankle    <- l_knee
    234.0,  # spine      <- pelvis
    480.0,  # thorax     <- pelvis (straight line, not via the spine)
    121.0,  # nose       <- thorax
    115.0,  # head       <- nose
    151.0,  # l_shoulder <- thorax
    279.0,  # l_elbow    <- l_shoulder
    252.0,  # l_wrist    <- l_elbow
    151.0,  # r_shoulder <- thorax
    279.0,  # r_elbow    <- r_shoulder
    252.0,  # r_wrist    <- r_elbow
)


def default_bone_lengths(dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """The fallback bone-length prior as a ``(17,)`` tensor in millimetres."""
    return torch.tensor(DEFAULT_BONE_LENGTHS_MM, dtype=dtype, device=device)


def bone_lengths(poses: torch.Tensor, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Length of every FK bone of ``poses``.

    Args:
        poses: ``(..., J, 3)`` joint positions, any unit.
    Returns:
        ``(..., J)`` distance from each joint to its ``fk_parents`` entry (0 for the root), in
        the unit of ``poses``.
    """
    check_shape(poses, ("*", skeleton.num_joints, 3), "poses")
    parents = torch.tensor([max(p, 0) for p in skeleton.fk_parents], device=poses.device)
    return (poses - poses[..., parents, :]).norm(dim=-1)


def estimate_bone_prior(
    poses: torch.Tensor, skeleton: Skeleton = H36M17, symmetric: bool = True
) -> torch.Tensor:
    """Estimate a bone-length prior from a set of 3D poses.

    Args:
        poses: ``(N, J, 3)`` poses in millimetres (any frame; lengths are frame-free).
        symmetric: average each left bone with its right twin, so the prior is mirror-symmetric.
    Returns:
        ``(J,)`` mean bone lengths in millimetres, indexed like ``fk_parents``.
    """
    check_shape(poses, ("N", skeleton.num_joints, 3), "poses")
    if poses.shape[0] == 0:
        raise ValueError("cannot estimate a bone-length prior from zero poses")
    lengths = bone_lengths(poses, skeleton).mean(dim=0)
    if symmetric:
        left, right = list(skeleton.left), list(skeleton.right)
        mean = 0.5 * (lengths[left] + lengths[right])
        lengths = lengths.clone()
        lengths[left] = mean
        lengths[right] = mean
    return lengths
