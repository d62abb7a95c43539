"""Image grids for TensorBoard and PNG files (no torchvision dependency)."""

from __future__ import annotations

import numpy as np
import torch


def make_grid(rows: list[torch.Tensor], max_columns: int = 8, pad: int = 2) -> np.ndarray:
    """Tile images into one uint8 picture: one row per tensor of ``rows``.

    Args:
        rows: tensors ``(B, 3, H, W)`` in [0, 1], all with the same H and W.
    Returns:
        ``(R·(H+pad)+pad, C·(W+pad)+pad, 3)`` uint8, white padding.
    """
    if not rows:
        raise ValueError("make_grid needs at least one row")
    n = min(max_columns, min(r.shape[0] for r in rows))
    h, w = rows[0].shape[-2:]
    out = np.full((len(rows) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        pixels = (row[:n].detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        for j in range(n):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = pixels[j]
    return out
