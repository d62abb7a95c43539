"""``partpose predict``: 3D poses of an image, a folder of images or a video.

    partpose predict INPUT --checkpoint C [--out DIR] [--box centre|full|x0,y0,side] [--smooth K]
                     [--camera-pitch DEG] [--flip-test] [--side-window K] [--add-side CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from partpose.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    from partpose.inference.predict import OVERLAY_FORMATS
    from partpose.geometry.view_smoothing import POSE_SMOOTHING_METHODS

    parser = subparsers.add_parser(
        "predict",
        help="3D poses of an image, a folder of images or a video",
        description="Crop every frame to a square (the centre of the frame, the whole frame, or a given "
        "box around the person), resize it to the model resolution and predict its 3D pose. Writes "
        "poses.npz and poses.json (camera-frame 3D joints in mm, 2D joints in crop and source pixel "
        "coordinates), an overlay animation (2D skeleton, the decoder's part segmentation, the "
        "re-synthesis) and skeleton3d.png (the first and the middle frame in 3D).",
    )
    parser.add_argument("input", type=Path, help="an image, a folder of images or a video file")
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file or run folder")
    parser.add_argument("--out", type=Path, default=Path("predictions"), help="output folder (default: predictions)")
    parser.add_argument("--box", default="centre",
                        help="person crop in every frame: centre (largest centred square, default), full (the "
                        "whole frame with black bars) or x0,y0,side in source pixels")
    parser.add_argument("--smooth", type=int, default=1,
                        help="temporal smoothing window in frames (odd; 1 = none) for folders and videos")
    parser.add_argument("--smooth-method", default="mean", choices=POSE_SMOOTHING_METHODS,
                        help="mean (centred moving average), savgol (Savitzky-Golay, order 2), or view: the body's "
                        "rotation averaged over the window, the limbs and 2D joints per frame")
    parser.add_argument("--overlay", default="auto", choices=OVERLAY_FORMATS,
                        help="overlay animation: auto (mp4 for videos, gif otherwise), gif, mp4 or none")
    parser.add_argument("--camera-pitch", type=float, default=None, metavar="DEG",
                        help="how far the camera looks down at the person, in degrees, for a model with a side "
                        "network (default: the pitch it was trained with, model.side_camera_elevation_deg)")
    parser.add_argument("--flip-test", action="store_true",
                        help="read every crop and its mirror image and average the two poses, both given one "
                        "side (twice the compute)")
    parser.add_argument("--side-window", type=int, default=1, metavar="K",
                        help="for a model with a side network and a video or folder of one person: give every "
                        "frame the side (front or back) the frames around it read, the side network's logits "
                        "averaged over K frames (odd; default 1: each frame its own) or over all of them (0)")
    parser.add_argument("--add-side", nargs="+", type=Path, default=[], metavar="CHECKPOINT",
                        help="for a model with a side network: read the side with the side networks of these checkpoints "
                        "too, their logits and the model's own averaged (side networks taught again beside the same pose "
                        "network, benchmarks/side_refit.py; docs/usage.md)")
    parser.add_argument("--ground-band", type=float, default=None, metavar="DEG",
                        help="for a model with a side network: bodies whose spine lies within DEG of level take the "
                        "side their 2D hands and legs give (the end on the floor lower in the image is the nearer) "
                        "instead of the side network's (default: the model's model.side_ground_band_deg; 0: none)")
    parser.add_argument("--every", type=int, default=1, help="keep every N-th frame (default: 1)")
    parser.add_argument("--max-frames", type=int, default=None, help="keep at most N frames")
    parser.add_argument("--batch-size", type=int, default=64, help="crops per forward pass (default: 64)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default 0: PyTorch's choice; on a busy machine, the idle cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from partpose.inference.loading import add_side_networks, load_model, set_ground_band, set_threads
    from partpose.inference.predict import parse_box, predict_path

    from partpose.geometry.view_smoothing import check_side_window

    box = parse_box(args.box)
    check_side_window(args.side_window)
    if args.smooth < 1 or args.smooth % 2 == 0:
        raise UserError(f"--smooth must be an odd number of frames >= 1, got {args.smooth}")
    if not args.input.exists():
        raise UserError(f"{args.input}: no such file or folder")
    if args.camera_pitch is not None and not -80.0 <= args.camera_pitch <= 80.0:
        raise UserError(f"--camera-pitch must be within -80..80 degrees, got {args.camera_pitch}")
    set_threads(args.threads)
    loaded = load_model(args.checkpoint, args.device)
    set_ground_band(loaded, args.ground_band)
    add_side_networks(loaded, args.add_side)
    if args.camera_pitch is not None and loaded.model.side is None:
        raise UserError("--camera-pitch turns the side network's poses, and this model has no side network "
                        "(model.side_network)")
    if args.side_window != 1 and loaded.model.side is None:
        raise UserError("--side-window reads the side network's side over the frames, and this model has no side "
                        "network (model.side_network)")
    info = {"checkpoint": str(loaded.path), "step": loaded.step, "input": str(args.input), "box": args.box,
            "smooth": args.smooth, "smooth_method": args.smooth_method if args.smooth > 1 else None,
            "resolution": loaded.resolution, "camera_pitch_deg": args.camera_pitch, "flip_test": args.flip_test,
            "side_window": args.side_window, "ground_band_deg": loaded.model.config.side_ground_band_deg,
            "added_side_networks": [str(path) for path in args.add_side]}
    result = predict_path(loaded.model, args.input, args.out, box=box, smooth=args.smooth,
                          smooth_method=args.smooth_method, overlay=args.overlay, every=args.every,
                          max_frames=args.max_frames, batch_size=args.batch_size,
                          progress=not args.no_progress, info=info, camera_pitch_deg=args.camera_pitch,
                          flip_test=args.flip_test, side_window=args.side_window)
    n = len(result.crops)
    print(f"{n} frame{'s' if n != 1 else ''} of {args.input} ({result.crops.kind}) at "
          f"{loaded.resolution}x{loaded.resolution}; wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0
