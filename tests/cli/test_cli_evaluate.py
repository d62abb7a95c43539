"""``partpose evaluate`` end to end on the tiny synthetic benchmark."""

import json

import torch

from partpose.data.datasets.crops import save_prepared
from partpose.data.synthetic import build_synthetic_videos
from partpose.inference.loading import load_model


def test_evaluate_matches_training_evaluation(cli, trained_run, checkpoint, tmp_path):
    out = tmp_path / "report.json"
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint, "--max-frames", 8, "--out", out)
    assert status == 0
    report = json.loads(out.read_text())
    final = json.loads((trained_run / "final_metrics.json").read_text())["metrics"]
    # Same model, same 8 evenly spread test frames as the trainer's final evaluation.
    for key in ("mpjpe", "pa_mpjpe", "n_mpjpe", "pck3d", "auc3d", "miou_fg_bg", "miou_parts",
                "pose_spread", "gt_pose_spread", "facing_error_median"):
        assert abs(report["metrics"][key] - final[key]) < 1e-3, key
    assert report["frames"] == 8 and report["step"] == 3 and report["dataset"] == "synthetic"
    assert "| MPJPE (mm) |" in stdout and "| action |" in stdout


def test_evaluate_per_action_table(cli, checkpoint, tmp_path):
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint.parent.parent)  # a run folder
    assert status == 0
    default_out = checkpoint.parent / "evaluation_synthetic_test.json"
    report = json.loads(default_out.read_text())
    config = load_model(checkpoint).config
    actions = [v.action for v in build_synthetic_videos(config.data.synthetic, "test")]
    assert list(report["per_group"]) == list(dict.fromkeys(actions)) + ["average"]
    assert sum(row["frames"] for k, row in report["per_group"].items() if k != "average") == report["frames"]
    means = [row["mpjpe"] for k, row in report["per_group"].items() if k != "average"]
    assert abs(report["per_group"]["average"]["mpjpe"] - sum(means) / len(means)) < 1e-6
    for action in set(actions):
        assert f"| {action} |" in stdout


def test_evaluate_smoothed_within_each_video(cli, assert_one_line_error, checkpoint, tmp_path):
    from partpose.data.pairs import FrameDataset
    from partpose.evaluation.evaluate import predict_frames, score
    from partpose.geometry.view_smoothing import smooth_view
    from partpose.utils.smoothing import smooth_sequence

    out = tmp_path / "smoothed.json"
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint, "--smooth", 3, "--out", out)
    assert status == 0 and "smoothed over 3 frames" in stdout
    report = json.loads(out.read_text())
    assert report["smooth"] == {"window": 3, "method": "mean"}
    # by hand: every video's poses smoothed on their own, then scored
    loaded = load_model(checkpoint)
    videos = build_synthetic_videos(loaded.config.data.synthetic, "test")
    pred = predict_frames(loaded.model, FrameDataset(videos), with_segmentation=False)
    start = 0
    for video in videos:
        part = slice(start, start + video.num_frames)
        pred.pose_cam_mm[part] = smooth_sequence(pred.pose_cam_mm[part], 3)
        start += video.num_frames
    assert abs(report["metrics"]["mpjpe"] - score(pred)["mpjpe"]) < 1e-3
    status, _, _ = cli("evaluate", "--checkpoint", checkpoint, "--smooth", 3, "--smooth-method", "view", "--out", out)
    view = json.loads(out.read_text())
    assert status == 0 and view["smooth"] == {"window": 3, "method": "view"}
    pred = predict_frames(loaded.model, FrameDataset(videos), with_segmentation=False)
    start = 0
    for video in videos:  # by hand again: each video's view alone
        part = slice(start, start + video.num_frames)
        pred.pose_cam_mm[part] = smooth_view(pred.pose_cam_mm[part], 3)
        start += video.num_frames
    assert abs(view["metrics"]["mpjpe"] - score(pred)["mpjpe"]) < 1e-3
    assert abs(view["metrics"]["pa_mpjpe"] - score(pred)["pa_mpjpe"]) < 1e-3
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--smooth", 4), "--smooth")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--smooth", 3, "--max-frames", 8), "--max-frames")


def test_evaluate_prepared_dataset_with_protocol(cli, checkpoint, tmp_path):
    # A folder in the prepared layout (here: synthetic clips at 40 px, labelled as Human3.6M) is
    # resized to the model's 32 px and scored with the Human3.6M protocol.
    config = load_model(checkpoint).config
    synthetic = config.data.synthetic
    synthetic.resolution = 40
    videos = build_synthetic_videos(synthetic, "test")
    save_prepared(videos, tmp_path / "prepared", "test", "h36m", progress=False)
    out = tmp_path / "h36m.json"
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint, "--dataset", "h36m",
                            "--root", tmp_path / "prepared", "--out", out)
    assert status == 0
    report = json.loads(out.read_text())
    protocol = report["protocol"]
    assert protocol["num_frames"] == report["frames"] == sum(v.num_frames for v in videos)
    assert abs(protocol["mpjpe"]["average"] - report["per_group"]["average"]["mpjpe"]) < 1e-3
    assert "h36m protocol" in stdout


