"""Draw docs/images/puppet.png: the part-based 2D puppet (T_s) of four poses.

Every row is one pose, built with forward kinematics (T_fk) from hand-set local vectors and
projected (T_c) from a different view. Columns: the 2D skeleton (bones in their part's colour,
left joints hollow), the depth-composed part maps (colours mixed by the soft labels), the hard
labels, the foreground mask and the boundary uncertainty.

    python docs/make_puppet_figure.py [--out docs/images/puppet.png] [--size 128]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from partpose.geometry.camera import project, view_rotation  # noqa: E402
from partpose.geometry.kinematics import forward_kinematics  # noqa: E402
from partpose.geometry.parts import PARTS  # noqa: E402
from partpose.geometry.puppet import (  # noqa: E402
    PALETTE,
    draw_labels_rgb,
    draw_maps_rgb,
    foreground,
    labels,
    part_maps,
    uncertainty,
)
from partpose.geometry.skeleton import H36M17, default_bone_lengths  # noqa: E402

SLOT = {name: k for k, name in enumerate(H36M17.names[j] for j in H36M17.fk_joints)}

# Local vectors (supplementary §2), in the frame (a, b, n) of the parent limb: a along the parent
# limb, b the face vector made orthogonal to it, n = a x b. Below the shoulders and hips:
# a = +Y (left) or -Y (right), b = +X (forward), so n = -Z on the left and +Z on the right.
STRAIGHT = (1.0, 0.0, 0.0)
DOWN_LEFT, DOWN_RIGHT = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)  # from a shoulder or hip: straight down
OUT_LEFT, OUT_RIGHT = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)  # from the thorax: sideways (+Y / -Y)


def _pose(**overrides: tuple[float, float, float]) -> torch.Tensor:
    vectors = {name: STRAIGHT for name in SLOT}
    vectors.update(l_shoulder=OUT_LEFT, r_shoulder=OUT_RIGHT, l_elbow=DOWN_LEFT, r_elbow=DOWN_RIGHT,
                   l_knee=DOWN_LEFT, r_knee=DOWN_RIGHT, nose=(1.0, 0.15, 0.0))
    vectors.update(overrides)
    return torch.tensor([vectors[name] for name in SLOT], dtype=torch.float32)


POSES = (
    # name, local vectors, camera azimuth / elevation (degrees)
    ("standing, front view", _pose(l_elbow=(0.25, 0.0, 1.0), r_elbow=(0.25, 0.0, -1.0)), 0.0, 0.0),
    ("walking, three-quarter view",
     _pose(l_knee=(0.0, 0.45, 1.0), r_knee=(0.0, -0.35, -1.0), r_ankle=(1.0, -0.5, 0.0),
           r_elbow=(0.0, 0.6, -1.0), r_wrist=(1.0, 0.7, 0.0), l_elbow=(0.0, -0.4, 1.0)), 50.0, 5.0),
    ("arms raised, from behind",
     _pose(l_elbow=(0.3, 0.0, -1.0), r_elbow=(0.3, 0.0, 1.0), l_wrist=(1.0, 0.0, 0.3),
           r_wrist=(1.0, 0.0, -0.3), l_knee=(0.0, 0.0, 1.0), l_ankle=(1.0, -0.8, 0.0)), 180.0, 10.0),
    ("forearm across the chest, knee up",
     _pose(r_elbow=(0.0, 0.35, -1.0), r_wrist=(0.0, 0.2, -1.0), l_knee=(0.0, 1.0, 0.25),
           l_ankle=(0.0, -1.0, 0.0), l_elbow=(0.0, 0.3, 1.0), l_wrist=(1.0, 0.9, 0.0)), -25.0, 15.0),
)


def make_figure(out: Path, size: int) -> None:
    local = torch.stack([p[1] for p in POSES])
    hip = torch.tensor([[1.0, 0.0]] * len(POSES))
    pose_mm = forward_kinematics(local, hip, default_bone_lengths())
    azimuth = torch.tensor([math.radians(p[2]) for p in POSES])
    elevation = torch.tensor([math.radians(p[3]) for p in POSES])
    scale = torch.full((len(POSES),), 0.9)
    offset = torch.tensor([[0.0, -0.02]] * len(POSES))
    q, depth = project(pose_mm / 1000.0, view_rotation(azimuth, elevation), scale, offset)
    maps = part_maps(q, depth, (size, size), scale)
    label_map = labels(maps)
    columns = (
        ("2D skeleton", None),
        ("part maps", draw_maps_rgb(maps)),
        ("labels", draw_labels_rgb(label_map)),
        ("foreground", foreground(maps)[:, 0]),
        ("uncertainty", uncertainty(maps)[:, 0]),
    )
    bone_colour = {}
    for l, part in enumerate(PARTS):
        idx = part.anchor_indices()
        pairs = [(idx[0], idx[1])] if len(idx) == 2 else [(idx[0], idx[1]), (idx[2], idx[3])]
        for pair in pairs:
            bone_colour[frozenset(pair)] = tuple(c / 255 for c in PALETTE[l + 1])
    pixels = ((q + 1) * size / 2 - 0.5).numpy()

    fig, axes = plt.subplots(len(POSES), len(columns), figsize=(2.0 * len(columns), 2.05 * len(POSES)))
    for row, (name, *_rest) in enumerate(POSES):
        for col, (title, images) in enumerate(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if images is None:
                ax.imshow(torch.zeros(size, size, 3))
                xy = pixels[row]
                for parent, child in H36M17.bones + ((H36M17.index("l_hip"), H36M17.index("r_hip")),
                                                     (H36M17.index("l_shoulder"), H36M17.index("r_shoulder"))):
                    colour = bone_colour.get(frozenset((parent, child)), (0.75, 0.75, 0.75))
                    ax.plot(xy[[parent, child], 0], xy[[parent, child], 1], color=colour, lw=2)
                left = list(H36M17.left)
                right = [j for j in range(H36M17.num_joints) if j not in left]
                ax.plot(xy[right, 0], xy[right, 1], "o", ms=3, color="white")
                ax.plot(xy[left, 0], xy[left, 1], "o", ms=3, mfc="none", mec="white")
                ax.set_xlim(-0.5, size - 0.5)
                ax.set_ylim(size - 0.5, -0.5)
                ax.set_ylabel(name, fontsize=7)
            elif images.dim() == 3:
                ax.imshow(images[row].numpy(), cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                ax.imshow(images[row].numpy(), interpolation="nearest")
            if row == 0:
                ax.set_title(title, fontsize=9)
    legend = [plt.Rectangle((0, 0), 1, 1, color=tuple(c / 255 for c in PALETTE[l + 1])) for l in range(len(PARTS))]
    fig.legend(legend, [p.name for p in PARTS], loc="lower center", ncol=5, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "images" / "puppet.png")
    parser.add_argument("--size", type=int, default=128, help="side of the part maps, pixels")
    args = parser.parse_args()
    make_figure(args.out, args.size)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
