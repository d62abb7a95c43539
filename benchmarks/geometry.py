"""Throughput of the geometry layer, T_fk + T_c + T_s (local vectors -> depth-aware part maps),
batched against the slow loop-based twins of the tests (``tests/geometry/naive.py``): the
loop-per-joint forward kinematics and the loop-per-sample, loop-per-part puppet (the camera
projection is looped per sample alongside them). Poses per second, medians over repeats, at
batch 1, 16 and 256 and part maps of 64^2 and 128^2.

    python benchmarks/geometry.py [--batches 1 16 256] [--sizes 64 128] [--repeats 5]
                                  [--naive-budget 20] [--threads 1] [--keep-freed-memory]

Prints a Markdown table. ``batched`` is the forward pass as the model runs it
(``validate=False``), ``fwd+bwd`` adds the backward pass to the joints' local vectors; both
pipelines run on the same inputs and their part maps must agree within ``TOLERANCE`` (the
largest difference is printed). The speed-up compares the forward passes.

Much of a large batch's time is the fresh ``(B, L, H, W)`` output itself (page faults); PyTorch
backs large tensors with transparent huge pages when run as ``THP_MEM_ALLOC_ENABLE=1 python
benchmarks/geometry.py`` (the header says which allocator ran).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from partpose.geometry.camera import project, random_view_rotation
from partpose.geometry.kinematics import forward_kinematics
from partpose.geometry.puppet import part_maps
from partpose.geometry.skeleton import H36M17, default_bone_lengths

TOLERANCE = 1e-3
"""Largest allowed absolute difference between batched and naive part maps (float32)."""

_NAIVE_PATH = Path(__file__).resolve().parents[1] / "tests" / "geometry" / "naive.py"


def _load_naive():
    spec = importlib.util.spec_from_file_location("partpose_geometry_naive", _NAIVE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inputs(batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random but plausible poses: local vectors near 'straight on', a random view, scale 1."""
    g = torch.Generator().manual_seed(seed)
    local = torch.randn(batch, len(H36M17.fk_joints), 3, generator=g) * 0.5
    local[..., 0] += 1.0
    hip = torch.stack((torch.ones(batch), 0.1 * torch.randn(batch, generator=g)), dim=-1)
    return {
        "local": local,
        "hip": hip,
        "bones": default_bone_lengths(),
        "rotation": random_view_rotation(batch, generator=g),
        "scale": 0.9 + 0.2 * torch.rand(batch, generator=g),
        "offset": 0.05 * torch.randn(batch, 2, generator=g),
    }


def batched_pipeline(x: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    pose_mm = forward_kinematics(x["local"], x["hip"], x["bones"])
    q, depth = project(pose_mm / 1000.0, x["rotation"], x["scale"], x["offset"])
    return part_maps(q, depth, (size, size), x["scale"], validate=False)


def naive_pipeline(naive, x: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    pose_mm = naive.naive_forward_kinematics(x["local"], x["hip"], x["bones"]).float()
    qs, depths = [], []
    for b in range(pose_mm.shape[0]):  # projection of one sample at a time
        p_cam = pose_mm[b] / 1000.0 @ x["rotation"][b].T
        qs.append(x["scale"][b] * p_cam[:, :2] + x["offset"][b])
        depths.append(p_cam[:, 2])
    return naive.naive_part_maps(torch.stack(qs), torch.stack(depths), (size, size), x["scale"])


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse (no mmap for large blocks, no trimming).

    Large tensors are otherwise mapped fresh from the kernel on every allocation and their
    page faults can cost as much as the arithmetic (visible as system time).
    """
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_max = -1, -4
    if not (libc.mallopt(m_mmap_max, 0) and libc.mallopt(m_trim_threshold, 2**31 - 1)):
        raise RuntimeError("mallopt failed")


def _median_seconds(fn: Callable[[], object], repeats: int, budget_s: float = float("inf")) -> tuple[float, int]:
    """Median wall time of ``fn`` after one warm-up call; stops early once ``budget_s`` is spent."""
    fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats and (not times or spent < budget_s):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return statistics.median(times), len(times)


def _forward_backward(x: dict[str, torch.Tensor], size: int) -> None:
    local = x["local"].clone().requires_grad_(True)
    maps = batched_pipeline({**x, "local": local}, size)
    maps.sum().backward()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 256])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per entry (median)")
    parser.add_argument("--naive-budget", type=float, default=20.0,
                        help="seconds after which the slow twin stops repeating (at least one run)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: stable numbers on a shared machine)")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="glibc keeps freed memory (see keep_freed_memory) instead of unmapping it")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.keep_freed_memory:
        keep_freed_memory()
    naive = _load_naive()

    allocator = "freed memory kept by glibc" if args.keep_freed_memory else "default glibc allocator"
    if os.environ.get("THP_MEM_ALLOC_ENABLE", "0") not in ("", "0"):
        allocator += " + transparent huge pages"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), float32, CPU, {allocator}; "
          f"medians over up to {args.repeats} runs; batched and naive maps agree within {TOLERANCE:g}")
    print()
    print("| batch | maps | batched poses/s | batched fwd+bwd poses/s | naive twins poses/s | speed-up "
          "| max abs diff |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        for batch in args.batches:
            x = _inputs(batch)
            with torch.no_grad():
                fast, fast_n = _median_seconds(lambda: batched_pipeline(x, size), args.repeats)
                slow, slow_n = _median_seconds(lambda: naive_pipeline(naive, x, size), args.repeats, args.naive_budget)
                worst = (batched_pipeline(x, size) - naive_pipeline(naive, x, size)).abs().max().item()
            train, _ = _median_seconds(lambda: _forward_backward(x, size), args.repeats)
            if not worst <= TOLERANCE:
                sys.exit(f"batched and naive pipelines disagree by {worst:.3g} at batch {batch}, {size}^2")
            print(f"| {batch} | {size}² | {batch / fast:,.0f} | {batch / train:,.0f} | "
                  f"{batch / slow:,.1f} ({slow_n} runs) | {slow / fast:,.1f}× | {worst:.1e} |", flush=True)


if __name__ == "__main__":
    main()
