"""The body parts of the 2D puppet (T_s) and of the part segmentation.

Convention:
    Part label ``0`` is background; part ``PARTS[l]`` has label ``l + 1``. ``NUM_PARTS`` = L.
    A two-anchor part runs from its parent joint ``anchors[0]`` to its child joint
    ``anchors[1]``. The torso has four anchors (l_shoulder, r_shoulder, l_hip, r_hip): the line
    from mid-hips to mid-shoulders sets its rotation and it scales along both axes.
    ``half_width_mm`` is the part's nominal half-thickness on a body of the default bone-length
    prior; the puppet and the synthetic renderer both read it (the renderer adds per-subject
    variation), so the two agree on the part set but not on the exact shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from partpose.geometry.skeleton import H36M17, Skeleton


@dataclass(frozen=True)
class Part:
    name: str
    anchors: tuple[str, ...]
    half_width_mm: float

    def anchor_indices(self, skeleton: Skeleton = H36M17) -> tuple[int, ...]:
        return tuple(skeleton.index(a) for a in self.anchors)


PARTS: tuple[Part, ...] = (
    Part("head", ("nose", "head"), 95.0),
    Part("torso", ("l_shoulder", "r_shoulder", "l_hip", "r_hip"), 0.0),  # width from anchors
    Part("l_upper_arm", ("l_shoulder", "l_elbow"), 50.0),
    Part("l_lower_arm", ("l_elbow", "l_wrist"), 42.0),
    Part("r_upper_arm", ("r_shoulder", "r_elbow"), 50.0),
    Part("r_lower_arm", ("r_elbow", "r_wrist"), 42.0),
    Part("l_upper_leg", ("l_hip", "l_knee"), 75.0),
    Part("l_lower_leg", ("l_knee", "l_ankle"), 58.0),
    Part("r_upper_leg", ("r_hip", "r_knee"), 75.0),
    Part("r_lower_leg", ("r_knee", "r_ankle"), 58.0),
)
NUM_PARTS = len(PARTS)
PART_NAMES: tuple[str, ...] = tuple(p.name for p in PARTS)


def _swap_sides(name: str) -> str:
    return {"l_": "r_", "r_": "l_"}.get(name[:2], name[:2]) + name[2:]


PART_FLIP_PERMUTATION: tuple[int, ...] = tuple(PART_NAMES.index(_swap_sides(name)) for name in PART_NAMES)
"""The part of the mirrored body that each part becomes (left and right exchanged):
``mirrored_maps = maps[:, PART_FLIP_PERMUTATION]``; for labels (background 0) see
``partpose.geometry.mirror.mirror_part_labels``."""
