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
