"""Loaders for the real datasets users bring: Human3.6M, MPI-INF-3DHP, 3DPW and their own videos.

Every loader returns ``partpose.data.video.Video`` clips of person-centred square crops.
Reading a dataset from its original files decodes videos and is slow, so each has a
``prepare_*`` function (``partpose data prepare --dataset NAME --root DIR --out DIR``) that
writes the crops once; ``load_prepared(out, split)`` reads them back. Layouts, joint mappings
and protocols: ``docs/datasets.md``.
"""

from __future__ import annotations

from pathlib import Path

from partpose.data.datasets.crops import load_prepared
from partpose.data.datasets.h36m import H36MDataset, iter_h36m_videos, prepare_h36m
from partpose.data.datasets.mpi_inf_3dhp import MPIINF3DHPDataset, iter_mpi_inf_3dhp_videos, prepare_mpi_inf_3dhp
from partpose.data.datasets.own_videos import OwnVideosDataset, iter_own_videos, prepare_own_videos
from partpose.data.datasets.pw3d import PW3DDataset, iter_pw3d_videos, prepare_pw3d
from partpose.errors import UserError

PREPARE = {
    "h36m": prepare_h36m,
    "mpi_inf_3dhp": prepare_mpi_inf_3dhp,
    "3dpw": prepare_pw3d,
    "own": prepare_own_videos,
}
"""``--dataset`` name → the function that prepares it."""


def prepare_dataset(
    name: str, root: str | Path, out: str | Path, resolution: int = 128, progress: bool = True
) -> dict[str, dict]:
    """Prepare dataset ``name`` from ``root`` into ``out`` (the ``partpose data prepare`` command).

    Returns:
        ``{split: {"config": settings, "videos": [index entries]}}`` (``save_prepared``).
    Raises:
        UserError: unknown name, or any problem with the user's files (naming the file).
    """
    if name not in PREPARE:
        raise UserError(f"unknown dataset {name!r}; known datasets: {', '.join(PREPARE)}")
    return PREPARE[name](root, out, resolution=resolution, progress=progress)


__all__ = [
    "H36MDataset",
    "MPIINF3DHPDataset",
    "OwnVideosDataset",
    "PREPARE",
    "PW3DDataset",
    "iter_h36m_videos",
    "iter_mpi_inf_3dhp_videos",
    "iter_own_videos",
    "iter_pw3d_videos",
    "load_prepared",
    "prepare_dataset",
    "prepare_h36m",
    "prepare_mpi_inf_3dhp",
    "prepare_own_videos",
    "prepare_pw3d",
]
