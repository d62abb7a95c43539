"""Every file in configs/ loads (a typo fails here, not after hours of preparation)."""

from pathlib import Path

import pytest
import yaml

from partpose.errors import UserError
from partpose.models.partpose_model import PartPoseModel
from partpose.training.config import config_to_dict, load_config
from partpose.training.data_setup import DATASETS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FILES = sorted(CONFIGS.glob("*.yaml"))
REAL = {"h36m.yaml": "h36m", "mpi_inf_3dhp.yaml": "mpi_inf_3dhp", "3dpw.yaml": "3dpw", "own_videos.yaml": "own"}


def test_the_expected_files_exist():
    assert {p.name for p in FILES} == {"synthetic_cpu.yaml", "synthetic_gpu.yaml", "studio_ours_cpu.yaml", "studio_semi_ours_cpu.yaml", "studio_side_cpu.yaml", "studio_semi_side_cpu.yaml",
            "studio_best_cpu.yaml", "studio_drawings_cpu.yaml", "studio_frame_colours_long_cpu.yaml", "studio_many_people_cpu.yaml",
            "random_side_cpu.yaml", "tiny.yaml", *REAL}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_config_loads_and_builds_its_model_config(path):
    config = load_config(path)
    assert config.data.dataset in DATASETS
    # the model builds (ModelConfig's checks ran in load_config: resolutions agree, one decoder
    # width per stage size, bottleneck widths divisible by 4, ...)
    model = PartPoseModel(config.model)
    assert model.decoder.config.resolution == config.model.resolution


def test_cpu_config_is_exactly_the_defaults_and_names_every_key():
    assert load_config(CONFIGS / "synthetic_cpu.yaml") == load_config(None)

    def missing(defaults: dict, written: dict, prefix: str = "") -> list[str]:
        keys = []
        for key, value in defaults.items():
            if key not in written:
                keys.append(prefix + key)
            elif isinstance(value, dict):
                keys += missing(value, written[key], f"{prefix}{key}.")
        return keys

    written = yaml.safe_load((CONFIGS / "synthetic_cpu.yaml").read_text())
    assert missing(config_to_dict(load_config(None)), written) == []


def test_gpu_config():
    config = load_config(CONFIGS / "synthetic_gpu.yaml")
    model, encoder, decoder = config.model, config.model.encoder, config.model.decoder
    assert config.data.synthetic.resolution == model.resolution == decoder.resolution == 128
    assert len(decoder.widths) == 6  # stage sizes 4, 8, 16, 32, 64, 128
    assert encoder.block == "bottleneck" and encoder.blocks_per_stage == (3, 4, 6, 3)
    assert all(w % 4 == 0 for w in encoder.widths) and len(encoder.widths) == 4
    run = config.run
    assert (run.batch_size, run.steps, run.accelerator, run.precision) == (16, 100000, "cuda", "bf16-mixed")


@pytest.mark.parametrize("name, dataset", REAL.items())
def test_real_dataset_configs_name_their_data_and_run_folder(name, dataset):
    config = load_config(CONFIGS / name)
    assert config.data.dataset == dataset and config.data.root == f"data/{dataset}_prepared"
    assert config.run.out_dir == f"runs/{Path(name).stem}"
    assert config.model == load_config(CONFIGS / "synthetic_gpu.yaml").model
    # the documented commands in the file's header use this config's folders
    header = (CONFIGS / name).read_text()
    assert f"--out data/{dataset}_prepared" in header


def test_run_folders_differ():
    folders = [load_config(p).run.out_dir for p in FILES]
    assert len(set(folders)) == len(folders)


def test_a_typo_in_a_config_is_an_error(tmp_path):
    (tmp_path / "typo.yaml").write_text("base: " + str(CONFIGS / "h36m.yaml") + "\ndata:\n  prior_fsp: 10\n")
    with pytest.raises(UserError, match="unknown key config.data.prior_fsp"):
        load_config(tmp_path / "typo.yaml")


