import cv2
import numpy as np
import pytest

from partpose.data.datasets.crops import (
    ImageFolder,
    ImageList,
    VideoFile,
    check_frame_count,
    crop_and_resize,
    crop_box_from_joints,
    crop_normalised_to_pixels,
    full_frame_box,
    image_plane_boxes,
    load_prepared,
    pixels_to_crop_normalised,
    plan_clips,
    read_clips,
    save_prepared,
    union_box,
)
from partpose.errors import UserError


def _scene(t=6, h=32, w=40, seed=0):
    """A static textured backdrop with a bright 6×8 block ("person") moving right."""
    rng = np.random.default_rng(seed)
    backdrop = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
    frames = np.repeat(backdrop[None], t, axis=0)
    centres = []
    for k in range(t):
        x, y = 6 + 3 * k, 10
        frames[k, y : y + 8, x : x + 6] = 250
        centres.append((x + 2.5, y + 3.5))
    return frames, backdrop, np.asarray(centres)


def test_crop_samples_the_box_exactly():
    image = np.zeros((20, 30, 3), np.uint8)
    image[7, 12] = 255  # column u = 12, row v = 7
    box = np.array([9.5, 2.5, 8.0])  # outer edges: crop column i sees source x = 10 + i, row j y = 3 + j
    crop = crop_and_resize(image, box, 8)
    assert crop.shape == (8, 8, 3)
    assert crop[4, 2, 0] == 255
    assert crop.sum() == 3 * 255
    # the convention of the normalised coordinates: crop pixel centre i ↔ (2i + 1)/size − 1
    q = pixels_to_crop_normalised(np.array([[12.0, 7.0]]), box)
    np.testing.assert_allclose(q, [[(2 * 2 + 1) / 8 - 1, (2 * 4 + 1) / 8 - 1]], atol=1e-6)


def test_crop_downscale_averages_blocks_and_keeps_geometry():
    image = np.zeros((24, 30, 3), np.uint8)
    image[8:10, 12:14] = 200  # a 2×2 block: columns 12, 13 and rows 8, 9
    crop = crop_and_resize(image, np.array([7.5, 1.5, 16.0]), 8)  # k = 2: column i ← 8+2i, 9+2i
    assert crop[3, 2, 1] == 200
    assert crop.sum() == 3 * 200


def test_crop_outside_the_image_is_black():
    image = np.full((10, 10, 3), 90, np.uint8)
    crop = crop_and_resize(image, np.array([-10.5, -0.5, 20.0]), 20)
    # columns −10..−1 and rows 10..19 fall outside the 10×10 image
    assert (crop[:, :10] == 0).all() and (crop[10:] == 0).all() and (crop[:10, 10:] == 90).all()
    with pytest.raises(ValueError):
        crop_and_resize(image, np.array([0.0, 0.0, -1.0]), 8)


def test_box_from_joints_hand_value():
    joints = np.array([[10.0, 20.0], [30.0, 60.0], [500.0, 500.0], [np.nan, 0.0]])
    valid = np.array([True, True, False, True])
    box = crop_box_from_joints(joints, margin=0.25, valid=valid)
    # extent max(20, 40) = 40, side 40 × 1.5 = 60, centre (20, 40)
    np.testing.assert_allclose(box, [-10.0, 10.0, 60.0])
    batched = crop_box_from_joints(np.stack([joints[:2], joints[:2] + 5]), margin=0.25)
    np.testing.assert_allclose(batched[1], [-5.0, 15.0, 60.0])
    with pytest.raises(ValueError, match="valid joint"):
        crop_box_from_joints(joints, valid=np.zeros(4, bool))


def test_union_box_and_full_frame_box():
    box = union_box(np.array([[0.0, 0.0, 10.0], [20.0, 4.0, 6.0]]))
    np.testing.assert_allclose(box, [0.0, -8.0, 26.0])  # x 0..26, y 0..10 → square 26 centred at y 5
    full = full_frame_box(20, 30)
    np.testing.assert_allclose(full, [-0.5, -5.5, 30.0])
    corner = pixels_to_crop_normalised(np.array([[0.0, 0.0], [29.0, 19.0]]), full)
    np.testing.assert_allclose(corner, [[1 / 30 - 1, 11 / 30 - 1], [1 - 1 / 30, 49 / 30 - 1]], atol=1e-6)


def test_normalised_round_trip():
    rng = np.random.default_rng(1)
    px = rng.uniform(0, 500, (4, 17, 2))
    boxes = np.column_stack([rng.uniform(0, 100, 4), rng.uniform(0, 100, 4), rng.uniform(200, 400, 4)])
    back = crop_normalised_to_pixels(pixels_to_crop_normalised(px, boxes), boxes)
    np.testing.assert_allclose(back, px, atol=1e-3)


