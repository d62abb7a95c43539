"""The default benchmark: synthetic videos of a shaded 3D body driven by real motion capture.

A person is a set of analytic primitives (capsules for the limbs, neck, hands and feet;
ellipsoids for the head, chest and hips), one or more per part of
``partpose.geometry.parts.PARTS``, so the rendered part labels use the puppet's label set. Each
subject has its own proportions (height, limb thickness, head size) and clothes (skin, hair,
shirt, trousers and shoe colours, a contrasting print on the front of the shirt; plain,
striped or checked cloth in part-local coordinates; short or long sleeves and trouser legs).
The face, the print and the toes tell the front of a person from the back. Frames are ray cast
through a perspective pinhole camera, straight into a person-centred square crop (one per frame
by default, smoothed over time, as a person detector's boxes are), with Lambert shading under
one directional light plus ambient light, over a background at infinity cut from a real
photograph (bundled with scikit-image) or a procedural texture. Unlike the 2D puppet of T_s,
the body is 3D, perspective, self-occluding and shaded, so the benchmark is not solved by
construction.

The background the method is given for a static-camera video is, by default, the scene without
the person (a background plate), cropped like each frame: what the temporal median of a long
recording converges to once the person has moved about. The clips here are one or two seconds of
mostly in-place motion, too short for their own median to be clean (with the old one-crop-per-clip
videos, 21 % of the person's pixels, on average, matched their clip's median); ``background =
"median"`` with ``crop = "clip"`` renders that harder variant.

Train videos use the motion-capture "train" clips, the train subjects and the train backgrounds;
test videos use the held-out "test" clips, held-out subjects and held-out backgrounds
(``partpose.data.mocap.split_clips``).

Convention:
    World frame: millimetres, +Z up (``partpose.data.mocap``). Camera frame: millimetres, x
    right, y down, z forward (away from the camera); ``p_cam = cam_R_world @ (p_world - centre)``.
    Crop intrinsics ``K = [[f, 0, px], [0, f, py], [0, 0, 1]]`` in crop pixels: the pixel
    centre ``(u, v)`` (0-based column, row) sees the ray ``((u - px) / f, (v - py) / f, 1)``,
    so a ray parameter ``t`` is the camera depth z of the point ``t * ray``. 2D joints are in
    normalised crop coordinates (``affine_grid`` with ``align_corners=False``):
    ``x = (2u + 1) / W - 1``. Part labels: 0 = background, ``l + 1`` = ``PARTS[l]``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from partpose.data.video import Video, camera_moves, load_videos, median_background, save_videos
from partpose.errors import UserError
from partpose.geometry.parts import PART_NAMES
from partpose.geometry.skeleton import H36M17

# Bump when the renderer's output changes, so cached datasets are rebuilt.
RENDERER_VERSION = 4

_J = {name: i for i, name in enumerate(H36M17.names)}


# ==============================================================================================
# Configuration
# ==============================================================================================


@dataclass
class SyntheticConfig:
    resolution: int = 64  # crop side in pixels (64, 128 or 256)
    num_train_subjects: int = 8  # distinct bodies and clothes in the train split
    num_test_subjects: int = 4  # held-out bodies and clothes of the test split
    videos_per_motion: int = 60  # train videos rendered from every motion (1,200 scenes)
    test_videos_per_motion: int = 16  # test videos per motion (320 viewpoints)
    frames_per_video: int = 16  # cap on frames per video (a window of the clip)
    fps: float = 25.0  # clips are resampled to this frame rate
    moving_camera_fraction: float = 0.25  # share of videos whose camera orbits the person
    mirror_fraction: float = 0.5  # share of videos that play the left/right mirrored motion
    stature_mm: float = 1700.0  # mean standing height of the subjects
    camera_distance_m: tuple[float, float] = (3.0, 6.0)  # camera to person
    elevation_deg: tuple[float, float] = (-10.0, 30.0)  # camera elevation above the person
    orbit_speed_deg_s: tuple[float, float] = (10.0, 30.0)  # moving cameras: |azimuth rate|
    crop_margin: float = 0.25  # crop half-size = joint box half-size * (1 + margin)
    noise_std: float = 2.0  # Gaussian sensor noise, 0-255 intensity units
    seed: int = 0  # everything is a deterministic function of the config and the seed
    cache_dir: str | None = None  # folder for rendered datasets (keyed by a hash of the rest)
    split: Literal["segments", "motions"] = "segments"  # test videos: the last 30 % of every motion | held-out motions
    train_motions: Literal["train", "non_test"] = "non_test"  # split=motions: train videos from the mocap "train" clips, or every clip but the test ones
    mixed_motions: int = 0  # extra train motions composed from the limbs of the train clips (mocap.mixed_motions)
    crop: Literal["frame", "clip"] = "frame"  # person-centred crop per frame (smoothed) | one fixed crop per clip
    background: Literal["plate", "median"] = "plate"  # static cameras: the scene without the person | the clip's temporal median
    scene: Literal["random", "studio"] = "random"  # a random camera, backdrop and light per video | Human3.6M-like studio (below)
    studio_cameras: int = 4  # scene=studio: static cameras evenly around the studio, shared by both splits
    studio_backdrop: str = "photo:brick"  # scene=studio: the one backdrop of both splits


SPLIT_CODES = {"train": 1, "test": 2}

# Photographs bundled with scikit-image that load offline (checked against scikit-image 0.26),
# split so that the test split sees none of the training backgrounds. ``chelsea`` and ``cat``
# are the same photograph, so only ``chelsea`` is used.
TRAIN_PHOTOS = (
    "astronaut", "coffee", "rocket", "immunohistochemistry", "stereo_motorcycle", "brick",
    "grass", "camera", "coins", "page",
)
TEST_PHOTOS = ("chelsea", "hubble_deep_field", "retina", "gravel", "moon", "clock", "text", "cell")
TRAIN_TEXTURES = ("noise", "tiles")
TEST_TEXTURES = ("gradient", "planks")


def split_backgrounds(split: str) -> tuple[str, ...]:
    """Background names of a split: ``"photo:<skimage name>"`` and ``"texture:<kind>"``."""
    _check_split(split)
    photos, textures = (TRAIN_PHOTOS, TRAIN_TEXTURES) if split == "train" else (TEST_PHOTOS, TEST_TEXTURES)
    return tuple(f"photo:{p}" for p in photos) + tuple(f"texture:{t}" for t in textures)


def _check_split(split: str) -> None:
    if split not in SPLIT_CODES:
        raise UserError(f"unknown split {split!r}; known splits: {', '.join(SPLIT_CODES)}")


def _check_config(config: SyntheticConfig) -> None:
    if config.resolution < 8:
        raise UserError(f"synthetic.resolution must be >= 8 pixels, got {config.resolution}")
    if config.mixed_motions < 0:
        raise UserError(f"synthetic.mixed_motions must be >= 0, got {config.mixed_motions}")
    for key in ("num_train_subjects", "num_test_subjects", "videos_per_motion", "test_videos_per_motion"):
        if getattr(config, key) < 1:
            raise UserError(f"synthetic.{key} must be >= 1, got {getattr(config, key)}")
    if config.frames_per_video < 2:
        raise UserError(f"synthetic.frames_per_video must be >= 2, got {config.frames_per_video}")
    if not config.fps > 0:
        raise UserError(f"synthetic.fps must be > 0, got {config.fps}")
    if config.crop not in ("frame", "clip") or config.background not in ("plate", "median"):
        raise UserError(f"synthetic.crop must be 'frame' or 'clip' and synthetic.background 'plate' or 'median', "
                        f"got {config.crop!r} and {config.background!r}")
    if config.background == "median" and config.crop != "clip":
        raise UserError("synthetic.background=median needs synthetic.crop=clip: a temporal median needs one fixed crop")
    if config.scene not in ("random", "studio"):
        raise UserError(f"synthetic.scene must be 'random' or 'studio', got {config.scene!r}")
    if config.scene == "studio":
        if config.studio_cameras < 1:
            raise UserError(f"synthetic.studio_cameras must be >= 1, got {config.studio_cameras}")
        if config.moving_camera_fraction != 0.0:
            raise UserError("synthetic.scene=studio has static cameras: set synthetic.moving_camera_fraction=0")
        known = split_backgrounds("train") + split_backgrounds("test")
        if config.studio_backdrop not in known:
            raise UserError(f"unknown synthetic.studio_backdrop {config.studio_backdrop!r}; known: {', '.join(known)}")
    for key in ("moving_camera_fraction", "mirror_fraction"):
        if not 0.0 <= getattr(config, key) <= 1.0:
            raise UserError(f"synthetic.{key} must be in [0, 1], got {getattr(config, key)}")
    lo, hi = config.camera_distance_m
    if not 0.5 <= lo <= hi:
        raise UserError(f"synthetic.camera_distance_m must be a range within [0.5, inf), got {config.camera_distance_m}")
    if config.crop_margin < 0 or config.noise_std < 0:
        raise UserError("synthetic.crop_margin and synthetic.noise_std must be >= 0")


# ==============================================================================================
# Subjects: proportions and clothes
# ==============================================================================================

SKIN, HAIR, SHIRT, TROUSERS, SHOES, PRINT = range(6)
MATERIAL_NAMES = ("skin", "hair", "shirt", "trousers", "shoes", "print")
PLAIN, BANDS, STRIPES, CHECKS = range(4)  # cloth patterns (bands cross the part's axis)

_SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36],
     [110, 70, 45], [234, 192, 160], [180, 120, 80]], dtype=np.float32) / 255.0
_HAIR_TONES = np.array(
    [[20, 15, 10], [60, 40, 25], [110, 75, 40], [200, 160, 90], [140, 60, 30], [120, 120, 120]],
    dtype=np.float32) / 255.0


@dataclass(frozen=True)
class Subject:
    """One person: proportions and clothes.

    Attributes:
        name: identifier (``"train_s03"``).
        height_scale: the motion's poses are scaled by this about the ground point below the
            pelvis.
        thickness: multiplies every limb radius and the torso's depth and width.
        head_scale: multiplies the head's width and depth.
        part_jitter: ``(8,)`` per-limb radius factors (upper/lower arm l/r, upper/lower leg l/r).
        colour: ``(6, 3)`` float32 RGB in [0, 1] per material (skin, hair, shirt, trousers,
            shoes, print: the front of the shirt, a contrasting panel as an open jacket or a
            printed T-shirt shows); ``colour_alt`` the second cloth colour of a pattern.
        pattern: ``(6,)`` int, PLAIN, BANDS, STRIPES or CHECKS per material.
        period_mm: ``(6,)`` pattern period in millimetres on the body.
        long_sleeves, long_trousers: sleeve and trouser-leg lengths.
    """

    name: str
    height_scale: float
    thickness: float
    head_scale: float
    part_jitter: np.ndarray
    colour: np.ndarray
    colour_alt: np.ndarray
    pattern: np.ndarray
    period_mm: np.ndarray
    long_sleeves: bool
    long_trousers: bool


def _random_cloth_colour(rng: np.random.Generator) -> np.ndarray:
    hue = rng.uniform(0.0, 180.0)
    sat = rng.uniform(0.15, 0.9) * 255.0
    val = rng.uniform(0.2, 0.95) * 255.0
    hsv = np.array([[[hue, sat, val]]], dtype=np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def _contrasting_colour(colour: np.ndarray, rng: np.random.Generator, min_difference: float = 0.3) -> np.ndarray:
    """A cloth colour whose mean absolute RGB difference to ``colour`` is at least
    ``min_difference`` (the best of a few draws otherwise)."""
    best, best_difference = colour, -1.0
    for _ in range(16):
        candidate = _random_cloth_colour(rng)
        difference = float(np.abs(candidate - colour).mean())
        if difference > best_difference:
            best, best_difference = candidate, difference
        if difference >= min_difference:
            break
    return best


def sample_subject(name: str, rng: np.random.Generator) -> Subject:
    """Draw a subject's proportions and clothes from ``rng``."""
    colour = np.zeros((len(MATERIAL_NAMES), 3), np.float32)
    colour_alt = np.zeros((len(MATERIAL_NAMES), 3), np.float32)
    pattern = np.zeros(len(MATERIAL_NAMES), np.int64)
    period = np.full(len(MATERIAL_NAMES), 100.0, np.float32)
    colour[SKIN] = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.92, 1.05)
    colour[HAIR] = _HAIR_TONES[rng.integers(len(_HAIR_TONES))]
    for material in (SHIRT, TROUSERS, SHOES):
        colour[material] = _random_cloth_colour(rng)
        colour_alt[material] = _random_cloth_colour(rng)
    colour[SHOES] *= 0.5  # shoes are dark-ish
    colour[PRINT] = colour_alt[PRINT] = _contrasting_colour(colour[SHIRT], rng)
    pattern[SHIRT] = rng.choice([PLAIN, BANDS, STRIPES, CHECKS], p=[0.4, 0.25, 0.15, 0.2])
    pattern[TROUSERS] = rng.choice([PLAIN, STRIPES, CHECKS], p=[0.7, 0.15, 0.15])
    period[SHIRT] = rng.uniform(70.0, 160.0)
    period[TROUSERS] = rng.uniform(70.0, 160.0)
    return Subject(
        name=name,
        height_scale=float(rng.uniform(0.9, 1.1)),
        thickness=float(rng.uniform(0.85, 1.3)),
        head_scale=float(rng.uniform(0.92, 1.08)),
        part_jitter=rng.uniform(0.9, 1.1, size=8).astype(np.float32),
        colour=np.clip(colour, 0.0, 1.0),
        colour_alt=np.clip(colour_alt, 0.0, 1.0),
        pattern=pattern,
        period_mm=period,
        long_sleeves=bool(rng.random() < 0.5),
        long_trousers=bool(rng.random() < 0.7),
    )


