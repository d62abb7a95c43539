import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from partpose.data.pairs import FrameDataset, PairDataset, frame_pairs
from partpose.data.saliency import SaliencyCache
from partpose.data.video import Video, median_background
from partpose.geometry.skeleton import H36M17


def make_video(t, size=16, seed=0, camera_moves=False, labels=True, name="v"):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8)
    return Video(
        frames=frames,
        background=median_background(frames),
        camera_moves=camera_moves,
        pose3d_cam_mm=(rng.normal(size=(t, 17, 3)) * 100 + [0, 0, 4000]).astype(np.float32) if labels else None,
        pose2d_norm=rng.uniform(-1, 1, (t, 17, 2)).astype(np.float32) if labels else None,
        segmentation=rng.integers(0, 11, (t, size, size), dtype=np.uint8) if labels else None,
        name=name, subject="s", action="a",
    )


def brute_force_pairs(lengths, max_gap, min_gap):
    return {(v, s, t) for v, n in enumerate(lengths) for s in range(n) for t in range(n)
            if min_gap <= abs(s - t) <= max_gap}


@pytest.mark.parametrize("max_gap, min_gap", [(1, 1), (3, 1), (4, 2), (20, 1)])
def test_frame_pairs_are_all_pairs_within_the_gap_bounds(max_gap, min_gap):
    lengths = [1, 5, 9]
    pairs = frame_pairs(lengths, max_gap, min_gap)
    assert pairs.dtype == np.int64
    assert {tuple(map(int, p)) for p in pairs} == brute_force_pairs(lengths, max_gap, min_gap)
    assert len(pairs) == len(brute_force_pairs(lengths, max_gap, min_gap))
    with pytest.raises(ValueError, match="min_gap"):
        frame_pairs(lengths, 2, 3)


def test_pair_items_keys_shapes_dtypes_and_values():
    videos = [make_video(6, seed=0), make_video(4, seed=1, camera_moves=True)]
    ds = PairDataset(videos, max_gap=2, labels="both")
    assert len(ds) == len(brute_force_pairs([6, 4], 2, 1))
    expected = {
        "image_s": ((3, 16, 16), torch.float32), "image_t": ((3, 16, 16), torch.float32),
        "background": ((3, 16, 16), torch.float32), "saliency_t": ((1, 16, 16), torch.float32),
        "background_valid": ((), torch.bool), "pose3d_t": ((17, 3), torch.float32),
        "has_pose3d_t": ((), torch.bool), "pose2d_t": ((17, 2), torch.float32),
        "has_pose2d_t": ((), torch.bool), "segmentation_t": ((16, 16), torch.int64),
        "travel_front": ((), torch.float32), "side_front_s": ((), torch.float32), "side_front_t": ((), torch.float32),
        "camera_up_s": ((3,), torch.float32), "camera_up_t": ((3,), torch.float32),
        "video_index": ((), torch.int64), "frame_s": ((), torch.int64), "frame_t": ((), torch.int64),
    }
    for i in range(len(ds)):
        item = ds[i]
        assert set(item) == set(expected)
        for key, (shape, dtype) in expected.items():
            assert tuple(item[key].shape) == shape and item[key].dtype == dtype, key
        v, s, t = int(item["video_index"]), int(item["frame_s"]), int(item["frame_t"])
        assert 1 <= abs(s - t) <= 2
        video = videos[v]
        np.testing.assert_allclose(item["image_t"].permute(1, 2, 0).numpy() * 255, video.frames[t], atol=1e-3)
        np.testing.assert_allclose(item["image_s"].permute(1, 2, 0).numpy() * 255, video.frames[s], atol=1e-3)
        np.testing.assert_allclose(item["background"].permute(1, 2, 0).numpy() * 255, video.background, atol=1e-3)
        assert bool(item["background_valid"]) == (v == 0)
        assert np.array_equal(item["pose3d_t"].numpy(), video.pose3d_cam_mm[t])
        assert np.array_equal(item["pose2d_t"].numpy(), video.pose2d_norm[t])
        assert np.array_equal(item["segmentation_t"].numpy(), video.segmentation[t])
        assert 0 <= float(item["saliency_t"].min()) and float(item["saliency_t"].max()) <= 1
        assert torch.isnan(item["travel_front"])  # no person boxes: no travel label
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=True)))
    assert batch["image_s"].shape == (4, 3, 16, 16) and batch["background_valid"].shape == (4,)


