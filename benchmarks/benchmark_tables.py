"""What the benchmark scripts share: writing their Markdown table."""

from __future__ import annotations

from pathlib import Path


def finish_table(lines: list[str], out: Path | None) -> int:
    """Print the table made of ``lines`` (and write it to ``out`` when given); the exit status 0."""
    text = "\n".join(lines)
    if out:
        out.write_text(text + "\n")
    print("\n" + text)
    return 0
