"""Input validation that raises one clear ``ValueError`` (never a bare assert on user input)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_shape(x: torch.Tensor, shape: Sequence[int | str | None], name: str = "input") -> None:
    """Raise ``ValueError`` unless ``x`` matches ``shape``.

    ``shape`` entries: an ``int`` must match exactly, a ``str`` or ``None`` matches any size
    (a ``str`` names the dimension in the message). A leading ``"*"`` allows any number of
    leading dimensions.

    Example: ``check_shape(q, ("B", 17, 2), "q")``.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    dims = list(shape)
    actual = tuple(x.shape)
    if dims and dims[0] == "*":
        dims = dims[1:]
        if len(actual) < len(dims):
            raise ValueError(f"{name} must have shape (..., {_fmt(dims)}), got {actual}")
        actual_tail = actual[len(actual) - len(dims):]
    else:
        if len(actual) != len(dims):
            raise ValueError(f"{name} must have shape ({_fmt(dims)}), got {actual}")
        actual_tail = actual
    for want, got in zip(dims, actual_tail):
        if isinstance(want, int) and want != got:
            prefix = "..., " if shape and shape[0] == "*" else ""
            raise ValueError(f"{name} must have shape ({prefix}{_fmt(dims)}), got {tuple(x.shape)}")


class NonFiniteError(ValueError):
    """A tensor holds NaN or Inf (the trainer's NaN guard skips such a step)."""


def check_finite(x: torch.Tensor, name: str = "input") -> None:
    """Raise ``NonFiniteError`` (a ``ValueError``) if ``x`` holds NaN or Inf."""
    if not torch.isfinite(x).all():
        raise NonFiniteError(f"{name} contains NaN or Inf values")


def _fmt(dims: Sequence[int | str | None]) -> str:
    return ", ".join("?" if d is None else str(d) for d in dims)
