"""Loading checkpoints for inference: the model comes back exactly, mistakes are one-line errors."""

from dataclasses import replace

import pytest
import torch

from partpose.errors import UserError
from partpose.inference.loading import add_side_networks, load_model, resolve_checkpoint, resolve_device
from partpose.training import checkpoint as ckpt
from partpose.training.config import config_to_dict


def _save(path, config, model, **extra):
    payload = {"format": ckpt.FORMAT_VERSION, "config": config_to_dict(config), "model": model.state_dict()}
    payload.update(extra)
    ckpt.save_atomic(payload, path)
    return path


def test_load_model_restores_predictions(tiny, images, tmp_path):
    config, model = tiny
    path = _save(tmp_path / "m.pt", config, model, step=42)
    loaded = load_model(path)
    assert not loaded.model.training and loaded.step == 42 and loaded.resolution == 32
    assert loaded.path == path and loaded.device == torch.device("cpu")
    with torch.no_grad():
        a, b = model.encode(images), loaded.model.encode(images)
    assert torch.equal(a.pose_cam_mm, b.pose_cam_mm) and torch.equal(a.appearance, b.appearance)


def test_checkpoint_from_before_head_norm_loads_as_it_was_trained(model_factory, images, tmp_path):
    # its configuration has no model.encoder.head_norm and its heads have no LayerNorm weights
    config, model = model_factory("model.encoder.head_norm=none")
    stored = config_to_dict(config)
    del stored["model"]["encoder"]["head_norm"]
    path = tmp_path / "old.pt"
    ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "config": stored, "model": model.state_dict()}, path)
    loaded = load_model(path)
    assert loaded.config.model.encoder.head_norm == "none"
    with torch.no_grad():
        assert torch.equal(model.encode(images).pose_cam_mm, loaded.model.encode(images).pose_cam_mm)
    # a configuration that names the key keeps it
    config, model = model_factory()
    assert config.model.encoder.head_norm == "layer"
    assert load_model(_save(tmp_path / "new.pt", config, model)).config.model.encoder.head_norm == "layer"



@pytest.mark.parametrize("trains_trunk,trunk", [(True, "shared"), (False, "detached")])
def test_checkpoint_with_the_old_appearance_flag_loads(model_factory, tmp_path, trains_trunk, trunk):
    config, model = model_factory(f"model.encoder.appearance_trunk={trunk}")
    stored = config_to_dict(config)
    del stored["model"]["encoder"]["appearance_trunk"]
    stored["model"]["encoder"]["appearance_trains_trunk"] = trains_trunk
    path = tmp_path / "old.pt"
    ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "config": stored, "model": model.state_dict()}, path)
    assert load_model(path).config.model.encoder.appearance_trunk == trunk


def test_checkpoint_from_before_view_up_was_trained_with_views_about_the_spine(model_factory, tmp_path):
    config, model = model_factory()
    assert config.objective.view_up == "world"  # today's default
    stored = config_to_dict(config)
    del stored["objective"]["view_up"]
    path = tmp_path / "old.pt"
    ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "config": stored, "model": model.state_dict()}, path)
    assert load_model(path).config.objective.view_up == "spine"
    assert load_model(_save(tmp_path / "new.pt", config, model)).config.objective.view_up == "world"

