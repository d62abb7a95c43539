"""Can the encoder read the front and back of an unseen person at all? A classifier taught it.

    python benchmarks/front_back_legibility.py [--config configs/studio_ours_cpu.yaml]
        [--resolutions 64 128] [--people 8 64] [--iterations 1500] [--seeds 0] [--per-person]
        [--taught-on frames puppets puppets_print] [--out FILE.md]

Every row of the learning table misses the same thing: whether a person not seen in training
shows the camera their front or their back (docs/learning.md, "The view is the benchmark's
MPJPE"). Even the supervised bound, taught it through 3D labels, gets it right on only two test
frames in three. This script asks the plainest form of the question: the encoder's trunk (the
configuration's architecture, fresh weights) and one linear unit on its pooled features are
trained with a binary cross-entropy on the front/back sign alone (the chest towards the camera
or away, ``view_probe.facing_targets``), on frames of the benchmark's training split, and scored
on its test split: held-out motion segments (or motions) and people.

If this classifier reads the front of unseen people well, the cue is in the frames and legible to
the encoder at this resolution, and what the pose rows lack is a signal that teaches it; if it
does not, the benchmark's front/back of new people is beyond this encoder and budget, and no
row can be expected to learn it.

Reported per resolution, number of training people and seed: accuracy (%) on the training frames it was taught on, on the
test frames (all, and the clear ones seen within 45° of the front or the back), on the test
split's motion segments performed by the training people (what is lost to new people rather than to new
motions and views), the chance level (the larger class's share of the test frames), and the
wall time. Two MPJPEs (mm, root-relative, on the test frames) price the front/back: that of the
true pose replaced by its depth twin (``partpose.geometry.facing.depth_twin_pose``: the same 2D
joints seen from the other side) where the classifier is wrong, the floor of any pose estimator
whose every limb and view axis are right and whose front/back is this classifier's; and the
floor of any estimator blind to the front and back (``blind_floor``: half the twin's MPJPE),
which no row whose front/back of unseen people is at chance can pass, however right its limbs. The last column is the share of test frames whose
true chest leans towards the camera (the thorax nearer than the pelvis), where the lean rule of
L_twin (``objective.twin_choice_rule=lean``) would keep the true pose rather than its twin.
With ``--taught-on puppets`` (or ``puppets_print``) the classifier is taught instead on the prior's
poses drawn as the energies of ``objective.prior_parts=frame_colours`` (``frame_colours_print``)
draw them, in the colours of the training frames (:func:`puppet_split`), each labelled with the side
its pose shows: whether the side such puppets teach carries to frames. With ``--per-person``, each seed's row is followed by a row for each person of the test split
(``Video.subject``), its test frames alone; the training and known-people columns are the
seed's, shown once. The test split holds few people, and how legible each one's front is (the
face against the hair, the print against the shirt) weighs on every row.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import use_threads, write_table  # noqa: E402
from view_probe import clear_view, facing_in_camera, facing_targets, twin_where  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def front_labels(pose_cam_mm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 17, 3)`` camera-frame poses -> ``(N,)`` float labels (1: the chest towards the camera)
    and ``(N,)`` bool "clear" flags (seen within 45° of straight from the front or the back)."""
    targets = facing_targets(facing_in_camera(pose_cam_mm.double()))
    return (targets[:, 0] > 0).float(), clear_view(targets)


