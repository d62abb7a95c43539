import math

import numpy as np
import pytest

from partpose.data import synthetic as S
from partpose.errors import UserError
from partpose.geometry.parts import PART_NAMES, PARTS
from partpose.geometry.skeleton import H36M17

J = {name: i for i, name in enumerate(H36M17.names)}


def hand_pose(num_frames: int = 3, travel_mm: float = 0.0) -> np.ndarray:
    """A person facing +x (left = +y) in a z-up world, swinging arms and legs: (T, 17, 3) mm."""
    poses = np.zeros((num_frames, 17, 3))
    for t in range(num_frames):
        a = 0.5 * math.sin(2 * math.pi * t / max(num_frames, 2))
        down = lambda ang: np.array([math.sin(ang), 0.0, -math.cos(ang)])  # noqa: E731
        p = {"pelvis": np.array([travel_mm * t / max(num_frames - 1, 1), 0.0, 950.0])}
        p["r_hip"] = p["pelvis"] + [0, -95, 0]
        p["l_hip"] = p["pelvis"] + [0, 95, 0]
        p["r_knee"] = p["r_hip"] + 440 * down(a)
        p["l_knee"] = p["l_hip"] + 440 * down(-a)
        p["r_ankle"] = p["r_knee"] + 450 * down(a - 0.3)
        p["l_ankle"] = p["l_knee"] + 450 * down(-a - 0.3)
        p["spine"] = p["pelvis"] + [0, 0, 230]
        p["thorax"] = p["pelvis"] + [0, 0, 470]
        p["nose"] = p["thorax"] + [10, 0, 75]
        p["head"] = p["nose"] + [10, 0, 200]
        p["l_shoulder"] = p["thorax"] + [0, 175, 20]
        p["r_shoulder"] = p["thorax"] + [0, -175, 20]
        p["l_elbow"] = p["l_shoulder"] + 280 * down(a)
        p["r_elbow"] = p["r_shoulder"] + 280 * down(-a)
        p["l_wrist"] = p["l_elbow"] + 250 * down(a + 0.8)
        p["r_wrist"] = p["r_elbow"] + 250 * down(-a + 0.8)
        poses[t] = np.stack([p[n] for n in H36M17.names])
    return poses


def subject(seed: int = 0) -> S.Subject:
    return S.sample_subject("test_subject", np.random.default_rng(seed))


def scene(seed: int = 0, **kw) -> S.Scene:
    args = dict(subject=subject(seed), background="texture:tiles", distance_mm=3500.0,
                elevation=math.radians(10), azimuth=math.radians(30), seed=seed)
    args.update(kw)
    return S.Scene(**args)


# ---------------------------------------------------------------- conventions, hand-worked values


