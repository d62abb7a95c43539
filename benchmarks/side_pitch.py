"""About which up the side network's poses are turned: each test video's own camera, or one pitch.

    python benchmarks/side_pitch.py CHECKPOINT_OR_RUN [...] [--pitches 0 10 20] [--max-frames 1024]
        [--threads 2] [--out FILE.md]

A model with a side network (``model.side_network``) replaces every pose that shows the other side
than the network reads by its upright twin about the world's up in the camera
(``PartPoseModel.turn_to_side``, ``geometry.facing.upright_twin_pose``). That up comes from each
video (``Video.camera_up``: the synthetic benchmark and Human3.6M know their cameras) and, where a
video has none, from one camera pitch (``model.side_camera_elevation_deg``; ``partpose predict
--camera-pitch``). For every checkpoint (trained on the synthetic benchmark) this scores, on the
test split's frames (evenly thinned to ``--max-frames``, as the trainer's evaluation does):

- E alone (``PartPoseModel.encode``: no pose turned) and how often the side network is right;
- the poses turned about each video's own camera up (what ``partpose evaluate`` reports);
- the poses turned about the up of one pitch for every video, for each of ``--pitches``
  (0°: a level camera, the depth twin);
- the poses turned to the true side, about each video's own up and about each pitch's: what a
  perfect side network gives this E, and what the up costs it.

On the studio scene every camera looks down 10°, so the videos' own ups are that pitch's; on the
random scenes (``data.synthetic.scene=random``) each video's camera has an elevation of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import (checkpoints_parser, require_side_network, synthetic_checkpoints, use_threads,  # noqa: E402
                              write_table)

DEFAULT_PITCHES = (0.0, 10.0, 20.0)


def turned_scores(model, frames, pitches=DEFAULT_PITCHES, max_frames: int | None = 1024,
                  batch_size: int = 64) -> dict[str, float]:
    """MPJPE (mm) of ``model``'s poses on ``frames`` (a ``FrameDataset``) turned each way.

    Returns:
        ``{"alone": ..., "own_up": ..., "pitch <p>": ..., "true_side": ...,
        "true_side pitch <p>": ...}`` in mm (``<p>`` each of ``pitches``), and ``"side_right"``: the share of frames (%) whose side the side network reads
        right (``geometry.facing.faces_camera`` of the truth).
    Raises:
        UserError: the model has no side network.
    """
    import torch
    from torch.utils.data import DataLoader

    from partpose.evaluation import metrics
    from partpose.evaluation.evaluate import thin_frames
    from partpose.geometry import facing

    require_side_network(model, "nothing is turned")
    was_training = model.training
    model.eval()
    ups = {f"pitch {p:g}": facing.camera_up(p).float() for p in pitches}
    keys = ("alone", "own_up", *ups, "true_side", *(f"true_side {k}" for k in ups), "truth")
    poses: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    right = []
    with torch.no_grad():
        for batch in DataLoader(thin_frames(frames, max_frames), batch_size=batch_size, shuffle=False):
            image, truth = batch["image"], batch["pose3d"].float()
            est = model.encode(image)
            logits = model.side(image, est.q)
            true_logits = torch.where(facing.faces_camera(truth), 1.0, -1.0)
            right.append((logits > 0) == (true_logits > 0))
            poses["alone"].append(est.pose_cam_mm)
            poses["own_up"].append(model.turn_to_side(est, logits, batch["camera_up"]).pose_cam_mm)
            for key, up in ups.items():
                poses[key].append(model.turn_to_side(est, logits, up).pose_cam_mm)
            poses["true_side"].append(model.turn_to_side(est, true_logits, batch["camera_up"]).pose_cam_mm)
            for key, up in ups.items():
                poses[f"true_side {key}"].append(model.turn_to_side(est, true_logits, up).pose_cam_mm)
            poses["truth"].append(truth)
    model.train(was_training)
    joined = {k: torch.cat(v) for k, v in poses.items()}
    truth = joined.pop("truth")
    truth = truth - truth[:, :1]
    scores = {k: float(metrics.mpjpe(p - p[:, :1], truth)) for k, p in joined.items()}
    scores["side_right"] = float(torch.cat(right).double().mean() * 100)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--pitches", type=float, nargs="+", default=list(DEFAULT_PITCHES),
                        help="camera pitches (degrees down) to turn every video's poses about (default: 0 10 20)")
    parser.add_argument("--max-frames", type=int, default=1024, help="test frames, evenly thinned (default: 1024)")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    pitches = [f"{p:g}°" for p in args.pitches]
    command = " ".join(["python benchmarks/side_pitch.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"MPJPE (mm) of the side network's poses turned each way (`{command}`): the test split's frames, "
             f"at most {args.max_frames}, of each checkpoint's benchmark.", "",
             "| checkpoint | scene | E alone | side network right | turned: each video's own up | "
             + " | ".join(f"turned: {p} for all" for p in pitches) + " | true side, own up | "
             + " | ".join(f"true side, {p} for all" for p in pitches) + " |",
             "|---" * (6 + 2 * len(pitches)) + "|"]

    def rows():
        for path, loaded, frames in synthetic_checkpoints(args.checkpoints):
            s = turned_scores(loaded.model, frames, args.pitches, args.max_frames)
            yield (f"| {path} | {loaded.config.data.synthetic.scene} | {s['alone']:.1f} | {s['side_right']:.0f} % | "
                   f"{s['own_up']:.1f} | " + " | ".join(f"{s[f'pitch {p:g}']:.1f}" for p in args.pitches)
                   + f" | {s['true_side']:.1f} | "
                   + " | ".join(f"{s[f'true_side pitch {p:g}']:.1f}" for p in args.pitches) + " |")

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
