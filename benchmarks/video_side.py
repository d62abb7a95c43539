"""The side a person shows the camera, read over a whole test video: the side network's logits
averaged, or the video's own travel.

    python benchmarks/video_side.py CHECKPOINT_OR_RUN [...] [--min-rate 0.0025] [--threads 1] [--out FILE.md]
    python benchmarks/video_side.py CHECKPOINT_OR_RUN --add-side CHECKPOINT [...]   # side networks read together

A side network (``model.side_network``) is taught, without labels, which side each training
video's person shows the camera, from the way they travel (``partpose.data.travel``), and reads it
from one frame at test time. At test time a video offers two more readings, neither of which needs
a label: the network's logits averaged over the video's frames, and the video's own travel (its
person boxes grow as the person comes nearer). For every checkpoint with a side network, on every
frame of its benchmark's test split, the encoder's poses (``PartPoseModel.encode``) are turned to
the side each reading gives (``PartPoseModel.turn_to_side``, about each video's up) and scored:

- **the frame**: the side network's logit of the frame (``partpose evaluate``'s reading, without
  ``--ground-band``);
- **the frame and its mirror**: the mean of the logits of the frame and of its mirror image (the
  side ``--flip-test`` gives both readings; the poses here are the frame's alone);
- **the video**: that mean averaged over the video's frames;
- **the video's travel, else the video**: where the video travels at least ``--min-rate`` of its
  distance per frame, the side its travel says (``travel_front``), elsewhere the video's reading;
- **the frame, on the ground the hands and legs**: the frame's reading, but for the bodies E reads
  lying (the spine within ``--ground-band`` of level: ``geometry.facing.lies_along_ground``), which
  are given the side their own 2D hands and legs give (``geometry.facing.ground_front``: the end on
  the floor lower in the image is the nearer; ``model.side_ground_band_deg``); **the video, on the
  ground the hands and legs**: the same with the video's reading;
- **the true side**: each frame's truth (``geometry.facing.shows_front`` of the true pose, by the
  model's ``side_definition``);
- **the true side by the other definition**: the same by the other of
  ``geometry.facing.SIDE_DEFINITIONS`` (the chest's, or the chest and the head together): of the
  frame's two poses the one that shows the side the true pose shows by that definition;
- **the better twin**: of the frame's two poses the one nearer the truth (an oracle);
- **a hedge**: no side chosen, the pose given the front and the pose given the back averaged,
  weighted by the frame's probability of the front, ``sigmoid(logit)`` (the expected pose under the
  side network's own, untuned, probabilities: the reading of least expected squared error if they
  are calibrated). A hedge is not a pose a person takes: where the two sides differ it is a
  flattened body, which lowers MPJPE and raises PA-MPJPE; its side is scored as the frame's.

Each row: the share of frames whose side is right (of all frames, of the frames the travel
labels, of the rest), MPJPE and PA-MPJPE (mm), and what the wrong choices cost. Of a frame's two
poses, given the front and given the back, one is nearer the truth (**the better twin**, an
oracle's reading and the floor of any side choice; the true side is it on about nine frames in
ten, not always, since the pose's azimuth can be off); a reading that takes the other costs that
frame the difference of the two poses' errors. Every reading's MPJPE is the better twin's plus the
share of frames given the worse twin times their mean cost (both reported): a reading right on
more frames scores worse where the frames it misses cost more. The travel's labels are also
scored against the truth on their own, and the frame's reading person by person (the quartiles
over the test people of the share of their frames read right, and how many of them are read
right on fewer than ``--chance`` of their frames). The excess of the frame's reading with the
ground over the better twin is split by the posture E reads (its spine upright, leaning, on the
ground or head down: the share of the frames, of them given the worse pose, and the millimetres
they add). ``--test-people N`` renders the test split
worn by N held-out people instead of the checkpoint's (``partpose evaluate --test-people``): the
same videos, the people in turn.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import (add_test_people_argument, checkpoints_parser, require_side_network,  # noqa: E402
                              synthetic_checkpoints, use_threads, write_table)

READINGS = ("the frame", "the frame and its mirror", "the video", "the video's travel, else the video",
            "the frame, on the ground the hands and legs", "the video, on the ground the hands and legs", "the true side",
            "the true side by the other definition", "the better twin", "a hedge")


def video_means(values: np.ndarray, video: np.ndarray) -> np.ndarray:
    """``(N,)`` each frame's ``values`` replaced by the mean over the frames of its ``video``
    (``(N,)`` video indices)."""
    values = np.asarray(values, dtype=np.float64)
    _, inverse = np.unique(video, return_inverse=True)
    return (np.bincount(inverse, weights=values) / np.bincount(inverse))[inverse]


def travel_or(logits: np.ndarray, travel: np.ndarray) -> np.ndarray:
    """``(N,)`` logits: the travel's side where it has one (``travel`` 1.0 the front: +1, 0.0 the
    back: -1), ``logits`` where it is ``nan``."""
    return np.where(np.isfinite(travel), np.where(travel > 0.5, 1.0, -1.0), logits)


def ground_or(logits: np.ndarray, on_ground: np.ndarray, ground_front: np.ndarray) -> np.ndarray:
    """``(N,)`` logits: on the frames ``on_ground`` the side the ground gives (``ground_front``
    true: the front, +1; false: -1), ``logits`` elsewhere."""
    return np.where(on_ground, np.where(ground_front, 1.0, -1.0), logits)


def hedge(front, back, logits: np.ndarray):
    """``(N, J, 3)`` the poses ``front`` and ``back`` (tensors, each frame's pose given either side)
    averaged with the weights ``sigmoid(logits)`` and ``1 - sigmoid(logits)``."""
    import torch

    weight = torch.sigmoid(torch.as_tensor(logits, dtype=front.dtype))[:, None, None]
    return weight * front + (1.0 - weight) * back


POSTURES = (("upright", 0.0, 30.0), ("leaning", 30.0, 60.0), ("on the ground", 60.0, 120.0), ("head down", 120.0, 180.0))
"""Postures by the angle of E's spine to the world's up (``geometry.facing.spine_tilt_deg``),
degrees, ``[low, high)`` (the last closed)."""


def worse_by_posture(worse: np.ndarray, cost: np.ndarray, tilt: np.ndarray) -> list[tuple[str, float, float, float]]:
    """Where a reading's excess over the better twin lies: for each of :data:`POSTURES`, ``(name,
    share of all frames in it, share of those given the worse pose, what they add to the MPJPE of
    all frames in mm)``; ``worse`` ``(N,)`` bool, ``cost`` ``(N,)`` mm (each frame's worse pose
    above its better one), ``tilt`` ``(N,)`` degrees. The added millimetres sum to the reading's
    MPJPE less the better twin's."""
    rows = []
    for name, low, high in POSTURES:
        inside = (tilt >= low) & ((tilt < high) if high < 180.0 else (tilt <= high))
        share = float(worse[inside].mean()) if inside.any() else float("nan")
        rows.append((name, float(inside.mean()), share, float((cost * worse)[inside].sum() / len(cost))))
    return rows