def accuracy(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Share (%) of ``logits (N,)`` whose sign matches ``labels (N,)`` (1 / 0), over ``mask``."""
    right = (logits > 0) == (labels > 0.5)
    if mask is not None:
        right = right[mask]
    return float(right.double().mean() * 100.0) if len(right) else float("nan")


def load_split(frames, max_frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Up to ``max_frames`` frames of a ``FrameDataset`` (evenly thinned) as ``(N, 3, H, W)``
    images, ``(N,)`` labels, ``(N,)`` clear flags and ``(N, 17, 3)`` root-relative camera-frame
    poses (mm)."""
    from torch.utils.data import DataLoader

    from partpose.evaluation.evaluate import thin_frames

    images, poses = [], []
    for batch in DataLoader(thin_frames(frames, max_frames), batch_size=256, shuffle=False):
        images.append(batch["image"])
        poses.append(batch["pose3d"])
    poses = torch.cat(poses).float()
    labels, clear = front_labels(poses)
    return torch.cat(images), labels, clear, poses - poses[:, :1]


def frame_people(frames, max_frames: int) -> list[str]:
    """Each frame's person (``Video.subject``), for the frames of a ``FrameDataset`` that
    :func:`load_split` keeps (``thin_frames``), in its order."""
    from partpose.evaluation.evaluate import thin_frames

    kept = thin_frames(frames, max_frames)
    index = frames.index[:, 0] if kept is frames else frames.index[kept.indices, 0]
    return [frames.videos[int(v)].subject for v in index]


TAUGHT_ON = {"frames": "the frames", "puppets": "puppets", "puppets_print": "puppets with the print"}
"""What the classifier can be taught on (``--taught-on``)."""


def puppet_split(frames, max_frames: int, config, with_print: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Training images made of the prior's poses, as ``objective.prior_parts=frame_colours`` (or
    ``frame_colours_print``) draws them: for each frame :func:`load_split` keeps, a pose of
    ``config``'s prior under a view of its view prior, framed as training frames it, drawn as the
    puppet flat in the colours the frame shows its parts in under its true pose (``with_print``:
    the shirt's print apart, ``geometry.front_print``), over the frame's plate.

    Returns:
        ``(N, 3, H, W)`` images and ``(N,)`` labels: the side each prior pose shows its camera
        (:func:`front_labels`).
    """
    from torch.utils.data import DataLoader

    from partpose.data.pairs import _image
    from partpose.evaluation.evaluate import thin_frames
    from partpose.geometry import camera, front_print, puppet
    from partpose.geometry.parts import NUM_PARTS
    from partpose.training.algorithm import prior_views, true_puppet_pose
    from partpose.training.data_setup import build_prior

    prior = build_prior(config.data)
    generator = torch.Generator().manual_seed(seed)
    images, labels = [], []
    for batch in DataLoader(thin_frames(frames, max_frames), batch_size=256, shuffle=False):
        frame, count, size = batch["image"], len(batch["image"]), tuple(batch["image"].shape[-2:])
        videos = [frames.videos[int(v)] for v in batch["video_index"]]
        plate = torch.stack([torch.zeros_like(image) if video.background is None else _image(video.background_at(int(t)))
                             for video, t, image in zip(videos, batch["frame"], frame)])
        q_t, depth_t, scale_t = true_puppet_pose(batch["pose3d"].float(), batch["pose2d"].float())
        labels_t = puppet.labels(puppet.part_maps(q_t, depth_t, size, scale=scale_t))
        pose, up = prior.sample(count, generator, with_up=True)
        view = prior_views(config.objective, count, generator, up)
        scale, offset = camera.crop_framing(pose / 1000.0, view, config.objective.prior_crop_fill)
        q, depth = camera.project(pose / 1000.0, view, scale, offset)
        labels_z = puppet.labels(puppet.part_maps(q, depth, size, scale=scale))
        if with_print:
            print_t = front_print.print_mask(q_t, depth_t, scale_t, labels_t)
            colours = front_print.print_colours(frame, labels_t, print_t, NUM_PARTS)
            images.append(front_print.paint_with_print(labels_z, front_print.print_mask(q, depth, scale, labels_z),
                                                       colours, plate))
        else:
            images.append(puppet.paint_parts(labels_z, puppet.frame_part_colours(frame, labels_t, NUM_PARTS), plate))
        labels.append(front_labels(pose @ view.transpose(1, 2))[0])
    return torch.cat(images), torch.cat(labels)


def blind_floor(pose: torch.Tensor) -> float:
    """The lowest MPJPE (mm) any estimator blind to the front and back can score on the
    root-relative poses ``(N, 17, 3)``, were each as likely as its depth twin: half the twin's
    MPJPE. An estimator that cannot tell a frame from its twin's gives both one pose ``x``, and
    per joint ``|x - p| + |x - twin(p)| >= |p - twin(p)|`` (the midpoint of the two attains it)."""
    from partpose.evaluation import metrics
    from partpose.geometry.facing import depth_twin_pose

    return 0.5 * float(metrics.mpjpe(depth_twin_pose(pose), pose))


def leaning_towards(pose: torch.Tensor) -> float:
    """Share (%) of the camera-frame poses ``(N, 17, 3)`` whose thorax is nearer the camera than
    their pelvis: where the true pose is kept by L_twin's lean rule
    (``partpose.losses.twin.lean_choice`` with no margin) and its twin would be turned."""
    from partpose.losses.twin import lean_choice

    return float((~lean_choice(pose, 0.0)).double().mean() * 100.0)


def twin_where_wrong(logits: torch.Tensor, labels: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """The true root-relative poses ``(N, 17, 3)``, each replaced by its depth twin where the
    classifier's front/back is wrong: the best a pose estimator whose front/back is this
    classifier's can do, every limb and the view's axis right."""
    return twin_where(pose, (logits > 0) != (labels > 0.5))


@torch.no_grad()
def logits_of(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``(B, 3, H, W)`` images, each mirrored left to right with probability 1/2 (a mirrored
    person shows the camera the same side) and its colour channels in a random order (outfits
    in new colours, the print still contrasting)."""
    flip = torch.rand(len(images), generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    order = torch.argsort(torch.rand(len(images), 3, generator=generator), dim=1)
    return torch.gather(images, 1, order[:, :, None, None].expand_as(images))


def train_classifier(encoder_config, train: tuple, iterations: int, batch_size: int, lr: float, seed: int,
                     augmented: bool = False):
    """A fresh classifier (``partpose.models.side.SideNetwork``: the encoder's trunk and a linear
    unit, the model's side network) trained with Adam on random batches of ``train``
    (images, labels), :func:`augment`-ed when ``augmented``; returns it in eval mode."""
    torch.manual_seed(seed)
    from partpose.models.side import SideNetwork

    model = SideNetwork(encoder_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    images, labels = train[0], train[1]
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(iterations):
        pick = torch.randint(len(images), (batch_size,), generator=generator)
        batch = augment(images[pick], generator) if augmented else images[pick]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch), labels[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def classifier_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser described by ``doc``'s first line, with the arguments of the scripts
    that train a front/back classifier (:func:`train_classifier`): the configuration whose benchmark and encoder are
    used, and the classifier's iterations, batch size, learning rate and seeds."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "studio_ours_cpu.yaml",
                        help="training configuration whose benchmark and encoder are used")
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    return parser


def main(argv: list[str] | None = None) -> int:
    from partpose.data.pairs import FrameDataset
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation import metrics
    from partpose.training.config import load_config

    parser = classifier_parser(__doc__)
    parser.add_argument("--resolutions", type=int, nargs="+", help="crop sides to compare (default: the configuration's)")
    parser.add_argument("--people", type=int, nargs="+", default=[0], help="training people to compare (0: the configuration's)")
    parser.add_argument("--augment", action="store_true", help="mirror the training images and shuffle their colour channels")
    parser.add_argument("--per-person", action="store_true", help="a row for each person of the test split as well")
    parser.add_argument("--taught-on", nargs="+", choices=sorted(TAUGHT_ON), default=["frames"],
                        help="teach the classifier on the training frames, or on the prior's poses drawn as puppets "
                             "in their colours (with the shirt's print): puppet_split (default: frames)")
    parser.add_argument("--videos", type=int, default=400, help="videos rendered per split")
    parser.add_argument("--max-frames", type=int, default=4096, help="frames kept per split")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: PyTorch's default)")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    use_threads(args.threads)

    lines = [
        f"Front/back taught directly (`python benchmarks/front_back_legibility.py`; `{args.config.name}`'s benchmark "
        f"and encoder, {args.iterations} Adam iterations of batch {args.batch_size}, lr {args.lr:g}"
        f"{', mirrored and colour-shuffled' if args.augment else ''}; {args.videos} videos "
        f"and up to {args.max_frames} frames per split): accuracy (%) of a classifier of the front/back sign on its "
        "training frames and on the test split's unseen people.",
        "",
        "| resolution | training people | seed | training frames | test: all | test: clear | test motions, training people | chance "
        "| MPJPE: the truth, its twin where wrong | MPJPE floor blind to front/back | chest towards the camera | wall time "
        "| taught on |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def rows():
        config = load_config(args.config)
        for resolution, people in itertools.product(args.resolutions or [config.data.synthetic.resolution], args.people):
            synthetic = replace(config.data.synthetic, resolution=resolution, cache_dir=None,
                                num_train_subjects=people or config.data.synthetic.num_train_subjects)
            encoder_config = config.model.encoder  # convolutional, pooled to a fixed grid: any crop side
            train_frames = FrameDataset(build_synthetic_videos(synthetic, "train", spread=args.videos))
            train = load_split(train_frames, args.max_frames)
            test_frames = FrameDataset(build_synthetic_videos(synthetic, "test", spread=args.videos))
            test = load_split(test_frames, args.max_frames)
            people = frame_people(test_frames, args.max_frames)
            known = load_split(FrameDataset(build_synthetic_videos(synthetic, "test", subjects_from="train",
                                                                   spread=args.videos)), args.max_frames)
            floor, leaning = blind_floor(test[3]), leaning_towards(test[3])
            chance = max(float(test[1].mean()), 1.0 - float(test[1].mean())) * 100.0
            for taught_on, seed in itertools.product(args.taught_on, args.seeds):
                start = time.perf_counter()
                taught = train if taught_on == "frames" else puppet_split(
                    train_frames, args.max_frames, replace(config, data=replace(config.data, synthetic=synthetic)),
                    taught_on == "puppets_print", seed)
                model = train_classifier(encoder_config, taught, args.iterations, args.batch_size, args.lr, seed, args.augment)
                on_train, on_test, on_known = (logits_of(model, split[0]) for split in (train, test, known))
                truth = test[3]
                yield (f"| {resolution}² | {synthetic.num_train_subjects} | {seed} | {accuracy(on_train, train[1]):.0f} | "
                       f"{accuracy(on_test, test[1]):.0f} | {accuracy(on_test, test[1], test[2]):.0f} | "
                       f"{accuracy(on_known, known[1]):.0f} | {chance:.0f} | "
                       f"{float(metrics.mpjpe(twin_where_wrong(on_test, test[1], truth), truth)):.1f} | {floor:.1f} | {leaning:.0f} | "
                       f"{time.perf_counter() - start:.0f} s | {TAUGHT_ON[taught_on]} |")
                for person in sorted(set(people)) if args.per_person else ():
                    mask = torch.tensor([p == person for p in people])
                    labels, truth_p = test[1][mask], truth[mask]
                    chance_p = max(float(labels.mean()), 1.0 - float(labels.mean())) * 100.0
                    yield (f"| … {person} ({int(mask.sum())} frames) | | | | {accuracy(on_test[mask], labels):.0f} | "
                           f"{accuracy(on_test[mask], labels, test[2][mask]):.0f} | | {chance_p:.0f} | "
                           f"{float(metrics.mpjpe(twin_where_wrong(on_test[mask], labels, truth_p), truth_p)):.1f} | "
                           f"{blind_floor(truth_p):.1f} | {leaning_towards(truth_p):.0f} | | |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
