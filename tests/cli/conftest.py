"""A checkpoint trained for three steps with a tiny configuration, shared by the CLI tests."""

from pathlib import Path

import pytest

TINY_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"
TINY = ["run.image_every=0", "run.eval_every=0", "run.checkpoint_every=10"]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """The run folder of a three-step training run (checkpoints/last.pt, best.pt,
    final_metrics.json)."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(load_config(TINY_CONFIG, TINY + [f"run.out_dir={out}"]), resume=False)
    return out


@pytest.fixture(scope="session")
def checkpoint(trained_run):
    return trained_run / "checkpoints" / "last.pt"


@pytest.fixture
def cli(capsys):
    """Run ``partpose ARGS...`` in this process; returns ``(exit status, stdout, stderr)``."""
    from partpose.cli.main import main

    def run(*args):
        capsys.readouterr()
        status = main([str(a) for a in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


@pytest.fixture
def assert_one_line_error():
    """Check a failed command: exit status 2 and one ``partpose: error:`` line on stderr."""

    def check(result, *fragments):
        status, _, err = result
        assert status == 2, err
        assert err.startswith("partpose: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
        for fragment in fragments:
            assert fragment in err, err

    return check


@pytest.fixture(scope="session")
def side_checkpoint(checkpoint, tmp_path_factory):
    """The tiny checkpoint with a side network added (its weights fresh, seed 0): a model whose
    poses ``encode_sided`` turns to the side it reads."""
    import torch

    from partpose.training import checkpoint as ckpt
    from partpose.training.config import config_from_dict
    from partpose.models.partpose_model import PartPoseModel

    payload = ckpt.load(checkpoint, map_location="cpu")
    payload["config"]["model"]["side_network"] = True
    payload["config"]["model"]["side_camera_elevation_deg"] = 10.0
    payload["config"]["objective"]["side_weight"] = 1.0
    torch.manual_seed(0)
    model = PartPoseModel(config_from_dict(payload["config"]).model)
    model.load_state_dict(payload["model"], strict=False)
    payload["model"] = model.state_dict()
    out = tmp_path_factory.mktemp("side_run") / "side.pt"
    torch.save(payload, out)
    return out
