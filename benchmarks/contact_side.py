"""Which of a pose and its upright twin keeps the body's lowest joint still: the floor's contact as a cue to the side.

    python benchmarks/contact_side.py RUN_OR_CHECKPOINT [--split train|test] [--threads T] [--out FILE.md]

A pose and its upright twin (``geometry.facing.upright_twin_pose``) draw the same 2D joints and
show the camera opposite sides; no frame alone tells them apart (docs/learning.md, "How legible is
the front from the back?"). A video does, through physics: a foot on the floor stays where it is
while the body travels. The root's track comes from the person boxes and the encoder's camera
scale (:func:`root_from_boxes`); the joints about the root from the pose. Along the camera's level
line of sight the twin negates every joint's offset from the root, so where the pose keeps its
lowest joint still as the root comes nearer, the twin moves that joint at twice the root's speed
(:func:`contact_skates`). The cue needs no labels, holds for every motion with a foot (or a hand,
or a knee) on the floor and some travel, and does not assume that people move the way they face,
which the travel labels do and which is wrong on the videos of crawls, spins, jumps, rolls and
getups (docs/learning.md, "The side network taught again beside the finished pose network").

Per motion, the share of the videos whose pose (rather than its twin) the cue keeps, with the
joints and the root from four sources: the truth's joints and root (the cue's best case); the
truth's joints with the root from the boxes and the truth's own scale replaced by the encoder's;
the encoder's joints with the true root; and the encoder's joints and root, the cue as it could be
used. For the encoder's joints a video counts as right when the kept one of its pose and twin
shows the true side (``model.side_definition``) on most of its frames. The root from the boxes is
fitted by a straight line over each video (:func:`line_fit`), which its per-frame scale noise
needs.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_tables import finish_table, use_threads  # noqa: E402
from partpose.data.pairs import true_fronts  # noqa: E402
from partpose.data.travel import box_distance  # noqa: E402
from partpose.errors import UserError  # noqa: E402
from partpose.geometry import facing  # noqa: E402
from partpose.inference.loading import load_model  # noqa: E402
from partpose.inference.predict import images_to_tensor  # noqa: E402
from partpose.training.data_setup import build_training_data  # noqa: E402

SOURCES = ("true joints, true root", "true joints, boxes' root", "E's joints, true root", "E's joints, boxes' root")
"""The columns: where the joints about the root and the root's track come from."""


