"""Real motion capture as 17-joint poses: DeepMimic clips, BVH files, VideoPose3D npz files.

Convention:
    Every loader returns :class:`MotionClip` objects whose ``poses_mm`` are ``(T, 17, 3)``
    float32 joint positions in the ``H36M17`` order (``partpose.geometry.skeleton``), in
    millimetres, in a right-handed world frame with **+Z up** (the ground is the XY plane). A
    y-up source is turned z-up by the proper rotation ``(x, y, z) -> (x, -z, y)`` (+90 degrees
    about X, determinant +1), never by a reflection, so a left joint stays on the body's left.

    DeepMimic humanoid (``pybullet_data/data/motions``, layout in ``docs/data.md``): forward
    kinematics ``R_j = R_parent @ local_j``, ``p_j = p_parent + R_parent @ offset_j`` with the
    offsets of ``pybullet_data/humanoid/humanoid.urdf`` scaled by 0.25 (the scale DeepMimic
    loads it with). The humanoid faces +x with its right side at +z (y up). Joint derivation:
    pelvis = root, hips/knees/ankles/shoulders/elbows = the humanoid joints of the same name,
    spine = chest joint, thorax = neck joint, wrist = elbow + R_elbow @ (0, -0.258947, 0) (the
    URDF's fixed wrist), and from the head sphere (centre 0.175 m along the neck link's +y, radius
    0.1025 m, both the URDF collision sphere x 0.25): nose = the sphere's lowest point along the
    neck axis (base of the head, 0.0725 m above the neck joint), head = its highest point (top of
    the head, 0.2775 m above the neck joint).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from partpose.errors import UserError
from partpose.geometry.skeleton import H36M17, Skeleton


@dataclass
class MotionClip:
    """One motion-capture clip.

    Attributes:
        name: identifier, unique within a loader's output (``"walk"``, ``"S1/Directions 1"``).
        poses_mm: ``(T, 17, 3)`` float32 joints in ``H36M17`` order, millimetres, world frame
            with +Z up.
        fps: frames per second.
        source: where the clip came from (``"deepmimic:data/motions/humanoid3d_walk.txt"``).
    """

    name: str
    poses_mm: np.ndarray
    fps: float
    source: str

    @property
    def num_frames(self) -> int:
        return int(self.poses_mm.shape[0])


# --------------------------------------------------------------------------------------------
# Frames of reference
# --------------------------------------------------------------------------------------------

ZUP_R_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""Proper rotation taking y-up coordinates to z-up: ``p_zup = ZUP_R_YUP @ p_yup``."""


def _to_z_up(positions: np.ndarray) -> np.ndarray:
    """``(..., 3)`` y-up coordinates -> z-up coordinates (:data:`ZUP_R_YUP`)."""
    return positions @ ZUP_R_YUP.T


def _quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """``(..., 4)`` quaternions ``(w, x, y, z)`` (normalised inside) -> ``(..., 3, 3)`` rotations
    acting on column vectors."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """``(...)`` angles -> ``(..., 3, 3)`` right-handed rotations about the x, y or z axis."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    one, zero = np.ones_like(c), np.zeros_like(c)
    if axis == "x":
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == "y":
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


# --------------------------------------------------------------------------------------------
# DeepMimic humanoid
# --------------------------------------------------------------------------------------------

DEEPMIMIC_FRAME_SIZE = 44
"""Floats per DeepMimic frame: duration, root position (3), root quaternion (4), 8 spherical
joints (4 each) and 4 revolute joints (1 each)."""


@dataclass(frozen=True)
class _DMJoint:
    name: str
    parent: int  # index into DEEPMIMIC_JOINTS, -1 for the root
    offset_m: tuple[float, float, float]  # from the parent joint, in the parent's link frame
    start: int  # first float of the joint's rotation in a frame; -1 for a fixed joint
    kind: str  # "root", "spherical" (quaternion w,x,y,z), "revolute" (angle about local z), "fixed"


_DM_TABLE = (
    _DMJoint("root", -1, (0.0, 0.0, 0.0), 4, "root"),
    _DMJoint("chest", 0, (0.0, 0.236151, 0.0), 8, "spherical"),
    _DMJoint("neck", 1, (0.0, 0.223894, 0.0), 12, "spherical"),
    _DMJoint("right_hip", 0, (0.0, 0.0, 0.084887), 16, "spherical"),
    _DMJoint("right_knee", 3, (0.0, -0.421546, 0.0), 20, "revolute"),
    _DMJoint("right_ankle", 4, (0.0, -0.409870, 0.0), 21, "spherical"),
    _DMJoint("right_shoulder", 1, (-0.02405, 0.24350, 0.18311), 25, "spherical"),
    _DMJoint("right_elbow", 6, (0.0, -0.274788, 0.0), 29, "revolute"),
    _DMJoint("right_wrist", 7, (0.0, -0.258947, 0.0), -1, "fixed"),
    _DMJoint("left_hip", 0, (0.0, 0.0, -0.084887), 30, "spherical"),
    _DMJoint("left_knee", 9, (0.0, -0.421546, 0.0), 34, "revolute"),
    _DMJoint("left_ankle", 10, (0.0, -0.409870, 0.0), 35, "spherical"),
    _DMJoint("left_shoulder", 1, (-0.02405, 0.24350, -0.18311), 39, "spherical"),
    _DMJoint("left_elbow", 12, (0.0, -0.274788, 0.0), 43, "revolute"),
    _DMJoint("left_wrist", 13, (0.0, -0.258947, 0.0), -1, "fixed"),
)

