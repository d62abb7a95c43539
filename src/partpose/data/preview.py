"""Contact sheets of a dataset: frames, skeleton overlay, part segmentation, clip background and
saliency, one row per video.

Convention:
    Images are ``(H, W, 3)`` uint8 RGB. 2D joints are normalised crop coordinates
    (``align_corners=False``): the pixel centre ``u`` is at ``x = (2u + 1) / W - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import json

import cv2
import numpy as np
import torch

from partpose.data.datasets import PREPARE
from partpose.data.saliency import background_residual_saliency, saliency_maps
from partpose.data.video import Video, load_video
from partpose.errors import UserError
from partpose.geometry.puppet import draw_labels_rgb
from partpose.geometry.skeleton import H36M17, Skeleton

DATASETS = ("synthetic", *PREPARE)
"""Datasets ``partpose data preview`` knows: the synthetic benchmark (rendered, or the folder
``partpose data synth`` wrote) and every dataset ``partpose data prepare`` writes."""

COLUMNS = ("frame", "skeleton", "parts", "background", "saliency")

_LEFT, _RIGHT, _CENTRE = (60, 140, 255), (255, 80, 60), (80, 230, 80)


def colour_labels(segmentation: np.ndarray) -> np.ndarray:
    """``(..., H, W)`` part labels (0 = background) -> ``(..., H, W, 3)`` uint8 RGB, the puppet's
    palette."""
    return draw_labels_rgb(torch.from_numpy(np.asarray(segmentation).astype(np.int64))).numpy()


def draw_skeleton(image: np.ndarray, pose2d_norm: np.ndarray, skeleton: Skeleton = H36M17,
                  thickness: int = 1) -> np.ndarray:
    """Draw a 2D skeleton (bones coloured left blue, right red, centre green) on a copy of
    ``image`` ``(H, W, 3)`` uint8; ``pose2d_norm`` is ``(J, 2)`` normalised coordinates."""
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    shift = 4  # sub-pixel drawing: coordinates in 1/16 pixel
    u = ((pose2d_norm[:, 0] + 1.0) * w - 1.0) / 2.0
    v = ((pose2d_norm[:, 1] + 1.0) * h - 1.0) / 2.0
    pts = np.round(np.stack([u, v], axis=1) * (1 << shift)).astype(np.int64)
    left, right = set(skeleton.left), set(skeleton.right)
    for parent, child in skeleton.bones:
        colour = _LEFT if child in left else _RIGHT if child in right else _CENTRE
        cv2.line(out, tuple(map(int, pts[parent])), tuple(map(int, pts[child])), colour, thickness,
                 cv2.LINE_AA, shift)
    for j, p in enumerate(pts):
        colour = _LEFT if j in left else _RIGHT if j in right else _CENTRE
        cv2.circle(out, tuple(map(int, p)), max(1, thickness) << shift, colour, -1, cv2.LINE_AA, shift)
    return out


def _heatmap(saliency: np.ndarray) -> np.ndarray:
    grey = np.clip(saliency * 255.0, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)[..., ::-1]


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(tile, text, (3, tile.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def contact_sheet(videos: Sequence[Video], frames_per_video: int = 1, tile: int | None = None) -> np.ndarray:
    """A grid: per video and chosen frame one row of :data:`COLUMNS` tiles.

    Args:
        videos: the videos (any sizes).
        frames_per_video: frames shown per video, spread evenly over it.
        tile: side of every tile in pixels (crops are enlarged with nearest-neighbour, so pixels
            stay visible); ``None``: the smallest whole multiple of the first video's side that is
            at least 160.
    Returns:
        ``(rows * tile + header, len(COLUMNS) * tile, 3)`` uint8 RGB.
    """
    if not videos:
        raise ValueError("contact_sheet needs at least one video")
    if tile is None:
        side = videos[0].size[0]
        tile = side * max(1, -(-160 // side))
    rows = []
    for video in videos:
        picks = np.unique(np.linspace(0, video.num_frames - 1, frames_per_video).round().astype(int))
        if video.background is not None and not video.camera_moves:  # what training uses (PairDataset)
            backgrounds = np.stack([video.background_at(t) for t in picks])
            saliency = background_residual_saliency(video.frames[picks], backgrounds)
        else:
            saliency = saliency_maps(video.frames[picks])
        for k, t in enumerate(picks):
            frame = cv2.resize(video.frames[t], (tile, tile), interpolation=cv2.INTER_NEAREST)
            tiles = [_label(frame.copy(), f"{video.action} t={t}")]
            overlay = frame if video.pose2d_norm is None else draw_skeleton(frame, video.pose2d_norm[t], thickness=2)
            tiles.append(_label(overlay, video.subject))
            if video.segmentation is not None:
                parts = colour_labels(video.segmentation[t])
                tiles.append(cv2.resize(parts, (tile, tile), interpolation=cv2.INTER_NEAREST))
            else:
                tiles.append(_label(np.full((tile, tile, 3), 64, np.uint8), "no labels"))
            if video.background is not None:
                background = cv2.resize(video.background_at(t), (tile, tile), interpolation=cv2.INTER_NEAREST)
                tiles.append(_label(background, "camera moves" if video.camera_moves else "static"))
            else:
                tiles.append(_label(np.full((tile, tile, 3), 64, np.uint8), "no background"))
            tiles.append(cv2.resize(_heatmap(saliency[k]), (tile, tile), interpolation=cv2.INTER_NEAREST))
            rows.append(np.concatenate(tiles, axis=1))
    header = np.zeros((22, len(COLUMNS) * tile, 3), np.uint8)
    for c, name in enumerate(COLUMNS):
        cv2.putText(header, name, (c * tile + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([header] + rows, axis=0)


def preview_videos(dataset: str, split: str | None = None, n: int = 6, resolution: int = 64, seed: int = 0,
                   root: str | Path | None = None) -> list[Video]:
    """``n`` videos of a dataset's split, spread over it (for previews).

    Args:
        dataset: one of :data:`DATASETS`.
        split: the split (``None``: ``train`` when there is one, else the first prepared split).
        n: number of videos.
        resolution, seed: the rendered synthetic benchmark's (without ``root``).
        root: a prepared folder (``partpose data prepare`` or ``partpose data synth``); required
            for every dataset but ``synthetic``.
    """
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; known datasets: {', '.join(DATASETS)}")
    if n < 1:
        raise UserError(f"--n must be >= 1, got {n}")
    if root is not None:
        return prepared_videos(root, dataset, split, n)
    if dataset != "synthetic":
        raise UserError(f"--root is required for {dataset}: the folder written by "
                        f"`partpose data prepare --dataset {dataset} --root DIR --out DIR`")
    from partpose.data.synthetic import SyntheticConfig, build_synthetic_videos

    split = "train" if split is None else split
    return build_synthetic_videos(SyntheticConfig(resolution=resolution, seed=seed), split, spread=n)


def prepared_videos(root: str | Path, dataset: str, split: str | None = None, n: int = 6) -> list[Video]:
    """``n`` clips of a prepared folder's split, spread evenly over its index (only those are read).

    Raises:
        UserError: no index, an index of another dataset, an unknown split or a missing file.
    """
    root = Path(root)
    index_path = root / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise UserError(f"{index_path}: not a prepared dataset (run `partpose data prepare` first)") from None
    except ValueError as error:
        raise UserError(f"{index_path}: cannot read as JSON ({error})") from None
    held = index.get("dataset", "synthetic")  # `partpose data synth` writes no name
    if held != dataset:
        raise UserError(f"{index_path}: holds dataset {held!r}, not {dataset!r}")
    splits = index.get("splits", {})
    if split is None:
        split = "train" if "train" in splits or not splits else next(iter(splits))
    if split not in splits or not splits[split]["videos"]:
        raise UserError(f"{index_path}: no split {split!r} (prepared: {', '.join(splits) or 'none'})")
    entries = splits[split]["videos"]
    picks = np.unique(np.linspace(0, len(entries) - 1, min(n, len(entries))).round().astype(int))
    videos = []
    for k in picks:
        path = root / entries[k]["file"]
        if not path.is_file():
            raise UserError(f"{path}: listed in {index_path} but missing")
        videos.append(load_video(path))
    return videos


def write_preview(path: str | Path, dataset: str = "synthetic", split: str | None = None, n: int = 6,
                  resolution: int = 64, seed: int = 0, root: str | Path | None = None) -> Path:
    """Render a contact sheet of ``n`` videos of a dataset to a PNG file; returns its path
    (arguments of :func:`preview_videos`)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UserError(f"the preview is a PNG file; got {path}")
    sheet = contact_sheet(preview_videos(dataset, split, n, resolution, seed, root))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise UserError(f"cannot write {path}")
    return path
