"""``partpose synthesize``: pose transfer, view synthesis (turntable) and appearance swap.

    partpose synthesize --checkpoint C --mode transfer --pose A.png --appearance B.png [--out DIR]
    partpose synthesize --checkpoint C --mode view --pose A.png [--steps 12]
    partpose synthesize --checkpoint C --mode swap --images A.png B.png C.png
    partpose synthesize --checkpoint C --mode swap --from-dataset synthetic
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from partpose.errors import UserError

FROM_DATASET_COUNT = {"transfer": 3, "view": 2, "swap": 4}
"""Test frames ``--from-dataset`` picks per mode unless ``--count`` says otherwise."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from partpose.inference.synthesis import DATASETS, MODES

    parser = subparsers.add_parser(
        "synthesize",
        help="novel images: pose transfer, view synthesis (turntable), appearance swap",
        description="Redraw people with the decoder. transfer: the pose of each --pose image with the "
        "appearance of the matching --appearance image (transfer.png). view: the pose of each --pose image "
        "turned about the body's vertical axis in --steps steps (turntable.gif, turntable.png). swap: every "
        "appearance with every pose, rows appearance, columns pose (swap.png). Images are centre-cropped "
        "to a square; --from-dataset picks test frames instead.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file or run folder")
    parser.add_argument("--mode", required=True, choices=MODES, help="transfer, view or swap")
    parser.add_argument("--pose", nargs="+", type=Path, default=[], metavar="IMG",
                        help="images (or folders of images) that give the pose")
    parser.add_argument("--appearance", nargs="+", type=Path, default=[], metavar="IMG",
                        help="images (or folders) that give the appearance")
    parser.add_argument("--images", nargs="+", type=Path, default=[], metavar="IMG",
                        help="the same images for pose and appearance (swap: a square grid)")
    parser.add_argument("--from-dataset", default=None, metavar="NAME",
                        help=f"pick test frames of a dataset instead of images (known: {', '.join(DATASETS)})")
    parser.add_argument("--count", type=int, default=None, help="frames --from-dataset picks (default: 3, 2, 4 by mode)")
    parser.add_argument("--box", default="centre", help="crop of every image: centre (default), full or x0,y0,side")
    parser.add_argument("--steps", type=int, default=12, help="view mode: turntable steps (default: 12)")
    parser.add_argument("--out", type=Path, default=Path("synthesis"), help="output folder (default: synthesis)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.set_defaults(func=run)


def _read(paths: list[Path], size: int, box) -> np.ndarray:
    from partpose.inference.predict import read_crops

    return np.concatenate([read_crops(path, size, box).images for path in paths])


def run(args: argparse.Namespace) -> int:
    from partpose.inference.loading import load_model
    from partpose.inference.predict import parse_box
    from partpose.inference.synthesis import dataset_images, write_synthesis

    box = parse_box(args.box)
    if args.steps < 1:
        raise UserError(f"--steps must be >= 1, got {args.steps}")
    given = args.pose or args.appearance or args.images
    if args.from_dataset and given:
        raise UserError("give either images (--pose/--appearance/--images) or --from-dataset, not both")
    if not args.from_dataset and not given:
        raise UserError("no input: give --pose (and --appearance) images, --images, or --from-dataset synthetic")
    for path in [*args.pose, *args.appearance, *args.images]:
        if not path.exists():
            raise UserError(f"{path}: no such file or folder")
    loaded = load_model(args.checkpoint, args.device)
    size = loaded.resolution
    if args.from_dataset:
        count = args.count if args.count is not None else FROM_DATASET_COUNT[args.mode]
        if count < 1 or (args.mode == "transfer" and count < 2):
            raise UserError(f"--count must be >= {2 if args.mode == 'transfer' else 1} for {args.mode}, got {count}")
        frames, _ = dataset_images(loaded.config, count, args.from_dataset)
        poses = frames
        appearances = np.roll(frames, -1, axis=0) if args.mode == "transfer" else frames
    else:
        shared = _read(args.images, size, box) if args.images else None
        poses = _read(args.pose, size, box) if args.pose else shared
        appearances = _read(args.appearance, size, box) if args.appearance else shared
        if poses is None:
            raise UserError(f"--mode {args.mode} needs --pose (or --images)")
        if appearances is None:
            if args.mode != "view":
                raise UserError(f"--mode {args.mode} needs --appearance (or --images)")
            appearances = poses
    files = write_synthesis(loaded.model, args.mode, poses, appearances, args.out, steps=args.steps)
    print(f"{args.mode}: {len(poses)} pose and {len(appearances)} appearance images at {size}x{size}; wrote:")
    for path in files:
        print(f"  {path}")
    return 0
