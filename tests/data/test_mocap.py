"""Tests of partpose.data.mocap: DeepMimic clips, BVH, VideoPose3D npz, splits, augmentation."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partpose.data import mocap
from partpose.data.mocap import (
    CMU_BVH_UNIT_MM,
    DEEPMIMIC_JOINTS,
    DEEPMIMIC_SPLIT,
    DEEPMIMIC_STATURE_M,
    ZUP_R_YUP,
    LIMB_GROUPS,
    MotionClip,
    deepmimic_forward_kinematics,
    deepmimic_to_h36m17,
    list_deepmimic_clips,
    load_bvh,
    load_deepmimic_clips,
    load_h36m_npz,
    mirror,
    mix_limbs,
    mixed_motions,
    read_deepmimic_frames,
    resample,
    split_clips,
    split_segments,
    time_stretch,
)
from partpose.errors import UserError
from partpose.geometry.kinematics import canonicalize
from partpose.geometry.skeleton import H36M17

J = {name: k for k, name in enumerate(H36M17.names)}

EXPECTED_FRAMES = {
    "backflip": 29, "cartwheel": 164, "crawl": 177, "dance_a": 98, "dance_b": 153,
    "getup_facedown": 183, "getup_faceup": 227, "jump": 107, "kick": 47, "punch": 65,
    "roll": 121, "run": 25, "spin": 107, "spinkick": 78, "walk": 39,
    "walker_0walk_forward": 38, "walker_turn_left0": 38, "walker_turn_left1": 38,
    "walker_turn_right0": 38, "walker_turn_right1": 38,
}


@pytest.fixture(scope="module")
def clips() -> dict[str, MotionClip]:
    return {c.name: c for c in load_deepmimic_clips()}


def _identity_frame(root_m=(0.0, 1.0, 0.0)) -> np.ndarray:
    """A DeepMimic frame with every rotation identity and the root at ``root_m`` (y up)."""
    frame = np.zeros(44)
    frame[0] = 1 / 30
    frame[1:4] = root_m
    for start in (4, 8, 12, 16, 21, 25, 30, 35, 39):
        frame[start] = 1.0  # w of each quaternion
    return frame


def _bones(poses: np.ndarray) -> np.ndarray:
    """(T, 16) lengths of the drawing-tree bones (every one rigid in the humanoid)."""
    children = [j for j, p in enumerate(H36M17.parents) if p >= 0]
    parents = [H36M17.parents[j] for j in children]
    return np.linalg.norm(poses[:, children] - poses[:, parents], axis=-1)


# ---------------------------------------------------------------------------------------------
# DeepMimic
# ---------------------------------------------------------------------------------------------


def test_all_clips_load_with_known_frame_counts(clips):
    assert list_deepmimic_clips() == list(EXPECTED_FRAMES)
    assert {n: c.num_frames for n, c in clips.items()} == EXPECTED_FRAMES
    assert sum(c.num_frames for c in clips.values()) == 1810
    for clip in clips.values():
        assert clip.poses_mm.dtype == np.float32 and clip.poses_mm.shape[1:] == (17, 3)
        assert np.isfinite(clip.poses_mm).all()
        assert clip.source.startswith("deepmimic:data/motions/")
    assert clips["walk"].fps == pytest.approx(30.0, rel=1e-3)
    assert clips["backflip"].fps == pytest.approx(16.0)
    assert clips["spin"].fps == pytest.approx(24.0, rel=1e-3)


def test_rest_pose_hand_worked():
    """Identity rotations, root 1 m up: every joint is the sum of its offsets (mm, z up)."""
    pose = deepmimic_to_h36m17(_identity_frame()[None])[0]
    root_z = 1000.0
    expected = {
        "pelvis": (0, 0, root_z),
        "r_hip": (0, -84.887, root_z),
        "r_knee": (0, -84.887, root_z - 421.546),
        "r_ankle": (0, -84.887, root_z - 421.546 - 409.870),
        "l_hip": (0, 84.887, root_z),
        "spine": (0, 0, root_z + 236.151),
        "thorax": (0, 0, root_z + 236.151 + 223.894),
        "nose": (0, 0, root_z + 236.151 + 223.894 + 72.5),
        "head": (0, 0, root_z + 236.151 + 223.894 + 277.5),
        "r_shoulder": (-24.05, -183.11, root_z + 236.151 + 243.5),
        "r_elbow": (-24.05, -183.11, root_z + 236.151 + 243.5 - 274.788),
        "r_wrist": (-24.05, -183.11, root_z + 236.151 + 243.5 - 274.788 - 258.947),
        "l_wrist": (-24.05, 183.11, root_z + 236.151 + 243.5 - 274.788 - 258.947),
    }
    for name, xyz in expected.items():
        np.testing.assert_allclose(pose[J[name]], xyz, atol=1e-6, err_msg=name)
    stature = pose[J["head"], 2] - pose[J["r_ankle"], 2] + 50.0  # sole 50 mm below the ankle
    assert stature == pytest.approx(DEEPMIMIC_STATURE_M * 1000.0)


def test_revolute_and_spherical_conventions_hand_worked():
    """Knee angle -90 deg puts the shin backwards (-x); a neck quaternion of +90 deg about the
    humanoid's x tilts the head towards its right side (+z y-up, -y z-up)."""
    frame = _identity_frame()
    frame[20] = -math.pi / 2  # right knee
    frame[12:16] = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)  # neck, w x y z
    pose = deepmimic_to_h36m17(frame[None])[0]
    np.testing.assert_allclose(pose[J["r_ankle"]] - pose[J["r_knee"]], (-409.870, 0, 0), atol=1e-6)
    np.testing.assert_allclose(pose[J["l_ankle"]] - pose[J["l_knee"]], (0, 0, -409.870), atol=1e-6)
    np.testing.assert_allclose(pose[J["head"]] - pose[J["thorax"]], (0, -277.5, 0), atol=1e-6)


