"""The whole model: E, then T_fk and T_c (geometry), then T_s (puppet) and D.

Convention:
    ``encode`` reads pose, camera and appearance from images; ``synthesize`` draws a 2D pose
    into part maps at every decoder stage size and decodes them with an appearance code;
    ``pose_for_prior`` applies T_c to any canonical pose (the unpaired prior's) under a given
    camera. Units and frames follow docs/architecture.md: canonical and camera poses in mm,
    ``q`` in normalised image coordinates, ``depth`` in metres, ``scale`` in normalised units
    per metre.

    Precision: the networks may run under CUDA/CPU autocast (bf16/fp16); everything geometric
    (T_fk, T_c, T_s, the softmax and the composite) runs in float32 with autocast disabled, and
    every output tensor is float32.

    Trainable parameters live in ``encoder`` and ``decoder`` (two optimiser groups) and, with
    ``side_network``, in ``side`` (a third); the bone-length prior is a buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import nn

from partpose.geometry import camera, facing, kinematics, mirror, puppet
from partpose.geometry.parts import NUM_PARTS
from partpose.geometry.skeleton import H36M17, bone_lengths, default_bone_lengths
from partpose.models.decoder import Decoder, DecoderConfig
from partpose.models.encoder import Encoder, EncoderConfig, EncoderOutput
from partpose.models.side import make_side
from partpose.utils.checks import check_shape

_EPS = 1e-6


@dataclass
class ModelConfig:
    """The model: encoder, decoder, crop resolution, bone-length prior, ablation switch."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    resolution: int = 64  # crop size (square); must equal decoder.resolution
    bone_lengths_mm: tuple[float, ...] | None = None  # 17 lengths (fk_parents); None: default_bone_lengths
    no_fk_camera: bool = False  # ablation "w/o T_fk o T_c": the encoder regresses 3D joints (sets encoder.regress_joints)
    side_network: bool = False  # a second trunk reads the side a person shows (models/side.py); encode_sided gives poses that side
    side_networks: int = 1  # with side_network: how many, each from its own initial weights and taught the labels on its own, read together as the mean of their logits (models/side.py SideEnsemble; docs/learning.md, "Several side networks in one run")
    side_input: Literal["image", "parts"] = "image"  # what the side network reads: image (the crop) | parts (the torso and the head cut along the encoder's 2D joints; geometry/part_patches.py)
    side_inputs: tuple[Literal["image", "parts"], ...] | None = None  # with side_networks > 1: what each side network reads, one entry per network in order (a committee that sees the person differently); None: every one side_input
    side_patch_size: int = 32  # side_input=parts: each part's patch side, px
    side_camera_elevation_deg: float = 0.0  # the cameras' pitch for the upright twin of encode_sided where a video gives no camera_up (0: a level camera, the depth twin)
    side_definition: Literal["chest", "chest_and_spine"] = "chest"  # what the side network's front is (geometry/facing.py shows_front): chest, the chest towards the camera | chest_and_spine, the chest and the head together towards it along the level line of sight (a lying body's nearer end), which the upright twin always flips
    side_ground_band_deg: float = 0.0  # bodies whose spine lies within this many degrees of level take the side their 2D hands and legs give, whichever the side network reads (geometry/facing.py ground_front: on the floor, the nearer end lies lower in the image of a camera above); 0: none

    def __post_init__(self) -> None:
        if self.decoder.resolution != self.resolution:
            raise ValueError(
                f"model.resolution ({self.resolution}) and model.decoder.resolution "
                f"({self.decoder.resolution}) must be equal"
            )
        if self.encoder.regress_joints and not self.no_fk_camera:
            raise ValueError("model.encoder.regress_joints is the no_fk_camera ablation: set model.no_fk_camera")
        if self.no_fk_camera and not self.encoder.regress_joints:
            self.encoder = replace(self.encoder, regress_joints=True)
        if self.bone_lengths_mm is not None:
            lengths = tuple(float(x) for x in self.bone_lengths_mm)
            if len(lengths) != H36M17.num_joints or min(lengths[1:]) <= 0:
                raise ValueError(
                    f"model.bone_lengths_mm needs {H36M17.num_joints} lengths (root first, others > 0), "
                    f"got {self.bone_lengths_mm}"
                )
            self.bone_lengths_mm = lengths