def person_shares(right: np.ndarray, people: np.ndarray) -> dict[str, float]:
    """``{person: share of their frames with ``right`` true}``, people sorted by name; ``right``
    and ``people`` are ``(N,)``, one entry per frame."""
    return {person: float(right[people == person].mean()) for person in sorted(set(people.tolist()))}


def side_readings(model, frames, min_rate: float, batch_size: int = 64, ground_band_deg: float = 30.0) -> dict:
    """Every reading of the module docstring on ``frames`` (a ``FrameDataset``); ``ground_band_deg``:
    the band of level within which a body is on the ground.

    Returns:
        ``{"readings": {name: (N,) logits (> 0: the front; the hedge's are the frame's)}, "true_front": (N,) bool,
        "travel_labelled": (N,) bool, "on_ground": (N,) bool, the bodies E reads on the ground,
        "tilt": (N,) E's spine's angle to the world's up (degrees), "better_front": (N,) bool, the
        better twin is the pose given the front,
        "travel_right": share of the labelled frames whose travel
        label is right, "cost": (N,) what the worse of each frame's two poses costs it, the
        difference of their errors (mm), "scores": {name: {"right", "right_labelled",
        "right_rest", "mpjpe", "pa_mpjpe", "worse_twin" (the share of frames given the worse
        pose), "worse_cost" (their mean cost, mm; the hedge's: nan)}}, "people_right": {person: share of their frames the frame's reading gets
        right} (:func:`person_shares`)}``.
    Raises:
        UserError: a model without a side network.
    """
    import torch
    from torch.utils.data import DataLoader

    from partpose.data.travel import travel_fronts
    from partpose.evaluation import metrics
    from partpose.geometry import facing, mirror

    require_side_network(model, "nothing to read the side with")
    was_training = model.training
    model.eval()
    fronts, backs, plain, both, videos, truth, ups, grounds, ground_fronts, tilts = [], [], [], [], [], [], [], [], [], []
    with torch.no_grad():
        for batch in DataLoader(frames, batch_size=batch_size, shuffle=False):
            image, est = batch["image"], model.encode(batch["image"])
            sides = torch.ones(len(image))
            for side, out in ((sides, fronts), (-sides, backs)):  # each frame's pose given the front, and the back
                pose = model.turn_to_side(est, side, batch["camera_up"], ground=False).pose_cam_mm.float()
                out.append(pose - pose[:, :1])
            # bodies on the ground: of the two poses, the one whose nearer end the 2D hands and legs say
            pose = est.pose_cam_mm.float()
            up = model.world_up(batch["camera_up"], pose)
            grounds.append(facing.lies_along_ground(pose, up, ground_band_deg))
            tilts.append(facing.spine_tilt_deg(pose, up))
            ground_fronts.append(facing.chest_and_spine_front(fronts[-1], up) == facing.ground_front(est.q.float(), up))
            mirrored_image = mirror.mirror_image(image)
            # the 2D joints matter only to a side network that reads the parts (model.side_input)
            joints = torch.cat((est.q, model.encode(mirrored_image).q)) if model.side.input == "parts" else None
            logits, mirrored = model.side(torch.cat((image, mirrored_image)), joints).float().chunk(2)
            plain.append(logits)
            both.append((logits + mirrored) / 2)
            videos.append(batch["video_index"])
            truth.append(batch["pose3d"].float())
            ups.append(batch["camera_up"])
    model.train(was_training)
    front, back, video = torch.cat(fronts), torch.cat(backs), torch.cat(videos).numpy()
    true = torch.cat(truth)
    true = true - true[:, :1]
    up = model.world_up(torch.cat(ups), true)
    true_front = facing.shows_front(true, up, model.config.side_definition).numpy()
    other = next(d for d in facing.SIDE_DEFINITIONS if d != model.config.side_definition)
    front_agrees = facing.shows_front(front, up, other) == facing.shows_front(true, up, other)
    travel = travel_fronts(frames.videos, min_rate)[video]
    labelled = np.isfinite(travel)
    frame_logits, both_np = torch.cat(plain).double().numpy(), torch.cat(both).double().numpy()
    on_ground, ground_front = torch.cat(grounds).numpy(), torch.cat(ground_fronts).numpy()
    video_logits = video_means(both_np, video)
    readings = {
        "the frame": frame_logits,
        "the frame and its mirror": both_np,
        "the video": video_logits,
        "the video's travel, else the video": travel_or(video_logits, travel),
        "the frame, on the ground the hands and legs": ground_or(frame_logits, on_ground, ground_front),
        "the video, on the ground the hands and legs": ground_or(video_logits, on_ground, ground_front),
        "the true side": np.where(true_front, 1.0, -1.0),
        "the true side by the other definition": np.where(front_agrees.numpy(), 1.0, -1.0),
    }
    error_front, error_back = (metrics.mpjpe(pose, true, reduction="per_frame").double().numpy() for pose in (front, back))
    better_front = error_front < error_back
    readings["the better twin"] = np.where(better_front, 1.0, -1.0)
    poses = {name: torch.where(torch.from_numpy(logits > 0)[:, None, None], front, back) for name, logits in readings.items()}
    readings["a hedge"], poses["a hedge"] = frame_logits, hedge(front, back, frame_logits)  # its side: the frame's

    def mean(values: np.ndarray) -> float:  # of a share (bool) or a cost; nan over no frames
        return float(values.mean()) if values.size else float("nan")

    cost = np.abs(error_front - error_back)  # (N,) the worse pose's error above the better one's
    scores = {}
    for name, logits in readings.items():
        right = (logits > 0) == true_front
        worse = (logits > 0) != better_front
        hedged = name == "a hedge"  # a blend of the two poses: neither twin
        scores[name] = {"right": mean(right), "right_labelled": mean(right[labelled]), "right_rest": mean(right[~labelled]),
                        "mpjpe": float(metrics.mpjpe(poses[name], true)), "pa_mpjpe": float(metrics.pa_mpjpe(poses[name], true)),
                        "worse_twin": float("nan") if hedged else mean(worse),
                        "worse_cost": float("nan") if hedged else mean(cost[worse])}
    travel_right = mean((travel[labelled] > 0.5) == true_front[labelled])
    people = np.array([frames.videos[int(v)].subject for v in video])
    return {"readings": readings, "true_front": true_front, "travel_labelled": labelled, "travel_right": travel_right,
            "on_ground": on_ground, "tilt": torch.cat(tilts).double().numpy(), "better_front": better_front,
            "cost": cost, "scores": scores, "people_right": person_shares((frame_logits > 0) == true_front, people)}


