"""A view network taught the direction people travel: the whole azimuth about the world's up.

    python benchmarks/heading_view.py [--config configs/studio_side_cpu.yaml] [--iterations 1500]
        [--seeds 0] [--min-rate 0.0025] [--checkpoints CHECKPOINT ...] [--out FILE.md]

The side network is taught the side a video's travel shows (nearer: the front). The boxes say
more: they give the person's path up to scale (``partpose.data.travel.travel_heading``), and
people mostly face the way they go, so the direction of travel labels the whole azimuth of every
frame of a travelling video. On the studio's walking and running clips it is within 6–15° of the
way the chest faces, over all training frames 32° at the median (``side_cues.py``).

This script teaches it as the side network is taught its side: a fresh encoder trunk with a
two-unit linear head (``(cos, sin)`` of the azimuth; the loss ``1 − cos`` of the error), Adam,
on the frames of the training videos that travel at least ``--min-rate`` of their distance per
frame, labelled with their video's heading, against the same network taught each frame's true
azimuth. Both are scored on the test split's unseen people: the azimuth error (median, and the
share within 45°) and the side (the azimuth within 90° of facing the camera). With
``--checkpoints``, each model's encoder poses (``PartPoseModel.encode``) are turned about each
frame's up to the view network's azimuth (:func:`turn_to_azimuth`), and scored beside the
model's own poses (``encode_sided``: with a side network, its side) and the poses turned to the
true azimuth.

Azimuth convention (:func:`ground_azimuth`): about the world's up in the camera, 0 when the
chest faces the camera, positive towards the camera's right-handed turn about the up.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import use_threads, write_table  # noqa: E402
from side_cues import angle_error, chest_azimuth, ground_azimuth, travel_parser  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def turn_to_azimuth(pose_cam_mm: torch.Tensor, up: torch.Tensor, azimuth: torch.Tensor) -> torch.Tensor:
    """Root-relative poses ``(N, 17, 3)`` turned about each ``up`` ``(N, 3)`` so that their chests
    face ``azimuth`` ``(N,)`` (radians, :func:`ground_azimuth`)."""
    from scipy.spatial.transform import Rotation

    pose = pose_cam_mm - pose_cam_mm[:, :1]
    unit = torch.nn.functional.normalize(up.to(pose.dtype), dim=1)
    angle = azimuth.to(pose.dtype) - chest_azimuth(pose, unit)
    rotation = torch.from_numpy(Rotation.from_rotvec((unit * angle[:, None]).numpy()).as_matrix()).to(pose.dtype)
    return torch.einsum("bij,bnj->bni", rotation, pose)


class ViewNetwork(torch.nn.Module):
    """An encoder trunk and a linear unit pair: ``(B, 3, H, W)`` → ``(B,)`` azimuths (radians)."""

    def __init__(self, encoder_config):
        super().__init__()
        from partpose.models.encoder import Encoder

        self.encoder = Encoder(encoder_config)
        self.head = torch.nn.Linear(self.encoder.feature_dim, 2)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.head(self.encoder.features(image))
        return torch.atan2(out[:, 1], out[:, 0])


def train_view_network(encoder_config, images: torch.Tensor, azimuths: torch.Tensor, iterations: int,
                       batch_size: int, lr: float, seed: int) -> ViewNetwork:
    """A fresh :class:`ViewNetwork` trained with Adam on ``1 − cos`` of its azimuth error on random
    batches of ``images`` ``(N, 3, H, W)`` and their ``azimuths`` ``(N,)``; in eval mode."""
    torch.manual_seed(seed)
    model = ViewNetwork(encoder_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(iterations):
        pick = torch.randint(len(images), (batch_size,), generator=generator)
        loss = (1.0 - torch.cos(model(images[pick]) - azimuths[pick].float())).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def azimuths_of(model: ViewNetwork, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    return torch.cat([model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]).double()


def video_azimuths(videos, min_rate: float | None):
    """Every frame of ``videos`` as ``(N, 3, H, W)`` images, with ``(N,)`` true chest azimuths,
    ``(N, 3)`` ups and ``(N, 17, 3)`` poses; with ``min_rate``, only the videos that travel that
    fast, and also each frame's video heading ``(N,)`` (else ``None``)."""
    import numpy as np

    from partpose.data.travel import travel_heading

    images, true, ups, poses, headings = [], [], [], [], []
    for video in videos:
        up = torch.from_numpy(video.camera_up).double()
        pose = torch.from_numpy(video.pose3d_cam_mm).double()
        if min_rate is not None:
            direction, rate = travel_heading(video.person_box, video.camera_up[0])
            if direction is None or rate < min_rate:
                continue
            headings.append(ground_azimuth(torch.from_numpy(np.tile(direction, (len(up), 1))), up))
        images.append(torch.from_numpy(video.frames).permute(0, 3, 1, 2).float() / 255.0)
        true.append(chest_azimuth(pose, up))
        ups.append(up)
        poses.append(pose)
    heading = torch.cat(headings) if headings else None
    return torch.cat(images), torch.cat(true), torch.cat(ups), torch.cat(poses), heading


