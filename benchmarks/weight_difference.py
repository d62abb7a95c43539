"""Where two checkpoints' weights differ: the largest change in each part of the network.

    python benchmarks/weight_difference.py A B [--weights model|training_model] [--out FILE.md]

A and B are checkpoint files or run folders (a folder: its final checkpoint, last.pt). Their
weights (``model``: the averaged weights the checkpoint is read with, the default;
``training_model``: the raw weights training steps) are grouped by the first two parts of each
name (``encoder.stages``, ``decoder.up``, ``side.encoder``, ...). One row per group: the number of
tensors and of elements, the largest absolute difference, and the RMS difference against the
group's RMS weight in A (1: as large as the weights themselves); "identical" where every element
of every tensor is bit for bit the same.

What it answers: whether a setting reaches a part of the network at all. Two runs that differ
only in it, from the same seed on the same machine, train the parts it does not reach bit for
bit alike (the saliency weight β's drop, say, which only the decoder and the appearance see when
``objective.reconstruction_pose_grad=false`` and no relative clip joins L_sil's gradient to
L_I^u's); and whether a run resumed from a checkpoint ends where a straight run does.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import finish_table  # noqa: E402


def group_of(name: str) -> str:
    """The group of a weight's ``name``: its first two dotted parts (``bone_lengths_mm`` alone)."""
    return ".".join(name.split(".")[:2])


def weight_differences(a: dict, b: dict) -> dict[str, dict[str, float]]:
    """Per group (:func:`group_of`) of two state dicts with the same names and shapes:
    ``{"tensors", "elements", "max_abs", "rms_a", "rms_difference", "identical"}`` (the RMS over
    the group's elements), the groups in ``a``'s order.

    Raises:
        ValueError: the dicts name different weights, or a weight has two shapes.
    """
    import torch

    if a.keys() != b.keys():
        only = sorted(set(a) ^ set(b))
        raise ValueError(f"the checkpoints name different weights ({len(only)} in one only, e.g. {only[0]})")
    groups: dict[str, dict[str, float]] = {}
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            raise ValueError(f"{name}: shape {tuple(x.shape)} against {tuple(y.shape)}")
        g = groups.setdefault(group_of(name), {"tensors": 0, "elements": 0, "max_abs": 0.0, "square_sum": 0.0,
                                               "difference_square_sum": 0.0, "identical": True})
        g["tensors"] += 1
        g["elements"] += x.numel()
        if x.numel():
            difference = x.double() - y.double()
            g["max_abs"] = max(g["max_abs"], float(difference.abs().max()))
            g["difference_square_sum"] += float(difference.square().sum())
            g["square_sum"] += float(x.double().square().sum())
        g["identical"] = g["identical"] and torch.equal(x, y)
    for g in groups.values():
        for total, rms in (("square_sum", "rms_a"), ("difference_square_sum", "rms_difference")):
            g[rms] = (g.pop(total) / g["elements"]) ** 0.5 if g["elements"] else 0.0
    return groups


def main(argv: list[str] | None = None) -> int:
    import argparse

    from partpose.errors import UserError
    from partpose.inference.loading import resolve_checkpoint
    from partpose.training import checkpoint as ckpt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs=2, metavar="CHECKPOINT", help="two checkpoint files or run folders")
    parser.add_argument("--weights", choices=("model", "training_model"), default="model",
                        help="the averaged weights (model, the default) or the raw ones (training_model)")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    try:
        files = [resolve_checkpoint(path) for path in args.checkpoints]
        states = []
        for file in files:
            state = ckpt.load(file, map_location="cpu").get(args.weights)
            if not isinstance(state, dict):
                raise UserError(f"{file}: the checkpoint holds no {args.weights!r} weights")
            states.append(state)
        groups = weight_differences(*states)
    except (UserError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    command = " ".join(["python benchmarks/weight_difference.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"The {args.weights!r} weights of {files[0]} (A) against {files[1]} (B), by part of the network "
             f"(`{command}`).", "",
             "| part | tensors | elements | largest difference | RMS difference / A's RMS weight |", "|---|---|---|---|---|"]
    for name, g in groups.items():
        change = "identical" if g["identical"] else f"{g['max_abs']:.3g}"
        ratio = "" if g["identical"] or not g["rms_a"] else f"{g['rms_difference'] / g['rms_a']:.3g}"
        lines.append(f"| {name} | {g['tensors']} | {g['elements']:,} | {change} | {ratio} |")
    same = [name for name, g in groups.items() if g["identical"]]
    lines += ["", f"Identical: {len(same)} of {len(groups)} parts ({', '.join(same) or 'none'})."]
    return finish_table(lines, args.out)


if __name__ == "__main__":
    sys.exit(main())
