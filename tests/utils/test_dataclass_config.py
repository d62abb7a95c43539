from dataclasses import dataclass, field
from typing import Literal

import pytest

from partpose.errors import UserError
from partpose.utils.dataclass_config import apply_overrides, from_dict, merge, to_dict


@dataclass
class Inner:
    width: int = 8
    mode: Literal["a", "b"] = "a"
    ranges: tuple[float, float] = (0.0, 1.0)
    name: str | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    rate: float = 0.5
    flag: bool = False


def test_round_trip_and_defaults():
    cfg = from_dict(Outer, {"inner": {"width": 3}, "rate": 2})
    assert cfg.inner.width == 3 and cfg.inner.mode == "a" and cfg.rate == 2.0 and isinstance(cfg.rate, float)
    assert from_dict(Outer, to_dict(cfg)) == cfg
    assert to_dict(cfg)["inner"]["ranges"] == [0.0, 1.0]


@pytest.mark.parametrize("data, key", [
    ({"inner": {"widht": 3}}, "config.inner.widht"),
    ({"rat": 1.0}, "config.rat"),
])
def test_unknown_keys_are_errors(data, key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        from_dict(Outer, data, "config")


@pytest.mark.parametrize("data, text", [
    ({"inner": {"width": 2.5}}, "integer"),
    ({"inner": {"mode": "c"}}, "one of"),
    ({"flag": "yes"}, "true or false"),
    ({"inner": {"ranges": [1.0]}}, "2 entries"),
])
def test_bad_values_name_the_key(data, text):
    with pytest.raises(UserError, match=text):
        from_dict(Outer, data, "config")


def test_overrides_parse_yaml_values():
    data = apply_overrides({}, ["inner.width=5", "rate=1e-3", "flag=true", "inner.name=null", "inner.ranges=[2, 3]"])
    cfg = from_dict(Outer, data)
    assert cfg.inner.width == 5 and cfg.rate == pytest.approx(1e-3) and cfg.flag is True
    assert cfg.inner.name is None and cfg.inner.ranges == (2.0, 3.0)
    with pytest.raises(UserError, match="key.sub=value"):
        apply_overrides({}, ["no_equals_sign"])


def test_merge_is_recursive_and_pure():
    base = {"a": {"b": 1, "c": 2}, "d": 3}
    out = merge(base, {"a": {"b": 5}})
    assert out == {"a": {"b": 5, "c": 2}, "d": 3} and base["a"]["b"] == 1
