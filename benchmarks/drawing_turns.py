"""How far the encoder turns bodies, on test frames and on D's drawings, and how D paints left and right.

    python benchmarks/drawing_turns.py CHECKPOINT_OR_RUN [...] [--max-frames 1024] [--drawings 512]
        [--seed 0] [--threads 2] [--out FILE.md]

The pose network of our rows is taught 3D by one route only: the decoupled energies, E reading
back D's drawings of the prior's poses. What it learns there reaches the frames only as far as a
drawing looks like a frame. One way they differ: D paints every part in a colour of its own, read
from the appearance code and started from the puppet's palette, where left and right are
different colours; a person's left and right sleeves are the same colour. A drawing may then tell
which way its body turns by its colours, a frame never does. Another: D is taught by the energies
to make its drawings legible to E, and may paint into them, within its parts, cues to the pose
that no frame carries; drawn from the frames' own poses, such cues show as a turn E reads on the
drawings and not on the same puppets flat.

For every checkpoint trained on the synthetic benchmark, on the upright bodies (spine within 30°
of the world's up) of:

- **the test frames** (evenly thinned to ``--max-frames``), the model's poses as evaluation gives
  them (``PartPoseModel.encode_sided``);
- **drawings of the prior's poses** (``--drawings``, drawn as training draws them: the prior's
  views, framed like the crops, painted with the appearance and background of a training pair),
  read by E as drawn, **mirrored** left to right against the mirrored person
  (``geometry.mirror.mirror_view``), and **as the row's energies show them** to E
  (``objective.prior_parts``: ``training.algorithm.energy_images``; as drawn for a row that reads
  D's drawings, the puppet in the pair's I_t's colours for ``frame_colours``): E's own training
  images;
- **drawings of the test frames' own poses**: D's drawing of each test frame's true pose
  (retargeted to the prior's bone lengths, under the weak-perspective camera that best fits its
  2D joints: ``analysis_by_synthesis.raw_from_truth``), painted with the frame's own appearance
  code over its plate, the same drawing with **its parts flat** (each part of the puppet filled
  with its mean colour in the drawing: ``geometry.puppet.flat_parts``, what
  ``objective.prior_parts=flat`` gives E), the puppet **flat in the palette** (each part
  filled with its ``PALETTE`` colour, no decoder), and the puppet **flat in the frame's colours**
  over its plate (each part filled with the frame's mean colour under it:
  ``geometry.puppet.frame_part_colours``, what ``objective.prior_parts=frame_colours`` gives E,
  there under E's pose of the frame), and the same **with the shirt's print** apart
  (``geometry.front_print``: the print read off the frame and painted where the pose's chest
  shows it, what ``objective.prior_parts=frame_colours_print`` gives E): the very poses and views
  of the frames, drawn;

each body's *turn*: the angle of its chest's level normal from facing the camera squarely (or
facing away: a body and its upright twin have the same turn), signed by the side of the line of
sight it points to (:func:`signed_turn_deg`). A mirror flips the sign and keeps the size. Reported:
how often the model's sign is the truth's on bodies turned 30° or more, and the median size of
the model's turns and of the truth's. Also the **colour gap** of the drawings: the mean absolute
RGB difference between the mean colours of a left part and its right twin (upper arms, upper
legs, lower legs) where both show, against the same gap of the puppet's palette.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, synthetic_checkpoints, use_threads, write_table  # noqa: E402
from view_errors import sided_poses  # noqa: E402

UPRIGHT_TILT_DEG = 30.0
"""Bodies whose spine tilts farther from the world's up are left out: a lying body's turn about
the up turns its whole length, not its width."""

TURNED_DEG = 30.0
"""The sign is scored on bodies turned at least this far from facing the camera (or away)."""

LEFT_RIGHT_PAIRS = (("l_upper_arm", "r_upper_arm"), ("l_upper_leg", "r_upper_leg"), ("l_lower_leg", "r_lower_leg"))
"""The parts whose colours are compared with their twins' (large enough to show at 64²)."""


