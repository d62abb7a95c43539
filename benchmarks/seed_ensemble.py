"""Several seeds of one row read together: do they turn the same frames round, and what does their
average pose score?

    python benchmarks/seed_ensemble.py CHECKPOINT_OR_RUN CHECKPOINT_OR_RUN [...] [--max-frames N]
        [--test-people N] [--flip-test] [--smooth K] [--shared-side] [--threads 1] [--out FILE.md]

Give the seeds of one row of the learning table (trained on the same synthetic benchmark). Every
checkpoint predicts the test split (every frame by default; ``--max-frames`` thins them evenly;
``--flip-test`` reads each frame with its mirror as ``partpose evaluate --flip-test`` does;
``--smooth K`` then smooths each video's view over K frames as ``--smooth-method view`` does).
The table has a row per seed, the mean of their scores, the first k seeds' poses averaged joint by
joint (root-relative, in the camera frame; k = 2 .. N) and each seed's limbs seen from the seeds' mean view:
MPJPE, PA-MPJPE, the median facing error and the share of frames turned round (facing more than
90° off); with ``--shared-side``, each seed's pose network with the side read by all the seeds' side
networks together (their logits averaged, ``models.side.SideEnsemble``): how much of what the seeds
gain from each other is their side networks' draw. ``--test-people N`` renders the test split
worn by N held-out people, as ``partpose evaluate --test-people`` does. A second table says
whether the seeds turn the same frames round: the share of frames turned round by exactly k of the
N seeds, against what it would be if each seed turned its frames round independently of the
others at its own rate.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import (add_test_people_argument, at_least_one, checkpoints_parser,  # noqa: E402
                              require_side_network, synthetic_checkpoints, use_threads, write_table)

TURNED_ROUND_DEG = 90.0


def mean_pose(poses: list[np.ndarray]) -> np.ndarray:
    """The seeds' ``(N, J, 3)`` root-relative poses averaged joint by joint."""
    return np.mean(np.stack(poses), axis=0)


def views_averaged(poses: list[np.ndarray]) -> list[np.ndarray]:
    """Each seed's limbs seen from the seeds' mean view: every seed's ``(N, J, 3)`` poses split into
    limbs and view (``partpose.geometry.view_smoothing.split_view``, as ``smooth_view`` splits a
    video's frames), the views of each frame averaged over the seeds (their chordal mean) and each
    seed's limbs turned by it about its own root. Returns one ``(N, J, 3)`` array a seed."""
    from scipy.spatial.transform import Rotation

    from partpose.geometry.view_smoothing import seen_from, split_view

    split = [split_view(p) for p in poses]
    rotations = np.stack([rotation for _, rotation in split], axis=1)  # (N, S, 3, 3)
    mean = np.stack([Rotation.from_matrix(frame).mean().as_matrix() for frame in rotations])
    return [seen_from(mean, canonical, p) for (canonical, _), p in zip(split, poses)]


def independent_counts(rates: list[float]) -> np.ndarray:
    """``(S + 1,)`` probabilities that exactly k of S independent events happen, k = 0..S, event s
    with probability ``rates[s]`` (the Poisson binomial distribution, built one event at a time)."""
    dist = np.array([1.0])
    for p in rates:
        dist = np.convolve(dist, [1.0 - p, p])
    return dist


def reading_scores(pose: np.ndarray, gt: np.ndarray) -> dict:
    """MPJPE and PA-MPJPE (mm), the median facing error (degrees) and the frames turned round
    (``"turned"``, ``(N,)`` bool) of ``(N, J, 3)`` root-relative poses against the truth."""
    import torch

    from partpose.evaluation import metrics

    p, g = torch.from_numpy(pose), torch.from_numpy(gt)
    facing = metrics.facing_error(p, g, reduction="per_frame").numpy()
    return {"mpjpe": float(metrics.mpjpe(p, g)), "pa_mpjpe": float(metrics.pa_mpjpe(p, g)),
            "facing": float(np.median(facing)), "turned": facing > TURNED_ROUND_DEG}


def mean_scores(scores: list[dict]) -> dict:
    """The mean of several readings' :func:`reading_scores` (their frames turned round pooled)."""
    return {**{k: float(np.mean([s[k] for s in scores])) for k in ("mpjpe", "pa_mpjpe", "facing")},
            "turned": np.concatenate([s["turned"] for s in scores])}


def reading_row(name: str, s: dict) -> str:
    """The table row of one reading's :func:`reading_scores`."""
    return f"| {name} | {s['mpjpe']:.1f} | {s['pa_mpjpe']:.1f} | {s['facing']:.0f} | {100 * np.mean(s['turned']):.1f} |"


