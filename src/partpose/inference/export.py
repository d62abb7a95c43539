"""Export the pose path (E + T_fk + T_c) as a stand-alone TorchScript file.

The exported module takes ``image (B, 3, S, S)`` float RGB in [0, 1] (``S`` the model
resolution, any batch size) and returns the tuple ``(pose_cam_mm (B, 17, 3), q (B, 17, 2),
depth (B, 17))`` of ``PartPoseModel.encode_sided`` (units and frames of docs/architecture.md;
with ``flip_test``, of ``PartPoseModel.encode_flip_test``: each image read with its mirror). It runs
without partpose installed: ``torch.jit.load(path)``. The file also carries ``partpose.json``
(resolution, joint names, outputs, units), read with :func:`load_exported`.

Convention:
    The module is made by ``torch.jit.trace`` on the device given (``cpu`` by default), so it
    runs on that device: tracing records the model's own device moves. The input-validation
    checks of the geometry are evaluated once while tracing and are not part of the file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from partpose.errors import UserError
from partpose.geometry.skeleton import H36M17
from partpose.inference.figures import ensure_folder
from partpose.models.partpose_model import PartPoseModel

EXPORT_FORMATS = ("torchscript",)
METADATA_FILE = "partpose.json"
METADATA_FORMAT = "partpose-pose-path"
OUTPUTS = ("pose_cam_mm", "q", "depth")


class PosePath(nn.Module):
    """E + T_fk + T_c of a ``PartPoseModel``: image → ``(pose_cam_mm, q, depth)``.

    It holds the model's encoder, side network (if any) and bone-length buffer only (the decoder
    is not part of the pose path, nor of an exported file) and runs the model's own
    ``encode_sided`` code on them (with ``flip_test``, ``encode_flip_test``), so the exported
    computation is the eager one.
    """

    def __init__(self, model: PartPoseModel, flip_test: bool = False):
        super().__init__()
        self.config = model.config
        self.encoder = model.encoder
        self.side = model.side
        self.flip_test = flip_test
        self.register_buffer("bone_lengths_mm", model.bone_lengths_mm)

    pose_for_prior = PartPoseModel.pose_for_prior
    estimate = PartPoseModel.estimate
    encode = PartPoseModel.encode
    turn_to_side = PartPoseModel.turn_to_side
    world_up = PartPoseModel.world_up
    estimate_from_camera_pose = PartPoseModel.estimate_from_camera_pose
    encode_sided = PartPoseModel.encode_sided
    encode_flip_test = PartPoseModel.encode_flip_test

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        est = self.encode_sided(image, flip_test=self.flip_test)
        return est.pose_cam_mm, est.q, est.depth


def metadata(model: PartPoseModel, flip_test: bool = False) -> dict:
    """What the exported file says about itself."""
    r = int(model.config.resolution)
    return {
        "format": METADATA_FORMAT,
        "version": 1,
        "resolution": r,
        "flip_test": bool(flip_test),
        "input": f"image (B, 3, {r}, {r}) float32 RGB in [0, 1]",
        "outputs": list(OUTPUTS),
        "joint_names": list(H36M17.names),
        "units": {"pose_cam_mm": "(B, 17, 3) mm, camera frame (x right, y down, z away), root-relative",
                  "q": "(B, 17, 2) normalised crop coordinates in [-1, 1], (x, y)",
                  "depth": "(B, 17) root-relative camera depth, metres"},
    }


def trace_pose_path(model: PartPoseModel, example_batch: int = 2,
                    device: torch.device | str | None = None, flip_test: bool = False) -> torch.jit.ScriptModule:
    """Trace the pose path of ``model`` (put in eval mode) on random images of ``example_batch``.

    The trace keeps the batch dimension symbolic, so the module accepts any batch size.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device).eval()
    r = model.config.resolution
    example = torch.rand(example_batch, 3, r, r, generator=torch.Generator().manual_seed(0)).to(device)
    with warnings.catch_warnings():
        # Tracing warns about the Python-side input checks (evaluated once, by design) and about
        # its own deprecation in favour of torch.export, which the checks do not yet support.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        with torch.no_grad():
            traced = torch.jit.trace(PosePath(model, flip_test).eval(), example, check_trace=False)
    return traced


def export_pose_path(model: PartPoseModel, path: str | Path, fmt: str = "torchscript",
                     device: torch.device | str | None = None, flip_test: bool = False) -> Path:
    """Write the traced pose path (with ``flip_test``, the flip test's) with its metadata to ``path``.

    Raises:
        UserError: an unknown format or a file that cannot be written.
    """
    if fmt not in EXPORT_FORMATS:
        raise UserError(f"unknown export format {fmt!r}; known formats: {', '.join(EXPORT_FORMATS)}")
    path = Path(path)
    traced = trace_pose_path(model, device=device, flip_test=flip_test)
    ensure_folder(path.parent)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(traced, str(path), _extra_files={METADATA_FILE: json.dumps(metadata(model, flip_test))})
    except (OSError, RuntimeError) as error:
        raise UserError(f"cannot write {path} ({_first_line(error)})") from None
    return path


def load_exported(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[torch.jit.ScriptModule, dict]:
    """Load an exported pose path and its metadata.

    Raises:
        UserError: a missing file or one that is not an exported partpose pose path.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"exported model not found: {path}")
    extra = {METADATA_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location=map_location, _extra_files=extra)
    except (RuntimeError, ValueError, OSError) as error:
        raise UserError(f"{path}: not a TorchScript file ({_first_line(error)})") from None
    try:
        info = json.loads(extra[METADATA_FILE])
    except ValueError:
        info = {}
    if not isinstance(info, dict) or info.get("format") != METADATA_FORMAT:
        raise UserError(f"{path}: a TorchScript file, but not an exported partpose pose path")
    return module.eval(), info


@torch.no_grad()
def max_export_difference(model: PartPoseModel, exported: torch.jit.ScriptModule, batch_sizes: tuple[int, ...] = (1, 5),
                          seed: int = 0, flip_test: bool = False) -> dict[str, float]:
    """Largest ``|exported − eager|`` of each output on random images of each batch size
    (``flip_test``: the eager flip test's).

    Returns:
        ``{"pose_cam_mm": mm, "q": normalised units, "depth": metres, "max": the largest}``.
    """
    device = next(model.parameters()).device
    model = model.eval()
    r = model.config.resolution
    generator = torch.Generator().manual_seed(seed)
    worst = dict.fromkeys(OUTPUTS, 0.0)
    for b in batch_sizes:
        image = torch.rand(b, 3, r, r, generator=generator).to(device)
        eager = PosePath(model, flip_test)(image)
        traced = exported(image)
        for name, e, t in zip(OUTPUTS, eager, traced):
            worst[name] = max(worst[name], float((e.float() - t.float()).abs().max()))
    worst["max"] = max(worst.values())
    return worst


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