DEEPMIMIC_JOINTS = tuple(j.name for j in _DM_TABLE)
"""Joints placed by :func:`deepmimic_forward_kinematics` (the URDF's links, wrists included)."""

DEEPMIMIC_HEAD_CENTRE_M = 0.175
"""Head sphere centre above the neck joint along the neck link's +y (URDF 0.7 x 0.25), metres."""

DEEPMIMIC_HEAD_RADIUS_M = 0.1025
"""Head sphere radius (URDF collision sphere 0.41 x 0.25), metres."""

DEEPMIMIC_SOLE_DEPTH_M = 0.05
"""Sole below the ankle joint in the rest pose: the URDF foot box (centre 0.0225 m below the
ankle, half height 0.0275 m, x 0.25)."""

DEEPMIMIC_STATURE_M = (
    0.421546 + 0.409870 + DEEPMIMIC_SOLE_DEPTH_M  # sole -> hip
    + 0.236151 + 0.223894 + DEEPMIMIC_HEAD_CENTRE_M + DEEPMIMIC_HEAD_RADIUS_M  # root -> head top
)
"""Standing height of the rest pose (all joint rotations identity), sole to head top: 1.619 m.
``load_deepmimic_clips(scale_to_height_mm=h)`` scales positions by ``h / (1000 * this)``."""

# H36M17 joint -> DeepMimic joint it is taken from (nose and head come from the head sphere).
_DM_TO_H36M = {
    "pelvis": "root", "r_hip": "right_hip", "r_knee": "right_knee", "r_ankle": "right_ankle",
    "l_hip": "left_hip", "l_knee": "left_knee", "l_ankle": "left_ankle", "spine": "chest",
    "thorax": "neck", "l_shoulder": "left_shoulder", "l_elbow": "left_elbow",
    "l_wrist": "left_wrist", "r_shoulder": "right_shoulder", "r_elbow": "right_elbow",
    "r_wrist": "right_wrist",
}


