"""Where a checkpoint's view goes wrong: its turn about the world's up, its tilt, or its limbs.

    python benchmarks/view_errors.py CHECKPOINT_OR_RUN [...] [--max-frames 1024] [--per-action]
        [--per-person] [--per-profile] [--threads 2] [--out FILE.md]

A pose is a canonical pose (the limbs: ``geometry.kinematics.canonicalize``) seen from a view (the
rotation ``cam_R_canon`` that takes it into the camera). For every checkpoint trained on the
synthetic benchmark, on its test split's frames (evenly thinned to ``--max-frames``), the poses
the model gives (``PartPoseModel.encode_sided``, as evaluation does) are taken apart against the
truth and put together again with one part true:

- **limbs against view**: the model's limbs seen from the true view, and the training frames'
  mean limbs seen from the model's view (the learning table's ``true_view`` row is the mean limbs
  seen from the true view);
- **the view's error, split about the world's up** (each video's ``Video.camera_up``): the
  rotation ``D = cam_R_canon · cam_R_canonᵀ_true`` that takes the true view to the model's is
  split into its *twist* about the up (the azimuth error: which way about the vertical the body
  is turned) and the *swing* left (the tilt error: how far the body leans off the true
  vertical), ``D = swing · twist`` (:func:`swing_twist`); the model's limbs are then seen from the
  true view turned by the twist alone, and by the swing alone.

Also reported: the model's poses given the true side (each pose that shows the camera the other side
than the truth replaced by its upright twin about the up, ``geometry.facing.upright_twin_pose``, as
a perfect side network would turn it), the median azimuth and tilt errors, the share of frames
turned more than 90° about the up (the side wrong), and the median azimuth error of the others.
With ``--per-action``, a row for each motion of the test split as well (``Video.action``): a body
lying along the ground (crawling, rolling) turns its whole length with the azimuth, an upright one
only its width. With ``--per-person``, a row for each person of the test split (``Video.subject``):
the test split holds few people, and how legible each one's front is (their face against their
hair, the print on their shirt) weighs on the side. With ``--per-profile``, a row for each band of
how far the true chest turns from profile (``geometry.facing.angle_from_profile_deg``: 0 seen from
the side, 90 facing the camera or away; :data:`PROFILE_BANDS`), each with the median of the same
angle of the model's poses: a model that reads bodies seen from the side as turned towards the
camera or away has its azimuth error there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_tables import checkpoints_parser, synthetic_checkpoints, use_threads, write_table  # noqa: E402


def swing_twist(rotation: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split rotations into a twist about ``axis`` and the swing left: ``rotation = swing @ twist``.

    Args:
        rotation: ``(N, 3, 3)`` rotation matrices.
        axis: ``(N, 3)`` or ``(3,)`` unit axes.
    Returns:
        ``swing (N, 3, 3)``, ``twist (N, 3, 3)`` and ``twist_deg (N,)``, the twist's signed angle
        about ``axis`` in (-180, 180] (right-handed). The twist is the rotation about ``axis``
        nearest ``rotation``'s (the quaternion's vector part projected on the axis), and the
        swing's own axis is perpendicular to ``axis``.
    """
    from scipy.spatial.transform import Rotation

    rotation = np.asarray(rotation, dtype=np.float64)
    axis = np.broadcast_to(np.asarray(axis, dtype=np.float64), (len(rotation), 3))
    xyzw = Rotation.from_matrix(rotation).as_quat()
    along = (xyzw[:, :3] * axis).sum(axis=1)  # the vector part's component along the axis
    angle = 2.0 * np.arctan2(along, xyzw[:, 3])
    angle = (angle + np.pi) % (2.0 * np.pi) - np.pi  # (-pi, pi]
    twist = Rotation.from_rotvec(axis * angle[:, None]).as_matrix()
    swing = np.einsum("bij,bkj->bik", rotation, twist)  # rotation @ twist^T
    return swing, twist, np.degrees(angle)