def test_forward_kinematics_matches_pybullet():
    """Slow twin: the URDF loaded in pybullet at DeepMimic's scale, posed frame by frame."""
    pybullet = pytest.importorskip("pybullet")
    import pybullet_data

    data = Path(pybullet_data.getDataPath())
    client = pybullet.connect(pybullet.DIRECT)
    try:
        body = pybullet.loadURDF(
            str(data / "humanoid" / "humanoid.urdf"), globalScaling=0.25, useFixedBase=True,
            flags=pybullet.URDF_MAINTAIN_LINK_ORDER, physicsClientId=client,
        )
        names = [pybullet.getJointInfo(body, j, physicsClientId=client)[1].decode()
                 for j in range(pybullet.getNumJoints(body, physicsClientId=client))]
        assert tuple(names) == DEEPMIMIC_JOINTS
        table = {j.name: j for j in mocap._DM_TABLE}
        worst = 0.0
        for clip in ("cartwheel", "walk", "getup_facedown"):
            frames, _ = read_deepmimic_frames(data / "data" / "motions" / f"humanoid3d_{clip}.txt")
            positions, rotations = deepmimic_forward_kinematics(frames)
            for t in range(0, len(frames), 11):
                f = frames[t]
                w, x, y, z = f[4:8]
                pybullet.resetBasePositionAndOrientation(body, f[1:4].tolist(), [x, y, z, w],
                                                         physicsClientId=client)
                for j, name in enumerate(names):
                    joint = table[name]
                    if joint.kind == "spherical":
                        q = f[joint.start : joint.start + 4]
                        q = q / np.linalg.norm(q)
                        pybullet.resetJointStateMultiDof(body, j, [q[1], q[2], q[3], q[0]],
                                                         physicsClientId=client)
                    elif joint.kind == "revolute":
                        pybullet.resetJointState(body, j, f[joint.start], physicsClientId=client)
                states = pybullet.getLinkStates(body, list(range(len(names))),
                                                computeForwardKinematics=True, physicsClientId=client)
                ref_p = np.array([s[4] for s in states])
                ref_R = np.array([np.reshape(pybullet.getMatrixFromQuaternion(s[5]), (3, 3))
                                  for s in states])
                worst = max(worst, np.abs(ref_p - positions[t]).max())
                np.testing.assert_allclose(rotations[t], ref_R, atol=1e-5, err_msg=f"{clip} {t}")
        assert worst < 1e-5, f"largest position difference {worst} m"
    finally:
        pybullet.disconnect(client)


def test_bone_lengths_rigid_within_every_clip(clips):
    """Every drawing-tree bone is a rigid link of the humanoid: spread (std / mean) < 1 %."""
    reference = _bones(clips["walk"].poses_mm[:1].astype(np.float64))[0]
    for name, clip in clips.items():
        bones = _bones(clip.poses_mm.astype(np.float64))
        spread = bones.std(axis=0) / bones.mean(axis=0)
        assert spread.max() < 0.01, f"{name}: spread {spread.max():.2e}"
        np.testing.assert_allclose(bones.mean(axis=0), reference, rtol=1e-4, err_msg=name)