def test_each_item_carries_its_videos_travel():
    # boxes growing 1 % a frame (the person 1 % nearer), shrinking 1 %, and steady
    videos = [make_video(5, seed=k) for k in range(3)]
    for video, growth in zip(videos, (1.01, 1.0 / 1.01, 1.0)):
        video.person_box = np.stack([np.zeros(5), np.zeros(5), 0.5 * growth ** np.arange(5)], axis=1).astype(np.float32)
    ds = PairDataset(videos, max_gap=2, travel_min_rate=0.005)
    seen = {}
    for i in range(len(ds)):
        item = ds[i]
        seen.setdefault(int(item["video_index"]), []).append(float(item["travel_front"]))
    assert set(seen[0]) == {1.0} and set(seen[1]) == {0.0}
    assert np.isnan(seen[2]).all()


def test_the_steady_travels_side_labels_only_the_videos_that_travel_steadily():
    # nearer by 1 % every frame (steady); nearer over the video but by a box that jumps about
    # (R² well under 0.8); farther by 1 % every frame (steady)
    videos = [make_video(6, seed=k) for k in range(3)]
    sides = (0.5 * 1.01 ** np.arange(6), np.array([0.5, 0.6, 0.45, 0.62, 0.44, 0.53]), 0.5 / 1.01 ** np.arange(6))
    for video, side in zip(videos, sides):
        video.person_box = np.stack([np.zeros(6), np.zeros(6), side], axis=1).astype(np.float32)
    travel = PairDataset(videos, max_gap=2, travel_min_rate=0.005)
    steady = PairDataset(videos, max_gap=2, travel_min_rate=0.005, side_label="steady_travel")
    labels = {}
    for i in range(len(steady)):
        item, plain = steady[i], travel[i]
        v = int(item["video_index"])
        assert float(item["travel_front"]) == float(plain["travel_front"])  # the video's travel itself is kept
        labels.setdefault(v, set()).update({float(item["side_front_s"]), float(item["side_front_t"])})
        assert float(plain["side_front_s"]) == float(plain["travel_front"])
    assert labels[0] == {1.0} and labels[2] == {0.0}
    assert float(travel[next(i for i in range(len(travel)) if int(travel[i]["video_index"]) == 1)]["travel_front"]) == 1.0
    assert all(np.isnan(x) for x in labels[1])
    # with no least R², every travel counts
    loose = PairDataset(videos, max_gap=2, travel_min_rate=0.005, side_label="steady_travel", travel_min_r2=0.0)
    assert {float(loose[i]["side_front_t"]) for i in range(len(loose)) if int(loose[i]["video_index"]) == 1} == {1.0}