def deepmimic_forward_kinematics(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics of the DeepMimic humanoid, vectorised over frames.

    Args:
        frames: ``(T, 44)`` DeepMimic frames (duration, root position m y-up, root quaternion
            w,x,y,z, local joint rotations; see the module docstring).
    Returns:
        ``positions (T, 15, 3)`` joint positions in metres, DeepMimic world (y up), and
        ``world_R_link (T, 15, 3, 3)`` link orientations, both indexed like
        :data:`DEEPMIMIC_JOINTS`.

    Convention:
        ``world_R_link[j] = world_R_link[parent] @ local_j`` and
        ``p_j = p_parent + world_R_link[parent] @ offset_j``; revolute joints (knees, elbows)
        rotate about their local z axis by the frame's angle (radians); quaternions are
        normalised before use.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != DEEPMIMIC_FRAME_SIZE:
        raise ValueError(f"frames must have shape (T, {DEEPMIMIC_FRAME_SIZE}), got {frames.shape}")
    num_frames = frames.shape[0]
    positions = np.zeros((num_frames, len(_DM_TABLE), 3))
    rotations = np.zeros((num_frames, len(_DM_TABLE), 3, 3))
    for j, joint in enumerate(_DM_TABLE):
        if joint.kind == "fixed":
            local = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        elif joint.kind == "revolute":
            local = _axis_rotation("z", frames[:, joint.start])
        else:
            local = _quat_wxyz_to_matrix(frames[:, joint.start : joint.start + 4])
        if joint.parent < 0:
            positions[:, j] = frames[:, 1:4]
            rotations[:, j] = local
        else:
            parent_R = rotations[:, joint.parent]
            positions[:, j] = positions[:, joint.parent] + parent_R @ np.asarray(joint.offset_m)
            rotations[:, j] = parent_R @ local
    return positions, rotations


def deepmimic_to_h36m17(frames: np.ndarray) -> np.ndarray:
    """DeepMimic frames -> 17-joint poses.

    Args:
        frames: ``(T, 44)`` DeepMimic frames.
    Returns:
        ``(T, 17, 3)`` float64 ``H36M17`` joints in millimetres, z-up world (:data:`ZUP_R_YUP`),
        at the humanoid's own scale. Joint derivation in the module docstring.
    """
    positions, rotations = deepmimic_forward_kinematics(frames)
    index = {name: k for k, name in enumerate(DEEPMIMIC_JOINTS)}
    neck = index["neck"]
    neck_y = rotations[:, neck, :, 1]  # the neck link's +y axis in the world, (T, 3)
    base_of_head = DEEPMIMIC_HEAD_CENTRE_M - DEEPMIMIC_HEAD_RADIUS_M
    top_of_head = DEEPMIMIC_HEAD_CENTRE_M + DEEPMIMIC_HEAD_RADIUS_M
    derived = {
        "nose": positions[:, neck] + base_of_head * neck_y,
        "head": positions[:, neck] + top_of_head * neck_y,
    }
    joints = [
        derived[name] if name in derived else positions[:, index[_DM_TO_H36M[name]]]
        for name in H36M17.names
    ]
    return _to_z_up(np.stack(joints, axis=1)) * 1000.0


def _pybullet_data_path() -> Path:
    try:
        import pybullet_data
    except ImportError:
        raise UserError("pybullet is not installed: pip install pybullet") from None
    return Path(pybullet_data.getDataPath())


def _deepmimic_files() -> dict[str, Path]:
    """Clip name -> file: ``humanoid3d_walk.txt`` is ``"walk"``, ``walker/turn_left0.txt`` is
    ``"walker_turn_left0"``. Humanoid clips first, each group sorted by name."""
    motions = _pybullet_data_path() / "data" / "motions"
    files = {p.stem[len("humanoid3d_"):]: p for p in sorted(motions.glob("humanoid3d_*.txt"))}
    files.update({f"walker_{p.stem}": p for p in sorted((motions / "walker").glob("*.txt"))})
    if not files:
        raise UserError(f"no DeepMimic clips found under {motions}; reinstall pybullet")
    return files


def list_deepmimic_clips() -> list[str]:
    """Names of the DeepMimic clips shipped with the installed ``pybullet`` wheel."""
    return list(_deepmimic_files())


def read_deepmimic_frames(path: str | Path) -> tuple[np.ndarray, float]:
    """Read one DeepMimic motion file.

    Returns:
        ``frames (T, 44)`` float64 and the frame rate (1 / the median frame duration, the last
        frame's duration excluded: it is 0 in most files).
    Raises:
        UserError: the file is missing, not JSON, or a frame is not 44 numbers.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise UserError(f"{path}: cannot read DeepMimic clip ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: line {err.lineno}: not a DeepMimic clip ({err.msg})") from None
    raw = data.get("Frames") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise UserError(f"{path}: a DeepMimic clip needs a non-empty 'Frames' list")
    for t, frame in enumerate(raw):
        if not isinstance(frame, list) or len(frame) != DEEPMIMIC_FRAME_SIZE:
            raise UserError(f"{path}: frame {t} must hold {DEEPMIMIC_FRAME_SIZE} numbers")
    frames = np.asarray(raw, dtype=np.float64)
    durations = frames[:-1, 0] if len(frames) > 1 else frames[:, 0]
    duration = float(np.median(durations))
    if not np.isfinite(frames).all() or duration <= 0:
        raise UserError(f"{path}: frames must be finite with positive durations")
    return frames, 1.0 / duration


def load_deepmimic_file(
    path: str | Path, name: str | None = None, scale_to_height_mm: float | None = None
) -> MotionClip:
    """One DeepMimic humanoid clip as a :class:`MotionClip` (see :func:`load_deepmimic_clips`)."""
    path = Path(path)
    frames, fps = read_deepmimic_frames(path)
    poses_mm = deepmimic_to_h36m17(frames)
    if scale_to_height_mm is not None:
        if not scale_to_height_mm > 0:
            raise UserError(f"scale_to_height_mm must be positive, got {scale_to_height_mm}")
        poses_mm = poses_mm * (scale_to_height_mm / (1000.0 * DEEPMIMIC_STATURE_M))
    try:
        source = path.relative_to(_pybullet_data_path()).as_posix()
    except ValueError:
        source = str(path)
    return MotionClip(
        name=name if name is not None else path.stem,
        poses_mm=poses_mm.astype(np.float32),
        fps=fps,
        source=f"deepmimic:{source}",
    )


def load_deepmimic_clips(
    names: Sequence[str] | None = None, scale_to_height_mm: float | None = None
) -> list[MotionClip]:
    """The DeepMimic human clips inside the installed ``pybullet`` wheel, as 17-joint poses.

    Args:
        names: clip names (:func:`list_deepmimic_clips`); ``None`` loads all of them (20 clips,
            1,810 frames with pybullet 3.2).
        scale_to_height_mm: ``None`` keeps the humanoid's own size (rest-pose stature
            :data:`DEEPMIMIC_STATURE_M`, thigh 421.5 mm); a value scales every clip uniformly so
            that the rest-pose stature becomes this height.
    Returns:
        One :class:`MotionClip` per name, in the order asked (file order for ``None``): mm,
        z-up world, the humanoid's proportions.
    Raises:
        UserError: an unknown clip name (the message lists the known ones), or pybullet missing.
    """
    files = _deepmimic_files()
    if names is None:
        names = list(files)
    unknown = [n for n in names if n not in files]
    if unknown:
        raise UserError(
            f"unknown DeepMimic clip(s) {', '.join(map(repr, unknown))}; "
            f"known clips: {', '.join(files)}"
        )
    return [load_deepmimic_file(files[n], n, scale_to_height_mm) for n in names]


# --------------------------------------------------------------------------------------------
# BVH
# --------------------------------------------------------------------------------------------

CMU_BVH_UNIT_MM = 25.4 / 0.45
"""Millimetres per unit of the CMU motion-capture BVH conversions (the ASF length unit of the CMU
database: ``:units length 0.45``, i.e. 1 unit = 1/0.45 inch = 56.44 mm)."""

CMU_JOINT_MAP: dict[str, tuple[str, ...]] = {
    "pelvis": ("Hips",),
    "r_hip": ("RightUpLeg",),
    "r_knee": ("RightLeg",),
    "r_ankle": ("RightFoot",),
    "l_hip": ("LeftUpLeg",),
    "l_knee": ("LeftLeg",),
    "l_ankle": ("LeftFoot",),
    "spine": ("Spine",),
    "thorax": ("Neck",),
    "nose": ("Head",),
    "head": ("Head_end", "HeadTop_End", "HeadTop_End_end"),
    "l_shoulder": ("LeftArm",),
    "l_elbow": ("LeftForeArm",),
    "l_wrist": ("LeftHand",),
    "r_shoulder": ("RightArm",),
    "r_elbow": ("RightForeArm",),
    "r_wrist": ("RightHand",),
}
"""Default BVH joint map (CMU / Mixamo-style names): for each ``H36M17`` joint the BVH joint names
to use, the first one present wins. ``nose`` is the ``Head`` joint (the base of the head) and
``head`` the top of the head: the ``End Site`` below ``Head`` (named ``Head_end``; every End Site
is named after its parent joint plus ``_end``) or a ``HeadTop_End`` joint."""

_BVH_CHANNELS = {
    "xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation",
}


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]  # lower-case channel names in declared order
    first_channel: int


class _BvhTokens:
    """Whitespace tokens of a BVH file with their line numbers."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.items = [
            (tok, n + 1) for n, line in enumerate(text.splitlines()) for tok in line.split()
        ]
        self.lines = text.splitlines()
        self.pos = 0

    def error(self, message: str, line: int | None = None) -> UserError:
        if line is None:
            line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 1
        return UserError(f"{self.path}: line {line}: {message}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            last = self.items[-1][1] if self.items else 1
            raise self.error(f"unexpected end of file, expected {what}", last)
        tok = self.items[self.pos]
        self.pos += 1
        return tok

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok.upper() != word.upper():
            raise self.error(f"expected {word!r}, got {tok!r}", line)
        return line

    def number(self, what: str) -> float:
        tok, line = self.next(what)
        try:
            return float(tok)
        except ValueError:
            raise self.error(f"expected a number for {what}, got {tok!r}", line) from None

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None


def _parse_bvh_joint(tokens: _BvhTokens, name: str, parent: int, joints: list[_BvhJoint]) -> None:
    """Parse ``{ OFFSET ... CHANNELS ... children }`` of one joint (recursively)."""
    tokens.expect("{")
    index = len(joints)
    tokens.expect("OFFSET")
    offset = np.array([tokens.number("OFFSET") for _ in range(3)])
    channel_start = sum(len(j.channels) for j in joints)
    joint = _BvhJoint(name, parent, offset, [], channel_start)
    joints.append(joint)
    if (tokens.peek() or "").upper() == "CHANNELS":
        tokens.next("CHANNELS")
        count_tok, line = tokens.next("channel count")
        if not count_tok.isdigit():
            raise tokens.error(f"expected a channel count, got {count_tok!r}", line)
        for _ in range(int(count_tok)):
            channel, line = tokens.next("a channel name")
            if channel.lower() not in _BVH_CHANNELS:
                raise tokens.error(f"unknown channel {channel!r}", line)
            joint.channels.append(channel.lower())
    while True:
        tok, line = tokens.next("'}', JOINT or End Site")
        keyword = tok.upper()
        if keyword == "}":
            return
        if keyword == "JOINT":
            child, _ = tokens.next("a joint name")
            _parse_bvh_joint(tokens, child, index, joints)
        elif keyword == "END":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            end_offset = np.array([tokens.number("OFFSET") for _ in range(3)])
            tokens.expect("}")
            total = sum(len(j.channels) for j in joints)
            joints.append(_BvhJoint(f"{name}_end", index, end_offset, [], total))
        else:
            raise tokens.error(f"expected '}}', JOINT or End Site, got {tok!r}", line)


def _parse_bvh(path: Path) -> tuple[list[_BvhJoint], np.ndarray, float]:
    """Parse a BVH file into its joints (parents before children), the ``(T, C)`` channel values
    and the frame time in seconds."""
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"{path}: cannot read BVH file ({err.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file, cannot be a BVH file") from None
    tokens = _BvhTokens(path, text)
    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    root_name, _ = tokens.next("the root joint's name")
    joints: list[_BvhJoint] = []
    _parse_bvh_joint(tokens, root_name, -1, joints)
    tokens.expect("MOTION")
    frames_line = tokens.expect("Frames:")
    num_frames_f = tokens.number("Frames:")
    if num_frames_f != int(num_frames_f) or num_frames_f < 1:
        raise tokens.error(
            f"the frame count must be a positive integer, got {num_frames_f}", frames_line
        )
    num_frames = int(num_frames_f)
    tokens.expect("Frame")
    time_line = tokens.expect("Time:")
    frame_time = tokens.number("Frame Time:")
    if not frame_time > 0:
        raise tokens.error(f"the frame time must be positive, got {frame_time}", time_line)
    num_channels = sum(len(j.channels) for j in joints)
    first_line = time_line  # motion lines follow the "Frame Time:" line
    rows: list[list[float]] = []
    for n in range(first_line, len(tokens.lines)):
        words = tokens.lines[n].split()
        if not words:
            continue
        if len(words) != num_channels:
            raise tokens.error(f"expected {num_channels} channel values, got {len(words)}", n + 1)
        try:
            rows.append([float(w) for w in words])
        except ValueError:
            raise tokens.error("channel values must be numbers", n + 1) from None
    if len(rows) != num_frames:
        raise tokens.error(
            f"'Frames: {num_frames}' but the file holds {len(rows)} frames", frames_line
        )
    values = np.asarray(rows, dtype=np.float64).reshape(num_frames, num_channels)
    if not np.isfinite(values).all():
        raise UserError(f"{path}: channel values must be finite")
    return joints, values, frame_time