def test_evaluate_unknown_dataset(cli, assert_one_line_error, checkpoint):
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--dataset", "nope"),
                          "unknown dataset", "synthetic", "h36m")


def test_evaluate_bad_checkpoints(cli, assert_one_line_error, tmp_path):
    assert_one_line_error(cli("evaluate", "--checkpoint", tmp_path / "missing.pt"), "not found")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "random.pt")
    assert_one_line_error(cli("evaluate", "--checkpoint", tmp_path / "random.pt"), "not a partpose checkpoint")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    assert_one_line_error(cli("evaluate", "--checkpoint", tmp_path / "text.pt"), "text.pt")


def test_evaluate_real_dataset_needs_root(cli, assert_one_line_error, checkpoint, tmp_path):
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--dataset", "mpi_inf_3dhp"), "--root")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--dataset", "3dpw", "--root", tmp_path / "none"),
                          "none")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--max-frames", 0), "--max-frames")


def test_evaluate_flip_test(cli, checkpoint, tmp_path):
    from partpose.data.pairs import FrameDataset
    from partpose.evaluation import metrics
    from partpose.evaluation.evaluate import thin_frames

    out = tmp_path / "flip.json"
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint, "--max-frames", 8, "--flip-test", "--out", out)
    assert status == 0 and "flip test" in stdout
    report = json.loads(out.read_text())
    assert report["flip_test"] is True and report["frames"] == 8
    # by hand: each frame with its camera's up through encode_flip_test, root-relative, scored
    loaded = load_model(checkpoint)
    frames = thin_frames(FrameDataset(build_synthetic_videos(loaded.config.data.synthetic, "test")), 8)
    items = [frames[i] for i in range(len(frames))]
    with torch.no_grad():
        est = loaded.model.eval().encode_flip_test(torch.stack([x["image"] for x in items]),
                                                   torch.stack([x["camera_up"] for x in items]))
    pose = est.pose_cam_mm - est.pose_cam_mm[:, :1]
    truth = torch.stack([x["pose3d"].float() for x in items])
    assert abs(report["metrics"]["mpjpe"] - float(metrics.mpjpe(pose, truth - truth[:, :1]))) < 1e-3
    status, _, _ = cli("evaluate", "--checkpoint", checkpoint, "--max-frames", 8, "--out", tmp_path / "plain.json")
    assert status == 0 and json.loads((tmp_path / "plain.json").read_text())["flip_test"] is False


def _evaluated(cli, checkpoint, out, *flags) -> tuple[str, dict]:
    """``partpose evaluate --checkpoint checkpoint *flags --out out``, which must succeed: its
    standard output and its report."""
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint, *flags, "--out", out)
    assert status == 0
    return stdout, json.loads(out.read_text())


def _test_videos(checkpoint):
    """Each test video of the checkpoint's synthetic benchmark: its images ``(T, 3, H, W)``, the
    world's up in its frames ``(T, 3)`` and its root-relative true poses ``(T, 17, 3)``."""
    from partpose.data.pairs import FrameDataset

    for video in build_synthetic_videos(load_model(checkpoint).config.data.synthetic, "test"):
        items = list(FrameDataset([video]))
        truth = torch.stack([x["pose3d"].float() for x in items])
        yield torch.stack([x["image"] for x in items]), torch.stack([x["camera_up"] for x in items]), truth - truth[:, :1]


def test_evaluate_side_window(cli, assert_one_line_error, checkpoint, side_checkpoint, tmp_path):
    from partpose.evaluation import metrics

    stdout, report = _evaluated(cli, side_checkpoint, tmp_path / "side.json", "--side-window", 0)
    assert "the side read over the whole video" in stdout and report["side_window"] == 0
    # by hand: each video's frames read together, their side logits averaged, every pose turned to that side
    model = load_model(side_checkpoint).model.eval()
    poses, truths = [], []
    for images, ups, truth in _test_videos(side_checkpoint):
        with torch.no_grad():
            front = model.side_logits(images).mean().expand(len(images))
            pose = model.encode_sided(images, ups, front_logits=front).pose_cam_mm
        poses.append(pose - pose[:, :1])
        truths.append(truth)
    expected = float(metrics.mpjpe(torch.cat(poses), torch.cat(truths)))
    assert abs(report["metrics"]["mpjpe"] - expected) < 1e-3
    assert_one_line_error(cli("evaluate", "--checkpoint", side_checkpoint, "--side-window", 2), "--side-window")
    assert_one_line_error(cli("evaluate", "--checkpoint", side_checkpoint, "--side-window", 3, "--max-frames", 8),
                          "--max-frames")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--side-window", 0), "no side network")