def test_the_side_labels_are_the_travel_or_each_frames_true_side():
    videos = [make_video(6, seed=k) for k in range(2)]
    videos[0].person_box = np.stack([np.zeros(6), np.zeros(6), 0.5 * 1.01 ** np.arange(6)], axis=1).astype(np.float32)
    # the second video's person faces the camera in its first three frames and turns away after:
    # the chest's normal (left minus right across, times up) points along -z for the first frames
    pose = videos[1].pose3d_cam_mm
    index = H36M17.index
    for t in range(6):
        sign = 1.0 if t < 3 else -1.0
        pose[t] = 0.0
        pose[t, :, 2] = 4000.0
        pose[t, H36M17.thorax, 1] = -500.0
        pose[t, index("l_shoulder"), 0] = pose[t, H36M17.l_hip, 0] = sign * 150.0
        pose[t, index("r_shoulder"), 0] = pose[t, H36M17.r_hip, 0] = -sign * 150.0
    travel = PairDataset(videos, max_gap=2, travel_min_rate=0.005)
    truth = PairDataset(videos, max_gap=2, travel_min_rate=0.005, side_label="truth")
    for i in range(len(travel)):
        item, oracle = travel[i], truth[i]
        v, s, t = int(item["video_index"]), int(item["frame_s"]), int(item["frame_t"])
        np.testing.assert_array_equal([float(item["side_front_s"]), float(item["side_front_t"])],
                                      [float(item["travel_front"])] * 2)
        np.testing.assert_array_equal(float(oracle["travel_front"]), float(item["travel_front"]))
        if v == 1:  # the true side, frame by frame
            assert float(oracle["side_front_s"]) == (1.0 if s < 3 else 0.0)
            assert float(oracle["side_front_t"]) == (1.0 if t < 3 else 0.0)
    # by the chest and the head (model.side_definition=chest_and_spine), from each frame's world up
    # or, where the video has none, a camera pitched by side_elevation_deg
    from partpose.data.pairs import true_fronts
    from partpose.geometry.facing import camera_up, chest_and_spine_front

    poses = torch.from_numpy(videos[1].pose3d_cam_mm.astype(np.float64))
    expected = chest_and_spine_front(poses, camera_up(20.0)).numpy().astype(np.float32)
    np.testing.assert_array_equal(true_fronts(videos[1], "chest_and_spine", 20.0), expected)
    spine = PairDataset(videos, max_gap=2, travel_min_rate=0.005, side_label="truth", side_definition="chest_and_spine",
                        side_elevation_deg=20.0)
    item = spine[next(i for i in range(len(spine)) if int(spine[i]["video_index"]) == 1)]
    assert float(item["side_front_t"]) == float(expected[int(item["frame_t"])])
    videos[1].camera_up = np.tile(camera_up(-40.0).numpy().astype(np.float32), (6, 1))
    np.testing.assert_array_equal(true_fronts(videos[1], "chest_and_spine", 20.0),
                                  chest_and_spine_front(poses, camera_up(-40.0)).numpy().astype(np.float32))
    videos[1].camera_up = None
    with pytest.raises(ValueError, match="side_label must be one of travel, steady_travel, steady_distance, truth"):
        PairDataset(videos, side_label="oracle")
    videos[1].pose3d_cam_mm = None
    with pytest.raises(ValueError, match="side_label='truth' needs 3D poses"):
        PairDataset(videos, side_label="truth")


@pytest.mark.parametrize("labels, has3d, has2d", [("none", False, False), ("2d", False, True),
                                                   ("3d", True, False), ("both", True, True)])
def test_label_modes_hide_what_the_setting_does_not_allow(labels, has3d, has2d):
    ds = PairDataset([make_video(5)], max_gap=1, labels=labels)
    for i in range(len(ds)):
        item = ds[i]
        assert bool(item["has_pose3d_t"]) == has3d and bool(item["has_pose2d_t"]) == has2d
        if not has3d:
            assert not item["pose3d_t"].any()
        if not has2d:
            assert not item["pose2d_t"].any()


def test_semi_fraction_labels_a_fixed_random_share_of_frames():
    videos = [make_video(40, seed=k, name=f"v{k}") for k in range(5)]
    ds = PairDataset(videos, max_gap=1, labels="3d", semi_fraction=0.1, seed=3)
    labelled = {(int(it["video_index"]), int(it["frame_t"])) for it in (ds[i] for i in range(len(ds)))
                if bool(it["has_pose3d_t"])}
    assert len(labelled) == 20  # round(0.1 * 200) frames
    assert len({v for v, _ in labelled}) > 1  # spread over videos
    for i in range(len(ds)):
        item = ds[i]
        if not bool(item["has_pose3d_t"]):
            assert not item["pose3d_t"].any()
    same = PairDataset(videos, max_gap=1, labels="3d", semi_fraction=0.1, seed=3)
    other = PairDataset(videos, max_gap=1, labels="3d", semi_fraction=0.1, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(ds.has_pose3d, same.has_pose3d))
    assert not all(np.array_equal(a, b) for a, b in zip(ds.has_pose3d, other.has_pose3d))
    # the labelled items are exactly those whose I_t carries the label
    items = ds.labelled_3d_items()
    assert items.tolist() == [i for i in range(len(ds)) if bool(ds[i]["has_pose3d_t"])]


def test_absent_labels_and_background():
    video = make_video(3, labels=False)
    video.background = None
    item = PairDataset([video], max_gap=1)[0]
    assert not bool(item["background_valid"]) and not item["background"].any()
    assert torch.all(item["segmentation_t"] == -1)