def test_look_at_hand_worked():
    R = S.look_at(np.array([[1000.0, 0, 0]]), np.zeros((1, 3)))[0]
    np.testing.assert_allclose(R, [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-12)
    # A point on the world's +y (the camera's right) and one above the target (image up).
    assert (R @ np.array([0, 100.0, 0]) - R @ np.array([1000.0, 0, 0]))[0] > 0
    assert (R @ np.array([0, 0, 100.0]) - R @ np.array([1000.0, 0, 0]))[1] < 0
    assert np.isclose(np.linalg.det(R), 1.0)


def test_orbit_centres_hand_worked():
    c = S.orbit_centres(np.zeros((2, 3)), np.array([2000.0, 2000.0]), np.array([0.0, math.pi / 2]),
                        np.array([0.0, math.pi / 6]))
    np.testing.assert_allclose(c, [[2000, 0, 0], [0, 2000 * math.cos(math.pi / 6), 1000]], atol=1e-9)


def test_project_to_crop_pixel_centre_convention():
    K = np.array([[[20.0, 0, 15.5], [0, 20.0, 15.5], [0, 0, 1]]])
    pose = np.zeros((1, 17, 3))
    pose[..., 2] = 1000.0
    pose[0, 3] = [100.0, -50.0, 1000.0]  # u = 17.5, v = 14.5
    q = S.project_to_crop(pose, K, 32)
    np.testing.assert_allclose(q[0, 3], [(2 * 17.5 + 1) / 32 - 1, (2 * 14.5 + 1) / 32 - 1], atol=1e-6)
    np.testing.assert_allclose(q[0, 0], [0.0, 0.0], atol=1e-6)  # principal point = crop centre


def test_pixel_rays_row_major_and_unit_z():
    K = np.array([[10.0, 0, 1.0], [0, 10.0, 2.0], [0, 0, 1]])
    rays = S.pixel_rays(K, 4)
    assert rays.shape == (16, 3) and np.all(rays[:, 2] == 1)
    np.testing.assert_allclose(rays[1 * 4 + 3], [(3 - 1.0) / 10, (1 - 2.0) / 10, 1], atol=1e-7)  # (v=1, u=3)


def test_crop_intrinsics_frames_the_joints():
    pose = hand_pose(5) + [0, 0, 0]
    pose_cam = np.stack([pose[..., 1], -pose[..., 2] + 1000, pose[..., 0] + 4000], axis=-1)  # a camera at -x
    for static in (True, False):
        K = S.crop_intrinsics(pose_cam, 64, margin=0.25, static=static)
        q = S.project_to_crop(pose_cam, K, 64)
        assert np.abs(q).max() <= 1 / 1.25 + 1e-6  # every joint inside the inner crop
        assert np.isclose(np.abs(q).max(), 1 / 1.25, atol=1e-3) or not static  # tight for the union
        if static:
            assert np.allclose(K, K[:1])
    with pytest.raises(ValueError, match="in front of the camera"):
        S.crop_intrinsics(-pose_cam, 64)


def test_crop_boxes_are_the_crops_in_the_image_plane():
    # a rigid body walking straight away from the camera: the box's side falls as 1 / distance
    pose = hand_pose(1)[0]
    steps = np.arange(6)[:, None, None]
    pose_cam = np.stack([pose[..., 1], -pose[..., 2] + 200, pose[..., 0] + 4000], axis=-1)[None] + steps * [0, 0, 300.0]
    K = S.crop_intrinsics(pose_cam, 64, margin=0.25, static=False, smooth_sigma=1e-3)
    boxes = S.crop_boxes(K, 64)
    assert boxes.dtype == np.float32 and boxes.shape == (6, 3)
    # the ray through each crop's centre pixel point and its corners' rays by hand
    centre_px = 31.5
    for t in range(6):
        ray = np.linalg.solve(K[t], [centre_px, centre_px, 1.0])
        assert np.allclose(boxes[t, :2], ray[:2], atol=1e-6)
        left, right = (np.linalg.solve(K[t], [u, centre_px, 1.0])[0] for u in (-0.5, 63.5))
        assert np.isclose(boxes[t, 2], right - left, rtol=1e-5)
    depth = pose_cam[:, 0, 2]
    assert np.allclose(boxes[0, 2] / boxes[:, 2], depth / depth[0], rtol=0.03)


# ---------------------------------------------------------------- ray casting against slow twins


def _posed_body(num_frames=2, resolution=24, distance=3000.0):
    sc = scene(3, distance_mm=distance)
    clip = S.render_clip(hand_pose(num_frames), sc, resolution, margin=0.3)
    return S.build_body(clip.pose3d_cam_mm, sc.subject), clip


def test_ray_cast_matches_dense_reference():
    for distance in (3000.0, 1500.0):
        body, clip = _posed_body(3, 40, distance)
        per_frame = clip.K.copy()
        per_frame[:, 0, 2] += [0.0, 0.7, 1.4]
        per_frame[:, 1, 2] -= [0.0, 0.3, 0.6]
        for K in (clip.K, per_frame):
            hits = S.ray_cast(body, K, 40)
            dense = S.ray_cast_dense(body, S.pixel_rays(K, 40))
            assert (hits.index == dense.index).mean() > 0.999
            hit = dense.index >= 0
            assert hit.mean() > 0.05
            np.testing.assert_allclose(hits.depth[hit], dense.depth[hit], atol=0.05)  # mm, float32 at metres
            assert np.all(np.isinf(hits.depth[~hit]))


def test_ray_cast_hits_are_first_surface_points():
    """Slow twin: march every ray in 1 mm steps with a membership test; the renderer's hit must
    be on the surface of its primitive, and no primitive may contain a point nearer than it."""
    body, clip = _posed_body(1, 20)
    hits = S.ray_cast(body, clip.K, 20)
    rays = S.pixel_rays(clip.K[0], 20).astype(np.float64)
    z = clip.pose3d_cam_mm[0, :, 2]
    steps = np.arange(z.min() - 400, z.max() + 400, 1.0)
    index, depth = hits.index[0], hits.depth[0]
    for p in range(len(rays)):
        near = steps[steps < (depth[p] - 0.5 if index[p] >= 0 else np.inf)]
        inside = S.inside_body(body, (near[:, None] * rays[p])[None])[0]
        assert not inside.any(), f"pixel {p}: a primitive is nearer than the reported hit"
        if index[p] >= 0:
            behind = S.inside_body(body, ((depth[p] + 0.5) * rays[p])[None, None])[0, 0]
            assert behind[index[p]], f"pixel {p}: the hit is not on the surface of primitive {index[p]}"
    assert (index >= 0).sum() > 30


def test_primitive_boxes_contain_their_hits():
    body, clip = _posed_body(2, 48)
    hits = S.ray_cast_dense(body, S.pixel_rays(clip.K[0], 48))
    boxes = S.primitive_boxes(body, clip.K)
    v, u = np.divmod(np.arange(48 * 48), 48)
    for t in range(2):
        for p in np.flatnonzero(hits.index[t] >= 0):
            lo_u, hi_u, lo_v, hi_v = boxes[t, hits.index[t, p]]
            assert lo_u <= u[p] <= hi_u and lo_v <= v[p] <= hi_v


# ---------------------------------------------------------------- rendered ground truth


def test_render_clip_shapes_and_dtypes():
    clip = S.render_clip(hand_pose(4), scene(), 32)
    assert clip.frames.shape == (4, 32, 32, 3) and clip.frames.dtype == np.uint8
    assert clip.segmentation.shape == (4, 32, 32) and clip.segmentation.dtype == np.uint8
    assert clip.pose3d_cam_mm.shape == (4, 17, 3) and clip.pose3d_cam_mm.dtype == np.float32
    assert clip.pose2d_norm.shape == (4, 17, 2) and clip.pose2d_norm.dtype == np.float32
    assert set(np.unique(clip.segmentation)) <= set(range(len(PARTS) + 1))
    assert 3000 < clip.pose3d_cam_mm[..., 2].min() and clip.pose3d_cam_mm[..., 2].max() < 4500


def test_2d_joints_reproject_from_3d_ground_truth():
    clip = S.render_clip(hand_pose(4), scene(orbit_rate=0.02), 64)
    p = clip.pose3d_cam_mm.astype(np.float64)
    u = clip.K[:, None, 0, 0] * p[..., 0] / p[..., 2] + clip.K[:, None, 0, 2]
    v = clip.K[:, None, 1, 1] * p[..., 1] / p[..., 2] + clip.K[:, None, 1, 2]
    u_from_q = ((clip.pose2d_norm[..., 0] + 1) * 64 - 1) / 2
    v_from_q = ((clip.pose2d_norm[..., 1] + 1) * 64 - 1) / 2
    assert np.abs(u - u_from_q).max() < 0.5 and np.abs(v - v_from_q).max() < 0.5
    # Up in the world is up in the image: the head is above the ankles.
    assert np.all(clip.pose2d_norm[:, J["head"], 1] < clip.pose2d_norm[:, J["l_ankle"], 1])


def test_camera_frame_pose_is_the_world_pose_seen_by_the_camera():
    sc = scene()
    world = hand_pose(2)
    clip = S.render_clip(world, sc, 32)
    ground = np.array([world[0, 0, 0], world[0, 0, 1], world[..., 2].min()])
    scaled = ground + sc.subject.height_scale * (world - ground)
    expected = np.einsum("tij,tnj->tni", clip.cam_R_world, scaled - clip.cam_centre_world_mm[:, None])
    np.testing.assert_allclose(clip.pose3d_cam_mm, expected, atol=1e-2)
    # Bone lengths survive the rigid camera transform (times the subject's height scale).
    np.testing.assert_allclose(np.linalg.norm(clip.pose3d_cam_mm[:, 2] - clip.pose3d_cam_mm[:, 1], axis=-1),
                               sc.subject.height_scale * 440.0, rtol=1e-5)


def test_limb_midpoint_pixel_has_the_limb_label_unless_occluded():
    """At the projected midpoint of every limb, the label is the limb's own, except where the
    slow twin (1 mm ray march with a membership test) finds another part first."""
    clip = S.render_clip(hand_pose(6), scene(5, azimuth=math.radians(70)), 96)
    body = S.build_body(clip.pose3d_cam_mm, scene(5).subject)
    checked = own = 0
    for l, part in enumerate(PARTS):
        if len(part.anchors) != 2:
            continue
        a, b = part.anchor_indices()
        mid = 0.5 * (clip.pose3d_cam_mm[:, a] + clip.pose3d_cam_mm[:, b]).astype(np.float64)
        for t in range(len(mid)):
            K = clip.K[t]
            u = int(round(K[0, 0] * mid[t, 0] / mid[t, 2] + K[0, 2]))
            v = int(round(K[1, 1] * mid[t, 1] / mid[t, 2] + K[1, 2]))
            ray = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
            steps = np.arange(mid[t, 2] - 600, mid[t, 2] + 600, 1.0)
            inside = S.inside_body(body.select(slice(t, t + 1)), (steps[:, None] * ray)[None])[0]
            first = np.flatnonzero(inside.any(axis=1))
            if len(first) == 0:
                continue
            expected = body.label[np.flatnonzero(inside[first[0]])[0]]
            checked += 1
            own += expected == l + 1
            assert clip.segmentation[t, v, u] == expected, (PART_NAMES[l], t)
    assert checked >= 40 and own >= 0.6 * checked


def test_background_where_no_primitive_and_person_over_the_backdrop():
    clip = S.render_clip(hand_pose(2), scene(), 48, noise_std=0.0)
    body = S.build_body(clip.pose3d_cam_mm, scene().subject)
    dense = S.ray_cast_dense(body, S.pixel_rays(clip.K[0], 48))
    seg = clip.segmentation.reshape(2, -1)
    assert np.all((seg == 0) == (dense.index < 0))
    frames = clip.frames.reshape(2, -1, 3)
    clean = clip.clean_background.reshape(2, -1, 3)
    assert np.array_equal(frames[seg == 0], clean[seg == 0])  # no noise: exactly the backdrop


def test_shading_follows_the_light():
    """Lit from the camera's side the body is brighter than lit from behind; with full ambient
    light the direction does not matter; nothing is drawn off the body."""
    body, clip = _posed_body(1, 32)
    hits = S.ray_cast(body, clip.K, 32)
    rays = S.pixel_rays(clip.K[0], 32)
    towards_camera = np.array([[0.0, 0.0, -1.0]], np.float32)
    front = S.shade(body, subject(3), rays, hits, towards_camera, 0.3)
    back = S.shade(body, subject(3), rays, hits, -towards_camera, 0.3)
    fg = hits.index >= 0
    assert front[fg].mean() > 1.5 * back[fg].mean()
    np.testing.assert_allclose(S.shade(body, subject(3), rays, hits, towards_camera, 1.0),
                               S.shade(body, subject(3), rays, hits, -towards_camera, 1.0))
    # Ambient share a: back-lit surfaces facing the camera get exactly a times the albedo,
    # front-lit ones between a and 1 times it.
    albedo = S.shade(body, subject(3), rays, hits, towards_camera, 1.0)
    np.testing.assert_allclose(back[fg], 0.3 * albedo[fg], rtol=1e-5, atol=1e-6)
    assert np.all(front[fg] >= 0.3 * albedo[fg] - 1e-6) and np.all(front[fg] <= albedo[fg] + 1e-6)
    assert np.all(front[~fg] == 0)


# ---------------------------------------------------------------- determinism and the benchmark


def test_render_is_deterministic_by_seed():
    a = S.render_clip(hand_pose(3), scene(1), 32, noise_std=2.0)
    b = S.render_clip(hand_pose(3), scene(1), 32, noise_std=2.0)
    c = S.render_clip(hand_pose(3), scene(2), 32, noise_std=2.0)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.segmentation, b.segmentation)
    assert not np.array_equal(a.frames, c.frames)


