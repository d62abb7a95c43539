"""Which side a person shows the camera, told by which way they travel: towards the camera, the front.

People mostly move the way they face, so a person whose distance from the camera falls over a
video is shown from the front, and one whose distance grows from the back. That is the one cue
to the side that a pose estimator given only the crops lacks and that unlabelled video carries:
the person detector's boxes grow as the person comes nearer. On the synthetic benchmark's
training videos the label it gives is right on about three frames in four (on walking and
running nearly always, on backflips and rolls mostly wrong; ``benchmarks/side_cues.py``).

Convention:
    A person box is ``Video.person_box``: ``(x, y, side)`` in the camera's normalised image plane.
    With the person's extent about constant, their distance is proportional to ``1 / side``;
    a video's depth change is read from its first and last boxes as
    ``rate = (side_first / side_last - 1) / (T - 1)``: the relative change of the distance per
    frame (negative: coming nearer).
"""

from __future__ import annotations

import math

import numpy as np


def travel_front(person_box: np.ndarray | None, min_rate: float) -> float:
    """The side a video's travel shows: 1.0 the front, 0.0 the back, ``nan`` none.

    Args:
        person_box: ``(T, 3)`` the video's person boxes (module docstring), or ``None``.
        min_rate: > 0, the least relative change of the person's distance per frame for the
            travel to count (0.0025: 0.28 m/s at 4.5 m and 25 fps).
    Returns:
        1.0 when the distance falls by at least ``min_rate`` per frame, 0.0 when it grows by at
        least that much, ``nan`` otherwise (too little travel, one frame, or no boxes).
    """
    if not (math.isfinite(min_rate) and min_rate > 0):
        raise ValueError(f"min_rate must be > 0, got {min_rate}")
    if person_box is None or len(person_box) < 2:
        return math.nan
    rate = (float(person_box[0, 2]) / float(person_box[-1, 2]) - 1.0) / (len(person_box) - 1)
    if rate <= -min_rate:
        return 1.0
    if rate >= min_rate:
        return 0.0
    return math.nan


def travel_steadiness(person_box: np.ndarray | None) -> float:
    """How steadily a video's person travels: the R² of a straight line fitted to the log of
    the box side over the frames.

    A walk towards or away from the camera changes its log distance about linearly (R² near 1);
    a body that curls up and stretches out again grows and shrinks its box (R² near 0), and so
    does a person who turns back. The travel's label (:func:`travel_front`) is right on the
    steady videos far more often than on the others (``benchmarks/side_teacher.py``).

    Args:
        person_box: ``(T, 3)`` the video's person boxes (module docstring), or ``None``.
    Returns:
        R² in [0, 1]; ``nan`` with fewer than three frames, no boxes, or a side that never changes.
    """
    if person_box is None:
        return math.nan
    return log_line_r2(np.asarray(person_box, dtype=np.float64)[:, 2])


def log_line_r2(values: np.ndarray) -> float:
    """The R² of a straight line fitted over the frames to the log of ``values`` ``(T,)`` (> 0: a
    box's side, a distance; the log of ``1 / x`` has the same R² as the log of ``x``); ``nan``
    with fewer than three frames or values that never change."""
    if len(values) < 3:
        return math.nan
    log_values = np.log(np.asarray(values, dtype=np.float64))
    frame = np.arange(len(log_values), dtype=np.float64)
    variance = float(log_values.var())
    if variance <= 1e-18:
        return math.nan
    slope, intercept = np.polyfit(frame, log_values, 1)
    residual = log_values - (slope * frame + intercept)
    return max(0.0, 1.0 - float(residual.var()) / variance)