def _bvh_forward_kinematics(
    joints: Sequence[_BvhJoint], values: np.ndarray
) -> np.ndarray:
    """World positions ``(T, J, 3)`` of parsed BVH joints (file units and axes), vectorised over
    frames.

    Convention:
        Rotation channels are Euler angles in degrees composed in the declared order:
        ``Zrotation Xrotation Yrotation`` gives ``local = Rz @ Rx @ Ry`` (intrinsic rotations).
        Position channels give the joint's translation from its parent and replace the matching
        ``OFFSET`` component (the root's usual 6 channels give its absolute position). Then
        ``world_R_j = world_R_parent @ local`` and ``p_j = p_parent + world_R_parent @ t_j``.
    """
    num_frames = values.shape[0]
    positions = np.zeros((num_frames, len(joints), 3))
    rotations = np.zeros((num_frames, len(joints), 3, 3))
    for j, joint in enumerate(joints):
        translation = np.broadcast_to(joint.offset, (num_frames, 3)).copy()
        local = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        for c, channel in enumerate(joint.channels):
            value = values[:, joint.first_channel + c]
            axis = "xyz".index(channel[0])
            if channel.endswith("position"):
                translation[:, axis] = value
            else:
                local = local @ _axis_rotation(channel[0], np.deg2rad(value))
        if joint.parent < 0:
            positions[:, j] = translation
            rotations[:, j] = local
        else:
            parent_R = rotations[:, joint.parent]
            step = np.einsum("tij,tj->ti", parent_R, translation)
            positions[:, j] = positions[:, joint.parent] + step
            rotations[:, j] = parent_R @ local
    return positions


