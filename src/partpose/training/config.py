"""The training configuration: typed dataclasses with commented defaults.

The defaults are the CPU configuration of the synthetic benchmark, so ``partpose train`` with no
arguments trains something useful. YAML files in ``configs/`` override them, and dotted
command-line overrides (``run.steps=500``) override the YAML. Unknown keys are an error.
"""

from __future__ import annotations

import copy
import math

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from partpose.data.synthetic import SyntheticConfig
from partpose.models.partpose_model import ModelConfig
from partpose.utils.dataclass_config import apply_overrides, from_dict, load_yaml, merge, to_dict

Setting = Literal["unsup", "weak", "semi", "supervised", "labels_2d"]


@dataclass
class DataConfig:
    dataset: str = "synthetic"  # "synthetic" (rendered benchmark) | "h36m" | "mpi_inf_3dhp" | "3dpw" | "own"
    root: str | None = None  # real datasets: the folder `partpose data prepare --out` wrote (train + test splits)
    prior: str = "deepmimic"  # unpaired 3D poses: "deepmimic" | "h36m_npz:PATH" (S1 S5 S6 S7 S8 of a VideoPose3D npz) | "bvh:DIR"
    prior_fps: float | None = None  # resample every prior clip to this frame rate (None: keep each clip's own rate)
    max_train_clips: int = 0  # 0: every prepared training clip; N > 0: N clips spread evenly over the split (bounds memory)
    max_test_clips: int = 0  # the same for the test split evaluated during training (`partpose evaluate` reads all)
    max_gap: int = 10  # frames: pairs (s, t) of one video have 1 <= |s - t| <= max_gap
    num_workers: int = 0  # DataLoader worker processes (0: load in the training process)
    prior_clips: Literal["prior", "non_test"] = "non_test"  # synthetic with synthetic.split=motions: DeepMimic clips of the prior (segments: the training parts of every clip)
    prior_mirror: bool = True  # add left/right mirrored copies of the prior's poses
    flip_augment: float = 0.0  # share of training pairs mirrored left to right at each step (images, background, m_sal, labels; data.pairs.mirror_pairs)
    saliency: Literal["motion", "static"] = "motion"  # m_sal: background residual (static cameras) or OpenCV only
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ObjectiveConfig:
    setting: Setting = "unsup"  # unsup | weak (2D labels) | semi (3D on a fraction) | supervised | labels_2d (the 2D labels alone, no method: weak's baseline)
    semi_fraction: float = 0.1  # fraction of training frames with 3D labels in "semi"
    semi_labelled_share: float = 0.0  # semi: the share of each batch drawn from the labelled frames (0: batches drawn from all pairs, about semi_fraction of them labelled)
    no_saliency: bool = False  # ablation: beta = 0 (no saliency prior in L_I^u)
    no_adaptation: bool = False  # ablation: skip the decoupled energy steps of Algorithm 1
    beta_start: float = 1.0  # weight of m_sal in L_I^u at the start
    beta_end: float = 0.1  # ... after the drop
    beta_drop_fraction: float = 0.125  # drop beta after this fraction of training (paper: 200k/1.6M)
    energy_frame: Literal["canonical", "camera", "canonical_rotation", "canonical_geodesic", "canonical_camera"] = "canonical"  # L_pz compares canonical poses (+ 2D) | camera-frame poses (+ 2D) | canonical poses and the rotations R_z vs R̂, L1 over the entries (+ 2D) | the same with the angle between R_z and R̂ (+ 2D) | canonical and camera-frame poses (+ 2D)
    prior_framing: Literal["crop", "encoder"] = "crop"  # scale/offset of p_z: framed like the crops, or E's for I_t
    prior_crop_fill: float = 0.8  # "crop": joint box side / crop side (1 / (1 + crop margin))
    view_azimuth_deg: tuple[float, float] = (-180.0, 180.0)  # view prior for unpaired poses
    view_elevation_deg: tuple[float, float] = (-10.0, 30.0)
    view_up: Literal["spine", "world"] = "world"  # the view prior's up: the world's up of the prior's motion capture (bodies lean and bend as in real footage) | the body's spine (upright bodies only; earlier versions)
    prior_appearance_grad: bool = True  # False: p_z is drawn with detached appearance codes (docs/learning.md)
    appearance_consistency: bool = True  # False: no L_I^c and no L_as, the terms a constant appearance code meets (docs/learning.md)
    # False: L_I^u reconstructs I_t from a detached pose (q_t, depth, scale), so it trains D and
    # the appearance only; for weak, where the 2D labels hold the pose (docs/learning.md)
    reconstruction_pose_grad: bool = True
    reconstruction_pose: Literal["estimate", "truth"] = "estimate"  # the pose L_I^u draws I_t from: E's, or the true one (an oracle for diagnosis: D then learns to paint from right puppets; needs the training videos' 3D and 2D poses)
    reconstruction_weight: float = 1.0  # the weight of L_I^u's own term (the terms added to it, L_sil, L_twin, L_travel, keep theirs); 0: no reconstruction of I_t teaches D, the appearance or the trunk (with prior_parts=frame_colours, nothing of D's then reaches E; docs/learning.md, "Drawings with nothing of D's")
    silhouette_weight: float = 0.0  # > 0: add this times L_sil (the 2D skeleton against m_sal, a chamfer) to L_I^u; off with no_saliency (docs/learning.md)
    twin_choice_weight: float = 0.0  # > 0: add this times L_twin (the pose's depth twin as E's target where D reconstructs I_t better from it; losses/twin.py) to L_I^u
    twin_choice_margin: float = 0.02  # L_twin: the twin must lower L_I^u by more than this fraction of the pose's
    twin_choice_rule: Literal["reconstruction", "lean", "travel"] = "reconstruction"  # L_twin's choice: D's reconstruction, the chest's lean towards a camera above the hips, or the side the video's travel shows (losses/twin.py)
    twin_choice_lean_mm: float = 30.0  # twin_choice_rule=lean: the thorax must be this much farther than the pelvis for the twin to win
    side_weight: float = 0.0  # > 0: teach the side network (model.side_network) the side each frame's video travel shows (losses/travel.py); needs model.side_network
    side_label: Literal["travel", "steady_travel", "steady_distance", "truth"] = "travel"  # what teaches the side network: each video's travel (no labels) | steady_travel, the same on the videos whose travel is steady only (travel_min_r2) | steady_distance, the travel read from the person's distance that the boxes and E's camera scale give, where it is steady (travel_min_r2), read anew every side_relabel_every steps (steady_travel's labels before the first; training/side_relabel.py) | truth, an oracle for diagnosis: each frame's true side from its 3D pose (data/pairs.py)
    side_relabel_every: int = 1000  # side_label=steady_distance: the steps between two readings of the distance by the evaluated weights (the average with optim.ema_decay > 0)
    travel_facing_weight: float = 0.0  # > 0: add this times L_travel (the front weight of E's pose against the side its video's travel shows; losses/travel.py) to L_I^u
    travel_min_r2: float = 0.8  # side_label=steady_travel / steady_distance: the least R² of a straight line through a video's log box side / log distance (data/travel.py)
    side_max_tilt_deg: float = 180.0  # < 180: the side network is taught no label on a frame whose spine, as E reads it, tilts from the world's up by more than this (a body lying, crawling or upside down, whose travel does not tell its side); 180: every labelled frame
    prior_side_weight: float = 0.0  # > 0: the side network (model.side_network) is also taught, on the images E reads in the decoupled energies (the drawings of p_z, as prior_parts gives them), the side p_z shows the camera (geometry.facing.shows_front by model.side_definition): exact labels on drawings, every encoder step of the energies; added to the side loss (docs/learning.md, "A flat puppet's turn, and a print on its chest")
    side_bag_fraction: float = 1.0  # < 1, with several side networks (model.side_networks > 1): each network is taught the travel's labels on its own fixed share of the training videos, this fraction of them (training/side_bags.py; its label loss over that share, divided by the fraction), so that the networks do not all learn the same wrong labels; the consistency and the drawings' side still teach every network on every frame; 1: every network every label
    side_consistency_weight: float = 0.0  # > 0: teach the side network (model.side_network) to read the two frames of each training pair (one video, at most data.max_gap frames apart) alike, each against the other's reading held fixed, labelled or not (losses/travel.py side_consistency_loss)
    prior_mirror: float = 0.0  # fraction of the drawings of p_z mirrored left to right before E reads them back in the decoupled energies, their targets mirrored too (geometry/mirror.py mirror_view): which side a drawn body turns to is then never told by which of its left and right parts D paints in which colour
    energy_decoder: bool = True  # False: the decoupled energies' even iterations (Algorithm 1's decoder half) leave D as it is: D is taught by L_I^u and L_seg alone, so that its drawings cannot come to carry for E a code of the pose that frames lack (docs/learning.md, "D's drawings carry a code")
    prior_parts: Literal["as_drawn", "flat", "flat_plate", "frame_colours", "frame_colours_print", "palette"] = "as_drawn"  # what E reads in the decoupled energies of D's drawings of p_z: as drawn | every part of the puppet flat in its mean colour in the drawing (geometry.puppet.flat_parts: the shading D paints within a part for E, which frames do not carry, is taken away) | the same over the plate (nothing D paints outside the puppet's parts either) | every part flat in the colour it shows in I_t under E's pose of I_t, over the plate (geometry.puppet.frame_part_colours: the person's own colours, nothing of D's; D is left out of the energies) | the same with the shirt's front print apart, painted where p_z's chest shows it to the camera (geometry.front_print: the puppet then shows which way the chest faces and how far it is turned, as a printed shirt does) | every part flat in the puppet's PALETTE colour over the plate (no decoder: the energies teach E alone, and D is left out of them) (docs/learning.md, "D's drawings carry a code")
    prior_part_jitter: float = 0.0  # prior_parts=flat or flat_plate: each part's flat colour times a factor drawn uniformly in [1 - j, 1 + j] for every part of every drawing, so that how bright D paints a part tells E nothing reliable either (docs/learning.md, "D's drawings carry a code")
    prior_draws: int = 1  # unpaired prior poses p_z drawn a step for each training pair (the decoupled energies, L_I^c and L_seg on k x batch drawings; each pair's appearance and background draw k of them)
    travel_min_rate: float = 0.0025  # twin_choice_rule=travel and L_travel: the least relative change of the person's distance per frame over a video for its travel to tell the side (data/travel.py)