# ==============================================================================================
# Body: primitives from joints
# ==============================================================================================

_LABEL = {name: i + 1 for i, name in enumerate(PART_NAMES)}

# Nominal radii, millimetres, before the subject's thickness.
_LIMB_RADIUS_MM = {"upper_arm": 48.0, "lower_arm": 38.0, "upper_leg": 68.0, "lower_leg": 52.0}
_NECK_RADIUS_MM = 48.0
_HAND_RADIUS_MM = 42.0
_FOOT_RADIUS_MM = 40.0
_FOOT_LENGTH_MM = 150.0


@dataclass
class Body:
    """The analytic primitives of a body in one camera frame, for ``T`` frames.

    Attributes:
        cap_a, cap_b: ``(T, C, 3)`` capsule end points (segment), camera frame, mm.
        cap_radius: ``(C,)`` capsule radii, mm.
        cap_ref: ``(T, C, 3)`` unit vectors perpendicular to each capsule axis (cloth pattern
            origin of the angle around the axis).
        ell_centre: ``(T, E, 3)`` ellipsoid centres, camera frame, mm.
        ell_axes: ``(T, E, 3, 3)`` rows are the ellipsoid's unit axes (along, lateral, forward).
        ell_semi: ``(T, E, 3)`` semi-axis lengths, mm, in the order of ``ell_axes``' rows.
        label: ``(C + E,)`` part label of every primitive, capsules first.
        material: ``(C + E,)`` material of a primitive; ``material_b`` where the split
            coordinate exceeds ``split`` (capsules: the fraction along the axis; ellipsoids:
            ``u . split_dir`` with ``u`` the point in unit-sphere coordinates).
        ell_split_dir: ``(E, 3)`` split directions of the ellipsoids.
    """

    cap_a: np.ndarray
    cap_b: np.ndarray
    cap_radius: np.ndarray
    cap_ref: np.ndarray
    ell_centre: np.ndarray
    ell_axes: np.ndarray
    ell_semi: np.ndarray
    label: np.ndarray
    material: np.ndarray
    material_b: np.ndarray
    split: np.ndarray
    ell_split_dir: np.ndarray

    @property
    def num_capsules(self) -> int:
        return int(self.cap_a.shape[1])

    def select(self, frames: slice) -> "Body":
        """The body in a slice of its frames."""
        per_frame = ("cap_a", "cap_b", "cap_ref", "ell_centre", "ell_axes", "ell_semi")
        return Body(**{k: getattr(self, k)[frames] if k in per_frame else getattr(self, k)
                       for k in self.__dataclass_fields__})


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _orthogonal_to(v: np.ndarray, axis: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Unit part of ``v`` orthogonal to the unit ``axis``; ``fallback`` (made orthogonal) where
    ``v`` is nearly parallel to ``axis``. All ``(..., 3)``."""
    w = v - (v * axis).sum(-1, keepdims=True) * axis
    f = fallback - (fallback * axis).sum(-1, keepdims=True) * axis
    use_fallback = np.linalg.norm(w, axis=-1, keepdims=True) < 0.2 * np.linalg.norm(v, axis=-1, keepdims=True)
    return _unit(np.where(use_fallback, f, w))


def build_body(pose_cam_mm: np.ndarray, subject: Subject) -> Body:
    """Primitives of ``subject``'s body posed at the joints ``pose_cam_mm``.

    Args:
        pose_cam_mm: ``(T, 17, 3)`` joints (H36M17 order), camera frame (or any frame), mm.
        subject: proportions and clothes.
    Returns:
        :class:`Body` in the frame of ``pose_cam_mm``. Capsules: l/r upper arm, l/r lower arm,
        l/r upper leg, l/r lower leg, neck, l/r hand, l/r foot; ellipsoids: head, chest, hips.
        Neck and head carry the head label, hands the lower-arm labels, feet the lower-leg
        labels, chest and hips the torso label.
    """
    p = np.asarray(pose_cam_mm, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (H36M17.num_joints, 3):
        raise ValueError(f"pose_cam_mm must have shape (T, 17, 3), got {p.shape}")
    j = {name: p[:, i] for name, i in _J.items()}
    up = _unit(j["thorax"] - j["pelvis"])
    left = _unit((j["l_hip"] - j["r_hip"]) + (j["l_shoulder"] - j["r_shoulder"]))
    forward = _unit(np.cross(left, up))
    thick = subject.thickness
    jit = subject.part_jitter

    caps_a, caps_b, radii, labels, mat_a, mat_b, splits = [], [], [], [], [], [], []

    def capsule(a, b, radius, label, m_a, m_b=None, split=2.0):
        caps_a.append(a)
        caps_b.append(b)
        radii.append(radius)
        labels.append(label)
        mat_a.append(m_a)
        mat_b.append(m_a if m_b is None else m_b)
        splits.append(split)

    sleeve_top = (SHIRT, SHIRT, 2.0) if subject.long_sleeves else (SHIRT, SKIN, 0.45)
    sleeve_low = SHIRT if subject.long_sleeves else SKIN
    leg_top = (TROUSERS, TROUSERS, 2.0) if subject.long_trousers else (TROUSERS, SKIN, 0.6)
    leg_low = TROUSERS if subject.long_trousers else SKIN
    for k, side in enumerate("lr"):
        capsule(j[f"{side}_shoulder"], j[f"{side}_elbow"], _LIMB_RADIUS_MM["upper_arm"] * thick * jit[2 * k],
                _LABEL[f"{side}_upper_arm"], *sleeve_top)
        capsule(j[f"{side}_elbow"], j[f"{side}_wrist"], _LIMB_RADIUS_MM["lower_arm"] * thick * jit[2 * k + 1],
                _LABEL[f"{side}_lower_arm"], sleeve_low)
    for k, side in enumerate("lr"):
        capsule(j[f"{side}_hip"], j[f"{side}_knee"], _LIMB_RADIUS_MM["upper_leg"] * thick * jit[4 + 2 * k],
                _LABEL[f"{side}_upper_leg"], *leg_top)
        capsule(j[f"{side}_knee"], j[f"{side}_ankle"], _LIMB_RADIUS_MM["lower_leg"] * thick * jit[5 + 2 * k],
                _LABEL[f"{side}_lower_leg"], leg_low)
    neck_top = j["thorax"] + 0.8 * (j["nose"] - j["thorax"])
    capsule(j["thorax"], neck_top, _NECK_RADIUS_MM * thick, _LABEL["head"], SKIN)
    for side in "lr":
        forearm = _unit(j[f"{side}_wrist"] - j[f"{side}_elbow"])
        hand = j[f"{side}_wrist"] + 0.9 * _HAND_RADIUS_MM * forearm
        capsule(hand, hand, _HAND_RADIUS_MM * thick, _LABEL[f"{side}_lower_arm"], SKIN)
    for side in "lr":
        shin = _unit(j[f"{side}_ankle"] - j[f"{side}_knee"])
        toe_dir = _orthogonal_to(forward, shin, -up)
        heel = j[f"{side}_ankle"] + 0.6 * _FOOT_RADIUS_MM * shin
        toe = heel + _FOOT_LENGTH_MM * subject.height_scale * toe_dir
        capsule(heel, toe, _FOOT_RADIUS_MM * thick, _LABEL[f"{side}_lower_leg"], SHOES)

    cap_a = np.stack(caps_a, axis=1)
    cap_b = np.stack(caps_b, axis=1)
    cap_axis = cap_b - cap_a
    cap_ref = _orthogonal_to(np.broadcast_to(forward[:, None], cap_a.shape), _unit(cap_axis),
                             np.broadcast_to(left[:, None], cap_a.shape))

    # Ellipsoids: rows of ``axes`` are (along, lateral, forward).
    head_axis = j["head"] - j["nose"]
    head_len = np.linalg.norm(head_axis, axis=-1)
    head_up = _unit(head_axis)
    head_left = _orthogonal_to(left, head_up, forward)
    head_fwd = np.cross(head_left, head_up)
    head_centre = j["nose"] + 0.45 * head_axis
    head_semi = np.stack([0.58 * head_len, np.full_like(head_len, 76.0 * subject.head_scale),
                          np.full_like(head_len, 92.0 * subject.head_scale)], axis=-1)

    shoulders = j["l_shoulder"] - j["r_shoulder"]
    chest_up = _unit(j["thorax"] - j["spine"])
    chest_left = _orthogonal_to(shoulders, chest_up, left)
    chest_fwd = np.cross(chest_left, chest_up)
    chest_len = np.linalg.norm(j["thorax"] - j["spine"], axis=-1)
    chest_centre = j["spine"] + 0.45 * (j["thorax"] - j["spine"])
    chest_semi = np.stack([0.62 * chest_len + 60.0, 0.45 * np.linalg.norm(shoulders, axis=-1) + 25.0 * thick,
                           np.full_like(chest_len, 100.0 * thick)], axis=-1)

    hips = j["l_hip"] - j["r_hip"]
    hips_up = _unit(j["spine"] - j["pelvis"])
    hips_left = _orthogonal_to(hips, hips_up, left)
    hips_fwd = np.cross(hips_left, hips_up)
    hips_len = np.linalg.norm(j["spine"] - j["pelvis"], axis=-1)
    hips_centre = j["pelvis"] + 0.3 * (j["spine"] - j["pelvis"])
    hips_semi = np.stack([0.75 * hips_len + 30.0, 0.5 * np.linalg.norm(hips, axis=-1) + 65.0 * thick,
                          np.full_like(hips_len, 95.0 * thick)], axis=-1)

    ell_centre = np.stack([head_centre, chest_centre, hips_centre], axis=1)
    ell_axes = np.stack([np.stack([head_up, head_left, head_fwd], axis=-2),
                         np.stack([chest_up, chest_left, chest_fwd], axis=-2),
                         np.stack([hips_up, hips_left, hips_fwd], axis=-2)], axis=1)
    ell_semi = np.stack([head_semi, chest_semi, hips_semi], axis=1)
    # Hair covers the top and back of the head; the print covers the front of the chest; the
    # shirt covers the hips above the belt. Face, print and toes tell the front from the back.
    ell_split_dir = np.array([_unit(np.array([0.75, 0.0, -0.66])), [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    ell_labels = [_LABEL["head"], _LABEL["torso"], _LABEL["torso"]]
    ell_mat_a = [SKIN, SHIRT, TROUSERS]
    ell_mat_b = [HAIR, PRINT, SHIRT]
    ell_splits = [0.25, 0.45, 0.35]

    return Body(
        cap_a=cap_a.astype(np.float32),
        cap_b=cap_b.astype(np.float32),
        cap_radius=np.asarray(radii, np.float32),
        cap_ref=cap_ref.astype(np.float32),
        ell_centre=ell_centre.astype(np.float32),
        ell_axes=ell_axes.astype(np.float32),
        ell_semi=ell_semi.astype(np.float32),
        label=np.asarray(labels + ell_labels, np.uint8),
        material=np.asarray(mat_a + ell_mat_a, np.int64),
        material_b=np.asarray(mat_b + ell_mat_b, np.int64),
        split=np.asarray(splits + ell_splits, np.float32),
        ell_split_dir=ell_split_dir.astype(np.float32),
    )


def inside_body(body: Body, points: np.ndarray) -> np.ndarray:
    """Which primitives contain each point (a slow, obviously right membership test).

    Args:
        body: primitives for ``T`` frames.
        points: ``(T, N, 3)`` points in the body's frame, mm.
    Returns:
        ``(T, N, C + E)`` bool, capsules first.
    """
    a, b = body.cap_a[:, None].astype(np.float64), body.cap_b[:, None].astype(np.float64)
    x = points[:, :, None].astype(np.float64)
    ba = b - a
    s = np.clip(((x - a) * ba).sum(-1) / np.maximum((ba * ba).sum(-1), 1e-12), 0.0, 1.0)
    dist = np.linalg.norm(x - a - s[..., None] * ba, axis=-1)
    in_caps = dist <= body.cap_radius
    rel = x - body.ell_centre[:, None].astype(np.float64)
    u = np.einsum("tekc,tnec->tnek", body.ell_axes.astype(np.float64), rel) / body.ell_semi[:, None]
    in_ells = (u * u).sum(-1) <= 1.0
    return np.concatenate([in_caps, in_ells], axis=-1)


# ==============================================================================================
# Ray casting
# ==============================================================================================


@dataclass
class Hits:
    """Nearest ray hits.

    Attributes:
        depth: ``(T, P)`` float32 ray parameter of the hit (the camera z for rays of unit z),
            mm; ``inf`` where nothing is hit.
        index: ``(T, P)`` int64 primitive index (capsules first), ``-1`` where nothing is hit.
    """

    depth: np.ndarray
    index: np.ndarray


def _capsule_terms(body: Body) -> dict[str, np.ndarray]:
    """Per-capsule quantities of the ray-capsule quadratic, formed in float64 (small
    cancellation) and returned as float32: ``dirs (T, C, 3, 4)`` = (axis n, perpendicular origin
    offset, end a, end b) as columns to dot with the rays, and ``(T, C)`` scalars."""
    pa = body.cap_a.astype(np.float64)
    pb = body.cap_b.astype(np.float64)
    ba = pb - pa
    length = np.linalg.norm(ba, axis=-1)
    n = ba / np.maximum(length, 1e-9)[..., None]
    o_along = -(pa * n).sum(-1)  # the ray origin is the camera centre: o = 0 - pa
    o_perp = -pa - o_along[..., None] * n
    r2 = body.cap_radius.astype(np.float64) ** 2
    f32 = np.float32
    return {
        "dirs": np.stack([n, o_perp, pa, pb], axis=-1).astype(f32),
        "o_along": o_along.astype(f32),
        "length": length.astype(f32),
        "c_body": ((o_perp * o_perp).sum(-1) - r2).astype(f32),
        "c_a": ((pa * pa).sum(-1) - r2).astype(f32),
        "c_b": ((pb * pb).sum(-1) - r2).astype(f32),
    }


def _capsule_t(dots: np.ndarray, ray_sq: np.ndarray, o_along, length, c_body, c_a, c_b) -> np.ndarray:
    """First hit of rays from the origin with capsules (Quilez's ray-capsule test).

    ``dots[..., 0:4]`` are the rays' dot products with (axis, perpendicular origin offset, end
    a, end b); ``ray_sq`` the rays' squared lengths; the scalars broadcast against
    ``dots[..., 0]``. Returns the ray parameter, ``inf`` on a miss.
    """
    d_n, d_o, d_a, d_b = dots[..., 0], dots[..., 1], dots[..., 2], dots[..., 3]
    # Infinite cylinder: |o_perp + t d_perp|^2 = r^2, half-b = d . o_perp.
    a = ray_sq - d_n * d_n
    h = d_o * d_o - a * c_body
    t_body = (-d_o - np.sqrt(np.maximum(h, 0.0))) / np.maximum(a, 1e-12)
    along = o_along + t_body * d_n
    before = along <= 0.0
    on_body = ~before & (along < length)
    # The end sphere on the side where the ray enters the infinite cylinder.
    d_c = np.where(before, d_a, d_b)
    h_cap = d_c * d_c - ray_sq * np.where(before, c_a, c_b)
    t_cap = (d_c - np.sqrt(np.maximum(h_cap, 0.0))) / ray_sq
    t = np.where(on_body, t_body, t_cap)
    return np.where((h >= 0.0) & (on_body | (h_cap >= 0.0)) & (t > 0.0), t, np.float32(np.inf))


def _ellipsoid_terms(body: Body) -> dict[str, np.ndarray]:
    """``|A (t d - c)|^2 = 1`` with ``A = diag(1 / semi) @ axes`` and ``M = A^T A``:
    ``coeff (T, E, 6)`` multiplies the ray monomials (dx^2, dy^2, dz^2, 2dxdy, 2dxdz, 2dydz) to
    give ``d^T M d``; ``w = M c`` ``(T, E, 3)``; ``c0 = c^T M c - 1`` ``(T, E)``."""
    A = body.ell_axes.astype(np.float64) / body.ell_semi.astype(np.float64)[..., None]
    M = np.einsum("teki,tekj->teij", A, A)
    c = body.ell_centre.astype(np.float64)
    w = np.einsum("teij,tej->tei", M, c)
    coeff = np.stack([M[..., 0, 0], M[..., 1, 1], M[..., 2, 2], M[..., 0, 1], M[..., 0, 2], M[..., 1, 2]], -1)
    return {"coeff": coeff.astype(np.float32), "w": w.astype(np.float32),
            "c0": ((w * c).sum(-1) - 1.0).astype(np.float32)}


def _ellipsoid_t(quad: np.ndarray, d_w: np.ndarray, c0) -> np.ndarray:
    """First hit with ellipsoids from ``quad = d^T M d``, ``d_w = d . M c`` and ``c0``; ``inf``
    on a miss."""
    h = d_w * d_w - quad * c0
    t = (d_w - np.sqrt(np.maximum(h, 0.0))) / quad
    return np.where((h >= 0.0) & (t > 0.0), t, np.float32(np.inf))


def _monomials(rays: np.ndarray) -> np.ndarray:
    x, y, z = rays[..., 0], rays[..., 1], rays[..., 2]
    return np.stack([x * x, y * y, z * z, 2 * x * y, 2 * x * z, 2 * y * z], axis=-1)


def ray_cast_dense(body: Body, rays: np.ndarray) -> Hits:
    """Nearest hit of every ray with every primitive (all rays x all primitives).

    The reference for :func:`ray_cast`, which tests only the rays near each primitive.

    Args:
        body: primitives for ``T`` frames, camera frame, mm.
        rays: ``(P, 3)`` (shared by all frames) or ``(T, P, 3)`` directions from the camera
            centre, not necessarily unit; the hit point is ``depth * ray``.
    Returns:
        :class:`Hits`.
    """
    rays = np.asarray(rays, dtype=np.float32)
    rays = rays[None] if rays.ndim == 2 else rays  # (T|1, P, 3)
    ray_sq = (rays * rays).sum(-1)[:, None]  # (T|1, 1, P)
    cap = _capsule_terms(body)
    num_frames, num_caps = cap["o_along"].shape
    dots = np.matmul(cap["dirs"].transpose(0, 1, 3, 2).reshape(num_frames, 4 * num_caps, 3), rays.transpose(0, 2, 1))
    dots = dots.reshape(num_frames, num_caps, 4, -1).transpose(0, 1, 3, 2)  # (T, C, P, 4)
    t_cap = _capsule_t(dots, ray_sq, *(cap[k][..., None] for k in ("o_along", "length", "c_body", "c_a", "c_b")))
    ell = _ellipsoid_terms(body)
    quad = np.matmul(ell["coeff"], _monomials(rays).transpose(0, 2, 1))  # (T, E, P)
    d_w = np.matmul(ell["w"], rays.transpose(0, 2, 1))
    t_ell = _ellipsoid_t(quad, d_w, ell["c0"][..., None])
    t = np.concatenate([t_cap, t_ell], axis=1)  # (T, K, P)
    index = np.argmin(t, axis=1)
    depth = np.take_along_axis(t, index[:, None], axis=1)[:, 0]
    missed = ~np.isfinite(depth)
    return Hits(depth=np.where(missed, np.float32(np.inf), depth), index=np.where(missed, -1, index))


def primitive_boxes(body: Body, K: np.ndarray) -> np.ndarray:
    """Conservative pixel boxes of the primitives' projections.

    Each primitive's axis-aligned 3D box (a capsule's: of its two end spheres; an ellipsoid's:
    its exact extent) is projected; ``x / z`` is monotonic in x and z, so the box corners bound
    the projection. A box reaching behind ``z = 1 mm`` covers the whole image.

    Args:
        K: ``(T, 3, 3)`` intrinsics.
    Returns:
        ``(T, K, 4)`` float64 ``(u_lo, u_hi, v_lo, v_hi)`` in pixels.
    """
    r = body.cap_radius.astype(np.float64)[None, :, None]
    cap_lo = np.minimum(body.cap_a, body.cap_b) - r
    cap_hi = np.maximum(body.cap_a, body.cap_b) + r
    extent = np.sqrt(np.einsum("tekc,tek->tec", body.ell_axes.astype(np.float64) ** 2,
                               body.ell_semi.astype(np.float64) ** 2))
    lo = np.concatenate([cap_lo, body.ell_centre - extent], axis=1).astype(np.float64)
    hi = np.concatenate([cap_hi, body.ell_centre + extent], axis=1).astype(np.float64)
    z_lo, z_hi = np.maximum(lo[..., 2], 1.0), hi[..., 2]
    boxes = []
    for axis in (0, 1):
        m_lo = np.minimum(lo[..., axis] / z_lo, lo[..., axis] / z_hi)
        m_hi = np.maximum(hi[..., axis] / z_lo, hi[..., axis] / z_hi)
        f, c = K[:, None, axis, axis], K[:, None, axis, 2]
        boxes += [f * m_lo + c, f * m_hi + c]
    out = np.stack(boxes, axis=-1)
    behind = (lo[..., 2] <= 1.0)[..., None]
    return np.where(behind, np.array([-np.inf, np.inf, -np.inf, np.inf]), out)


_DEPTH_STEPS_PER_MM = 64  # hit depths are resolved to 1/64 mm when the nearest hit is chosen
_INDEX_SLOTS = 64  # at most this many primitives
_MISS_KEY = np.iinfo(np.int64).max


def ray_cast(body: Body, K: np.ndarray, resolution: int, tile: int = 8) -> Hits:
    """Nearest hit of every pixel's ray with the body, testing only nearby primitives.

    The crop is cut into ``tile``-square tiles; a primitive is tested against the rays of the
    tiles its projected box (:func:`primitive_boxes`) overlaps, and the nearest hit per pixel is
    the minimum of ``(depth, primitive)`` keys over the candidates. Same result as
    :func:`ray_cast_dense` on :func:`pixel_rays` up to depth ties closer than 1/64 mm.

    Args:
        body: primitives for ``T`` frames, camera frame, mm.
        K: ``(T, 3, 3)`` crop intrinsics.
        resolution: crop side, pixels.
    Returns:
        :class:`Hits` over the pixels in row-major order; ``depth`` is the camera z.
    """
    num_frames = len(K)
    num_caps = body.num_capsules
    num_prims = len(body.label)
    if num_prims > _INDEX_SLOTS:
        raise ValueError(f"at most {_INDEX_SLOTS} primitives, got {num_prims}")
    grid = -(-resolution // tile)
    padded = grid * tile
    shared = bool(np.allclose(K, K[:1]))
    rays = pixel_rays(K[:1] if shared else K, padded)  # (T|1, padded^2, 3)
    # Tile layout: (T|1, grid * grid, tile * tile, 3), tile id = ty * grid + tx.
    rays = rays.reshape(-1, grid, tile, grid, tile, 3).transpose(0, 1, 3, 2, 4, 5).reshape(
        -1, grid * grid, tile * tile, 3)
    ray_sq = (rays * rays).sum(-1)

    boxes = primitive_boxes(body, K)
    first = np.arange(grid) * tile
    last = first + tile - 1
    over_u = (first <= boxes[..., 1:2]) & (last >= boxes[..., 0:1])  # (T, K, grid)
    over_v = (first <= boxes[..., 3:4]) & (last >= boxes[..., 2:3])
    frame, prim, ty, tx = np.nonzero(over_v[..., :, None] & over_u[..., None, :])
    tile_id = ty * grid + tx
    ray_frame = np.zeros_like(frame) if shared else frame

    keys = np.full((len(frame), tile * tile), _MISS_KEY, np.int64)
    is_cap = prim < num_caps
    if is_cap.any():
        sel = np.flatnonzero(is_cap)
        f, k = frame[sel], prim[sel]
        cap = _capsule_terms(body)
        dots = np.matmul(rays[ray_frame[sel], tile_id[sel]], cap["dirs"][f, k])  # (N, S^2, 4)
        scalars = (cap[key][f, k][:, None] for key in ("o_along", "length", "c_body", "c_a", "c_b"))
        t = _capsule_t(dots, ray_sq[ray_frame[sel], tile_id[sel]], *scalars)
        keys[sel] = _hit_keys(t, k)
    if (~is_cap).any():
        sel = np.flatnonzero(~is_cap)
        f, e = frame[sel], prim[sel] - num_caps
        ell = _ellipsoid_terms(body)
        g = rays[ray_frame[sel], tile_id[sel]]
        quad = np.matmul(_monomials(g), ell["coeff"][f, e][..., None])[..., 0]
        d_w = np.matmul(g, ell["w"][f, e][..., None])[..., 0]
        keys[sel] = _hit_keys(_ellipsoid_t(quad, d_w, ell["c0"][f, e][:, None]), prim[sel])

    buffer = np.full((num_frames, grid * grid, tile * tile), _MISS_KEY, np.int64)
    if len(frame):
        group = frame * grid * grid + tile_id
        order = np.argsort(group, kind="stable")
        group = group[order]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        buffer.reshape(-1, tile * tile)[group[starts]] = np.minimum.reduceat(keys[order], starts, axis=0)
    buffer = buffer.reshape(num_frames, grid, grid, tile, tile).transpose(0, 1, 3, 2, 4).reshape(
        num_frames, padded, padded)[:, :resolution, :resolution].reshape(num_frames, -1)
    missed = buffer == _MISS_KEY
    depth = (buffer // _INDEX_SLOTS).astype(np.float32) / _DEPTH_STEPS_PER_MM
    return Hits(depth=np.where(missed, np.float32(np.inf), depth),
                index=np.where(missed, -1, buffer % _INDEX_SLOTS))


def _hit_keys(t: np.ndarray, prim: np.ndarray) -> np.ndarray:
    """Sortable int64 keys ``(depth in 1/64 mm) * 64 + primitive``; misses get ``_MISS_KEY``."""
    finite = np.isfinite(t)
    steps = np.floor(np.where(finite, t, 0.0).astype(np.float64) * _DEPTH_STEPS_PER_MM).astype(np.int64)
    return np.where(finite, steps * _INDEX_SLOTS + prim[:, None], _MISS_KEY)


def shade(body: Body, subject: Subject, rays: np.ndarray, hits: Hits, light_cam: np.ndarray,
          ambient: float) -> np.ndarray:
    """Colour of every hit: the cloth pattern's albedo under Lambert shading.

    Args:
        rays: ``(P, 3)`` or ``(T, P, 3)`` with unit z (:func:`pixel_rays`), so that the hit
            point is ``depth * ray``.
        light_cam: ``(T, 3)`` unit vectors towards the light, camera frame.
        ambient: share of the light that reaches every surface, in [0, 1].
    Returns:
        ``(T, P, 3)`` float32 RGB in [0, 1]; 0 where nothing was hit.
    """
    num_frames, num_pix = hits.index.shape
    out = np.zeros((num_frames, num_pix, 3), np.float32)
    f, p = np.nonzero(hits.index >= 0)
    if len(f) == 0:
        return out
    rays = np.asarray(rays, dtype=np.float32)
    point = hits.depth[f, p][:, None] * (rays[p] if rays.ndim == 2 else rays[f, p])  # (N, 3)
    index = hits.index[f, p]
    num_caps = body.num_capsules
    is_cap = index < num_caps
    ci = np.minimum(index, num_caps - 1)
    ei = np.maximum(index - num_caps, 0)

    # Capsules: closest point on the segment, normal, (along, around) cloth coordinates.
    a = body.cap_a[f, ci]
    ba = body.cap_b[f, ci] - a
    length = np.maximum(np.linalg.norm(ba, axis=-1), 1e-6)
    axis = ba / length[:, None]
    rel = point - a
    along_c = (rel * axis).sum(-1)
    radial = rel - np.clip(along_c, 0.0, length)[:, None] * axis
    ref = body.cap_ref[f, ci]
    around_c = np.arctan2((radial * np.cross(axis, ref)).sum(-1), (radial * ref).sum(-1)) * body.cap_radius[ci]

    # Ellipsoids: unit-sphere coordinates u = diag(1 / semi) axes (p - c).
    axes = body.ell_axes[f, ei]
    semi = body.ell_semi[f, ei]
    u = np.einsum("nkc,nc->nk", axes, point - body.ell_centre[f, ei]) / semi

    normal = _unit(np.where(is_cap[:, None], radial, np.einsum("nkc,nk->nc", axes, u / semi)))
    along = np.where(is_cap, along_c, u[:, 0] * semi[:, 0])
    around = np.where(is_cap, around_c, np.arctan2(u[:, 2], u[:, 1]) * semi[:, 1])
    split_value = np.where(is_cap, along_c / length, (u * body.ell_split_dir[ei]).sum(-1))
    material = np.where(split_value > body.split[index], body.material_b[index], body.material[index])

    period = subject.period_mm[material]
    band = np.floor(along / period).astype(np.int64)
    stripe = np.floor(around / (0.5 * period)).astype(np.int64)
    kind = subject.pattern[material]
    alt = (((kind == BANDS) & (band % 2 == 1)) | ((kind == STRIPES) & (stripe % 2 == 1))
           | ((kind == CHECKS) & ((band + stripe) % 2 == 1)))
    albedo = np.where(alt[:, None], subject.colour_alt[material], subject.colour[material])
    lambert = np.maximum((normal * light_cam[f]).sum(-1), 0.0)
    out[f, p] = albedo * (ambient + (1.0 - ambient) * lambert)[:, None]
    return out


# ==============================================================================================
# Camera, crop and projection
# ==============================================================================================


def look_at(centre_world: np.ndarray, target_world: np.ndarray) -> np.ndarray:
    """Rotation ``cam_R_world`` of cameras at ``centre_world`` looking at ``target_world``.

    Args:
        centre_world, target_world: ``(T, 3)`` world points (+Z up), mm.
    Returns:
        ``(T, 3, 3)``; rows are the camera's x (right), y (down) and z (forward) axes in world
        coordinates. The image's up is the world's +Z projected (no roll).
    """
    forward = _unit(target_world - centre_world)
    world_up = np.broadcast_to(np.array([0.0, 0.0, 1.0]), forward.shape)
    right = _orthogonal_to(np.cross(forward, world_up), forward, np.broadcast_to([1.0, 0.0, 0.0], forward.shape))
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=-2)


def orbit_centres(target_world: np.ndarray, distance_mm: np.ndarray, azimuth: np.ndarray,
                  elevation: np.ndarray) -> np.ndarray:
    """Camera centres on a sphere about ``target_world``: ``(T, 3)``, mm.

    ``azimuth`` (radians) turns about world +Z from +X; ``elevation`` (radians) > 0 puts the
    camera above the target. All arguments broadcast to ``(T,)`` (target ``(T, 3)``).
    """
    ce = np.cos(elevation)
    offset = np.stack([ce * np.cos(azimuth), ce * np.sin(azimuth), np.sin(elevation)], axis=-1)
    return target_world + distance_mm[..., None] * offset


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over the first axis with edge padding (``(T, ...)``)."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    radius = int(math.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)])
    return sum(k[i] * pad[i:i + x.shape[0]] for i in range(2 * radius + 1))


def crop_intrinsics(pose_cam_mm: np.ndarray, resolution: int, margin: float = 0.25,
                    static: bool = True, smooth_sigma: float = 4.0) -> np.ndarray:
    """Intrinsics of a person-centred square crop from the 2D box of the projected joints.

    The joints' normalised image-plane coordinates ``m = (x / z, y / z)`` give a box per frame;
    the crop is the square with the box's centre and half-size ``(1 + margin)`` times the box's
    larger half-extent. ``static``: one crop for the whole clip, the union of the boxes.
    Otherwise the centre and size are smoothed over time (Gaussian, ``smooth_sigma`` frames) and
    the size grown where needed, so every joint stays inside the crop's inner ``1 / (1 + margin)``.

    Args:
        pose_cam_mm: ``(T, 17, 3)`` camera frame, mm, all z > 0.
    Returns:
        ``(T, 3, 3)`` float64 ``K`` in crop pixels (module docstring).
    """
    z = pose_cam_mm[..., 2:3]
    if not (z > 0).all():
        raise ValueError("every joint must lie in front of the camera (z > 0) to frame a crop")
    m = pose_cam_mm[..., :2].astype(np.float64) / z
    lo, hi = m.min(axis=1), m.max(axis=1)  # (T, 2)
    if static:
        lo, hi = lo.min(axis=0, keepdims=True), hi.max(axis=0, keepdims=True)
        centre = np.repeat(0.5 * (lo + hi), len(m), axis=0)
        half = np.repeat(0.5 * (hi - lo).max(axis=1), len(m), axis=0)
    else:
        centre = _smooth(0.5 * (lo + hi), smooth_sigma)
        half = np.abs(m - centre[:, None]).max(axis=(1, 2))
        half = np.maximum(_smooth(half, smooth_sigma), half)
    half = np.maximum(half * (1.0 + margin), 1e-6)
    f = resolution / (2.0 * half)
    K = np.zeros((len(m), 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = f
    K[:, :2, 2] = resolution / 2.0 - 0.5 - centre * f[:, None]
    K[:, 2, 2] = 1.0
    return K


def crop_boxes(K: np.ndarray, resolution: int) -> np.ndarray:
    """The crops of :func:`crop_intrinsics` as boxes in the camera's normalised image plane.

    Args:
        K: ``(T, 3, 3)`` crop intrinsics.
    Returns:
        ``(T, 3)`` float32: the ray ``(x, y)`` (z = 1) through each crop's centre and the crop's
        side in the same units (``Video.person_box``).
    """
    f = K[:, 0, 0]
    centre = ((resolution / 2.0 - 0.5) - K[:, :2, 2]) / f[:, None]
    return np.concatenate([centre, (resolution / f)[:, None]], axis=1).astype(np.float32)


def pixel_rays(K: np.ndarray, resolution: int) -> np.ndarray:
    """Rays through the pixel centres of a ``resolution``-square crop.

    Args:
        K: ``(3, 3)`` or ``(T, 3, 3)`` crop intrinsics.
    Returns:
        ``(P, 3)`` or ``(T, P, 3)`` float32 directions with z = 1, row-major pixel order
        (``P = resolution**2``, pixel ``(v, u)`` at ``v * resolution + u``).
    """
    K = np.asarray(K, dtype=np.float64)
    v, u = np.mgrid[0:resolution, 0:resolution].astype(np.float64)
    f = K[..., 0, 0][..., None]
    x = (u.ravel() - K[..., 0, 2][..., None]) / f
    y = (v.ravel() - K[..., 1, 2][..., None]) / f
    return np.stack([x, y, np.ones_like(x)], axis=-1).astype(np.float32)


def project_to_crop(pose_cam_mm: np.ndarray, K: np.ndarray, resolution: int) -> np.ndarray:
    """Perspective projection of camera-frame joints to normalised crop coordinates.

    Args:
        pose_cam_mm: ``(T, J, 3)`` camera frame, mm.
        K: ``(T, 3, 3)`` crop intrinsics.
    Returns:
        ``(T, J, 2)`` float32, ``x = (2u + 1) / W - 1`` with ``u = f x / z + px`` (pixels).
    """
    p = pose_cam_mm.astype(np.float64)
    uv = p[..., :2] / p[..., 2:3] * K[:, None, [0, 1], [0, 1]] + K[:, None, :2, 2]
    return ((2.0 * uv + 1.0) / resolution - 1.0).astype(np.float32)


# ==============================================================================================
# Backgrounds
# ==============================================================================================


@lru_cache(maxsize=None)
def _photo(name: str) -> tuple[np.ndarray, bool]:
    """A scikit-image bundled photograph as ``(h, w, 3)`` uint8 (grey ones replicated) and
    whether it was grey."""
    import skimage.data

    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise UserError(f"scikit-image has no bundled image {name!r}")
    try:
        image = loader()
    except Exception as error:  # a file that needs the optional pooch download
        raise UserError(f"scikit-image image {name!r} cannot be loaded offline ({error})") from None
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (255 * (image.astype(np.float64) / max(float(image.max()), 1e-9))).astype(np.uint8)
    grey = image.ndim == 2
    if grey:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = np.ascontiguousarray(image[..., :3])
    image.flags.writeable = False
    return image, grey


def _texture(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A procedural ``(size, size, 3)`` uint8 texture."""
    c1, c2 = rng.uniform(0.1, 0.95, size=(2, 3))
    yy, xx = np.mgrid[0:size, 0:size] / size
    if kind == "noise":
        coarse = rng.uniform(0.0, 1.0, size=(rng.integers(4, 12),) * 2 + (3,)).astype(np.float32)
        image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        fine = rng.normal(0.0, 0.05, size=(size, size, 3))
        image = np.clip(image * (c2 - c1) + c1 + fine, 0.0, 1.0)
    elif kind == "tiles":
        period = rng.uniform(0.08, 0.2)
        angle = rng.uniform(-0.3, 0.3)
        a = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        b = (-xx * np.sin(angle) + yy * np.cos(angle)) / period
        grout = (np.abs(a - np.round(a)) < 0.05) | (np.abs(b - np.round(b)) < 0.05)
        cells = (np.floor(a) + np.floor(b)) % 2 == 0
        image = np.where(cells[..., None], c1, c2) * rng.uniform(0.9, 1.1, size=(size, size, 1))
        image = np.where(grout[..., None], 0.3 * c1, image)
    elif kind == "gradient":
        horizon = rng.uniform(0.4, 0.7)
        sky = c1[None, None] * (0.6 + 0.4 * yy[..., None] / horizon)
        ground = c2[None, None] * (0.5 + 0.5 * (yy[..., None] - horizon))
        image = np.where((yy < horizon)[..., None], sky, ground) + rng.normal(0.0, 0.02, size=(size, size, 3))
    elif kind == "planks":
        width = rng.uniform(0.04, 0.12)
        plank = np.floor(xx / width)
        shade_ = 0.75 + 0.25 * np.sin(plank * 12.9898 + rng.uniform(0, 6.28)) ** 2
        grain = 0.08 * np.sin(yy * rng.uniform(40, 90) + 3.0 * np.sin(xx * 25.0 + plank))
        image = c1[None, None] * (shade_ + grain)[..., None]
        image = np.where((np.abs(xx / width - np.round(xx / width)) < 0.06)[..., None], 0.4 * c1, image)
    else:
        raise UserError(f"unknown texture {kind!r}; known: noise, tiles, gradient, planks")
    return (255 * np.clip(image, 0.0, 1.0)).astype(np.uint8)


