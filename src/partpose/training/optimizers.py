"""One Adagrad optimiser per loss (supplementary §5), and applying per-loss gradients.

Each loss of Algorithm 1 has its own optimiser over the parameters that loss updates, which
avoids hand-tuned loss weights: Adagrad normalises every loss's gradient by that loss's own
history. Because several losses share one forward graph and their optimisers update the same
parameters, every loss's gradients are computed first (``torch.autograd.grad``) and only then are
the optimisers stepped, one after the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable

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
    "side": "side",
}


# the settings whose labels stand beside the method's objectives (not the label-only bounds)
LABELLED_METHOD_SETTINGS = ("weak", "semi")


def label_lr_scales(setting: str, scale: float) -> dict[str, float]:
    """``build_optimizers``' ``lr_scales`` for ``optim.label_lr_scale``: the label losses'
    optimisers in the settings that add labels to the method; nothing in the others."""
    return {"pose2d": scale, "pose3d": scale} if setting in LABELLED_METHOD_SETTINGS else {}


def network_part(name: str) -> str:
    """The part of :class:`~partpose.models.PartPoseModel` that the parameter ``name`` (as
    ``named_parameters`` spells it) belongs to: ``"decoder"``, ``"side"``, ``"appearance"`` (the
    encoder's appearance path: its own trunk or branch, hidden layer and head) or ``"pose"`` (the
    rest of the encoder: the pose path with any trunk it shares with the appearance)."""
    top, _, rest = name.partition(".")
    if top in ("decoder", "side"):
        return top
    if top == "encoder":
        return "appearance" if rest.startswith("appearance_") else "pose"
    raise ValueError(f"parameter {name!r} is in no part of the network (encoder, decoder, side)")


def clip_parts(model: nn.Module, params_of: dict[str, list[nn.Parameter]]) -> dict[str, list[str]]:
    """For each loss of ``params_of``, the network part (:func:`network_part`) of each of its
    parameters, in ``params_of``'s order: ``apply_gradients``' ``parts``."""
    part_of = {id(p): network_part(name) for name, p in model.named_parameters()}
    return {loss: [part_of[id(p)] for p in params] for loss, params in params_of.items()}


def parameter_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    decoder = [p for p in model.decoder.parameters() if p.requires_grad]
    side_network = getattr(model, "side", None)
    side = [] if side_network is None else [p for p in side_network.parameters() if p.requires_grad]
    return {"encoder": encoder, "decoder": decoder, "both": encoder + decoder, "side": side}


def build_optimizers(
    model: nn.Module,
    lr: float,
    initial_accumulator_value: float = 0.0,
    kind: str = "adagrad",
    lr_scales: dict[str, float] | None = None,
) -> dict[str, torch.optim.Optimizer]:
    """One optimiser per loss: Adagrad as in the paper (``kind="adagrad"``), or Adam; none for a
    loss whose parameters the model does not have (``side`` without a side network).

    ``lr_scales`` maps a loss name to a factor on its optimiser's learning rate (1 for the
    others); the factor is kept in the parameter group as ``lr_scale``, so that
    :func:`set_learning_rate` and a resumed optimiser keep it.
    """
    if kind not in ("adagrad", "adam"):
        raise ValueError(f"optimiser kind must be 'adagrad' or 'adam', got {kind!r}")
    lr_scales = lr_scales or {}
    unknown = sorted(set(lr_scales) - set(LOSS_PARAMETERS))
    if unknown:
        raise ValueError(f"no optimiser for loss(es) {unknown}: the losses are {sorted(LOSS_PARAMETERS)}")
    groups = parameter_groups(model)
    optimizers: dict[str, torch.optim.Optimizer] = {}
    for name, which in LOSS_PARAMETERS.items():
        if not groups[which]:
            continue  # the side network's loss, without a side network
        scale = float(lr_scales.get(name, 1.0))
        group = [{"params": groups[which], "lr_scale": scale}]
        if kind == "adagrad":
            optimizers[name] = torch.optim.Adagrad(group, lr=lr * scale, initial_accumulator_value=initial_accumulator_value)
        else:
            optimizers[name] = torch.optim.Adam(group, lr=lr * scale)
    return optimizers


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
    relative_clip: RelativeClip | None = None,
    parts: dict[str, list[str]] | None = None,
) -> dict[str, torch.Tensor]:
    """Step each loss's optimiser with that loss's gradients; returns each loss's gradient norm
    (the L2 norm over all its parameters, before any clipping; 0-dim tensors, left on the device
    so that no step waits for them).

    ``reduce`` averages a gradient across processes (distributed training); it is applied to
    every gradient before any step, so all processes take identical steps. With ``grad_clip`` > 0
    each loss's gradients are scaled down to that norm where they exceed it; with
    ``relative_clip``, to that many times the running average of the loss's own norms (the lower
    of the two limits where both are set). With ``parts`` as well (:func:`clip_parts`: each
    loss's parameters' network parts), the relative clip limits each part's share of a loss's
    gradient to that many times the running average of that share's own norms, so that a large
    gradient on one part (the decoder's, say) no longer scales down another's (the pose's, from a
    term added to the same loss); ``grad_clip`` then limits the loss's whole gradient so clipped.
    """
    if reduce is not None:
        grads = {name: [reduce(g) for g in gs] for name, gs in grads.items()}
    norms: dict[str, torch.Tensor] = {}
    for name, gs in grads.items():
        params = params_of[name]
        for p, g in zip(params, gs):
            p.grad = g
        norm = norms[name] = torch.nn.utils.get_total_norm(gs)
        limit, clipped_norm = None, norm
        if relative_clip is not None and parts is not None:
            for part in dict.fromkeys(parts[name]):  # each part's share clipped on its own
                members = [i for i, label in enumerate(parts[name]) if label == part]
                part_norm = torch.nn.utils.get_total_norm([gs[i] for i in members])
                torch.nn.utils.clip_grads_with_norm_([params[i] for i in members],
                                                     relative_clip.limit(f"{name}/{part}", part_norm), part_norm)
            if grad_clip > 0:  # the fixed clip then sees the gradient as the parts left it
                clipped_norm = torch.nn.utils.get_total_norm(gs)
        elif relative_clip is not None:
            limit = relative_clip.limit(name, norm)
        if grad_clip > 0:
            limit = torch.full_like(norm, grad_clip) if limit is None else limit.clamp(max=grad_clip)
        if limit is not None:
            torch.nn.utils.clip_grads_with_norm_(params, limit, clipped_norm)
        optimizers[name].step()
        for p in params:
            p.grad = None
    return norms


def set_learning_rate(optimizers: dict[str, torch.optim.Optimizer], lr: float) -> None:
    """Give every parameter group of every optimiser the learning rate ``lr`` times its ``lr_scale``."""
    for optimizer in optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)


class RelativeClip:
    """Each loss's gradient norm limited to ``factor`` times the running average of its own.

    The average is exponential (``decay`` per step) over the norms as clipped, so a spike does not
    raise the limit that clips it; a loss's first norm starts its average and is not clipped, and
    so does its first norm after an average of 0.
    With one optimiser per loss, each of them taking steps of about the learning rate whatever its
    gradient's size, what a clip of a fixed norm would do differs from loss to loss; this one
    clips every loss's rare large gradients alike (``optim.grad_clip_relative``).
    """

    def __init__(self, factor: float, decay: float = 0.99) -> None:
        if factor <= 1:
            raise ValueError(f"a relative clip's factor must be > 1, got {factor}")
        if not 0 < decay < 1:
            raise ValueError(f"a relative clip's decay must be in (0, 1), got {decay}")
        self.factor, self.decay = float(factor), float(decay)
        self.average: dict[str, torch.Tensor] = {}

    def limit(self, name: str, norm: torch.Tensor) -> torch.Tensor:
        """The largest norm allowed to ``name``'s gradient of norm ``norm``; the running average
        is then updated with the norm as clipped."""
        if name not in self.average:
            self.average[name] = norm.detach().clone()
            return torch.full_like(self.average[name], math.inf)
        average = self.average[name]
        # an average of 0 (only zero gradients so far: a part a loss has not reached yet) starts
        # over with the next norm, unclipped, rather than holding every later gradient at 0
        started = average > 0
        limit = torch.where(started, self.factor * average, math.inf)
        self.average[name] = torch.where(
            started, self.decay * average + (1 - self.decay) * torch.minimum(norm.detach(), limit), norm.detach())
        return limit

    def state_dict(self) -> dict[str, float]:
        return {name: float(value) for name, value in self.average.items()}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.average = {name: torch.tensor(float(value)) for name, value in state.items()}

    def to(self, device: torch.device | str) -> RelativeClip:
        self.average = {name: value.to(device) for name, value in self.average.items()}
        return self
