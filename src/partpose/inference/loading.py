"""Load a trained model: a checkpoint file (or a run folder) → the model in eval mode + its config.

A checkpoint is what ``partpose train`` writes (``partpose.training.checkpoint``): a dict with
``format``, ``config`` (the resolved ``TrainConfig`` as a plain dict) and ``model`` (the
``PartPoseModel`` state dict), plus optimiser and RNG states that inference ignores. Anything
else (a missing file, a foreign ``torch.save`` file, a configuration or weights this version of
partpose cannot read) raises ``UserError`` with a one-line message naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from partpose.errors import UserError
from partpose.models.partpose_model import PartPoseModel
from partpose.training import checkpoint as ckpt
from partpose.training.config import TrainConfig, config_from_dict

RUN_CHECKPOINTS = ("checkpoints/last.pt", "last.pt", "checkpoints/best.pt", "best.pt")
"""Files tried, in order, when a run folder is given instead of a checkpoint file: the final
model first. ``best.pt`` is chosen by training's periodic evaluation, which scores the test split,
so a number measured on that split with it is optimistic; name it explicitly to use it."""


@dataclass
class LoadedModel:
    """A model ready for inference.

    Attributes:
        model: the ``PartPoseModel`` in eval mode, on ``device``.
        config: the training configuration stored in the checkpoint.
        path: the checkpoint file read.
        step: the training step of the checkpoint (``None`` when not recorded).
        device: where the model's weights are.
    """

    model: PartPoseModel
    config: TrainConfig
    path: Path
    step: int | None
    device: torch.device

    @property
    def resolution(self) -> int:
        """Side of the square crops the model reads, pixels."""
        return int(self.config.model.resolution)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; any other value is passed to ``torch.device``.

    Raises:
        UserError: an unknown device name, or CUDA requested on a machine without it.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise UserError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r} requested but CUDA is not available on this machine")
    return resolved


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch operations (0 leaves PyTorch's default). On a shared
    machine, more threads than idle cores make every operation wait for the busiest core."""
    if threads < 0:
        raise UserError(f"--threads must be >= 0, got {threads}")
    if threads > 0:
        torch.set_num_threads(threads)


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint file ``path`` names: the file itself, or for a run folder the first of
    :data:`RUN_CHECKPOINTS` that exists.

    Raises:
        UserError: nothing there, or a folder without a checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        for name in RUN_CHECKPOINTS:
            if (path / name).is_file():
                return path / name
        raise UserError(f"{path}: no checkpoint in this folder (looked for {', '.join(RUN_CHECKPOINTS)})")
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Read a checkpoint and rebuild its model.

    Args:
        path: a checkpoint file or a run folder (:func:`resolve_checkpoint`).
        device: where to put the model (:func:`resolve_device` names, or a ``torch.device``).
    Returns:
        :class:`LoadedModel` with the model in eval mode.
    Raises:
        UserError: missing or unreadable file, not a partpose checkpoint, a configuration or a
            state dict that does not fit this version of the model (one line, naming the file).
    """
    file = resolve_checkpoint(path)
    target = resolve_device(device)
    payload = ckpt.load(file, map_location="cpu")
    if not isinstance(payload.get("config"), dict):
        raise UserError(f"{file}: the checkpoint holds no training configuration")
    try:
        config = config_from_dict(payload["config"])
        model = PartPoseModel(config.model)
    except (UserError, ValueError, TypeError) as error:
        raise UserError(f"{file}: its configuration does not fit this version of partpose ({_one_line(error)})") from None
    state = payload["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{file}: the checkpoint's 'model' entry is not a state dict of tensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise UserError(f"{file}: the weights do not fit the model its configuration describes "
                        f"({_one_line(error)})") from None
    model.to(target).eval()
    step = payload.get("step")
    return LoadedModel(model, config, file, int(step) if isinstance(step, int) else None, target)


def set_ground_band(loaded: LoadedModel, band_deg: float | None) -> None:
    """Give ``loaded``'s model the band of ``model.side_ground_band_deg`` (``PartPoseModel.turn_to_side``):
    bodies whose spine lies within ``band_deg`` of level take the side their 2D hands and legs give.
    ``None`` leaves the checkpoint's; ``loaded.config`` follows the model.

    Raises:
        UserError: ``band_deg`` outside 0..90, or above 0 for a model without a side network (the
            message names ``--ground-band``, the flag of ``partpose evaluate`` and ``predict``).
    """
    if band_deg is None:
        return
    if not 0.0 <= band_deg <= 90.0:
        raise UserError(f"--ground-band must be within 0..90 degrees, got {band_deg}")
    if loaded.model.side is None and band_deg > 0:
        raise UserError("--ground-band turns the side network's poses, and this model has no side network (model.side_network)")
    model_config = replace(loaded.model.config, side_ground_band_deg=float(band_deg))
    loaded.model.config = model_config
    loaded.config = replace(loaded.config, model=model_config)


def add_side_networks(loaded: LoadedModel, paths: list[str | Path]) -> None:
    """Read ``loaded``'s side network together with the side networks of the checkpoints
    ``paths``: its ``model.side`` becomes a ``models.side.SideEnsemble`` of its own and theirs, in
    that order, whose logits are their mean (``partpose evaluate --add-side``). Each checkpoint
    must hold the same pose network, weight for weight (a side network taught again beside it:
    ``benchmarks/side_refit.py``), and define the front as ``loaded``'s does. Nothing is done for an
    empty ``paths``.

    Raises:
        UserError: ``loaded`` or a checkpoint without a side network, a checkpoint whose pose
            network differs from ``loaded``'s, or another definition of the front (one line,
            naming the file).
    """
    if not paths:
        return
    from partpose.models.side import SideEnsemble

    model = loaded.model
    if model.side is None:
        raise UserError("--add-side averages side networks, and this model has none (model.side_network)")
    pose_state = {k: v for k, v in model.state_dict().items() if not k.startswith("side.")}
    members = [model.side]
    for path in paths:
        other = load_model(path, loaded.device)
        if other.model.side is None:
            raise UserError(f"{other.path}: its model has no side network to add")
        if other.model.config.side_definition != model.config.side_definition:
            raise UserError(f"{other.path}: its side network reads the front as {other.model.config.side_definition!r}, "
                            f"the model as {model.config.side_definition!r}")
        state = {k: v for k, v in other.model.state_dict().items() if not k.startswith("side.")}
        if state.keys() != pose_state.keys() or not all(torch.equal(state[k], pose_state[k]) for k in state):
            raise UserError(f"{other.path}: its pose network is not {loaded.path}'s; only side networks taught "
                            "beside the same pose network (benchmarks/side_refit.py) can be added")
        members.append(other.model.side)
    model.side = SideEnsemble(members).to(loaded.device).eval()


def _one_line(error: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an error message, shortened to ``limit`` characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
