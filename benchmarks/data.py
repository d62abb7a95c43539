"""Throughput of the synthetic benchmark on one CPU core: frames per second of the renderer
(ray casting, shading, backdrop, noise), of a whole video (plus the median background and the
camera-motion test) and of the saliency maps, at 64 and 128 pixels. Medians over repeats.

    python benchmarks/data.py [--repeats 5] [--videos 12]

Prints a Markdown table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: set before numpy loads its BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from partpose.data import synthetic as S  # noqa: E402
from partpose.data.mocap import mirror  # noqa: E402
from partpose.data.saliency import saliency_maps  # noqa: E402


def _prepare(resolution: int, videos: int):
    config = S.SyntheticConfig(resolution=resolution)
    motions = S.load_split_motions(config, "train")
    specs = S.plan_videos(config, "train", {name: len(p) for name, p in motions.items()})
    specs = [specs[i] for i in np.linspace(0, len(specs) - 1, videos).round().astype(int)]
    subjects = {s.name: s for s in S.split_subjects(config, "train")}
    return config, motions, specs, subjects


def _render_only(config, motions, specs, subjects) -> int:
    frames = 0
    for spec in specs:
        window = motions[spec.motion][spec.start:spec.start + spec.num_frames]
        window = mirror(window) if spec.mirrored else window
        scene = S.make_scene(config, spec, subjects[spec.subject])
        frames += len(S.render_clip(window, scene, config.resolution, config.crop_margin, config.noise_std).frames)
    return frames


def _whole_videos(config, motions, specs, subjects) -> int:
    return sum(S.render_spec(config, spec, motions[spec.motion], subjects)[0].num_frames for spec in specs)


def _timed(fn, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        frames = fn()
        rates.append(frames / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--videos", type=int, default=12, help="videos per repeat")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    rows = []
    for resolution in (64, 128):
        prepared = _prepare(resolution, args.videos)
        _render_only(*prepared)  # warm-up: photo loading, caches
        render = _timed(lambda: _render_only(*prepared), args.repeats)
        whole = _timed(lambda: _whole_videos(*prepared), args.repeats)
        frames = np.concatenate([S.render_spec(prepared[0], spec, prepared[1][spec.motion], prepared[3])[0].frames
                                 for spec in prepared[2][:4]])
        sal = _timed(lambda: len(saliency_maps(frames)), args.repeats)
        rows.append((resolution, render, whole, sal))
    print(f"Synthetic benchmark throughput, one CPU core, median of {args.repeats} repeats "
          f"of {args.videos} videos (frames/s):\n")
    print("| resolution | renderer | video (+ median background, camera test) | saliency (spectral residual) |")
    print("|---|---|---|---|")
    for resolution, render, whole, sal in rows:
        print(f"| {resolution}x{resolution} | {render:.0f} | {whole:.0f} | {sal:.0f} |")


if __name__ == "__main__":
    main()