def load_bvh(
    path: str | Path,
    joint_map: Mapping[str, str | Sequence[str]] | None = None,
    unit_mm: float = CMU_BVH_UNIT_MM,
    up_axis: str = "y",
    name: str | None = None,
) -> MotionClip:
    """Read a BVH file as 17-joint poses.

    Args:
        path: the ``.bvh`` file.
        joint_map: ``H36M17`` joint name -> BVH joint name (or candidates, the first present
            wins); ``None`` uses :data:`CMU_JOINT_MAP`. An End Site is named after its parent
            joint plus ``_end``. Every one of the 17 joints must be mapped.
        unit_mm: millimetres per BVH unit (default :data:`CMU_BVH_UNIT_MM`, the CMU
            conversions; 10 for files in centimetres, 1000 for metres).
        up_axis: the file's up axis, ``"y"`` (the BVH custom) or ``"z"``.
        name: clip name (default: the file's stem).
    Returns:
        :class:`MotionClip` in mm, z-up world, ``fps = 1 / Frame Time``.
    Raises:
        UserError: a malformed file (the message names the file and line), or a mapped joint the
            file does not have.
    """
    path = Path(path)
    if up_axis not in ("y", "z"):
        raise UserError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    if not unit_mm > 0:
        raise UserError(f"unit_mm must be positive, got {unit_mm}")
    joints, values, frame_time = _parse_bvh(path)
    joint_map = CMU_JOINT_MAP if joint_map is None else joint_map
    index = {j.name: k for k, j in enumerate(joints)}
    chosen = []
    for our_name in H36M17.names:
        if our_name not in joint_map:
            raise UserError(f"{path}: the joint map does not map {our_name!r}")
        candidates = joint_map[our_name]
        candidates = (candidates,) if isinstance(candidates, str) else tuple(candidates)
        found = [c for c in candidates if c in index]
        if not found:
            raise UserError(
                f"{path}: no joint {' or '.join(map(repr, candidates))} for {our_name!r}; "
                f"the file has: {', '.join(index)}"
            )
        chosen.append(index[found[0]])
    positions = _bvh_forward_kinematics(joints, values)[:, chosen] * unit_mm
    if up_axis == "y":
        positions = _to_z_up(positions)
    return MotionClip(
        name=name if name is not None else path.stem,
        poses_mm=positions.astype(np.float32),
        fps=1.0 / frame_time,
        source=f"bvh:{path}",
    )