TINY = dict(resolution=32, num_train_subjects=2, num_test_subjects=2, videos_per_motion=1,
            test_videos_per_motion=1, frames_per_video=4)


def test_build_synthetic_videos_deterministic_and_valid():
    a = S.build_synthetic_videos(S.SyntheticConfig(**TINY), "train")
    b = S.build_synthetic_videos(S.SyntheticConfig(**TINY), "train")
    c = S.build_synthetic_videos(S.SyntheticConfig(**TINY, seed=1), "train")
    assert len(a) == len(b) == 20  # every motion (split="segments")
    for va, vb in zip(a, b):
        va.validate()
        assert va.frames.shape == (4, 32, 32, 3)
        for key in ("frames", "background", "pose3d_cam_mm", "pose2d_norm", "segmentation"):
            x, y = getattr(va, key), getattr(vb, key)
            assert (x is None and y is None) or np.array_equal(x, y)
    assert not np.array_equal(a[0].frames, c[0].frames)
    from partpose.data.mocap import DEEPMIMIC_SPLIT

    assert {v.action for v in a} == set(sum(DEEPMIMIC_SPLIT.values(), ()))
    by_motion = S.build_synthetic_videos(S.SyntheticConfig(**TINY, split="motions"), "train")
    assert {v.action for v in by_motion} == set(DEEPMIMIC_SPLIT["prior"] + DEEPMIMIC_SPLIT["train"])
    only_train = S.build_synthetic_videos(S.SyntheticConfig(**TINY, split="motions", train_motions="train"), "train")
    assert {v.action for v in only_train} == set(DEEPMIMIC_SPLIT["train"])