def signed_turn_deg(pose, up):
    """Each pose's turn about the world's up away from facing the camera, signed.

    Args:
        pose: ``(N, 17, 3)`` camera-frame poses (any unit).
        up: ``(N, 3)`` or ``(3,)`` the world's up in camera coordinates.
    Returns:
        ``(turn, tilt)``: ``(N,)`` numpy arrays of degrees. ``turn`` in ``[-90, 90]``: 0 facing the
        camera or facing away, ±90 in profile, positive where the chest's level normal points
        along ``up × sight`` (the level line of sight: ``geometry.facing.level_sight``); ``nan``
        where the chest faces the floor or the sky (its level part under 0.3 of the normal).
        ``tilt`` is the spine's angle from the up (``geometry.facing.spine_tilt_deg``).
    """
    import torch

    from partpose.geometry import facing

    up = torch.nn.functional.normalize(torch.as_tensor(up, dtype=pose.dtype).expand(pose.shape[0], 3), dim=-1)
    normal = torch.nn.functional.normalize(facing.chest_normal(pose), dim=-1)
    level = normal - (normal * up).sum(dim=-1, keepdim=True) * up
    sight = facing.level_sight(up, pose)
    across = torch.linalg.cross(up, sight, dim=-1)
    turn = torch.rad2deg(torch.atan2((level * across).sum(dim=-1), (level * sight).sum(dim=-1).abs()))
    turn = torch.where(level.norm(dim=-1) < 0.3, torch.full_like(turn, float("nan")), turn)
    return turn.numpy(), facing.spine_tilt_deg(pose, up).numpy()


def turn_summary(model_turn: np.ndarray, true_turn: np.ndarray, tilt: np.ndarray) -> dict[str, float]:
    """The turns of :func:`signed_turn_deg` compared on upright bodies (``tilt`` ≤
    :data:`UPRIGHT_TILT_DEG`, the model's tilt) where both have one.

    Returns:
        ``sign_right`` (% of the bodies truly turned ≥ :data:`TURNED_DEG` whose model turn has
        the truth's sign), ``turned`` (how many those are), ``model_size`` and ``true_size``
        (median ``|turn|``, degrees) and ``bodies`` (how many were compared).
    """
    both = np.isfinite(model_turn) & np.isfinite(true_turn) & (tilt <= UPRIGHT_TILT_DEG)
    turned = both & (np.abs(true_turn) >= TURNED_DEG)
    nan = float("nan")
    return {
        "sign_right": 100.0 * float(np.mean(np.sign(model_turn[turned]) == np.sign(true_turn[turned]))) if turned.any() else nan,
        "turned": int(turned.sum()),
        "model_size": float(np.median(np.abs(model_turn[both]))) if both.any() else nan,
        "true_size": float(np.median(np.abs(true_turn[both]))) if both.any() else nan,
        "bodies": int(both.sum()),
    }


def left_right_colour_gaps(image, labels, min_pixels: int = 6) -> list[float]:
    """The colour gaps of :data:`LEFT_RIGHT_PAIRS` in drawings.

    Args:
        image: ``(B, 3, H, W)`` drawings, values in ``[0, 1]``.
        labels: ``(B, H, W)`` their puppet labels (0 background, ``l + 1`` part ``PARTS[l]``).
        min_pixels: a pair counts where both parts cover at least this many pixels.
    Returns:
        One value a pair shown in a drawing: the mean over RGB of ``|mean colour of the left part -
        mean colour of the right part|``.
    """
    from partpose.geometry.parts import PART_NAMES

    gaps = []
    for left, right in LEFT_RIGHT_PAIRS:
        left_mask, right_mask = labels == PART_NAMES.index(left) + 1, labels == PART_NAMES.index(right) + 1
        for b in range(image.shape[0]):
            if int(left_mask[b].sum()) >= min_pixels and int(right_mask[b].sum()) >= min_pixels:
                left_colour, right_colour = image[b][:, left_mask[b]].mean(dim=1), image[b][:, right_mask[b]].mean(dim=1)
                gaps.append(float((left_colour - right_colour).abs().mean()))
    return gaps


def palette_gap() -> float:
    """The colour gap of :data:`LEFT_RIGHT_PAIRS` in the puppet's palette (D's start with
    ``model.decoder.image_init=palette``), averaged over the pairs."""
    from partpose.geometry.parts import PART_NAMES
    from partpose.geometry.puppet import PALETTE

    palette = np.asarray(PALETTE, dtype=float) / 255.0
    return float(np.mean([np.abs(palette[PART_NAMES.index(a) + 1] - palette[PART_NAMES.index(b) + 1]).mean()
                          for a, b in LEFT_RIGHT_PAIRS]))


