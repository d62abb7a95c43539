"""Algorithm 1 of the supplementary: one training iteration, written out.

For a batch of frame pairs (I_s, I_t) of one video each and a batch of unpaired prior poses p_z:

1. Decoupled energy minimisation (skipped by the ``no_adaptation`` ablation): decode
   Î_{a_s}^{p_z} and encode it again; L_pz = |p_z − p̂_z| (root-relative, in the camera frame
   of p_z's view, see ``docs/method.md``), L_as = |a_s − â_s|; with ``objective.prior_mirror`` > 0
   that fraction of the drawings is read back mirrored, against the mirrored person; with
   ``objective.prior_parts=flat`` E reads each drawing with every part flat in its mean colour (times
   a random factor with ``objective.prior_part_jitter``; ``flat_plate``: over the plate), with
   ``frame_colours`` the puppet flat in the colours I_t shows its parts in under E's pose of it, over
   the plate (``frame_colours_print``: the shirt's front print apart, painted where p_z's chest
   shows it, ``geometry.front_print``), with ``palette`` the puppet itself in the palette over the
   plate. On odd iterations (counted from 1) the encoder is updated on them with the decoder
   frozen, on even iterations the decoder with the encoder frozen (not with
   ``objective.energy_decoder=false`` or ``prior_parts`` ``palette``, ``frame_colours`` or
   ``frame_colours_print``: D is then left out of the energies). Each energy has its own
   Adagrad optimiser.
2. Consistency objectives, every iteration, encoder and decoder together, each with its own
   optimiser: L_I^u (reconstruct I_t from a_s and the pose of I_t), L_I^c (the unpaired pose drawn
   with either frame's appearance must agree) and L_seg (the decoder's segmentation of the unpaired
   pose must match the puppet's labels); ``objective.reconstruction_pose=truth``, an oracle,
   draws I_t in L_I^u from its true pose instead of E's; ``objective.reconstruction_weight`` scales
   L_I^u's own term (0: none), not the terms added to it. With ``objective.silhouette_weight`` > 0,
   L_sil (the 2D skeleton of I_t against its saliency map) is added to L_I^u (not in the
   ``no_saliency`` ablation);
   with ``objective.twin_choice_weight`` > 0, L_twin (``losses/twin.py``: the depth twin of I_t's
   pose as E's target where D reconstructs I_t better from it) as well, and with
   ``objective.travel_facing_weight`` > 0, L_travel (``losses/travel.py``: the front weight of I_t's
   pose against the side its video's travel shows). With ``objective.side_weight`` > 0 the side
   network (``models/side.py``) is taught the same label on I_s and I_t, with an optimiser of
   its own (``objective.side_label=truth``, an oracle: each frame's true side instead); with
   ``objective.side_max_tilt_deg`` < 180, not on the frames whose spine, as E reads it, tilts
   farther than that from the world's up; with ``objective.side_consistency_weight`` > 0, also to
   read the two frames of each pair alike; with ``objective.side_bag_fraction`` < 1, each of several
   side networks the labels of its own share of the videos (``training/side_bags.py``).
3. Supervision terms of the other settings (encoder only): 2D for ``weak``, 3D on labelled frames
   for ``semi``; ``supervised`` trains the encoder on 3D and 2D labels alone (the upper bound),
   ``labels_2d`` on the 2D labels alone (what ``weak``'s labels teach without the method).

All randomness of an iteration comes from ``generator`` so that a run resumed from a checkpoint
repeats the same iterations exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from partpose.geometry import facing, front_print, mirror, puppet
from partpose.geometry.camera import crop_framing, random_view_rotation
from partpose.losses.energy import appearance_energy, pose_energy, rotation_angle
from partpose.losses.image import image_consistency_loss, image_unpaired_loss
from partpose.losses.segmentation import segmentation_loss
from partpose.losses.silhouette import skeleton_silhouette_loss
from partpose.losses.supervision import pose2d_loss, pose3d_loss
from partpose.losses.travel import side_consistency_loss, travel_facing_loss, travel_side_loss
from partpose.losses.twin import lean_choice, travel_choice, twin_choice, twin_choice_loss, twin_targets
from partpose.training.config import ObjectiveConfig
from partpose.training.schedules import is_encoder_energy_step
from partpose.training.side_bags import side_bags


# objective.energy_frame -> the terms its L_pz sums (besides the 2D term every frame has)
ENERGY_FRAME_TERMS: dict[str, tuple[str, ...]] = {
    "canonical": ("canonical",),
    "camera": ("camera",),
    "canonical_rotation": ("canonical", "rotation"),
    "canonical_geodesic": ("canonical", "geodesic"),
    "canonical_camera": ("canonical", "camera"),
}


@dataclass
class StepOutput:
    """The losses of one iteration (graph attached) and what the logger shows."""

    losses: dict[str, torch.Tensor]  # optimiser name -> loss to minimise
    scalars: dict[str, float]  # detached values for logging
    images: dict[str, torch.Tensor]  # (B,3,H,W) tensors for image grids (detached)


def prior_views(objective: ObjectiveConfig, count: int, generator: torch.Generator,
                prior_up: torch.Tensor | None = None) -> torch.Tensor:
    """Cameras for unpaired poses from the objective's view prior.

    Args:
        objective: its ``view_azimuth_deg``, ``view_elevation_deg`` and ``view_up``.
        count: number of views.
        generator: random source (the views are drawn on its device).
        prior_up: ``(count, 3)`` the world's up in each pose's canonical frame
            (``PosePrior.sample(..., with_up=True)``); needed when ``view_up`` is ``"world"``,
            ignored for ``"spine"``.
    Returns:
        ``(count, 3, 3)`` float32 ``cam_R_canon`` (``camera.random_view_rotation``).
    """
    if objective.view_up == "world" and prior_up is None:
        raise ValueError("objective.view_up='world' needs prior_up, the world's up of every p_z")
    return random_view_rotation(
        count,
        azimuth_range=tuple(math.radians(a) for a in objective.view_azimuth_deg),
        elevation_range=tuple(math.radians(e) for e in objective.view_elevation_deg),
        generator=generator,
        up=prior_up if objective.view_up == "world" else None,
    )


def true_puppet_pose(pose3d_cam_mm: torch.Tensor, pose2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The puppet's input for a frame's true pose: ``(q, depth, scale)`` as ``PartPoseModel.encode``
    gives them.

    Args:
        pose3d_cam_mm: ``(B, 17, 3)`` true camera-frame joints, mm.
        pose2d: ``(B, 17, 2)`` true 2D joints, normalised crop coordinates.
    Returns:
        ``q`` the true 2D joints, ``depth (B, 17)`` the camera z root-relative in metres, and
        ``scale (B,)`` the weak-perspective scale that fits the 2D joints best to the 3D ones'
        x and y (least squares about their means; normalised units per metre).
    """
    centred = (pose3d_cam_mm - pose3d_cam_mm[:, :1]) / 1000.0
    xy = centred[..., :2] - centred[..., :2].mean(dim=1, keepdim=True)
    q = pose2d - pose2d.mean(dim=1, keepdim=True)
    scale = (q * xy).sum(dim=(1, 2)) / (xy * xy).sum(dim=(1, 2)).clamp_min(1e-12)
    return pose2d, centred[..., 2], scale