@dataclass
class PoseEstimate:
    """What ``encode`` returns (float32 throughout).

    Attributes:
        pose_canon_mm: ``(B, 17, 3)`` canonical pose (T_fk output; in the ablation the
            canonicalised regressed pose).
        cam_R_canon: ``(B, 3, 3)`` rotation canonical -> camera.
        scale: ``(B,)`` weak-perspective scale, normalised units per metre.
        offset: ``(B, 2)`` normalised image offset (the pelvis's image position).
        pose_cam_mm: ``(B, 17, 3)`` ``R @ pose_canon_mm``: root-relative camera frame, mm.
        q: ``(B, 17, 2)`` 2D joints, normalised image coordinates.
        depth: ``(B, 17)`` root-relative camera depth of each joint, metres.
        appearance: ``(B, A)`` appearance code.
        local_vectors: ``(B, 13, 3)`` unit local vectors (in the ablation: those of
            ``pose_canon_mm`` by inverse kinematics).
        hip_angle: ``(B, 2)`` unit ``(sin psi, cos psi)`` (idem).
    """

    pose_canon_mm: torch.Tensor
    cam_R_canon: torch.Tensor
    scale: torch.Tensor
    offset: torch.Tensor
    pose_cam_mm: torch.Tensor
    q: torch.Tensor
    depth: torch.Tensor
    appearance: torch.Tensor
    local_vectors: torch.Tensor
    hip_angle: torch.Tensor


@dataclass
class Synthesis:
    """What ``synthesize`` returns (float32 throughout).

    Attributes:
        rgb_fg: ``(B, 3, H, W)`` foreground RGB in [0, 1] (D_I).
        seg_logits: ``(B, L + 1, H, W)`` part logits, background first (D_seg).
        seg_probs: ``(B, L + 1, H, W)`` their softmax.
        image: ``(B, 3, H, W)`` composite ``(1 - y_bg) * rgb_fg + y_bg * background`` (black
            background when none is given).
        part_maps: the puppet maps, one ``(B, L, r, r)`` per decoder stage size, low to high.
        front: ``(B,)`` the front weight D received (``geometry.facing``), or ``None`` when
            the decoder has no facing channels.
    """

    rgb_fg: torch.Tensor
    seg_logits: torch.Tensor
    seg_probs: torch.Tensor
    image: torch.Tensor
    part_maps: list[torch.Tensor]
    front: torch.Tensor | None = None


def composite(rgb_fg: torch.Tensor, background_prob: torch.Tensor, background: torch.Tensor | None) -> torch.Tensor:
    """Paste the synthesised foreground on a background.

    Args:
        rgb_fg: ``(B, 3, H, W)`` foreground RGB.
        background_prob: ``(B, 1, H, W)`` predicted background probability ``y_bg``.
        background: ``(B, 3, H, W)`` background image, or ``None`` for black.
    Returns:
        ``(B, 3, H, W)`` ``(1 - y_bg) * rgb_fg + y_bg * background``.
    """
    check_shape(rgb_fg, ("B", 3, "H", "W"), "rgb_fg")
    b, _, h, w = rgb_fg.shape
    check_shape(background_prob, (b, 1, h, w), "background_prob")
    image = (1.0 - background_prob) * rgb_fg
    if background is not None:
        check_shape(background, (b, 3, h, w), "background")
        image = image + background_prob * background.to(image.dtype)
    return image