def taken_apart(pose, true, up: np.ndarray, mean_canonical: np.ndarray) -> dict[str, float]:
    """The taken-apart MPJPEs of the module docstring.

    Args:
        pose, true: ``(N, 17, 3)`` float64 tensors, the model's and the true camera-frame poses (mm).
        up: ``(N, 3)`` the world's up in each frame's camera (unit).
        mean_canonical: ``(17, 3)`` mm, the mean limbs (the training frames' mean canonical pose).
    Returns:
        MPJPE (mm): ``model``, ``true_view_model_limbs``, ``model_view_mean_limbs``,
        ``twist_only``, ``swing_only``, ``true_side`` (the model's poses, each replaced by its
        upright twin about ``up`` where its chest faces the camera and the truth's does not, or
        the other way round: ``geometry.facing``); and ``azimuth_deg`` (median |twist|), ``tilt_deg`` (median
        swing angle), ``turned_share`` (% with |twist| > 90°), ``azimuth_others_deg`` (median
        |twist| of the rest).
    """
    import torch
    from scipy.spatial.transform import Rotation

    from partpose.evaluation import metrics
    from partpose.geometry.facing import faces_camera, upright_twin_pose
    from partpose.geometry.kinematics import canonicalize

    pose, true = pose - pose[:, :1], true - true[:, :1]
    wrong_side = faces_camera(pose) != faces_camera(true)
    true_side = torch.where(wrong_side[:, None, None], upright_twin_pose(pose, torch.as_tensor(up, dtype=pose.dtype)), pose)
    limbs, canon_R_pose = canonicalize(pose)
    _, canon_R_true = canonicalize(true)
    cam_pose, cam_true = canon_R_pose.transpose(1, 2).numpy(), canon_R_true.transpose(1, 2).numpy()
    mean_limbs = torch.as_tensor(mean_canonical, dtype=torch.float64).expand_as(limbs)

    def seen(cam_R_canon, canonical) -> torch.Tensor:
        return torch.einsum("bij,bnj->bni", torch.as_tensor(cam_R_canon), canonical)

    error = np.einsum("bij,bkj->bik", cam_pose, cam_true)  # cam_pose @ cam_true^T
    swing, twist, twist_deg = swing_twist(error, up)
    azimuth = np.abs(twist_deg)
    tilt = np.degrees(Rotation.from_matrix(swing).magnitude())
    turned = azimuth > 90.0
    mpjpe = {
        "model": pose,
        "true_view_model_limbs": seen(cam_true, limbs),
        "model_view_mean_limbs": seen(cam_pose, mean_limbs),
        "twist_only": seen(np.einsum("bij,bjk->bik", twist, cam_true), limbs),
        "swing_only": seen(np.einsum("bij,bjk->bik", swing, cam_true), limbs),
        "true_side": true_side,
    }
    result = {k: float(metrics.mpjpe(v, true)) for k, v in mpjpe.items()}
    result.update(azimuth_deg=float(np.median(azimuth)), tilt_deg=float(np.median(tilt)),
                  turned_share=float(turned.mean() * 100),
                  azimuth_others_deg=float(np.median(azimuth[~turned])) if (~turned).any() else float("nan"))
    return result


def sided_poses(model, frames, max_frames: int | None = 1024, batch_size: int = 64):
    """``model``'s poses (``encode_sided`` about each video's up, as evaluation gives them) on
    ``frames`` (a ``FrameDataset``, evenly thinned to ``max_frames``).

    Returns:
        ``(pose, true, up, video)``: ``(N, 17, 3)`` float64 tensors of the model's and the true
        camera-frame poses (mm), ``(N, 3)`` the ups and ``(N,)`` each frame's video (its index in
        ``frames.videos``).
    Raises:
        UserError: a test video without its camera's up (``Video.camera_up``).
    """
    import torch
    from torch.utils.data import DataLoader

    from partpose.errors import UserError
    from partpose.evaluation.evaluate import thin_frames

    was_training = model.training
    model.eval()
    predicted, truth, ups, videos = [], [], [], []
    with torch.no_grad():
        for batch in DataLoader(thin_frames(frames, max_frames), batch_size=batch_size, shuffle=False):
            predicted.append(model.encode_sided(batch["image"], batch["camera_up"]).pose_cam_mm.double())
            truth.append(batch["pose3d"].double())
            ups.append(batch["camera_up"].double())
            videos.append(batch["video_index"])
    model.train(was_training)
    up = torch.cat(ups).numpy()
    if not np.isfinite(up).all():
        raise UserError("the test videos do not all carry their camera's up (Video.camera_up)")
    return torch.cat(predicted), torch.cat(truth), up, torch.cat(videos).numpy()


def view_errors(model, frames, mean_canonical: np.ndarray, max_frames: int | None = 1024,
                batch_size: int = 64) -> dict[str, float]:
    """:func:`taken_apart` of :func:`sided_poses` on ``frames`` (every frame together)."""
    pose, true, up, _ = sided_poses(model, frames, max_frames, batch_size)
    return taken_apart(pose, true, up, mean_canonical)


def per_group(pose, true, up: np.ndarray, group: np.ndarray, mean_canonical: np.ndarray) -> dict[str, tuple[int, dict]]:
    """``{name: (frames, taken_apart)}`` of :func:`sided_poses`' outputs, the frames of each name
    in ``group`` (``(N,)`` strings: each frame's motion, or its person) alone, in the order of
    the names."""
    import torch

    result = {}
    for name in sorted(set(group.tolist())):
        mask = group == name
        rows = torch.from_numpy(mask)
        result[name] = (int(mask.sum()), taken_apart(pose[rows], true[rows], up[mask], mean_canonical))
    return result


PROFILE_BANDS = ((0.0, 15.0), (15.0, 30.0), (30.0, 60.0), (60.0, 90.0))
"""Bands of the true chest's angle from profile (degrees, ``[low, high)``, the last closed) of
``--per-profile``."""


