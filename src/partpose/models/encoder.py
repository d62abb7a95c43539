"""E: the encoder, a residual CNN with heads for pose, camera and appearance.

Convention:
    Input images are ``(B, 3, H, W)`` floats in [0, 1], RGB. The trunk is a stem convolution
    followed by residual stages (ResNet "basic" blocks, or ResNet-50 "bottleneck" blocks as in
    the paper), each halving the resolution. Its last map is average-pooled to
    ``pool_size x pool_size`` and flattened (``pool_size = 1`` is ResNet's global average
    pooling; a small grid keeps the coarse layout that the 2D offset needs).

    Heads (in float32, autocast off):

    * ``local_vectors (B, 13, 3)``: tanh, then unit-normalised; ``local_vectors[:, k]`` belongs
      to ``H36M17.fk_joints[k]`` in the limb frame of ``geometry.kinematics.limb_frame``.
    * ``hip_angle (B, 2)``: ``(sin psi, cos psi)`` of ``psi = 90° + hip_angle_range_deg * tanh(raw)``:
      the hip line stays within that range of perpendicular to the spine (motion capture: 72° to
      108°), with the left hip on the body's left. A free angle would let the hips swap sides, so
      that a body seen from the back could be fitted by a canonical frame facing the camera with
      its hips, shoulders and limbs flipped, and the camera rotation would learn the view slowly.
    * ``cam_R_canon (B, 3, 3)``: with ``rotation="6d"`` (default), the 6D representation ->
      ``camera.rotation_6d_to_matrix`` (any rotation). With ``rotation="view"``, a view of the
      body from the view prior's family: azimuth from a unit ``(cos, sin)`` pair (any angle),
      elevation ``lo + (hi - lo) * sigmoid(raw)`` in ``view_elevation_deg`` and an in-plane roll
      ``view_roll_deg * tanh(raw)``: ``R_roll @ camera.view_rotation(azimuth, elevation)``. The
      body's torso then always shows in the image plane within those angles; a free rotation lets
      L_I^u turn the torso towards the camera, which draws every person as a small foreshortened
      silhouette (see ``docs/learning.md``).
    * ``scale (B,)``: ``lo + (hi - lo) * sigmoid(raw)`` with ``(lo, hi) = scale_range``,
      normalised image units per metre. Crops are person-centred (a detector box, or the box of
      the 2D joints), so the scale lives in a known range; an unbounded scale lets L_I^u shrink
      the drawn person to a dot and explain every frame by its background.
    * ``offset (B, 2)``: ``offset_range * tanh(raw)``, normalised image coordinates (x, y).
    * ``appearance (B, A)``: linear (its own hidden layer, not shared with the pose heads), read
      from the trunk's features (``appearance_trunk="shared"``), from those features detached
      (``"detached"``: the appearance losses shape only the head), from a second trunk of
      the same architecture of its own (``"own"``), or from a branch (``"branch"``): the
      trunk's stem and first stages are shared, and the appearance runs its own copy of the last
      ``appearance_branch_stages`` stages, as a ResNet with a pose and an appearance branch
      does (the paper's Fig. 3 splits E into a pose and an appearance path).
    * ``joints (B, 17, 3)`` (only with ``regress_joints``, the "without T_fk o T_c" ablation):
      linear; camera-frame joints with x, y in normalised image coordinates and z a depth in
      the same units. The five pose/camera heads above are then absent (``None``).

    Initialisation: the last layer of every pose/camera head has small weights (gain
    ``head_init_gain``) and a bias chosen so that the initial prediction, for any image, is
    :func:`rest_pose_canon_mm` (upright, arms hanging, legs straight) seen from the front by
    ``camera.view_rotation(0, 0)`` (the face towards the camera, up in the image is up), at
    scale ``init_scale`` and offset 0. Tanh outputs start at half their range, away from
    saturation. The last normalisation of every residual block starts at zero, so each block
    starts as the identity (Goyal et al., 2017).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from partpose.geometry import camera, kinematics
from partpose.geometry.skeleton import H36M17, default_bone_lengths
from partpose.utils.checks import check_shape

NUM_LOCAL_VECTORS = len(H36M17.fk_joints)
NUM_JOINTS = H36M17.num_joints

# Directions (canonical frame: X face, Y the body's left, Z up) from each joint's ``fk_parents``
# entry to the joint in the rest pose; lengths come from the bone-length prior. The hips are on
# the Y axis (hip angle 90 degrees).
_REST_DIRECTIONS = {
    "r_hip": (0.0, -1.0, 0.0),
    "r_knee": (0.0, 0.0, -1.0),
    "r_ankle": (0.0, 0.0, -1.0),
    "l_hip": (0.0, 1.0, 0.0),
    "l_knee": (0.0, 0.0, -1.0),
    "l_ankle": (0.0, 0.0, -1.0),
    "spine": (0.0, 0.0, 1.0),
    "thorax": (0.0, 0.0, 1.0),
    "nose": (0.1, 0.0, 1.0),
    "head": (0.0, 0.0, 1.0),
    "l_shoulder": (0.0, 1.0, 0.0),
    "l_elbow": (0.0, 0.25, -1.0),
    "l_wrist": (0.3, 0.1, -1.0),
    "r_shoulder": (0.0, -1.0, 0.0),
    "r_elbow": (0.0, -0.25, -1.0),
    "r_wrist": (0.3, -0.1, -1.0),
}


def rest_pose_canon_mm(bone_lengths_mm: torch.Tensor | None = None) -> torch.Tensor:
    """The pose the encoder predicts at initialisation, in the canonical frame.

    Args:
        bone_lengths_mm: ``(17,)`` bone lengths (``fk_parents`` convention); ``None`` uses
            ``skeleton.default_bone_lengths``.
    Returns:
        ``(17, 3)`` float32 canonical pose in millimetres: standing upright, legs straight, arms
        hanging slightly away from the body with the forearms a little forward.
    """
    if bone_lengths_mm is None:
        bone_lengths_mm = default_bone_lengths()
    check_shape(bone_lengths_mm, (NUM_JOINTS,), "bone_lengths_mm")
    alpha = bone_lengths_mm.detach().to(torch.float32).cpu()
    pose = torch.zeros(NUM_JOINTS, 3)
    order = (H36M17.r_hip, H36M17.l_hip, H36M17.thorax, *H36M17.fk_joints)
    for j in order:
        direction = torch.tensor(_REST_DIRECTIONS[H36M17.names[j]])
        pose[j] = pose[H36M17.fk_parents[j]] + alpha[j] * direction / direction.norm()
    return pose


@dataclass
class EncoderConfig:
    """Encoder hyper-parameters. The defaults are the small CPU model (64 x 64 crops)."""

    in_channels: int = 3  # RGB
    stem_channels: int = 24  # 3x3 stem convolution
    stem_stride: int = 2  # 64 -> 32
    widths: tuple[int, ...] = (32, 64, 96, 128)  # residual stages, each halves: 32 -> 16 -> 8 -> 4 -> 2
    blocks_per_stage: tuple[int, ...] = (1,)  # residual blocks per stage; one entry = every stage (ResNet-50: 3, 4, 6, 3)
    block: Literal["basic", "bottleneck"] = "basic"  # "basic" (two 3x3) or "bottleneck" (1x1-3x3-1x1, ResNet-50, x4 expansion)
    norm: Literal["group", "batch", "none"] = "group"  # "group" (any batch size, DDP-safe, same in train/eval), "batch", "none"
    norm_groups: int = 8  # groups of GroupNorm (reduced to a divisor of the channel count)
    pool_size: int = 2  # final average pooling grid; 1 = global average pooling
    head_hidden: int = 256  # hidden units of the pose/camera MLP and of the appearance MLP
    head_norm: Literal["none", "layer"] = "layer"  # "layer": LayerNorm before the heads' hidden ReLU (keeps units alive); "none": Linear -> ReLU
    appearance_dim: int = 64  # length A of the appearance code a
    appearance_trunk: Literal["shared", "detached", "own", "branch"] = "shared"  # the features the appearance head reads: the pose trunk's ("shared"), the same detached ("detached": appearance losses do not shape them), a second trunk ("own"), or its own last stages on the shared first ones ("branch")
    appearance_branch_stages: int = 1  # appearance_trunk="branch": how many of the last stages the appearance has a copy of
    init_scale: float = 1.0  # initial camera scale s (a 1.7 m person spans ~85% of the crop)
    scale_range: tuple[float, float] = (0.3, 4.0)  # s = lo + (hi - lo) * sigmoid(raw): crops are person-centred
    offset_range: float = 0.5  # |t| <= offset_range (tanh): the root stays near the crop centre
    head_init_gain: float = 0.1  # weight scale of the heads' last layers (bias sets the rest pose)
    regress_joints: bool = False  # ablation "w/o T_fk o T_c": regress camera-frame joints instead
    hip_angle_range_deg: float = 30.0  # psi = 90° +- this (tanh): the hip line near perpendicular to the spine
    rotation: Literal["6d", "view"] = "6d"  # camera rotation: any ("6d") | a view within the ranges below ("view")
    view_elevation_deg: tuple[float, float] = (-45.0, 75.0)  # rotation="view": elevation range
    view_roll_deg: float = 45.0  # rotation="view": |in-plane roll| bound

    def __post_init__(self) -> None:
        self.widths = tuple(int(w) for w in self.widths)
        self.blocks_per_stage = tuple(int(b) for b in self.blocks_per_stage)
        if len(self.blocks_per_stage) == 1:
            self.blocks_per_stage = self.blocks_per_stage * len(self.widths)
        if not self.widths or len(self.widths) != len(self.blocks_per_stage):
            raise ValueError(
                f"encoder widths {self.widths} and blocks_per_stage {self.blocks_per_stage} must be "
                "non-empty and of the same length (or blocks_per_stage a single entry)"
            )
        if min(self.widths) <= 0 or min(self.blocks_per_stage) <= 0 or self.stem_channels <= 0:
            raise ValueError("encoder widths, blocks_per_stage and stem_channels must be positive")
        if self.block not in ("basic", "bottleneck"):
            raise ValueError(f"encoder block must be 'basic' or 'bottleneck', got {self.block!r}")
        if self.block == "bottleneck" and any(w % 4 for w in self.widths):
            raise ValueError(f"bottleneck widths must be multiples of 4, got {self.widths}")
        if self.norm not in ("group", "batch", "none"):
            raise ValueError(f"encoder norm must be 'group', 'batch' or 'none', got {self.norm!r}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"encoder stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.head_norm not in ("none", "layer"):
            raise ValueError(f"encoder head_norm must be 'none' or 'layer', got {self.head_norm!r}")
        if self.appearance_trunk not in ("shared", "detached", "own", "branch"):
            raise ValueError("encoder appearance_trunk must be 'shared', 'detached', 'own' or 'branch', "
                             f"got {self.appearance_trunk!r}")
        if not 1 <= self.appearance_branch_stages <= len(self.widths):
            raise ValueError(f"encoder appearance_branch_stages must lie in [1, {len(self.widths)}] (the stages), "
                             f"got {self.appearance_branch_stages}")
        if self.pool_size < 1 or self.head_hidden < 1 or self.appearance_dim < 1:
            raise ValueError("encoder pool_size, head_hidden and appearance_dim must be positive")
        self.scale_range = tuple(float(x) for x in self.scale_range)
        lo, hi = self.scale_range
        if not 0 < lo < self.init_scale < hi:
            raise ValueError(f"encoder needs 0 < scale_range[0] < init_scale < scale_range[1], got "
                             f"{self.scale_range} and {self.init_scale}")
        if not self.offset_range > 0:
            raise ValueError(f"encoder offset_range must be positive, got {self.offset_range}")
        if not 0.0 < self.hip_angle_range_deg < 90.0:
            raise ValueError(f"encoder hip_angle_range_deg must lie in (0, 90), got {self.hip_angle_range_deg}")
        if self.rotation not in ("6d", "view"):
            raise ValueError(f"encoder rotation must be '6d' or 'view', got {self.rotation!r}")
        self.view_elevation_deg = tuple(float(x) for x in self.view_elevation_deg)
        lo, hi = self.view_elevation_deg
        if not -90.0 <= lo < 0.0 < hi <= 90.0 or not 0.0 <= self.view_roll_deg <= 180.0:
            raise ValueError(f"encoder view_elevation_deg must satisfy -90 <= lo < 0 < hi <= 90 and "
                             f"view_roll_deg lie in [0, 180], got {self.view_elevation_deg} and {self.view_roll_deg}")


@dataclass
class EncoderOutput:
    """What E reads from an image (all float32).

    Attributes:
        local_vectors: ``(B, 13, 3)`` unit vectors, or ``None`` with ``regress_joints``.
        hip_angle: ``(B, 2)`` unit ``(sin psi, cos psi)``, or ``None`` with ``regress_joints``.
        cam_R_canon: ``(B, 3, 3)`` rotation canonical -> camera, or ``None`` with ``regress_joints``.
        scale: ``(B,)`` > 0, normalised units per metre, or ``None`` with ``regress_joints``.
        offset: ``(B, 2)`` normalised coordinates, or ``None`` with ``regress_joints``.
        appearance: ``(B, A)`` appearance code.
        joints: ``(B, 17, 3)`` camera-frame joints in normalised image units (only with
            ``regress_joints``, else ``None``).
    """

    local_vectors: torch.Tensor | None
    hip_angle: torch.Tensor | None
    cam_R_canon: torch.Tensor | None
    scale: torch.Tensor | None
    offset: torch.Tensor | None
    appearance: torch.Tensor
    joints: torch.Tensor | None = None


@dataclass
class RawPoseOutput:
    """The pose and camera heads' outputs before their nonlinearities (see ``Encoder.from_raw``).

    Attributes:
        vectors: ``(B, 13, 3)``; hip: ``(B, 1)``; rotation: ``(B, 6)`` (``rotation="6d"``) or
        ``(B, 4)`` (``"view"``); scale: ``(B, 1)``; offset: ``(B, 2)``.
    """

    vectors: torch.Tensor
    hip: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor


def make_norm(kind: str, channels: int, groups: int) -> nn.Module:
    """``kind`` "group" -> GroupNorm (groups reduced to a divisor of ``channels``), "batch" ->
    BatchNorm2d, "none" -> Identity."""
    if kind == "group":
        g = math.gcd(max(1, groups), channels)
        return nn.GroupNorm(g, channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'group', 'batch' or 'none', got {kind!r}")


def _zero_init_norm(norm: nn.Module) -> None:
    if isinstance(norm, (nn.GroupNorm, nn.BatchNorm2d)):
        nn.init.zeros_(norm.weight)


class BasicBlock(nn.Module):
    """ResNet basic block: 3x3 conv (stride) -> norm -> ReLU -> 3x3 conv -> norm, plus the
    shortcut (1x1 conv + norm when the shape changes), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str, groups: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.norm1 = make_norm(norm, out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.norm2 = make_norm(norm, out_channels, groups)
        _zero_init_norm(self.norm2)
        self.shortcut = _shortcut(in_channels, out_channels, stride, norm, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = self.norm2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class BottleneckBlock(nn.Module):
    """ResNet-50 bottleneck: 1x1 (out/4) -> 3x3 (stride) -> 1x1 (out), norm after each, ReLU
    between, plus the shortcut, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, norm: str, groups: int):
        super().__init__()
        mid = out_channels // 4
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.norm1 = make_norm(norm, mid, groups)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.norm2 = make_norm(norm, mid, groups)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.norm3 = make_norm(norm, out_channels, groups)
        _zero_init_norm(self.norm3)
        self.shortcut = _shortcut(in_channels, out_channels, stride, norm, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        y = self.norm3(self.conv3(y))
        return F.relu(y + self.shortcut(x))


def _shortcut(in_channels: int, out_channels: int, stride: int, norm: str, groups: int) -> nn.Module:
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
        make_norm(norm, out_channels, groups),
    )


def _hidden_layer(in_features: int, hidden: int, norm: str) -> nn.Sequential:
    """The heads' hidden layer: Linear -> (LayerNorm) -> ReLU. Without the norm, most units of
    the pose MLP stop firing for every image within a few hundred Adam steps (docs/learning.md,
    "Dead units in the encoder's heads"); LayerNorm centres each image's pre-activations, so
    nearly every unit keeps firing for some images."""
    layers = [nn.Linear(in_features, hidden)]
    if norm == "layer":
        layers.append(nn.LayerNorm(hidden))
    return nn.Sequential(*layers, nn.ReLU(inplace=True))


def _trunk(config: EncoderConfig) -> tuple[nn.Module, nn.Module, int]:
    """The residual trunk before pooling: ``(stem, stages, output channels)``."""
    block_cls = BasicBlock if config.block == "basic" else BottleneckBlock
    stem = nn.Sequential(
        nn.Conv2d(config.in_channels, config.stem_channels, 3, config.stem_stride, 1, bias=False),
        make_norm(config.norm, config.stem_channels, config.norm_groups),
        nn.ReLU(inplace=True),
    )
    stages, channels = [], config.stem_channels
    for width, blocks in zip(config.widths, config.blocks_per_stage):
        layers = []
        for i in range(blocks):
            layers.append(block_cls(channels, width, 2 if i == 0 else 1, config.norm, config.norm_groups))
            channels = width
        stages.append(nn.Sequential(*layers))
    return stem, nn.Sequential(*stages), channels


class Encoder(nn.Module):
    """E: image -> local vectors, hip angle, camera (R, s, t) and appearance (module docstring)."""

    def __init__(self, config: EncoderConfig | None = None):
        super().__init__()
        self.config = config = config if config is not None else EncoderConfig()
        self.stem, self.stages, channels = _trunk(config)
        self.pool = nn.AdaptiveAvgPool2d(config.pool_size)
        if config.appearance_trunk == "own":
            stem, stages, _ = _trunk(config)
            self.appearance_trunk = nn.Sequential(stem, stages, nn.AdaptiveAvgPool2d(config.pool_size), nn.Flatten(1))
        elif config.appearance_trunk == "branch":
            _, stages, _ = _trunk(config)
            self.appearance_trunk = nn.Sequential(*stages[-config.appearance_branch_stages:],
                                                  nn.AdaptiveAvgPool2d(config.pool_size), nn.Flatten(1))
        feature_dim = channels * config.pool_size**2
        self.feature_dim = feature_dim

        hidden = config.head_hidden
        self.pose_mlp = _hidden_layer(feature_dim, hidden, config.head_norm)
        self.appearance_mlp = _hidden_layer(feature_dim, hidden, config.head_norm)
        self.appearance_head = nn.Linear(hidden, config.appearance_dim)
        if config.regress_joints:
            self.joints_head = nn.Linear(hidden, NUM_JOINTS * 3)
        else:
            self.local_vectors_head = nn.Linear(hidden, NUM_LOCAL_VECTORS * 3)
            self.hip_angle_head = nn.Linear(hidden, 1)
            self.rotation_head = nn.Linear(hidden, 6 if config.rotation == "6d" else 4)
            self.scale_head = nn.Linear(hidden, 1)
            self.offset_head = nn.Linear(hidden, 2)
        self._init_heads()

    @property
    def appearance_dim(self) -> int:
        return self.config.appearance_dim

    @torch.no_grad()
    def _init_heads(self) -> None:
        """Small last-layer weights; biases that decode to the rest pose seen from the front."""
        gain = self.config.head_init_gain
        heads = ["joints_head"] if self.config.regress_joints else [
            "local_vectors_head", "hip_angle_head", "rotation_head", "scale_head", "offset_head"
        ]
        for name in heads:
            getattr(self, name).weight.mul_(gain)

        rest_mm = rest_pose_canon_mm()
        front = camera.view_rotation(torch.zeros(1), torch.zeros(1))  # (1, 3, 3)
        s = float(self.config.init_scale)
        if self.config.regress_joints:
            q, depth_m = camera.project(rest_mm[None] / 1000.0, front, torch.full((1,), s), torch.zeros(1, 2))
            joints = torch.cat((q, s * depth_m[..., None]), dim=-1)[0]  # (17, 3), normalised units
            self.joints_head.bias.copy_(joints.reshape(-1))
            return
        local_vectors, _ = kinematics.inverse_kinematics(rest_mm[None])
        # tanh(bias) = 0.5 * unit vector, so the normalised output is the rest direction.
        self.local_vectors_head.bias.copy_(torch.atanh(0.5 * local_vectors[0]).reshape(-1))
        self.hip_angle_head.bias.zero_()  # psi = 90°: the rest pose's hips
        if self.config.rotation == "6d":
            self.rotation_head.bias.copy_(camera.matrix_to_rotation_6d(front)[0])
        else:  # azimuth 0 ((cos, sin) = 0.5 * (1, 0) after tanh), elevation 0, roll 0
            lo_el, hi_el = self.config.view_elevation_deg
            fraction = -lo_el / (hi_el - lo_el)
            self.rotation_head.bias.copy_(torch.tensor([math.atanh(0.5), 0.0, math.log(fraction / (1.0 - fraction)), 0.0]))
        lo, hi = self.config.scale_range
        fraction = (s - lo) / (hi - lo)
        self.scale_head.bias.fill_(math.log(fraction / (1.0 - fraction)))  # sigmoid(bias) = fraction
        self.offset_head.bias.zero_()

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, feature_dim)`` pooled and flattened trunk features."""
        return self.pool(self.stages(self.stem(image))).flatten(1)

    def _trunk_features(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pose heads' and the appearance head's ``(B, feature_dim)`` features."""
        kind = self.config.appearance_trunk
        if kind == "branch":
            split = len(self.stages) - self.config.appearance_branch_stages
            shared = self.stages[:split](self.stem(image))
            return self.pool(self.stages[split:](shared)).flatten(1), self.appearance_trunk(shared)
        features = self.features(image)
        if kind == "own":
            return features, self.appearance_trunk(image)
        return features, (features if kind == "shared" else features.detach())

    def forward(self, image: torch.Tensor) -> EncoderOutput:
        """Encode images.

        Args:
            image: ``(B, 3, H, W)`` RGB in [0, 1]; any size that survives the strides
                (``H, W >= 2 ** (stages + 1)`` with the default stem).
        Returns:
            :class:`EncoderOutput`, every field float32 whatever the autocast state.
        """
        check_shape(image, ("B", self.config.in_channels, "H", "W"), "image")
        features, appearance_features = self._trunk_features(image)
        appearance = self.appearance_head(self.appearance_mlp(appearance_features)).float()
        hidden = self.pose_mlp(features)
        batch = image.shape[0]
        if self.config.regress_joints:
            joints = self.joints_head(hidden).float().reshape(batch, NUM_JOINTS, 3)
            return EncoderOutput(None, None, None, None, None, appearance, joints)

        return self.from_raw(self._raw_from_hidden(hidden), appearance)

    def raw_pose(self, image: torch.Tensor) -> RawPoseOutput:
        """The pose and camera heads' raw outputs for ``image`` (T_fk mode only)."""
        if self.config.regress_joints:
            raise ValueError("raw_pose needs the T_fk heads; this encoder regresses joints")
        return self._raw_from_hidden(self.pose_mlp(self.features(image)))

    def _raw_from_hidden(self, hidden: torch.Tensor) -> RawPoseOutput:
        return RawPoseOutput(
            vectors=self.local_vectors_head(hidden).reshape(hidden.shape[0], NUM_LOCAL_VECTORS, 3),
            hip=self.hip_angle_head(hidden),
            rotation=self.rotation_head(hidden),
            scale=self.scale_head(hidden),
            offset=self.offset_head(hidden),
        )

    def from_raw(self, raw: RawPoseOutput, appearance: torch.Tensor) -> EncoderOutput:
        """The output nonlinearities: raw head outputs -> unit local vectors, hip angle, rotation,
        bounded scale and offset (float32 whatever the autocast state). ``forward`` is
        ``from_raw(raw_pose(image), appearance)``; per-image fits that optimise the raw values
        directly use the same parametrisation (``benchmarks/analysis_by_synthesis.py``)."""
        with torch.autocast(device_type=raw.vectors.device.type, enabled=False):
            local_vectors = _unit(torch.tanh(raw.vectors.float()))
            psi = 0.5 * math.pi + math.radians(self.config.hip_angle_range_deg) * torch.tanh(raw.hip.float()[:, 0])
            hip_angle = torch.stack((torch.sin(psi), torch.cos(psi)), dim=-1)
            cam_R_canon = self._rotation(raw.rotation.float())
            lo, hi = self.config.scale_range
            scale = lo + (hi - lo) * torch.sigmoid(raw.scale.float()[:, 0])
            offset = self.config.offset_range * torch.tanh(raw.offset.float())
        return EncoderOutput(local_vectors, hip_angle, cam_R_canon, scale, offset, appearance)


    def _rotation(self, raw: torch.Tensor) -> torch.Tensor:
        """``cam_R_canon (B, 3, 3)`` from the rotation head's output (module docstring)."""
        if self.config.rotation == "6d":
            return camera.rotation_6d_to_matrix(raw)
        azimuth_cs = _unit(torch.tanh(raw[:, :2]))
        azimuth = torch.atan2(azimuth_cs[:, 1], azimuth_cs[:, 0])
        lo, hi = (math.radians(x) for x in self.config.view_elevation_deg)
        elevation = lo + (hi - lo) * torch.sigmoid(raw[:, 2])
        roll = math.radians(self.config.view_roll_deg) * torch.tanh(raw[:, 3])
        cos_r, sin_r, zero, one = torch.cos(roll), torch.sin(roll), torch.zeros_like(roll), torch.ones_like(roll)
        roll_R = torch.stack((cos_r, -sin_r, zero, sin_r, cos_r, zero, zero, zero, one), dim=-1).view(-1, 3, 3)
        return roll_R @ camera.view_rotation(azimuth, elevation)


def _unit(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``x / |x|`` over the last dimension, the norm clamped at ``eps`` (finite gradients)."""
    return x / x.pow(2).sum(dim=-1, keepdim=True).clamp_min(eps * eps).sqrt()
