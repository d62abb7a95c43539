"""Tiny models for the inference tests, built directly (no training)."""

from pathlib import Path

import pytest
import torch

from partpose.training.config import load_config

TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"
TINY_MODEL = ["data.synthetic.num_test_subjects=2", "data.synthetic.frames_per_video=6"]


def make_model(*overrides: str, seed: int = 0):
    """A tiny ``PartPoseModel`` (eval mode) whose heads and decoder have large random weights, so
    that its pose, camera and appearance depend strongly on the image (a freshly initialised
    model predicts nearly the same rest pose for every image)."""
    from partpose.models.partpose_model import PartPoseModel

    config = load_config(TINY_CONFIG, TINY_MODEL + list(overrides))
    torch.manual_seed(seed)
    model = PartPoseModel(config.model)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "head" in name and name.endswith("weight"):
                parameter.normal_(0.0, 0.5)
            elif name.startswith("decoder") and parameter.dim() > 1:
                parameter.mul_(3.0)
    return config, model.eval()


@pytest.fixture(scope="session")
def model_factory():
    """``make_model`` as a fixture: ``model_factory(*overrides, seed=0) -> (config, model)``."""
    return make_model


@pytest.fixture(scope="session")
def tiny():
    """``(config, model)``: the tiny model above and its training configuration."""
    return make_model()


@pytest.fixture
def images():
    """Five random 32 x 32 images ``(5, 3, 32, 32)`` with different content."""
    generator = torch.Generator().manual_seed(7)
    return torch.rand(5, 3, 32, 32, generator=generator)