PUPPET_PRIOR_PARTS: tuple[str, ...] = ("palette", "frame_colours", "frame_colours_print")
"""The ``objective.prior_parts`` settings whose images are the puppet's, nothing of D's: D is left
out of the energies."""


def energy_images(model, objective: ObjectiveConfig, drawn, pose_z: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                  background_z: torch.Tensor, image_t: torch.Tensor, est_t, generator: torch.Generator | None = None,
                  draws: int = 1) -> torch.Tensor:
    """The images E reads in the decoupled energies: D's drawings of p_z as ``objective.prior_parts``
    gives them (before ``prior_mirror``).

    Args:
        model: the ``PartPoseModel``.
        drawn: D's ``Synthesis`` of the ``k B`` poses p_z (its image and part maps).
        pose_z: their puppet input ``(q (kB, 17, 2), depth (kB, 17), scale (kB,))``.
        background_z: ``(kB, 3, H, W)`` the plates they are drawn over.
        image_t, est_t: the ``B`` frames I_t and E's ``PoseEstimate`` of them (the colours of
            ``frame_colours`` and ``frame_colours_print``: p_z number i takes pair ``i % B``'s).
        generator: draws ``prior_part_jitter``'s factors.
        draws: k, the prior poses a pair.
    Returns:
        ``(kB, 3, H, W)``: as drawn; ``flat``: every part flat in its mean colour in the drawing
        (``flat_plate``: over the plate); ``frame_colours``: the puppet flat in the colours I_t
        shows its parts in under E's (detached) pose of it, over the plate, nothing of D's
        (``frame_colours_print``: the shirt's front print apart, painted where p_z's chest shows
        it, ``geometry.front_print``); ``palette``: the puppet in the palette over the plate.
    """
    image_z = drawn.image
    if objective.prior_parts == "as_drawn":
        return image_z
    labels_z = puppet.labels(drawn.part_maps[-1].detach())
    num_parts = model.decoder.num_parts
    if objective.prior_parts in ("flat", "flat_plate"):
        # each part flat in its mean colour: D may still tell E a part by its colour, not the
        # pose by the shading it paints within the parts; with flat_plate, nothing of D's
        # painting outside the puppet's parts either (the plate there)
        gain = None
        if objective.prior_part_jitter > 0:
            jitter = torch.rand(image_z.shape[0], num_parts, generator=generator)
            gain = (1.0 + objective.prior_part_jitter * (2.0 * jitter - 1.0)).to(image_z.device)
        plate = background_z.to(image_z.dtype) if objective.prior_parts == "flat_plate" else None
        return puppet.flat_parts(image_z, labels_z, num_parts, gain, plate)
    if objective.prior_parts == "palette":  # the puppet itself over the plate, nothing of D's
        return puppet.palette_image(labels_z, background_z.to(image_z.dtype))
    # frame_colours(_print): the person's own colours, nothing of D's
    with torch.no_grad():
        labels_t = puppet.labels(model.draw(est_t.q, est_t.depth, est_t.scale)[-1])
        if objective.prior_parts == "frame_colours":
            colours = puppet.frame_part_colours(image_t, labels_t, num_parts).repeat(draws, 1, 1)
            return puppet.paint_parts(labels_z, colours.to(image_z.dtype), background_z)
        print_t = front_print.print_mask(est_t.q, est_t.depth, est_t.scale, labels_t)
        colours = front_print.print_colours(image_t, labels_t, print_t, num_parts).repeat(draws, 1, 1)
        print_z = front_print.print_mask(*pose_z, labels_z)
        return front_print.paint_with_print(labels_z, print_z, colours.to(image_z.dtype), background_z)