def test_plan_clips_segments_and_boxes():
    boxes = np.column_stack([np.arange(7.0), np.zeros(7), np.full(7, 10.0)])
    plans = plan_clips(np.arange(0, 70, 10), boxes, "v", segment_frames=3)
    # 7 frames in clips of 3: [0:3], [3:7] (the lone tail frame folds into the last clip)
    assert [p.frame_indices.tolist() for p in plans] == [[0, 10, 20], [30, 40, 50, 60]]
    assert [p.name for p in plans] == ["v#0", "v#1"]
    np.testing.assert_allclose(plans[0].boxes, np.repeat([[0.0, -1.0, 12.0]], 3, axis=0))
    per_frame = plan_clips(np.arange(7), boxes, "v", segment_frames=None, box_mode="frame")
    assert len(per_frame) == 1 and per_frame[0].name == "v" and not per_frame[0].fixed_box
    np.testing.assert_allclose(per_frame[0].boxes, boxes)
    with pytest.raises(ValueError, match="increase"):
        plan_clips(np.array([3, 1]), boxes[:2], "v")


def test_image_plane_boxes_hand_values():
    boxes = np.array([[90.0, 40.0, 20.0], [-10.0, 0.0, 50.0]])  # centres (100, 50) and (15, 25)
    got = image_plane_boxes(boxes, np.array([200.0, 100.0, 100.0, 50.0]))
    # x: (100 - 100) / 200, y: (50 - 50) / 100, side: 20 / sqrt(200 * 100)
    np.testing.assert_allclose(got, [[0.0, 0.0, 20 / np.sqrt(2e4)], [-85 / 200, -25 / 100, 50 / np.sqrt(2e4)]], rtol=1e-6)
    assert got.dtype == np.float32
    # nominal intrinsics: the longer side (W = 120) as the focal length, the centre (59.5, 39.5)
    nominal = image_plane_boxes(boxes, None, image_size=(80, 120))
    np.testing.assert_allclose(nominal[0], [(100 - 59.5) / 120, (50 - 39.5) / 120, 20 / 120], rtol=1e-6)
    with pytest.raises(ValueError, match="intrinsics or the image size"):
        image_plane_boxes(boxes, None)


def test_plan_clips_keeps_each_frames_person_box_and_camera_up():
    boxes = np.column_stack([np.arange(6.0), np.zeros(6), 10.0 + np.arange(6.0)])
    up = np.tile([0.0, -1.0, 0.0], (6, 1))
    up[3:] = [0.0, -0.6, -0.8]
    plans = plan_clips(np.arange(6), boxes, "v", segment_frames=3, intrinsics=np.array([10.0, 10.0, 0.0, 0.0]),
                       camera_up=up)
    assert all(p.fixed_box for p in plans)  # one crop per clip, the union ...
    np.testing.assert_allclose(plans[1].person_boxes, boxes[3:])  # ... but every frame's own box kept
    np.testing.assert_allclose(plans[1].camera_up, up[3:])
    with pytest.raises(ValueError, match="camera_up must have shape"):
        plan_clips(np.arange(6), boxes, "v", camera_up=up[:2])
    with pytest.raises(ValueError, match="intrinsics must be"):
        plan_clips(np.arange(6), boxes, "v", intrinsics=np.ones(3))


