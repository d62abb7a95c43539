"""Rotations worked out by hand for the tests: a turn about one coordinate axis."""

import math

import torch


def turn(axis: int, degrees: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(3, 3)`` the right-handed rotation by ``degrees`` about coordinate axis ``axis`` (0, 1, 2)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    i, j = (axis + 1) % 3, (axis + 2) % 3
    rotation = torch.eye(3, dtype=dtype)
    rotation[i, i], rotation[i, j], rotation[j, i], rotation[j, j] = c, -s, s, c
    return rotation
