"""Draw the pictures of docs/usage.md from a checkpoint.

    python docs/make_usage_figures.py --checkpoint runs/default [--out docs/images]

Writes, from test videos of the synthetic benchmark rendered with the checkpoint's settings:

    usage_predict.gif      `partpose predict` overlay of one test video (skeleton, parts, re-synthesis)
    usage_skeleton3d.png   the first and middle frame of that video in 2D and 3D
    usage_transfer.png     pose transfer (`synthesize --mode transfer`)
    usage_turntable.gif    view synthesis (`synthesize --mode view`), and usage_turntable.png
    usage_swap.png         appearance swap grid (`synthesize --mode swap`)

Every picture is kept under 300 KB (the script says when one is not).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from partpose.inference import figures
from partpose.inference.loading import load_model
from partpose.inference.predict import encode_crops, overlay_frames, synthesize_frames
from partpose.inference.synthesis import (
    dataset_images,
    swap_figure,
    swap_grid,
    transfer,
    transfer_figure,
    turntable,
    turntable_frames,
    turntable_strip,
)

LIMIT_BYTES = 300_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file or run folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "images")
    parser.add_argument("--video", type=int, default=3, help="index of the test video shown by predict (default: 3)")
    parser.add_argument("--frames", type=int, default=8, help="frames of that video in the GIF (default: 8)")
    args = parser.parse_args()
    torch.manual_seed(0)
    loaded = load_model(args.checkpoint, "cpu")
    model, config = loaded.model, loaded.config
    out = args.out
    written = []

    # predict: one test video, every other frame
    from partpose.data.synthetic import build_synthetic_videos

    video = build_synthetic_videos(config.data.synthetic, "test", indices=[args.video])[0]
    crops = video.frames[:: 2][: args.frames]
    pred = encode_crops(model, crops)
    labels, resynthesis = synthesize_frames(model, pred)
    names = [f"frame {2 * t}" for t in range(len(crops))]
    panels = overlay_frames(crops, pred.q, labels, resynthesis, names, tile=112)
    written.append(figures.write_animation(out / "usage_predict.gif", panels, fps=5))
    picks = [0, len(crops) // 2]
    written.append(figures.skeleton_figure(out / "usage_skeleton3d.png", crops[picks], pred.q[picks],
                                           pred.pose_cam_mm[picks], [names[i] for i in picks], tile=192))

    # novel image synthesis on test frames of different subjects, motions and backgrounds
    frames, _ = dataset_images(config, 4)
    tensors = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    poses, appearances = frames[:3], np.roll(frames, -1, axis=0)[:3]
    result = transfer(model, tensors[:3], torch.roll(tensors, -1, dims=0)[:3])
    written.append(figures.write_png(out / "usage_transfer.png", transfer_figure(poses, appearances, result, tile=128)))
    spin = turntable(model, tensors[:1], steps=12)
    written.append(figures.write_animation(out / "usage_turntable.gif", turntable_frames(spin, tile=128), fps=4))
    written.append(figures.write_png(out / "usage_turntable.png", turntable_strip(spin, tile=72)))
    grid = swap_grid(model, tensors, tensors)
    written.append(figures.write_png(out / "usage_swap.png", swap_figure(frames, frames, grid, tile=80)))

    for path in written:
        size = path.stat().st_size
        note = "" if size < LIMIT_BYTES else f"  (over {LIMIT_BYTES // 1000} KB)"
        print(f"{path}: {size / 1000:.0f} KB{note}")


if __name__ == "__main__":
    main()
