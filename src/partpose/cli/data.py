"""``partpose data``: prepare real datasets, render the synthetic benchmark to files, and
preview datasets.

    partpose data prepare --dataset h36m|mpi_inf_3dhp|3dpw|own --root DIR --out DIR [--resolution 128]
                          [--subjects S1 S9 ...]
    partpose data synth --out DIR [--split train|test] [--resolution 64] [--seed 0]
    partpose data preview --dataset NAME [--root DIR] [--out FILE.png] [--split SPLIT] [--n 6]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from partpose.errors import UserError

FRAME_FORMATS = ("mp4", "png", "none")


def register(subparsers: argparse._SubParsersAction) -> None:
    from partpose.data.synthetic import SyntheticConfig

    parser = subparsers.add_parser(
        "data",
        help="prepare real datasets, render the synthetic benchmark to files, preview datasets",
        description="Crop a real dataset once for training (prepare), render the synthetic benchmark "
        "to files (synth) or draw a contact sheet of a dataset (preview).",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

    prepare = sub.add_parser(
        "prepare",
        help="crop a real dataset (Human3.6M, MPI-INF-3DHP, 3DPW, your videos) once into a training folder",
        description="Read your copy of a dataset (layouts: docs/datasets.md), crop every kept frame around "
        "the person and write the clips to OUT/<split>/ with OUT/index.json. Train on it with "
        "`partpose train --config configs/<dataset>.yaml data.root=OUT` (configs/own_videos.yaml for --dataset own).",
    )
    prepare.add_argument("--dataset", required=True, help="h36m, mpi_inf_3dhp, 3dpw or own")
    prepare.add_argument("--root", type=Path, required=True, help="your copy of the dataset")
    prepare.add_argument("--out", type=Path, required=True, help="output folder (the training config's data.root)")
    prepare.add_argument("--resolution", type=int, default=128,
                         help="crop side in pixels; must equal the model's resolution (default: 128)")
    prepare.add_argument("--subjects", nargs="+", metavar="NAME",
                         help="only these: Human3.6M subjects (S1 S5 S6 S7 S8 train, S9 S11 test) or "
                         "MPI-INF-3DHP training subjects (S1 ... S8) and test sequences (TS1 ... TS6); "
                         "default: all")
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar")
    prepare.set_defaults(func=run_prepare)

    synth = sub.add_parser(
        "synth",
        help="render synthetic videos: one .npz per video, a preview per video and index.json",
        description="Render one split of the synthetic benchmark into DIR/<split>/: <video>.npz "
        "(frames, median background, 3D/2D joints, part labels; load with "
        "partpose.data.video.load_video), a preview (<video>.mp4, or PNG frames), and "
        "DIR/index.json listing every video and the configuration.",
    )
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--split", default="train", help="train or test (default: train)")
    synth.add_argument("--resolution", type=int, default=64, help="crop side in pixels (default: 64)")
    synth.add_argument("--seed", type=int, default=0, help="seed of the whole benchmark (default: 0)")
    benchmark = SyntheticConfig()
    synth.add_argument("--videos-per-motion", type=int, default=None,
                       help="videos per motion clip (default: the benchmark's, "
                       f"{benchmark.videos_per_motion} train / {benchmark.test_videos_per_motion} test)")
    synth.add_argument("--frames-per-video", type=int, default=None,
                       help=f"cap on frames per video (default: {benchmark.frames_per_video})")
    synth.add_argument("--frames", default="mp4", help="preview format: mp4, png (every frame) or none")
    synth.set_defaults(func=run_synth)

    preview = sub.add_parser(
        "preview",
        help="contact sheet PNG: frames, skeletons, part labels, backgrounds, saliency",
        description="Draw a contact sheet of a dataset: per video a frame, its 2D skeleton, part "
        "segmentation, the clip's median background and the saliency map.",
    )
    preview.add_argument("--dataset", default="synthetic",
                         help="synthetic, h36m, mpi_inf_3dhp, 3dpw or own (default: synthetic)")
    preview.add_argument("--root", type=Path,
                         help="prepared folder (partpose data prepare --out, or partpose data synth --out); "
                         "required for all but the rendered synthetic benchmark")
    preview.add_argument("--out", type=Path, default=Path("preview.png"), help="PNG file (default: preview.png)")
    preview.add_argument("--split", default=None,
                         help="train, test, ... (default: train, or the first prepared split without one)")
    preview.add_argument("--n", type=int, default=6, help="number of videos (default: 6)")
    preview.add_argument("--resolution", type=int, default=64,
                         help="rendered synthetic benchmark only: crop side in pixels (default: 64)")
    preview.add_argument("--seed", type=int, default=0, help="rendered synthetic benchmark only: seed (default: 0)")
    preview.set_defaults(func=run_preview)
    parser.set_defaults(func=lambda args: _missing_action(parser))


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_synth(args: argparse.Namespace) -> int:
    from partpose.data.synthetic import SyntheticConfig, build_synthetic_videos
    from partpose.data.video import save_video

    if args.frames not in FRAME_FORMATS:
        raise UserError(f"--frames must be one of {', '.join(FRAME_FORMATS)}, got {args.frames!r}")
    if args.split not in ("train", "test"):
        raise UserError(f"unknown split {args.split!r}; known splits: train, test")
    config = SyntheticConfig(resolution=args.resolution, seed=args.seed)
    if args.videos_per_motion is not None:
        config.videos_per_motion = config.test_videos_per_motion = args.videos_per_motion
    if args.frames_per_video is not None:
        config.frames_per_video = args.frames_per_video
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    videos = build_synthetic_videos(config, args.split)
    entries = []
    for video in videos:
        stem = out / video.name  # "<split>/<index>_<motion>"
        save_video(stem.with_suffix(".npz"), video)
        _write_frames(stem, video.frames, args.frames, config.fps)
        entries.append({
            "name": video.name, "file": stem.with_suffix(".npz").relative_to(out).as_posix(),
            "subject": video.subject, "action": video.action, "frames": video.num_frames,
            "camera_moves": bool(video.camera_moves),
        })
    index_path = out / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    index.setdefault("splits", {})[args.split] = {"config": asdict(config), "videos": entries}
    index_path.write_text(json.dumps(index, indent=1))
    frames = sum(v.num_frames for v in videos)
    print(f"wrote {len(videos)} {args.split} videos ({frames} frames, {config.resolution}x{config.resolution}) "
          f"to {out / args.split}; index: {index_path}")
    return 0


def _write_frames(stem: Path, frames: np.ndarray, kind: str, fps: float) -> None:
    if kind == "mp4":
        import imageio.v3 as iio

        iio.imwrite(stem.with_suffix(".mp4"), frames, fps=fps, plugin="pyav", codec="libx264")
    elif kind == "png":
        import imageio.v3 as iio

        stem.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(frames):
            iio.imwrite(stem / f"{t:04d}.png", frame)


def run_preview(args: argparse.Namespace) -> int:
    from partpose.data.preview import write_preview

    path = write_preview(args.out, args.dataset, args.split, args.n, args.resolution, args.seed, args.root)
    print(f"wrote {path}")
    return 0


MIN_RESOLUTION = 16
"""Smallest crop side ``partpose data prepare`` writes, px (the model's is 64 or 128)."""

CONFIG_OF = {"h36m": "h36m", "mpi_inf_3dhp": "mpi_inf_3dhp", "3dpw": "3dpw", "own": "own_videos"}
"""The configuration in ``configs/`` that trains on each prepared dataset."""


def run_prepare(args: argparse.Namespace) -> int:
    from partpose.data.datasets import PREPARE, prepare_dataset

    if args.dataset not in PREPARE:
        raise UserError(f"unknown dataset {args.dataset!r}; known datasets: {', '.join(PREPARE)}")
    if args.resolution < MIN_RESOLUTION:
        raise UserError(f"--resolution must be >= {MIN_RESOLUTION} pixels, got {args.resolution}")
    root, out = Path(args.root), Path(args.out)
    if not root.is_dir():
        raise UserError(f"--root {root}: folder not found (your copy of the dataset; layout: docs/datasets.md)")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    progress = not args.no_progress
    # A damaged video is reported once, by name (UserError), not also by FFmpeg's own log lines.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if args.subjects:
        summary = _prepare_subjects(args.dataset, root, out, args.resolution, progress, args.subjects)
    else:
        summary = prepare_dataset(args.dataset, root, out, args.resolution, progress)
    for split, entry in summary.items():
        videos = entry["videos"]
        frames = sum(v["frames"] for v in videos)
        print(f"{split}: {len(videos)} clips, {frames} frames of {args.resolution}x{args.resolution} in {out / split}")
    print(f"index: {out / 'index.json'}")
    if "train" in summary:
        print(f"to train:    partpose train --config configs/{CONFIG_OF[args.dataset]}.yaml data.root={out}")
    if "test" in summary:
        print(f"to evaluate: partpose evaluate --checkpoint RUN/checkpoints/last.pt --dataset {args.dataset} --root {out}")
    return 0


def _prepare_subjects(dataset: str, root: Path, out: Path, resolution: int, progress: bool,
                      subjects: list[str]) -> dict[str, dict]:
    """``prepare_dataset`` restricted to some subjects (Human3.6M) or subjects and test sequences
    (MPI-INF-3DHP); a split none of whose subjects is named is not prepared."""
    if dataset == "h36m":
        from partpose.data.datasets.h36m import H36M_SUBJECTS, prepare_h36m

        known = [s for members in H36M_SUBJECTS.values() for s in members]
        _check_names(subjects, known, "Human3.6M subject")
        splits = [split for split, members in H36M_SUBJECTS.items() if set(members) & set(subjects)]
        return prepare_h36m(root, out, resolution, progress, splits=splits, subjects=subjects)
    if dataset == "mpi_inf_3dhp":
        from partpose.data.datasets.crops import save_prepared
        from partpose.data.datasets.mpi_inf_3dhp import (
            TEST_SEQUENCES,
            TRAIN_SUBJECTS,
            iter_test_videos,
            iter_train_videos,
        )

        _check_names(subjects, TRAIN_SUBJECTS + TEST_SEQUENCES, "MPI-INF-3DHP subject or test sequence")
        train = [s for s in TRAIN_SUBJECTS if s in subjects]
        test = [s for s in TEST_SEQUENCES if s in subjects]
        summary = {}
        if train:
            summary["train"] = save_prepared(iter_train_videos(root, resolution, subjects=train), out, "train",
                                             dataset, {"resolution": resolution, "subjects": train}, progress)
        if test:
            summary["test"] = save_prepared(iter_test_videos(root, resolution, sequences=test), out, "test",
                                            dataset, {"resolution": resolution, "sequences": test}, progress)
        return summary
    raise UserError(f"--subjects applies to h36m and mpi_inf_3dhp, not {dataset}")


def _check_names(names: list[str], known: tuple[str, ...] | list[str], what: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UserError(f"unknown {what} {', '.join(unknown)}; known: {' '.join(known)}")
