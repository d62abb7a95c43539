"""What the benchmark scripts share: the arguments of those that read checkpoints, and writing
their Markdown table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path


def checkpoints_parser(doc: str, checkpoints: str = "+") -> argparse.ArgumentParser:
    """An argument parser described by ``doc``'s first line, with the ``checkpoints`` (``nargs``
    ``checkpoints``), ``--threads`` and ``--out`` arguments of the scripts that read checkpoints."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("checkpoints", nargs=checkpoints, help="checkpoint files or run folders (a folder: its final checkpoint, last.pt)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: PyTorch's default)")
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    return parser


def at_least_one(text: str) -> int:
    """An argparse ``type``: the integer ``text``, refused (a one-line usage error) below 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_test_people_argument(parser: argparse.ArgumentParser) -> None:
    """``--test-people N`` (at least 1; default ``None``): render the synthetic test split worn by
    ``N`` held-out people instead of the checkpoint's (``partpose evaluate --test-people``)."""
    parser.add_argument("--test-people", type=at_least_one, default=None, metavar="N",
                        help="render the test split worn by N held-out people (default: the checkpoint's)")


def use_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)``, or PyTorch's default when ``threads`` is 0."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def finish_table(lines: list[str], out: Path | None) -> int:
    """Print the table made of ``lines`` (and write it to ``out`` when given, its folder made if
    need be); the exit status 0."""
    text = "\n".join(lines)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print("\n" + text)
    return 0


def load_synthetic_model(path):
    """``load_model(path)`` of a checkpoint trained on the synthetic benchmark, which the scripts
    that render its splits read; any other raises a ``UserError`` naming the dataset."""
    from partpose.errors import UserError
    from partpose.inference.loading import load_model

    loaded = load_model(path)
    if loaded.config.data.dataset != "synthetic":
        raise UserError(f"{path}: trained on {loaded.config.data.dataset!r}; this script reads the synthetic benchmark only")
    return loaded


def require_side_network(model, purpose: str) -> None:
    """Raise a ``UserError`` unless ``model`` has a side network (``model.side_network``);
    ``purpose`` says what the script would have done with it."""
    from partpose.errors import UserError

    if model.side is None:
        raise UserError(f"the model has no side network (model.side_network): {purpose}")


def test_split(config, test_people: int | None = None) -> list:
    """The synthetic benchmark's test videos of ``config`` (a ``TrainConfig``), without rendering
    its training split; with ``test_people``, the same videos worn by that many held-out people,
    one a video in turn (``partpose evaluate --test-people``: ``evaluation.report.with_test_people``)."""
    from partpose.data.synthetic import build_synthetic_videos
    from partpose.evaluation.report import with_test_people

    if test_people is not None:
        config = with_test_people(config, test_people)
    return build_synthetic_videos(config.data.synthetic, "test")


def test_frames_cache():
    """A function ``(config, test_people=None) -> FrameDataset`` of the test split of a
    ``TrainConfig`` (:func:`test_split`), rendered once per benchmark (``data.synthetic``) and
    number of people."""
    from partpose.data.pairs import FrameDataset

    frames: dict[tuple[str, int | None], FrameDataset] = {}

    def frames_of(config, test_people: int | None = None) -> FrameDataset:
        key = (repr(config.data.synthetic), test_people)
        if key not in frames:
            frames[key] = FrameDataset(test_split(config, test_people))
        return frames[key]

    return frames_of


def synthetic_checkpoints(paths, test_people: int | None = None):
    """Yield ``(path, loaded, test_frames)`` for each checkpoint of ``paths`` trained on the
    synthetic benchmark (:func:`load_synthetic_model`), with its benchmark's test split as a
    ``FrameDataset`` (:func:`test_frames_cache`: rendered once for every distinct benchmark); with
    ``test_people``, the split worn by that many held-out people (:func:`test_split`)."""
    frames_of = test_frames_cache()
    for path in paths:
        loaded = load_synthetic_model(path)
        yield path, loaded, frames_of(loaded.config, test_people)


def write_table(lines: list[str], rows: Iterable[str], out: Path | None) -> int:
    """Append each row ``rows`` yields to ``lines``, printing it as it comes (a slow table shows
    its progress), then :func:`finish_table`. A ``UserError`` raised while the rows are made
    ends the script with its one-line message on stderr and the exit status 2."""
    from partpose.errors import UserError

    try:
        for row in rows:
            lines.append(row)
            print(row, flush=True)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return finish_table(lines, out)