def main(argv: list[str] | None = None) -> int:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--min-rate", type=float, default=0.0025,
                        help="the least relative change of a person's distance per frame for their travel to count")
    add_test_people_argument(parser)
    parser.add_argument("--ground-band", type=float, default=30.0, metavar="DEG",
                        help="a body whose spine lies within DEG of level is on the ground (default: 30)")
    parser.add_argument("--add-side", nargs="+", type=Path, default=[], metavar="CHECKPOINT",
                        help="read the side with these checkpoints' side networks too, their logits and the model's own "
                        "averaged (partpose evaluate --add-side); one checkpoint only")
    parser.add_argument("--chance", type=float, default=0.6,
                        help="a person is counted as read near chance below this share of frames read right")
    args = parser.parse_args(argv)
    if not args.min_rate > 0:
        parser.error(f"--min-rate must be > 0, got {args.min_rate}")
    if not 0 < args.ground_band <= 90:
        parser.error(f"--ground-band must be within 0..90 degrees, got {args.ground_band}")
    if args.add_side and len(args.checkpoints) != 1:
        parser.error("--add-side reads one checkpoint's pose network with more side networks: give one checkpoint")
    use_threads(args.threads)
    command = " ".join(["python benchmarks/video_side.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"The side read from a frame, from its video, from its video's travel (`{command}`): every test frame; "
             "the share of frames whose side is right (all / those the travel labels / the rest), MPJPE / PA-MPJPE (mm), "
             "the frames given the worse of their two poses (%) and what that costs them (mm, the mean).",
             "", "| checkpoint | reading | side right (%) | MPJPE / PA-MPJPE | the worse pose: frames, cost |",
             "|---|---|---|---|---|"]

    def rows():
        from partpose.inference.loading import add_side_networks

        for path, loaded, frames in synthetic_checkpoints(args.checkpoints, args.test_people):
            add_side_networks(loaded, args.add_side)
            if args.add_side:
                path = f"{path} and {len(args.add_side)} added side networks"
            result = side_readings(loaded.model, frames, args.min_rate, ground_band_deg=args.ground_band)
            labelled = result["travel_labelled"]
            yield (f"| {path} | the travel's labels alone ({100 * labelled.mean():.0f} % of the frames; on the ground, "
                   f"the spine within {args.ground_band:g}° of level: {100 * result['on_ground'].mean():.1f} %) | "
                   f"– / {100 * result['travel_right']:.1f} / – | | |")
            for name in READINGS:
                s = result["scores"][name]
                yield (f"| {path} | {name} | {100 * s['right']:.1f} / {100 * s['right_labelled']:.1f} / "
                       f"{100 * s['right_rest']:.1f} | {s['mpjpe']:.1f} / {s['pa_mpjpe']:.1f} | "
                       f"{100 * s['worse_twin']:.1f} %, {s['worse_cost']:.1f} |")
            reading = "the frame, on the ground the hands and legs"
            worse = (result["readings"][reading] > 0) != result["better_front"]
            postures = "; ".join(f"{name} {100 * share:.1f} % of the frames, {100 * worse_share:.1f} %, +{mm:.1f} mm"
                                 if share > 0 else f"{name}: none"
                                 for name, share, worse_share, mm in worse_by_posture(worse, result["cost"], result["tilt"]))
            yield f"| {path} | {reading}: the worse pose by E's posture | | | {postures} |"
            shares = np.array(list(result["people_right"].values()))
            quartiles = " / ".join(f"{100 * q:.1f}" for q in np.quantile(shares, [0.25, 0.5, 0.75]))
            yield (f"| {path} | the frame, person by person ({len(shares)} people; quartiles; below "
                   f"{100 * args.chance:.0f} %: {int((shares < args.chance).sum())}) | {quartiles} | | |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