def test_segment_split_keeps_the_test_frames_out_of_training():
    """split="segments": train and test videos show the same motions, but no training pose is a
    test pose (the first 70 % and the last 30 % of every clip)."""
    config = S.SyntheticConfig()
    train, test = S.load_split_motions(config, "train"), S.load_split_motions(config, "test")
    assert list(train) == list(test) and len(train) == 20
    for name in train:
        a, b = train[name].reshape(len(train[name]), -1), test[name].reshape(len(test[name]), -1)
        nearest = np.abs(a[:, None] - b[None]).max(axis=-1).min()
        assert nearest > 1.0, name  # mm: no test frame repeats a training frame


def test_plate_background_and_per_frame_crops():
    """background="plate": a static camera's video carries the scene without the person, cropped
    like each frame, so every non-person pixel is the plate (no noise); a moving camera's video
    carries none. crop="frame": every frame's joints fill its own crop."""
    config = S.SyntheticConfig(**{**TINY, "videos_per_motion": 2}, noise_std=0.0, moving_camera_fraction=0.5)
    motions = S.load_split_motions(config, "train")
    specs = S.plan_videos(config, "train", {m: len(p) for m, p in motions.items()})
    subjects = {s.name: s for s in S.split_subjects(config, "train")}
    seen = set()
    for spec in specs[:12]:
        video, clip = S.render_spec(config, spec, motions[spec.motion], subjects)
        seen.add(spec.moving_camera)
        assert video.camera_moves == spec.moving_camera
        if spec.moving_camera:
            assert video.background is None
            continue
        assert video.background.shape == video.frames.shape
        assert np.array_equal(video.background, clip.clean_background)
        off = video.segmentation == 0
        assert np.array_equal(video.frames[off], video.background[off])
        for t in range(video.num_frames):
            assert np.array_equal(video.background_at(t), video.background[t])
        inner = 1.0 / (1.0 + config.crop_margin)
        q = video.pose2d_norm
        assert np.abs(q).max() <= inner + 0.05
        assert ((q.max(1) - q.min(1)).max(-1) > 0.75 * 2 * inner).mean() > 0.5  # tight, not a union
        assert np.allclose(video.person_box, S.crop_boxes(clip.K, config.resolution))
    assert seen == {True, False}
    with pytest.raises(UserError, match="median needs"):
        S.build_synthetic_videos(S.SyntheticConfig(**TINY, background="median"), "train")
    median = S.build_synthetic_videos(S.SyntheticConfig(**TINY, background="median", crop="clip"), "train")
    assert all(v.background.shape == v.frames.shape[1:] for v in median)


