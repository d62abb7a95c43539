"""``partpose export``: the pose path (E + T_fk + T_c) as a stand-alone TorchScript file.

    partpose export --checkpoint C --out model.pt [--format torchscript] [--check] [--flip-test]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from partpose.errors import UserError

DEFAULT_TOLERANCE = 1e-4


def register(subparsers: argparse._SubParsersAction) -> None:
    from partpose.inference.export import EXPORT_FORMATS

    parser = subparsers.add_parser(
        "export",
        help="export the pose path (image -> 3D pose, 2D pose, depth) as TorchScript",
        description="Trace E + T_fk + T_c of a checkpoint into a TorchScript file that maps images "
        "(B, 3, S, S) in [0, 1] to (pose_cam_mm (B, 17, 3), q (B, 17, 2), depth (B, 17)) and loads with "
        "torch.jit.load, without partpose. The file is reloaded and compared with the eager model on "
        "random images; the largest difference is printed.",
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="checkpoint file or run folder")
    parser.add_argument("--out", required=True, type=Path, help="output file, e.g. model.pt")
    parser.add_argument("--format", default="torchscript", choices=EXPORT_FORMATS,
                        help="export format (default: torchscript)")
    parser.add_argument("--device", default="cpu", help="device the exported file runs on (default: cpu)")
    parser.add_argument("--flip-test", action="store_true",
                        help="export the flip test: every image read with its mirror, the two poses averaged "
                        "(as partpose evaluate --flip-test)")
    parser.add_argument("--check", action="store_true",
                        help="fail (exit status 1) when the exported model differs from the eager one by more "
                        "than --tolerance")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"largest accepted difference for --check (default: {DEFAULT_TOLERANCE:g})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from partpose.inference.export import export_pose_path, load_exported, max_export_difference
    from partpose.inference.loading import load_model

    if not args.tolerance > 0:
        raise UserError(f"--tolerance must be > 0, got {args.tolerance}")
    loaded = load_model(args.checkpoint, args.device)
    path = export_pose_path(loaded.model, args.out, args.format, loaded.device, flip_test=args.flip_test)
    exported, info = load_exported(path, loaded.device)
    difference = max_export_difference(loaded.model, exported, flip_test=args.flip_test)
    size = path.stat().st_size / 1e6
    print(f"wrote {path} ({args.format}, {size:.1f} MB): image (B, 3, {info['resolution']}, {info['resolution']}) "
          f"-> pose_cam_mm (B, 17, 3) mm, q (B, 17, 2), depth (B, 17) m" + ("; flip test" if args.flip_test else ""))
    print("max |exported - eager| on random images: "
          + ", ".join(f"{k} {v:.2e}" for k, v in difference.items() if k != "max"))
    if args.check:
        ok = difference["max"] <= args.tolerance
        print(f"check: {'passed' if ok else 'FAILED'} (largest difference {difference['max']:.2e}, "
              f"tolerance {args.tolerance:g})")
        return 0 if ok else 1
    return 0
