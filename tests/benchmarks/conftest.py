"""Fixtures shared by the benchmark scripts' tests."""

import pytest

from benchmark_scripts import ROOT, load_benchmark


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder of the tiny configuration trained for one step (its checkpoints inside)."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0",
                                                        f"run.out_dir={out}"]), resume=False)
    return out


@pytest.fixture(scope="module")
def tiny_side_run(tmp_path_factory):
    """A run folder of the tiny configuration with a side network, trained for one step."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_side_run")
    train(load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0",
                                                        "model.side_network=true", "objective.side_weight=1",
                                                        f"run.out_dir={out}"]), resume=False)
    return out


@pytest.fixture(scope="module")
def tiny_supervised():
    """``(config, data, model)``: the tiny configuration as the supervised row under the studio
    budget of ``benchmarks/energy_route.py`` (which ``view_losses.py`` shares), a new model (seed 0)
    in eval mode."""
    import torch

    from partpose.training.config import load_config
    from partpose.training.data_setup import build_training_data
    from partpose.training.trainer import build_model

    config = load_config(ROOT / "configs" / "tiny.yaml", ["objective.setting=supervised"] + load_benchmark("energy_route").BUDGET)
    data = build_training_data(config)
    torch.manual_seed(0)
    config, model = build_model(config, data)
    return config, data, model.eval()


@pytest.fixture(scope="module")
def tiny_sides_run(tmp_path_factory):
    """A run folder of the tiny configuration with three side networks, trained for one step."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_sides_run")
    train(load_config(ROOT / "configs" / "tiny.yaml", ["run.steps=1", "run.image_every=0", "run.eval_every=0",
                                                        "model.side_network=true", "model.side_networks=3",
                                                        "objective.side_weight=1", f"run.out_dir={out}"]), resume=False)
    return out