@dataclass
class OptimConfig:
    kind: Literal["adagrad", "adam"] = "adagrad"  # one optimiser per loss (paper: Adagrad)
    lr: float = 1e-3  # learning rate of every optimiser (paper: 1e-3)
    lr_schedule: Literal["constant", "cosine"] = "constant"  # constant | cosine: lr * (1 + cos(pi * step / run.steps)) / 2, to 0 at the end
    initial_accumulator_value: float = 0.0
    grad_clip: float = 0.0  # 0 disables; clip each loss's gradient norm before its step
    # > 1: clip each loss's gradient norm to this many times the running average of its own
    # (training.optimizers.RelativeClip; 0 disables)
    grad_clip_relative: float = 0.0
    # what the relative clip limits: each loss's whole gradient ("loss"), or each network part's
    # share of it on its own ("part": the pose path, the appearance path, D, the side network), so
    # that D's share of L_I^u's gradient no longer changes how L_sil's share, on the pose, is
    # clipped (docs/learning.md, "The relative clip by part")
    grad_clip_relative_by: Literal["loss", "part"] = "loss"
    # weak and semi: the labels' optimiser (pose2d, pose3d) learns at lr times this. Every other
    # loss on the encoder has an optimiser of its own, each taking steps of about lr, so with 1
    # the labels are one voice among five (docs/learning.md, "The labels' share of the steps")
    label_lr_scale: float = 1.0
    # > 0: keep an exponential moving average of the model's weights (torch.optim.swa_utils,
    # decay per step: 0.99 averages about the last 100 steps); evaluation, best.pt and the
    # checkpoints' "model" use the average, and training goes on from the raw weights
    ema_decay: float = 0.0


