"""The unpaired 3D pose prior: motion capture canonicalised and retargeted to prior bone lengths.

Convention:
    Every stored pose is in the canonical frame of ``partpose.geometry.kinematics`` (pelvis at
    the origin, X the face vector, Z up along pelvis -> thorax, Y = Z x X the body's left), in
    millimetres, with exactly the prior's bone lengths: ``forward_kinematics(local_vectors,
    hip_angle, bone_lengths)``, where the local vectors and hip angle are those of the input pose
    (``inverse_kinematics(canonicalize(pose))``). Only the directions of the motion capture are
    kept; its own bone lengths are replaced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from partpose.data.mocap import SPLITS, MotionClip, load_deepmimic_clips, mirror, split_clips
from partpose.errors import UserError
from partpose.geometry.kinematics import canonicalize, forward_kinematics, inverse_kinematics
from partpose.geometry.skeleton import H36M17, Skeleton, estimate_bone_prior
from partpose.utils.checks import check_finite, check_shape

DEGENERATE_SINE = 1e-3
"""A pose whose hip line is within this sine of parallel to pelvis -> thorax has no canonical
frame; such poses are dropped (counted in ``PosePrior.num_dropped``)."""


def _as_float64_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A detached float64 copy-or-view of a numpy array or tensor (device kept)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    return x.detach().to(dtype=torch.float64)


class PosePrior:
    """A set of unpaired canonical 3D poses to sample from.

    Args:
        poses_mm: ``(N, J, 3)`` poses in millimetres, any frame (numpy or torch).
        bone_lengths_mm: ``(J,)`` target bone lengths (``fk_parents`` convention); ``None``
            estimates them from ``poses_mm`` (``estimate_bone_prior``, left/right averaged).
        skeleton: the joint set (``H36M17``).

    Attributes (read-only properties):
        poses_canon_mm: ``(N, J, 3)`` float32 canonical poses with the prior bone lengths.
        local_vectors: ``(N, K, 3)`` float32 unit local vectors (``skeleton.fk_joints`` order).
        hip_angle: ``(N, 2)`` float32 ``(sin psi, cos psi)``.
        bone_lengths: ``(J,)`` float32 millimetres.
        up_canon: ``(N, 3)`` float32 unit vectors: the input frame's +Z in each pose's canonical
            frame. Motion capture is z-up (``partpose.data.mocap``), so this is the world's up
            as the body saw it: ``(0, 0, 1)`` for an upright spine, tilted for a body that
            leans or bends (the view prior's ``up``, ``camera.random_view_rotation``).
    """

    def __init__(
        self,
        poses_mm: np.ndarray | torch.Tensor,
        bone_lengths_mm: np.ndarray | torch.Tensor | None = None,
        skeleton: Skeleton = H36M17,
    ) -> None:
        poses = _as_float64_tensor(poses_mm)
        check_shape(poses, ("N", skeleton.num_joints, 3), "poses_mm")
        check_finite(poses, "poses_mm")
        if bone_lengths_mm is None:
            if poses.shape[0] == 0:
                raise ValueError("a pose prior needs at least one pose")
            bones = estimate_bone_prior(poses, skeleton)
        else:
            bones = _as_float64_tensor(bone_lengths_mm).to(poses.device)
            check_shape(bones, (skeleton.num_joints,), "bone_lengths_mm")
            check_finite(bones, "bone_lengths_mm")

        up = poses[:, skeleton.thorax] - poses[:, skeleton.root]
        hips = poses[:, skeleton.l_hip] - poses[:, skeleton.r_hip]
        sine = torch.linalg.cross(hips, up, dim=-1).norm(dim=-1) / (
            hips.norm(dim=-1) * up.norm(dim=-1)
        ).clamp_min(1e-12)
        valid = sine > DEGENERATE_SINE
        self.num_dropped = int((~valid).sum())
        poses = poses[valid]
        if poses.shape[0] == 0:
            raise ValueError("a pose prior needs at least one pose with a canonical frame")

        canonical, canon_R_input = canonicalize(poses, skeleton)
        local_vectors, hip_angle = inverse_kinematics(canonical, skeleton)
        retargeted = forward_kinematics(local_vectors, hip_angle, bones, skeleton)
        self.skeleton = skeleton
        self._poses_canon_mm = retargeted.float()
        self._local_vectors = local_vectors.float()
        self._hip_angle = hip_angle.float()
        self._bone_lengths = bones.float()
        # +Z of the input frame (the world's up for motion capture) in canonical coordinates
        self._up_canon = canon_R_input[:, :, 2].float()

    # ----------------------------------------------------------------------------------------
    @classmethod
    def from_clips(
        cls,
        clips: Sequence[MotionClip],
        mirror_poses: bool = True,
        bone_lengths_mm: np.ndarray | torch.Tensor | None = None,
        skeleton: Skeleton = H36M17,
    ) -> PosePrior:
        """Every frame of ``clips``; with ``mirror_poses`` also every frame's mirror image
        (``partpose.data.mocap.mirror``), which doubles the prior and makes it left/right
        symmetric."""
        if not clips:
            raise UserError("a pose prior needs at least one motion clip")
        poses = np.concatenate([c.poses_mm for c in clips], axis=0)
        if mirror_poses:
            poses = np.concatenate([poses, mirror(poses, skeleton)], axis=0)
        return cls(poses, bone_lengths_mm, skeleton)

    @classmethod
    def from_deepmimic(
        cls,
        split: str = "prior",
        mirror: bool = True,
        bone_lengths_mm: np.ndarray | torch.Tensor | None = None,
        scale_to_height_mm: float | None = None,
    ) -> PosePrior:
        """The prior from the DeepMimic clips of the installed ``pybullet`` wheel.

        Args:
            split: ``"prior"`` (default), ``"train"`` or ``"test"`` of
                ``partpose.data.mocap.DEEPMIMIC_SPLIT``, ``"non_test"`` (prior and train clips:
                every motion the test videos do not show) or ``"all"`` for all 20 clips.
            mirror: add the mirror image of every frame.
            bone_lengths_mm: target bone lengths; ``None`` uses the clips' own (the DeepMimic
                humanoid's proportions, or scaled with ``scale_to_height_mm``).
            scale_to_height_mm: see ``load_deepmimic_clips``.
        """
        if split not in (*SPLITS, "all", "non_test"):
            raise UserError(f"unknown split {split!r}; choose one of {', '.join((*SPLITS, 'all', 'non_test'))}")
        clips = load_deepmimic_clips(scale_to_height_mm=scale_to_height_mm)
        if split == "non_test":
            parts = split_clips(clips)
            clips = parts["prior"] + parts["train"]
        elif split != "all":
            clips = split_clips(clips)[split]
        return cls.from_clips(clips, mirror, bone_lengths_mm)

    # ----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._poses_canon_mm.shape[0])

    @property
    def poses_canon_mm(self) -> torch.Tensor:
        return self._poses_canon_mm

    @property
    def local_vectors(self) -> torch.Tensor:
        return self._local_vectors

    @property
    def hip_angle(self) -> torch.Tensor:
        return self._hip_angle

    @property
    def bone_lengths(self) -> torch.Tensor:
        """``(J,)`` float32 bone lengths of every stored pose, millimetres."""
        return self._bone_lengths

    @property
    def up_canon(self) -> torch.Tensor:
        return self._up_canon

    def sample(
        self, n: int, generator: torch.Generator | None = None, with_up: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``n`` poses drawn uniformly with replacement: ``(n, J, 3)`` float32 canonical mm, on
        the device the prior is stored on (see :meth:`to`); with ``with_up`` also their
        ``(n, 3)`` :attr:`up_canon` (the same draws: the poses do not depend on ``with_up``)."""
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n}")
        device = generator.device if generator is not None else self._poses_canon_mm.device
        index = torch.randint(len(self), (n,), generator=generator, device=device)
        index = index.to(self._poses_canon_mm.device)
        if with_up:
            return self._poses_canon_mm[index], self._up_canon[index]
        return self._poses_canon_mm[index]

    def mean_pose(self) -> torch.Tensor:
        """``(J, 3)`` per-joint mean of the canonical poses, mm: the constant prediction with the
        smallest mean squared joint error over the prior (the mean-pose baseline). Its bones are
        shorter than the prior's where the poses disagree."""
        return self._poses_canon_mm.mean(dim=0)

    def to(self, device: torch.device | str) -> PosePrior:
        """This prior with its tensors on ``device`` (a new object; this one is unchanged)."""
        moved = object.__new__(PosePrior)
        moved.skeleton = self.skeleton
        moved.num_dropped = self.num_dropped
        moved._poses_canon_mm = self._poses_canon_mm.to(device)
        moved._local_vectors = self._local_vectors.to(device)
        moved._hip_angle = self._hip_angle.to(device)
        moved._bone_lengths = self._bone_lengths.to(device)
        moved._up_canon = self._up_canon.to(device)
        return moved
