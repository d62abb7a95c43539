"""benchmarks/side_members.py: each side network alone and all of them together score what
``partpose evaluate`` scores of a checkpoint holding that network alone, and of the checkpoint."""

import json

import pytest

from benchmark_scripts import load_benchmark

side_members = load_benchmark("side_members")


def _evaluated(checkpoint, out):
    from partpose.cli.main import main as cli_main

    assert cli_main(["evaluate", "--checkpoint", str(checkpoint), "--max-frames", "8", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    return [f" {metrics['mpjpe']:.1f} ", f" {metrics['pa_mpjpe']:.1f} "]


def _one_member(checkpoint, k, out):
    """A copy of ``checkpoint`` (three side networks) whose model holds its side network ``k`` alone."""
    from partpose.training import checkpoint as ckpt

    state = ckpt.load(checkpoint)
    state["config"]["model"]["side_networks"] = 1
    prefix = f"side.members.{k}."
    for key in ("model", "training_model"):
        if key in state:
            state[key] = {("side." + name[len(prefix):] if name.startswith(prefix) else name): value
                          for name, value in state[key].items() if not name.startswith("side.members.") or name.startswith(prefix)}
    ckpt.save_atomic(state, out)
    return out


def test_each_side_network_alone_and_together_score_what_evaluate_scores(tiny_sides_run, tmp_path):
    last = tiny_sides_run / "checkpoints" / "last.pt"
    out = tmp_path / "members.md"
    assert side_members.main([str(last), "--max-frames", "8", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    alone = [line for line in lines if "alone |" in line and "mean" not in line]
    together = [line for line in lines if "side networks together |" in line]
    assert len(alone) == 3 and len(together) == 1
    assert together[0].split("|")[2:4] == _evaluated(last, tmp_path / "together.json")
    for k, line in enumerate(alone):
        single = _one_member(last, k, tmp_path / f"member{k}.pt")
        assert line.split("|")[2:4] == _evaluated(single, tmp_path / f"member{k}.json")
    measured = [float(v) for v in lines[-2].split("|")[2:-1]]
    assert len(measured) == 4 and sum(measured) == pytest.approx(100.0, abs=0.2)


def test_a_model_with_one_side_network_is_one_line(tiny_side_run, capsys):
    assert side_members.main([str(tiny_side_run), "--max-frames", "8"]) == 2
    err = capsys.readouterr().err
    assert "has 1 side network (model.side_networks)" in err and err.count("\n") == 1
