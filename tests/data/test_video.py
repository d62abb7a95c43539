import math

import numpy as np
import pytest

from partpose.data import synthetic as S
from partpose.data.mocap import load_deepmimic_clips, resample
from partpose.data.video import (
    Video,
    background_residual_fraction,
    camera_moves,
    load_video,
    load_videos,
    median_background,
    save_video,
    save_videos,
)
from partpose.errors import UserError


def make_video(t=5, size=16, **kw) -> Video:
    rng = np.random.default_rng(0)
    args = dict(
        frames=rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8),
        background=rng.integers(0, 256, (size, size, 3), dtype=np.uint8),
        pose3d_cam_mm=rng.normal(size=(t, 17, 3)).astype(np.float32),
        pose2d_norm=rng.uniform(-1, 1, (t, 17, 2)).astype(np.float32),
        segmentation=rng.integers(0, 11, (t, size, size), dtype=np.uint8),
        name="v0", subject="s1", action="walk",
    )
    args.update(kw)
    return Video(**args)


# ---------------------------------------------------------------- the sample structure


def test_validate_accepts_consistent_and_optional_fields():
    video = make_video()
    assert video.validate() is video
    assert video.num_frames == len(video) == 5 and video.size == (16, 16)
    make_video(background=None, pose3d_cam_mm=None, pose2d_norm=None, segmentation=None).validate()


def test_a_background_per_frame():
    per_frame = np.stack([np.full((16, 16, 3), t, np.uint8) for t in range(5)])
    video = make_video(background=per_frame).validate()
    assert [int(video.background_at(t)[0, 0, 0]) for t in range(5)] == [0, 1, 2, 3, 4]
    fixed = make_video().validate()
    assert fixed.background_at(3) is fixed.background
    assert make_video(background=None).background_at(0) is None
    with pytest.raises(ValueError, match="background"):
        make_video(background=per_frame[:4]).validate()


@pytest.mark.parametrize(
    "field, value",
    [
        ("frames", np.zeros((5, 16, 16), np.uint8)),
        ("frames", np.zeros((5, 16, 16, 3), np.float32)),
        ("frames", np.zeros((5, 16, 12, 3), np.uint8)),
        ("background", np.zeros((16, 16, 3), np.float32)),
        ("background", np.zeros((8, 8, 3), np.uint8)),
        ("background", np.zeros((5, 8, 8, 3), np.uint8)),
        ("pose3d_cam_mm", np.zeros((4, 17, 3), np.float32)),
        ("pose3d_cam_mm", np.zeros((5, 17, 3), np.float64)),
        ("pose2d_norm", np.zeros((5, 16, 2), np.float32)),
        ("segmentation", np.zeros((5, 16, 16), np.int64)),
        ("segmentation", np.zeros((6, 16, 16), np.uint8)),
        ("person_box", np.ones((5, 4), np.float32)),
        ("person_box", np.ones((5, 3), np.float64)),
        ("person_box", np.zeros((5, 3), np.float32)),
        ("person_box", np.full((5, 3), np.nan, np.float32)),
        ("camera_up", np.tile(np.float32([0, -1, 0]), (4, 1))),
        ("camera_up", np.tile(np.float32([0, -2, 0]), (5, 1))),
        ("camera_up", np.full((5, 3), np.nan, np.float32)),
        ("camera_moves", "yes"),
    ],
)
def test_validate_names_the_inconsistent_field(field, value):
    with pytest.raises(ValueError, match=field):
        make_video(**{field: value}).validate()


