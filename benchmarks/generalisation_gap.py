"""Where a model trained on the synthetic benchmark stops generalising: new people or new poses.

    python benchmarks/generalisation_gap.py CHECKPOINT_OR_RUN [...] [--videos 160] [--threads 2] [--out FILE.md]

The benchmark's test split differs from its training split in two ways: other people (bodies and
clothes, ``num_test_subjects`` of them) and other poses (the last 30 % of every motion). For every
checkpoint this renders ``--videos`` videos (evenly spread over the split's plan) of each of the
four combinations, the training or the test motion segments worn by the training or the test
subjects (``build_synthetic_videos(..., subjects_from=...)``), and scores the model on them:

- training segments, training subjects: what it fits;
- training segments, test subjects: the cost of unseen people alone;
- test segments, training subjects: the cost of unseen poses alone;
- test segments, test subjects: the benchmark's test split.

The figures of docs/learning.md ("How far the supervised bound gets") came from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, load_synthetic_model, use_threads, write_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMBINATIONS = (("train", "train"), ("train", "test"), ("test", "train"), ("test", "test"))


def gap(model, synthetic, videos: int, max_frames: int = 1024) -> dict[tuple[str, str], dict]:
    """Scores of ``model`` on the four (segments, subjects) combinations of ``synthetic``'s benchmark.

    Returns:
        ``{(segments_split, subjects_split): score(...)}`` (``partpose.evaluation.evaluate.score``).
    """
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.evaluate import predict_frames, score

    results = {}
    for segments, subjects in COMBINATIONS:
        rendered = build_synthetic_videos(synthetic, segments, subjects_from=subjects, spread=videos)
        results[segments, subjects] = score(predict_frames(model, FrameDataset(rendered), max_frames=max_frames,
                                                           with_segmentation=False))
    return results


def main(argv: list[str] | None = None) -> int:

    parser = checkpoints_parser(__doc__)
    parser.add_argument("--videos", type=int, default=160, help="videos rendered per combination")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    lines = [
        f"Generalisation gap on {args.videos} videos per combination "
        "(`python benchmarks/generalisation_gap.py`): MPJPE / PA-MPJPE (mm), median facing error (°).",
        "",
        "| checkpoint | train segments, train subjects | train segments, test subjects "
        "| test segments, train subjects | test segments, test subjects |",
        "|---|---|---|---|---|",
    ]

    def rows():
        for path in args.checkpoints:
            loaded = load_synthetic_model(path)
            results = gap(loaded.model, loaded.config.data.synthetic, args.videos)
            cells = [f"{m['mpjpe']:.1f} / {m['pa_mpjpe']:.1f}, {m['facing_error_median']:.0f}°"
                     for m in (results[c] for c in COMBINATIONS)]
            yield (f"| {path} | " + " | ".join(cells) + " |")
    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
