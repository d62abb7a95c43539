"""benchmarks/weight_difference.py: the largest change of each part of the network between two
checkpoints, and which parts are bit for bit the same."""

import pytest
import torch

from benchmark_scripts import load_benchmark

from partpose.training import checkpoint as ckpt

weight_difference = load_benchmark("weight_difference")


def _state(seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {"encoder.stem.0.weight": torch.randn(4, 3, generator=generator),
            "encoder.stem.1.bias": torch.randn(4, generator=generator),
            "decoder.up.0.weight": torch.randn(2, 2, generator=generator),
            "bone_lengths_mm": torch.rand(5, generator=generator) + 100}


def test_groups_by_the_first_two_parts_of_a_name():
    assert weight_difference.group_of("encoder.stages.0.0.conv1.weight") == "encoder.stages"
    assert weight_difference.group_of("bone_lengths_mm") == "bone_lengths_mm"


def test_differences_by_hand():
    a = _state()
    b = {name: x.clone() for name, x in a.items()}
    b["encoder.stem.1.bias"][2] += 0.25
    b["encoder.stem.0.weight"][1, 1] -= 0.5
    groups = weight_difference.weight_differences(a, b)
    assert list(groups) == ["encoder.stem", "decoder.up", "bone_lengths_mm"]
    stem = groups["encoder.stem"]
    assert (stem["tensors"], stem["elements"], stem["identical"]) == (2, 16, False)
    assert stem["max_abs"] == pytest.approx(0.5)
    every = torch.cat([a["encoder.stem.0.weight"].flatten(), a["encoder.stem.1.bias"]]).double()
    assert stem["rms_a"] == pytest.approx(float(every.square().mean().sqrt()))
    assert stem["rms_difference"] == pytest.approx(((0.25 ** 2 + 0.5 ** 2) / 16) ** 0.5)
    assert groups["decoder.up"]["identical"] and groups["decoder.up"]["max_abs"] == 0.0
    assert groups["bone_lengths_mm"]["identical"]


def test_a_change_too_small_for_the_largest_difference_still_breaks_identity():
    a = _state()
    b = dict(a, **{"decoder.up.0.weight": torch.nextafter(a["decoder.up.0.weight"], torch.tensor(float("inf")))})
    assert not weight_difference.weight_differences(a, b)["decoder.up"]["identical"]


def test_different_names_or_shapes_are_refused():
    a = _state()
    with pytest.raises(ValueError, match="different weights"):
        weight_difference.weight_differences(a, {**a, "side.head.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="shape"):
        weight_difference.weight_differences(a, {**a, "bone_lengths_mm": torch.zeros(6)})


def test_the_script_reads_two_run_folders_and_writes_the_table(tmp_path, capsys):
    for name in ("a", "b"):
        state = _state()
        if name == "b":
            state["decoder.up.0.weight"] = state["decoder.up.0.weight"] + 1.0
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "model": state, "training_model": _state(1)},
                         tmp_path / name / "checkpoints" / "last.pt")
    out = tmp_path / "table.md"
    assert weight_difference.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    text = out.read_text()
    rms_up = float(_state()["decoder.up.0.weight"].double().square().mean().sqrt())
    assert f"| decoder.up | 1 | 4 | 1 | {1 / rms_up:.3g} |" in text and "| encoder.stem | 2 | 16 | identical |" in text
    assert "Identical: 2 of 3 parts (encoder.stem, bone_lengths_mm)." in text
    assert weight_difference.main([str(tmp_path / "a"), str(tmp_path / "b"), "--weights", "training_model"]) == 0
    assert "Identical: 3 of 3 parts" in capsys.readouterr().out


def test_a_missing_checkpoint_is_one_line_and_status_2(tmp_path, capsys):
    assert weight_difference.main([str(tmp_path / "nothing"), str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
