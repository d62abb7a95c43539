"""The trainer: Algorithm 1 inside Lightning Fabric, with checkpoints, logging and evaluation.

Fabric sits at the edges only: it picks the device (cpu / cuda / mps), the precision (autocast
for ``bf16-mixed``), launches the processes of a distributed run and provides the collectives.
The loop itself is written out below. Because Algorithm 1 gives every loss its own optimiser and
takes per-loss gradients with ``torch.autograd.grad``, gradients are averaged across processes
explicitly (``fabric.all_reduce``) before any optimiser steps, so every process takes identical
steps and the weights stay identical.

Run folder (``run.out_dir``)::

    config.yaml              the resolved configuration
    checkpoints/last.pt      written atomically every ``run.checkpoint_every`` steps and at the end
    checkpoints/best.pt      the checkpoint with the lowest test MPJPE so far (chosen on the test
                             split, so optimistic there; a run folder given to the commands
                             means last.pt)
    tensorboard/             scalars (every loss, beta, throughput, metrics) and image grids
    metrics.jsonl            one line per evaluation
    final_metrics.json       the evaluation at the end of training

With ``objective.side_label=steady_distance`` the side network's labels are read anew every
``objective.side_relabel_every`` steps by the evaluated weights (``training/side_relabel.py``);
the checkpoints hold the labels, so a resumed run goes on with the ones it had, and every batch is
given the latest labels in the training process, so DataLoader workers may load the pairs.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import yaml
from lightning_fabric import Fabric
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from partpose.data.pairs import mirror_pairs
from partpose.errors import UserError
from partpose.evaluation.evaluate import predict_frames, score
from partpose.models.partpose_model import PartPoseModel
from partpose.training import checkpoint as ckpt
from partpose.training.algorithm import training_losses
from partpose.training.config import TrainConfig, config_from_dict, config_to_dict
from partpose.training.data_setup import TrainingData, build_training_data
from partpose.training.optimizers import (
    LOSS_PARAMETERS,
    RelativeClip,
    apply_gradients,
    build_optimizers,
    clip_parts,
    compute_gradients,
    gradients_finite,
    label_lr_scales,
    parameter_groups,
    set_learning_rate,
)
from partpose.training.sampling import StepBatchSampler, step_generator
from partpose.training.side_relabel import batch_side_labels, labelled_share, relabel_by_distance
from partpose.training.schedules import learning_rate, saliency_beta
from partpose.utils.checks import NonFiniteError
from partpose.utils.files import atomic_path
from partpose.utils.images import make_grid

SUPPORTED_PRECISION = ("32-true", "bf16-mixed", "64-true")


class TrainingDiverged(UserError):
    """Losses or gradients stayed non-finite for too many consecutive steps."""


@dataclass
class TrainResult:
    step: int
    metrics: dict[str, float]
    best_metrics: dict[str, float] | None
    out_dir: Path
    seconds: float  # this call's training time
    skipped_steps: int
    initial_metrics: dict[str, float] | None = None
    rank_weight_difference: float = 0.0  # largest |w_rank − w_rank0| over processes (0 when single)
    # the run's training time over every call that trained it, resumed ones included; None when it
    # resumed a checkpoint that does not record it (saved before checkpoints did)
    total_seconds: float | None = None


def train(config: TrainConfig, resume: bool = True) -> TrainResult:
    """Train with ``config``; resumes from ``out_dir/checkpoints/last.pt`` when it exists."""
    run = config.run
    if run.precision not in SUPPORTED_PRECISION:
        raise UserError(f"run.precision must be one of {', '.join(SUPPORTED_PRECISION)}, got {run.precision!r}")
    fabric = Fabric(
        accelerator=run.accelerator,
        devices=run.devices,
        num_nodes=run.num_nodes,
        strategy=run.strategy,
        precision=run.precision,
    )
    return fabric.launch(_train_process, config, resume)


def build_model(config: TrainConfig, data: TrainingData) -> tuple[TrainConfig, PartPoseModel]:
    """The model, with the prior's bone lengths when the config names none (recorded in config)."""
    if config.model.bone_lengths_mm is None:
        lengths = tuple(float(x) for x in data.prior.bone_lengths)
        config = replace(config, model=replace(config.model, bone_lengths_mm=lengths))
    torch.manual_seed(config.run.seed)
    return config, PartPoseModel(config.model)