def main(argv: list[str] | None = None) -> int:
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.training.config import load_config

    parser = travel_parser(__doc__, "their encoder's poses turned to the view network's azimuth")
    parser.set_defaults(config=ROOT / "configs" / "studio_side_cpu.yaml")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    command = " ".join(["python benchmarks/heading_view.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"A view network taught the direction of travel (`{command}`): azimuth about the world's up on the test "
             "split's unseen people.", "",
             "| view network taught by | seed | training frames | its labels within 45° | test: azimuth error (median) "
             "| test: within 45° | test: side right | wall time |",
             "|---|---|---|---|---|---|---|---|"]

    def rows():
        from benchmark_tables import load_synthetic_model
        from partpose.errors import UserError
        from partpose.evaluation import metrics

        config = load_config(args.config)
        synthetic = replace(config.data.synthetic, cache_dir=None)
        train = video_azimuths(build_synthetic_videos(synthetic, "train", spread=args.videos), args.min_rate)
        if train[4] is None:
            raise UserError(f"no training video travels --min-rate {args.min_rate:g} of its distance a frame")
        images, true, _, _, heading = train
        test_images, test_true, test_up, test_pose, _ = video_azimuths(
            build_synthetic_videos(synthetic, "test", spread=args.test_videos), None)
        quarter = math.pi / 4
        predicted = {}
        for name, taught in (("the heading of its video", heading), ("the true azimuth (same frames)", true)):
            for seed in args.seeds:
                start = time.perf_counter()
                model = train_view_network(config.model.encoder, images, taught, args.iterations, args.batch_size,
                                           args.lr, seed)
                on_test = azimuths_of(model, test_images)
                predicted.setdefault(name, []).append((seed, on_test))
                error = angle_error(on_test, test_true)
                side = (angle_error(on_test, torch.zeros_like(on_test)) < math.pi / 2) == (
                    angle_error(test_true, torch.zeros_like(test_true)) < math.pi / 2)
                yield (f"| {name} | {seed} | {len(images)} | {float((angle_error(taught, true) < quarter).double().mean() * 100):.0f} % | "
                       f"{math.degrees(float(error.median())):.0f}° | {float((error < quarter).double().mean() * 100):.0f} % | "
                       f"{float(side.double().mean() * 100):.0f} % | {time.perf_counter() - start:.0f} s |")
        if not args.checkpoints:
            return
        yield ""
        yield ("| checkpoint | view network seed | as the model gives them | the encoder's poses | turned to the heading-taught "
               "network | turned to the truth-taught network | turned to the true azimuth |")
        yield "|---|---|---|---|---|---|---|"
        truth = test_pose - test_pose[:, :1]
        for path in args.checkpoints:
            model = load_synthetic_model(path).model.eval()
            with torch.no_grad():
                own, sided = [], []
                for i in range(0, len(test_images), 256):
                    image, up = test_images[i:i + 256], test_up[i:i + 256].float()
                    own.append(model.encode(image).pose_cam_mm.double())
                    sided.append(model.encode_sided(image, up).pose_cam_mm.double())
            own, sided = torch.cat(own), torch.cat(sided)

            def mpjpe(pose):
                return float(metrics.mpjpe(pose - pose[:, :1], truth))

            to_truth = mpjpe(turn_to_azimuth(own, test_up, test_true))
            for (seed, by_heading), (_, by_truth) in zip(*predicted.values()):
                yield (f"| {path} | {seed} | {mpjpe(sided):.1f} | {mpjpe(own):.1f} | "
                       f"{mpjpe(turn_to_azimuth(own, test_up, by_heading)):.1f} | "
                       f"{mpjpe(turn_to_azimuth(own, test_up, by_truth)):.1f} | {to_truth:.1f} |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
