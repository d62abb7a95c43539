"""``partpose evaluate``: score a checkpoint on a benchmark's test frames.

    partpose evaluate --checkpoint runs/default [--dataset synthetic] [--split test]
                      [--root DIR] [--out FILE.json] [--max-frames N] [--smooth K] [--flip-test]
                      [--side-window K] [--test-people N]
                      [--add-side CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from partpose.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    from partpose.evaluation.report import BENCHMARKS
    from partpose.geometry.view_smoothing import POSE_SMOOTHING_METHODS

    parser = subparsers.add_parser(
        "evaluate",
        help="score a trained model: MPJPE, PA-MPJPE, N-MPJPE, 3DPCK, AUC, part mIoU, per action",
        description="Predict every test frame of a dataset with a checkpoint and print Markdown tables: "
        "the pose and segmentation metrics, a per-action (per-activity, per-sequence) breakdown and, for "
        "the real datasets, their official protocol. The full report is written as JSON. The synthetic "
        "benchmark is rendered with the checkpoint's own settings.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path,
                        help="checkpoint file, or a run folder (uses checkpoints/last.pt, the final model)")
    parser.add_argument("--dataset", default=None,
                        help=f"one of {', '.join(BENCHMARKS)} (default: the dataset the checkpoint was trained on)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--root", default=None,
                        help="prepared dataset folder for the real datasets (default: the checkpoint's data.root)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON report (default: evaluation_<dataset>_<split>.json next to the checkpoint)")
    parser.add_argument("--max-frames", type=int, default=None, help="evaluate at most N frames, spread evenly")
    parser.add_argument("--smooth", type=int, default=1,
                        help="smooth each video's poses over this many of its frames before scoring (odd; "
                        "1 = none, the per-frame protocol), as `partpose predict --smooth` does; needs every frame")
    parser.add_argument("--smooth-method", default="mean", choices=POSE_SMOOTHING_METHODS,
                        help="mean (centred moving average), savgol (Savitzky-Golay, order 2), or view: the body's "
                        "rotation averaged over the window, the limbs and 2D joints per frame")
    parser.add_argument("--flip-test", action="store_true",
                        help="read every frame and its mirror image and average the two poses, both given one "
                        "side (twice the compute; docs/usage.md)")
    parser.add_argument("--side-window", type=int, default=1, metavar="K",
                        help="for a model with a side network: give every frame the side its video's frames read "
                        "together, the side network's logits averaged over K frames around it (odd; 1 = each frame "
                        "its own, the per-frame protocol) or over the whole video (0); needs every frame")
    parser.add_argument("--add-side", nargs="+", type=Path, default=[], metavar="CHECKPOINT",
                        help="for a model with a side network: read the side with the side networks of these checkpoints "
                        "too, their logits and the model's own averaged (side networks taught again beside the same pose "
                        "network, benchmarks/side_refit.py; docs/usage.md)")
    parser.add_argument("--ground-band", type=float, default=None, metavar="DEG",
                        help="for a model with a side network: bodies whose spine lies within DEG of level take the "
                        "side their 2D hands and legs give (the end on the floor lower in the image is the nearer) "
                        "instead of the side network's (default: the model's model.side_ground_band_deg; 0: none)")
    parser.add_argument("--test-people", type=int, default=None, metavar="N",
                        help="synthetic benchmark only: render the test split with N held-out people instead of the "
                        "checkpoint's data.synthetic.num_test_subjects (the same videos, views and motions, the "
                        "people in turn; the first ones are the default split's)")
    parser.add_argument("--batch-size", type=int, default=64, help="frames per forward pass (default: 64)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default 0: PyTorch's choice; on a busy machine, the idle cores)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from partpose.evaluation.report import (
        BENCHMARKS,
        evaluate_videos,
        get_benchmark,
        load_benchmark_videos,
        markdown_report,
        with_test_people,
    )
    from partpose.geometry.view_smoothing import check_side_window, side_window_words
    from partpose.inference.loading import add_side_networks, load_model, set_ground_band, set_threads

    if args.max_frames is not None and args.max_frames < 1:
        raise UserError(f"--max-frames must be >= 1, got {args.max_frames}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.smooth < 1 or args.smooth % 2 == 0:
        raise UserError(f"--smooth must be an odd number of frames >= 1, got {args.smooth}")
    check_side_window(args.side_window)
    if args.test_people is not None and args.test_people < 1:
        raise UserError(f"--test-people must be >= 1, got {args.test_people}")
    if args.dataset is not None:
        get_benchmark(args.dataset)  # an unknown name fails before the checkpoint is read
    set_threads(args.threads)
    loaded = load_model(args.checkpoint, args.device)
    set_ground_band(loaded, args.ground_band)
    add_side_networks(loaded, args.add_side)
    dataset = args.dataset or loaded.config.data.dataset
    if args.dataset is None and dataset not in BENCHMARKS:
        raise UserError(f"the checkpoint was trained on {dataset!r}, which has no 3D test labels; choose "
                        f"--dataset from {', '.join(BENCHMARKS)}")
    benchmark = get_benchmark(dataset)
    config = loaded.config
    if args.test_people is not None:
        if dataset != "synthetic" or args.split != "test":
            raise UserError(f"--test-people renders the synthetic benchmark's test split; not for --dataset {dataset} "
                            f"--split {args.split}")
        config = with_test_people(config, args.test_people)
    root = args.root if args.root is not None else getattr(config.data, "root", None)
    videos = load_benchmark_videos(benchmark, config, args.split, root, loaded.resolution)
    report = evaluate_videos(loaded.model, videos, benchmark, args.max_frames, args.batch_size, loaded.device,
                             smooth=args.smooth, smooth_method=args.smooth_method, flip_test=args.flip_test,
                             side_window=args.side_window)
    report.update(split=args.split, checkpoint=str(loaded.path), step=loaded.step, clips=len(videos),
                  ground_band_deg=loaded.model.config.side_ground_band_deg)
    if args.test_people is not None:
        report["test_people"] = args.test_people
    if args.add_side:
        report["added_side_networks"] = [str(path) for path in args.add_side]
    step = f", step {loaded.step}" if loaded.step is not None else ""
    step += f"; poses smoothed over {args.smooth} frames ({args.smooth_method})" if args.smooth > 1 else ""
    step += "; flip test" if args.flip_test else ""
    step += f"; {side_window_words(args.side_window)}" if args.side_window != 1 else ""
    band = loaded.model.config.side_ground_band_deg
    step += f"; bodies within {band:g}° of level sided by the ground" if band > 0 and loaded.model.side is not None else ""
    step += f"; {args.test_people} test people" if args.test_people is not None else ""
    step += f"; the side read by {len(args.add_side) + 1} side networks together" if args.add_side else ""
    print(markdown_report(report, f"{dataset} {args.split}: {report['frames']} frames of {len(videos)} clips "
                                  f"({loaded.path}{step})"))
    out = args.out if args.out is not None else loaded.path.parent / f"evaluation_{dataset}_{args.split}.json"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1))
    except OSError as error:
        raise UserError(f"cannot write {out} ({error.strerror or error})") from None
    print(f"\nwrote {out}")
    return 0
