import os

import numpy as np
import pytest
import torch

from partpose.errors import UserError
from partpose.training import checkpoint as ckpt


def _payload(value: float) -> dict:
    return {"format": ckpt.FORMAT_VERSION, "model": {"w": torch.full((3,), value)}, "step": int(value)}


def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "c" / "last.pt"
    ckpt.save_atomic(_payload(2.0), path)
    loaded = ckpt.load(path)
    assert loaded["step"] == 2 and torch.equal(loaded["model"]["w"], torch.full((3,), 2.0))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left behind


def test_a_write_cut_off_midway_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    ckpt.save_atomic(_payload(1.0), path)

    def broken_save(obj, handle):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        ckpt.save_atomic(_payload(7.0), path)
    monkeypatch.undo()
    assert ckpt.load(path)["step"] == 1
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_truncated_or_foreign_files_are_refused(tmp_path):
    path = tmp_path / "last.pt"
    ckpt.save_atomic(_payload(1.0), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="not a readable partpose checkpoint"):
        ckpt.load(path)
    torch.save({"something": 1}, path)
    with pytest.raises(UserError, match="not a partpose checkpoint"):
        ckpt.load(path)
    with pytest.raises(UserError, match="not found"):
        ckpt.load(tmp_path / "missing.pt")


def test_rng_state_round_trip():
    state = ckpt.rng_state()
    a = (torch.rand(3), np.random.rand(3))
    ckpt.set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
