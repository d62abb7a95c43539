"""Pictures of inference results: tiles, captioned grids, animations and 3D skeleton plots.

Convention:
    Pictures are ``(H, W, 3)`` uint8 RGB numpy arrays (a stack is ``(N, H, W, 3)``). Model
    images are ``(B, 3, H, W)`` floats in [0, 1]. 2D joints are normalised crop coordinates
    (``affine_grid``, ``align_corners=False``), so they are drawn at any tile size. 3D poses are
    camera-frame millimetres (x right, y down, z away from the camera); the 3D plots show them
    with up = -y so that the person stands upright.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from partpose.data.preview import colour_labels, draw_skeleton
from partpose.errors import UserError
from partpose.geometry.skeleton import H36M17, Skeleton

ANIMATION_FORMATS = ("gif", "mp4")

_LEFT, _RIGHT, _CENTRE = "#3c8cff", "#ff503c", "#50e650"  # the colours of preview.draw_skeleton


def ensure_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if needed; ``UserError`` when it cannot be made (a
    file in the way, no permission)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot create the folder {folder} ({error.strerror or error})") from None
    return folder


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` floats in [0, 1] → ``(B, H, W, 3)`` uint8 (clamped, rounded)."""
    return (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def enlarge(image: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    """Resize a square ``(s, s, ...)`` picture to ``(side, side, ...)`` (bilinear, or
    nearest-neighbour for label colours so that part boundaries stay crisp)."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (side, side), interpolation=interpolation)


def caption(tile: np.ndarray, text: str, scale: float = 0.4) -> np.ndarray:
    """A copy of ``tile`` with ``text`` written in its top-left corner on a dark band."""
    out = np.ascontiguousarray(tile.copy())
    if not text:
        return out
    (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    band = min(out.shape[0], height + baseline + 4)
    out[:band, : min(out.shape[1], width + 6)] //= 3
    cv2.putText(out, text, (3, height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def grid(rows: Sequence[Sequence[np.ndarray | None]], pad: int = 2, fill: int = 255) -> np.ndarray:
    """Tile pictures of one size into rows; ``None`` leaves a blank cell.

    Args:
        rows: rows of ``(h, w, 3)`` uint8 tiles (rows may have different lengths).
        pad: pixels of ``fill`` between and around tiles.
    Returns:
        ``(R·(h+pad)+pad, C·(w+pad)+pad, 3)`` uint8 with ``C`` the longest row.
    """
    tiles = [t for row in rows for t in row if t is not None]
    if not tiles:
        raise ValueError("grid needs at least one picture")
    h, w = tiles[0].shape[:2]
    if any(t.shape != (h, w, 3) for t in tiles):
        raise ValueError(f"every tile must have shape {(h, w, 3)}")
    columns = max(len(row) for row in rows)
    out = np.full((len(rows) * (h + pad) + pad, columns * (w + pad) + pad, 3), fill, np.uint8)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            if tile is not None:
                y, x = pad + i * (h + pad), pad + j * (w + pad)
                out[y:y + h, x:x + w] = tile
    return out


def segmentation_overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Part colours blended over the picture where ``labels > 0``; the background is dimmed.

    Args:
        image: ``(H, W, 3)`` uint8; labels: ``(H, W)`` part labels (0 = background).
    """
    colours = colour_labels(labels).astype(np.float32)
    base = image.astype(np.float32)
    foreground = (labels > 0)[..., None]
    out = np.where(foreground, (1 - alpha) * base + alpha * colours, 0.45 * base)
    return out.round().clip(0, 255).astype(np.uint8)


def skeleton_tile(image: np.ndarray, q_norm: np.ndarray, side: int) -> np.ndarray:
    """The crop enlarged to ``side`` pixels with its 2D skeleton ``(17, 2)`` drawn on it."""
    return draw_skeleton(enlarge(image, side), q_norm, thickness=max(1, side // 96))


def write_animation(path: str | Path, frames: np.ndarray, fps: float = 10.0) -> Path:
    """Write ``(N, H, W, 3)`` uint8 frames as an animated GIF or an H.264 MP4 (by suffix).

    Raises:
        UserError: another suffix, or a file that cannot be written.
    """
    import imageio.v3 as iio

    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in ANIMATION_FORMATS:
        raise UserError(f"{path}: animations are written as {' or '.join('.' + k for k in ANIMATION_FORMATS)}")
    frames = np.ascontiguousarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (N, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    ensure_folder(path.parent)
    fps = float(fps) if fps and fps > 0 else 10.0
    try:
        if kind == "gif":
            iio.imwrite(path, frames, extension=".gif", duration=1000.0 / fps, loop=0)
        else:
            h, w = frames.shape[1:3]
            even = frames[:, : h - h % 2, : w - w % 2]  # H.264 in yuv420p needs even sides
            iio.imwrite(path, even, fps=fps, plugin="pyav", codec="libx264")
    except OSError as error:
        raise UserError(f"{path}: cannot write ({error})") from None
    return path


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB uint8 picture as PNG. Raises ``UserError`` when the file cannot be written."""
    path = Path(path)
    ensure_folder(path.parent)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise UserError(f"cannot write {path}")
    return path


def plot_skeleton_3d(ax, pose_cam_mm: np.ndarray, skeleton: Skeleton = H36M17, radius_mm: float = 1000.0) -> None:
    """Draw one root-relative camera-frame pose ``(J, 3)`` mm on a Matplotlib 3D axis.

    Convention:
        Plot axes: horizontal x = camera x (right), depth = camera z (away from the camera),
        vertical = -camera y (up). Bones are coloured left blue, right red, centre green; the
        view looks from slightly above and to the side of the camera.
    """
    p = np.asarray(pose_cam_mm, dtype=np.float64)
    p = p - p[skeleton.root]
    xs, ys, zs = p[:, 0], p[:, 2], -p[:, 1]
    left, right = set(skeleton.left), set(skeleton.right)
    for parent, child in skeleton.bones:
        colour = _LEFT if child in left else _RIGHT if child in right else _CENTRE
        ax.plot([xs[parent], xs[child]], [ys[parent], ys[child]], [zs[parent], zs[child]], color=colour, lw=2)
    ax.scatter(xs, ys, zs, s=6, c="k", depthshade=False)
    ax.set_xlim(-radius_mm, radius_mm)
    ax.set_ylim(-radius_mm, radius_mm)
    ax.set_zlim(-radius_mm, radius_mm)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x (mm)", fontsize=7, labelpad=-8)
    ax.set_ylabel("depth z (mm)", fontsize=7, labelpad=-8)
    ax.set_zlabel("up (mm)", fontsize=7, labelpad=-8)
    ax.tick_params(labelsize=5, pad=-3)
    ax.view_init(elev=15, azim=-70)


def skeleton_figure(path: str | Path, images: np.ndarray, q_norm: np.ndarray, pose_cam_mm: np.ndarray,
                    titles: Sequence[str], tile: int = 256) -> Path:
    """One column per frame: the crop with its 2D skeleton above its 3D skeleton.

    Args:
        images: ``(K, S, S, 3)`` uint8 crops; q_norm: ``(K, 17, 2)``; pose_cam_mm: ``(K, 17, 3)``.
        titles: ``K`` column titles.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(images)
    fig = plt.figure(figsize=(3.0 * k, 6.0), dpi=100)
    try:
        for i in range(k):
            ax = fig.add_subplot(2, k, i + 1)
            ax.imshow(skeleton_tile(images[i], q_norm[i], tile))
            ax.set_title(titles[i], fontsize=9)
            ax.axis("off")
            ax3 = fig.add_subplot(2, k, k + i + 1, projection="3d")
            plot_skeleton_3d(ax3, pose_cam_mm[i])
        fig.tight_layout()
        path = Path(path)
        ensure_folder(path.parent)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
