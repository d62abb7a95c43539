"""Checkpoints: written atomically, loaded safely, holding everything a resume needs.

A checkpoint holds the resolved config, the model's state, every optimiser's state, the step,
the best evaluation so far and the RNG states. It is written to a temporary file in the same
folder, flushed to disk and renamed over the old one (``os.replace`` is atomic), so a run killed
mid-write leaves the previous checkpoint intact and a half-written file is never loaded.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from partpose.errors import UserError
from partpose.utils.files import atomic_path

FORMAT_VERSION = 1


def save_atomic(payload: dict[str, Any], path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by ``save_atomic``; ``UserError`` if missing or not one of ours."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # corrupt or foreign file
        raise UserError(f"{path}: not a readable partpose checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION or "model" not in payload:
        raise UserError(f"{path}: not a partpose checkpoint (format {FORMAT_VERSION} expected)")
    return payload


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["key"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached"]))
    random.setstate(state["python"])
