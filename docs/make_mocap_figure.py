"""Draw skeletons from a few DeepMimic clips into docs/images/mocap_skeletons.png.

Each row is one clip, six frames spread evenly over it, seen from the front-right (azimuth -50
degrees from the body's face vector, 12 degrees above the horizon). The clip is turned about
the vertical so that its first frame faces +X; each frame is moved to its own slot by its pelvis
x, y (height kept, so jumps and floor contact show) and drawn side by side. Left limbs blue, right limbs red.

Usage: python docs/make_mocap_figure.py [output.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from partpose.data.mocap import load_deepmimic_clips  # noqa: E402
from partpose.geometry.kinematics import canonicalize  # noqa: E402
from partpose.geometry.skeleton import H36M17  # noqa: E402

CLIPS = ("walk", "run", "cartwheel", "dance_a", "kick", "getup_faceup")
FRAMES_PER_CLIP = 6
AZIMUTH_DEG, ELEVATION_DEG = -50.0, 12.0
SLOT_MM = 1500.0
"""Horizontal drawing distance between the frames of a row."""


def _heading_rotation(pose_mm: np.ndarray) -> np.ndarray:
    """Rotation about world Z that turns the pose's face vector onto +X."""
    _, canon_R_world = canonicalize(torch.tensor(pose_mm[None], dtype=torch.float64))
    face = canon_R_world[0, 0].numpy()
    yaw = np.arctan2(face[1], face[0])
    c, s = np.cos(-yaw), np.sin(-yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _view(points_mm: np.ndarray) -> np.ndarray:
    """(..., 3) z-up points -> (..., 2) drawing coordinates (right, up) of an oblique view."""
    az, el = np.deg2rad(AZIMUTH_DEG), np.deg2rad(ELEVATION_DEG)
    right = np.array([-np.sin(az), np.cos(az), 0.0])
    toward_viewer = np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
    up = np.cross(toward_viewer, right)
    return np.stack([points_mm @ right, points_mm @ up], axis=-1)


def main(out: Path) -> None:
    clips = load_deepmimic_clips(CLIPS)
    left, right = set(H36M17.left), set(H36M17.right)
    fig, axes = plt.subplots(len(clips), 1, figsize=(9, 2.3 * len(clips)))
    for ax, clip in zip(axes, clips):
        poses = clip.poses_mm.astype(np.float64)
        poses = poses @ _heading_rotation(poses[0]).T
        frames = np.linspace(0, len(poses) - 1, FRAMES_PER_CLIP).round().astype(int)
        for slot, t in enumerate(frames):
            pose = poses[t].copy()
            pose[:, :2] -= pose[H36M17.root, :2]
            offset = np.array([slot * SLOT_MM, 0.0])
            xy = _view(pose) + offset
            floor = _view(np.array([[0.0, -600.0, 0.0], [0.0, 600.0, 0.0]])) + offset
            ax.plot(floor[:, 0], floor[:, 1], color="0.8", lw=1)
            for parent, child in H36M17.bones:
                colour = "tab:blue" if child in left else "tab:red" if child in right else "k"
                ax.plot(xy[[parent, child], 0], xy[[parent, child], 1], color=colour, lw=2)
            ax.plot(xy[H36M17.index("head"), 0], xy[H36M17.index("head"), 1], "o", color="k", ms=3)
            ax.text(offset[0], -480, f"t={t}", ha="center", fontsize=7, color="0.4")
        ax.set_title(f"{clip.name}: {clip.num_frames} frames at {clip.fps:.0f} fps", fontsize=9, loc="left")
        ax.set_aspect("equal")
        ax.set_xlim(-800, (FRAMES_PER_CLIP - 1) * SLOT_MM + 800)
        ax.set_ylim(-550, 2000)
        ax.axis("off")
    fig.suptitle("DeepMimic clips as H36M17 skeletons (mm, z up; left blue, right red)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "images" / "mocap_skeletons.png")