def background_image(name: str, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """The backdrop of one video: ``(h, w, 3)`` uint8, a few crop widths across.

    Args:
        name: ``"photo:<skimage name>"`` or ``"texture:<kind>"`` (:func:`split_backgrounds`).
        resolution: crop side; the backdrop's longer side becomes 2.5 to 5 times it, so the crop
            sees a fifth to two fifths of the photograph at about one photo pixel per pixel.
    """
    kind, _, what = name.partition(":")
    long_side = int(resolution * rng.uniform(2.5, 5.0))
    if kind == "photo":
        photo, grey = _photo(what)
        scale = long_side / max(photo.shape[:2])
        size = (max(int(round(photo.shape[1] * scale)), 2), max(int(round(photo.shape[0] * scale)), 2))
        image = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        if grey:
            tint = rng.uniform(0.7, 1.15, size=3)  # grey photographs get a colour cast
            image = np.clip(image * tint, 0, 255).astype(np.uint8)
    elif kind == "texture":
        image = _texture(what, long_side, rng)
    else:
        raise UserError(f"unknown background {name!r}; use 'photo:<name>' or 'texture:<kind>'")
    if rng.random() < 0.5:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def render_background(image: np.ndarray, K: np.ndarray, cam_R_world: np.ndarray, resolution: int,
                      rng: np.random.Generator) -> np.ndarray:
    """The backdrop as seen in every crop: a picture at infinity, fixed in the world.

    The picture is the image plane of a virtual camera with the first frame's rotation and focal
    length, placed so that the first crop sees a random window of it. A crop pixel of frame t
    reads the picture through ``H_t = K_bg R_0 R_t^T K_t^{-1}`` (pure rotation: no parallax),
    mirrored at the picture's edges.

    Args:
        image: ``(h, w, 3)`` uint8 backdrop.
        K: ``(T, 3, 3)`` crop intrinsics; ``cam_R_world`` ``(T, 3, 3)``.
    Returns:
        ``(T, H, W, 3)`` uint8.
    """
    h, w = image.shape[:2]
    f = K[0, 0, 0]
    # The first crop's centre pixel looks at a random point of the picture.
    centre_ray = np.linalg.solve(K[0], np.array([(resolution - 1) / 2.0, (resolution - 1) / 2.0, 1.0]))
    target = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
    K_bg = np.array([[f, 0.0, target[0] - f * centre_ray[0]], [0.0, f, target[1] - f * centre_ray[1]], [0, 0, 1.0]])
    out = np.empty((len(K), resolution, resolution, 3), np.uint8)
    previous = None
    for t in range(len(K)):
        H = K_bg @ cam_R_world[0] @ cam_R_world[t].T @ np.linalg.inv(K[t])
        if previous is not None and np.allclose(H, previous[0]):
            out[t] = previous[1]
            continue
        out[t] = cv2.warpPerspective(image, H, (resolution, resolution), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT_101)
        previous = (H, out[t])
    return out


# ==============================================================================================
# Rendering a clip
# ==============================================================================================


@dataclass
class Scene:
    """Everything but the motion that one video needs.

    Attributes:
        subject: the person.
        background: backdrop name (:func:`split_backgrounds`).
        distance_mm, elevation, azimuth: camera position about the person at the first frame
            (radians).
        orbit_rate: azimuth change per frame (radians); 0 for a static camera.
        elevation_rate: elevation change per frame (radians).
        light_azimuth, light_elevation: direction towards the light, world (radians).
        ambient: ambient share of the light.
        seed: seeds the backdrop window and the sensor noise.
    """

    subject: Subject
    background: str
    distance_mm: float
    elevation: float
    azimuth: float
    orbit_rate: float = 0.0
    elevation_rate: float = 0.0
    light_azimuth: float = 0.8
    light_elevation: float = 0.9
    ambient: float = 0.4
    seed: int = 0

    @property
    def camera_moves(self) -> bool:
        return self.orbit_rate != 0.0 or self.elevation_rate != 0.0


@dataclass
class RenderedClip:
    """A rendered clip and its ground truth.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8.
        clean_background: ``(T, H, W, 3)`` uint8, the backdrop without the person.
        segmentation: ``(T, H, W)`` uint8 part labels.
        depth_mm: ``(T, H, W)`` float32 camera z of the body, ``inf`` on the background.
        pose3d_cam_mm: ``(T, 17, 3)`` float32 joints, camera frame.
        pose2d_norm: ``(T, 17, 2)`` float32 joints, normalised crop coordinates.
        K: ``(T, 3, 3)`` float64 crop intrinsics; ``cam_R_world`` ``(T, 3, 3)`` and
        ``cam_centre_world_mm`` ``(T, 3)`` the camera's pose.
    """

    frames: np.ndarray
    clean_background: np.ndarray
    segmentation: np.ndarray
    depth_mm: np.ndarray
    pose3d_cam_mm: np.ndarray
    pose2d_norm: np.ndarray
    K: np.ndarray
    cam_R_world: np.ndarray
    cam_centre_world_mm: np.ndarray


def render_body(body: Body, subject: Subject, K: np.ndarray, resolution: int, light_cam: np.ndarray,
                ambient: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray cast and shade a posed body into crops.

    Args:
        body: primitives for ``T`` frames, camera frame.
        K: ``(T, 3, 3)`` crop intrinsics.
        light_cam: ``(T, 3)`` unit vectors towards the light, camera frame.
    Returns:
        ``rgb (T, H, W, 3)`` float32 (0 on the background), ``labels (T, H, W)`` uint8,
        ``depth (T, H, W)`` float32 camera z in mm (``inf`` on the background).
    """
    hits = ray_cast(body, K, resolution)
    shared = bool(np.allclose(K, K[:1]))
    rays = pixel_rays(K[0] if shared else K, resolution)
    rgb = shade(body, subject, rays, hits, light_cam, ambient)
    labels = np.concatenate([body.label, np.zeros(1, np.uint8)])[hits.index]  # index -1 -> 0
    shape = (len(K), resolution, resolution)
    return rgb.reshape(shape + (3,)), labels.reshape(shape), hits.depth.reshape(shape)


def _world_to_camera(points_world: np.ndarray, cam_R_world: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return np.einsum("tij,tnj->tni", cam_R_world, points_world - centre[:, None])


def render_clip(pose_world_mm: np.ndarray, scene: Scene, resolution: int, margin: float = 0.25,
                noise_std: float = 0.0, crop_per_frame: bool = False) -> RenderedClip:
    """Render one clip of a posed subject.

    The subject's poses are scaled by ``height_scale`` about the ground point below the first
    frame's pelvis. The camera looks at the clip's mean pelvis from ``distance_mm`` at the given
    azimuth and elevation, orbiting at ``orbit_rate`` for a moving camera. The crop follows the
    person, smoothed over time, for a moving camera or with ``crop_per_frame``; otherwise it is
    one crop for the whole clip (so the backdrop is identical in every frame).

    Args:
        pose_world_mm: ``(T, 17, 3)`` world joints (+Z up), mm.
        scene: subject, backdrop, camera and light.
        resolution: crop side, pixels.
        margin: crop margin (:func:`crop_intrinsics`).
        noise_std: Gaussian sensor noise, 0-255 units.
        crop_per_frame: a person-centred crop per frame even for a static camera.
    Returns:
        :class:`RenderedClip`.
    """
    pose = np.asarray(pose_world_mm, dtype=np.float64)
    if pose.ndim != 3 or pose.shape[1:] != (H36M17.num_joints, 3) or len(pose) < 1:
        raise ValueError(f"pose_world_mm must have shape (T, 17, 3), got {pose.shape}")
    num_frames = len(pose)
    rng = np.random.default_rng(scene.seed)
    subject = scene.subject
    ground = np.array([pose[0, 0, 0], pose[0, 0, 1], pose[..., 2].min()])
    pose = ground + subject.height_scale * (pose - ground)

    target = np.repeat(pose[:, 0].mean(axis=0, keepdims=True), num_frames, axis=0)
    steps = np.arange(num_frames)
    azimuth = scene.azimuth + scene.orbit_rate * steps
    elevation = scene.elevation + scene.elevation_rate * steps
    centre = orbit_centres(target, np.full(num_frames, scene.distance_mm), azimuth, elevation)
    cam_R_world = look_at(centre, target)
    pose_cam = _world_to_camera(pose, cam_R_world, centre)
    K = crop_intrinsics(pose_cam, resolution, margin, static=not (scene.camera_moves or crop_per_frame))

    light_world = np.array([math.cos(scene.light_elevation) * math.cos(scene.light_azimuth),
                            math.cos(scene.light_elevation) * math.sin(scene.light_azimuth),
                            math.sin(scene.light_elevation)])
    light_cam = (cam_R_world @ light_world).astype(np.float32)
    body = build_body(pose_cam, subject)
    rgb, labels, depth = render_body(body, subject, K, resolution, light_cam, scene.ambient)

    backdrop = background_image(scene.background, resolution, rng)
    clean = render_background(backdrop, K, cam_R_world, resolution, rng)
    frames = np.where((labels > 0)[..., None], 255.0 * rgb, clean.astype(np.float32))
    if noise_std > 0:
        frames += np.float32(noise_std) * rng.standard_normal(size=frames.shape, dtype=np.float32)
    frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    return RenderedClip(
        frames=frames,
        clean_background=clean,
        segmentation=labels,
        depth_mm=depth,
        pose3d_cam_mm=pose_cam.astype(np.float32),
        pose2d_norm=project_to_crop(pose_cam, K, resolution),
        K=K,
        cam_R_world=cam_R_world,
        cam_centre_world_mm=centre,
    )


# ==============================================================================================
# The benchmark
# ==============================================================================================


@dataclass(frozen=True)
class VideoSpec:
    """The design of one benchmark video (what it shows, not the pixels).

    Attributes:
        name: ``"<split>/<index>_<motion>"``.
        split: ``"train"`` or ``"test"``.
        motion: motion-capture clip name; ``mirrored`` plays its left/right mirror image.
        start, num_frames: the window of the (resampled) clip.
        subject: subject name; ``background`` the backdrop name.
        moving_camera: whether the camera orbits (the ground truth of ``Video.camera_moves``).
        seed: seeds the scene (camera, light, backdrop window, noise).
    """

    name: str
    split: str
    motion: str
    mirrored: bool
    start: int
    num_frames: int
    subject: str
    background: str
    moving_camera: bool
    seed: int


def split_subjects(config: SyntheticConfig, split: str) -> list[Subject]:
    """The subjects of a split; train and test subjects are distinct draws."""
    _check_split(split)
    count = config.num_train_subjects if split == "train" else config.num_test_subjects
    return [
        sample_subject(f"{split}_s{k:02d}", np.random.default_rng([config.seed, SPLIT_CODES[split], 7, k]))
        for k in range(count)
    ]


def split_motion_clips(config: SyntheticConfig, clips: Sequence) -> dict[str, list]:
    """The motion-capture clips (``partpose.data.mocap.MotionClip``) behind each split.

    ``config.split = "segments"`` (default): every clip is cut in time
    (``mocap.split_segments``), the training videos and the pose prior see the first 70 % of
    every motion, the test videos the last 30 % (Human3.6M's protocol: the test subjects perform
    the training actions). ``"motions"``: whole clips are held out
    (``mocap.split_clips``, the harder cross-motion variant); the training videos use
    ``config.train_motions``.

    Returns:
        ``{"train": [...], "test": [...]}``.
    """
    from partpose.data.mocap import split_clips, split_segments

    if config.split == "segments":
        return split_segments(clips)
    if config.split != "motions":
        raise UserError(f"synthetic.split must be 'segments' or 'motions', got {config.split!r}")
    parts = split_clips(clips, seed=config.seed)
    train = parts["prior"] + parts["train"] if config.train_motions == "non_test" else parts["train"]
    return {"train": train, "test": parts["test"]}


def load_split_motions(config: SyntheticConfig, split: str) -> dict[str, np.ndarray]:
    """The motion-capture clips of a split (:func:`split_motion_clips`), resampled to
    ``config.fps``: name -> ``(T, 17, 3)`` world mm (+Z up) at the stature ``config.stature_mm``."""
    from partpose.data.mocap import load_deepmimic_clips, mixed_motions, resample

    _check_split(split)
    clips = split_motion_clips(config, load_deepmimic_clips(scale_to_height_mm=config.stature_mm))[split]
    motions = {c.name: resample(c.poses_mm.astype(np.float64), c.fps, config.fps) for c in clips}
    if split == "train" and config.mixed_motions:
        motions.update(mixed_motions(motions, config.mixed_motions, seed=config.seed))
    return motions


def plan_videos(config: SyntheticConfig, split: str, motion_lengths: dict[str, int],
                subjects_from: str | None = None) -> list[VideoSpec]:
    """The video designs of a split: ``videos_per_motion`` (train) or ``test_videos_per_motion``
    (test) videos per motion, subjects in turn, a random backdrop of the split, a random window
    of at most ``frames_per_video`` frames, a moving camera for about ``moving_camera_fraction``
    of them.

    Args:
        motion_lengths: motion name -> number of frames (at ``config.fps``), in split order.
        subjects_from: take the subjects of this split instead (a diagnostic: the split's
            motions worn by the other split's people); the rest of the plan is unchanged.
    """
    _check_config(config)
    _check_split(split)
    subjects = split_subjects(config, subjects_from or split)
    backgrounds = (config.studio_backdrop,) if config.scene == "studio" else split_backgrounds(split)
    per_motion = config.videos_per_motion if split == "train" else config.test_videos_per_motion
    specs = []
    for m, (motion, length) in enumerate(motion_lengths.items()):
        for k in range(per_motion):
            index = m * per_motion + k
            rng = np.random.default_rng([config.seed, SPLIT_CODES[split], 11, index])
            num_frames = min(config.frames_per_video, length)
            specs.append(VideoSpec(
                name=f"{split}/{index:04d}_{motion}",
                split=split,
                motion=motion,
                mirrored=bool(rng.random() < config.mirror_fraction),
                start=int(rng.integers(0, length - num_frames + 1)),
                num_frames=num_frames,
                subject=subjects[index % len(subjects)].name,
                background=backgrounds[int(rng.integers(len(backgrounds)))],
                moving_camera=bool(rng.random() < config.moving_camera_fraction),
                seed=int(rng.integers(2**31)),
            ))
    return specs


def make_scene(config: SyntheticConfig, spec: VideoSpec, subject: Subject) -> Scene:
    """Camera, light and backdrop of one video, drawn from ``spec.seed``.

    ``config.scene = "random"``: a camera anywhere in the configured ranges, a random light.
    ``"studio"`` (Human3.6M's set-up: every subject and split filmed by the same cameras in one
    room): camera ``k`` of ``studio_cameras`` (drawn per video) sits at azimuth
    ``45° + k * 360° / studio_cameras``, at the middle of ``elevation_deg`` and of
    ``camera_distance_m``; the light is the studio's, the same in every video.
    """
    rng = np.random.default_rng([spec.seed, 1])
    if config.scene == "studio":
        camera_index = int(rng.integers(config.studio_cameras))
        return Scene(
            subject=subject,
            background=spec.background,
            distance_mm=1000.0 * 0.5 * sum(config.camera_distance_m),
            elevation=math.radians(0.5 * sum(config.elevation_deg)),
            azimuth=math.radians(45.0 + camera_index * 360.0 / config.studio_cameras),
            light_azimuth=math.radians(60.0),
            light_elevation=math.radians(50.0),
            ambient=0.45,
            seed=int(rng.integers(2**31)),
        )
    fps = config.fps
    orbit = elevation_rate = 0.0
    if spec.moving_camera:
        speed = math.radians(rng.uniform(*config.orbit_speed_deg_s)) / fps
        orbit = speed * rng.choice([-1.0, 1.0])
        elevation_rate = math.radians(rng.uniform(-3.0, 3.0)) / fps
    return Scene(
        subject=subject,
        background=spec.background,
        distance_mm=1000.0 * rng.uniform(*config.camera_distance_m),
        elevation=math.radians(rng.uniform(*config.elevation_deg)),
        azimuth=rng.uniform(0.0, 2.0 * math.pi),
        orbit_rate=orbit,
        elevation_rate=elevation_rate,
        light_azimuth=rng.uniform(0.0, 2.0 * math.pi),
        light_elevation=math.radians(rng.uniform(25.0, 75.0)),
        ambient=rng.uniform(0.3, 0.55),
        seed=int(rng.integers(2**31)),
    )


def render_spec(config: SyntheticConfig, spec: VideoSpec, motion_world_mm: np.ndarray,
                subjects: dict[str, Subject]) -> tuple[Video, RenderedClip]:
    """Render one planned video. ``motion_world_mm`` is the whole resampled clip.

    The video's background follows ``config.background``: ``"plate"`` gives a static-camera
    video the scene without the person, cropped like each frame (``(T, H, W, 3)``), and a
    moving-camera video none; ``"median"`` gives every video its temporal median and lets
    :func:`partpose.data.video.camera_moves` judge it, as for any user video.
    """
    from partpose.data.mocap import mirror

    window = motion_world_mm[spec.start:spec.start + spec.num_frames]
    if spec.mirrored:
        window = mirror(window)
    scene = make_scene(config, spec, subjects[spec.subject])
    clip = render_clip(window, scene, config.resolution, config.crop_margin, config.noise_std,
                       crop_per_frame=config.crop == "frame")
    if config.background == "plate":
        background = None if scene.camera_moves else clip.clean_background
        moves = bool(scene.camera_moves)
    else:
        background = median_background(clip.frames)
        moves = camera_moves(clip.frames, background)
    video = Video(
        frames=clip.frames,
        background=background,
        camera_moves=moves,
        pose3d_cam_mm=clip.pose3d_cam_mm,
        pose2d_norm=clip.pose2d_norm,
        segmentation=clip.segmentation,
        person_box=crop_boxes(clip.K, config.resolution),
        camera_up=clip.cam_R_world[:, :, 2].astype(np.float32),  # cam_R_world @ world +Z
        name=spec.name,
        subject=spec.subject,
        action=spec.motion,
    )
    return video.validate(), clip


def config_key(config: SyntheticConfig, split: str) -> str:
    """Hash of everything that determines a split's videos (the cache folder is left out)."""
    payload = {k: v for k, v in asdict(config).items() if k != "cache_dir"}
    payload.update(split=split, renderer=RENDERER_VERSION)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def build_synthetic_videos(config: SyntheticConfig, split: str, indices: Sequence[int] | None = None,
                           subjects_from: str | None = None, spread: int | None = None) -> list[Video]:
    """The synthetic benchmark's videos of one split.

    Train videos use the training motions (``config.train_motions``: every non-test clip by
    default) with the train subjects and backdrops; test videos the held-out "test" clips,
    subjects and backdrops. ``Video.background`` follows ``config.background`` (:func:`render_spec`).
    With ``config.cache_dir`` set, a whole split
    is read from (or written to) ``<cache_dir>/synthetic_<split>_<config_key>.npz``.

    Args:
        config: the benchmark's configuration.
        split: ``"train"`` or ``"test"``.
        indices: render only these videos of the split's plan (:func:`plan_videos`), uncached;
            ``None`` renders them all.
        subjects_from: dress the split's videos in the subjects of this split (uncached; see
            :func:`plan_videos`): ``build_synthetic_videos(c, "test", subjects_from="train")``
            is the held-out motion segments performed by the training people.
        spread: render only this many videos, spread evenly over the split's plan (every video
            when the split has fewer), uncached; not together with ``indices``.
    Returns:
        The videos, in plan order (or in the order of ``indices``).
    """
    _check_config(config)
    _check_split(split)
    cache_path = None
    if subjects_from is not None:
        _check_split(subjects_from)
    if indices is not None and spread is not None:
        raise ValueError("give indices or spread, not both")
    if config.cache_dir and indices is None and spread is None and subjects_from in (None, split):
        cache_path = Path(config.cache_dir) / f"synthetic_{split}_{config_key(config, split)}.npz"
        if cache_path.exists():
            return load_videos(cache_path)
    motions = load_split_motions(config, split)
    specs = plan_videos(config, split, {name: len(p) for name, p in motions.items()}, subjects_from)
    if spread is not None:
        indices = np.unique(np.linspace(0, len(specs) - 1, min(spread, len(specs))).round().astype(int)).tolist()
    if indices is not None:
        bad = [i for i in indices if not 0 <= i < len(specs)]
        if bad:
            raise UserError(f"video index {bad[0]} out of range: the {split} split has {len(specs)} videos")
        specs = [specs[i] for i in indices]
    subjects = {s.name: s for s in split_subjects(config, subjects_from or split)}
    videos = [render_spec(config, spec, motions[spec.motion], subjects)[0] for spec in specs]
    if cache_path is not None:
        save_videos(cache_path, videos)
    return videos