def test_millimetre_units(clips):
    pose = clips["walk"].poses_mm.astype(np.float64)
    thigh = np.linalg.norm(pose[:, J["r_knee"]] - pose[:, J["r_hip"]], axis=-1)
    shin = np.linalg.norm(pose[:, J["l_ankle"]] - pose[:, J["l_knee"]], axis=-1)
    forearm = np.linalg.norm(pose[:, J["r_wrist"]] - pose[:, J["r_elbow"]], axis=-1)
    np.testing.assert_allclose(thigh, 421.546, atol=1e-3)
    np.testing.assert_allclose(shin, 409.870, atol=1e-3)
    np.testing.assert_allclose(forearm, 258.947, atol=1e-3)


def test_scale_to_height():
    (clip,) = load_deepmimic_clips(["walk"], scale_to_height_mm=1700.0)
    thigh = np.linalg.norm(clip.poses_mm[0, J["r_knee"]] - clip.poses_mm[0, J["r_hip"]])
    assert thigh == pytest.approx(421.546 * 1700.0 / (1000 * DEEPMIMIC_STATURE_M), rel=1e-5)
    with pytest.raises(UserError, match="positive"):
        load_deepmimic_clips(["walk"], scale_to_height_mm=-1.0)


def test_z_up(clips):
    """Upright clips: head above thorax above pelvis above knees above ankles in every frame
    (not in the run: its heels swing above the knees)."""
    assert np.linalg.det(ZUP_R_YUP) == pytest.approx(1.0)
    np.testing.assert_allclose(ZUP_R_YUP @ ZUP_R_YUP.T, np.eye(3), atol=1e-12)
    for name in ("walk", "walker_turn_left0", "punch", "dance_b"):
        z = clips[name].poses_mm[..., 2]
        for upper, lower in (("head", "nose"), ("nose", "thorax"), ("thorax", "spine"),
                             ("spine", "pelvis"), ("pelvis", "r_knee"), ("l_knee", "l_ankle")):
            assert (z[:, J[upper]] > z[:, J[lower]]).all(), f"{name}: {upper} not above {lower}"


def test_left_right_pinned_by_the_data(clips):
    """In the canonical frame the right hip is at -Y; the canonical X (face vector, from the hips
    and thorax) agrees with where the walk goes and the knees bend forward; a left turn goes to
    the walker's left (+Y in the z-up world when heading +X)."""
    walk = torch.tensor(clips["walk"].poses_mm, dtype=torch.float64)
    canonical, canon_R_world = canonicalize(walk)
    assert (canonical[:, J["r_hip"], 1] < -80).all() and (canonical[:, J["l_hip"], 1] > 80).all()
    assert (canonical[:, J["r_shoulder"], 1] < 0).all() and (canonical[:, J["l_wrist"], 1] > 0).all()
    # Frame 0 in the world: facing +x, right side at -y (DeepMimic's +z, y up).
    assert canon_R_world[0, 0, 0] > 0.95 and walk[0, J["r_hip"], 1] < -80
    travel_world = walk[-1, J["pelvis"]] - walk[0, J["pelvis"]]
    assert (canon_R_world[0] @ travel_world)[0] > 1000  # walks > 1 m along its own face vector
    for knee, hip, ankle in (("r_knee", "r_hip", "r_ankle"), ("l_knee", "l_hip", "l_ankle")):
        ahead = canonical[:, J[knee], 0] - 0.5 * (canonical[:, J[hip], 0] + canonical[:, J[ankle], 0])
        assert (ahead > -1).all() and ahead.mean() > 50, knee
    for name, sign in (("walker_turn_left0", 1), ("walker_turn_right0", -1)):
        pelvis = clips[name].poses_mm[:, J["pelvis"]]
        assert sign * (pelvis[-1, 1] - pelvis[0, 1]) > 300, name


def test_unknown_clip_and_missing_pybullet(monkeypatch, tmp_path):
    with pytest.raises(UserError, match="'moonwalk'.*known clips: backflip, cartwheel"):
        load_deepmimic_clips(["walk", "moonwalk"])
    monkeypatch.setitem(sys.modules, "pybullet_data", None)
    with pytest.raises(UserError, match="pybullet is not installed: pip install pybullet"):
        load_deepmimic_clips()


