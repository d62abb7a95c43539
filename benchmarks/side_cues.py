"""Which unlabelled cues tell the front of a person from the back? Each measured on the truth.

    python benchmarks/side_cues.py [--config configs/studio_ours_cpu.yaml] [--iterations 1500]
        [--seeds 0 1] [--min-speed 0.3] [--out FILE.md]

No row of the learning table tells the side an unseen person shows the camera, and no estimator
blind to it can meet the first target (``docs/learning.md``, "How legible is the front from the
back?"). The reconstruction is as good under either side, so the side has to come from a cue the
2D joints lack. This script prices the candidates on the benchmark's ground truth, before any is
built into an objective:

- **Which way people move.** People mostly move the way they face: a person coming towards the
  camera shows it their front. Per training video, the label of ``partpose.data.travel`` (what
  L_twin's travel rule uses): the person's distance read from their person boxes, which grow as they
  come nearer; where it changes by at least ``--min-rate`` per frame from the first frame to the
  last, "nearer" labels every frame of the video the front and "farther" the back. Reported per
  motion: the share of frames labelled and the share of those labelled right, and the same with
  the root's true depth in place of the boxes (:func:`root_travel_front`, the cue's best case).
  Beside them, the whole direction of travel: the boxes give the person's path up to their size
  (``partpose.data.travel.travel_heading``), and its direction about the world's up is compared
  with the way the chest faces in each frame (:func:`heading_angle_deg`; videos that travel at
  least ``--min-rate`` of their distance per frame): the median angle and the share within 45°.
- **Perspective.** The pose's depth twin has the same 2D joints only under an orthographic
  camera; through the benchmark's pinhole the two differ by a few pixels at most
  (:func:`perspective_gap_px`: the twin projected through each frame's camera against the truth's
  joints with left and right exchanged, in crop pixels).
- **The lean towards a camera above the hips** (L_twin's lean rule): the share of frames whose
  thorax is nearer the camera than their pelvis.

Then the one cue that labels many frames is taught as if it were the truth: the front/back
classifier of ``front_back_legibility.py`` trained on the labelled frames with the boxes' travel
labels, against the same classifier trained on the same frames with the true labels, both scored
on the test split's unseen people. The gap between the two is what the travel cue's wrong labels
cost; the second is its ceiling.

With ``--checkpoints`` (models trained on this benchmark), each model's test poses are also given
the side the travel-taught classifier reads (:func:`side_from`: each pose replaced by its twin
where it shows the other side): a pose network and a side network, both taught without labels.
Two twins: the depth twin (mirrored through the image plane: the same 2D joints, but tilted by
twice the camera's pitch) and, in the studio scene, whose cameras all look down at one known
elevation, the upright twin (``geometry.facing.upright_twin_pose``: mirrored across the camera's
horizontal line of sight about the world's up, which keeps an upright body upright). Reported
beside the poses as they are and with the true side.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import use_threads, write_table  # noqa: E402
from front_back_legibility import accuracy, classifier_parser, front_labels, leaning_towards, load_split, logits_of, train_classifier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def root_travel_front(pose_cam_mm: torch.Tensor, min_rate: float) -> float:
    """The label of ``partpose.data.travel.travel_front`` read from the root's true depth instead
    of the person boxes: the cue's best case.

    Args:
        pose_cam_mm: ``(T, J, 3)`` camera-frame joints of the video (root first); z forward.
        min_rate: > 0, the least relative change of the root's depth per frame.
    Returns:
        1.0 (the depth falls: the front), 0.0 (it grows: the back) or ``nan``.
    """
    if len(pose_cam_mm) < 2:
        return math.nan
    rate = (float(pose_cam_mm[-1, 0, 2]) / float(pose_cam_mm[0, 0, 2]) - 1.0) / (len(pose_cam_mm) - 1)
    return 1.0 if rate <= -min_rate else 0.0 if rate >= min_rate else math.nan


def fit_pinhole(pose_cam_mm: torch.Tensor, pose2d_norm: torch.Tensor) -> torch.Tensor:
    """Each frame's crop camera, fitted by least squares: ``(N, J, 3)`` camera-frame joints and
    their ``(N, J, 2)`` normalised crop coordinates -> ``(N, 3)`` ``(f, c_x, c_y)`` with
    ``x = f X / Z + c_x``, ``y = f Y / Z + c_y`` (square pixels, no skew)."""
    ratio = pose_cam_mm[..., :2] / pose_cam_mm[..., 2:]  # (N, J, 2)
    n, j = ratio.shape[:2]
    design = torch.zeros(n, j, 2, 3, dtype=ratio.dtype)
    design[..., 0] = ratio
    design[..., 0, 1] = 1.0
    design[..., 1, 2] = 1.0
    solution = torch.linalg.lstsq(design.reshape(n, 2 * j, 3), pose2d_norm.to(ratio.dtype).reshape(n, 2 * j, 1))
    return solution.solution[..., 0]


def project(pose_cam_mm: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """``(N, J, 3)`` camera-frame joints through ``(N, 3)`` cameras (:func:`fit_pinhole`) ->
    ``(N, J, 2)`` normalised crop coordinates."""
    ratio = pose_cam_mm[..., :2] / pose_cam_mm[..., 2:]
    return camera[:, None, :1] * ratio + camera[:, None, 1:]


def perspective_gap_px(pose_cam_mm: torch.Tensor, pose2d_norm: torch.Tensor, resolution: int) -> torch.Tensor:
    """How far perspective draws a pose's depth twin from the pose itself, per frame.

    The twin (``partpose.geometry.facing.depth_twin_pose``: root-relative depth negated, left and
    right exchanged) is put back at the root's depth and projected through the frame's own camera
    (:func:`fit_pinhole`); under an orthographic camera its joints would be the truth's with left
    and right exchanged. Returns ``(N,)`` the mean distance between the two, in pixels of a
    ``resolution``-pixel crop."""
    from partpose.geometry.facing import depth_twin_pose
    from partpose.geometry.skeleton import H36M17

    pose = pose_cam_mm.double()
    camera = fit_pinhole(pose, pose2d_norm.double())
    root = pose[:, :1]
    twin = depth_twin_pose(pose - root) + root
    truth_swapped = project(pose, camera)[:, list(H36M17.flip_permutation)]
    gap = (project(twin, camera) - truth_swapped).norm(dim=-1).mean(dim=-1)
    return gap * resolution / 2.0  # normalised units span 2 across the crop


def side_from(pose_cam_mm: torch.Tensor, front_logits: torch.Tensor, up_cam: torch.Tensor | None = None) -> torch.Tensor:
    """``(N, 17, 3)`` camera-frame poses made root-relative, each replaced by its twin where the
    side it shows (``geometry.facing.faces_camera``) is not the one ``front_logits (N,)`` say
    (> 0: the front): the depth twin, or with ``up_cam`` (the world's up in camera coordinates)
    the upright twin (``geometry.facing.upright_twin_pose``)."""
    from partpose.geometry.facing import faces_camera, upright_twin_pose

    from view_probe import twin_where

    pose = pose_cam_mm - pose_cam_mm[:, :1]
    twin = None if up_cam is None else upright_twin_pose(pose, up_cam)
    return twin_where(pose, faces_camera(pose) != (front_logits > 0), twin)


def ground_azimuth(vectors: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` camera-frame directions → ``(N,)`` azimuths (radians) about ``up`` ``(N, 3)``.

    With ``f`` the camera's z axis and ``r`` its x axis, each made perpendicular to the up
    (``r × f = up``), the azimuth is ``atan2(v · r, −v · f)``: 0 for a chest facing the camera,
    ±π facing away. A rotation by ``θ`` about the up (right-handed) adds ``θ``.
    """
    up = torch.nn.functional.normalize(up, dim=1)
    forward = torch.zeros_like(up)
    forward[:, 2] = 1.0
    forward = torch.nn.functional.normalize(forward - (forward * up).sum(1, keepdim=True) * up, dim=1)
    right = torch.linalg.cross(forward, up, dim=1)
    return torch.atan2((vectors * right).sum(1), -(vectors * forward).sum(1))


def chest_azimuth(pose_cam_mm: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``(N, 17, 3)`` poses → ``(N,)`` the azimuth of their chests' outward normals."""
    from partpose.geometry.facing import chest_normal

    return ground_azimuth(chest_normal(pose_cam_mm), up.to(pose_cam_mm.dtype))


def angle_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``|a − b|`` wrapped to [0, π]."""
    return torch.atan2(torch.sin(a - b), torch.cos(a - b)).abs()


def heading_angle_deg(video, pose_cam_mm: torch.Tensor, min_rate: float) -> torch.Tensor | None:
    """``(T,)`` the angle (degrees) about the world's up between the way the video's boxes say
    its person travels (``partpose.data.travel.travel_heading``) and the way the chest faces in
    each frame (:func:`chest_azimuth`); ``None`` for a video that travels less than ``min_rate``
    of its distance per frame or has no boxes or up."""
    from partpose.data.travel import travel_heading

    if video.camera_up is None:
        return None
    direction, rate = travel_heading(video.person_box, video.camera_up[0])
    if direction is None or rate < min_rate:
        return None
    up = torch.from_numpy(video.camera_up[:1]).double().expand(len(pose_cam_mm), 3)
    heading = ground_azimuth(torch.from_numpy(direction).expand(len(pose_cam_mm), 3), up)
    return torch.rad2deg(angle_error(chest_azimuth(pose_cam_mm, up), heading))


def video_frames(videos, labels: list[float]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every frame of ``videos`` as ``(N, 3, H, W)`` images in [0, 1], each video's travel label
    repeated over its frames ``(N,)``, and the true front/back labels ``(N,)``."""
    images = torch.cat([torch.from_numpy(v.frames).permute(0, 3, 1, 2).float() / 255.0 for v in videos])
    travel = torch.cat([torch.full((len(v.frames),), label) for v, label in zip(videos, labels)])
    truth, _ = front_labels(torch.cat([torch.from_numpy(v.pose3d_cam_mm) for v in videos]))
    return images, travel, truth


def travel_parser(doc: str, checkpoints_help: str):
    """:func:`front_back_legibility.classifier_parser` with the arguments of the scripts that
    teach the travel's cues: ``--min-rate``, ``--videos``, ``--test-videos``, ``--threads``,
    ``--checkpoints`` (what is done with them: ``checkpoints_help``) and ``--out``."""
    parser = classifier_parser(doc)
    parser.add_argument("--min-rate", type=float, default=0.0025,
                        help="the least relative change of the distance per frame for a video's travel to count")
    parser.add_argument("--videos", type=int, default=1200, help="training videos rendered (spread over the plan)")
    parser.add_argument("--test-videos", type=int, default=400, help="test videos rendered")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: PyTorch's default)")
    parser.add_argument("--checkpoints", nargs="*", default=[],
                        help=f"models trained on this benchmark (files or run folders): {checkpoints_help}")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    return parser


def main(argv: list[str] | None = None) -> int:
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.training.config import load_config

    parser = travel_parser(__doc__, "their test poses given the classifier's side")
    parser.add_argument("--max-frames", type=int, default=4096, help="test frames kept")
    args = parser.parse_args(argv)
    use_threads(args.threads)

    lines = [
        f"Cues to the side a person shows (`python benchmarks/side_cues.py`; `{args.config.name}`'s benchmark, "
        f"{args.videos} training videos; travel counts from {args.min_rate:g} of the distance per frame): per motion, "
        "the share of training frames whose video's travel labels them and, of those, the share labelled right.",
        "",
        "| motion | frames | labelled by the boxes | right | labelled by the true depth | right "
        "| boxes' heading against the facing: median, within 45° |",
        "|---|---|---|---|---|---|---|",
    ]

    def rows():
        from partpose.data.travel import travel_front
        from partpose.errors import UserError

        config = load_config(args.config)
        synthetic = replace(config.data.synthetic, cache_dir=None)
        train_videos = build_synthetic_videos(synthetic, "train", spread=args.videos)
        per_motion: dict[str, list[tuple[int, int, int, int, int]]] = defaultdict(list)
        heading_angles: dict[str, list[torch.Tensor]] = defaultdict(list)
        labels = []
        for video in train_videos:
            pose = torch.from_numpy(video.pose3d_cam_mm).double()
            truth, _ = front_labels(pose)
            angle = heading_angle_deg(video, pose, args.min_rate)
            if angle is not None:
                heading_angles[video.action].append(angle)
            marks = [len(truth)]
            for label in (travel_front(video.person_box, args.min_rate), root_travel_front(pose, args.min_rate)):
                labelled = not math.isnan(label)
                marks += [len(truth) if labelled else 0, int((truth == label).sum()) if labelled else 0]
            per_motion[video.action].append(tuple(marks))
            labels.append(travel_front(video.person_box, args.min_rate))

        def share(part: int, whole: int) -> str:
            return f"{100.0 * part / whole:.0f} %" if whole else "–"

        def heading(angles: list[torch.Tensor]) -> str:
            if not angles:
                return "–"
            joined = torch.cat(angles)
            return f"{float(joined.median()):.0f}°, {float((joined < 45).double().mean() * 100):.0f} %"

        for motion, marks in sorted(per_motion.items()):
            n, box_n, box_right, root_n, root_right = (sum(column) for column in zip(*marks))
            yield (f"| {motion} | {n} | {share(box_n, n)} | {share(box_right, box_n)} | {share(root_n, n)} | "
                   f"{share(root_right, root_n)} | {heading(heading_angles[motion])} |")
        n, box_n, box_right, root_n, root_right = (sum(m[k] for ms in per_motion.values() for m in ms) for k in range(5))
        yield (f"| all | {n} | {share(box_n, n)} | {share(box_right, box_n)} | {share(root_n, n)} | "
               f"{share(root_right, root_n)} | {heading([a for v in heading_angles.values() for a in v])} |")

        labelled_videos = [v for v, label in zip(train_videos, labels) if not math.isnan(label)]
        if not labelled_videos:
            raise UserError(f"no training video's travel reaches --min-rate {args.min_rate:g}: nothing to teach")
        images, travel, truth = video_frames(labelled_videos, [label for label in labels if not math.isnan(label)])
        all_pose = torch.cat([torch.from_numpy(v.pose3d_cam_mm) for v in train_videos]).double()
        all_2d = torch.cat([torch.from_numpy(v.pose2d_norm) for v in train_videos]).double()
        gap = perspective_gap_px(all_pose, all_2d, synthetic.resolution)
        travel_right = accuracy(travel * 2.0 - 1.0, truth)
        yield ""
        yield "| cue (training frames) | frames it labels | right on them | note |"
        yield "|---|---|---|---|"
        yield (f"| travel towards / away from the camera (person boxes) | {100.0 * len(images) / len(all_pose):.0f} % | "
               f"{travel_right:.0f} % | the video's label on each of its frames |")
        yield (f"| chest leaning towards a camera above the hips | 100 % | {leaning_towards(all_pose - all_pose[:, :1]):.0f} % | "
               "E's poses all lean one way (L_twin's lean rule never fires) |")
        yield (f"| perspective: the twin's joints off the truth's | – | – | median {float(gap.median()):.2f} px, 95th percentile "
               f"{float(gap.quantile(0.95)):.2f} px at {synthetic.resolution}² |")

        test_frames = FrameDataset(build_synthetic_videos(synthetic, "test", spread=args.test_videos))
        test = load_split(test_frames, args.max_frames)
        yield ""
        yield "| classifier taught by | seed | training frames | its labels right | test (unseen people): all | test: clear | wall time |"
        yield "|---|---|---|---|---|---|---|"
        travel_logits = []
        for name, taught in (("the boxes' travel labels", travel), ("the true labels (same frames)", truth)):
            for seed in args.seeds:
                start = time.perf_counter()
                model = train_classifier(config.model.encoder, (images, taught), args.iterations, args.batch_size, args.lr, seed)
                on_test = logits_of(model, test[0])
                if taught is travel:
                    travel_logits.append((seed, on_test))
                yield (f"| {name} | {seed} | {len(images)} | {accuracy(taught * 2.0 - 1.0, truth):.0f} % | "
                       f"{accuracy(on_test, test[1]):.0f} % | {accuracy(on_test, test[1], test[2]):.0f} % | "
                       f"{time.perf_counter() - start:.0f} s |")
        if not args.checkpoints:
            return
        from benchmark_tables import load_synthetic_model
        from partpose.evaluation import metrics
        from partpose.geometry.facing import camera_up, faces_camera
        from partpose.inference.loading import resolve_checkpoint
        from view_probe import read_frames

        # the studio's cameras all look down at the middle of the elevation range (data.synthetic.make_scene)
        up = camera_up(0.5 * sum(synthetic.elevation_deg)).float() if synthetic.scene == "studio" else None
        twins = [("depth", None)] + ([("upright", up)] if up is not None else [])
        yield ""
        yield ("| checkpoint | classifier seed | its side right | MPJPE: as they are | "
               + " | ".join(f"{who}'s side, {name} twin" for who in ("the classifier", "the truth") for name, _ in twins)
               + " | shown from the front: as they are / truth |")
        yield "|---" * (5 + 2 * len(twins)) + "|"
        true_logits = test[1] * 2.0 - 1.0
        for path in args.checkpoints:
            loaded = load_synthetic_model(path)
            file = resolve_checkpoint(path)
            label = f"{file.parent.parent.name}/{file.name}"  # <run>/checkpoints/<file>
            read = read_frames(loaded.model, test_frames, args.max_frames)
            predicted, truth_pose = read["predicted"], read["truth"] - read["truth"][:, :1]
            as_is = float(metrics.mpjpe(predicted - predicted[:, :1], truth_pose))
            front = f"{float(faces_camera(predicted).double().mean() * 100):.0f} / {float(test[1].mean() * 100):.0f} %"
            for seed, logits in travel_logits:
                scores = [float(metrics.mpjpe(side_from(predicted, side, twin_up), truth_pose))
                          for side in (logits, true_logits) for _, twin_up in twins]
                yield (f"| {label} | {seed} | {accuracy(logits, test[1]):.0f} % | {as_is:.1f} | "
                       + " | ".join(f"{x:.1f}" for x in scores) + f" | {front} |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