def test_a_background_per_frame_is_the_target_frames():
    video = make_video(4)
    video.background = np.stack([np.full(video.frames.shape[1:], 10 * t, np.uint8) for t in range(4)])
    dataset = PairDataset([video], max_gap=3, saliency_source="motion")
    for index in range(len(dataset)):
        item = dataset[index]
        t = int(item["frame_t"])
        assert torch.allclose(item["background"], torch.full_like(item["background"], 10 * t / 255.0))
        from partpose.data.saliency import background_residual_saliency

        expected = background_residual_saliency(video.frames[t:t + 1], video.background[t])[0]
        assert torch.allclose(item["saliency_t"][0], torch.from_numpy(expected))


def test_bad_input_raises_value_errors():
    with pytest.raises(ValueError, match="labels"):
        PairDataset([make_video(3)], labels="full")
    with pytest.raises(ValueError, match="needs 3D poses"):
        PairDataset([make_video(3, labels=False)], labels="3d")
    with pytest.raises(ValueError, match="semi_fraction"):
        PairDataset([make_video(3)], labels="none", semi_fraction=0.5)
    with pytest.raises(ValueError, match="semi_fraction"):
        PairDataset([make_video(3)], labels="3d", semi_fraction=0.0)
    with pytest.raises(ValueError, match="frame size"):
        PairDataset([make_video(3), make_video(3, size=8)])
    with pytest.raises(ValueError, match="no frame pairs"):
        PairDataset([make_video(1)])
    with pytest.raises(ValueError, match="at least one"):
        PairDataset([])


def test_shared_saliency_cache_is_reused():
    cache = SaliencyCache()
    video = make_video(4)
    PairDataset([video], saliency=cache, saliency_source="static")
    PairDataset([video], saliency=cache, saliency_source="static")
    assert len(cache) == 1


def test_motion_saliency_comes_from_the_background_residual():
    video = make_video(4)
    assert video.background is not None and not video.camera_moves
    item = PairDataset([video])[0]
    t = int(item["frame_t"])
    from partpose.data.saliency import background_residual_saliency

    expected = background_residual_saliency(video.frames[t:t + 1], video.background)[0]
    assert np.allclose(item["saliency_t"][0].numpy(), expected)
    static = PairDataset([video], saliency_source="static")
    assert not np.allclose(static[0]["saliency_t"].numpy(), item["saliency_t"].numpy())
    with pytest.raises(ValueError, match="saliency_source"):
        PairDataset([video], saliency_source="nope")


def test_frame_dataset_items():
    videos = [make_video(3), make_video(2, labels=False, seed=1)]
    videos[0].camera_up = np.float32([[0, -1, 0], [0, -0.6, -0.8], [0, -0.8, -0.6]])
    ds = FrameDataset(videos)
    assert len(ds) == 5
    item = ds[1]
    assert int(item["video_index"]) == 0 and int(item["frame"]) == 1
    assert item["image"].shape == (3, 16, 16) and item["image"].dtype == torch.float32
    assert np.array_equal(item["pose3d"].numpy(), videos[0].pose3d_cam_mm[1]) and bool(item["has_pose3d"])
    assert np.array_equal(item["foreground"].numpy(), videos[0].segmentation[1] > 0)
    assert item["foreground"].dtype == torch.bool and bool(item["has_segmentation"])
    last = ds[4]
    assert int(last["video_index"]) == 1 and int(last["frame"]) == 1
    assert not bool(last["has_pose3d"]) and not bool(last["has_pose2d"]) and not bool(last["has_segmentation"])
    assert torch.all(last["segmentation"] == -1) and not last["foreground"].any()
    assert np.array_equal(item["camera_up"].numpy(), videos[0].camera_up[1]) and last["camera_up"].isnan().all()


