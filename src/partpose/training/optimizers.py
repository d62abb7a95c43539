"""One Adagrad optimiser per loss (supplementary §5), and applying per-loss gradients.

Each loss of Algorithm 1 has its own optimiser over the parameters that loss updates, which
avoids hand-tuned loss weights: Adagrad normalises every loss's gradient by that loss's own
history. Because several losses share one forward graph and their optimisers update the same
parameters, every loss's gradients are computed first (``torch.autograd.grad``) and only then are
the optimisers stepped, one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

# loss name -> which parameters it updates
LOSS_PARAMETERS: dict[str, str] = {
    "energy_pose_encoder": "encoder",
    "energy_appearance_encoder": "encoder",
    "energy_pose_decoder": "decoder",
    "energy_appearance_decoder": "decoder",
    "image_unpaired": "both",
    "image_consistency": "both",
    "segmentation": "both",
    "pose2d": "encoder",
    "pose3d": "encoder",
}


def parameter_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    decoder = [p for p in model.decoder.parameters() if p.requires_grad]
    return {"encoder": encoder, "decoder": decoder, "both": encoder + decoder}


def build_optimizers(
    model: nn.Module, lr: float, initial_accumulator_value: float = 0.0, kind: str = "adagrad"
) -> dict[str, torch.optim.Optimizer]:
    """One optimiser per loss: Adagrad as in the paper (``kind="adagrad"``), or Adam."""
    groups = parameter_groups(model)
    if kind == "adagrad":
        return {
            name: torch.optim.Adagrad(groups[which], lr=lr, initial_accumulator_value=initial_accumulator_value)
            for name, which in LOSS_PARAMETERS.items()
        }
    if kind == "adam":
        return {name: torch.optim.Adam(groups[which], lr=lr) for name, which in LOSS_PARAMETERS.items()}
    raise ValueError(f"optimiser kind must be 'adagrad' or 'adam', got {kind!r}")


def compute_gradients(
    losses: dict[str, torch.Tensor], params_of: dict[str, list[nn.Parameter]]
) -> dict[str, list[torch.Tensor]]:
    """Gradient of every loss w.r.t. its own parameters (zeros where a parameter is unused)."""
    grads: dict[str, list[torch.Tensor]] = {}
    names = list(losses)
    for i, name in enumerate(names):
        params = params_of[name]
        raw = torch.autograd.grad(losses[name], params, retain_graph=i < len(names) - 1, allow_unused=True)
        grads[name] = [torch.zeros_like(p) if g is None else g for p, g in zip(params, raw)]
    return grads


def gradients_finite(grads: dict[str, list[torch.Tensor]]) -> bool:
    return all(bool(torch.isfinite(g).all()) for gs in grads.values() for g in gs)


def apply_gradients(
    grads: dict[str, list[torch.Tensor]],
    params_of: dict[str, list[nn.Parameter]],
    optimizers: dict[str, torch.optim.Optimizer],
    grad_clip: float = 0.0,
    reduce: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> None:
    """Step each loss's optimiser with that loss's gradients.

    ``reduce`` averages a gradient across processes (distributed training); it is applied to
    every gradient before any step, so all processes take identical steps.
    """
    if reduce is not None:
        grads = {name: [reduce(g) for g in gs] for name, gs in grads.items()}
    for name, gs in grads.items():
        params = params_of[name]
        if grad_clip > 0:
            _clip_(gs, grad_clip)
        for p, g in zip(params, gs):
            p.grad = g
        optimizers[name].step()
        for p in params:
            p.grad = None


def set_learning_rate(optimizers: dict[str, torch.optim.Optimizer], lr: float) -> None:
    """Give every parameter group of every optimiser the learning rate ``lr``."""
    for optimizer in optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] = lr


def _clip_(grads: Iterable[torch.Tensor], max_norm: float) -> None:
    grads = list(grads)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale)
