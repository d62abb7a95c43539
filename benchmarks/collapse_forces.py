"""Which losses push the encoder's trunk towards reading nothing from the image?

    python benchmarks/collapse_forces.py [CHECKPOINT_OR_RUN ...] [--init] [--batches 6]
                                         [--threads 1] [--out FILE.md] [overrides ...]

The method's rows end with trunk features that hardly differ from image to image
(``benchmarks/encoder_units.py``), so every image gets one pose. This script measures, at a given
model, how each loss of Algorithm 1 moves the trunk (the encoder's stem and residual stages)
with respect to that: the **trunk spread** S is the standard deviation over 64 test images of
each pooled trunk feature, averaged over the features. For each loss that updates the encoder,
over ``--batches`` batches of training pairs (each at both halves of the energy alternation,
β = 1), with g the loss's mean gradient on the trunk:

- ``|g|``: its norm;
- ``cos(-g, ∇S)``: the cosine between a plain gradient step and the direction that raises S
  (negative: the step makes the images' features more alike);
- ``ΔS, one Adam step``: the change of S, to first order, of one step of a fresh Adam with lr
  1e-3 on that loss alone, ``-lr · sign(g) · ∇S``. Algorithm 1 gives every loss its own
  optimiser, so each takes steps of this size whatever its gradient's size.

Models: ``--init`` (a new model of the configuration, seed 0) and any checkpoints (their own
configuration; the data and objective of the first configuration given by the overrides, the
``cpu`` budget's studio scene by default).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, use_threads  # noqa: E402

STUDIO = ["data.synthetic.scene=studio", "data.synthetic.moving_camera_fraction=0", "optim.kind=adam"]


def trunk_parameters(encoder) -> list[torch.nn.Parameter]:
    """The parameters every head reads through: the stem and the residual stages."""
    return list(encoder.stem.parameters()) + list(encoder.stages.parameters())


def trunk_spread(encoder, images: torch.Tensor) -> torch.Tensor:
    """Mean over the pooled trunk features of their standard deviation over ``images`` (scalar, with graph)."""
    return encoder.features(images).std(dim=0, unbiased=False).mean()


def trunk_forces(model, batches: list[dict], priors: list[tuple[torch.Tensor, torch.Tensor]], objective, probe: torch.Tensor,
                 lr: float = 1e-3) -> tuple[float, dict[str, dict[str, float]]]:
    """``(S, {loss: {"norm", "cos", "adam_dS"}})`` for the encoder-updating losses of Algorithm 1
    (module docstring). ``priors[i]`` are the unpaired poses drawn with ``batches[i]`` and their
    world up vectors (``PosePrior.sample(..., with_up=True)``)."""
    from partpose.training.algorithm import training_losses

    trunk = trunk_parameters(model.encoder)
    spread = trunk_spread(model.encoder, probe)
    grad_spread = torch.autograd.grad(spread, trunk)
    sums: dict[str, list[torch.Tensor]] = {}
    counts: dict[str, int] = {}
    for i, (batch, (prior, up)) in enumerate(zip(batches, priors)):
        for step in (0, 1):  # both halves of the energy alternation
            generator = torch.Generator().manual_seed(1000 * i + step)
            out = training_losses(model, batch, prior, step, 1.0, objective, generator, prior_up=up)
            names = [name for name in out.losses if not name.endswith("_decoder")]
            for k, name in enumerate(names):
                grads = torch.autograd.grad(out.losses[name], trunk, retain_graph=k < len(names) - 1, allow_unused=True)
                grads = [torch.zeros_like(p) if g is None else g for p, g in zip(trunk, grads)]
                total = sums.setdefault(name, [torch.zeros_like(p) for p in trunk])
                for t, g in zip(total, grads):
                    t += g
                counts[name] = counts.get(name, 0) + 1
    norm_spread = torch.sqrt(sum((g.double() ** 2).sum() for g in grad_spread))
    forces = {}
    for name, total in sums.items():
        mean = [t / counts[name] for t in total]
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in mean))
        dot = sum((g.double() * s.double()).sum() for g, s in zip(mean, grad_spread))
        adam = -lr * sum((torch.sign(g).double() * s.double()).sum() for g, s in zip(mean, grad_spread))
        forces[name] = {"norm": float(norm), "cos": float(-dot / (norm * norm_spread).clamp_min(1e-30)),
                        "adam_dS": float(adam)}
    return float(spread.detach()), forces


def main(argv: list[str] | None = None) -> int:
    from partpose.errors import UserError
    from partpose.inference.loading import load_model
    from partpose.models.partpose_model import PartPoseModel
    from partpose.training.config import load_config
    from partpose.training.data_setup import build_training_data

    parser = checkpoints_parser(__doc__, checkpoints="*")
    parser.add_argument("--init", action="store_true", help="also a new model (seed 0)")
    parser.add_argument("--batches", type=int, default=6, help="batches of 16 training pairs")
    parser.add_argument("--config", type=Path, help="YAML configuration (default: the built-in defaults)")
    args, overrides = parser.parse_known_args(argv)
    use_threads(args.threads)
    try:
        config = load_config(args.config, STUDIO + overrides)
        models = [("new model (seed 0)", None)] if args.init or not args.checkpoints else []
        models += [(path, path) for path in args.checkpoints]
        data = build_training_data(config)
        if data.test_frames is None:
            raise UserError("the dataset has no test split to measure the trunk spread on")
        picks = np.linspace(0, len(data.test_frames) - 1, 64).round().astype(int)
        probe = torch.stack([data.test_frames[int(i)]["image"] for i in picks])
        loader = DataLoader(data.pairs, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
        batches = [batch for _, batch in zip(range(args.batches), loader)]
        priors = [data.prior.sample(len(b["image_t"]), torch.Generator().manual_seed(i), with_up=True)
                  for i, b in enumerate(batches)]
        lines = [f"Trunk forces on {len(batches)} batches of training pairs, β = 1 "
                 f"(`python benchmarks/collapse_forces.py`; objective: {config.objective.setting}).", ""]
        for label, path in models:
            if path is None:
                torch.manual_seed(0)
                model = PartPoseModel(config.model)
            else:
                model = load_model(path).model
            model.train()
            spread, forces = trunk_forces(model, batches, priors, config.objective, probe)
            block = [f"**{label}**: trunk spread S = {spread:.4f}", "",
                     "| loss | norm of g | cos(-g, ∇S) | ΔS, one Adam step (lr 1e-3) |", "|---|---|---|---|"]
            block += [f"| {name} | {f['norm']:.3g} | {f['cos']:+.3f} | {f['adam_dS']:+.2e} |" for name, f in forces.items()]
            print("\n".join(block) + "\n", flush=True)
            lines += block + [""]
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