def test_the_print_marks_the_front_of_the_chest():
    """Seen from the front, part of the torso is the print's colour; seen from the back, none."""
    person = subject(5)
    standing = hand_pose(1)  # faces +x (world)
    counts = {}
    for name, azimuth in (("front", 0.0), ("back", math.pi)):
        clip = S.render_clip(standing, scene(5, azimuth=azimuth, ambient=1.0), 64, noise_std=0.0)
        torso = clip.segmentation[0] == PART_NAMES.index("torso") + 1
        colours = clip.frames[0][torso].astype(np.float32) / 255.0
        print_colour = person.colour[S.PRINT]
        counts[name] = int((np.abs(colours - print_colour).max(axis=-1) < 2.5 / 255).sum())
    assert counts["front"] > 20 and counts["back"] == 0


def test_mixed_motions_add_train_motions_only():
    config = S.SyntheticConfig(mixed_motions=3)
    train = S.load_split_motions(config, "train")
    plain = S.load_split_motions(S.SyntheticConfig(), "train")
    assert list(train)[: len(plain)] == list(plain) and len(train) == len(plain) + 3
    mixed = [name for name in train if name not in plain]
    assert all(name.startswith("mix") and name.split("_", 1)[1] in plain for name in mixed)
    test = S.load_split_motions(config, "test")
    assert list(test) == list(S.load_split_motions(S.SyntheticConfig(), "test"))
    with pytest.raises(UserError, match="mixed_motions"):
        S.build_synthetic_videos(S.SyntheticConfig(**TINY, mixed_motions=-1), "train")