def test_evaluate_with_the_ground_band(cli, assert_one_line_error, checkpoint, side_checkpoint, tmp_path):
    from partpose.evaluation import metrics
    from partpose.geometry import facing

    stdout, report = _evaluated(cli, side_checkpoint, tmp_path / "ground.json", "--ground-band", 90)
    assert "within 90° of level sided by the ground" in stdout and report["ground_band_deg"] == 90.0
    # by hand: within 90° of level is every body; each takes, of its pose and its upright twin, the
    # one whose nearer end by the chest and the head is the one its 2D hands and legs say
    model = load_model(side_checkpoint).model.eval()
    images, ups, truth = (torch.cat(parts) for parts in zip(*_test_videos(side_checkpoint)))
    with torch.no_grad():
        est = model.encode(images)
    up = model.world_up(ups, est.pose_cam_mm)
    keep = facing.chest_and_spine_front(est.pose_cam_mm, up) == facing.ground_front(est.q, up)
    pose = torch.where(keep[:, None, None], est.pose_cam_mm, facing.upright_twin_pose(est.pose_cam_mm, up))
    expected = float(metrics.mpjpe(pose - pose[:, :1], truth))
    assert abs(report["metrics"]["mpjpe"] - expected) < 1e-3
    assert_one_line_error(cli("evaluate", "--checkpoint", side_checkpoint, "--ground-band", 95), "--ground-band")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--ground-band", 30), "no side network")


def test_evaluate_with_more_test_people(cli, assert_one_line_error, checkpoint, tmp_path):
    from partpose.evaluation.report import with_test_people

    out = tmp_path / "people.json"
    status, stdout, _ = cli("evaluate", "--checkpoint", checkpoint, "--test-people", 3, "--out", out)
    assert status == 0 and "3 test people" in stdout
    report = json.loads(out.read_text())
    config = with_test_people(load_model(checkpoint).config, 3)
    videos = build_synthetic_videos(config.data.synthetic, "test")
    people = [v.subject for v in videos]
    assert report["test_people"] == 3 and len(set(people)) == min(3, len(videos))
    assert list(report["per_person"]) == list(dict.fromkeys(people)) + ["average"]
    for person in set(people):
        assert f"| {person} |" in stdout
    frames = {p: sum(v.num_frames for v in videos if v.subject == p) for p in set(people)}
    assert {p: row["frames"] for p, row in report["per_person"].items() if p != "average"} == frames
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--test-people", 0), "--test-people")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--test-people", 2, "--split", "train"),
                          "--test-people")


def test_evaluate_with_added_side_networks(cli, assert_one_line_error, checkpoint, side_checkpoint, tmp_path):
    from partpose.evaluation import metrics
    from partpose.models.side import SideNetwork
    from partpose.training import checkpoint as ckpt

    # a side network taught again beside the same pose network: the checkpoint with new side weights
    payload = ckpt.load(side_checkpoint, map_location="cpu")
    model = load_model(side_checkpoint).model.eval()
    torch.manual_seed(5)
    other = SideNetwork(model.config.encoder, model.config.side_input, model.config.side_patch_size).eval()
    payload["model"].update({f"side.{k}": v for k, v in other.state_dict().items()})
    refit = tmp_path / "refit.pt"
    ckpt.save_atomic(payload, refit)
    stdout, report = _evaluated(cli, side_checkpoint, tmp_path / "both.json", "--add-side", refit)
    assert "the side read by 2 side networks together" in stdout and report["added_side_networks"] == [str(refit)]
    # by hand: every pose turned to the side the two networks' mean logit reads
    poses, truths = [], []
    for images, ups, truth in _test_videos(side_checkpoint):
        with torch.no_grad():
            front = (model.side_logits(images) + other(images)) / 2
            pose = model.encode_sided(images, ups, front_logits=front).pose_cam_mm
        poses.append(pose - pose[:, :1])
        truths.append(truth)
    expected = float(metrics.mpjpe(torch.cat(poses), torch.cat(truths)))
    assert abs(report["metrics"]["mpjpe"] - expected) < 1e-3
    assert_one_line_error(cli("evaluate", "--checkpoint", side_checkpoint, "--add-side", checkpoint), "no side network")
    assert_one_line_error(cli("evaluate", "--checkpoint", checkpoint, "--add-side", refit), "has none")