@pytest.mark.parametrize("value", ["-1", "181", "nan"])
def test_a_side_tilt_outside_0_to_180_degrees_is_an_error(value):
    with pytest.raises(UserError, match="objective.side_max_tilt_deg"):
        load_config(CONFIGS / "synthetic_cpu.yaml", [f"objective.side_max_tilt_deg={value}"])


@pytest.mark.parametrize("overrides, fragment", [
    (["objective.side_consistency_weight=-1"], ">= 0"),
    (["objective.side_consistency_weight=nan"], ">= 0"),
    (["objective.side_consistency_weight=1"], "model.side_network"),
])
def test_a_bad_side_consistency_weight_is_an_error(overrides, fragment):
    with pytest.raises(UserError, match="objective.side_consistency_weight") as error:
        load_config(CONFIGS / "synthetic_cpu.yaml", overrides)
    assert fragment in str(error.value)


@pytest.mark.parametrize("value", ["0", "-2"])
def test_fewer_than_one_prior_draw_a_pair_is_an_error(value):
    with pytest.raises(UserError, match="objective.prior_draws must be >= 1"):
        load_config(CONFIGS / "synthetic_cpu.yaml", [f"objective.prior_draws={value}"])


@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan"])
def test_a_prior_mirror_outside_0_to_1_is_an_error(value):
    with pytest.raises(UserError, match="objective.prior_mirror must be within 0..1"):
        load_config(CONFIGS / "synthetic_cpu.yaml", [f"objective.prior_mirror={value}"])


def test_an_unknown_reconstruction_pose_is_an_error():
    with pytest.raises(UserError, match="objective.reconstruction_pose must be one of 'estimate', 'truth'"):
        load_config(CONFIGS / "synthetic_cpu.yaml", ["objective.reconstruction_pose=labels"])


def test_an_unknown_prior_parts_is_an_error():
    with pytest.raises(UserError, match="objective.prior_parts must be one of 'as_drawn', 'flat', 'flat_plate', 'frame_colours', 'frame_colours_print', 'palette'"):
        load_config(CONFIGS / "synthetic_cpu.yaml", ["objective.prior_parts=shaded"])


@pytest.mark.parametrize("overrides, message", [
    (["objective.prior_part_jitter=1.0", "objective.prior_parts=flat"], "objective.prior_part_jitter must be within 0..1"),
    (["objective.prior_part_jitter=-0.1", "objective.prior_parts=flat"], "objective.prior_part_jitter must be within 0..1"),
    (["objective.prior_part_jitter=0.3"], "objective.prior_part_jitter needs objective.prior_parts=flat or flat_plate"),
])
def test_a_prior_part_jitter_out_of_range_or_without_flat_parts_is_an_error(overrides, message):
    with pytest.raises(UserError, match=message):
        load_config(CONFIGS / "synthetic_cpu.yaml", overrides)


def test_a_negative_reconstruction_weight_is_an_error():
    with pytest.raises(UserError, match="objective.reconstruction_weight must be >= 0, got -1.0"):
        load_config(CONFIGS / "synthetic_cpu.yaml", ["objective.reconstruction_weight=-1"])


@pytest.mark.parametrize("overrides, message", [
    (["objective.prior_side_weight=-1"], "objective.prior_side_weight must be >= 0"),
    (["objective.prior_side_weight=1"], "objective.prior_side_weight teaches the side network"),
])
def test_prior_side_weight_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        load_config(CONFIGS / "synthetic_cpu.yaml", overrides)


@pytest.mark.parametrize("value", ["-1", "101"])
def test_a_cooldown_outside_the_run_is_an_error(value):
    with pytest.raises(UserError, match=r"run.cooldown_steps must be between 0 and run.steps \(100\)"):
        load_config(CONFIGS / "synthetic_cpu.yaml", ["run.steps=100", f"run.cooldown_steps={value}"])