def test_bad_deepmimic_file(tmp_path):
    bad = tmp_path / "short.txt"
    bad.write_text(json.dumps({"Loop": "wrap", "Frames": [[0.03] + [0.0] * 42]}))
    with pytest.raises(UserError, match=r"short\.txt: frame 0 must hold 44"):
        mocap.load_deepmimic_file(bad)
    broken = tmp_path / "broken.txt"
    broken.write_text('{"Frames": [\n[1, 2,\n')
    with pytest.raises(UserError, match=r"broken\.txt: line \d"):
        mocap.load_deepmimic_file(broken)


# ---------------------------------------------------------------------------------------------
# BVH
# ---------------------------------------------------------------------------------------------

_ROT_ZXY = "CHANNELS 3 Zrotation Xrotation Yrotation"
_ROT_XYZ = "CHANNELS 3 Xrotation Yrotation Zrotation"


def _bvh_text(frames: list[str], frame_count: int | None = None) -> str:
    """A small CMU-named skeleton, y up, facing +z (left at +x); units: cm. The left thigh
    declares XYZ, every other joint ZXY."""

    def joint(name, offset, channels, children, indent):
        pad = "  " * indent
        lines = [f"{pad}JOINT {name}", f"{pad}{{", f"{pad}  OFFSET {offset}", f"{pad}  {channels}"]
        lines += children
        return lines + [f"{pad}}}"]

    def end(offset, indent):
        pad = "  " * indent
        return [f"{pad}End Site", f"{pad}{{", f"{pad}  OFFSET {offset}", f"{pad}}}"]

    def leg(side, x, first_channels):
        return joint(f"{side}UpLeg", f"{x} 0 0", first_channels,
                     joint(f"{side}Leg", "0 -40 0", _ROT_ZXY,
                           joint(f"{side}Foot", "0 -40 0", _ROT_ZXY, end("0 0 10", 4), 3), 2), 1)

    def arm(side, x):
        return joint(f"{side}Arm", f"{15 * x} 0 0", _ROT_ZXY,
                     joint(f"{side}ForeArm", f"{25 * x} 0 0", _ROT_ZXY,
                           joint(f"{side}Hand", f"{25 * x} 0 0", _ROT_ZXY, end(f"{5 * x} 0 0", 6), 5), 4), 3)

    head = joint("Head", "0 10 0", _ROT_ZXY, end("0 15 0", 4), 3)
    neck = joint("Neck", "0 30 0", _ROT_ZXY, head + arm("Left", 1) + arm("Right", -1), 2)
    spine = joint("Spine", "0 20 0", _ROT_ZXY, neck, 1)
    body = ["HIERARCHY", "ROOT Hips", "{", "  OFFSET 0 0 0",
            "  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"]
    body += leg("Left", 10, _ROT_XYZ) + leg("Right", -10, _ROT_ZXY) + spine + ["}"]
    body += ["MOTION", f"Frames: {len(frames) if frame_count is None else frame_count}",
             "Frame Time: 0.04"]
    return "\n".join(body + frames) + "\n"


# Channel layout of _bvh_text, in file order (joint, channel).
_BVH_CHANNELS = (
    [("Hips", c) for c in ("Xpos", "Ypos", "Zpos", "Z", "X", "Y")]
    + [("LeftUpLeg", c) for c in "XYZ"]
    + [(j, c) for j in ("LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot", "Spine",
                        "Neck", "Head", "LeftArm", "LeftForeArm", "LeftHand", "RightArm",
                        "RightForeArm", "RightHand") for c in "ZXY"]
)


def _bvh_frame(**values: float) -> str:
    """One motion line; keyword ``Joint_Channel`` sets a channel, the rest are 0."""
    row = [values.get(f"{j}_{c}", 0.0) for j, c in _BVH_CHANNELS]
    return " ".join(f"{v:g}" for v in row)