def root_from_boxes(person_box: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """The root's camera-frame position (mm) in each frame, from the crop boxes and the encoder's camera.

    The root's distance is ``Z = 2 / (scale s)`` for a crop of side ``s`` (``Video.person_box``;
    ``partpose.data.travel.box_distance``); it is drawn at ``offset``, the ray
    ``box centre + offset s / 2``.

    Args:
        person_box: ``(T, 3)`` ``(x, y, side)``; scale: ``(T,)``; offset: ``(T, 2)``.
    Returns:
        ``(T, 3)`` float64 millimetres, camera coordinates (x right, y down, z forward).
    """
    box, scale, offset = person_box.double(), scale.double(), offset.double()
    distance_mm = 1000.0 * torch.from_numpy(box_distance(box.cpu().numpy(), scale.cpu().numpy()))
    ray = torch.cat((box[:, :2] + offset * box[:, 2:] / 2.0, torch.ones_like(box[:, :1])), dim=1)
    return ray * distance_mm[:, None]


def line_fit(values: torch.Tensor) -> torch.Tensor:
    """``(T, D)`` -> ``(T, D)``: each column replaced by its least-squares straight line over the
    frames (a steady travel; the frames' noise left out). One frame: returned as it is."""
    if len(values) < 2:
        return values
    frame = torch.arange(len(values), dtype=values.dtype)
    design = torch.stack((frame, torch.ones_like(frame)), dim=1)
    coefficients = torch.linalg.lstsq(design, values).solution
    return design @ coefficients


def contact_skates(root_mm: torch.Tensor, relative_mm: torch.Tensor, up_cam: torch.Tensor) -> tuple[float, float]:
    """How far a video's lowest joint slides along the level line of sight, under the pose and under its twin.

    For each pair of consecutive frames, the joint lowest along the world's up in the first (the
    one on the floor; a pose and its upright twin share every joint's height) is followed to the
    second. Its position along the camera's level line of sight (``geometry.facing.level_sight``)
    is the root's plus its offset from the root, which the twin negates: it moves by
    ``Δroot + Δoffset`` under the pose and ``Δroot − Δoffset`` under the twin. The sums of those
    moves' sizes are returned; the one whose joint on the floor stays still is the smaller.

    Args:
        root_mm: ``(T, 3)`` the root's camera-frame track; relative_mm: ``(T, J, 3)`` the joints
            about the root; up_cam: ``(3,)`` or ``(T, 3)`` the world's up in camera coordinates.
    Returns:
        ``(pose's slide, twin's slide)`` in millimetres (0.0 for a single frame).
    """
    relative = relative_mm.double()
    up = torch.nn.functional.normalize(up_cam.double().expand(len(relative), 3), dim=-1)
    level = facing.level_sight(up, relative)
    along = (relative * level[:, None]).sum(dim=-1)  # (T, J)
    lowest = (relative * up[:, None]).sum(dim=-1).argmin(dim=1)  # (T,)
    first = torch.arange(len(relative) - 1)
    offset_move = along[first + 1, lowest[:-1]] - along[first, lowest[:-1]]
    root_along = (root_mm.double() * level).sum(dim=-1)
    root_move = root_along[1:] - root_along[:-1]
    return float((root_move + offset_move).abs().sum()), float((root_move - offset_move).abs().sum())


def measure(source: Path, split: str = "train", device: str = "cpu") -> dict[str, dict[str, list[bool]]]:
    """``{motion: {source: [kept the right one, one entry a video]}}`` over the run's training or
    test videos (module docstring).

    Raises:
        UserError: no checkpoint, or videos without the person boxes or the 3D poses it needs.
    """
    loaded = load_model(source, device)
    model, config = loaded.model, loaded.config
    data = build_training_data(config)
    videos = data.pairs.videos if split == "train" else data.test_frames.videos
    if any(v.person_box is None or v.pose3d_cam_mm is None for v in videos):
        raise UserError(f"{source}: the {split} videos need person boxes and 3D poses (the synthetic benchmark has both)")
    right: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    with torch.no_grad():
        for video in videos:
            if video.num_frames < 2:
                continue
            est = model.encode(images_to_tensor(video.frames, device))
            camera_up = None if video.camera_up is None else torch.from_numpy(np.asarray(video.camera_up, np.float32)).to(device)
            up = model.world_up(camera_up, est.pose_cam_mm.float()).double().cpu()
            truth = torch.from_numpy(np.asarray(video.pose3d_cam_mm, np.float64))
            true_root, true_relative = truth[:, 0], truth - truth[:, :1]
            boxes_root = line_fit(root_from_boxes(torch.from_numpy(np.asarray(video.person_box)), est.scale.cpu(), est.offset.cpu()))
            encoded = est.pose_cam_mm.double().cpu()
            true_front = torch.from_numpy(true_fronts(video, config.model.side_definition, config.model.side_camera_elevation_deg) > 0.5)
            pose_front = facing.shows_front(encoded, up, config.model.side_definition)
            pose_right = bool((pose_front == true_front).double().mean() > 0.5)  # the pose, not its twin, shows the true side
            for name, relative, root, pose_is_right in ((SOURCES[0], true_relative, true_root, True),
                                                        (SOURCES[1], true_relative, boxes_root, True),
                                                        (SOURCES[2], encoded, true_root, pose_right),
                                                        (SOURCES[3], encoded, boxes_root, pose_right)):
                pose_slide, twin_slide = contact_skates(root, relative, up)
                right[video.action][name].append((pose_slide < twin_slide) == pose_is_right)
    return right


def table_lines(right: dict[str, dict[str, list[bool]]]) -> list[str]:
    """The Markdown rows: per motion and over all, the videos and the share kept right per source."""
    lines = ["| motion | videos | " + " | ".join(SOURCES) + " |", "|---|---|" + "---|" * len(SOURCES)]
    total: dict[str, list[bool]] = defaultdict(list)
    for motion in sorted(right):
        counts = right[motion]
        lines.append(f"| {motion} | {len(counts[SOURCES[0]])} | "
                     + " | ".join(f"{100 * np.mean(counts[s]):.1f}" for s in SOURCES) + " |")
        for s in SOURCES:
            total[s].extend(counts[s])
    lines.append(f"| all | {len(total[SOURCES[0]])} | " + " | ".join(f"{100 * np.mean(total[s]):.1f}" for s in SOURCES) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a checkpoint file or run folder")
    parser.add_argument("--split", choices=("train", "test"), default="train", help="the run's training or test videos")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: PyTorch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    try:
        right = measure(args.source, args.split, args.device)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    command = f"python benchmarks/contact_side.py {args.source} --split {args.split}"
    intro = (f"The floor's contact as a cue to the side (`{command}`): per motion, the share of the {args.split} videos "
             "whose pose, rather than its upright twin, keeps its lowest joint still along the level line of sight "
             "(for the encoder's joints: the one of the two that shows the true side), with the joints about the root "
             "and the root's track from the truth, the person boxes and the encoder's camera scale (fitted by a line "
             "over each video), or the encoder's pose.")
    return finish_table([intro, "", *table_lines(right)], args.out)


if __name__ == "__main__":
    raise SystemExit(main())
