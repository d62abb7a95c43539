"""Smoothing over a video at test time: the whole pose against its view alone.

    python benchmarks/video_smoothing.py CHECKPOINT_OR_RUN [...] [--window 9] [--flip-test] [--side-window K]
        [--test-people N] [--threads 1] [--out FILE.md]

For every checkpoint (trained on the synthetic benchmark) every frame of the test split is
predicted once (with ``--flip-test``: each frame with its mirror, as ``partpose evaluate
--flip-test``; with ``--side-window K``, each pose given the side its video's frames read together, as
``partpose evaluate --side-window K``, which needs a side network) and scored three ways: frame by frame (the learning table's protocol), with each
video's poses averaged over ``--window`` of its frames (``partpose evaluate --smooth K``), and
with the view alone averaged (``--smooth K --smooth-method view``: the body's rotation averaged,
the limbs per frame; ``partpose.geometry.view_smoothing``). One row per checkpoint: MPJPE /
PA-MPJPE (mm) and the median facing error (°) each way; a last row gives the medians of the
changes against frame by frame over the checkpoints (give the seeds of one row together).
``--test-people N`` renders the test split worn by N held-out people instead of the checkpoint's
(``partpose evaluate --test-people``). A model without a side network given ``--side-window`` ends
the script with a one-line error.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import (add_test_people_argument, checkpoints_parser, require_side_network,  # noqa: E402
                              synthetic_checkpoints, use_threads, write_table)

READINGS = ("frame", "mean", "view")


def smoothing_scores(pred, window: int) -> dict[str, dict[str, float]]:
    """``{"frame": score, "mean": score, "view": score}`` of the predictions ``pred`` (every frame
    of each video, in order): as they are, each video's poses averaged over ``window`` frames,
    and each video's view alone averaged (``partpose.evaluation.evaluate.score``)."""
    from partpose.evaluation.evaluate import score, smooth_within_videos

    return {"frame": score(pred), "mean": score(smooth_within_videos(pred, window, "mean")),
            "view": score(smooth_within_videos(pred, window, "view"))}


def main(argv: list[str] | None = None) -> int:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--window", type=int, default=9, help="frames a video's poses are smoothed over (odd)")
    parser.add_argument("--flip-test", action="store_true", help="read each frame with its mirror (partpose evaluate --flip-test)")
    parser.add_argument("--side-window", type=int, default=1, metavar="K",
                        help="give every frame the side its video reads over K frames (odd; 0: the whole video; "
                             "partpose evaluate --side-window; default 1, each frame its own)")
    add_test_people_argument(parser)
    args = parser.parse_args(argv)
    if args.window < 1 or args.window % 2 == 0:
        parser.error(f"--window must be odd and >= 1, got {args.window}")
    if args.side_window < 0 or (args.side_window > 0 and args.side_window % 2 == 0):
        parser.error(f"--side-window must be odd, or 0 for the whole video, got {args.side_window}")
    use_threads(args.threads)
    command = " ".join(["python benchmarks/video_smoothing.py", *(argv if argv is not None else sys.argv[1:])])
    reading = "".join([", with the flip test" if args.flip_test else "",
                       f", the side read over {args.side_window or 'every'} frames of its video" if args.side_window != 1 else "",
                       f", worn by {args.test_people} held-out people" if args.test_people else ""])
    lines = [f"Each checkpoint's test split (every frame{reading}) scored frame "
             f"by frame, with each video's poses averaged over {args.window} frames, and with its view alone "
             f"averaged (`{command}`): MPJPE / PA-MPJPE (mm), median facing error (°).", "",
             "| checkpoint | frames | frame by frame | whole pose smoothed | view smoothed | change: whole | change: view |",
             "|---|---|---|---|---|---|---|"]
    changes: list[tuple[float, float, float, float]] = []

    def rows():
        from partpose.evaluation.evaluate import predict_frames

        for path, loaded, frames in synthetic_checkpoints(args.checkpoints, args.test_people):
            if args.side_window != 1:
                require_side_network(loaded.model, "--side-window reads the side over each video")
            pred = predict_frames(loaded.model, frames, with_segmentation=False, flip_test=args.flip_test,
                                  side_window=args.side_window)
            s = smoothing_scores(pred, args.window)
            cells = [f"{s[k]['mpjpe']:.1f} / {s[k]['pa_mpjpe']:.1f}, {s[k]['facing_error_median']:.0f}°" for k in READINGS]
            change = tuple(s[k][m] - s["frame"][m] for k in ("mean", "view") for m in ("mpjpe", "pa_mpjpe"))
            changes.append(change)
            yield (f"| {path} | {s['frame']['frames']} | {' | '.join(cells)} | {change[0]:+.1f} / {change[1]:+.1f} | "
                   f"{change[2]:+.1f} / {change[3]:+.1f} |")
        if len(changes) > 1:
            m = [statistics.median(c[i] for c in changes) for i in range(4)]
            yield f"| median of {len(changes)} | | | | | {m[0]:+.1f} / {m[1]:+.1f} | {m[2]:+.1f} / {m[3]:+.1f} |"

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