def test_bvh_hand_worked_two_channel_orders(tmp_path):
    """Frame 1: hips at (5, 10, 0) turned +90 deg about y; left thigh X=90, Z=90 in XYZ order
    (R = Rx Rz), right thigh the same angles in ZXY order (R = Rz Rx); left elbow Z=90. Worked
    by hand in the file's y-up cm, then mapped to z-up mm: (x, y, z) -> 10 (x, -z, y)."""
    path = tmp_path / "tiny.bvh"
    path.write_text(_bvh_text([
        _bvh_frame(Hips_Ypos=10),
        _bvh_frame(Hips_Xpos=5, Hips_Ypos=10, Hips_Y=90, LeftUpLeg_X=90, LeftUpLeg_Z=90,
                   RightUpLeg_Z=90, RightUpLeg_X=90, LeftForeArm_Z=90),
    ]))
    clip = load_bvh(path, unit_mm=10.0)
    assert clip.poses_mm.shape == (2, 17, 3) and clip.fps == pytest.approx(25.0)
    assert clip.name == "tiny" and clip.source == f"bvh:{path}"

    def zup(x, y, z):
        return (10 * x, -10 * z, 10 * y)

    rest = {"pelvis": (0, 10, 0), "l_hip": (10, 10, 0), "l_ankle": (10, -70, 0),
            "r_knee": (-10, -30, 0), "thorax": (0, 60, 0), "nose": (0, 70, 0), "head": (0, 85, 0),
            "l_wrist": (65, 60, 0), "r_elbow": (-40, 60, 0)}
    posed = {
        "pelvis": (5, 10, 0), "spine": (5, 30, 0), "thorax": (5, 60, 0), "nose": (5, 70, 0),
        "head": (5, 85, 0),
        "l_hip": (5, 10, -10), "l_knee": (5, 10, -50), "l_ankle": (5, 10, -90),
        "r_hip": (5, 10, 10), "r_knee": (-35, 10, 10), "r_ankle": (-75, 10, 10),
        "l_shoulder": (5, 60, -15), "l_elbow": (5, 60, -40), "l_wrist": (5, 85, -40),
        "r_shoulder": (5, 60, 15), "r_elbow": (5, 60, 40), "r_wrist": (5, 60, 65),
    }
    for frame, expected in ((0, rest), (1, posed)):
        for name, xyz in expected.items():
            np.testing.assert_allclose(clip.poses_mm[frame, J[name]], zup(*xyz), atol=1e-4,
                                       err_msg=f"frame {frame} {name}")


