"""``partpose synthesize`` end to end: transfer, view (turntable) and swap."""

import imageio.v3 as iio
import numpy as np
import pytest

from partpose.data.synthetic import SyntheticConfig, build_synthetic_videos


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three square frames of different test videos, written as PNG files."""
    folder = tmp_path_factory.mktemp("people")
    videos = build_synthetic_videos(SyntheticConfig(resolution=48, frames_per_video=4), "test", indices=[0, 5, 10])
    paths = []
    for k, video in enumerate(videos):
        paths.append(folder / f"person{k}.png")
        iio.imwrite(paths[-1], video.frames[2])
    return paths


def _grid_side(cells, tile, pad=2):
    return cells * (tile + pad) + pad


def test_transfer(cli, checkpoint, images, tmp_path):
    status, stdout, _ = cli("synthesize", "--checkpoint", checkpoint, "--mode", "transfer", "--pose", images[0],
                            "--appearance", images[1], "--out", tmp_path)
    assert status == 0 and "transfer.png" in stdout
    picture = iio.imread(tmp_path / "transfer.png")
    assert picture.shape == (_grid_side(1, 160), _grid_side(4, 160), 3)  # pose, appearance, transfer, parts
    assert picture.std() > 0


def test_view_turntable_from_dataset(cli, checkpoint, tmp_path):
    status, _, _ = cli("synthesize", "--checkpoint", checkpoint, "--mode", "view", "--from-dataset", "synthetic",
                       "--count", 1, "--steps", 4, "--out", tmp_path)
    assert status == 0
    animation = iio.imread(tmp_path / "turntable.gif", index=None)
    assert animation.shape == (4, _grid_side(1, 160), _grid_side(3, 160), 3)
    assert animation.std() > 0
    assert np.abs(animation[0].astype(int) - animation[1]).max() > 0  # the view changes
    strip = iio.imread(tmp_path / "turntable.png")
    assert strip.shape == (_grid_side(2, 96), _grid_side(4, 96), 3) and strip.std() > 0


def test_swap_grid(cli, checkpoint, images, tmp_path):
    status, _, _ = cli("synthesize", "--checkpoint", checkpoint, "--mode", "swap", "--images", *images,
                       "--out", tmp_path)
    assert status == 0
    picture = iio.imread(tmp_path / "swap.png")
    assert picture.shape == (_grid_side(4, 128), _grid_side(4, 128), 3)  # header row and column + 3 x 3
    assert picture.std() > 0
    status, _, _ = cli("synthesize", "--checkpoint", checkpoint, "--mode", "swap", "--appearance", *images[:2],
                       "--pose", *images, "--out", tmp_path / "rect")
    assert status == 0
    assert iio.imread(tmp_path / "rect" / "swap.png").shape == (_grid_side(3, 128), _grid_side(4, 128), 3)


def test_synthesize_bad_inputs(cli, assert_one_line_error, checkpoint, images, tmp_path):
    base = ("synthesize", "--checkpoint", checkpoint, "--out", tmp_path)
    assert_one_line_error(cli(*base, "--mode", "view", "--from-dataset", "h36m"), "unknown dataset", "synthetic")
    assert_one_line_error(cli(*base, "--mode", "transfer", "--pose", tmp_path / "nope.png", "--appearance", images[0]),
                          "nope.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    assert_one_line_error(cli(*base, "--mode", "transfer", "--pose", tmp_path / "broken.jpg", "--appearance", images[0]),
                          "broken.jpg")
    assert_one_line_error(cli(*base, "--mode", "swap", "--images", images[0], "--from-dataset", "synthetic"), "not both")
    assert_one_line_error(cli(*base, "--mode", "transfer", "--pose", images[0]), "--appearance")
    assert_one_line_error(cli(*base, "--mode", "transfer", "--pose", *images, "--appearance", *images[:2]),
                          "one to one")
    assert_one_line_error(cli(*base, "--mode", "view"), "no input")