def test_mirror_pairs_flips_the_chosen_pairs_and_keeps_the_rest():
    from partpose.data.pairs import mirror_pairs

    batch = next(iter(DataLoader(PairDataset([make_video(8, size=16)], max_gap=3, labels="both"), batch_size=4)))
    which = torch.tensor([True, False, True, False])
    out = mirror_pairs(batch, which)
    perm = [4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]  # H3.6M-17: hips, legs, arms exchanged
    perm = [0] + perm
    for i in range(4):
        for key in ("image_s", "image_t", "background", "saliency_t"):
            expected = batch[key][i].flip(-1) if which[i] else batch[key][i]
            assert torch.equal(out[key][i], expected), key
        pose = batch["pose3d_t"][i]
        expected = torch.stack([pose[perm[j]] * torch.tensor([-1.0, 1.0, 1.0]) for j in range(17)]) if which[i] else pose
        torch.testing.assert_close(out["pose3d_t"][i], expected)
        assert torch.equal(out["travel_front"][i], batch["travel_front"][i], ) or torch.isnan(out["travel_front"][i])
    assert batch["image_t"].data_ptr() != out["image_t"].data_ptr()  # the batch itself is left alone
    with pytest.raises(ValueError, match="which"):
        mirror_pairs(batch, torch.tensor([True]))


def test_pairs_carry_each_frames_world_up_and_its_mirror():
    from dataclasses import replace

    from partpose.data.pairs import mirror_pairs

    video = make_video(8, size=16)
    up = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    dataset = PairDataset([replace(video, camera_up=up), video], max_gap=3)
    for index in (0, len(dataset) - 1):  # a pair of the first video, and of the second (no up)
        v, s, t = (int(x) for x in dataset.pairs[index])
        item = dataset[index]
        for key, frame in (("camera_up_s", s), ("camera_up_t", t)):
            if v == 0:
                np.testing.assert_array_equal(item[key].numpy(), up[frame])
            else:
                assert item[key].shape == (3,) and torch.isnan(item[key]).all()
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    out = mirror_pairs(batch, torch.tensor([True, False, True, False]))
    torch.testing.assert_close(out["camera_up_t"][0], batch["camera_up_t"][0] * torch.tensor([-1.0, 1.0, 1.0]))
    torch.testing.assert_close(out["camera_up_s"][2], batch["camera_up_s"][2] * torch.tensor([-1.0, 1.0, 1.0]))
    assert torch.equal(out["camera_up_s"][1], batch["camera_up_s"][1])


def test_a_mirrored_rendered_pair_keeps_its_labels_on_its_pixels():
    """The 2D label of each limb's middle lands on that limb's part label, in the rendered frame
    and in its mirror: the joints and the parts are relabelled alike."""
    from partpose.data.pairs import mirror_pairs
    from partpose.data.synthetic import SyntheticConfig, build_synthetic_videos
    from partpose.geometry.parts import PARTS

    video = build_synthetic_videos(SyntheticConfig(resolution=64, frames_per_video=6), "train", indices=[0])[0]
    batch = next(iter(DataLoader(PairDataset([video], max_gap=2, labels="both"), batch_size=8)))
    mirrored = mirror_pairs(batch, torch.ones(len(batch["image_t"]), dtype=torch.bool))

    def agreement(items):
        hits, total = 0, 0
        for label, part in enumerate(PARTS, start=1):
            if len(part.anchors) != 2:
                continue
            a, b = part.anchor_indices()
            middle = (items["pose2d_t"][:, a] + items["pose2d_t"][:, b]) / 2  # normalised, align_corners=False
            px = ((middle + 1) * 64 / 2 - 0.5).round().long().clamp(0, 63)
            found = items["segmentation_t"][torch.arange(len(px)), px[:, 1], px[:, 0]]
            hits += int((found == label).sum())
            total += len(px)
        return hits / total

    assert agreement(batch) > 0.6
    assert agreement(mirrored) == pytest.approx(agreement(batch))
    # with the parts left unrelabelled the mirror would put every limb's label on the other side
    unrelabelled = dict(mirrored, segmentation_t=batch["segmentation_t"].flip(-1))
    assert agreement(unrelabelled) < 0.5 * agreement(batch)


def test_mirror_part_labels_by_hand():
    from partpose.geometry.mirror import mirror_part_labels
    from partpose.geometry.parts import PART_NAMES

    label = {name: i + 1 for i, name in enumerate(PART_NAMES)}
    row = torch.tensor([[0, label["head"], label["l_upper_arm"], label["r_lower_leg"], -1]])
    assert mirror_part_labels(row).tolist() == [[-1, label["l_lower_leg"], label["r_upper_arm"], label["head"], 0]]
