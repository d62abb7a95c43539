"""Fixtures shared by the benchmark scripts' tests."""

import pytest

from benchmark_scripts import ROOT


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder of the tiny configuration trained for one step (its checkpoints inside)."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0",
                                                        f"run.out_dir={out}"]), resume=False)
    return out
