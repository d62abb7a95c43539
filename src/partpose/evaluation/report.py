"""Evaluate a trained model on a benchmark and report the results (``partpose evaluate``).

A benchmark is a name in :data:`BENCHMARKS`: where its test clips come from, which field of a
clip groups the per-group breakdown (action, activity, sequence) and the official protocol of
``partpose.evaluation.protocols`` that scores it. ``synthetic`` renders the default benchmark
from the checkpoint's own settings (``config.data.synthetic``), so the evaluation sees the
resolution and the clips the model was trained for. The real datasets read a folder written by
``partpose data prepare`` (``--root``); clips prepared at another crop size are resized to the
model resolution (crop coordinates are normalised, so the labels stay valid).

Every benchmark reports the same core numbers as training (``evaluation.evaluate.score``:
MPJPE, PA-MPJPE, N-MPJPE, 3DPCK@150 mm, AUC, segmentation mIoU), a per-group breakdown, and,
where one exists, the protocol's own table.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from partpose.data.pairs import FrameDataset
from partpose.data.video import Video
from partpose.errors import UserError
from partpose.evaluation import metrics
from partpose.evaluation.evaluate import Predictions, predict_frames, score, smooth_within_videos
from partpose.evaluation.protocols import h36m_protocols, mpi_inf_3dhp_protocol, pw3d_protocol


@dataclass(frozen=True)
class Benchmark:
    """How one dataset is evaluated.

    Attributes:
        name: the ``--dataset`` name.
        load: ``(config, split, root) -> videos``.
        group_label: what ``group_of`` returns (for the table header).
        group_of: the breakdown key of a clip.
        protocol: ``(pred (N, 17, 3), gt (N, 17, 3), keys (N,)) -> dict`` (the official tables),
            or ``None``.
        per_person: whether the report also breaks the metrics down by ``Video.subject`` (off
            where the group already is the person's sequence).
    """

    name: str
    load: Callable[[object, str, str | None], list[Video]]
    group_label: str
    group_of: Callable[[Video], str]
    protocol: Callable[[np.ndarray, np.ndarray, Sequence[str]], dict] | None = None
    per_person: bool = True


def synthetic_videos(config, split: str, root: str | None = None) -> list[Video]:
    """The synthetic benchmark's clips of ``split``, rendered from ``config.data.synthetic``."""
    from partpose.data.synthetic import build_synthetic_videos

    return build_synthetic_videos(config.data.synthetic, split)


def with_test_people(config, count: int):
    """``config`` (a ``TrainConfig``) with its synthetic benchmark's test split worn by ``count``
    held-out people (``data.synthetic.num_test_subjects``). The split's videos, motions, views and
    windows do not depend on the count; its people are drawn one by one from the benchmark's seed,
    so the first of them are those of the smaller split, and the videos go to them in turn."""
    synthetic = replace(config.data.synthetic, num_test_subjects=int(count))
    return replace(config, data=replace(config.data, synthetic=synthetic))


def _prepared_loader(dataset: str) -> Callable[[object, str, str | None], list[Video]]:
    def load(config, split: str, root: str | None = None) -> list[Video]:
        from partpose.data.datasets import load_prepared

        if not root:
            raise UserError(f"--root is required for --dataset {dataset}: the folder `partpose data prepare "
                            f"--dataset {dataset} --out DIR` wrote")
        index_path = Path(root) / "index.json"
        if index_path.is_file():
            try:
                held = json.loads(index_path.read_text()).get("dataset", "synthetic")
            except ValueError as error:
                raise UserError(f"{index_path}: cannot read as JSON ({error})") from None
            if held != dataset:
                raise UserError(f"{index_path}: holds dataset {held!r}, not {dataset!r}")
        elif not Path(root).is_dir():
            raise UserError(f"--root {root}: folder not found")
        return load_prepared(root, split)

    return load


BENCHMARKS: dict[str, Benchmark] = {
    "synthetic": Benchmark("synthetic", synthetic_videos, "action", lambda v: v.action),
    "h36m": Benchmark("h36m", _prepared_loader("h36m"), "action", lambda v: v.action, h36m_protocols),
    "mpi_inf_3dhp": Benchmark("mpi_inf_3dhp", _prepared_loader("mpi_inf_3dhp"), "activity", lambda v: v.action,
                              mpi_inf_3dhp_protocol),
    "3dpw": Benchmark("3dpw", _prepared_loader("3dpw"), "sequence", lambda v: v.subject, pw3d_protocol,
                      per_person=False),
}
"""``--dataset`` name → how it is evaluated (add a dataset here, with its loader and protocol)."""


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name``; ``UserError`` listing the known names otherwise."""
    if name not in BENCHMARKS:
        raise UserError(f"unknown dataset {name!r}; known datasets: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def resize_video(video: Video, size: int) -> Video:
    """``video`` with square crops resized to ``size`` (area / bilinear for frames and
    background, nearest for part labels); normalised 2D joints and 3D joints are unchanged."""
    if video.size == (size, size):
        return video
    method = cv2.INTER_AREA if video.size[0] > size else cv2.INTER_LINEAR
    frames = np.stack([cv2.resize(f, (size, size), interpolation=method) for f in video.frames])
    background = None
    if video.background is not None:
        per_frame = video.background if video.background.ndim == 4 else video.background[None]
        background = np.stack([cv2.resize(b, (size, size), interpolation=method) for b in per_frame])
        background = background if video.background.ndim == 4 else background[0]
    segmentation = None if video.segmentation is None else np.stack(
        [cv2.resize(s, (size, size), interpolation=cv2.INTER_NEAREST) for s in video.segmentation])
    return replace(video, frames=frames, background=background, segmentation=segmentation).validate()


def load_benchmark_videos(benchmark: Benchmark, config, split: str, root: str | None, resolution: int) -> list[Video]:
    """The clips of ``benchmark``'s ``split`` at ``resolution``, each with 3D ground truth.

    Raises:
        UserError: no clips, or a clip without 3D poses (nothing to evaluate against).
    """
    videos = [resize_video(v, resolution) for v in benchmark.load(config, split, root)]
    if not videos:
        raise UserError(f"{benchmark.name} {split}: no clips to evaluate")
    for video in videos:
        if video.pose3d_cam_mm is None:
            raise UserError(f"{benchmark.name} {split}: clip {video.name!r} has no 3D poses to evaluate against")
    return videos


def group_metrics(pred: Predictions, groups: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per-group pose metrics: ``{group: {"frames", "mpjpe", "pa_mpjpe", "pck3d", "auc3d"}}``,
    groups in order of first appearance, plus ``"average"`` (the mean over groups, every group
    weighted equally, as Human3.6M reports it; ``frames`` is then the total)."""
    p, g = torch.from_numpy(pred.pose_cam_mm), torch.from_numpy(pred.gt_pose_cam_mm)
    per_frame = {
        "mpjpe": metrics.mpjpe(p, g, reduction="per_frame"),
        "pa_mpjpe": metrics.pa_mpjpe(p, g, reduction="per_frame"),
        "pck3d": metrics.pck3d(p, g, reduction="per_frame"),
        "auc3d": metrics.auc3d(p, g, reduction="per_frame"),
    }
    tables = {name: metrics.breakdown(values, groups) for name, values in per_frame.items()}
    counts = Counter(groups)
    keys = list(tables["mpjpe"])  # groups in order, then "average"
    result = {}
    for key in keys:
        row: dict[str, float] = {"frames": int(counts[key]) if key != "average" else len(groups)}
        row.update({name: tables[name][key] for name in per_frame})
        result[key] = row
    return result


def evaluate_videos(model, videos: Sequence[Video], benchmark: Benchmark, max_frames: int | None = None,
                    batch_size: int = 64, device: torch.device | str = "cpu", smooth: int = 1,
                    smooth_method: str = "mean", flip_test: bool = False, side_window: int = 1) -> dict:
    """Predict every frame (evenly thinned to ``max_frames``) and score it; with ``smooth`` > 1,
    each video's poses smoothed over that many of its frames first (``smooth_within_videos``);
    with ``flip_test``, each frame read together with its mirror; with ``side_window`` other than
    1, the side network's side read over each video's frames (``predict_frames``).

    Returns:
        ``{"dataset", "frames", "metrics": score(...), "group_label", "per_group":
        group_metrics(...), "per_person": group_metrics(...) by ``Video.subject`` (when the
        benchmark breaks down by person), "protocol": the protocol's dict (when it has one),
        "smooth": {"window", "method"} (when smoothed), "flip_test": bool, "side_window": int}``.
    Raises:
        UserError: smoothing or a side window asked for with thinned frames; a side window for a
            model without a side network.
    """
    frames = FrameDataset(videos)
    thinned = max_frames is not None and max_frames < len(frames)
    if smooth > 1 and thinned:
        raise UserError("--smooth needs every frame of each video; drop --max-frames")
    if side_window != 1 and thinned:
        raise UserError("--side-window needs every frame of each video; drop --max-frames")
    if side_window != 1 and model.side is None:
        raise UserError("--side-window reads the side network's side over each video, and this model has no "
                        "side network (model.side_network)")
    pred = predict_frames(model, frames, batch_size=batch_size, max_frames=max_frames, device=device,
                          flip_test=flip_test, side_window=side_window)
    pred = smooth_within_videos(pred, smooth, smooth_method)
    groups = [benchmark.group_of(videos[int(v)]) for v in pred.video_index]
    report = {
        "dataset": benchmark.name,
        "frames": int(len(pred.pose_cam_mm)),
        "metrics": score(pred),
        "group_label": benchmark.group_label,
        "per_group": group_metrics(pred, groups),
        "flip_test": bool(flip_test),
        "side_window": int(side_window),
    }
    if benchmark.per_person:
        report["per_person"] = group_metrics(pred, [videos[int(v)].subject for v in pred.video_index])
    if benchmark.protocol is not None:
        report["protocol"] = benchmark.protocol(pred.pose_cam_mm, pred.gt_pose_cam_mm, groups)
    if smooth > 1:
        report["smooth"] = {"window": smooth, "method": smooth_method}
    return report


METRIC_LABELS = {
    "mpjpe": "MPJPE (mm)", "pa_mpjpe": "PA-MPJPE (mm)", "n_mpjpe": "N-MPJPE (mm)", "pck3d": "3DPCK@150mm (%)",
    "auc3d": "AUC (%)", "miou_fg_bg": "mIoU FG/BG (%)", "miou_parts": "mIoU parts (%)",
    "pose_spread": "pose spread (mm)", "gt_pose_spread": "true pose spread (mm)",
    "facing_error_median": "facing error, median (°)", "frames": "frames",
}
GROUP_COLUMNS = ("frames", "mpjpe", "pa_mpjpe", "pck3d", "auc3d")


def _cell(value) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def markdown_report(report: dict, title: str | None = None) -> str:
    """The report of :func:`evaluate_videos` as Markdown tables: overall metrics, the per-group
    and per-person breakdowns and the protocol's averages."""
    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {label} | {_cell(report['metrics'][key])} |" for key, label in METRIC_LABELS.items()
              if key in report["metrics"]]
    for key, label in (("per_group", report.get("group_label", "group")), ("per_person", "person")):
        table = report.get(key) or {}
        if not table:
            continue
        lines += ["", f"| {label} | " + " | ".join(METRIC_LABELS[c] for c in GROUP_COLUMNS) + " |",
                  "|---" * (len(GROUP_COLUMNS) + 1) + "|"]
        for group, row in table.items():
            name = f"**average over {label}s**" if group == "average" else group
            lines.append(f"| {name} | " + " | ".join(_cell(row[c]) for c in GROUP_COLUMNS) + " |")
    protocol = report.get("protocol")
    if protocol:
        lines += ["", f"| {report['dataset']} protocol | average over {report.get('group_label', 'group')}s | all frames |",
                  "|---|---|---|"]
        for key, value in protocol.items():
            if isinstance(value, dict):
                lines.append(f"| {key} | {_cell(value.get('average', ''))} | {_cell(value.get('all', ''))} |")
    return "\n".join(lines)
