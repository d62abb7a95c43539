"""partpose.training.side_relabel: the travel read from the distance, against a frame-by-frame twin."""

import math

import numpy as np
import torch

from partpose.data.travel import distance_travel_front
from partpose.data.video import Video
from partpose.training.data_setup import build_training_data
from partpose.training.side_relabel import (batch_side_labels, distance_side_labels, labelled_share, relabel_by_distance,
                                            video_scales)
from partpose.training.trainer import build_model


def _tiny_model_and_pairs(tiny_config):
    config = tiny_config("model.side_network=true", "objective.side_weight=1", "objective.side_label=steady_distance")
    data = build_training_data(config)
    _, model = build_model(config, data)
    return model, data.pairs


def test_the_labels_are_the_distances_travel_read_one_video_at_a_time(tiny_config):
    model, pairs = _tiny_model_and_pairs(tiny_config)
    model.train()
    labels = distance_side_labels(model, pairs.videos, 0.0025, 0.0)
    assert model.training  # the mode is given back
    model.eval()
    for video, got in zip(pairs.videos, labels):
        image = torch.from_numpy(video.frames).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():
            scale = model.encode(image).scale.double().numpy()
        distance = 2.0 / (scale * np.asarray(video.person_box, np.float64)[:, 2])  # Z = 2 / (scale · side), metres
        expected = distance_travel_front(distance, 0.0025, 0.0)
        assert got.shape == (video.num_frames,) and got.dtype == np.float32
        assert np.all(np.isnan(got)) if math.isnan(expected) else np.all(got == expected)
    assert any(np.isfinite(got).any() for got in labels)


def test_frames_read_together_or_apart_give_the_same_scales(tiny_config):
    model, pairs = _tiny_model_and_pairs(tiny_config)
    together = video_scales(model, pairs.videos, batch_frames=10_000)
    apart = video_scales(model, pairs.videos, batch_frames=1)
    assert [len(s) for s in together] == [v.num_frames for v in pairs.videos]
    for a, b in zip(together, apart):
        assert np.allclose(a, b, rtol=1e-5)


def test_a_video_without_boxes_gets_no_label_and_the_share_counts_frames(tiny_config):
    model, pairs = _tiny_model_and_pairs(tiny_config)
    first = pairs.videos[0]
    pairs.videos[0] = Video(**{**first.__dict__, "person_box": None})
    share = relabel_by_distance(model, pairs, 0.0025, 0.0)
    assert np.all(np.isnan(pairs.side_front[0]))
    frames = sum(v.num_frames for v in pairs.videos)
    assert share == sum(np.isfinite(f).sum() for f in pairs.side_front) / frames
    assert labelled_share([np.array([1.0, np.nan], np.float32), np.array([np.nan, np.nan, 0.0], np.float32)]) == 0.4


def test_a_batch_gets_the_label_of_each_items_video_and_frame():
    side_front = [np.array([1.0, np.nan, 0.0], np.float32), np.array([0.0, 1.0], np.float32)]
    labels = batch_side_labels(side_front, torch.tensor([1, 0, 0, 1]), torch.tensor([1, 2, 1, 0]))
    assert labels.dtype == torch.float32
    assert torch.equal(labels.nan_to_num(-1), torch.tensor([1.0, 0.0, -1.0, 0.0]))
