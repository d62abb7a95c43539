import numpy as np
import pytest

from partpose.data import saliency as sal
from partpose.data.saliency import SaliencyCache, frames_key, saliency_maps
from partpose.errors import UserError


def person_on_flat_background(t=4, size=64):
    """Frames with a textured, shaded 'person' blob on a flat grey background, and its mask."""
    rng = np.random.default_rng(0)
    frames = np.full((t, size, size, 3), 120, np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    masks = np.zeros((t, size, size), bool)
    for k in range(t):
        cx = 24 + 4 * k
        mask = ((xx - cx) / 7.0) ** 2 + ((yy - 30) / 20.0) ** 2 <= 1.0
        mask |= ((xx - cx) / 5.0) ** 2 + ((yy - 6) / 5.0) ** 2 <= 1.0
        frames[k][mask] = rng.integers(0, 256, (mask.sum(), 3), dtype=np.uint8)
        masks[k] = mask
    return frames, masks


@pytest.mark.parametrize("method", sal.SALIENCY_METHODS)
def test_saliency_range_dtype_and_person_above_flat_background(method):
    frames, masks = person_on_flat_background()
    maps = saliency_maps(frames, method)
    assert maps.shape == (4, 64, 64) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    for m, mask in zip(maps, masks):
        assert m[mask].mean() > 1.5 * m[~mask].mean()
    single = saliency_maps(frames[0], method)
    assert single.shape == (64, 64) and np.array_equal(single, maps[0])


def test_saliency_of_a_constant_frame_is_zero_and_bad_input_is_refused():
    assert not saliency_maps(np.full((2, 16, 16, 3), 7, np.uint8)).any()
    with pytest.raises(ValueError, match="uint8"):
        saliency_maps(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(UserError, match="unknown saliency method"):
        SaliencyCache(method="deep")


def test_cache_computes_once_in_memory_and_on_disk(tmp_path, monkeypatch):
    frames, _ = person_on_flat_background()
    calls = []
    real = sal.saliency_maps

    def counting(f, method="spectral_residual"):
        calls.append(len(f))
        return real(f, method)

    monkeypatch.setattr(sal, "saliency_maps", counting)
    cache = SaliencyCache(tmp_path)
    first = cache.get(frames)
    assert np.array_equal(cache.get(frames), first) and calls == [4] and len(cache) == 1
    assert not first.flags.writeable
    assert (tmp_path / "saliency" / f"spectral_residual_{frames_key(frames, 'spectral_residual')}.npy").exists()
    again = SaliencyCache(tmp_path).get(frames)  # a new process would read it from disk
    assert np.array_equal(again, first) and calls == [4]
    other = frames.copy()
    other[0, 0, 0, 0] ^= 1
    assert frames_key(other, "spectral_residual") != frames_key(frames, "spectral_residual")
    SaliencyCache(tmp_path).get(other)
    assert calls == [4, 4]


def test_saliency_is_higher_on_a_rendered_person_than_on_a_flat_background():
    import math

    from partpose.data import synthetic as S
    from partpose.data.mocap import load_deepmimic_clips, resample

    clip = load_deepmimic_clips(["walk"], scale_to_height_mm=1700.0)[0]
    world = resample(clip.poses_mm.astype(np.float64), clip.fps, 25.0)[:6]
    scene = S.Scene(subject=S.sample_subject("s", np.random.default_rng(1)), background="texture:tiles",
                    distance_mm=3500.0, elevation=math.radians(10), azimuth=math.radians(40), seed=0)
    rendered = S.render_clip(world, scene, 64)
    person = rendered.segmentation > 0
    frames = np.where(person[..., None], rendered.frames, np.uint8(128))
    maps = saliency_maps(frames)
    assert maps[person].mean() > 1.5 * maps[~person].mean()


def test_background_residual_saliency_marks_what_differs_from_the_background():
    from partpose.data.saliency import background_residual_saliency

    background = np.full((16, 16, 3), 100, np.uint8)
    frames = np.repeat(background[None], 2, axis=0).copy()
    frames[0, 4:8, 10:14] = 200  # a bright square, off-centre
    m = background_residual_saliency(frames, background, tau=40.0, blur_sigma=0.0)
    assert m.shape == (2, 16, 16) and m.dtype == np.float32
    assert m[0, 5, 11] == 1.0 and m[0, 12, 2] == 0.0 and m[1].max() == 0.0
    frames[0, 0, 0] = 120  # a difference of 20 is half of tau
    assert background_residual_saliency(frames, background, tau=40.0, blur_sigma=0.0)[0, 0, 0] == 0.5
    per_frame = np.stack([frames[0], background])  # every frame over its own background: nothing differs
    m = background_residual_saliency(frames, per_frame, tau=40.0, blur_sigma=0.0)
    assert m[0].max() == 0.0 and m[1].max() == 0.0
    with pytest.raises(ValueError, match="must match"):
        background_residual_saliency(frames, background[:8])