def drawing_turns(model, config, data, count: int, seed: int, batch_size: int = 64) -> tuple[dict, dict, dict, list[float]]:
    """E's turns on ``count`` drawings of the prior's poses of ``data`` (``build_training_data(config)``:
    its prior and its pairs' appearances and backgrounds), read as drawn, mirrored, and as the
    row's own energies show them to E (``objective.prior_parts``: ``algorithm.energy_images``, the
    colours of ``frame_colours`` from each pair's I_t under E's pose of it), and the drawings'
    colour gaps.

    Returns:
        ``(drawn, mirrored, energies, gaps)``: three :func:`turn_summary` results and
        :func:`left_right_colour_gaps` over every drawing.
    """
    import torch
    from torch.utils.data import default_collate

    from partpose.geometry import puppet
    from partpose.geometry.camera import crop_framing
    from partpose.geometry.mirror import mirror_directions, mirror_image, mirror_view
    from partpose.training.algorithm import energy_images, prior_views

    generator = torch.Generator().manual_seed(seed)
    prior, prior_up = data.prior.sample(count, generator, with_up=True)
    cam_R = prior_views(config.objective, count, generator, prior_up)
    pairs = torch.randint(len(data.pairs), (count,), generator=generator)
    was_training = model.training
    model.eval()
    read = {"drawn": [], "mirrored": [], "energies": []}
    gaps: list[float] = []
    with torch.no_grad():
        for start in range(0, count, batch_size):
            rows = slice(start, start + batch_size)
            batch = default_collate([data.pairs[int(i)] for i in pairs[rows]])
            pose, view = prior[rows], cam_R[rows]
            scale, offset = crop_framing(pose / 1000.0, view, config.objective.prior_crop_fill)
            q, depth = model.pose_for_prior(pose, view, scale, offset)
            drawn = model.synthesize(model.encode(batch["image_s"]).appearance, q, depth, scale, batch["background"])
            shown = energy_images(model, config.objective, drawn, (q, depth, scale), batch["background"],
                                  batch["image_t"], model.encode(batch["image_t"]), generator)
            up = (view @ prior_up[rows, :, None])[..., 0]  # the world's up in the camera
            for name, image, (canonical, rotation), up_seen in (
                    ("drawn", drawn.image, (pose, view), up),
                    ("mirrored", mirror_image(drawn.image), mirror_view(pose, view), mirror_directions(up)),
                    ("energies", shown, (pose, view), up)):
                estimate = model.encode(image)
                read[name].append((estimate.pose_cam_mm.double(), (canonical @ rotation.transpose(1, 2)).double(),
                                   up_seen.double()))
            gaps += left_right_colour_gaps(drawn.image, puppet.labels(drawn.part_maps[-1]))
    model.train(was_training)
    summaries = []
    for name in ("drawn", "mirrored", "energies"):
        estimate, truth, up = (torch.cat(parts) for parts in zip(*read[name]))
        model_turn, tilt = signed_turn_deg(estimate, up)
        summaries.append(turn_summary(model_turn, signed_turn_deg(truth, up)[0], tilt))
    return summaries[0], summaries[1], summaries[2], gaps


def test_pose_drawings(model, frames, max_frames: int | None, batch_size: int = 64) -> tuple[dict, ...]:
    """E's turns (``encode_sided``, as evaluation reads) on drawings of the test frames' own poses:
    D's, with each frame's appearance code over its plate, the same with its parts flat, the
    puppet flat in the palette, the puppet flat in the frame's own colours over its plate, and
    the same with the shirt's print.

    Args:
        frames: the test split, a ``FrameDataset`` (a video without a background plate is drawn on black).
    Returns:
        ``(painted, parts_flat, palette, frame_colours, frame_colours_print)``: five
        :func:`turn_summary` results against the frames' true poses.
    """
    import torch
    from torch.utils.data import DataLoader

    from analysis_by_synthesis import Frames, pose_of, raw_from_truth

    from partpose.data.pairs import _image
    from partpose.evaluation.evaluate import thin_frames
    from partpose.geometry import front_print, puppet

    was_training = model.training
    model.eval()
    names = ("painted", "parts_flat", "palette", "frame_colours", "frame_colours_print")
    read = {name: [] for name in names}
    truths, ups = [], []
    with torch.no_grad():
        for batch in DataLoader(thin_frames(frames, max_frames), batch_size=batch_size, shuffle=False):
            videos = [frames.videos[int(v)] for v in batch["video_index"]]
            plate = torch.stack([torch.zeros_like(image) if video.background is None else _image(video.background_at(int(t)))
                                 for video, t, image in zip(videos, batch["frame"], batch["image"])])
            labelled = Frames(batch["image"], plate, torch.zeros_like(plate[:, :1]), batch["pose2d"], batch["pose3d"])
            q, depth, scale, _ = pose_of(model, raw_from_truth(model, labelled))
            painted = model.synthesize(model.encode(batch["image"]).appearance, q, depth, scale, plate)
            labels = puppet.labels(painted.part_maps[-1])
            drawn = painted.image.clamp(0.0, 1.0)
            printed = front_print.print_mask(q, depth, scale, labels)
            images = {"painted": drawn, "parts_flat": puppet.flat_parts(drawn, labels, model.decoder.num_parts),
                      "palette": puppet.palette_image(labels, plate),
                      "frame_colours": puppet.paint_parts(
                          labels, puppet.frame_part_colours(batch["image"], labels, model.decoder.num_parts), plate),
                      "frame_colours_print": front_print.paint_with_print(labels, printed, front_print.print_colours(
                          batch["image"], labels, printed, model.decoder.num_parts), plate)}
            up = batch["camera_up"]
            for name, image in images.items():
                read[name].append(model.encode_sided(image, up).pose_cam_mm.double())
            truths.append(batch["pose3d"].double())
            ups.append(up.double())
    model.train(was_training)
    true, up = torch.cat(truths), torch.cat(ups)
    true_turn = signed_turn_deg(true, up)[0]
    summaries = []
    for name in names:
        model_turn, tilt = signed_turn_deg(torch.cat(read[name]), up)
        summaries.append(turn_summary(model_turn, true_turn, tilt))
    return tuple(summaries)


