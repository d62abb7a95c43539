"""Entry point of the ``partpose`` command.

Every sub-command lives in its own module that exposes ``register(subparsers)``; ``register``
adds an ``argparse`` parser and sets ``func`` (a callable taking the parsed namespace and
returning an exit code). User mistakes raise ``UserError``/``ValueError``/``FileNotFoundError``
and are printed as one line with exit status 2 (``PARTPOSE_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from partpose.errors import UserError

# Sub-command modules, in the order ``partpose --help`` lists them.
_COMMANDS = ("train", "evaluate", "predict", "synthesize", "export", "data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partpose",
        description="Self-supervised 3D human pose from unlabelled video (part-guided image synthesis).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"partpose.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"partpose.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, FileNotFoundError, NotADirectoryError, KeyError) as error:
        if os.environ.get("PARTPOSE_DEBUG"):  # the full traceback, for developers
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"partpose: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("partpose: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