@dataclass
class RunConfig:
    steps: int = 2000  # Algorithm-1 iterations
    batch_size: int = 16  # per process
    seed: int = 0
    out_dir: str = "runs/default"
    accelerator: str = "auto"  # cpu | cuda | mps | auto
    devices: int = 1  # processes per node (DDP when > 1)
    num_nodes: int = 1
    strategy: str = "auto"  # auto | ddp
    precision: str = "32-true"  # 32-true | bf16-mixed | 16-mixed
    threads: int = 0  # torch CPU threads (0: leave PyTorch's default)
    log_every: int = 25  # scalars to TensorBoard
    image_every: int = 500  # image grids to TensorBoard
    eval_every: int = 500  # evaluation on the test split (keeps the best checkpoint)
    checkpoint_every: int = 250
    eval_at_start: bool = True  # evaluate the untrained model too (the table's reference row)
    eval_max_frames: int = 2000  # frames of the test split used by periodic evaluation
    max_nonfinite_steps: int = 20  # consecutive skipped (NaN/Inf) steps before stopping
    progress: bool = True  # progress bar
    # the last N steps take every optimiser's learning rate linearly down to 1/N of the schedule's
    # (optim.lr_schedule): a run setting, so that a finished run resumed with more run.steps can
    # end on a cooldown (docs/learning.md, "A cooldown at the end of a long run"); 0 disables
    cooldown_steps: int = 0
    # a checkpoint (file or run folder) whose model weights start a new run: fine-tuning on other
    # videos or with other objectives; not its optimiser state or step, and ignored on resume
    init_from: str | None = None


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults <- YAML file (``base:`` entries are merged first) <- dotted overrides."""
    data: dict = {}
    if path is not None:
        data = _load_with_base(Path(path))
    apply_overrides(data, list(overrides or []))
    config = from_dict(TrainConfig, data, "config")
    validate(config)
    return config


def _load_with_base(path: Path, depth: int = 0) -> dict:
    data = load_yaml(path)
    base = data.pop("base", None)
    if base is not None:
        if depth > 8:
            raise ValueError(f"{path}: 'base' chain too deep")
        data = merge(_load_with_base((path.parent / base).resolve(), depth + 1), data)
    return data


def validate(config: TrainConfig) -> None:
    """Value checks the type system cannot express; ``UserError`` messages name the key. Whether
    ``data.root`` and the prior's files exist is checked when the data are loaded."""
    from partpose.data.datasets import PREPARE
    from partpose.errors import UserError

    if config.run.steps < 1:
        raise UserError("run.steps must be >= 1")
    if not 0 <= config.run.cooldown_steps <= config.run.steps:
        raise UserError(f"run.cooldown_steps must be between 0 and run.steps ({config.run.steps}), "
                        f"got {config.run.cooldown_steps}")
    if config.run.batch_size < 1:
        raise UserError("run.batch_size must be >= 1")
    if not 0.0 < config.objective.semi_fraction <= 1.0:
        raise UserError("objective.semi_fraction must be in (0, 1]")
    if not 0.0 <= config.objective.semi_labelled_share <= 1.0:
        raise UserError(f"objective.semi_labelled_share must be in [0, 1], got {config.objective.semi_labelled_share}")
    if config.objective.semi_labelled_share > 0 and config.objective.setting != "semi":
        raise UserError("objective.semi_labelled_share draws labelled frames for objective.setting=semi, "
                        f"not {config.objective.setting!r}")
    if not (math.isfinite(config.objective.reconstruction_weight) and config.objective.reconstruction_weight >= 0):
        raise UserError(f"objective.reconstruction_weight must be >= 0, got {config.objective.reconstruction_weight}")
    if not (math.isfinite(config.objective.silhouette_weight) and config.objective.silhouette_weight >= 0):
        raise UserError(f"objective.silhouette_weight must be >= 0, got {config.objective.silhouette_weight}")
    if not (math.isfinite(config.objective.twin_choice_weight) and config.objective.twin_choice_weight >= 0):
        raise UserError(f"objective.twin_choice_weight must be >= 0, got {config.objective.twin_choice_weight}")
    if not 0.0 <= config.objective.twin_choice_margin < 1.0:
        raise UserError(f"objective.twin_choice_margin must be in [0, 1), got {config.objective.twin_choice_margin}")
    if not (math.isfinite(config.objective.twin_choice_lean_mm) and config.objective.twin_choice_lean_mm >= 0):
        raise UserError(f"objective.twin_choice_lean_mm must be >= 0, got {config.objective.twin_choice_lean_mm}")
    if not (math.isfinite(config.objective.side_weight) and config.objective.side_weight >= 0):
        raise UserError(f"objective.side_weight must be >= 0, got {config.objective.side_weight}")
    if (config.objective.side_weight > 0) != config.model.side_network:
        raise UserError("model.side_network and objective.side_weight > 0 go together: the side network is taught by "
                        f"that loss alone (got model.side_network={config.model.side_network}, "
                        f"objective.side_weight={config.objective.side_weight})")
    if not (math.isfinite(config.objective.prior_side_weight) and config.objective.prior_side_weight >= 0):
        raise UserError(f"objective.prior_side_weight must be >= 0, got {config.objective.prior_side_weight}")
    if config.objective.prior_side_weight > 0 and (config.objective.side_weight == 0 or config.objective.no_adaptation):
        raise UserError("objective.prior_side_weight teaches the side network on the energies' drawings: it needs "
                        "objective.side_weight > 0 and the energies (not objective.no_adaptation)")
    band = config.model.side_ground_band_deg
    if not (math.isfinite(band) and 0.0 <= band <= 90.0):
        raise UserError(f"model.side_ground_band_deg must be within 0..90 degrees, got {band}")
    if band > 0 and not config.model.side_network:
        raise UserError("model.side_ground_band_deg turns the side network's poses: it needs model.side_network")
    if config.model.side_networks < 1:
        raise UserError(f"model.side_networks must be at least 1, got {config.model.side_networks}")
    if config.model.side_networks > 1 and not config.model.side_network:
        raise UserError("model.side_networks counts the side networks: it needs model.side_network=true")
    inputs = config.model.side_inputs
    if inputs is not None and not config.model.side_network:
        raise UserError("model.side_inputs says what each side network reads: it needs model.side_network=true")
    if inputs is not None and len(inputs) != config.model.side_networks:
        raise UserError(f"model.side_inputs gives one input per side network: model.side_networks is "
                        f"{config.model.side_networks}, got {len(inputs)} inputs")
    fraction = config.objective.side_bag_fraction
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise UserError(f"objective.side_bag_fraction must be in (0, 1], got {fraction}")
    if fraction < 1.0 and config.model.side_networks < 2:
        raise UserError("objective.side_bag_fraction shares the videos among the side networks: it needs "
                        "model.side_networks > 1")
    if config.model.side_patch_size < 4:
        raise UserError(f"model.side_patch_size must be at least 4 pixels, got {config.model.side_patch_size}")
    if not (math.isfinite(config.objective.travel_facing_weight) and config.objective.travel_facing_weight >= 0):
        raise UserError(f"objective.travel_facing_weight must be >= 0, got {config.objective.travel_facing_weight}")
    if config.objective.side_label == "steady_distance":
        if config.objective.side_relabel_every < 1:
            raise UserError(f"objective.side_relabel_every must be >= 1, got {config.objective.side_relabel_every}")
    if not (math.isfinite(config.objective.travel_min_r2) and 0.0 <= config.objective.travel_min_r2 <= 1.0):
        raise UserError(f"objective.travel_min_r2 must be in [0, 1], got {config.objective.travel_min_r2}")
    if not (math.isfinite(config.objective.side_consistency_weight) and config.objective.side_consistency_weight >= 0):
        raise UserError(f"objective.side_consistency_weight must be >= 0, got {config.objective.side_consistency_weight}")
    if config.objective.side_consistency_weight > 0 and not config.model.side_network:
        raise UserError("objective.side_consistency_weight > 0 teaches the side network: it needs model.side_network=true")
    if not (math.isfinite(config.objective.side_max_tilt_deg) and 0.0 <= config.objective.side_max_tilt_deg <= 180.0):
        raise UserError(f"objective.side_max_tilt_deg must be in [0, 180], got {config.objective.side_max_tilt_deg}")
    if not (math.isfinite(config.objective.travel_min_rate) and config.objective.travel_min_rate > 0):
        raise UserError(f"objective.travel_min_rate must be > 0, got {config.objective.travel_min_rate}")
    if config.data.max_gap < 1:
        raise UserError("data.max_gap must be >= 1")
    if not 0.0 <= config.objective.prior_mirror <= 1.0:
        raise UserError(f"objective.prior_mirror must be within 0..1, got {config.objective.prior_mirror}")
    if not 0.0 <= config.objective.prior_part_jitter < 1.0:
        raise UserError(f"objective.prior_part_jitter must be within 0..1 (1 excluded), got {config.objective.prior_part_jitter}")
    if config.objective.prior_part_jitter > 0 and config.objective.prior_parts not in ("flat", "flat_plate"):
        raise UserError("objective.prior_part_jitter needs objective.prior_parts=flat or flat_plate")
    if config.objective.prior_draws < 1:
        raise UserError(f"objective.prior_draws must be >= 1, got {config.objective.prior_draws}")
    if not 0.0 <= config.optim.ema_decay < 1.0:
        raise UserError(f"optim.ema_decay must be within 0..1 (1 excluded; 0 = off), got {config.optim.ema_decay}")
    if not 0.0 <= config.data.flip_augment <= 1.0:
        raise UserError(f"data.flip_augment must be within 0..1, got {config.data.flip_augment}")
    if config.optim.lr <= 0:
        raise UserError("optim.lr must be > 0")
    if not (math.isfinite(config.optim.label_lr_scale) and config.optim.label_lr_scale > 0):
        raise UserError(f"optim.label_lr_scale must be > 0, got {config.optim.label_lr_scale}")
    if config.optim.grad_clip < 0:
        raise UserError(f"optim.grad_clip must be >= 0 (0 = off), got {config.optim.grad_clip}")
    clip = config.optim.grad_clip_relative
    if not (math.isfinite(clip) and (clip == 0 or clip > 1)):
        raise UserError(f"optim.grad_clip_relative must be > 1 (a multiple of each loss's average gradient norm) or 0 (off), got {clip}")
    if config.optim.grad_clip_relative_by == "part" and clip == 0:
        raise UserError("optim.grad_clip_relative_by=part needs a relative clip: set optim.grad_clip_relative > 1")
    if config.optim.lr_schedule not in ("constant", "cosine"):
        raise UserError(f"optim.lr_schedule must be 'constant' or 'cosine', got {config.optim.lr_schedule!r}")
    data = config.data
    known = ("synthetic", *PREPARE)
    if data.dataset not in known:
        raise UserError(f"unknown data.dataset {data.dataset!r}; known datasets: {', '.join(known)}")
    if data.dataset == "synthetic" and data.root is not None:
        raise UserError("data.root is for prepared real datasets; the synthetic benchmark is rendered from "
                        "data.synthetic (set data.synthetic.cache_dir to keep it on disk)")
    if data.dataset != "synthetic" and not data.root:
        raise UserError(f"data.root is required for data.dataset={data.dataset} (the folder written by `partpose data "
                        f"prepare --dataset {data.dataset} --out DIR`); known datasets: {', '.join(known)}")
    kind, sep, argument = data.prior.partition(":")
    if not ((kind == "deepmimic" and not sep) or (kind in ("h36m_npz", "bvh") and argument)):
        raise UserError(f"data.prior must be 'deepmimic', 'h36m_npz:PATH' or 'bvh:DIR', got {data.prior!r}")
    if data.prior_fps is not None and not data.prior_fps > 0:
        raise UserError(f"data.prior_fps must be > 0 (or null to keep each clip's rate), got {data.prior_fps}")
    for key in ("max_train_clips", "max_test_clips"):
        if getattr(data, key) < 0:
            raise UserError(f"data.{key} must be >= 0 (0: every clip), got {getattr(data, key)}")
    if config.data.dataset == "synthetic" and config.data.synthetic.resolution != config.model.resolution:
        raise UserError(
            f"data.synthetic.resolution ({config.data.synthetic.resolution}) must equal model.resolution "
            f"({config.model.resolution}) and model.decoder.resolution")


def config_to_dict(config: TrainConfig) -> dict:
    return to_dict(config)


def config_from_dict(data: dict) -> TrainConfig:
    """The configuration a checkpoint stored (``config_to_dict``'s output), written by this
    version of partpose or an earlier one: a checkpoint from before ``model.encoder.head_norm``
    existed was trained without the LayerNorm, so it gets ``"none"``, not today's default; the
    boolean ``appearance_trains_trunk`` of earlier versions becomes ``appearance_trunk``; one from
    before ``objective.view_up`` drew its prior poses about the spine, so it gets ``"spine"``."""
    data = copy.deepcopy(data)
    objective = data.get("objective")
    if isinstance(objective, dict):
        objective.setdefault("view_up", "spine")
    model = data.get("model")
    encoder = model.get("encoder") if isinstance(model, dict) else None
    if isinstance(encoder, dict):
        encoder.setdefault("head_norm", "none")
        if "appearance_trains_trunk" in encoder:
            encoder["appearance_trunk"] = "shared" if encoder.pop("appearance_trains_trunk") else "detached"
    config = from_dict(TrainConfig, data, "config")
    validate(config)
    return config
