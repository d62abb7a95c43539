"""partpose.data.travel: the side a video's travel shows, by hand."""

import math

import numpy as np
import pytest

from partpose.data.travel import (
    box_distance,
    distance_travel_front,
    travel_front,
    travel_fronts,
    travel_heading,
    travel_steadiness,
)
from partpose.data.video import Video


def _boxes(distances) -> np.ndarray:
    """Crop boxes of a person of constant extent at ``distances``: side proportional to 1 / distance."""
    distances = np.asarray(distances, dtype=np.float64)
    return np.stack([np.zeros_like(distances), np.zeros_like(distances), 2000.0 / distances], axis=1).astype(np.float32)


def test_coming_nearer_is_the_front_going_away_the_back():
    # 4.5 m to 4.0 m in 10 frames: the distance falls 1.1 % a frame
    assert travel_front(_boxes(np.linspace(4500, 4000, 11)), 0.0025) == 1.0
    assert travel_front(_boxes(np.linspace(4000, 4500, 11)), 0.0025) == 0.0


def test_too_little_travel_one_frame_or_no_boxes_give_no_label():
    # 4.5 m to 4.45 m in 10 frames: 0.11 % a frame, under the 0.25 % asked for
    assert math.isnan(travel_front(_boxes(np.linspace(4500, 4450, 11)), 0.0025))
    assert travel_front(_boxes(np.linspace(4500, 4450, 11)), 0.001) == 1.0
    assert math.isnan(travel_front(_boxes([4500.0]), 0.0025))
    assert math.isnan(travel_front(None, 0.0025))
    with pytest.raises(ValueError, match="min_rate"):
        travel_front(_boxes([4500.0, 4000.0]), 0.0)


def test_only_the_first_and_last_boxes_count():
    # a crouch in the middle (a smaller box) does not change the label
    boxes = _boxes(np.linspace(4500, 4000, 11))
    boxes[5, 2] *= 0.5
    assert travel_front(boxes, 0.0025) == 1.0


def test_travel_fronts_reads_every_video():
    frames = np.zeros((11, 8, 8, 3), np.uint8)
    videos = [Video(frames=frames, person_box=_boxes(np.linspace(4500, 4000, 11))),
              Video(frames=frames),
              Video(frames=frames, person_box=_boxes(np.linspace(4000, 4500, 11)))]
    labels = travel_fronts(videos, 0.0025)
    assert labels.dtype == np.float32 and labels[0] == 1.0 and np.isnan(labels[1]) and labels[2] == 0.0


def test_travel_heading_by_hand():
    level = np.array([0.0, -1.0, 0.0])
    # 5 m to 4 m straight at a level camera: the boxes grow 5/4, their centre stays on the axis
    towards = np.float32([[0.0, 0.0, 0.4], [0.0, 0.0, 0.5]])
    heading, rate = travel_heading(towards, level)
    np.testing.assert_allclose(heading, [0.0, 0.0, -1.0], atol=1e-6)
    assert rate == pytest.approx(0.2, rel=1e-5)  # 1 m of the first 5 m in one frame
    # across the image at 4 m, from x = -0.5 m to +0.5 m over 10 frames: the heading is +x
    side = 2.0 / 4.0
    across = np.float32([[-0.5 / 4.0 + k * (1.0 / 4.0) / 10, 0.0, side] for k in range(11)])
    heading, rate = travel_heading(across, level)
    np.testing.assert_allclose(heading, [1.0, 0.0, 0.0], atol=1e-6)
    assert rate == pytest.approx(1.0 / math.hypot(4.0, 0.5) / 10, rel=1e-5)
    # a camera 30° above: a person walking away along the ground rises in the image; the
    # heading stays on the ground plane (perpendicular to the up)
    e = math.radians(30.0)
    up = np.array([0.0, -math.cos(e), -math.sin(e)])
    forward = np.array([0.0, -math.sin(e), math.cos(e)])  # along the ground, away from the camera
    start = np.array([0.0, 1.0, 4.0])  # the person's position, m (below the optical axis)
    points = [start + k * 0.2 * forward for k in range(5)]
    boxes = np.float32([[p[0] / p[2], p[1] / p[2], 1.8 / p[2]] for p in points])
    heading, _ = travel_heading(boxes, up)
    np.testing.assert_allclose(heading, forward, atol=1e-5)
    assert travel_heading(boxes, None) == (None, 0.0) and travel_heading(boxes[:1], up) == (None, 0.0)


def test_steadiness_is_one_for_a_steady_walk_and_worked_out_by_hand_for_a_curl():
    # distance falling by the same factor every frame: the log side is a straight line
    assert travel_steadiness(_boxes(4500.0 * 0.99 ** np.arange(11))) == pytest.approx(1.0, abs=1e-9)
    # a box that grows and shrinks back symmetrically about the middle frame: the fitted slope is 0, R² 0
    assert travel_steadiness(_boxes([4000.0, 3000.0, 4000.0])) == pytest.approx(0.0, abs=1e-9)
    # log sides 0, 0, 1 over frames 0, 1, 2: the line 1/2 x - 1/6 leaves residuals 1/6, -1/3, 1/6,
    # whose variance 1/18 against the sides' 2/9 gives R² = 1 - 1/4 = 3/4
    sides = np.float32([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, math.e]])
    assert travel_steadiness(sides) == pytest.approx(0.75, abs=1e-6)


def test_steadiness_needs_three_frames_boxes_and_a_change():
    assert math.isnan(travel_steadiness(_boxes([4500.0, 4000.0])))
    assert math.isnan(travel_steadiness(None))
    assert math.isnan(travel_steadiness(_boxes([4000.0] * 5)))


def test_box_distance_by_hand():
    # a box of side 0.4 read at scale 1.0 (normalised units a metre): Z = 2 / (1.0 * 0.4) = 5 m
    boxes = np.array([[0.1, -0.2, 0.4], [0.0, 0.0, 0.5]])
    assert np.allclose(box_distance(boxes, np.array([1.0, 0.8])), [5.0, 5.0])


def test_the_travel_read_from_the_distance_by_hand():
    frames = np.arange(16, dtype=np.float64)
    nearer = 5.0 - frames / 15.0  # 5 m to 4 m: the distance falls 1.3 % of the first a frame
    assert distance_travel_front(nearer, 0.0025, 0.7) == 1.0
    assert distance_travel_front(nearer[::-1], 0.0025, 0.7) == 0.0
    assert math.isnan(distance_travel_front(5.0 + frames / 1e4, 0.0025, 0.7))  # too little travel
    zigzag = nearer + 0.4 * (-1.0) ** frames  # a body that curls and stretches: no steady line
    assert math.isnan(distance_travel_front(zigzag, 0.0025, 0.7))
    assert distance_travel_front(zigzag, 0.0025, 0.0) == 1.0  # unless no steadiness is asked
    assert math.isnan(distance_travel_front(nearer[:2], 0.0025, 0.7))
    assert math.isnan(distance_travel_front(np.r_[nearer[:-1], 0.0], 0.0025, 0.0))  # a distance not > 0
