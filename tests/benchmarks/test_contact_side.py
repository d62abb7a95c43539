"""benchmarks/contact_side.py: the root from the boxes, the line fit and the slides by hand; the
script end to end."""

import torch

from benchmark_scripts import load_benchmark

contact = load_benchmark("contact_side")


def test_the_root_from_the_boxes_is_the_pinhole_worked_backwards():
    # a root 4 m away on the ray (0.1, -0.05): in a crop of side 0.5 (image-plane units) drawn at
    # offset (0.2, -0.4), the box centre at 0.1 - 0.2 * 0.25; 2 / (Z s) normalised units a metre
    z_m, side = 4.0, 0.5
    offset = torch.tensor([[0.2, -0.4]])
    box = torch.tensor([[0.1 - 0.2 * side / 2, -0.05 + 0.4 * side / 2, side]])
    scale = torch.tensor([2.0 / (z_m * side)])
    root = contact.root_from_boxes(box, scale, offset)
    assert torch.allclose(root, torch.tensor([[0.1 * 4000.0, -0.05 * 4000.0, 4000.0]], dtype=torch.float64))


def test_the_line_fit_keeps_a_line_and_levels_noise():
    frame = torch.arange(6, dtype=torch.float64)[:, None]
    line = torch.cat((3.0 * frame + 1.0, -frame), dim=1)
    assert torch.allclose(contact.line_fit(line), line)
    noisy = line + torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0], dtype=torch.float64)[:, None]
    assert (contact.line_fit(noisy) - line).abs().max() < 0.5
    one = torch.ones(1, 3, dtype=torch.float64)
    assert torch.equal(contact.line_fit(one), one)


def _walker(frames: int = 5, step_mm: float = 100.0):
    """A level camera; a body whose root comes 100 mm nearer each frame while its lowest joint (the
    right ankle) stays on the floor: its offset from the root grows by 100 mm away each frame."""
    from partpose.geometry.skeleton import H36M17

    ankle = H36M17.index("r_ankle")
    relative = torch.zeros(frames, 17, 3, dtype=torch.float64)
    relative[:, :, 1] = -500.0  # y down: every joint above the root...
    relative[:, 0, 1] = 0.0
    relative[:, ankle, 1] = 900.0  # ...but the ankle, 900 mm below it
    relative[:, ankle, 2] = step_mm * torch.arange(frames, dtype=torch.float64)
    root = torch.zeros(frames, 3, dtype=torch.float64)
    root[:, 2] = 5000.0 - step_mm * torch.arange(frames, dtype=torch.float64)
    return root, relative, torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)


def test_the_pose_keeps_its_foot_still_and_its_twin_slides_it_twice_the_roots_travel():
    root, relative, up = _walker()
    pose_slide, twin_slide = contact.contact_skates(root, relative, up)
    assert pose_slide == 0.0 and twin_slide == 2 * 4 * 100.0
    # the twin itself (upright_twin_pose) swaps the two: its foot slides, and the pose's twin is the pose
    from partpose.geometry.facing import upright_twin_pose

    twin = upright_twin_pose(relative, up)
    assert contact.contact_skates(root, twin, up) == (twin_slide, pose_slide)
    # no travel: neither slides; one frame: nothing to follow
    still = root[:1].expand_as(root)
    standing = relative.clone()
    standing[:, :, 2] = 0.0
    assert contact.contact_skates(still, standing, up) == (0.0, 0.0)
    assert contact.contact_skates(root[:1], relative[:1], up) == (0.0, 0.0)


def test_it_runs_end_to_end_and_refuses_a_missing_checkpoint(tiny_run, tmp_path, capsys):
    out = tmp_path / "contact.md"
    assert contact.main([str(tiny_run), "--split", "test", "--threads", "1", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[2].startswith("| motion | videos | true joints, true root |")
    total = [line for line in lines if line.startswith("| all |")]
    assert len(total) == 1 and total[0].count("|") == 2 + len(contact.SOURCES) + 1
    shares = [float(x) for x in total[0].strip("|").split("|")[2:]]
    assert all(0.0 <= share <= 100.0 for share in shares)
    assert contact.main([str(tmp_path / "missing"), "--threads", "1"]) == 2
    assert capsys.readouterr().err.startswith("error:")