# --------------------------------------------------------------------------------------------
# Human3.6M (VideoPose3D npz)
# --------------------------------------------------------------------------------------------

H36M32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the 17 ``H36M17`` joints among Human3.6M's 32."""

H36M_FPS = 50.0


def load_h36m_npz(path: str | Path, subjects: Sequence[str] | None = None) -> list[MotionClip]:
    """Read VideoPose3D's ``data_3d_h36m.npz`` (Human3.6M world joints).

    Args:
        path: the npz; key ``positions_3d`` holds a pickled dict
            ``{subject: {action: (T, 32, 3) metres}}`` (Human3.6M world, z up).
        subjects: subjects to keep (``"S1"`` ...); ``None`` keeps all.
    Returns:
        One clip per (subject, action), named ``"S1/Directions 1"``, 17 joints in mm, 50 fps;
        subjects and actions in sorted order.
    Raises:
        UserError: the file is unreadable, lacks the key, or holds arrays of another shape
            (the message names the file).
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=True) as npz:
            if "positions_3d" not in npz.files:
                raise UserError(
                    f"{path}: no 'positions_3d' key (keys: {', '.join(npz.files) or 'none'}); "
                    "expected VideoPose3D's data_3d_h36m.npz"
                )
            raw = npz["positions_3d"]
    except UserError:
        raise
    except Exception as err:  # numpy raises several types for a file that is not an npz
        raise UserError(f"{path}: cannot read as an npz file ({err})") from None
    data = raw.item() if raw.dtype == object and raw.shape == () else None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UserError(
            f"{path}: 'positions_3d' must be a pickled dict {{subject: {{action: array}}}}"
        )
    keep = sorted(data) if subjects is None else list(subjects)
    unknown = [s for s in keep if s not in data]
    if unknown:
        raise UserError(
            f"{path}: unknown subject(s) {', '.join(unknown)}; "
            f"the file has {', '.join(sorted(data))}"
        )
    clips = []
    for subject in keep:
        for action in sorted(data[subject]):
            poses_m = np.asarray(data[subject][action])
            if poses_m.ndim != 3 or poses_m.shape[1:] != (32, 3) or poses_m.shape[0] == 0:
                raise UserError(
                    f"{path}: {subject}/{action} must have shape (T, 32, 3), got {poses_m.shape}"
                )
            poses_mm = poses_m[:, list(H36M32_TO_17)].astype(np.float64) * 1000.0
            clips.append(
                MotionClip(f"{subject}/{action}", poses_mm.astype(np.float32), H36M_FPS, f"h36m:{path}")
            )
    return clips


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------

SPLITS = ("prior", "train", "test")

DEEPMIMIC_SPLIT: dict[str, tuple[str, ...]] = {
    "prior": (
        "backflip", "cartwheel", "crawl", "getup_facedown", "jump", "roll", "run", "spinkick",
        "walker_0walk_forward", "walker_turn_left0", "walker_turn_right0",
    ),
    "train": ("dance_a", "getup_faceup", "spin", "walk", "walker_turn_left1"),
    "test": ("dance_b", "kick", "punch", "walker_turn_right1"),
}
"""The default split of the 20 DeepMimic clips, by clip (998 / 509 / 303 frames). The test clips
are upright motions of each kind the prior and training clips also hold (dance, martial arts,
walking) but are never seen by either."""


def split_clips(
    clips: Sequence[MotionClip],
    seed: int = 0,
    fractions: tuple[float, float, float] | None = None,
) -> dict[str, list[MotionClip]]:
    """Split clips, whole clips at a time, into ``"prior"``, ``"train"`` and ``"test"``.

    Args:
        clips: the clips; names must be unique.
        seed: seed of the random partition (used only with ``fractions``).
        fractions: ``(prior, train, test)`` shares of the clips (non-negative, summing to 1):
            a seeded random partition, the boundaries at ``round(cumsum(fractions) * n)``.
            ``None`` uses the fixed :data:`DEEPMIMIC_SPLIT` by clip name (every clip must be
            named there).
    Returns:
        ``{"prior": [...], "train": [...], "test": [...]}``, disjoint, each in input order.
    """
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise UserError("clip names must be unique to split by clip")
    if fractions is None:
        split_of = {n: s for s, members in DEEPMIMIC_SPLIT.items() for n in members}
        unknown = [n for n in names if n not in split_of]
        if unknown:
            raise UserError(
                f"clip(s) {', '.join(unknown)} are not in the default DeepMimic split; "
                "pass fractions=(prior, train, test) for a random split"
            )
        return {s: [c for c in clips if split_of[c.name] == s] for s in SPLITS}
    shares = np.asarray(fractions, dtype=np.float64)
    if shares.shape != (3,) or (shares < 0).any() or abs(shares.sum() - 1.0) > 1e-6:
        raise UserError(
            f"fractions must be three non-negative shares summing to 1, got {fractions}"
        )
    order = np.random.default_rng(seed).permutation(len(clips))
    bounds = np.round(np.cumsum(shares) * len(clips)).astype(int)
    split_of_index = {}
    for rank, i in enumerate(order):
        split_of_index[int(i)] = SPLITS[int(np.searchsorted(bounds, rank, side="right"))]
    return {s: [c for i, c in enumerate(clips) if split_of_index[i] == s] for s in SPLITS}


def split_segments(
    clips: Sequence[MotionClip],
    test_fraction: float = 0.3,
    gap_s: float = 0.1,
) -> dict[str, list[MotionClip]]:
    """Split every clip in time: its first frames for training, its last ones for testing.

    The protocol of Human3.6M (test subjects perform the same actions as the training subjects)
    on a handful of clips: every motion is seen in training, the test frames are other moments
    of it, never seen by the training videos or the pose prior. ``gap_s`` seconds between the two
    parts keep near-duplicate neighbouring frames apart.

    Args:
        clips: the clips.
        test_fraction: share of every clip's frames at its end that go to ``"test"``, in (0, 1).
        gap_s: seconds dropped between the two parts, >= 0.
    Returns:
        ``{"train": [...], "test": [...]}``: one part of every clip each (same names; a clip too
        short for both parts is left out of both).
    """
    if not 0.0 < test_fraction < 1.0 or gap_s < 0:
        raise UserError(f"test_fraction must be in (0, 1) and gap_s >= 0, got {test_fraction} and {gap_s}")
    out: dict[str, list[MotionClip]] = {"train": [], "test": []}
    for clip in clips:
        n = len(clip.poses_mm)
        gap = int(round(gap_s * clip.fps))
        cut = int(round((1.0 - test_fraction) * n))
        if cut < 2 or n - cut - gap < 2:
            continue
        out["train"].append(MotionClip(clip.name, clip.poses_mm[:cut], clip.fps, clip.source))
        out["test"].append(MotionClip(clip.name, clip.poses_mm[cut + gap:], clip.fps, clip.source))
    return out


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


def mirror(
    poses: np.ndarray | torch.Tensor, skeleton: Skeleton = H36M17
) -> np.ndarray | torch.Tensor:
    """Mirror image of poses: reflect across the vertical XZ plane (``y -> -y``) and swap left
    and right joints (``skeleton.flip_permutation``), so the result is again a valid person.

    Args:
        poses: ``(..., J, 3)`` z-up world or canonical poses, numpy or torch.
    Returns:
        Same type, shape and dtype. ``mirror(mirror(p)) == p``.
    """
    if poses.shape[-2:] != (skeleton.num_joints, 3):
        raise ValueError(
            f"poses must have shape (..., {skeleton.num_joints}, 3), got {tuple(poses.shape)}"
        )
    perm = list(skeleton.flip_permutation)
    flipped = poses[..., perm, :]
    if isinstance(flipped, torch.Tensor):
        sign = flipped.new_tensor([1.0, -1.0, 1.0])
    else:
        sign = np.array([1.0, -1.0, 1.0], dtype=flipped.dtype)
    return flipped * sign


def resample(poses: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Resample a pose sequence in time by linear interpolation of joint positions.

    Args:
        poses: ``(T, J, 3)`` sequence at ``fps_in``.
    Returns:
        ``(T', J, 3)`` (input dtype) with ``T' = round((T - 1) * fps_out / fps_in) + 1`` frames
        spread evenly over the same duration, so the first and last frames are kept exactly
        (the effective rate differs from ``fps_out`` by less than one frame over the clip).
        Linear interpolation shortens bones slightly between frames; the pose prior retargets
        every pose to its bone lengths.
    """
    poses = np.asarray(poses)
    if poses.ndim != 3 or poses.shape[-1] != 3 or poses.shape[0] == 0:
        raise ValueError(f"poses must have shape (T, J, 3) with T >= 1, got {poses.shape}")
    if not (fps_in > 0 and fps_out > 0):
        raise ValueError(f"frame rates must be positive, got fps_in={fps_in}, fps_out={fps_out}")
    num_in = poses.shape[0]
    num_out = int(round((num_in - 1) * fps_out / fps_in)) + 1
    t_out = np.linspace(0.0, num_in - 1, num_out)  # in input frame units
    lo = np.clip(np.floor(t_out).astype(int), 0, max(num_in - 2, 0))
    hi = np.minimum(lo + 1, num_in - 1)
    w = (t_out - lo)[:, None, None]
    data = poses.astype(np.float64)
    return ((1.0 - w) * data[lo] + w * data[hi]).astype(poses.dtype)