def test_cache_round_trip(tmp_path):
    config = S.SyntheticConfig(**TINY, cache_dir=str(tmp_path))
    first = S.build_synthetic_videos(config, "test")
    files = list(tmp_path.glob("synthetic_test_*.npz"))
    assert len(files) == 1
    again = S.build_synthetic_videos(config, "test")
    for va, vb in zip(first, again):
        assert (va.name, va.subject, va.action, va.camera_moves) == (vb.name, vb.subject, vb.action, vb.camera_moves)
        assert np.array_equal(va.frames, vb.frames) and np.array_equal(va.pose3d_cam_mm, vb.pose3d_cam_mm)
    assert S.config_key(config, "test") != S.config_key(S.SyntheticConfig(**TINY, seed=3), "test")
    assert S.config_key(config, "test") == S.config_key(S.SyntheticConfig(**TINY), "test")  # cache_dir left out


def test_test_split_is_disjoint_in_motions_subjects_and_backgrounds():
    config = S.SyntheticConfig(split="motions")
    plans = {}
    for split in ("train", "test"):
        motions = S.load_split_motions(config, split)
        plans[split] = S.plan_videos(config, split, {m: len(p) for m, p in motions.items()})
    for key in ("motion", "subject", "background"):
        train = {getattr(s, key) for s in plans["train"]}
        test = {getattr(s, key) for s in plans["test"]}
        assert train and test and not train & test, key
    assert set(S.split_backgrounds("train")).isdisjoint(S.split_backgrounds("test"))
    train_colours = {tuple(s.colour.ravel()) for s in S.split_subjects(config, "train")}
    test_colours = {tuple(s.colour.ravel()) for s in S.split_subjects(config, "test")}
    assert train_colours.isdisjoint(test_colours)
    moving = np.mean([s.moving_camera for s in plans["train"]])
    assert 0.1 < moving < 0.4  # about config.moving_camera_fraction = 0.25
    frames = sum(s.num_frames for s in plans["train"])
    assert 10000 <= frames <= 20000  # about fifteen thousand training frames (16 motions x 60 videos)
    default = S.SyntheticConfig()
    default_plans = {split: S.plan_videos(default, split, {m: len(p) for m, p in S.load_split_motions(default, split).items()})
                     for split in ("train", "test")}
    for key in ("subject", "background"):  # split="segments" shares the motions, not these
        assert not {getattr(s, key) for s in default_plans["train"]} & {getattr(s, key) for s in default_plans["test"]}