def test_save_and_load_round_trip(tmp_path):
    a = make_video(camera_moves=True)
    a.person_box = np.tile(np.float32([0.1, -0.2, 0.5]), (len(a.frames), 1))
    a.camera_up = np.tile(np.float32([0.0, -0.6, -0.8]), (len(a.frames), 1))
    b = make_video(t=3, pose3d_cam_mm=None, segmentation=None, name="v1")
    save_videos(tmp_path / "two.npz", [a, b])
    loaded = load_videos(tmp_path / "two.npz")
    assert [v.name for v in loaded] == ["v0", "v1"]
    assert loaded[0].camera_moves is True and loaded[1].pose3d_cam_mm is None and loaded[1].person_box is None
    assert loaded[1].camera_up is None
    for key in ("frames", "background", "pose3d_cam_mm", "pose2d_norm", "segmentation", "person_box", "camera_up"):
        assert np.array_equal(getattr(loaded[0], key), getattr(a, key))
    save_video(tmp_path / "one.npz", b)
    assert np.array_equal(load_video(tmp_path / "one.npz").frames, b.frames)
    with pytest.raises(UserError, match="no such"):
        load_video(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(UserError, match="bad.npz"):
        load_video(tmp_path / "bad.npz")


# ---------------------------------------------------------------- median background


def test_median_background_hand_worked():
    frames = np.zeros((4, 1, 2, 3), np.uint8)
    frames[:, 0, 0, 0] = [9, 1, 5, 3]  # even T: the lower median, 3
    frames[:, 0, 1, 2] = [7, 7, 200, 7]  # an outlier frame is ignored
    bg = median_background(frames)
    assert bg.dtype == np.uint8 and bg.shape == (1, 2, 3)
    assert bg[0, 0, 0] == 3 and bg[0, 1, 2] == 7
    assert median_background(frames[:3])[0, 0, 0] == 5  # odd T: [9, 1, 5] -> 5
    with pytest.raises(ValueError, match="frames"):
        median_background(np.zeros((0, 4, 4, 3), np.uint8))


def _walk_world_mm(num_frames=24):
    clip = load_deepmimic_clips(["walk"], scale_to_height_mm=1700.0)[0]
    return resample(clip.poses_mm.astype(np.float64), clip.fps, 25.0)[:num_frames]


def _scene(**kw):
    args = dict(subject=S.sample_subject("s", np.random.default_rng(4)), background="photo:astronaut",
                distance_mm=4000.0, elevation=math.radians(5), azimuth=math.radians(100), seed=2)
    args.update(kw)
    return S.Scene(**args)


def test_median_background_recovers_the_clean_background_of_a_static_clip():
    clip = S.render_clip(_walk_world_mm(), _scene(), 48, noise_std=2.0)
    assert np.all(clip.clean_background == clip.clean_background[:1])  # static: one backdrop
    bg = median_background(clip.frames)
    person_share = (clip.segmentation > 0).mean(axis=0)
    visible = person_share < 0.4  # the background shows in most frames there
    assert visible.mean() > 0.8
    diff = np.abs(bg.astype(int) - clip.clean_background[0].astype(int)).mean(-1)
    assert diff[visible].mean() < 2.5
    assert np.quantile(diff[visible], 0.99) < 12


# ---------------------------------------------------------------- camera motion


def test_background_residual_fraction_hand_worked():
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    frames[1, 0, :4] = 100  # four differing pixels in the top row (the border band)
    frames[1, 4, 4] = 100  # and one in the middle
    bg = np.zeros((8, 8, 3), np.uint8)
    np.testing.assert_allclose(background_residual_fraction(frames, bg, 10.0, None), [0, 5 / 64])
    band = 64 - 36  # border 0.125 of 8 px = 1 px: 28 band pixels
    np.testing.assert_allclose(background_residual_fraction(frames, bg, 10.0, 0.125), [0, 4 / band])


def test_camera_moves_on_a_static_and_a_panning_texture():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (48, 200, 3), dtype=np.uint8)
    static = np.repeat(texture[None, :, :48], 12, axis=0)
    static[:, 16:32, 16 + np.arange(12)[:, None] % 8] = 255  # a person moving in the middle
    panning = np.stack([texture[:, 3 * t:3 * t + 48] for t in range(12)])
    assert not camera_moves(static)
    assert camera_moves(panning)
    assert not camera_moves(np.full((6, 16, 16, 3), 90, np.uint8))  # flat: the median is valid


def test_camera_moves_on_rendered_static_and_orbiting_clips():
    world = _walk_world_mm()
    static = S.render_clip(world, _scene(background="texture:tiles"), 48, noise_std=2.0)
    orbit = S.render_clip(world, _scene(background="texture:tiles", orbit_rate=math.radians(15) / 25), 48,
                          noise_std=2.0)
    assert not np.all(orbit.clean_background == orbit.clean_background[:1])
    assert not camera_moves(static.frames, median_background(static.frames))
    assert camera_moves(orbit.frames, median_background(orbit.frames))
