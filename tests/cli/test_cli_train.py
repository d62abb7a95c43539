"""``partpose train``: a resumed run says how long the whole run has trained."""

import shutil

from partpose.training import checkpoint as ckpt


def test_a_resumed_run_prints_its_training_time_over_every_session(cli, trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    last = run / "checkpoints" / "last.pt"
    state = ckpt.load(last)
    state["train_seconds"] = 600.0  # ten minutes trained before this session
    ckpt.save_atomic(state, last)
    status, out, err = cli("train", "--config", run / "config.yaml", "run.steps=4", "--out", run)
    assert status == 0, err
    assert "after 4 steps (" in out and "10.0 min over every session of the run)" in out

    status, out, err = cli("train", "--config", run / "config.yaml", "run.steps=2", "--fresh", "--out", tmp_path / "new")
    assert status == 0, err
    assert "after 2 steps (" in out and "every session" not in out