def predictions(checkpoints, max_frames: int | None, flip_test: bool, smooth: int, test_people: int | None = None):
    """Yield ``(path, Predictions, loaded, frames)`` of each checkpoint on its benchmark's test split
    (worn by ``test_people`` held-out people if given); all of them must share one benchmark (a
    ``UserError`` otherwise)."""
    from partpose.errors import UserError

    benchmark = None
    for path, loaded, frames in synthetic_checkpoints(checkpoints, test_people):
        key = repr(loaded.config.data.synthetic)
        if benchmark is not None and key != benchmark:
            raise UserError(f"{path}: trained on another synthetic benchmark than {checkpoints[0]}; give the seeds of one row")
        benchmark = key
        yield path, predicted(loaded.model, frames, max_frames, flip_test, smooth), loaded, frames


def predicted(model, frames, max_frames: int | None, flip_test: bool, smooth: int):
    """``model``'s ``Predictions`` of ``frames``, their view smoothed over ``smooth`` frames a video."""
    from partpose.evaluation.evaluate import predict_frames, smooth_within_videos

    pred = predict_frames(model, frames, max_frames=max_frames, with_segmentation=False, flip_test=flip_test)
    return smooth_within_videos(pred, smooth, "view")


@contextmanager
def shared_side(model, sides: list):
    """Within the block, ``model``'s ``side`` is the side networks ``sides`` read together (their
    logits averaged, ``models.side.SideEnsemble``); its own again afterwards."""
    from partpose.models.side import SideEnsemble

    own = model.side
    model.side = SideEnsemble(sides).eval()
    try:
        yield model
    finally:
        model.side = own


def readings_parser(doc: str):
    """The checkpoints' parser (``benchmark_tables.checkpoints_parser``) with the arguments of how
    the test split is read: ``--max-frames``, ``--test-people`` and ``--flip-test``."""
    parser = checkpoints_parser(doc)
    parser.add_argument("--max-frames", type=at_least_one, default=None,
                        help="test frames, evenly thinned (default: every frame)")
    add_test_people_argument(parser)
    parser.add_argument("--flip-test", action="store_true", help="read every frame with its mirror")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = readings_parser(__doc__)
    parser.add_argument("--smooth", type=int, default=1, help="smooth each video's view over this many frames")
    parser.add_argument("--shared-side", action="store_true",
                        help="also read each seed's pose network with every seed's side network together")
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error("give at least two checkpoints (the seeds of one row)")
    if args.smooth < 1 or args.smooth % 2 == 0:
        parser.error(f"--smooth must be an odd number of frames >= 1, got {args.smooth}")
    if args.smooth > 1 and args.max_frames is not None:
        parser.error("--smooth needs every frame of each video: leave out --max-frames")
    use_threads(args.threads)
    command = " ".join(["python benchmarks/seed_ensemble.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"The seeds of one row and their average pose (`{command}`): MPJPE, PA-MPJPE (mm), median facing "
             f"error (°), frames turned round (facing more than {TURNED_ROUND_DEG:.0f}° off, %).", "",
             "| reading | MPJPE | PA-MPJPE | facing | turned round |", "|---|---|---|---|---|"]

    def rows():
        poses, singles, gt, kept = [], [], None, []
        for path, pred, loaded, frames in predictions(args.checkpoints, args.max_frames, args.flip_test, args.smooth,
                                                      args.test_people):
            if args.shared_side:
                require_side_network(loaded.model, f"--shared-side reads every seed's side network ({path})")
                kept.append((loaded.model, frames))
            gt = pred.gt_pose_cam_mm
            poses.append(pred.pose_cam_mm)
            singles.append(reading_scores(pred.pose_cam_mm, gt))
            yield reading_row(str(path), singles[-1])
        n = len(poses)
        yield reading_row(f"mean of the {n} seeds' scores", mean_scores(singles))
        for k in range(2, n + 1):
            name = f"the {n} seeds' poses averaged" if k == n else f"the first {k} seeds' poses averaged"
            yield reading_row(name, reading_scores(mean_pose(poses[:k]), gt))
        yield reading_row(f"each seed's limbs, the {n} seeds' views averaged (mean of the scores)",
                          mean_scores([reading_scores(p, gt) for p in views_averaged(poses)]))
        if kept:
            sides, shared = [model.side for model, _ in kept], []
            for model, frames in kept:
                with shared_side(model, sides):
                    pred = predicted(model, frames, args.max_frames, args.flip_test, args.smooth)
                shared.append(reading_scores(pred.pose_cam_mm, gt))
            yield reading_row(f"each seed's pose network, the {n} seeds' side networks together (mean of the scores)",
                              mean_scores(shared))
        counts = np.stack([s["turned"] for s in singles]).sum(0)
        measured = np.bincount(counts, minlength=n + 1) / len(counts)
        expected = independent_counts([float(s["turned"].mean()) for s in singles])
        yield ""
        yield "| frames turned round by exactly k seeds, k = | " + " | ".join(str(k) for k in range(n + 1)) + " |"
        yield "|---" * (n + 2) + "|"
        yield "| measured (%) | " + " | ".join(f"{100 * m:.1f}" for m in measured) + " |"
        yield "| if the seeds were independent (%) | " + " | ".join(f"{100 * e:.1f}" for e in expected) + " |"

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
