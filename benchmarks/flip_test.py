"""The flip test: what reading every test frame together with its mirror image does to the score.

    python benchmarks/flip_test.py CHECKPOINT_OR_RUN [...] [--max-frames N] [--test-people N] [--threads 1] [--out FILE.md]

For every checkpoint (trained on the synthetic benchmark) the test split's frames (every frame by
default; ``--max-frames`` thins them evenly) are predicted twice: as ``partpose evaluate`` does,
and with ``partpose evaluate --flip-test`` (``PartPoseModel.encode_flip_test``: the frame and its
mirror read, both given one side, the mirror's pose reflected back and the two averaged);
``--test-people N`` renders the test split worn by N held-out people instead of the checkpoint's
(``partpose evaluate --test-people``). One row
per checkpoint: MPJPE, PA-MPJPE and the median facing error each way, the change, and the seconds
each pass took; a last row gives the medians of the changes and of the time ratio over the
checkpoints (give the seeds of one row of the learning table together).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import (add_test_people_argument, at_least_one, checkpoints_parser,  # noqa: E402
                              synthetic_checkpoints, use_threads, write_table)


def flip_test_scores(model, frames, max_frames: int | None = None, batch_size: int = 64) -> dict[str, dict[str, float]]:
    """``{"plain": score, "flip_test": score}`` of ``model`` on ``frames`` (a ``FrameDataset``,
    evenly thinned to ``max_frames``), each score that of ``partpose.evaluation.evaluate.score``
    (without segmentation) plus ``"seconds"``: the wall time of its predictions."""
    from partpose.evaluation.evaluate import predict_frames, score

    scores = {}
    for name, flip_test in (("plain", False), ("flip_test", True)):
        start = time.perf_counter()
        pred = predict_frames(model, frames, batch_size=batch_size, max_frames=max_frames, with_segmentation=False,
                              flip_test=flip_test)
        seconds = time.perf_counter() - start
        scores[name] = {**score(pred), "seconds": seconds}
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--max-frames", type=at_least_one, default=None,
                        help="test frames, evenly thinned (default: every frame)")
    add_test_people_argument(parser)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    command = " ".join(["python benchmarks/flip_test.py", *(argv if argv is not None else sys.argv[1:])])
    frames_note = "every frame" if args.max_frames is None else f"at most {args.max_frames} frames"
    if args.test_people is not None:
        frames_note += f", worn by {args.test_people} held-out people"
    lines = [f"Each checkpoint's test split ({frames_note}) read alone and with the flip test (`{command}`): "
             "MPJPE / PA-MPJPE (mm), median facing error (°), seconds of prediction.", "",
             "| checkpoint | frames | alone | flip test | change | facing alone → flip test | seconds alone / flip test |",
             "|---|---|---|---|---|---|---|"]
    changes: list[tuple[float, float, float]] = []

    def rows():
        for path, loaded, frames in synthetic_checkpoints(args.checkpoints, args.test_people):
            s = flip_test_scores(loaded.model, frames, args.max_frames)
            plain, flip = s["plain"], s["flip_test"]
            change = (flip["mpjpe"] - plain["mpjpe"], flip["pa_mpjpe"] - plain["pa_mpjpe"],
                      flip["seconds"] / plain["seconds"])
            changes.append(change)
            yield (f"| {path} | {plain['frames']} | {plain['mpjpe']:.1f} / {plain['pa_mpjpe']:.1f} | "
                   f"{flip['mpjpe']:.1f} / {flip['pa_mpjpe']:.1f} | {change[0]:+.1f} / {change[1]:+.1f} | "
                   f"{plain['facing_error_median']:.0f} → {flip['facing_error_median']:.0f} | "
                   f"{plain['seconds']:.0f} / {flip['seconds']:.0f} |")
        if len(changes) > 1:
            median = [statistics.median(c[i] for c in changes) for i in range(3)]
            yield (f"| median of {len(changes)} | | | | {median[0]:+.1f} / {median[1]:+.1f} | | "
                   f"× {median[2]:.2f} |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