def time_stretch(poses: np.ndarray, factor: float) -> np.ndarray:
    """Play a sequence ``factor`` times slower (``factor > 1``) or faster at the same frame rate:
    :func:`resample` with ``fps_out / fps_in = factor``."""
    return resample(poses, 1.0, factor)


LIMB_GROUPS: dict[str, tuple[int, tuple[int, ...]]] = {
    "r_leg": (1, (2, 3)),
    "l_leg": (4, (5, 6)),
    "head": (8, (9, 10)),
    "l_arm": (11, (12, 13)),
    "r_arm": (14, (15, 16)),
}
"""Limbs that :func:`mix_limbs` exchanges: name -> (attachment joint, the limb's joints) in the
``H36M17`` order. Hips, shoulders, spine and thorax stay with the body they belong to."""


def mix_limbs(base: np.ndarray, donors: Mapping[str, np.ndarray]) -> np.ndarray:
    """Compose new poses from limbs of other poses, the bone lengths kept.

    Each limb of ``donors`` is taken in its donor's body (canonical) frame, relative to its
    attachment joint (knee and ankle relative to the hip, elbow and wrist to the shoulder, nose
    and head to the thorax), and put on ``base``'s attachment joint in ``base``'s body frame.
    When base and donor share their bone lengths (clips retargeted to one skeleton), every bone
    of the result keeps its length exactly; joint angles are those of the donor limb relative to
    its own torso, so a leg stays a leg of a plausible pose.

    Args:
        base: ``(T, 17, 3)`` poses (any frame and unit) giving the torso, root and orientation.
        donors: limb name (:data:`LIMB_GROUPS`) -> ``(T, 17, 3)`` poses, same frame and unit,
            frame-aligned with ``base``.
    Returns:
        ``(T, 17, 3)`` poses, ``base``'s dtype.
    """
    if base.ndim != 3 or base.shape[1:] != (H36M17.num_joints, 3):
        raise ValueError(f"base must have shape (T, 17, 3), got {base.shape}")
    from partpose.geometry.kinematics import canonicalize

    def body_frame(poses: np.ndarray) -> np.ndarray:
        return canonicalize(torch.from_numpy(np.asarray(poses, dtype=np.float64)))[1].numpy()

    base_R = body_frame(base)  # (T,3,3) canon_R_world
    out = np.array(base, dtype=np.float64)
    for name, donor in donors.items():
        if name not in LIMB_GROUPS:
            raise ValueError(f"unknown limb {name!r}; known: {', '.join(LIMB_GROUPS)}")
        if donor.shape != base.shape:
            raise ValueError(f"donor of {name} must have the shape of base {base.shape}, got {donor.shape}")
        attach, joints = LIMB_GROUPS[name]
        donor = np.asarray(donor, dtype=np.float64)
        local = np.einsum("tij,tkj->tki", body_frame(donor), donor[:, joints] - donor[:, attach : attach + 1])
        out[:, joints] = out[:, attach : attach + 1] + np.einsum("tji,tkj->tki", base_R, local)
    return out.astype(base.dtype)