def settings_differences(requested: TrainConfig, saved: TrainConfig) -> list[str]:
    """``"key: saved -> requested"`` for every setting outside ``run`` that differs, in key order.

    ``model.bone_lengths_mm`` left unset (``None``) in ``requested`` matches any saved value: the
    trainer fills it from the prior (:func:`build_model`).
    """
    def flat(tree: dict, prefix: str = "") -> dict[str, object]:
        out = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    want, have = flat(config_to_dict(requested)), flat(config_to_dict(saved))
    if want.get("model.bone_lengths_mm") is None:
        want["model.bone_lengths_mm"] = have.get("model.bone_lengths_mm")
    keys = sorted(k for k in set(want) | set(have) if not k.startswith("run.") and want.get(k) != have.get(k))
    return [f"{k}: {have.get(k)!r} -> {want.get(k)!r}" for k in keys]


def load_initial_weights(model: PartPoseModel, source: str) -> None:
    """Copy the model weights of the checkpoint ``source`` (a file or a run folder) into ``model``.

    Raises:
        UserError: no checkpoint there, or one whose model has other shapes or parameters (a
            different ``model`` configuration).
    """
    from partpose.inference.loading import resolve_checkpoint

    path = resolve_checkpoint(source)
    try:
        model.load_state_dict(ckpt.load(path)["model"])
    except RuntimeError as error:  # PyTorch's message: a header line, then one line a mismatch
        detail = str(error).splitlines()[1:2] or [str(error)]
        raise UserError(f"run.init_from={source}: its model does not fit this run's model settings ({detail[0].strip()})") from None


def keep_evaluations_before(path: Path, step: int) -> None:
    """Keep the lines of the evaluation log ``path`` (``metrics.jsonl``) made before ``step`` and
    drop the others, which the run makes again: otherwise a run started over in a folder that
    holds an earlier try's log, or resumed from a checkpoint older than its last evaluation,
    would log those steps twice. Rewritten atomically; nothing to do where there is no log."""
    if not path.is_file():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)["step"] < step]
    if kept != lines:
        with atomic_path(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))


