"""A model's side networks read one at a time and together, its pose network held fixed: what
reading them together adds (``model.side_networks`` > 1).

    python benchmarks/side_members.py CHECKPOINT_OR_RUN [...] [--max-frames N] [--test-people N]
        [--flip-test] [--threads 1] [--out FILE.md]

Give checkpoints of models with several side networks (``models.side.SideEnsemble``), trained on
the synthetic benchmark: the seeds of one row, say. Each predicts the test split (every frame by
default; ``--max-frames`` thins them evenly; ``--flip-test`` reads each frame with its mirror as
``partpose evaluate --flip-test`` does; ``--test-people N`` renders it worn by N held-out people)
once with each of its side networks alone and once with all of them, as the model reads them
(their logits averaged). The table has, per checkpoint, a row per side network, the mean of their
scores and the networks together: MPJPE, PA-MPJPE, the median facing error and the share of
frames turned round (facing more than 90° off), then the same means over the checkpoints. A
second table says whether a model's side networks turn the same frames round: the share of frames
turned round by exactly k of its M networks (pooled over the checkpoints), against what it would
be if each turned its frames round independently at its own rate. The pose network is the same
in every reading of a checkpoint, so a difference between its rows is the side alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import use_threads, write_table  # noqa: E402
from seed_ensemble import (TURNED_ROUND_DEG, independent_counts, mean_scores, predicted,  # noqa: E402
                           predictions, reading_row, reading_scores, readings_parser, shared_side)


def side_members(model) -> list:
    """The side networks of ``model``'s ``SideEnsemble`` (at least two); a ``UserError`` for a
    model with none or one."""
    from partpose.errors import UserError
    from partpose.models.side import SideEnsemble

    if not isinstance(model.side, SideEnsemble) or len(model.side.members) < 2:
        count = 0 if model.side is None else 1
        raise UserError(f"the model has {count} side network{'s' if count != 1 else ''} (model.side_networks): "
                        "this script reads several apart")
    return list(model.side.members)


def main(argv: list[str] | None = None) -> int:
    parser = readings_parser(__doc__)
    args = parser.parse_args(argv)
    use_threads(args.threads)
    command = " ".join(["python benchmarks/side_members.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"A model's side networks alone and together, its pose network held fixed (`{command}`): MPJPE, "
             f"PA-MPJPE (mm), median facing error (°), frames turned round (facing more than "
             f"{TURNED_ROUND_DEG:.0f}° off, %).", "",
             "| reading | MPJPE | PA-MPJPE | facing | turned round |", "|---|---|---|---|---|"]

    def rows():
        alone_means, together, counts, expected = [], [], [], []
        for path, pred, loaded, frames in predictions(args.checkpoints, args.max_frames, args.flip_test, 1,
                                                      args.test_people):
            members = side_members(loaded.model)
            gt = pred.gt_pose_cam_mm
            alone = []
            for k, member in enumerate(members):
                with shared_side(loaded.model, [member]):
                    one = predicted(loaded.model, frames, args.max_frames, args.flip_test, 1)
                alone.append(reading_scores(one.pose_cam_mm, gt))
                yield reading_row(f"{path}: side network {k} alone", alone[-1])
            alone_means.append(mean_scores(alone))
            together.append(reading_scores(pred.pose_cam_mm, gt))
            yield reading_row(f"{path}: each side network alone (mean of the scores)", alone_means[-1])
            yield reading_row(f"{path}: the {len(members)} side networks together", together[-1])
            counts.append(np.bincount(np.stack([s["turned"] for s in alone]).sum(0), minlength=len(members) + 1))
            expected.append(independent_counts([float(s["turned"].mean()) for s in alone]) * len(gt))
        n = len(together)
        if n > 1:
            yield reading_row(f"each side network alone (mean over the {n} checkpoints)", mean_scores(alone_means))
            yield reading_row(f"the side networks together (mean over the {n} checkpoints)", mean_scores(together))
        if len({len(c) for c in counts}) > 1:
            return  # models with different numbers of side networks: no common count
        measured, independent = sum(counts) / sum(c.sum() for c in counts), sum(expected) / sum(c.sum() for c in counts)
        yield ""
        yield "| frames turned round by exactly k side networks, k = | " + " | ".join(str(k) for k in range(len(measured))) + " |"
        yield "|---" * (len(measured) + 1) + "|"
        yield "| measured (%) | " + " | ".join(f"{100 * m:.1f}" for m in measured) + " |"
        yield "| if the networks were independent (%) | " + " | ".join(f"{100 * e:.1f}" for e in independent) + " |"

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