def test_run_folder_means_the_final_model(tiny, tmp_path):
    """best.pt is chosen on the test split: a run folder means last.pt, best.pt only without it."""
    config, model = tiny
    _save(tmp_path / "run" / "checkpoints" / "best.pt", config, model, step=1)
    assert resolve_checkpoint(tmp_path / "run") == tmp_path / "run" / "checkpoints" / "best.pt"
    _save(tmp_path / "run" / "checkpoints" / "last.pt", config, model, step=2)
    assert load_model(tmp_path / "run").step == 2
    with pytest.raises(UserError, match="no checkpoint in this folder"):
        resolve_checkpoint(tmp_path)


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_bad_checkpoints_are_one_line_user_errors(model_factory, tiny, tmp_path):
    config, model = tiny
    with pytest.raises(UserError) as error:
        load_model(tmp_path / "missing.pt")
    assert "not found" in _one_line(error)

    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    (tmp_path / "bytes.pt").write_bytes(bytes(range(256)))
    torch.save({"format": ckpt.FORMAT_VERSION, "model": model.state_dict()}, tmp_path / "noconfig.pt")
    for name in ("tensor.pt", "bytes.pt", "noconfig.pt"):
        with pytest.raises(UserError) as error:
            load_model(tmp_path / name)
        assert name in _one_line(error)

    data = config_to_dict(config)
    data["model"]["encoder"]["colour"] = "blue"  # a key this version does not know
    ckpt.save_atomic({"format": ckpt.FORMAT_VERSION, "config": data, "model": model.state_dict()}, tmp_path / "key.pt")
    with pytest.raises(UserError) as error:
        load_model(tmp_path / "key.pt")
    assert "configuration" in _one_line(error) and "colour" in _one_line(error)

    _, wider = model_factory("model.encoder.widths=[8, 24]")
    _save(tmp_path / "weights.pt", config, wider)  # weights of another architecture
    with pytest.raises(UserError) as error:
        load_model(tmp_path / "weights.pt")
    assert "weights do not fit" in _one_line(error)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("abacus")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda")


def _with_new_side(model, seed):
    """A copy of ``model`` (a ``PartPoseModel`` with a side network) whose side network alone is new:
    what benchmarks/side_refit.py writes."""
    import copy

    from partpose.models.side import SideNetwork

    twin = copy.deepcopy(model)
    torch.manual_seed(seed)
    twin.side = SideNetwork(model.config.encoder, model.config.side_input, model.config.side_patch_size).eval()
    return twin


def test_added_side_networks_are_read_together_with_the_models_own(model_factory, images, tmp_path):
    config, model = model_factory("model.side_network=true", "objective.side_weight=1")
    first, second = _with_new_side(model, 1), _with_new_side(model, 2)
    paths = [_save(tmp_path / f"{name}.pt", config, m) for name, m in (("own", model), ("a", first), ("b", second))]
    loaded = load_model(paths[0])
    add_side_networks(loaded, paths[1:])
    with torch.no_grad():
        mean = (model.side(images) + first.side(images) + second.side(images)) / 3
        torch.testing.assert_close(loaded.model.side(images), mean)
        assert torch.equal(loaded.model.encode(images).pose_cam_mm, model.encode(images).pose_cam_mm)
    add_side_networks(loaded, [])  # nothing added: the ensemble stays
    assert len(loaded.model.side.members) == 3


def test_a_model_with_several_side_networks_loads_them_and_takes_another_as_one_more(model_factory, images, tmp_path):
    config, model = model_factory("model.side_network=true", "model.side_networks=3", "objective.side_weight=1")
    other = _with_new_side(model, 1)
    one = replace(config, model=replace(config.model, side_networks=1))  # the added checkpoint holds one
    own, added = _save(tmp_path / "own.pt", config, model), _save(tmp_path / "a.pt", one, other)
    loaded = load_model(own)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model.side(images), model.side(images))
        add_side_networks(loaded, [added])
        assert len(loaded.model.side.members) == 4  # the model's three and the added one, each a quarter
        mean = (3 * model.side(images) + other.side(images)) / 4
        torch.testing.assert_close(loaded.model.side(images), mean)


def test_side_networks_from_another_pose_network_or_none_are_one_line_user_errors(model_factory, tmp_path):
    config, model = model_factory("model.side_network=true", "objective.side_weight=1")
    own = _save(tmp_path / "own.pt", config, model)
    other_config, other = model_factory("model.side_network=true", "objective.side_weight=1", seed=1)
    plain_config, plain = model_factory()
    front = replace(config, model=replace(config.model, side_definition="chest_and_spine"))

    cases = {
        "another": (_save(tmp_path / "other.pt", other_config, other), "its pose network is not"),
        "none": (_save(tmp_path / "plain.pt", plain_config, plain), "no side network"),
        "front": (_save(tmp_path / "front.pt", front, _with_new_side(model, 1)), "reads the front as"),
    }
    for path, message in cases.values():
        loaded = load_model(own)
        with pytest.raises(UserError, match=message) as error:
            add_side_networks(loaded, [path])
        assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="has none"):
        add_side_networks(load_model(_save(tmp_path / "p.pt", plain_config, plain)), [own])
