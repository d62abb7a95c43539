"""A checkpoint trained for three steps with a tiny configuration, shared by the CLI tests."""

import pytest

TINY = [
    "data.synthetic.resolution=32",
    "data.synthetic.num_train_subjects=2",
    "data.synthetic.num_test_subjects=1",
    "data.synthetic.videos_per_motion=1",
    "data.synthetic.test_videos_per_motion=1",
    "data.synthetic.frames_per_video=8",
    "data.max_gap=3",
    "model.resolution=32",
    "model.decoder.resolution=32",
    "model.decoder.widths=[16, 16, 8, 8]",
    "model.encoder.stem_channels=8",
    "model.encoder.widths=[8, 16]",
    "model.encoder.head_hidden=32",
    "model.encoder.appearance_dim=8",
    "run.batch_size=2",
    "run.steps=3",
    "run.log_every=1",
    "run.image_every=0",
    "run.eval_every=0",
    "run.checkpoint_every=10",
    "run.eval_max_frames=8",
    "run.progress=false",
    "run.threads=1",
]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """The run folder of a three-step training run (checkpoints/last.pt, best.pt,
    final_metrics.json)."""
    from partpose.training.config import load_config
    from partpose.training.trainer import train

    out = tmp_path_factory.mktemp("tiny_run")
    train(load_config(None, TINY + [f"run.out_dir={out}"]), resume=False)
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
