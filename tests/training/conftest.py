"""A tiny, fast training configuration shared by the training tests."""

import pytest

from partpose.training.config import load_config

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
    "run.image_every=2",
    "run.eval_every=2",
    "run.checkpoint_every=2",
    "run.eval_max_frames=8",
    "run.progress=false",
    "run.threads=1",
]


@pytest.fixture
def tiny_config(tmp_path):
    def make(*overrides: str, out: str = "run"):
        return load_config(None, TINY + [f"run.out_dir={tmp_path / out}"] + list(overrides))

    return make
