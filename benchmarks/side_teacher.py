"""Cues to the side beyond each video's travel: a teacher taught where the travel is steady, and a few labelled videos.

    python benchmarks/side_teacher.py [--config configs/studio_ours_cpu.yaml] [--people 1024]
        [--iterations 6000] [--seeds 0]
        [--variants travel teacher student labelled:0.1 labelled_only:0.1 truth] [--min-r2 0.8]
        [--out FILE.md]

The boxes' travel (``partpose.data.travel.travel_front``) labels a video's every frame with the
side its person shows. It is right on walks and runs and about as often wrong as right on
motions that do not travel the way the body faces (backflips, rolls, dances), and a classifier
taught it reads unseen people's side no better with 1,024 training people than with eight
(``docs/learning.md``, "And 1,024 people"). Each variant here teaches the front/back classifier
of ``front_back_legibility.py`` (the encoder's trunk and one linear unit; the model's side
network) another set of labels on the training videos of ``--config``'s benchmark (worn by
``--people`` people) and scores it
on the test split's unseen people:

- ``travel``: the travel's label on every video it labels (the model's side network's labels).
- ``truth``: each frame's true side on the same frames (the oracle ``objective.side_label=truth``).
- ``teacher``: the travel's label on the videos whose travel is steady only
  (``partpose.data.travel.travel_steadiness`` at least ``--min-r2``: mostly walks, righter than
  the travel elsewhere). The table also gives how well that classifier reads the training
  frames the steady travel leaves, frame by frame and as the mean of its logits over each video:
  the labels it would give them as a teacher.
- ``student``: the steady travel's labels and, on every other training video, the teacher's
  (the mean of its logits over the video): the frames of every motion labelled.
- ``labelled:F``: each frame's true side on a random fraction ``F`` of the training videos (a
  one-bit label a person gives at a glance), the travel's label on the others.
- ``labelled_only:F``: the true side on those videos and nothing else.

With ``--parts`` every classifier reads the torso's and the head's patches cut along each frame's
true 2D joints (``geometry.part_patches``; the model's ``model.side_input=parts``, which cuts them
along the encoder's joints) instead of the whole crop.

Every classifier is seeded alike, so the variants of one seed differ only in their labels.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import use_threads, write_table  # noqa: E402
from front_back_legibility import accuracy, front_labels, load_split, logits_of, train_classifier  # noqa: E402
from side_cues import travel_parser  # noqa: E402

VARIANTS = ("travel", "truth", "teacher", "student", "labelled", "labelled_only")


@dataclass
class TrainingFrames:
    """Every frame of the training videos, with what each variant may teach.

    Attributes:
        images: ``(N, 3, H, W)`` in [0, 1].
        truth: ``(N,)`` the true side (1: the front).
        travel: ``(N,)`` the video's travel label (1 / 0), ``nan`` where it gives none.
        steady: ``(N,)`` bool, the video's travel labels it and is steady.
        video: ``(N,)`` long, the index of the frame's video.
    """

    images: torch.Tensor
    truth: torch.Tensor
    travel: torch.Tensor
    steady: torch.Tensor
    video: torch.Tensor


def frame_images(clip, parts: int) -> torch.Tensor:
    """``(T, 3, H, W)`` the video's frames in [0, 1], or with ``parts`` > 0 their
    ``geometry.part_patches.part_patches`` of that side along the true 2D joints."""
    from partpose.geometry.part_patches import part_patches

    images = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255.0
    return part_patches(images, torch.from_numpy(clip.pose2d_norm), parts) if parts else images


def training_frames(videos, min_rate: float, min_r2: float, parts: int = 0) -> TrainingFrames:
    """:class:`TrainingFrames` of ``videos`` (with 3D poses and person boxes): the travel's
    label counts from ``min_rate`` of the distance per frame, steady from an R² of ``min_r2``;
    the images are the part patches with ``parts`` > 0 (:func:`frame_images`)."""
    from partpose.data.travel import travel_front, travel_steadiness

    images, truth, travel, steady, video = [], [], [], [], []
    for index, clip in enumerate(videos):
        n = len(clip.frames)
        label = travel_front(clip.person_box, min_rate)
        r2 = travel_steadiness(clip.person_box)
        images.append(frame_images(clip, parts))
        truth.append(front_labels(torch.from_numpy(clip.pose3d_cam_mm).double())[0])
        travel.append(torch.full((n,), label))
        steady.append(torch.full((n,), not math.isnan(label) and not math.isnan(r2) and r2 >= min_r2))
        video.append(torch.full((n,), index))
    return TrainingFrames(*(torch.cat(x) for x in (images, truth, travel, steady, video)))


def test_patches(frames, max_frames: int, size: int) -> torch.Tensor:
    """The part patches (``size`` pixels) of the frames of a ``FrameDataset`` that
    ``front_back_legibility.load_split`` keeps, in its order, cut along their true 2D joints."""
    from torch.utils.data import DataLoader

    from partpose.evaluation.evaluate import thin_frames
    from partpose.geometry.part_patches import part_patches

    return torch.cat([part_patches(batch["image"], batch["pose2d"], size)
                      for batch in DataLoader(thin_frames(frames, max_frames), batch_size=256, shuffle=False)])


def video_mean(logits: torch.Tensor, video: torch.Tensor) -> torch.Tensor:
    """``(N,)`` each frame's ``logits`` replaced by the mean over the frames of its ``video (N,)``."""
    count = torch.zeros(int(video.max()) + 1).index_add_(0, video, torch.ones(len(video)))
    total = torch.zeros(len(count)).index_add_(0, video, logits.float())
    return (total / count.clamp(min=1))[video]