def cells(summary: dict) -> str:
    """``sign right (bodies) | model / true size`` table cells of a :func:`turn_summary`."""
    return (f"{summary['sign_right']:.0f} % ({summary['turned']}) | "
            f"{summary['model_size']:.0f}° / {summary['true_size']:.0f}°")


def main(argv: list[str] | None = None) -> int:
    from partpose.training.data_setup import build_training_data

    parser = checkpoints_parser(__doc__)
    parser.add_argument("--max-frames", type=int, default=1024, help="test frames, evenly thinned (default: 1024)")
    parser.add_argument("--drawings", type=int, default=512, help="drawings of the prior's poses (default: 512)")
    parser.add_argument("--seed", type=int, default=0, help="draws the drawings' poses, views and pairs (default: 0)")
    args = parser.parse_args(argv)
    if args.drawings < 1 or args.max_frames < 1:
        parser.error("--drawings and --max-frames must be >= 1")
    use_threads(args.threads)
    command = " ".join(["python benchmarks/drawing_turns.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"How far E turns upright bodies (`{command}`): the sign right on bodies turned ≥ {TURNED_DEG:.0f}° "
             f"(how many), and the median turn from facing the camera or away, the model's / the truth's; "
             f"the drawings' left/right colour gap against the palette's {palette_gap():.3f}.", "",
             "| checkpoint | test frames: sign | size | drawings of their poses: sign | size "
             "| the same, parts flat: sign | size | their puppets in the palette: sign | size "
             "| their puppets in the frames' colours: sign | size | the same with the print: sign | size "
             "| drawings: sign | size | mirrored drawings: sign | size "
             "| drawings as the row's energies show them: sign | size | colour gap (median) |",
             "|---" * 20 + "|"]

    def rows():
        # the training data each benchmark's drawings read (its prior, its pairs' images and
        # backgrounds: all set by config.data), built once for the checkpoints that share it
        training_data = {}
        for path, loaded, frames in synthetic_checkpoints(args.checkpoints):
            pose, true, up, _ = sided_poses(loaded.model, frames, args.max_frames)
            model_turn, tilt = signed_turn_deg(pose, up)
            frames_summary = turn_summary(model_turn, signed_turn_deg(true, up)[0], tilt)
            painted, parts_flat, palette, frame_colours, printed = test_pose_drawings(loaded.model, frames,
                                                                                       args.max_frames)
            key = repr(loaded.config.data)
            if key not in training_data:
                training_data[key] = build_training_data(loaded.config)
            drawn, mirrored, energies, gaps = drawing_turns(loaded.model, loaded.config, training_data[key], args.drawings,
                                                  args.seed)
            gap = f"{np.mean(gaps):.3f} ({np.median(gaps):.3f})" if gaps else "–"
            yield (f"| {path} | {cells(frames_summary)} | {cells(painted)} | {cells(parts_flat)} | {cells(palette)} "
                   f"| {cells(frame_colours)} | {cells(printed)} | {cells(drawn)} | {cells(mirrored)} | {cells(energies)} "
                   f"| {gap} |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
