"""A tiny, fast training configuration shared by the training tests (``configs/tiny.yaml``)."""

from pathlib import Path

import pytest

from partpose.training.config import load_config

TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


@pytest.fixture
def tiny_config(tmp_path):
    def make(*overrides: str, out: str = "run"):
        return load_config(TINY_CONFIG, [f"run.out_dir={tmp_path / out}", *overrides])

    return make