def test_read_clips_crops_labels_and_median_background(tmp_path):
    frames, backdrop, centres = _scene()
    for k, image in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{k:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    source = ImageFolder(tmp_path, suffix=".png")
    assert source.count() == 6
    box = np.array([-0.5, -0.5 - 4.0, 40.0])  # the whole 40-wide frame, 4 px of black above and below
    joints = np.repeat(centres[:, None], 17, axis=1)
    plans = plan_clips(np.arange(6), np.repeat(box[None], 6, 0), "scene", subject="s", action="a",
                       pose2d_px=joints, pose3d_cam_mm=np.zeros((6, 17, 3)), segment_frames=None)
    (video,) = read_clips(source, plans, size=40, static_camera=True)
    assert video.frames.shape == (6, 40, 40, 3) and video.frames.dtype == np.uint8
    np.testing.assert_array_equal(video.frames[2, 4:36], frames[2])  # pixel-exact resampling
    assert not video.camera_moves
    # the block moves 3 px per frame, so the median over 6 frames is the empty backdrop
    np.testing.assert_array_equal(video.background[4:36], backdrop)
    q = video.pose2d_norm[2, 0]
    u, v = (q + 1) * 40 / 2 - 0.5
    np.testing.assert_allclose([u, v - 4], centres[2], atol=1e-4)
    assert video.pose3d_cam_mm.dtype == np.float32 and (video.subject, video.action) == ("s", "a")
    # the person box: the (fixed) crop here, with nominal intrinsics (focal 40, centre (19.5, 15.5))
    np.testing.assert_allclose(video.person_box, np.repeat([[0.0, 0.0, 1.0]], 6, axis=0), atol=1e-6)
    assert video.camera_up is None
    # detection of a static camera from the frames gives the same verdict
    (detected,) = read_clips(source, plans, size=40, static_camera=None)
    assert not detected.camera_moves


def test_moving_boxes_have_no_background(tmp_path):
    frames, _, centres = _scene()
    source = ImageList(tmp_path, [])
    for k, image in enumerate(frames):
        path = tmp_path / f"f{k}.png"
        cv2.imwrite(str(path), image)
        source.files.append(path)
    boxes = crop_box_from_joints(np.stack([centres - 4, centres + 4], axis=1), margin=0.5)
    plans = plan_clips(np.arange(6), boxes, "moving", segment_frames=None, box_mode="frame")
    (video,) = read_clips(source, plans, size=16, static_camera=True)
    assert video.camera_moves and video.background is None


def _write_video(path, frames, fourcc="MJPG"):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, frames.shape[2:0:-1])
    assert writer.isOpened()
    for image in frames:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()


def test_video_file_reads_in_order(tmp_path):
    frames = np.stack([np.full((32, 32, 3), 20 * k, np.uint8) for k in range(6)])
    _write_video(tmp_path / "v.avi", frames)
    source = VideoFile(tmp_path / "v.avi")
    assert source.count() == 6
    got = dict(source.read([4, 1]))
    assert sorted(got) == [1, 4]
    assert abs(float(got[4].mean()) - 80) < 4 and abs(float(got[1].mean()) - 20) < 4


def test_truncated_and_unreadable_videos_raise_naming_the_file(tmp_path):
    rng = np.random.default_rng(0)
    _write_video(tmp_path / "noise.avi", rng.integers(0, 255, (12, 32, 32, 3), dtype=np.uint8))
    data = (tmp_path / "noise.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(UserError, match="cut.avi: truncated"):
        list(VideoFile(tmp_path / "cut.avi").read(range(12)))
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 20)
    with pytest.raises(UserError, match="junk.mp4: cannot open"):
        VideoFile(tmp_path / "junk.mp4").count()
    with pytest.raises(UserError, match="missing.mp4"):
        VideoFile(tmp_path / "missing.mp4")


def test_frame_count_mismatch_and_bad_images(tmp_path):
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"{k:06d}.jpg"), np.zeros((8, 8, 3), np.uint8))
    source = ImageFolder(tmp_path)
    check_frame_count(source, 3)
    with pytest.raises(UserError, match="holds 3 frames but the annotations describe 4"):
        check_frame_count(source, 4)
    check_frame_count(source, 2, max_extra_frames=1)
    (tmp_path / "000001.jpg").write_bytes(b"garbage")
    with pytest.raises(UserError, match="000001.jpg: cannot read"):
        list(source.read([0, 1]))
    with pytest.raises(UserError, match="000007.jpg: image missing"):
        list(source.read([7]))


def test_prepared_round_trip(tmp_path):
    frames, _, centres = _scene(t=4)
    for k, image in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{k:06d}.png"), image)
    boxes = crop_box_from_joints(np.stack([centres - 4, centres + 4], axis=1))
    plans = plan_clips(np.arange(4), boxes, "rec/a", segment_frames=2) + plan_clips(
        np.arange(4), boxes, "rec/b", segment_frames=None
    )
    videos = read_clips(ImageFolder(tmp_path, suffix=".png"), plans, size=16)
    out = tmp_path / "prepared"
    entry = save_prepared(iter(videos), out, "train", "test-set", {"resolution": 16}, progress=False)
    assert [e["file"] for e in entry["videos"]] == ["train/rec/a_0.npz", "train/rec/a_1.npz", "train/rec/b.npz"]
    assert [e["frames"] for e in entry["videos"]] == [2, 2, 4] and entry["config"] == {"resolution": 16}
    loaded = load_prepared(out, "train")
    assert [v.name for v in loaded] == ["rec/a#0", "rec/a#1", "rec/b"]
    np.testing.assert_array_equal(loaded[0].frames, videos[0].frames)
    with pytest.raises(UserError, match="no split 'test'"):
        load_prepared(out, "test")
    with pytest.raises(UserError, match="already holds dataset"):
        save_prepared(iter(videos), out, "test", "other", progress=False)
