import math

import pytest
import torch

from partpose.geometry import puppet
from partpose.geometry.front_print import (CHEST_HALF_DEPTH_MM, PRINT_BAND, PRINT_START, TORSO_LABEL, paint_with_print,
                                          print_colours, print_mask, print_range_mm)
from partpose.geometry.parts import NUM_PARTS
from partpose.geometry.skeleton import H36M17

from test_facing import STANDING_MM, seen_at

F64 = torch.float64
# the standing person's chest: half its shoulder width (302 mm) times 0.45, plus 25 mm
W_MM = 0.45 * 302.0 + 25.0
STEP = 2.0 * math.pi / 180  # the angle samples' spacing


def camera_points(azimuth_deg: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    q, depth, s = seen_at(torch.tensor([azimuth_deg]))
    return torch.cat((q / s[:, None, None], depth[..., None]), dim=-1) * 1000.0, q, depth, s


ACROSS = torch.tensor([[1.0, 0.0]], dtype=F64)  # the standing person's torso axis is -y: across it is +x


def test_standing_person_has_the_shoulder_width_the_chest_is_built_on():
    pose = torch.tensor(STANDING_MM, dtype=F64)
    shoulders = pose[H36M17.index("l_shoulder")] - pose[H36M17.index("r_shoulder")]
    assert shoulders.norm().item() == pytest.approx(302.0)


def test_facing_the_camera_the_print_spans_the_chest_symmetrically():
    """cos(phi) > 0.45 and all of it faces the camera: x = w sin(phi) across, |x| <= w sqrt(1 - 0.45^2)."""
    points, *_ = camera_points(0.0)
    low, high = print_range_mm(points, ACROSS)[0].tolist()
    edge = W_MM * math.sqrt(1.0 - PRINT_START ** 2)
    # the samples fall 2 degrees apart: the ends are within one step of the edge
    assert high == pytest.approx(edge, abs=W_MM * STEP)
    assert low == pytest.approx(-edge, abs=W_MM * STEP)
    assert high <= edge and low >= -edge


def test_facing_away_no_print_is_seen():
    points, *_ = camera_points(180.0)
    low, high = print_range_mm(points, ACROSS)[0].tolist()
    assert low == math.inf and high == -math.inf


@pytest.mark.parametrize("azimuth, sign", [(90.0, 1.0), (-90.0, -1.0)])
def test_in_profile_the_print_is_a_sliver_at_the_chest_edge_it_faces(azimuth, sign):
    """Turned 90 degrees the forward axis lies across the image: x = d cos(phi) on the visible
    half, from 0.45 d to d on the side the chest faces."""
    points, *_ = camera_points(azimuth)
    low, high = (sign * print_range_mm(points, ACROSS)[0]).sort().values.tolist()
    d = CHEST_HALF_DEPTH_MM
    assert low == pytest.approx(PRINT_START * d, abs=d * STEP)
    assert high == pytest.approx(d, abs=1e-6 * d)


def test_turned_part_way_the_print_moves_towards_the_side_the_chest_faces_and_narrows():
    ranges = {a: print_range_mm(camera_points(a)[0], ACROSS)[0] for a in (0.0, 30.0, 60.0)}
    widths = {a: float(r[1] - r[0]) for a, r in ranges.items()}
    centres = {a: float(r.mean()) for a, r in ranges.items()}
    assert widths[0.0] > widths[30.0] > widths[60.0] > 0
    assert abs(centres[0.0]) < 1e-6 * W_MM and centres[30.0] > 0 and centres[60.0] > centres[30.0]
    turned_the_other_way = print_range_mm(camera_points(-30.0)[0], ACROSS)[0]
    torch.testing.assert_close(turned_the_other_way, -ranges[30.0].flip(0))


def _slow_mask(q, scale, label_map, low, high):
    """Pixel by pixel: torso, within the chest's band along the axis, within the range across it."""
    hips = (q[H36M17.l_hip] + q[H36M17.r_hip]) / 2
    shoulders = (q[H36M17.index("l_shoulder")] + q[H36M17.index("r_shoulder")]) / 2
    axis = shoulders - hips
    along_2d = axis / axis.norm()
    across_2d = torch.stack((-along_2d[1], along_2d[0]))
    height, width = label_map.shape
    out = torch.zeros(height, width, dtype=torch.bool)
    for i in range(height):
        for j in range(width):
            u = torch.tensor([(2 * j + 1) / width - 1, (2 * i + 1) / height - 1], dtype=q.dtype) - hips
            along = float(u @ along_2d) / float(axis.norm())
            across_mm = 1000.0 * float(u @ across_2d) / float(scale)
            out[i, j] = (label_map[i, j] == TORSO_LABEL and PRINT_BAND[0] <= along <= PRINT_BAND[1]
                         and low <= across_mm <= high)
    return out


@pytest.mark.parametrize("azimuth", [0.0, 40.0, -70.0, 180.0])
def test_print_mask_equals_a_pixel_by_pixel_twin(azimuth):
    _, q, depth, s = camera_points(azimuth)
    labels = puppet.labels(puppet.part_maps(q.float(), depth.float(), (32, 32), scale=s.float()))
    mask = print_mask(q, depth, s, labels)
    points = torch.cat((q / s[:, None, None], depth[..., None]), dim=-1) * 1000.0
    axis = (q[0, H36M17.index("l_shoulder")] + q[0, H36M17.index("r_shoulder")]) / 2 - (
        q[0, H36M17.l_hip] + q[0, H36M17.r_hip]) / 2
    across = torch.stack((-axis[1], axis[0])) / axis.norm()
    low, high = print_range_mm(points.float(), across[None].float())[0].tolist()
    expected = _slow_mask(q[0], s[0], labels[0], low, high)
    assert torch.equal(mask[0], expected)
    assert bool(expected.any()) == (azimuth != 180.0)
    assert not (mask & (labels != TORSO_LABEL)).any()


def test_print_colours_read_the_print_apart_from_the_torso_and_fall_back_to_it():
    """Hand-made: a torso of four pixels, two of them the print."""
    labels = torch.zeros(2, 2, 3, dtype=torch.long)
    labels[:, 0, :2] = TORSO_LABEL
    labels[:, 1, :2] = TORSO_LABEL
    labels[:, 0, 2] = 1  # the head
    frame = torch.zeros(2, 3, 2, 3)
    frame[:, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])  # the print's pixels red and green
    frame[:, :, 0, 1] = torch.tensor([0.0, 1.0, 0.0])
    frame[:, :, 1, :2] = 0.5  # the rest of the torso grey
    frame[:, :, 0, 2] = 0.2
    mask = torch.zeros(2, 2, 3, dtype=torch.bool)
    mask[0, 0, :2] = True  # the first sample shows the print, the second none
    colours = print_colours(frame, labels, mask, NUM_PARTS)
    assert colours.shape == (2, 3, NUM_PARTS + 1)
    torch.testing.assert_close(colours[0, :, NUM_PARTS], torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(colours[0, :, TORSO_LABEL - 1], torch.tensor([0.5, 0.5, 0.5]))
    torso_all = torch.tensor([1.0 + 0.0 + 1.0, 0.0 + 1.0 + 1.0, 1.0]) / 4
    torch.testing.assert_close(colours[1, :, TORSO_LABEL - 1], torso_all)
    torch.testing.assert_close(colours[1, :, NUM_PARTS], torso_all)  # no print: the torso's colour
    torch.testing.assert_close(colours[:, :, 0], torch.full((2, 3), 0.2))  # the head as frame_part_colours reads it

    painted = paint_with_print(labels, mask, colours, torch.ones(2, 3, 2, 3))
    torch.testing.assert_close(painted[0, :, 0, 0], torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(painted[0, :, 1, 0], torch.tensor([0.5, 0.5, 0.5]))
    torch.testing.assert_close(painted[1, :, 0, 0], torso_all)
    torch.testing.assert_close(painted[:, :, 1, 2], torch.ones(2, 3))  # the background kept