def _train_process(fabric: Fabric, config: TrainConfig, resume: bool) -> TrainResult:
    run = config.run
    if run.threads > 0:
        torch.set_num_threads(run.threads)
    out_dir = Path(run.out_dir)
    last_path = out_dir / "checkpoints" / "last.pt"
    state = None
    if resume and last_path.is_file():
        state = ckpt.load(last_path)
        saved = config_from_dict(state["config"])
        # A resumed run keeps its model, data, objective and optimiser settings; only ``run``
        # (steps, logging, devices) may change, and asking for other settings is an error.
        differences = settings_differences(config, saved)
        if differences:
            raise UserError(f"{out_dir} holds a run with other settings ({'; '.join(differences[:3])}"
                            f"{'; ...' if len(differences) > 3 else ''}): resume it with its own settings, "
                            "start it over (partpose train --fresh) or choose another run.out_dir")
        config = replace(saved, run=config.run)

    data = build_training_data(config)
    config, model = build_model(config, data)
    model = fabric.to_device(model)
    model.train()
    optimizers = build_optimizers(model, config.optim.lr, config.optim.initial_accumulator_value, config.optim.kind,
                                  label_lr_scales(config.objective.setting, config.optim.label_lr_scale))
    groups = parameter_groups(model)
    params_of = {name: groups[which] for name, which in LOSS_PARAMETERS.items() if groups[which]}

    start_step, best, skipped_total, seconds_before = 0, None, 0, 0.0
    relative_clip = RelativeClip(config.optim.grad_clip_relative) if config.optim.grad_clip_relative > 0 else None
    parts = clip_parts(model, params_of) if config.optim.grad_clip_relative_by == "part" else None
    if state is not None:
        if relative_clip is not None:
            relative_clip.load_state_dict(state.get("relative_clip", {}))
            relative_clip.to(fabric.device)
        # with a weight average, "model" is the average and "training_model" the raw weights
        model.load_state_dict(state.get("training_model", state["model"]))
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        start_step, best, skipped_total = state["step"], state.get("best"), state.get("skipped_steps", 0)
        seconds_before = state.get("train_seconds")  # None: saved before checkpoints kept it
        if "side_labels" in state:  # objective.side_label=steady_distance: the labels last read
            data.pairs.side_front = [labels.numpy() for labels in state["side_labels"]]
        ckpt.set_rng_state(state["rng"])
        fabric.print(f"resuming {out_dir} at step {start_step}")
    elif run.init_from:
        load_initial_weights(model, run.init_from)
        fabric.print(f"starting from the weights of {run.init_from}")
    elif fabric.world_size > 1:
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.data.copy_(fabric.broadcast(tensor.data, src=0))
    averaged = weight_average(model, config.optim.ema_decay)  # a copy of the weights as they now start
    if averaged is not None and state is not None:
        averaged.module.load_state_dict(state["model"])
        averaged.n_averaged.fill_(state["ema_updates"])
    evaluated = model if averaged is None else averaged.module  # the weights evaluated and saved as "model"

    writer = None
    if fabric.global_rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
        # the evaluations this run makes again: all when it starts over, those past its checkpoint
        # when it resumes, and its last when it resumes a finished run (which evaluates it again)
        first_redone = 0 if start_step == 0 else start_step if start_step >= run.steps else start_step + 1
        keep_evaluations_before(out_dir / "metrics.jsonl", first_redone)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out_dir / "tensorboard"))

    # semi only (config.validate): that share of every batch from the 3D-labelled pairs
    labelled_per_batch = round(config.objective.semi_labelled_share * run.batch_size)
    labelled = data.pairs.labelled_3d_items() if labelled_per_batch else None
    if labelled is not None and len(labelled) == 0:
        raise UserError("objective.semi_labelled_share > 0, but no training pair has a 3D-labelled target frame")
    sampler = StepBatchSampler(len(data.pairs), run.batch_size, run.seed, run.steps, start_step, fabric.global_rank,
                               labelled=labelled, labelled_per_batch=labelled_per_batch)
    loader = DataLoader(data.pairs, batch_sampler=sampler, num_workers=config.data.num_workers,
                        persistent_workers=config.data.num_workers > 0)
    reduce = (lambda g: fabric.all_reduce(g, reduce_op="mean")) if fabric.world_size > 1 else None
    objective = config.objective
    relabels = objective.side_label == "steady_distance" and objective.side_weight > 0

    def training_seconds() -> float | None:
        """The run's training time so far, over this call and those before it (None: unknown)."""
        return None if seconds_before is None else seconds_before + time.perf_counter() - started

    def save(step: int, path: Path) -> None:
        if fabric.global_rank == 0:
            ckpt.save_atomic({
                "format": ckpt.FORMAT_VERSION,
                "config": config_to_dict(config),
                "model": evaluated.state_dict(),
                **({} if averaged is None else {"training_model": model.state_dict(),
                                                "ema_updates": int(averaged.n_averaged)}),
                "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
                "step": step,
                "best": best,
                "skipped_steps": skipped_total,
                "train_seconds": training_seconds(),
                "rng": ckpt.rng_state(),
                **({} if relative_clip is None else {"relative_clip": relative_clip.state_dict()}),
                **({"side_labels": [torch.from_numpy(labels) for labels in data.pairs.side_front]} if relabels else {}),
            }, path)
        fabric.barrier()

    def evaluate(step: int) -> dict[str, float]:
        if data.test_frames is None:  # no test split (own videos): nothing to evaluate
            return {}
        def scored(weights: torch.nn.Module) -> dict[str, float]:
            return score(predict_frames(weights, data.test_frames, max_frames=run.eval_max_frames, device=fabric.device))

        metrics = scored(evaluated)
        if averaged is not None:  # the raw weights too, under their own names
            raw = scored(model)
            metrics.update({f"{key}_training_weights": raw[key] for key in ("mpjpe", "pa_mpjpe")})
        metrics["step"] = step
        if fabric.global_rank == 0:
            with open(out_dir / "metrics.jsonl", "a") as handle:
                handle.write(json.dumps(metrics) + "\n")
            for key, value in metrics.items():
                if key not in ("step", "frames"):
                    writer.add_scalar(f"eval/{key}", value, step)
        return metrics

    if relabels and writer is not None:  # the labels the run starts (or resumes) with
        writer.add_scalar("train/side_labelled_share", labelled_share(data.pairs.side_front), start_step)
    initial_metrics = None
    if start_step == 0 and run.eval_at_start:
        initial_metrics = evaluate(0)
    started = time.perf_counter()  # training time leaves out the setting up and the evaluation at the start
    consecutive_bad, step = 0, start_step
    progress = tqdm(total=run.steps, initial=start_step, disable=not (run.progress and fabric.global_rank == 0),
                    desc="train", dynamic_ncols=True)
    last_log_time, last_log_step = time.perf_counter(), start_step
    largest_norm: dict[str, torch.Tensor] = {}  # each loss's largest gradient norm since the last log
    for step, batch in zip(range(start_step, run.steps), loader):
        batch = fabric.to_device(batch)
        if relabels:  # the latest reading's labels: worker processes load from copies of the pairs made before it
            for key, frame in (("side_front_s", "frame_s"), ("side_front_t", "frame_t")):
                batch[key] = batch_side_labels(data.pairs.side_front, batch["video_index"], batch[frame])
        if config.data.flip_augment > 0:  # which pairs are mirrored: drawn per step, so a resumed run mirrors the same
            flips = step_generator(run.seed, step, fabric.global_rank, stream=3)
            which = torch.rand(batch["image_t"].shape[0], generator=flips) < config.data.flip_augment
            batch = mirror_pairs(batch, which)
        generator = step_generator(run.seed, step, fabric.global_rank, stream=2)
        prior_z, up_z = data.prior.sample(run.batch_size * objective.prior_draws, generator, with_up=True)
        prior_z = prior_z.to(device=fabric.device)  # up_z stays with the generator: the views are drawn there
        beta = 0.0 if objective.no_saliency else saliency_beta(
            step, run.steps, objective.beta_start, objective.beta_end, objective.beta_drop_fraction)
        with_images = writer is not None and run.image_every > 0 and step % run.image_every == 0
        try:
            with fabric.autocast():
                out = training_losses(model, batch, prior_z, step, beta, objective, generator, with_images, up_z)
            finite = all(math.isfinite(v) for v in out.scalars.values())
        except NonFiniteError:  # the geometry refused a NaN/Inf prediction
            out, finite = None, False
        grads = compute_gradients(out.losses, params_of) if finite else {}
        finite = finite and gradients_finite(grads)
        if fabric.world_size > 1:  # every process must agree to skip
            flag = fabric.all_reduce(torch.tensor(float(finite), device=fabric.device), reduce_op="min")
            finite = bool(flag > 0.5)
        if finite:
            set_learning_rate(optimizers, learning_rate(step, run.steps, config.optim.lr, config.optim.lr_schedule,
                                                         run.cooldown_steps))
            norms = apply_gradients(grads, params_of, optimizers, config.optim.grad_clip, reduce, relative_clip, parts)
            for name, norm in norms.items():  # the largest since the last log: a spike between logs shows
                largest_norm[name] = torch.maximum(largest_norm[name], norm) if name in largest_norm else norm
            if averaged is not None:
                averaged.update_parameters(model)
            consecutive_bad = 0
        else:
            consecutive_bad += 1
            skipped_total += 1
            if consecutive_bad >= run.max_nonfinite_steps:
                progress.close()
                raise TrainingDiverged(
                    f"training diverged: losses or gradients were NaN/Inf for {consecutive_bad} consecutive steps "
                    f"(step {step}); lower optim.lr or set optim.grad_clip, and resume from {last_path}")
        done = step + 1
        progress.update(1)
        if writer is not None and out is not None:
            if done % run.log_every == 0 or done == run.steps:
                now = time.perf_counter()
                rate = (done - last_log_step) * run.batch_size * fabric.world_size / max(now - last_log_time, 1e-9)
                last_log_time, last_log_step = now, done
                for key, value in out.scalars.items():
                    writer.add_scalar(key, value, done)
                writer.add_scalar("throughput/images_per_second", rate, done)
                writer.add_scalar("train/skipped_steps", skipped_total, done)
                for name, norm in largest_norm.items():
                    writer.add_scalar(f"grad_norm/{name}", float(norm), done)
                largest_norm = {}
                progress.set_postfix({"L_Iu": f"{out.scalars.get('loss/image_unpaired', float('nan')):.3f}"})
            if out.images:
                grid = make_grid(list(out.images.values()))
                writer.add_image("train/" + "|".join(out.images), grid, done, dataformats="HWC")
        if relabels and done % objective.side_relabel_every == 0:  # the last step too: a run stopped there resumes as one that went on
            share = relabel_by_distance(evaluated, data.pairs, objective.travel_min_rate, objective.travel_min_r2,
                                        fabric.device)
            if writer is not None:
                writer.add_scalar("train/side_labelled_share", share, done)
        if run.eval_every > 0 and done % run.eval_every == 0 and done != run.steps:
            metrics = evaluate(done)
            if metrics and (best is None or metrics["mpjpe"] < best["mpjpe"]):
                best = metrics
                save(done, out_dir / "checkpoints" / "best.pt")
        if done % run.checkpoint_every == 0 and done != run.steps:
            save(done, last_path)
    progress.close()

    final_step = max(step + 1, start_step) if run.steps > start_step else start_step
    metrics = evaluate(final_step)
    if metrics and (best is None or metrics["mpjpe"] < best["mpjpe"]):
        best = metrics
        save(final_step, out_dir / "checkpoints" / "best.pt")
    seconds, total_seconds = time.perf_counter() - started, training_seconds()
    save(final_step, last_path)
    rank_difference = _rank_weight_difference(fabric, model)
    if fabric.global_rank == 0:
        (out_dir / "final_metrics.json").write_text(json.dumps(
            {"metrics": metrics, "best": best, "initial": initial_metrics, "seconds": seconds,
             "total_seconds": total_seconds, "skipped_steps": skipped_total}, indent=2))
        writer.close()
    return TrainResult(final_step, metrics, best, out_dir, seconds, skipped_total, initial_metrics, rank_difference,
                       total_seconds)


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights and buffers
    (``torch.optim.swa_utils.AveragedModel``; after ``n`` updates each weight is
    ``decay · average + (1 − decay) · weight``, the first update copying the weights), or ``None``
    when ``decay`` is 0."""
    if decay <= 0:
        return None
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    averaged.module.eval()
    return averaged


def _rank_weight_difference(fabric: Fabric, model: torch.nn.Module) -> float:
    """Largest difference between any process's weights and rank 0's (a check that distributed
    training kept the replicas identical)."""
    if fabric.world_size == 1:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1).float() for p in model.parameters()])
    gathered = fabric.all_gather(flat)  # (world_size, P)
    return float((gathered - gathered[:1]).abs().max())


def format_metrics_table(metrics: dict[str, float], title: str = "evaluation") -> str:
    """A small Markdown table of evaluation metrics."""
    names = {
        "mpjpe": "MPJPE (mm)", "pa_mpjpe": "PA-MPJPE (mm)", "n_mpjpe": "N-MPJPE (mm)",
        "pck3d": "3DPCK@150mm (%)", "auc3d": "AUC (%)", "miou_fg_bg": "mIoU FG/BG (%)",
        "miou_parts": "mIoU parts (%)", "frames": "frames",
    }
    lines = [f"| {title} | value |", "|---|---|"]
    for key, label in names.items():
        if key in metrics:
            value = metrics[key]
            lines.append(f"| {label} | {value:.1f} |" if isinstance(value, float) else f"| {label} | {value} |")
    return "\n".join(lines)