class PartPoseModel(nn.Module):
    """E + T_fk + T_c + T_s + D (module docstring)."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config = config if config is not None else ModelConfig()
        self.encoder = Encoder(config.encoder)
        self.decoder = Decoder(config.decoder, num_parts=NUM_PARTS, appearance_dim=config.encoder.appearance_dim)
        if config.bone_lengths_mm is None:
            lengths = default_bone_lengths()
        else:
            lengths = torch.tensor(config.bone_lengths_mm, dtype=torch.float32)
        self.register_buffer("bone_lengths_mm", lengths)
        self.side = (make_side(config.encoder, config.side_input, config.side_patch_size, config.side_networks,
                               config.side_inputs)
                     if config.side_network else None)

    @property
    def no_fk_camera(self) -> bool:
        return self.config.no_fk_camera

    @property
    def stage_sizes(self) -> tuple[int, ...]:
        return self.decoder.stage_sizes

    def forward(self, image: torch.Tensor) -> PoseEstimate:
        """Same as :meth:`encode`."""
        return self.encode(image)

    def encode(self, image: torch.Tensor) -> PoseEstimate:
        """Read pose, camera and appearance from images.

        Args:
            image: ``(B, 3, H, W)`` RGB in [0, 1].
        Returns:
            :class:`PoseEstimate`.

        Convention:
            T_fk mode: ``pose_canon_mm = forward_kinematics(v, psi, bone_lengths_mm)``,
            ``(q, depth) = pose_for_prior(pose_canon_mm, R, s, t)``,
            ``pose_cam_mm = R @ pose_canon_mm``.

            ``no_fk_camera`` mode: the encoder's ``joints`` ``J (B, 17, 3)`` are camera-frame
            coordinates in normalised image units. ``q = J[..., :2]``. Their root-relative
            version is scaled to millimetres by ``k = sum(prior bone lengths) / sum(bone
            lengths of J)`` (mm per normalised unit, per sample; differentiable):
            ``pose_cam_mm = (J - J_root) * k``. The rest follows so that the T_c identities of
            the main mode hold exactly: ``pose_canon_mm, canon_R_cam = canonicalize(pose_cam_mm)``,
            ``cam_R_canon = canon_R_cam^T``, ``scale = 1000 / k``, ``offset = J_root[:2]`` and
            ``depth = pose_cam_mm[..., 2] / 1000`` (root-relative metres, the same units as the
            main mode; only the order of depths matters to the puppet, and it is that of
            ``J[..., 2]``).
        """
        return self.estimate(self.encoder(image))

    def encode_sided(
        self, image: torch.Tensor, camera_up: torch.Tensor | None = None, flip_test: bool = False,
        front_logits: torch.Tensor | None = None,
    ) -> PoseEstimate:
        """:meth:`encode`, each pose given the side the side network reads (:meth:`turn_to_side`);
        :meth:`encode` itself without a side network. What evaluation, prediction and export use.
        ``camera_up``: see :meth:`turn_to_side`. ``flip_test``: :meth:`encode_flip_test` instead.
        ``front_logits (B,)``: the side to give each pose (> 0: the front) in place of the side
        network's reading of the image, e.g. its readings averaged over a video's frames
        (:meth:`side_logits`, ``geometry.view_smoothing.smooth_side``); a model without a side
        network has no side to turn to and raises ``ValueError``."""
        if front_logits is not None and self.side is None:
            raise ValueError("front_logits given to a model without a side network")
        if flip_test:
            return self.encode_flip_test(image, camera_up, front_logits)
        est = self.encode(image)
        if self.side is None:
            return est
        return self.turn_to_side(est, self.side(image, est.q) if front_logits is None else front_logits, camera_up)

    def side_logits(self, image: torch.Tensor, flip_test: bool = False) -> torch.Tensor:
        """``(B,)`` float32: the side network's logit of each image's side (> 0: the front faces
        the camera), as :meth:`encode_sided` reads it: of the image alone, or with ``flip_test``
        the mean of the image's and its mirror's (a mirror shows the same side).

        Raises:
            ValueError: a model without a side network.
        """
        if self.side is None:
            raise ValueError("the model has no side network (model.side_network)")
        if not flip_test:
            return self.side(image, self.encode(image).q).float()
        both = torch.cat((image, mirror.mirror_image(image)))
        plain, mirrored = self.side(both, self.encode(both).q).float().chunk(2)
        return (plain + mirrored) / 2

    def encode_flip_test(
        self, image: torch.Tensor, camera_up: torch.Tensor | None = None, front_logits: torch.Tensor | None = None
    ) -> PoseEstimate:
        """The flip test: each image and its mirror read, the two poses averaged.

        The mirror's pose is reflected back into the image's frame (``geometry.mirror``: camera
        ``x`` negated, left and right relabelled). Before averaging, both readings take one
        side, so that the mean is not a hedge between a pose and its twin: with a side network
        the mean of its logits of the image and of the mirror (a mirror keeps the side a person
        shows), without one the side the two poses' chests agree on (the sign of the mean of
        their ``n_z / |n|``, ``geometry.facing.chest_normal``); each reading is turned to it by
        :meth:`turn_to_side`, the mirror's under the mirrored ``camera_up``.

        Args:
            image: ``(B, 3, H, W)`` RGB in [0, 1].
            camera_up: as :meth:`turn_to_side`, for ``image``.
            front_logits: ``(B,)`` the side both readings take, in place of the one they read
                (:meth:`encode_sided`).
        Returns:
            :class:`PoseEstimate` of the mean: ``pose_cam_mm`` the mean of the two root-relative
            camera-frame poses (its bones a little shorter where the two readings disagree);
            ``pose_canon_mm`` and ``cam_R_canon`` from ``kinematics.canonicalize`` of it;
            ``scale`` the mean scale and ``offset`` the mean of the image's and the mirror's
            reflected back; ``q`` and ``depth`` by :meth:`pose_for_prior` of these, so the
            identities of :meth:`encode` hold; ``local_vectors`` and ``hip_angle`` by inverse
            kinematics; ``appearance`` the image's own. Mirroring ``image`` (and ``camera_up``)
            mirrors the result.
        """
        both = torch.cat((image, mirror.mirror_image(image)))  # one pass: the images, then their mirrors
        if camera_up is not None:
            up = camera_up.expand(image.shape[0], 3)
            camera_up = torch.cat((up, mirror.mirror_directions(up)))
        est = self.encode(both)
        with torch.autocast(device_type=image.device.type, enabled=False):
            if front_logits is not None:
                side = front_logits.float()
            else:
                if self.side is not None:
                    logits = self.side(both, est.q).float()
                else:  # n_z / |n| < 0: the chest faces the camera
                    logits = -nn.functional.normalize(facing.chest_normal(est.pose_cam_mm.float()), dim=-1)[:, 2]
                plain, mirrored = logits.chunk(2)
                side = (plain + mirrored) / 2
            est = self.turn_to_side(est, side.repeat(2), camera_up)
            pose = est.pose_cam_mm.float()
            pose, pose_mirrored = (pose - pose[:, :1]).chunk(2)
            scale, scale_mirrored = est.scale.float().chunk(2)
            offset, offset_mirrored = est.offset.float().chunk(2)
            return self.estimate_from_camera_pose((pose + mirror.mirror_joints(pose_mirrored)) / 2,
                                                  (scale + scale_mirrored) / 2,
                                                  (offset + mirror.mirror_directions(offset_mirrored)) / 2,
                                                  est.appearance.float().chunk(2)[0])

    def estimate_from_camera_pose(
        self, pose_cam_mm: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, appearance: torch.Tensor
    ) -> PoseEstimate:
        """The :class:`PoseEstimate` of a root-relative camera-frame pose ``(B, 17, 3)`` (mm,
        float32) under a camera ``scale (B,)``, ``offset (B, 2)``: ``pose_canon_mm`` and
        ``cam_R_canon`` from ``kinematics.canonicalize``, ``q`` and ``depth`` by
        :meth:`pose_for_prior`, ``local_vectors`` and ``hip_angle`` by inverse kinematics."""
        with torch.autocast(device_type=pose_cam_mm.device.type, enabled=False):
            canonical, canon_R_cam = kinematics.canonicalize(pose_cam_mm)
            cam_R_canon = canon_R_cam.transpose(1, 2)
            q, depth = self.pose_for_prior(canonical, cam_R_canon, scale, offset)
            local_vectors, hip_angle = kinematics.inverse_kinematics(canonical)
        return PoseEstimate(pose_canon_mm=canonical, cam_R_canon=cam_R_canon, scale=scale, offset=offset,
                            pose_cam_mm=pose_cam_mm, q=q, depth=depth, appearance=appearance,
                            local_vectors=local_vectors, hip_angle=hip_angle)

    def turn_to_side(
        self, est: PoseEstimate, front_logits: torch.Tensor, camera_up: torch.Tensor | None = None, ground: bool = True
    ) -> PoseEstimate:
        """``est`` with each pose that shows the other side than ``front_logits (B,)`` say (> 0:
        the front, by ``config.side_definition``: ``geometry.facing.shows_front``) replaced by its
        upright twin about the world's up ``camera_up`` (``(3,)`` or ``(B, 3)`` in camera coordinates, ``Video.camera_up``;
        ``None``, or a row with a NaN: a camera pitched by ``config.side_camera_elevation_deg``;
        ``geometry.facing.upright_twin_pose``): its camera-frame and canonical pose, camera
        rotation, local vectors and 2D joints and depths under the same scale and offset. The
        other poses are returned as they are. With ``config.side_ground_band_deg``, a pose whose
        spine lies within that band of level (``geometry.facing.lies_along_ground``) is given the
        side its own 2D hands and legs give instead (``geometry.facing.ground_front``, by the chest
        and the head: the end on the floor that lies lower in the image is the nearer); ``ground``
        false: the logits' side for every pose, whatever the band."""
        with torch.autocast(device_type=est.pose_cam_mm.device.type, enabled=False):
            pose = est.pose_cam_mm.float()
            up = self.world_up(camera_up, pose)
            turn = facing.shows_front(pose, up, self.config.side_definition) != (front_logits.float() > 0)
            if ground and self.config.side_ground_band_deg > 0:  # a body on the ground: the end its 2D hands and legs say is nearer
                on_ground = facing.lies_along_ground(pose, up, self.config.side_ground_band_deg)
                by_ground = facing.chest_and_spine_front(pose, up) != facing.ground_front(est.q.float(), up)
                turn = torch.where(on_ground, by_ground, turn)
            twin = facing.upright_twin_pose(pose, up)
            turned = self.estimate_from_camera_pose(twin, est.scale.float(), est.offset.float(), est.appearance)

        def pick(name: str) -> torch.Tensor:
            kept = getattr(est, name)
            return torch.where(turn.reshape(-1, *([1] * (kept.ndim - 1))), getattr(turned, name).to(kept.dtype), kept)

        fields = ("pose_canon_mm", "cam_R_canon", "pose_cam_mm", "q", "depth", "local_vectors", "hip_angle")
        return replace(est, **{name: pick(name) for name in fields})

    def world_up(self, camera_up: torch.Tensor | None, pose_cam: torch.Tensor) -> torch.Tensor:
        """``(B, 3)``: the world's up in the camera coordinates of each of the poses ``pose_cam
        (B, J, 3)`` (its dtype and device): the rows of ``camera_up`` (``(3,)`` or ``(B, 3)``,
        ``Video.camera_up``) where they are finite, elsewhere, and for ``None``, that of a camera
        pitched by ``config.side_camera_elevation_deg`` (``geometry.facing.camera_up``)."""
        rows = pose_cam[:, 0]  # (B, 3): expand_as keeps the batch size traceable (export)
        up = facing.camera_up(self.config.side_camera_elevation_deg).to(pose_cam).expand_as(rows)
        if camera_up is None:
            return up
        given = camera_up.to(pose_cam).expand_as(rows)
        return torch.where(given.isfinite().all(dim=1, keepdim=True), given, up)

    def estimate(self, out: EncoderOutput) -> PoseEstimate:
        """T_fk and T_c of the encoder's outputs (the conventions of :meth:`encode`, which is
        ``estimate(encoder(image))``); per-image fits call it on ``Encoder.from_raw`` outputs."""
        with torch.autocast(device_type=out.appearance.device.type, enabled=False):
            alpha = self.bone_lengths_mm.float()
            if out.joints is None:
                pose_canon_mm = kinematics.forward_kinematics(out.local_vectors, out.hip_angle, alpha)
                cam_R_canon, scale, offset = out.cam_R_canon, out.scale, out.offset
                q, depth = self.pose_for_prior(pose_canon_mm, cam_R_canon, scale, offset)
                pose_cam_mm = torch.einsum("bij,bkj->bki", cam_R_canon, pose_canon_mm)
                local_vectors, hip_angle = out.local_vectors, out.hip_angle
            else:
                joints = out.joints.float()
                relative = joints - joints[:, :1]
                mm_per_unit = alpha.sum() / bone_lengths(relative).sum(dim=-1).clamp_min(_EPS)
                pose_cam_mm = relative * mm_per_unit[:, None, None]
                pose_canon_mm, canon_R_cam = kinematics.canonicalize(pose_cam_mm)
                cam_R_canon = canon_R_cam.transpose(1, 2)
                scale = 1000.0 / mm_per_unit
                offset = joints[:, 0, :2]
                q = joints[..., :2]
                depth = pose_cam_mm[..., 2] / 1000.0
                local_vectors, hip_angle = kinematics.inverse_kinematics(pose_canon_mm)
        return PoseEstimate(
            pose_canon_mm=pose_canon_mm,
            cam_R_canon=cam_R_canon,
            scale=scale,
            offset=offset,
            pose_cam_mm=pose_cam_mm,
            q=q,
            depth=depth,
            appearance=out.appearance,
            local_vectors=local_vectors,
            hip_angle=hip_angle,
        )

    def pose_for_prior(
        self, pose_canon_mm: torch.Tensor, cam_R_canon: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """T_c of a canonical pose (e.g. an unpaired prior pose) under a given camera.

        Args:
            pose_canon_mm: ``(B, 17, 3)`` canonical pose, mm.
            cam_R_canon: ``(B, 3, 3)``; scale: ``(B,)`` normalised units per metre;
                offset: ``(B, 2)`` normalised.
        Returns:
            ``q (B, 17, 2)`` normalised image coordinates and ``depth (B, 17)`` camera z in
            metres (root-relative: the canonical pelvis is at the origin), float32.
        """
        device_type = pose_canon_mm.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            return camera.project(pose_canon_mm.float() / 1000.0, cam_R_canon.float(), scale.float(), offset.float())

    def draw(self, q: torch.Tensor, depth: torch.Tensor, scale: torch.Tensor | None) -> list[torch.Tensor]:
        """T_s at every decoder stage size.

        Args:
            q: ``(B, 17, 2)`` normalised 2D joints; depth: ``(B, 17)`` metres;
            scale: ``(B,)`` camera scale (sets part thickness) or ``None`` (the puppet's default).
        Returns:
            One float32 ``(B, L, r, r)`` map per ``r`` in ``stage_sizes``, low to high, each
            drawn at its own size by ``puppet.part_maps`` (``validate=False``: a degenerate
            prediction, e.g. a limb of zero length in the image, is clamped, not an error).
        """
        with torch.autocast(device_type=q.device.type, enabled=False):
            q, depth = q.float(), depth.float()
            scale = None if scale is None else scale.float()
            return [puppet.part_maps(q, depth, (r, r), scale, validate=False) for r in self.stage_sizes]

    def synthesize(
        self,
        appearance: torch.Tensor,
        q: torch.Tensor,
        depth: torch.Tensor,
        scale: torch.Tensor | None,
        background: torch.Tensor | None = None,
    ) -> Synthesis:
        """Draw a pose and decode it with an appearance code: ``Î_a^p``.

        Args:
            appearance: ``(B, A)``; q: ``(B, 17, 2)`` normalised; depth: ``(B, 17)`` metres;
            scale: ``(B,)`` camera scale for part thickness (or ``None``);
            background: ``(B, 3, H, W)`` in [0, 1] or ``None`` (composite on black).
        Returns:
            :class:`Synthesis`.
        """
        maps = self.draw(q, depth, scale)
        front = None
        if self.config.decoder.facing_channels:
            with torch.autocast(device_type=q.device.type, enabled=False):
                front = facing.front_weight(q.float(), depth.float(), None if scale is None else scale.float())
        rgb_fg, seg_logits = self.decoder(appearance, maps, front)
        with torch.autocast(device_type=appearance.device.type, enabled=False):
            rgb_fg, seg_logits = rgb_fg.float(), seg_logits.float()
            seg_probs = torch.softmax(seg_logits, dim=1)
            image = composite(rgb_fg, seg_probs[:, :1], None if background is None else background.float())
        return Synthesis(rgb_fg=rgb_fg, seg_logits=seg_logits, seg_probs=seg_probs, image=image, part_maps=maps,
                         front=front)