def mixed_motions(
    clips: Mapping[str, np.ndarray], count: int, seed: int = 0, keep_probability: float = 0.4
) -> dict[str, np.ndarray]:
    """New motions composed from the limbs of the given ones (:func:`mix_limbs`), time-aligned.

    Motion ``k`` takes a random base clip; each limb of :data:`LIMB_GROUPS` stays with the base
    with probability ``keep_probability`` and otherwise comes from a random other clip, played
    from a random start and looped to the base's length (every motion mixes at least one limb).

    Args:
        clips: name -> ``(T_i, 17, 3)`` poses of one skeleton (same bone lengths), one frame rate.
        count: number of motions to make.
        seed: the result is a deterministic function of ``clips``, ``count`` and ``seed``.
    Returns:
        ``"mix<k>_<base>"`` -> ``(T_base, 17, 3)``, in ``k`` order.
    """
    names = list(clips)
    if count > 0 and len(names) < 2:
        raise ValueError("mixing limbs needs at least two clips")
    rng = np.random.default_rng([seed, 23])
    motions = {}
    for k in range(count):
        base_name = names[int(rng.integers(len(names)))]
        base = clips[base_name]
        others = [n for n in names if n != base_name]
        mixed = [g for g in LIMB_GROUPS if rng.random() >= keep_probability]
        if not mixed:
            mixed = [list(LIMB_GROUPS)[int(rng.integers(len(LIMB_GROUPS)))]]
        donors = {}
        for group in mixed:
            donor = clips[others[int(rng.integers(len(others)))]]
            frames = (int(rng.integers(len(donor))) + np.arange(len(base))) % len(donor)
            donors[group] = donor[frames]
        motions[f"mix{k:03d}_{base_name}"] = mix_limbs(base, donors)
    return motions