def training_losses(
    model,
    batch: dict[str, torch.Tensor],
    prior_poses_mm: torch.Tensor,
    step: int,
    beta: float,
    objective: ObjectiveConfig,
    generator: torch.Generator,
    with_images: bool = False,
    prior_up: torch.Tensor | None = None,
) -> StepOutput:
    """Forward pass of one Algorithm-1 iteration; returns each optimiser's loss.

    Args:
        model: a ``PartPoseModel`` (``encoder`` and ``decoder`` submodules).
        batch: a collated ``PairDataset`` batch on the model's device.
        prior_poses_mm: ``(k * B, 17, 3)`` unpaired canonical poses p_z, millimetres: ``k``
            (``objective.prior_draws``) for each of the ``B`` pairs, drawn with the appearance and
            background of pair ``i % B`` for p_z number ``i``.
        step: 0-based iteration (decides which half of the energy alternation runs).
        beta: weight of the saliency map in L_I^u (0 in the ``no_saliency`` ablation).
        generator: CPU generator for the view prior of p_z.
        prior_up: ``(k * B, 3)`` the world's up in each p_z's canonical frame (:func:`prior_views`).
    Raises:
        ValueError: ``prior_poses_mm`` does not hold ``objective.prior_draws`` poses for each pair.
    """
    image_s, image_t = batch["image_s"], batch["image_t"]
    background, saliency = batch["background"], batch["saliency_t"]
    background_valid = batch["background_valid"]
    batch_size = image_t.shape[0]
    losses: dict[str, torch.Tensor] = {}
    images: dict[str, torch.Tensor] = {}

    est_t = model.encode(image_t)

    if objective.setting in ("supervised", "labels_2d"):
        if objective.setting == "supervised":
            losses["pose3d"] = pose3d_loss(est_t.pose_cam_mm, batch["pose3d_t"], batch["has_pose3d_t"])
        losses["pose2d"] = pose2d_loss(est_t.q, batch["pose2d_t"], batch["has_pose2d_t"])
        return StepOutput(losses, _detached(losses), images)

    est_s = model.encode(image_s)

    # The unpaired pose p_z under a camera from the view prior (about the spine, or with
    # view_up="world" about the world's up as the motion capture's body saw it). Scale and offset put it where real
    # people sit in person-centred crops: framed like the crops are made ("crop", default), or
    # copied (detached) from the encoder's estimate for I_t ("encoder"; see docs/method.md for why
    # that lets the degenerate small-person solution feed itself).
    # With objective.prior_draws = k, each pair's appearance and background draw k poses p_z.
    if prior_poses_mm.shape[0] != objective.prior_draws * batch_size:
        raise ValueError(f"{prior_poses_mm.shape[0]} prior poses for {batch_size} pairs; objective.prior_draws is "
                         f"{objective.prior_draws}")

    def per_draw(x: torch.Tensor) -> torch.Tensor:  # pair i % B for p_z number i
        return x if objective.prior_draws == 1 else x.repeat(objective.prior_draws, *([1] * (x.dim() - 1)))

    background_z, background_valid_z = per_draw(background), per_draw(background_valid)
    cam_R_z = prior_views(objective, prior_poses_mm.shape[0], generator, prior_up).to(device=image_t.device, dtype=image_t.dtype)
    if objective.prior_framing == "crop":
        scale_z, offset_z = crop_framing(prior_poses_mm / 1000.0, cam_R_z, objective.prior_crop_fill)
    else:
        scale_z, offset_z = per_draw(est_t.scale.detach()), per_draw(est_t.offset.detach())
    q_z, depth_z = model.pose_for_prior(prior_poses_mm, cam_R_z, scale_z, offset_z)

    # Î_{a_s}^{p_z} and Î_{a_t}^{p_z}: the same unpaired pose with either frame's appearance.
    # With ``prior_appearance_grad`` off, the terms on p_z (the energies, L_I^c, L_seg) train
    # D and E's reading of decoded images, never the appearance codes E gives real frames.
    app_s, app_t = per_draw(est_s.appearance), per_draw(est_t.appearance)
    if not objective.prior_appearance_grad:
        app_s, app_t = app_s.detach(), app_t.detach()
    synth_z_s = model.synthesize(app_s, q_z, depth_z, scale_z, background_z)
    synth_z_t = model.synthesize(app_t, q_z, depth_z, scale_z, background_z) if objective.appearance_consistency else None

    # 1. Decoupled energy minimisation. One forward serves both halves: which parameters the
    #    energies update is decided by the optimiser they are given to.
    half = "encoder" if is_encoder_energy_step(step) else "decoder"
    prior_side: torch.Tensor | None = None  # objective.prior_side_weight: the side network on the drawings
    # With objective.energy_decoder off, the decoder half is skipped: D learns only to paint
    # frames (L_I^u) and to segment (L_seg), never to make its drawings legible to E.
    # With objective.prior_parts=palette or frame_colours the drawings E reads are the puppet's,
    # not D's: the decoder half has nothing to teach D either.
    decoder_in_energy = objective.energy_decoder and objective.prior_parts not in PUPPET_PRIOR_PARTS
    if not objective.no_adaptation and (half == "encoder" or decoder_in_energy):
        # With objective.prior_mirror > 0, that fraction of the drawings is read back mirrored,
        # against the mirrored person's pose, camera and 2D joints: the side a drawn body turns to
        # must then be read from its shape, as in a frame, not from D's colours for left and right.
        image_z = energy_images(model, objective, synth_z_s, (q_z, depth_z, scale_z), background_z, image_t, est_t,
                                generator, objective.prior_draws)
        target_canon, target_R, target_q = prior_poses_mm, cam_R_z, q_z
        if objective.prior_mirror > 0:
            mirrored = torch.rand(image_z.shape[0], generator=generator) < objective.prior_mirror
            mirrored = mirrored.to(image_z.device)
            canon_m, R_m = mirror.mirror_view(prior_poses_mm, cam_R_z)
            image_z = torch.where(mirrored[:, None, None, None], mirror.mirror_image(image_z), image_z)
            target_canon = torch.where(mirrored[:, None, None], canon_m, prior_poses_mm)
            target_R = torch.where(mirrored[:, None, None], R_m, cam_R_z)
            target_q = torch.where(mirrored[:, None, None], mirror.mirror_joints(q_z), q_z)
        est_z = model.encode(image_z)
        # p_z is compared as a canonical pose (the supplementary's L_pz) and in the image
        # (q_z against q̂_z, which holds the camera to account up to a depth mirror), or in the
        # camera frame of its view (R_z p_z against R̂ p̂). See docs/method.md for why the
        # canonical comparison is the default: a decoded image and its depth-mirrored twin
        # (seen from the back, left and right swapped) look alike, and the L1-best answer to a
        # camera-frame target that is one or the other is a pose folded between them.
        # "canonical_rotation" adds the mean |R_z - R̂| over the rotation matrices' entries: the
        # view's facing is taught as a camera, not through camera-frame joints;
        # "canonical_geodesic" adds the angle between R_z and R̂ instead.
        # "canonical_camera" adds the camera-frame comparison to the canonical one: the view is
        # taught through the joints it puts in the camera frame, while the canonical term keeps
        # the pose from folding between an image and its depth-mirrored twin (docs/learning.md,
        # "The view is the benchmark's MPJPE").
        terms = {
            "canonical": lambda: pose_energy(target_canon, est_z.pose_canon_mm),
            "camera": lambda: pose_energy(target_canon @ target_R.transpose(1, 2), est_z.pose_cam_mm),
            "rotation": lambda: (target_R - est_z.cam_R_canon).abs().mean(),
            "geodesic": lambda: rotation_angle(est_z.cam_R_canon, target_R).mean(),
        }
        if objective.prior_side_weight > 0 and half == "encoder":
            # the side network taught the side each drawing's p_z shows the camera: exact labels
            with torch.no_grad(), torch.autocast(device_type=image_z.device.type, enabled=False):
                up_canon = (prior_up if prior_up is not None else prior_poses_mm.new_tensor([0.0, 0.0, 1.0]))
                up_z = (cam_R_z.float() @ up_canon.to(cam_R_z.device).float().expand(cam_R_z.shape[0], 3)[..., None])[..., 0]
                if objective.prior_mirror > 0:
                    up_z = torch.where(mirrored[:, None], mirror.mirror_directions(up_z), up_z)
                pose_z = (target_canon @ target_R.transpose(1, 2)).float()
                front_z = facing.shows_front(pose_z, up_z, model.config.side_definition).float()
            prior_logits = model.side.member_logits(image_z.detach(), est_z.q.detach())  # (M, B): each side network
            prior_side = travel_side_loss(prior_logits.flatten(), front_z.repeat(prior_logits.shape[0]))
        energy_pose = sum(terms[name]() for name in ENERGY_FRAME_TERMS[objective.energy_frame])
        energy_pose = energy_pose + (target_q - est_z.q).abs().mean()
        losses[f"energy_pose_{half}"] = energy_pose
        if objective.appearance_consistency:
            # a_s is the target: the energy teaches E to read the appearance back from the
            # synthesised image (and D to keep it readable), never to move a_s towards â_s,
            # which would reward collapsing the appearance code.
            losses[f"energy_appearance_{half}"] = appearance_energy(app_s.detach(), est_z.appearance)

    # 2. Consistency objectives.
    # With reconstruction_pose_grad off, I_t is reconstructed from a detached pose: L_I^u then
    # teaches D and the appearance, and leaves the pose to the labels (weak) and the energies.
    pose_t = (est_t.q, est_t.depth, est_t.scale)
    if not objective.reconstruction_pose_grad:
        pose_t = tuple(x.detach() for x in pose_t)
    if objective.reconstruction_pose == "truth":
        # an oracle for diagnosis: I_t drawn from its true pose, so that D learns to paint from
        # right puppets whatever E reads
        pose_t = true_puppet_pose(batch["pose3d_t"].to(image_t.dtype), batch["pose2d_t"].to(image_t.dtype))
    synth_t = model.synthesize(est_s.appearance, *pose_t, background)
    fg_prob = 1.0 - synth_t.seg_probs[:, :1]
    losses["image_unpaired"] = objective.reconstruction_weight * image_unpaired_loss(
        synth_t.image, image_t, background, fg_prob, saliency, beta, background_valid
    )
    use_silhouette = objective.silhouette_weight > 0 and not objective.no_saliency
    if use_silhouette:
        # L_sil: a gradient that brings the skeleton to where m_sal says the person is, which
        # L_I^u lacks (losses/silhouette.py); same optimiser, added to L_I^u. The "without
        # m_sal" ablation has no saliency map, so no L_sil either.
        silhouette = skeleton_silhouette_loss(est_t.q, est_t.scale, saliency)
        losses["image_unpaired"] = losses["image_unpaired"] + objective.silhouette_weight * silhouette
    use_twin = objective.twin_choice_weight > 0
    if use_twin:
        # L_twin: no gradient leads from a pose to its depth twin (the same 2D joints), so the
        # twin is drawn too and, where D reconstructs I_t better from it, made E's target. It
        # trains the pose whatever reconstruction_pose_grad says: a target, like L_sil. The
        # "lean" rule chooses by the chest's lean instead (a camera above the hips), the
        # "travel" rule by the side the video's travel shows (towards the camera: the front).
        with torch.no_grad():
            if objective.twin_choice_rule == "lean":
                chosen = lean_choice(est_t.pose_cam_mm, objective.twin_choice_lean_mm)
            elif objective.twin_choice_rule == "travel":
                chosen = travel_choice(est_t.pose_cam_mm, batch["travel_front"])
            else:
                q_twin, depth_twin = facing.depth_twin(est_t.q, est_t.depth)
                synth_twin = model.synthesize(est_s.appearance, q_twin, depth_twin, est_t.scale, background)
                per_frame = [
                    image_unpaired_loss(synth.image, image_t, background, 1.0 - synth.seg_probs[:, :1], saliency,
                                        beta, background_valid, per_sample=True)
                    for synth in (synth_t, synth_twin)
                ]
                chosen = twin_choice(*per_frame, objective.twin_choice_margin)
            target_canon, target_R = twin_targets(est_t.pose_cam_mm)
        twin = twin_choice_loss(est_t.pose_canon_mm, est_t.cam_R_canon, target_canon, target_R, chosen)
        losses["image_unpaired"] = losses["image_unpaired"] + objective.twin_choice_weight * twin
    use_travel = objective.travel_facing_weight > 0
    if use_travel:
        # L_travel: the side the video's travel shows (towards the camera: the front), taught
        # smoothly through the front weight of E's pose; a target, like L_sil and L_twin.
        with torch.autocast(device_type=est_t.q.device.type, enabled=False):  # geometry in float32
            front = facing.front_weight(est_t.q.float(), est_t.depth.float(), est_t.scale.float())
            travel = travel_facing_loss(front, batch["travel_front"].float())
        losses["image_unpaired"] = losses["image_unpaired"] + objective.travel_facing_weight * travel
    if objective.side_weight > 0:
        # the side network (models/side.py), taught on both frames the side their video's travel
        # shows (or, objective.side_label=truth, each frame's true side: an oracle)
        # (model.side_networks > 1: each network taught on its own, the losses their mean)
        member_logits = model.side.member_logits(torch.cat((image_s, image_t)), torch.cat((est_s.q, est_t.q)))
        side_logits = member_logits.mean(dim=0)  # (2B,): the side the model reads
        side_labels = torch.cat((batch["side_front_s"], batch["side_front_t"])).float()
        if objective.side_max_tilt_deg < 180.0:
            # no label where E reads the body lying or upside down: its travel does not tell its side
            with torch.no_grad(), torch.autocast(device_type=image_s.device.type, enabled=False):
                poses = torch.cat((est_s.pose_cam_mm, est_t.pose_cam_mm)).float()
                up = model.world_up(torch.cat((batch["camera_up_s"], batch["camera_up_t"])), poses)
                upright = facing.spine_tilt_deg(poses, up) <= objective.side_max_tilt_deg
            side_labels = torch.where(upright, side_labels, torch.full_like(side_labels, float("nan")))
        members = member_logits.shape[0]
        member_labels = side_labels.repeat(members, 1)  # (M, 2B)
        if objective.side_bag_fraction < 1.0:
            # each network the labels of its own share of the videos (training/side_bags.py); a
            # pair's two frames are of one video
            bags = side_bags(batch["video_index"], members, objective.side_bag_fraction).repeat(1, 2)
            member_labels = torch.where(bags, member_labels, torch.full_like(member_labels, float("nan")))
        label_loss = travel_side_loss(member_logits.float().flatten(), member_labels.flatten())
        losses["side"] = objective.side_weight * label_loss / objective.side_bag_fraction
        if objective.side_consistency_weight > 0:
            # the pair's two frames (one video, a few frames apart) read alike, labelled or not;
            # added to the side loss, whose optimiser it shares (a weight relative to the labels')
            logits_s, logits_t = member_logits.float().chunk(2, dim=1)
            side_consistency = side_consistency_loss(logits_s.flatten(), logits_t.flatten())
            losses["side"] = losses["side"] + objective.side_consistency_weight * side_consistency
        if prior_side is not None:
            losses["side"] = losses["side"] + objective.prior_side_weight * prior_side
        travel_twice = batch["travel_front"].float().repeat(2)
    maps_z = synth_z_s.part_maps[-1].detach()
    if synth_z_t is not None:
        losses["image_consistency"] = image_consistency_loss(
            synth_z_s.image, synth_z_t.image, background_z, puppet.foreground(maps_z), background_valid_z
        )
    losses["segmentation"] = segmentation_loss(
        synth_z_s.seg_logits, puppet.labels(maps_z), puppet.soft_labels(maps_z), puppet.uncertainty(maps_z)
    )

    # 3. Supervision of the other settings.
    if objective.setting == "weak":
        losses["pose2d"] = pose2d_loss(est_t.q, batch["pose2d_t"], batch["has_pose2d_t"])
    elif objective.setting == "semi":
        losses["pose3d"] = pose3d_loss(est_t.pose_cam_mm, batch["pose3d_t"], batch["has_pose3d_t"])

    scalars = _detached(losses)
    scalars["beta"] = float(beta)
    scalars["foreground_fraction"] = float(fg_prob.detach().mean())
    if use_silhouette:
        scalars["loss/silhouette"] = float(silhouette.detach())
    if use_twin:
        scalars["loss/twin_choice"] = float(twin.detach())
        scalars["twin_chosen_fraction"] = float(chosen.float().mean())
    if use_travel:
        scalars["loss/travel_facing"] = float(travel.detach())
    if objective.side_weight > 0:
        labelled = torch.isfinite(travel_twice)
        agrees = ((side_logits.detach() > 0) == (travel_twice > 0.5))[labelled]
        scalars["side_agrees_with_travel"] = float(agrees.float().mean()) if len(agrees) else float("nan")
        if objective.side_consistency_weight > 0:
            scalars["loss/side_consistency"] = float(side_consistency.detach())
        if prior_side is not None:
            scalars["loss/prior_side"] = float(prior_side.detach())
    if with_images:
        transfer = model.synthesize(
            est_s.appearance.roll(1, dims=0), est_t.q, est_t.depth, est_t.scale, background
        )
        images = {
            "input_t": image_t.detach(),
            "reconstruction": synth_t.image.detach(),
            "part_maps_t": _labels_rgb(puppet.labels(synth_t.part_maps[-1].detach()), image_t),
            "segmentation_pred_t": _labels_rgb(synth_t.seg_logits.detach().argmax(1), image_t),
            "prior_pose_synthesis": synth_z_s.image.detach(),
            "prior_pose_puppet": _labels_rgb(puppet.labels(maps_z), image_t),
            "pose_transfer": transfer.image.detach(),
        }
    return StepOutput(losses, scalars, images)


def _detached(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    return {f"loss/{name}": float(value.detach()) for name, value in losses.items()}


def _labels_rgb(labels: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    rgb = torch.as_tensor(puppet.draw_labels_rgb(labels.cpu()))
    return rgb.permute(0, 3, 1, 2).to(device=like.device, dtype=like.dtype) / 255.0
