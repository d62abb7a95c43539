"""benchmarks/heading_view.py: the azimuth convention and the turn to an azimuth by hand, and
the script end to end."""

import math

import torch
from scipy.spatial.transform import Rotation

from benchmark_scripts import ROOT, load_benchmark
from partpose.geometry.skeleton import H36M17

view = load_benchmark("heading_view")
LEVEL = torch.tensor([[0.0, -1.0, 0.0]], dtype=torch.float64)


def _facing_camera() -> torch.Tensor:
    """``(1, 17, 3)`` a body whose chest faces the camera (normal -z), upright (y down)."""
    body = torch.zeros(1, 17, 3, dtype=torch.float64)
    body[0, H36M17.index("l_shoulder"), 0], body[0, H36M17.index("r_shoulder"), 0] = 200.0, -200.0
    body[0, H36M17.l_hip, 0], body[0, H36M17.r_hip, 0] = 100.0, -100.0
    body[0, H36M17.thorax, 1] = -500.0
    return body


def test_the_azimuth_convention_by_hand():
    towards, away, right = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    got = view.ground_azimuth(torch.stack([towards, away, right]), LEVEL.expand(3, 3))
    assert got[0] == 0.0 and abs(abs(float(got[1])) - math.pi) < 1e-12 and abs(float(got[2]) - math.pi / 2) < 1e-12
    assert abs(float(view.chest_azimuth(_facing_camera(), LEVEL))) < 1e-12
    # a turn by θ about the up (right-handed) adds θ, also under a pitched camera
    e = math.radians(25.0)
    up = torch.tensor([[0.0, -math.cos(e), -math.sin(e)]], dtype=torch.float64)
    v = torch.nn.functional.normalize(torch.tensor([[0.3, 0.1, -1.0]], dtype=torch.float64), dim=1)
    turned = torch.from_numpy(Rotation.from_rotvec(up.numpy()[0] * 0.7).apply(v.numpy()))
    delta = view.ground_azimuth(turned, up) - view.ground_azimuth(v, up)
    assert abs(float(delta) - 0.7) < 1e-9


def test_turn_to_azimuth_by_hand():
    body = _facing_camera().expand(3, 17, 3).clone()
    up = LEVEL.expand(3, 3)
    target = torch.tensor([0.5, -2.0, math.pi], dtype=torch.float64)
    turned = view.turn_to_azimuth(body, up, target)
    assert torch.allclose(view.angle_error(view.chest_azimuth(turned, up), target), torch.zeros(3, dtype=torch.float64), atol=1e-9)
    # a turn about the up keeps every joint's height and every length
    assert torch.allclose(turned[..., 1], body[..., 1], atol=1e-9)
    assert torch.allclose(turned.norm(dim=-1), body.norm(dim=-1), atol=1e-9)
    # turned half round: the chest faces away, x mirrored
    assert torch.allclose(turned[2, :, 0], -body[2, :, 0], atol=1e-9)


def test_it_runs_end_to_end_and_refuses_a_missing_config(tiny_run, tmp_path, capsys):
    out = tmp_path / "heading.md"
    args = ["--config", str(ROOT / "configs" / "tiny.yaml"), "--iterations", "2", "--batch-size", "4", "--videos", "8",
            "--test-videos", "4", "--min-rate", "1e-6", "--threads", "1", "--checkpoints", str(tiny_run), "--out", str(out)]
    assert view.main(args) == 0
    taught = [line for line in out.read_text().splitlines() if line.startswith("| the ")]
    assert len(taught) == 2 and all(line.count("|") == 9 for line in taught)
    turned = [line for line in out.read_text().splitlines() if line.startswith(f"| {tiny_run} |")]
    assert len(turned) == 1 and all(float(x) > 0 for x in turned[0].strip("| ").split(" | ")[2:])
    # without a side network the model's poses are its encoder's
    assert turned[0].split(" | ")[2] == turned[0].split(" | ")[3]
    assert view.main(["--config", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.startswith("error:")
