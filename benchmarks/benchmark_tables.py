"""What the benchmark scripts share: writing their Markdown table."""

from __future__ import annotations

from pathlib import Path


def finish_table(lines: list[str], out: Path | None) -> int:
    """Print the table made of ``lines`` (and write it to ``out`` when given, its folder made if
    need be); the exit status 0."""
    text = "\n".join(lines)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print("\n" + text)
    return 0
