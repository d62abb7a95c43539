"""``partpose data``: render the synthetic benchmark to files, and preview datasets.

    partpose data synth --out DIR [--split train|test] [--resolution 64] [--seed 0]
    partpose data preview --dataset synthetic [--out FILE.png] [--split train] [--n 6]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from partpose.errors import UserError

FRAME_FORMATS = ("mp4", "png", "none")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="render the synthetic benchmark to files, preview datasets",
        description="Render the synthetic benchmark to files (synth) or draw a contact sheet of a "
        "dataset (preview).",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")

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
    synth.add_argument("--videos-per-motion", type=int, default=None,
                       help="videos per motion clip (default: the benchmark's, 20 train / 8 test)")
    synth.add_argument("--frames-per-video", type=int, default=None, help="cap on frames per video (default: 32)")
    synth.add_argument("--frames", default="mp4", help="preview format: mp4, png (every frame) or none")
    synth.set_defaults(func=run_synth)

    preview = sub.add_parser(
        "preview",
        help="contact sheet PNG: frames, skeletons, part labels, backgrounds, saliency",
        description="Draw a contact sheet of a dataset: per video a frame, its 2D skeleton, part "
        "segmentation, the clip's median background and the saliency map.",
    )
    preview.add_argument("--dataset", default="synthetic", help="dataset name (known: synthetic)")
    preview.add_argument("--out", type=Path, default=Path("preview.png"), help="PNG file (default: preview.png)")
    preview.add_argument("--split", default="train", help="train or test (default: train)")
    preview.add_argument("--n", type=int, default=6, help="number of videos (default: 6)")
    preview.add_argument("--resolution", type=int, default=64, help="crop side in pixels (default: 64)")
    preview.add_argument("--seed", type=int, default=0, help="benchmark seed (default: 0)")
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

    path = write_preview(args.out, args.dataset, args.split, args.n, args.resolution, args.seed)
    print(f"wrote {path}")
    return 0