def test_every_background_loads_offline():
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in S.split_backgrounds(split):
            image = S.background_image(name, 32, rng)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            assert min(image.shape[:2]) >= 16 and image.std() > 3


def test_bad_input_raises_clear_errors():
    with pytest.raises(UserError, match="unknown split"):
        S.split_backgrounds("val")
    with pytest.raises(UserError, match="resolution"):
        S.build_synthetic_videos(S.SyntheticConfig(resolution=4), "train")
    with pytest.raises(UserError, match="unknown background"):
        S.background_image("movie:x", 32, np.random.default_rng(0))
    with pytest.raises(ValueError, match="pose_world_mm"):
        S.render_clip(np.zeros((3, 16, 3)), scene(), 32)
    with pytest.raises(UserError, match="out of range"):
        S.build_synthetic_videos(S.SyntheticConfig(**TINY), "train", indices=[99])


def test_studio_scene_shares_cameras_and_backdrop_across_splits():
    config = S.SyntheticConfig(scene="studio", moving_camera_fraction=0.0, studio_cameras=3)
    subjects = {split: {s.name: s for s in S.split_subjects(config, split)} for split in ("train", "test")}
    views, backdrops = {}, {}
    for split in ("train", "test"):
        motions = S.load_split_motions(config, split)
        specs = S.plan_videos(config, split, {m: len(p) for m, p in motions.items()})
        assert not any(s.moving_camera for s in specs)
        scenes = [S.make_scene(config, s, subjects[split][s.subject]) for s in specs]
        views[split] = {(round(math.degrees(c.azimuth), 6), round(math.degrees(c.elevation), 6), c.distance_mm)
                        for c in scenes}
        backdrops[split] = {c.background for c in scenes}
        assert {(c.light_azimuth, c.light_elevation, c.ambient) for c in scenes} == {(math.radians(60.0), math.radians(50.0), 0.45)}
    # three cameras at 45°, 165° and 285°, 10° up (middle of -10..30), 4.5 m away (middle of 3..6)
    assert views["train"] == views["test"] == {(45.0, 10.0, 4500.0), (165.0, 10.0, 4500.0), (285.0, 10.0, 4500.0)}
    assert backdrops["train"] == backdrops["test"] == {"photo:brick"}
    # the subjects stay held out
    assert not set(subjects["train"]) & set(subjects["test"])


