"""partpose.data.travel: the side a video's travel shows, by hand."""

import math

import numpy as np
import pytest

from partpose.data.travel import travel_front, travel_fronts
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