def box_distance(person_box: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The person's distance from the camera in each frame, in metres, from their boxes and the
    encoder's camera scale: ``Z = 2 / (scale · side)``.

    A crop of side ``side`` (the camera's normalised image plane) spans two of the encoder's
    normalised units; a body ``Z`` metres away is drawn ``1 / Z`` image-plane units a metre, so
    the weak-perspective ``scale`` (normalised units a metre) is ``2 / (Z · side)``. The box's
    side alone also follows the body's changing extent (a body that curls up shrinks its box);
    the scale accounts for the extent, so together they give the distance itself.

    Args:
        person_box: ``(T, 3)`` the video's person boxes (module docstring).
        scale: ``(T,)`` > 0, the encoder's ``PoseEstimate.scale`` of each frame's crop.
    Returns:
        ``(T,)`` float64 metres.
    """
    return 2.0 / (np.asarray(scale, dtype=np.float64) * np.asarray(person_box, dtype=np.float64)[:, 2])


def distance_travel_front(distance: np.ndarray, min_rate: float, min_r2: float) -> float:
    """The side a video's travel shows, read from the person's distance in each frame: 1.0 the
    front (coming nearer), 0.0 the back, ``nan`` none.

    Args:
        distance: ``(T,)`` > 0, any unit (:func:`box_distance`).
        min_rate: the least relative change of the distance per frame, from the first frame to
            the last of a straight line fitted to it, ``(d_last / d_first - 1) / (T - 1)``,
            either way (as :func:`travel_front` asks of the box).
        min_r2: the least share of the variance of ``log distance`` a straight line over the
            frames must explain (a steady travel, :func:`log_line_r2`, as
            :func:`travel_steadiness` asks of the box's side).
    Returns:
        1.0, 0.0, or ``nan`` with fewer than three frames, a distance not > 0, an unsteady or
        too small travel.
    """
    distance = np.asarray(distance, dtype=np.float64)
    if len(distance) < 3 or not np.all(distance > 0):
        return math.nan
    if not log_line_r2(distance) >= min_r2:  # nan (no change at all) is not steady either
        return math.nan
    slope, intercept = np.polyfit(np.arange(len(distance), dtype=np.float64), distance, 1)
    first, last = intercept, slope * (len(distance) - 1) + intercept
    rate = (last / first - 1.0) / (len(distance) - 1)
    return 1.0 if rate <= -min_rate else 0.0 if rate >= min_rate else math.nan


def travel_fronts(videos, min_rate: float) -> np.ndarray:
    """``(V,)`` float32: :func:`travel_front` of each video's ``person_box``."""
    return np.array([travel_front(video.person_box, min_rate) for video in videos], dtype=np.float32)


def travel_heading(person_box: np.ndarray | None, camera_up: np.ndarray | None) -> tuple[np.ndarray | None, float]:
    """Which way about the world's up a video's person travels, and how fast, from its boxes.

    With the person's extent about constant, a box centred on the ray ``(x, y, 1)`` with side
    ``s`` puts the person at ``(x, y, 1) / s`` times one unknown length (their size): the path is
    known up to scale, and its direction exactly. People mostly face the way they travel, so the
    direction is a cue to the whole azimuth, not only the side (``benchmarks/side_cues.py``).

    Args:
        person_box: ``(T, 3)`` the video's person boxes (module docstring), or ``None``.
        camera_up: ``(3,)`` the world's up in camera coordinates (``Video.camera_up[0]``), or
            ``None``.
    Returns:
        ``(heading, rate)``: ``heading`` the ``(3,)`` unit direction, in camera coordinates and
        perpendicular to ``camera_up``, from the first frame's position to the last's (``None``
        without boxes, an up or travel), and ``rate`` that travel's length over the first
        position's distance, per frame (0.0 when ``heading`` is ``None``).
    """
    if person_box is None or camera_up is None or len(person_box) < 2:
        return None, 0.0
    box = np.asarray(person_box, dtype=np.float64)
    up = np.asarray(camera_up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    position = np.stack([box[:, 0], box[:, 1], np.ones(len(box))], axis=1) / box[:, 2:3]
    travel = position[-1] - position[0]
    travel = travel - (travel @ up) * up
    length = float(np.linalg.norm(travel))
    if length == 0.0:
        return None, 0.0
    return travel / length, length / float(np.linalg.norm(position[0])) / (len(box) - 1)
