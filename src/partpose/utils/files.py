"""Files written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write the file to; when the block ends without
    an error the file is renamed over ``path`` (``os.replace`` is atomic on one file system), so
    a process stopped mid-write leaves the old file, or none, never a half-written one. The
    temporary file is removed if the block fails. ``path``'s folder is created.

    ``suffix`` ends the temporary name, for writers that append their own extension otherwise
    (``np.save``: ``".npy"``, ``np.savez``: ``".npz"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
