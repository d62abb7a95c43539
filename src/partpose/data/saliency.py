"""m_sal: a generic visual-saliency map of a frame (not human-specific), from OpenCV's saliency
module, computed once per frame and cached.

Convention:
    A saliency map is ``(H, W)`` float32 in [0, 1] at the frame's resolution, min-max
    normalised per frame (a constant map is all zeros). Frames are ``(H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from partpose.errors import UserError
from partpose.utils.files import atomic_path

SALIENCY_METHODS = ("spectral_residual", "fine_grained")
"""``spectral_residual``: Hou & Zhang (CVPR 2007), OpenCV's StaticSaliencySpectralResidual (works
on a 64-pixel grey image, fast). ``fine_grained``: Montabone & Soto (2010),
StaticSaliencyFineGrained (centre-surround differences at full resolution, slower)."""


def _saliency_object(method: str):
    if method not in SALIENCY_METHODS:
        raise UserError(f"unknown saliency method {method!r}; known methods: {', '.join(SALIENCY_METHODS)}")
    if not hasattr(cv2, "saliency"):
        raise UserError("cv2.saliency is missing: install opencv-contrib-python-headless")
    if method == "spectral_residual":
        return cv2.saliency.StaticSaliencySpectralResidual_create()
    return cv2.saliency.StaticSaliencyFineGrained_create()


def _normalise(saliency: np.ndarray) -> np.ndarray:
    lo, hi = float(saliency.min()), float(saliency.max())
    if not hi > lo:
        return np.zeros(saliency.shape, np.float32)
    return ((saliency - lo) / (hi - lo)).astype(np.float32)


def saliency_maps(frames: np.ndarray, method: str = "spectral_residual") -> np.ndarray:
    """Saliency of every frame.

    Args:
        frames: ``(T, H, W, 3)`` or ``(H, W, 3)`` uint8 RGB.
        method: one of :data:`SALIENCY_METHODS`.
    Returns:
        ``(T, H, W)`` (or ``(H, W)``) float32 in [0, 1].
    """
    frames = np.asarray(frames)
    single = frames.ndim == 3
    batch = frames[None] if single else frames
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got shape {frames.shape} {frames.dtype}")
    detector = _saliency_object(method)
    out = np.empty(batch.shape[:3], np.float32)
    for t, frame in enumerate(batch):
        if frame.min() == frame.max():  # nothing stands out (the detectors return numerical noise)
            out[t] = 0.0
            continue
        ok, saliency = detector.computeSaliency(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV is BGR
        if not ok:
            raise RuntimeError(f"OpenCV saliency ({method}) failed on frame {t}")
        saliency = np.asarray(saliency, dtype=np.float32)
        if saliency.shape != out.shape[1:]:
            saliency = cv2.resize(saliency, (out.shape[2], out.shape[1]), interpolation=cv2.INTER_LINEAR)
        out[t] = _normalise(np.nan_to_num(saliency, nan=0.0))
    return out[0] if single else out


def background_residual_saliency(frames: np.ndarray, background: np.ndarray, tau: float = 40.0,
                                 blur_sigma: float = 1.0) -> np.ndarray:
    """Motion saliency of a static-camera clip: how far each pixel is from the clip background.

    ``m = clip(max_c |frame − background| / tau, 0, 1)``, lightly blurred. What differs from a
    static background is what moves in front of it, which is the person in a single-person video:
    it is as class-agnostic as a static saliency detector, but far more reliable on cluttered
    backgrounds. Needs a valid background (a static camera); use :func:`saliency_maps` otherwise.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB; background: ``(H, W, 3)`` uint8 RGB, or
            ``(T, H, W, 3)``, one per frame.
        tau: intensity difference (0–255) that counts as fully salient.
    Returns:
        ``(T, H, W)`` float32 in [0, 1].
    """
    frames = np.asarray(frames)
    background = np.asarray(background)
    if frames.ndim != 4 or background.shape not in (frames.shape[1:], frames.shape) or frames.shape[-1] != 3:
        raise ValueError(f"frames (T, H, W, 3) and background (H, W, 3) or (T, H, W, 3) must match, got "
                         f"{frames.shape} and {background.shape}")
    if background.ndim == 3:
        background = background[None]
    diff = np.abs(frames.astype(np.int16) - background.astype(np.int16)).max(axis=-1).astype(np.float32)
    out = np.clip(diff / tau, 0.0, 1.0)
    if blur_sigma > 0:
        out = np.stack([cv2.GaussianBlur(m, (0, 0), blur_sigma) for m in out])
    return out.astype(np.float32)


def frames_key(frames: np.ndarray, method: str) -> str:
    """Content hash of a clip's frames (and the method): the cache key of its saliency."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{method}:{frames.shape}:{frames.dtype}".encode())
    digest.update(np.ascontiguousarray(frames).data)
    return digest.hexdigest()


class SaliencyCache:
    """Saliency maps of whole clips, computed once: in memory, and on disk when ``cache_dir`` is
    given (``<cache_dir>/saliency/<method>_<content hash>.npy``, next to a dataset cache).

    Example::

        cache = SaliencyCache("cache/")
        m_sal = cache.get(video.frames)  # (T, H, W) float32 in [0, 1]
    """

    def __init__(self, cache_dir: str | Path | None = None, method: str = "spectral_residual") -> None:
        _saliency_object(method)  # fail early on a bad method
        self.method = method
        self.cache_dir = Path(cache_dir) / "saliency" if cache_dir is not None else None
        self._memory: dict[str, np.ndarray] = {}

    def get(self, frames: np.ndarray) -> np.ndarray:
        """``(T, H, W)`` float32 saliency of ``frames`` ``(T, H, W, 3)`` uint8 (read-only array)."""
        key = frames_key(frames, self.method)
        cached = self._memory.get(key)
        if cached is not None:
            return cached
        path = self.cache_dir / f"{self.method}_{key}.npy" if self.cache_dir is not None else None
        maps = None
        if path is not None and path.exists():
            loaded = np.load(path)
            if loaded.shape == frames.shape[:3] and loaded.dtype == np.float32:
                maps = loaded
        if maps is None:
            maps = saliency_maps(frames, self.method)
            if path is not None:
                with atomic_path(path, suffix=".npy") as tmp:
                    np.save(tmp, maps)
        maps.flags.writeable = False
        self._memory[key] = maps
        return maps

    def __len__(self) -> int:
        return len(self._memory)