def test_camera_up_is_the_worlds_up_in_each_frames_camera():
    """Video.camera_up: 10° above in the studio, (0, -cos 10°, -sin 10°); for every camera, fixed
    or moving, the heights of the body's centre joints above the root in the world are their
    camera-frame offsets along camera_up (up to the subject's body scale)."""
    studio = S.SyntheticConfig(**{**TINY, "scene": "studio", "moving_camera_fraction": 0.0})
    motions = S.load_split_motions(studio, "train")
    specs = S.plan_videos(studio, "train", {m: len(p) for m, p in motions.items()})
    video, _ = S.render_spec(studio, specs[0], motions[specs[0].motion], {s.name: s for s in S.split_subjects(studio, "train")})
    e = math.radians(10.0)
    np.testing.assert_allclose(video.camera_up, np.tile([0.0, -math.cos(e), -math.sin(e)], (video.num_frames, 1)), atol=1e-6)

    config = S.SyntheticConfig(**{**TINY, "moving_camera_fraction": 1.0})
    motions = S.load_split_motions(config, "train")
    specs = S.plan_videos(config, "train", {m: len(p) for m, p in motions.items()})
    subjects = {s.name: s for s in S.split_subjects(config, "train")}
    for spec in specs[:3]:
        video, _ = S.render_spec(config, spec, motions[spec.motion], subjects)
        assert spec.moving_camera and video.camera_up.dtype == np.float32
        world = motions[spec.motion][spec.start:spec.start + spec.num_frames]
        centre = [H36M17.index(n) for n in ("spine", "thorax", "nose", "head")]  # not swapped by a mirror
        height_world = world[:, centre, 2] - world[:, [H36M17.root], 2]
        offset_cam = video.pose3d_cam_mm[:, centre] - video.pose3d_cam_mm[:, [H36M17.root]]
        along_up = (offset_cam * video.camera_up[:, None]).sum(-1)
        scale = (along_up * height_world).sum() / (height_world**2).sum()  # the subject's body scale
        assert 0.7 < scale < 1.3
        np.testing.assert_allclose(along_up, scale * height_world, atol=2.0)
        assert np.ptp(video.camera_up, axis=0).max() > 1e-5  # the orbit turns the camera


def test_studio_scene_bad_config_raises_clear_errors():
    with pytest.raises(UserError, match="static cameras"):
        S.plan_videos(S.SyntheticConfig(scene="studio"), "train", {"walk": 20})
    with pytest.raises(UserError, match="unknown synthetic.studio_backdrop"):
        S.plan_videos(S.SyntheticConfig(scene="studio", moving_camera_fraction=0.0, studio_backdrop="photo:x"), "train", {"walk": 20})
    with pytest.raises(UserError, match="synthetic.scene"):
        S.plan_videos(S.SyntheticConfig(scene="street"), "train", {"walk": 20})


def test_subjects_from_dresses_a_split_in_the_other_splits_people():
    config = S.SyntheticConfig(**TINY)
    own = S.build_synthetic_videos(config, "test", indices=[0, 1])
    swapped = S.build_synthetic_videos(config, "test", indices=[0, 1], subjects_from="train")
    train_names = {s.name for s in S.split_subjects(config, "train")}
    assert all(v.subject in train_names for v in swapped) and not any(v.subject in train_names for v in own)
    # the same held-out motion windows, worn by other people
    assert [v.action for v in swapped] == [v.action for v in own]
    assert [v.name for v in swapped] == [v.name for v in own]
    assert not np.array_equal(swapped[0].frames, own[0].frames)
    with pytest.raises(UserError, match="split"):
        S.build_synthetic_videos(config, "test", indices=[0], subjects_from="val")


def test_spread_renders_videos_evenly_over_the_plan_and_caps_at_the_split():
    config = S.SyntheticConfig(**TINY)
    motions = S.load_split_motions(config, "test")
    names = [spec.name for spec in S.plan_videos(config, "test", {m: len(p) for m, p in motions.items()})]
    picks = np.linspace(0, len(names) - 1, 3).round().astype(int)
    assert [v.name for v in S.build_synthetic_videos(config, "test", spread=3)] == [names[i] for i in picks]
    assert [v.name for v in S.build_synthetic_videos(config, "test", spread=len(names) + 5)] == names
    with pytest.raises(ValueError, match="not both"):
        S.build_synthetic_videos(config, "test", indices=[0], spread=2)