def test_bvh_matches_scipy_twin_and_default_unit(tmp_path):
    """Random angles: vectorised FK against a per-frame recursion with scipy's intrinsic Euler
    rotations; default unit is the CMU one; z-up input is left as it is."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(0)
    values = rng.uniform(-170, 170, size=(3, len(_BVH_CHANNELS)))
    values[:, :3] = rng.uniform(-20, 20, size=(3, 3))
    path = tmp_path / "random.bvh"
    path.write_text(_bvh_text([" ".join(f"{v:.6f}" for v in row) for row in values]))
    joints, parsed, _ = mocap._parse_bvh(path)
    positions = mocap._bvh_forward_kinematics(joints, parsed)
    for t in range(3):
        world_R, world_p = [], []
        for joint in joints:
            local_R = np.eye(3)
            translation = joint.offset.copy()
            rot = [c for c in joint.channels if c.endswith("rotation")]
            if rot:
                angles = [parsed[t, joint.first_channel + joint.channels.index(c)] for c in rot]
                local_R = Rotation.from_euler("".join(c[0].upper() for c in rot), angles,
                                              degrees=True).as_matrix()
            for c in joint.channels:
                if c.endswith("position"):
                    translation["xyz".index(c[0])] = parsed[t, joint.first_channel + joint.channels.index(c)]
            if joint.parent < 0:
                world_R.append(local_R)
                world_p.append(translation)
            else:
                world_p.append(world_p[joint.parent] + world_R[joint.parent] @ translation)
                world_R.append(world_R[joint.parent] @ local_R)
        np.testing.assert_allclose(positions[t], np.array(world_p), atol=1e-9)
    default = load_bvh(path)
    cm = load_bvh(path, unit_mm=10.0)
    np.testing.assert_allclose(default.poses_mm, cm.poses_mm * (CMU_BVH_UNIT_MM / 10.0), rtol=1e-5, atol=1e-3)
    z_up = load_bvh(path, unit_mm=10.0, up_axis="z")
    np.testing.assert_allclose(cm.poses_mm, z_up.poses_mm @ ZUP_R_YUP.T.astype(np.float32), atol=1e-3)


def test_malformed_bvh_names_file_and_line(tmp_path):
    good = _bvh_text([_bvh_frame(Hips_Ypos=10)])
    cases = {
        "number.bvh": (good.replace("OFFSET 0 -40 0", "OFFSET 0 -4x0 0", 1), r"number\.bvh: line 12: expected a number for OFFSET, got '-4x0'"),
        "count.bvh": (good.rstrip("\n") + " 1.0\n", rf"count\.bvh: line {good.count(chr(10))}: expected 51"),
        "frames.bvh": (_bvh_text([_bvh_frame()], frame_count=2), r"frames\.bvh: line \d+: 'Frames: 2'"),
        "channel.bvh": (good.replace("Zrotation", "Wrotation", 1), r"channel\.bvh: line 5: unknown channel"),
        "brace.bvh": (good.replace("}\nMOTION", "MOTION"),
                      rf"brace\.bvh: line {good.split(chr(10)).index('MOTION')}: expected '\}}', JOINT or End Site, got 'MOTION'"),
    }
    for name, (text, pattern) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(UserError, match=pattern):
            load_bvh(path)
    with pytest.raises(UserError, match=r"missing\.bvh: cannot read"):
        load_bvh(tmp_path / "missing.bvh")
    path = tmp_path / "map.bvh"
    path.write_text(good)
    with pytest.raises(UserError, match=r"map\.bvh: no joint 'Chest' for 'spine'"):
        load_bvh(path, joint_map={**mocap.CMU_JOINT_MAP, "spine": "Chest"})


# ---------------------------------------------------------------------------------------------
# Human3.6M npz
# ---------------------------------------------------------------------------------------------


def test_h36m_npz_32_to_17(tmp_path):
    rng = np.random.default_rng(1)
    data = {
        "S9": {"Walking 1": rng.normal(size=(4, 32, 3)).astype(np.float32)},
        "S1": {"Directions": rng.normal(size=(3, 32, 3)).astype(np.float32),
               "Sitting": rng.normal(size=(2, 32, 3)).astype(np.float32)},
    }
    path = tmp_path / "data_3d_h36m.npz"
    np.savez_compressed(path, positions_3d=data)
    clips = load_h36m_npz(path)
    assert [c.name for c in clips] == ["S1/Directions", "S1/Sitting", "S9/Walking 1"]
    kept = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    for clip in clips:
        subject, action = clip.name.split("/")
        assert clip.fps == 50.0 and clip.poses_mm.dtype == np.float32
        np.testing.assert_allclose(clip.poses_mm, data[subject][action][:, kept] * 1000.0, rtol=1e-6)
    # Joint 5 of the 17 (l_knee) is original joint 7; joint 16 (r_wrist) is original 27.
    np.testing.assert_allclose(clips[0].poses_mm[:, 5], data["S1"]["Directions"][:, 7] * 1000, rtol=1e-6)
    np.testing.assert_allclose(clips[0].poses_mm[:, 16], data["S1"]["Directions"][:, 27] * 1000, rtol=1e-6)
    assert [c.name for c in load_h36m_npz(path, subjects=["S9"])] == ["S9/Walking 1"]
    with pytest.raises(UserError, match="unknown subject.*S5"):
        load_h36m_npz(path, subjects=["S5"])


def test_bad_h36m_npz_names_file(tmp_path):
    no_key = tmp_path / "nokey.npz"
    np.savez(no_key, positions_2d=np.zeros(3))
    with pytest.raises(UserError, match=r"nokey\.npz: no 'positions_3d' key"):
        load_h36m_npz(no_key)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, positions_3d={"S1": {"Walk": np.zeros((5, 17, 3))}})
    with pytest.raises(UserError, match=r"wrong\.npz: S1/Walk must have shape \(T, 32, 3\)"):
        load_h36m_npz(wrong)
    not_dict = tmp_path / "array.npz"
    np.savez(not_dict, positions_3d=np.zeros((5, 32, 3)))
    with pytest.raises(UserError, match=r"array\.npz: 'positions_3d' must be a pickled dict"):
        load_h36m_npz(not_dict)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match=r"garbage\.npz: cannot read"):
        load_h36m_npz(garbage)


# ---------------------------------------------------------------------------------------------
# Splits and augmentation
# ---------------------------------------------------------------------------------------------


def test_default_split_is_a_partition_by_clip(clips):
    split = split_clips(list(clips.values()))
    names = {s: [c.name for c in v] for s, v in split.items()}
    assert {s: set(v) for s, v in names.items()} == {s: set(v) for s, v in DEEPMIMIC_SPLIT.items()}
    assert sorted(sum(names.values(), [])) == sorted(clips)
    assert not set(names["test"]) & (set(names["prior"]) | set(names["train"]))
    frames = {s: sum(c.num_frames for c in v) for s, v in split.items()}
    assert frames == {"prior": 998, "train": 509, "test": 303}
    with pytest.raises(UserError, match="not in the default DeepMimic split"):
        split_clips([MotionClip("mine", np.zeros((1, 17, 3), np.float32), 30.0, "test")])


def test_random_split_is_seeded_and_disjoint():
    clips = [MotionClip(f"c{i}", np.zeros((2, 17, 3), np.float32), 30.0, "test") for i in range(10)]
    a = split_clips(clips, seed=3, fractions=(0.5, 0.3, 0.2))
    b = split_clips(clips, seed=3, fractions=(0.5, 0.3, 0.2))
    c = split_clips(clips, seed=4, fractions=(0.5, 0.3, 0.2))
    names = {s: [x.name for x in v] for s, v in a.items()}
    assert names == {s: [x.name for x in v] for s, v in b.items()}
    assert names != {s: [x.name for x in v] for s, v in c.items()}
    assert [len(v) for v in names.values()] == [5, 3, 2]
    assert sorted(sum(names.values(), [])) == sorted(x.name for x in clips)
    with pytest.raises(UserError, match="summing to 1"):
        split_clips(clips, fractions=(0.5, 0.5, 0.5))


def test_segment_split_cuts_every_clip_in_time(clips):
    clip = MotionClip("c", np.arange(100 * 51, dtype=np.float32).reshape(100, 17, 3), 50.0, "test")
    parts = split_segments([clip], test_fraction=0.3, gap_s=0.1)  # cut at 70, 5 frames of gap
    train, test = parts["train"][0], parts["test"][0]
    assert np.array_equal(train.poses_mm, clip.poses_mm[:70]) and np.array_equal(test.poses_mm, clip.poses_mm[75:])
    assert (train.name, train.fps, test.name, test.fps) == ("c", 50.0, "c", 50.0)
    # Every DeepMimic clip is long enough for both parts; no test frame is a training frame.
    parts = split_segments(list(clips.values()))
    assert [c.name for c in parts["train"]] == [c.name for c in parts["test"]] == list(clips)
    for train, test, whole in zip(parts["train"], parts["test"], clips.values()):
        assert len(train.poses_mm) + len(test.poses_mm) < len(whole.poses_mm)
        assert np.array_equal(train.poses_mm, whole.poses_mm[: len(train.poses_mm)])
        assert np.array_equal(test.poses_mm, whole.poses_mm[len(whole.poses_mm) - len(test.poses_mm):])
    short = MotionClip("s", np.zeros((3, 17, 3), np.float32), 30.0, "test")
    assert split_segments([short]) == {"train": [], "test": []}
    with pytest.raises(UserError, match="test_fraction"):
        split_segments([clip], test_fraction=1.0)


def test_mirror(clips):
    poses = clips["kick"].poses_mm
    twice = mirror(mirror(poses))
    np.testing.assert_array_equal(twice, poses)
    once = mirror(poses)
    # Hand-worked: the mirrored left wrist is the right wrist with y negated.
    np.testing.assert_array_equal(once[:, J["l_wrist"]], poses[:, J["r_wrist"]] * [1, -1, 1])
    np.testing.assert_array_equal(once[:, J["head"]], poses[:, J["head"]] * [1, -1, 1])
    # Still a valid person: the right hip stays at -Y in its canonical frame, knees still forward.
    canonical, _ = canonicalize(torch.tensor(once, dtype=torch.float64))
    assert (canonical[:, J["r_hip"], 1] < 0).all()
    original, _ = canonicalize(torch.tensor(poses, dtype=torch.float64))
    perm = list(H36M17.flip_permutation)
    expected = original[:, perm] * torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(canonical, expected, atol=1e-3, rtol=0)
    as_tensor = mirror(torch.tensor(poses))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), once)
    with pytest.raises(ValueError, match="shape"):
        mirror(np.zeros((3, 16, 3)))


def test_resample_and_time_stretch():
    poses = np.random.default_rng(2).normal(size=(7, 17, 3)).astype(np.float32)
    up = resample(poses, 30.0, 60.0)
    assert up.shape == (13, 17, 3) and up.dtype == np.float32
    np.testing.assert_array_equal(up[0], poses[0])
    np.testing.assert_array_equal(up[-1], poses[-1])
    np.testing.assert_allclose(up[::2], poses, atol=1e-6)
    np.testing.assert_allclose(up[3], 0.5 * (poses[1] + poses[2]), atol=1e-6)
    down = resample(poses, 60.0, 25.0)  # 6 intervals -> round(2.5) = 2 intervals, 3 frames
    assert down.shape[0] == 3
    np.testing.assert_array_equal(down[0], poses[0])
    np.testing.assert_array_equal(down[-1], poses[-1])
    np.testing.assert_allclose(down[1], poses[3], atol=1e-6)
    np.testing.assert_array_equal(resample(poses, 30.0, 30.0), poses)
    assert time_stretch(poses, 1.5).shape[0] == 10
    assert resample(poses[:1], 30.0, 60.0).shape == (1, 17, 3)
    with pytest.raises(ValueError, match="positive"):
        resample(poses, 0.0, 30.0)


# ---------------------------------------------------------------------------------------------
# Limb mixing
# ---------------------------------------------------------------------------------------------


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_mix_limbs_with_a_moved_copy_of_the_base_is_the_base(clips):
    base = clips["kick"].poses_mm.astype(np.float64)
    # The same poses turned 70 degrees about the vertical and walked 2 m away: every limb is the
    # same in the body's frame, so taking all limbs from it changes nothing.
    donor = base @ _rotation_z(math.radians(70.0)).T + np.array([2000.0, -500.0, 30.0])
    mixed = mix_limbs(base, {name: donor for name in LIMB_GROUPS})
    np.testing.assert_allclose(mixed, base, atol=1e-6)


def test_mix_limbs_keeps_bones_and_takes_the_donor_limb_angles(clips):
    base = clips["punch"].poses_mm.astype(np.float64)
    donor_clip = clips["cartwheel"].poses_mm.astype(np.float64)
    donor = donor_clip[np.arange(len(base)) % len(donor_clip)]
    mixed = mix_limbs(base, {"l_arm": donor, "r_leg": donor})
    # Bones: all DeepMimic clips share the humanoid's lengths.
    np.testing.assert_allclose(_bones(mixed), _bones(base), atol=1e-3)
    # Joints outside the mixed limbs are the base's, bit for bit.
    kept = [j for j in range(17) if j not in (*LIMB_GROUPS["l_arm"][1], *LIMB_GROUPS["r_leg"][1])]
    np.testing.assert_array_equal(mixed[:, kept], base[:, kept])
    # In the body frame, the mixed limbs are the donor's relative to their attachment joints.
    canon_mixed, _ = canonicalize(torch.tensor(mixed))
    canon_donor, _ = canonicalize(torch.tensor(donor))
    for name in ("l_arm", "r_leg"):
        attach, joints = LIMB_GROUPS[name]
        torch.testing.assert_close(
            canon_mixed[:, list(joints)] - canon_mixed[:, attach : attach + 1],
            canon_donor[:, list(joints)] - canon_donor[:, attach : attach + 1],
            atol=1e-6, rtol=0,
        )
    # And they differ from the base's limbs (the test can fail).
    assert np.abs(mixed[:, LIMB_GROUPS["l_arm"][1]] - base[:, LIMB_GROUPS["l_arm"][1]]).max() > 100.0
    assert mixed.dtype == base.dtype


def test_mix_limbs_bad_input():
    base = np.zeros((4, 17, 3))
    with pytest.raises(ValueError, match="unknown limb"):
        mix_limbs(base, {"tail": base})
    with pytest.raises(ValueError, match="shape"):
        mix_limbs(base, {"l_arm": base[:3]})
    with pytest.raises(ValueError, match="shape"):
        mix_limbs(base[:, :16], {})


def test_mixed_motions_seeded_and_new(clips):
    source = {name: clips[name].poses_mm for name in ("walk", "punch", "kick", "spin")}
    first = mixed_motions(source, 6, seed=3)
    assert list(first) == list(mixed_motions(source, 6, seed=3))
    for (name, poses), again in zip(first.items(), mixed_motions(source, 6, seed=3).values()):
        np.testing.assert_array_equal(poses, again)
        base_name = name.split("_", 1)[1]
        assert name.startswith("mix") and base_name in source
        assert poses.shape == source[base_name].shape
        assert np.abs(poses - source[base_name]).max() > 10.0  # at least one limb is new
        np.testing.assert_allclose(_bones(poses), _bones(source[base_name]), atol=1e-2)
    other = mixed_motions(source, 6, seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(first.values(), other.values()))
    with pytest.raises(ValueError, match="two clips"):
        mixed_motions({"walk": source["walk"]}, 1)