def labelled_videos(n_videos: int, fraction: float, seed: int) -> torch.Tensor:
    """``(n_videos,)`` bool: a random ``fraction`` of the videos (at least one), drawn with ``seed``."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the labelled fraction must be in (0, 1], got {fraction}")
    count = max(1, round(fraction * n_videos))
    chosen = torch.zeros(n_videos, dtype=torch.bool)
    chosen[torch.randperm(n_videos, generator=torch.Generator().manual_seed(seed))[:count]] = True
    return chosen


def parse_variant(text: str) -> tuple[str, float | None]:
    """``"labelled:0.1"`` -> ``("labelled", 0.1)``, ``"travel"`` -> ``("travel", None)``; a
    ``ValueError`` naming the variants otherwise."""
    name, _, value = text.partition(":")
    if name not in VARIANTS or (name.startswith("labelled") != bool(value)):
        raise ValueError(f"unknown variant {text!r}: one of travel, truth, teacher, student, labelled:F, labelled_only:F")
    try:
        return name, float(value) if value else None
    except ValueError:
        raise ValueError(f"variant {text!r}: the fraction must be a number") from None


def main(argv: list[str] | None = None) -> int:
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.errors import UserError
    from partpose.training.config import load_config

    parser = travel_parser(__doc__, "unused here")
    parser.add_argument("--variants", nargs="+", default=["travel", "teacher", "truth"], help="what teaches the classifier (module docstring)")
    parser.add_argument("--min-r2", type=float, default=0.8, help="steady travel: the least R² of the log box side's straight fit")
    parser.add_argument("--max-frames", type=int, default=4096, help="test frames kept")
    parser.add_argument("--people", type=int, default=0, help="training people (0: the configuration's)")
    parser.add_argument("--parts", type=int, default=0, metavar="SIZE",
                        help="read the torso's and the head's patches of SIZE pixels along the true 2D joints (0: the crop)")
    args = parser.parse_args(argv)
    use_threads(args.threads)

    lines = [
        f"The side taught by cues beyond each video's travel (`python benchmarks/side_teacher.py`; `{args.config.name}`'s "
        f"benchmark{f' with {args.people} training people' if args.people else ''}, {args.videos} training videos; travel counts from {args.min_rate:g} of the distance per frame, steady "
        f"from R² {args.min_r2:g}; {'the part patches, ' + str(args.parts) + ' px, along the true 2D joints' if args.parts else 'the crops'}; {args.iterations} iterations of batch {args.batch_size}): the classifier's labels on its "
        "training frames and its reading of the test split's unseen people.",
        "",
        "| taught by | seed | training frames | its labels right | test (unseen people): all | test: clear "
        "| the other training frames, read frame by frame / over the video | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def rows():
        try:
            variants = [parse_variant(v) for v in args.variants]
        except ValueError as error:
            raise UserError(str(error)) from None
        config = load_config(args.config)
        synthetic = replace(config.data.synthetic, cache_dir=None,
                            num_train_subjects=args.people or config.data.synthetic.num_train_subjects)
        frames = training_frames(build_synthetic_videos(synthetic, "train", spread=args.videos), args.min_rate, args.min_r2,
                                 args.parts)
        if not frames.steady.any() and any(name in ("teacher", "student") for name, _ in variants):
            raise UserError(f"no training video's travel is steady (R² >= {args.min_r2:g}): no teacher to teach")
        test_frames = FrameDataset(build_synthetic_videos(synthetic, "test", spread=args.test_videos))
        test = load_split(test_frames, args.max_frames)
        if args.parts:
            test = (test_patches(test_frames, args.max_frames, args.parts), *test[1:])
        labelled = ~frames.travel.isnan()
        yield (f"| (the travel labels {100.0 * float(labelled.double().mean()):.0f} % of the {len(frames.truth)} training frames, "
               f"right on {accuracy(frames.travel[labelled] * 2 - 1, frames.truth[labelled]):.0f} %; steady "
               f"{100.0 * float(frames.steady.double().mean()):.0f} %, right on "
               f"{accuracy(frames.travel[frames.steady] * 2 - 1, frames.truth[frames.steady]):.0f} %) | | | | | | | |")

        def taught(name: str, mask: torch.Tensor, labels: torch.Tensor, seed: int, others: torch.Tensor | None = None):
            start = time.perf_counter()
            model = train_classifier(config.model.encoder, (frames.images[mask], labels[mask].float()), args.iterations,
                                     args.batch_size, args.lr, seed)
            on_test = logits_of(model, test[0])
            reading, on_train = "–", None
            if others is not None:
                on_train = logits_of(model, frames.images)
                smoothed = video_mean(on_train, frames.video)
                reading = (f"{accuracy(on_train[others], frames.truth[others]):.0f} / "
                           f"{accuracy(smoothed[others], frames.truth[others]):.0f} % of {int(others.sum())}")
            row = (f"| {name} | {seed} | {int(mask.sum())} | {accuracy(labels[mask] * 2 - 1, frames.truth[mask]):.0f} % | "
                   f"{accuracy(on_test, test[1]):.0f} % | {accuracy(on_test, test[1], test[2]):.0f} % | {reading} | "
                   f"{time.perf_counter() - start:.0f} s |")
            return row, on_train

        for seed in args.seeds:
            teacher_reading = None
            for name, fraction in variants:
                if name == "travel":
                    yield taught("the travel", labelled, frames.travel, seed)[0]
                elif name == "truth":
                    yield taught("the truth (the travel's frames)", labelled, frames.truth, seed)[0]
                elif name in ("teacher", "student"):
                    if teacher_reading is None:
                        row, teacher_reading = taught("the steady travel (a teacher)", frames.steady, frames.travel, seed,
                                                      others=~frames.steady)
                        yield row
                    if name == "student":
                        teacher_side = (video_mean(teacher_reading, frames.video) > 0).float()
                        labels = torch.where(frames.steady, frames.travel, teacher_side)
                        yield taught("the steady travel, the teacher elsewhere (a student)", torch.ones_like(frames.steady),
                                     labels, seed)[0]
                else:
                    chosen = labelled_videos(int(frames.video.max()) + 1, fraction, seed)[frames.video]
                    if name == "labelled":
                        labels = torch.where(chosen, frames.truth, frames.travel)
                        yield taught(f"the truth on {fraction:.0%} of the videos, the travel elsewhere", chosen | labelled,
                                     labels, seed)[0]
                    else:
                        yield taught(f"the truth on {fraction:.0%} of the videos alone", chosen, frames.truth, seed)[0]

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