def profile_bands(pose, true, up: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Each frame's band of :data:`PROFILE_BANDS` by its true pose's angle from profile, and the
    median angle of the model's poses in each band.

    Args:
        pose, true: ``(N, 17, 3)`` tensors, the model's and the true camera-frame poses.
        up: ``(N, 3)`` the world's up in each frame's camera.
    Returns:
        ``(group, model_median)``: ``(N,)`` names (``"the true chest 0–15° from profile"``, ...;
        ``"the true chest level"`` where the true chest faces the floor or the sky), and
        ``{name: the median angle from profile of the model's poses in it}`` (degrees; ``nan``
        where none has a level chest).
    """
    import torch

    from partpose.geometry.facing import angle_from_profile_deg

    ups = torch.as_tensor(up, dtype=true.dtype)
    truth, model = angle_from_profile_deg(true, ups).numpy(), angle_from_profile_deg(pose, ups).numpy()
    group = np.full(len(truth), "the true chest level", dtype=object)
    for low, high in PROFILE_BANDS:
        inside = (truth >= low) & ((truth < high) if high < 90.0 else (truth <= high))
        group[inside] = f"the true chest {low:g}–{high:g}° from profile"
    medians = {}
    for name in set(group.tolist()):
        angles = model[(group == name) & np.isfinite(model)]
        medians[name] = float(np.median(angles)) if angles.size else float("nan")
    return group.astype(str), medians


def mean_canonical_pose(videos) -> np.ndarray:
    """``(17, 3)`` mm: the mean canonical pose of the videos' 3D labels (the ``true_view`` row's)."""
    import torch

    from partpose.geometry.kinematics import canonicalize

    poses = torch.from_numpy(np.concatenate([v.pose3d_cam_mm for v in videos]).astype(np.float64))
    return canonicalize(poses)[0].mean(dim=0).numpy()


def table_row(name: str, scene: str, e: dict) -> str:
    """The table row of one :func:`taken_apart` result."""
    return (f"| {name} | {scene} | {e['model']:.1f} | {e['true_view_model_limbs']:.1f} | "
            f"{e['model_view_mean_limbs']:.1f} | {e['twist_only']:.1f} | {e['swing_only']:.1f} | {e['true_side']:.1f} | "
            f"{e['azimuth_deg']:.0f}° | {e['turned_share']:.0f} % | {e['azimuth_others_deg']:.0f}° | {e['tilt_deg']:.0f}° |")


def main(argv: list[str] | None = None) -> int:
    parser = checkpoints_parser(__doc__)
    parser.add_argument("--max-frames", type=int, default=1024, help="test frames, evenly thinned (default: 1024)")
    parser.add_argument("--per-action", action="store_true", help="a row for each motion of the test split as well")
    parser.add_argument("--per-person", action="store_true", help="a row for each person of the test split as well")
    parser.add_argument("--per-profile", action="store_true",
                        help="a row for each band of the true chest's angle from profile as well")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    command = " ".join(["python benchmarks/view_errors.py", *(argv if argv is not None else sys.argv[1:])])
    lines = [f"The view's error taken apart (`{command}`): MPJPE (mm) of each checkpoint's poses with one part "
             f"true, on the test split's frames (at most {args.max_frames}).", "",
             "| checkpoint | scene | model | true view, its limbs | its view, mean limbs | its azimuth error only "
             "| its tilt error only | the true side | azimuth error (median) | side turned (> 90°) | azimuth error, the rest "
             "| tilt error |",
             "|---" * 12 + "|"]

    def rows():
        from partpose.data.synthetic import build_synthetic_videos

        mean_limbs = {}
        for path, loaded, frames in synthetic_checkpoints(args.checkpoints):
            synthetic = loaded.config.data.synthetic
            if repr(synthetic) not in mean_limbs:
                mean_limbs[repr(synthetic)] = mean_canonical_pose(build_synthetic_videos(synthetic, "train"))
            pose, true, up, video = sided_poses(loaded.model, frames, args.max_frames)
            yield table_row(str(path), synthetic.scene, taken_apart(pose, true, up, mean_limbs[repr(synthetic)]))
            for wanted, field in ((args.per_action, "action"), (args.per_person, "subject")):
                if wanted:
                    group = np.array([getattr(frames.videos[int(v)], field) for v in video])
                    for name, (count, e) in per_group(pose, true, up, group, mean_limbs[repr(synthetic)]).items():
                        yield table_row(f"… {name} ({count} frames)", synthetic.scene, e)
            if args.per_profile:
                group, model_median = profile_bands(pose, true, up)
                for name, (count, e) in per_group(pose, true, up, group, mean_limbs[repr(synthetic)]).items():
                    yield table_row(f"… {name} ({count} frames; the model's chest {model_median[name]:.0f}° from "
                                    f"profile at the median)", synthetic.scene, e)

    return write_table(lines, rows(), args.out)


if __name__ == "__main__":
    sys.exit(main())
